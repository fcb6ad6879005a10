//! Feature views: entities, ttl and source references, and Feast's inference of entity columns and
//! features from the source's data, with every column checked against the file.

use std::time::Duration;

use super::node::Located;
use super::raw::{Item, RawFeatureView, Section};
use super::resolve::{Columns, Origin, Resolver, list};
use crate::model::{DUMMY_ENTITY_NAME, DataSource, Entity, FeatureView, Field, SourceKind};
use crate::types::ValueType;
use crate::value::arrow_compatible;

/// What a view is built from once its references are resolved.
struct Parts {
    entities: Vec<(usize, Entity)>,
    batch: DataSource,
    stream: Option<DataSource>,
    schema: Option<Vec<(usize, Field)>>,
    columns: Option<Columns>,
}

impl Resolver<'_> {
    /// Resolves one feature view; `None` when its source cannot be used (already reported).
    pub(super) fn resolve_view(&mut self, item: &Item<RawFeatureView>) -> Option<FeatureView> {
        let raw = &item.raw;
        let origin = Origin::of(item, "feature view", &raw.name);
        let entities = self.view_entities(&origin, &raw.entities);
        let ttl = self.ttl(&origin, raw.ttl.as_ref());
        let (batch, stream) = self.view_source(&origin, &raw.source)?;
        let schema = raw
            .schema
            .as_ref()
            .filter(|s| !s.is_empty())
            .map(|s| self.fields(&origin, s));
        let columns = self.columns(&batch);
        let parts = Parts {
            entities,
            batch,
            stream,
            schema,
            columns,
        };
        let entity_columns = self.entity_columns(&origin, &parts);
        let features = self.features(&origin, &parts);
        let entity_names = match parts.entities.is_empty() {
            true => vec![DUMMY_ENTITY_NAME.to_string()],
            false => parts.entities.iter().map(|(_, e)| e.name.clone()).collect(),
        };
        Some(FeatureView {
            name: raw.name.clone(),
            entities: entity_names,
            features,
            entity_columns,
            ttl,
            batch_source: parts.batch,
            stream_source: parts.stream,
            online: raw.online,
            offline: raw.offline,
            description: raw.description.clone(),
            tags: raw.tags.clone(),
            owner: raw.owner.clone(),
            materialization_intervals: Vec::new(),
        })
    }

    /// The view's entities with the line naming each, reporting unknown, repeated and key-sharing ones.
    fn view_entities(
        &mut self,
        origin: &Origin,
        names: &[Located<String>],
    ) -> Vec<(usize, Entity)> {
        let mut out: Vec<(usize, Entity)> = Vec::new();
        for (i, Located { line, value: name }) in names.iter().enumerate() {
            let field = format!("entities[{i}]");
            let found = self.entities.iter().find(|e| &e.name == name).cloned();
            let message = match found {
                Some(e) if out.iter().any(|(_, o)| o.name == e.name) => {
                    format!("entity `{name}` is listed twice")
                }
                Some(e) if out.iter().any(|(_, o)| o.join_key == e.join_key) => format!(
                    "entity `{name}` has the join key `{}` of another entity of this view; a view's entities need distinct join keys",
                    e.join_key
                ),
                Some(e) => {
                    out.push((*line, e));
                    continue;
                }
                None if self.is_defined(Section::Entities, name) => continue,
                None => format!(
                    "no entity named `{name}`; entities: {}",
                    list(self.entities.iter().map(|e| e.name.as_str()))
                ),
            };
            self.problems.push(origin.problem(*line, &field, message));
        }
        out
    }

    fn ttl(&mut self, origin: &Origin, ttl: Option<&Located<String>>) -> Duration {
        let Some(ttl) = ttl else {
            return Duration::ZERO;
        };
        match crate::time::parse_duration(&ttl.value) {
            Ok(d) => d,
            Err(e) => {
                self.problems.push(origin.problem(
                    ttl.line,
                    "ttl",
                    format!("{e}; 0 means forever"),
                ));
                Duration::ZERO
            }
        }
    }

    /// The view's batch source and, for a push source, the stream source.
    fn view_source(
        &mut self,
        origin: &Origin,
        name: &Located<String>,
    ) -> Option<(DataSource, Option<DataSource>)> {
        let found = self.sources.iter().find(|s| s.name == name.value).cloned();
        let message = match found {
            Some(s) => match &s.kind {
                SourceKind::Push { batch_source } => {
                    return Some(((**batch_source).clone(), Some(s)));
                }
                SourceKind::File { .. } => return Some((s, None)),
                _ => format!(
                    "`{}` is a {} source; a feature view reads a file or push source (request sources feed \
                     on-demand feature views, which Larder does not run)",
                    s.name,
                    s.kind_name()
                ),
            },
            None if self.is_defined(Section::Sources, &name.value) => return None,
            None => format!(
                "no source named `{}`; sources: {}",
                name.value,
                list(self.sources.iter().map(|s| s.name.as_str()))
            ),
        };
        self.problems
            .push(origin.problem(name.line, "source", message));
        None
    }

    /// Feast's entity columns: join keys declared in the schema (in schema order), then the others
    /// (in the file's column order), typed by the entity's `value_type` or else the source column.
    fn entity_columns(&mut self, origin: &Origin, parts: &Parts) -> Vec<Field> {
        let mut out = Vec::new();
        for (i, (line, field)) in parts.schema.iter().flatten().enumerate() {
            if let Some((_, entity)) = parts
                .entities
                .iter()
                .find(|(_, e)| e.join_key == field.name)
            {
                self.check_declared_key(origin, entity, *line, i, field);
                self.check_column(origin, parts, *line, &format!("schema[{i}]"), field);
                out.push(field.clone());
            }
        }
        let mut missing: Vec<(usize, &(usize, Entity))> = parts
            .entities
            .iter()
            .enumerate()
            .filter(|(_, (_, e))| !out.iter().any(|f: &Field| f.name == e.join_key))
            .collect();
        if let Some(columns) = &parts.columns {
            let position = |key: &str| columns.columns.iter().position(|c| c.0 == key);
            missing.sort_by_key(|(_, (_, e))| position(&e.join_key).unwrap_or(usize::MAX));
        }
        for (i, (line, entity)) in missing {
            let at = format!("entities[{i}]");
            if let Some(field) = self.inferred_key(origin, parts, (*line, &at), entity) {
                out.push(field);
            }
        }
        out
    }

    fn check_declared_key(
        &mut self,
        origin: &Origin,
        entity: &Entity,
        line: usize,
        i: usize,
        field: &Field,
    ) {
        let declared = entity.value_type;
        if declared != ValueType::Unknown
            && field.dtype != ValueType::Unknown
            && declared != field.dtype
        {
            let message = format!(
                "join key `{}` is {} here but entity `{}` says {declared}: make them the same",
                field.name, field.dtype, entity.name
            );
            self.problems
                .push(origin.problem(line, &format!("schema[{i}].dtype"), message));
        } else if field.dtype != ValueType::Unknown && !field.dtype.is_valid_entity_key() {
            let message = format!(
                "{} cannot be an entity key: use String, Bytes, Int32, Int64 or UnixTimestamp",
                field.dtype
            );
            self.problems
                .push(origin.problem(line, &format!("schema[{i}].dtype"), message));
        }
    }

    /// The entity column of a join key the schema leaves out: typed by the entity, else by the file.
    fn inferred_key(
        &mut self,
        origin: &Origin,
        parts: &Parts,
        (line, field): (usize, &str),
        entity: &Entity,
    ) -> Option<Field> {
        let declared = Some(Field::new(&entity.join_key, entity.value_type))
            .filter(|f| f.dtype != ValueType::Unknown);
        let Some(columns) = &parts.columns else {
            return declared;
        };
        let (key, path) = (&entity.join_key, &columns.path);
        let message = match (columns.get(key), declared) {
            (None, _) => format!(
                "join key `{key}` of entity `{}` is not a column of `{path}`; its columns are {}",
                entity.name,
                columns.names()
            ),
            (Some(_), Some(declared)) => {
                self.check_column(origin, parts, line, field, &declared);
                return Some(declared);
            }
            (Some((_, _, t)), None) => {
                match ValueType::from_arrow(t).filter(|v| v.is_valid_entity_key()) {
                    Some(dtype) => return Some(Field::new(key, dtype)),
                    None => format!(
                        "join key `{key}` has Arrow type {t} in `{path}`, which cannot be an entity key: \
                     use a string, bytes, integer or timestamp column"
                    ),
                }
            }
        };
        self.problems.push(origin.problem(line, field, message));
        None
    }

    /// Checks that `field` is a column of the view's source with a compatible type.
    fn check_column(
        &mut self,
        origin: &Origin,
        parts: &Parts,
        line: usize,
        at: &str,
        field: &Field,
    ) {
        let Some(columns) = &parts.columns else {
            return;
        };
        let (suffix, message) = match columns.get(&field.name) {
            None => (
                ".name",
                format!(
                    "`{}` is not a column of `{}` (after field_mapping); its columns are {}",
                    field.name,
                    columns.path,
                    columns.names()
                ),
            ),
            Some((_, _, t))
                if field.dtype != ValueType::Unknown && !arrow_compatible(t, field.dtype) =>
            {
                let suggestion =
                    ValueType::from_arrow(t).map_or(String::new(), |v| format!("; use {v}"));
                let message = format!(
                    "`{}` has Arrow type {t} in `{}`, which cannot hold {}{suggestion}",
                    field.name, columns.path, field.dtype
                );
                (".dtype", message)
            }
            Some(_) => return,
        };
        let field_path = if at.starts_with("schema[") {
            format!("{at}{suffix}")
        } else {
            at.to_string()
        };
        self.problems
            .push(origin.problem(line, &field_path, message));
    }

    /// The features: the schema's non-key fields, or (with none) every other column of the source.
    fn features(&mut self, origin: &Origin, parts: &Parts) -> Vec<Field> {
        let is_key = |name: &str| parts.entities.iter().any(|(_, e)| e.join_key == name);
        let declared: Vec<(usize, usize, &Field)> = parts
            .schema
            .iter()
            .flatten()
            .enumerate()
            .filter(|(_, (_, f))| !is_key(&f.name))
            .map(|(i, (line, f))| (i, *line, f))
            .collect();
        for (i, line, field) in &declared {
            self.check_column(origin, parts, *line, &format!("schema[{i}]"), field);
        }
        let features: Vec<Field> = match declared.is_empty() {
            false => declared.into_iter().map(|(_, _, f)| f.clone()).collect(),
            true => self.inferred_features(origin, parts),
        };
        if features.is_empty() && (parts.columns.is_some() || parts.schema.is_some()) {
            let message = "the view has no features: its source has no columns besides join keys and timestamps; \
                           declare a `schema` or point `source` at other data";
            self.problems.push(origin.problem(0, "schema", message));
        }
        features
    }

    /// Feast's feature inference: all source columns except join keys, timestamp, created and date
    /// partition columns, and names starting or ending with `__`.
    fn inferred_features(&mut self, origin: &Origin, parts: &Parts) -> Vec<Field> {
        let Some(columns) = &parts.columns else {
            return Vec::new();
        };
        let source = &parts.batch;
        let excluded = [
            &source.timestamp_field,
            &source.created_timestamp_column,
            &source.date_partition_column,
        ];
        let mut out = Vec::new();
        for (name, raw, data_type) in &columns.columns {
            let internal = name.starts_with("__") || name.ends_with("__");
            if excluded.contains(&raw)
                || internal
                || parts.entities.iter().any(|(_, e)| &e.join_key == name)
            {
                continue;
            }
            match ValueType::from_arrow(data_type) {
                Some(dtype) => out.push(Field::new(name, dtype)),
                None => {
                    let message = format!(
                        "column `{name}` of `{}` has Arrow type {data_type}, which has no Feast type: declare a `schema` without it",
                        columns.path
                    );
                    self.problems.push(origin.problem(0, "schema", message));
                }
            }
        }
        out
    }
}
