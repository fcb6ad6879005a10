//! Data sources: file sources checked against their data (path, format, timestamp columns,
//! `field_mapping`), push sources bound to their batch source, and request sources with their schema.

use arrow::datatypes::SchemaRef;

use super::infer::{SchemaError, is_timestamp};
use super::node::Located;
use super::raw::{Item, RawSource, Section};
use super::resolve::{Columns, Origin, Resolver, list};
use crate::model::{DataSource, FileFormat, SourceKind};

impl Resolver<'_> {
    /// Resolves the sources, in definition order: file and request sources first, then push sources,
    /// which name a file source that may be defined after them.
    pub(super) fn resolve_sources(&mut self) {
        let raw = self.raw;
        let items = self.first_definitions(&raw.sources, Section::Sources, |s| &s.name);
        let mut pending_push = Vec::new();
        for item in items {
            let origin = Origin::of(item, "source", &item.raw.name);
            let kind = kind_of(&item.raw);
            match kind.as_str() {
                "file" | "push" | "request" => self.check_fields_apply(&origin, &item.raw, &kind),
                _ => {
                    let line = item.raw.kind.as_ref().map_or(0, |k| k.line);
                    let message =
                        format!("unknown kind `{kind}`: use file (the default), push or request");
                    self.problems.push(origin.problem(line, "kind", message));
                    continue;
                }
            }
            let source = match kind.as_str() {
                "file" => self.file_source(&origin, &item.raw),
                "request" => Some(self.request_source(&origin, &item.raw)),
                _ => {
                    pending_push.push((self.sources.len(), item));
                    None
                }
            };
            self.sources.extend(source);
        }
        for (at, item) in pending_push.into_iter().rev() {
            if let Some(push) = self.push_source(item) {
                self.sources.insert(at, push);
            }
        }
    }

    /// Reports fields set on a source whose kind does not use them.
    fn check_fields_apply(&mut self, origin: &Origin, raw: &RawSource, kind: &str) {
        let line = |l: &Option<Located<String>>| l.as_ref().map(|l| l.line);
        let set = [
            ("path", line(&raw.path), "file"),
            ("file_format", line(&raw.file_format), "file"),
            ("timestamp_field", line(&raw.timestamp_field), "file"),
            (
                "created_timestamp_column",
                line(&raw.created_timestamp_column),
                "file",
            ),
            (
                "field_mapping",
                raw.field_mapping.as_ref().map(|l| l.line),
                "file",
            ),
            (
                "date_partition_column",
                line(&raw.date_partition_column),
                "file",
            ),
            ("batch_source", line(&raw.batch_source), "push"),
            ("schema", raw.schema.as_ref().map(|l| l.line), "request"),
        ];
        let takes: Vec<&str> = set.iter().filter(|s| s.2 == kind).map(|s| s.0).collect();
        for (field, at, owner) in set {
            if let (Some(at), true) = (at, owner != kind) {
                let message = format!(
                    "`{field}` does not apply to a {kind} source (it takes {}, description, tags, owner)",
                    takes.join(", ")
                );
                self.problems.push(origin.problem(at, field, message));
            }
        }
    }

    fn file_source(&mut self, origin: &Origin, raw: &RawSource) -> Option<DataSource> {
        let Some(path) = &raw.path else {
            let message = "a file source needs `path`: a Parquet or CSV file, or a directory of Parquet files, relative to the repo";
            self.problems.push(origin.problem(0, "path", message));
            return None;
        };
        let format = self.file_format(origin, path, raw.file_format.as_ref());
        let text =
            |l: &Option<Located<String>>| l.as_ref().map(|l| l.value.clone()).unwrap_or_default();
        let mut source = DataSource {
            name: raw.name.clone(),
            kind: SourceKind::File {
                path: path.value.clone(),
                format,
            },
            timestamp_field: text(&raw.timestamp_field),
            created_timestamp_column: text(&raw.created_timestamp_column),
            field_mapping: raw
                .field_mapping
                .as_ref()
                .map(|m| m.value.clone())
                .unwrap_or_default(),
            date_partition_column: text(&raw.date_partition_column),
            description: raw.description.clone(),
            tags: raw.tags.clone(),
            owner: raw.owner.clone(),
        };
        if let Some(schema) = self.source_schema(origin, &source, path.line) {
            self.check_file_columns(origin, raw, &mut source, &schema);
        }
        Some(source)
    }

    fn file_format(
        &mut self,
        origin: &Origin,
        path: &Located<String>,
        given: Option<&Located<String>>,
    ) -> FileFormat {
        let implied = FileFormat::from_path(&path.value);
        let Some(given) = given else {
            return implied;
        };
        let message = match (given.value.to_ascii_lowercase().as_str(), implied) {
            ("parquet", FileFormat::Parquet) | ("csv", FileFormat::Csv) => return implied,
            ("csv", FileFormat::Parquet) => format!(
                "file_format csv needs a path ending in `.csv`: Feast's registry has no CSV format, so Larder \
                 tells CSV sources by the extension; rename `{}` to end in .csv",
                path.value
            ),
            ("parquet", FileFormat::Csv) => format!(
                "`{}` ends in .csv, which Larder always reads as CSV (Feast's registry keeps only the path): \
                 remove file_format or use a Parquet path",
                path.value
            ),
            (other, _) => format!("unknown file_format `{other}`: use parquet or csv"),
        };
        self.problems
            .push(origin.problem(given.line, "file_format", message));
        implied
    }

    /// The schema of a file source's data, reporting a missing or unreadable file.
    fn source_schema(
        &mut self,
        origin: &Origin,
        source: &DataSource,
        line: usize,
    ) -> Option<SchemaRef> {
        let SourceKind::File { path, format } = &source.kind else {
            return None;
        };
        if path.contains("://") && !path.starts_with("file://") {
            let message = format!(
                "`{path}` is not a local path: Larder reads local Parquet and CSV files only"
            );
            self.problems.push(origin.problem(line, "path", message));
            return None;
        }
        let (absolute, _) = source.file_location(&self.config.repo_path)?;
        match self.schemas.get(&absolute, *format) {
            Ok(schema) => Some(schema),
            Err(e) => {
                let message = match e {
                    SchemaError::NotFound => {
                        format!(
                            "`{path}` does not exist (resolved to {}): fix the path or create the file",
                            absolute.display()
                        )
                    }
                    SchemaError::Unreadable(why) => {
                        format!("cannot read `{path}` ({}): {why}", absolute.display())
                    }
                };
                self.problems.push(origin.problem(line, "path", message));
                None
            }
        }
    }

    /// The columns of a source's batch data after `field_mapping`, when its file could be read
    /// (problems with the file are reported with the source).
    pub(super) fn columns(&mut self, source: &DataSource) -> Option<Columns> {
        let (absolute, format) = source.file_location(&self.config.repo_path)?;
        let SourceKind::File { path, .. } = &source.batch().kind else {
            return None;
        };
        let schema = self.schemas.get(&absolute, format).ok()?;
        let mapping = &source.batch().field_mapping;
        let columns = schema
            .fields()
            .iter()
            .map(|f| {
                let raw = f.name().clone();
                (
                    mapping.get(&raw).cloned().unwrap_or_else(|| raw.clone()),
                    raw,
                    f.data_type().clone(),
                )
            })
            .collect();
        Some(Columns {
            path: path.clone(),
            columns,
        })
    }

    fn check_file_columns(
        &mut self,
        origin: &Origin,
        raw: &RawSource,
        source: &mut DataSource,
        schema: &SchemaRef,
    ) {
        let path = raw.path.as_ref().map_or("", |p| p.value.as_str());
        match &raw.timestamp_field {
            Some(l) => self.check_timestamp_column(origin, l, "timestamp_field", schema, path),
            None => {
                source.timestamp_field = self.infer_timestamp_field(origin, source, schema, path)
            }
        }
        if let Some(l) = &raw.created_timestamp_column {
            self.check_timestamp_column(origin, l, "created_timestamp_column", schema, path);
            if l.value == source.timestamp_field {
                let message = "the created timestamp column must differ from the event timestamp \
                               (`timestamp_field`)";
                self.problems
                    .push(origin.problem(l.line, "created_timestamp_column", message));
            }
        }
        self.check_other_columns(origin, raw, schema, path);
    }

    /// Checks that `date_partition_column` and the keys of `field_mapping` are columns of the file.
    fn check_other_columns(
        &mut self,
        origin: &Origin,
        raw: &RawSource,
        schema: &SchemaRef,
        path: &str,
    ) {
        let missing = |name: &str| schema.field_with_name(name).is_err();
        let names = list(schema.fields().iter().map(|f| f.name().as_str()));
        if let Some(l) = raw
            .date_partition_column
            .as_ref()
            .filter(|l| missing(&l.value))
        {
            let message = format!(
                "`{}` is not a column of `{path}`; its columns are {names}",
                l.value
            );
            self.problems
                .push(origin.problem(l.line, "date_partition_column", message));
        }
        let Some(mapping) = &raw.field_mapping else {
            return;
        };
        for from in mapping.value.keys().filter(|k| missing(k)) {
            let message = format!(
                "maps `{from}`, which is not a column of `{path}`; its columns are {names}"
            );
            let field = format!("field_mapping.{from}");
            self.problems
                .push(origin.problem(mapping.line, &field, message));
        }
    }

    fn check_timestamp_column(
        &mut self,
        origin: &Origin,
        column: &Located<String>,
        field: &str,
        schema: &SchemaRef,
        path: &str,
    ) {
        let message = match schema.field_with_name(&column.value) {
            Err(_) => format!(
                "`{}` is not a column of `{path}`; its columns are {}",
                column.value,
                list(schema.fields().iter().map(|f| f.name().as_str()))
            ),
            Ok(f) if !is_timestamp(f.data_type()) => format!(
                "`{}` has Arrow type {} in `{path}`, not a timestamp; timestamp columns: {}",
                column.value,
                f.data_type(),
                list(timestamp_columns(schema))
            ),
            Ok(_) => return,
        };
        self.problems
            .push(origin.problem(column.line, field, message));
    }

    /// Feast's inference of a missing `timestamp_field`: the one timestamp column (besides the created column).
    fn infer_timestamp_field(
        &mut self,
        origin: &Origin,
        source: &DataSource,
        schema: &SchemaRef,
        path: &str,
    ) -> String {
        let candidates: Vec<&str> = timestamp_columns(schema)
            .filter(|c| *c != source.created_timestamp_column)
            .collect();
        let message = match candidates.as_slice() {
            [one] => return one.to_string(),
            [] => format!(
                "`{path}` has no timestamp column to infer the event timestamp from; its columns are {}",
                list(schema.fields().iter().map(|f| f.name().as_str()))
            ),
            many => format!(
                "cannot infer the event timestamp: `{path}` has several timestamp columns ({}); set `timestamp_field`",
                many.join(", ")
            ),
        };
        self.problems
            .push(origin.problem(0, "timestamp_field", message));
        String::new()
    }

    fn request_source(&mut self, origin: &Origin, raw: &RawSource) -> DataSource {
        let fields = match &raw.schema {
            Some(Located { value, .. }) if !value.is_empty() => self.fields(origin, value),
            other => {
                let line = other.as_ref().map_or(0, |l| l.line);
                let message = "a request source needs a `schema`: the [{name, dtype}] values sent with each request";
                self.problems.push(origin.problem(line, "schema", message));
                Vec::new()
            }
        };
        DataSource {
            kind: SourceKind::Request {
                schema: fields.into_iter().map(|(_, f)| f).collect(),
            },
            ..bare_source(raw)
        }
    }

    fn push_source(&mut self, item: &Item<RawSource>) -> Option<DataSource> {
        let raw = &item.raw;
        let origin = Origin::of(item, "source", &raw.name);
        let Some(batch) = &raw.batch_source else {
            let message = "a push source needs `batch_source`: the name of the file source holding its history";
            self.problems
                .push(origin.problem(0, "batch_source", message));
            return None;
        };
        let file = self.sources.iter().find(|s| s.name == batch.value);
        if let Some(file) = file.filter(|s| matches!(s.kind, SourceKind::File { .. })) {
            let kind = SourceKind::Push {
                batch_source: Box::new(file.clone()),
            };
            return Some(DataSource {
                kind,
                ..bare_source(raw)
            });
        }
        let defined = self.raw.sources.iter().find(|i| i.raw.name == batch.value);
        let message = match defined.map(|i| kind_of(&i.raw)) {
            Some(kind) if kind != "file" => format!(
                "`{}` is a {kind} source; a push source's batch_source must be a file source",
                batch.value
            ),
            Some(_) => return None,
            None if self.raw.is_unreadable(Section::Sources, &batch.value) => return None,
            None => format!(
                "no file source named `{}`; file sources: {}",
                batch.value,
                self.file_source_names()
            ),
        };
        self.problems
            .push(origin.problem(batch.line, "batch_source", message));
        None
    }

    fn file_source_names(&self) -> String {
        list(
            self.sources
                .iter()
                .filter(|s| matches!(s.kind, SourceKind::File { .. }))
                .map(|s| s.name.as_str()),
        )
    }
}

/// The source's kind in lower case, `file` when not given.
fn kind_of(raw: &RawSource) -> String {
    raw.kind
        .as_ref()
        .map_or("file".to_string(), |k| k.value.to_ascii_lowercase())
}

/// A source's common fields, with no timestamps (push and request sources have none).
fn bare_source(raw: &RawSource) -> DataSource {
    DataSource {
        name: raw.name.clone(),
        kind: SourceKind::Request { schema: Vec::new() },
        timestamp_field: String::new(),
        created_timestamp_column: String::new(),
        field_mapping: Default::default(),
        date_partition_column: String::new(),
        description: raw.description.clone(),
        tags: raw.tags.clone(),
        owner: raw.owner.clone(),
    }
}

fn timestamp_columns(schema: &SchemaRef) -> impl Iterator<Item = &str> {
    schema
        .fields()
        .iter()
        .filter(|f| is_timestamp(f.data_type()))
        .map(|f| f.name().as_str())
}
