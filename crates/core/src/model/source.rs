//! Data sources: where a view's rows come from (files, push, request data).

use std::path::{Path, PathBuf};

use super::{Field, Tags};
use crate::proto::core::{self as pc, data_source as pds};

/// Feast's Python class names, stored in `data_source_class_type`.
const FILE_SOURCE_CLASS: &str = "feast.infra.offline_stores.file_source.FileSource";
const PUSH_SOURCE_CLASS: &str = "feast.data_source.PushSource";
const REQUEST_SOURCE_CLASS: &str = "feast.data_source.RequestSource";

/// A data source (Feast's `DataSource`).
#[derive(Debug, Clone, PartialEq)]
pub struct DataSource {
    /// The name.
    pub name: String,
    /// What kind of source and its options.
    pub kind: SourceKind,
    /// The event-timestamp column.
    pub timestamp_field: String,
    /// The created-timestamp column (tie-break), or empty.
    pub created_timestamp_column: String,
    /// Source column → feature or entity column renames.
    pub field_mapping: Tags,
    /// A date partition column, or empty.
    pub date_partition_column: String,
    /// A description.
    pub description: String,
    /// Tags.
    pub tags: Tags,
    /// The owner.
    pub owner: String,
}

/// The kinds of data source.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceKind {
    /// A Parquet or CSV file or directory (`FileSource`).
    File {
        /// The path as written (relative paths resolve against the repo).
        path: String,
        /// The file format.
        format: FileFormat,
    },
    /// Rows pushed through the API (`PushSource`), backed by a batch source for history.
    Push {
        /// The batch source.
        batch_source: Box<DataSource>,
    },
    /// Values supplied with each request (`RequestSource`).
    Request {
        /// The request columns.
        schema: Vec<Field>,
    },
    /// A kind Larder does not handle (Kafka, BigQuery, ...): kept as read from the registry.
    Other(Box<pc::DataSource>),
}

/// File formats of file sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// Apache Parquet (a file or a directory of files).
    Parquet,
    /// Comma-separated values with a header row.
    Csv,
}

impl FileFormat {
    /// The format a path implies: `.csv` (any case) is CSV, everything else Parquet.
    ///
    /// Feast's registry has no CSV format, so the extension is what survives a round trip.
    pub fn from_path(path: &str) -> Self {
        let lower = path.to_ascii_lowercase();
        if lower.ends_with(".csv") {
            FileFormat::Csv
        } else {
            FileFormat::Parquet
        }
    }

    /// `parquet` or `csv`.
    pub fn as_str(self) -> &'static str {
        match self {
            FileFormat::Parquet => "parquet",
            FileFormat::Csv => "csv",
        }
    }
}

impl DataSource {
    /// The kind's name as used in definitions: `file`, `push`, `request`, or the proto type.
    pub fn kind_name(&self) -> String {
        match &self.kind {
            SourceKind::File { .. } => "file".into(),
            SourceKind::Push { .. } => "push".into(),
            SourceKind::Request { .. } => "request".into(),
            SourceKind::Other(p) => pds::SourceType::try_from(p.r#type)
                .map(|t| t.as_str_name().to_ascii_lowercase())
                .unwrap_or_else(|_| "unknown".into()),
        }
    }

    /// Feast's Python class of this source, as printed by `data-sources list`.
    pub fn class_name(&self) -> String {
        match &self.kind {
            SourceKind::File { .. } => FILE_SOURCE_CLASS.into(),
            SourceKind::Push { .. } => PUSH_SOURCE_CLASS.into(),
            SourceKind::Request { .. } => REQUEST_SOURCE_CLASS.into(),
            SourceKind::Other(p) => p.data_source_class_type.clone(),
        }
    }

    /// The source rows are read from for batch work: itself for files, the batch source of a push source.
    pub fn batch(&self) -> &DataSource {
        match &self.kind {
            SourceKind::Push { batch_source } => batch_source,
            _ => self,
        }
    }

    /// For a file source, its absolute path (relative paths resolve against `repo_path`) and format.
    pub fn file_location(&self, repo_path: &Path) -> Option<(PathBuf, FileFormat)> {
        match &self.batch().kind {
            SourceKind::File { path, format } => {
                let p = Path::new(path.strip_prefix("file://").unwrap_or(path));
                let abs = if p.is_absolute() {
                    p.to_path_buf()
                } else {
                    repo_path.join(p)
                };
                Some((abs, *format))
            }
            _ => None,
        }
    }

    /// The source column that holds feature or entity column `name` (reverse of `field_mapping`).
    pub fn source_column<'a>(&'a self, name: &'a str) -> &'a str {
        self.field_mapping
            .iter()
            .find(|(_, to)| to.as_str() == name)
            .map(|(from, _)| from.as_str())
            .unwrap_or(name)
    }

    /// The `DataSource` message. `project` is set for top-level registry entries only, and
    /// `class_type` controls `data_source_class_type` (Feast omits it inside feature services).
    pub fn to_proto(&self, project: Option<&str>, class_type: bool) -> pc::DataSource {
        if let SourceKind::Other(p) = &self.kind {
            let mut p = (**p).clone();
            p.project = project.unwrap_or_default().to_string();
            return p;
        }
        let mut p = pc::DataSource {
            name: self.name.clone(),
            project: project.unwrap_or_default().to_string(),
            description: self.description.clone(),
            tags: self.tags.clone(),
            owner: self.owner.clone(),
            field_mapping: self.field_mapping.clone(),
            timestamp_field: self.timestamp_field.clone(),
            date_partition_column: self.date_partition_column.clone(),
            created_timestamp_column: self.created_timestamp_column.clone(),
            data_source_class_type: if class_type {
                self.class_name()
            } else {
                String::new()
            },
            ..Default::default()
        };
        match &self.kind {
            SourceKind::File { path, .. } => {
                p.r#type = pds::SourceType::BatchFile as i32;
                p.options = Some(pds::Options::FileOptions(pds::FileOptions {
                    uri: path.clone(),
                    ..Default::default()
                }));
            }
            SourceKind::Push { batch_source } => {
                p.r#type = pds::SourceType::PushSource as i32;
                // Feast's PushSource copies its batch source's columns when it has none of its own.
                if p.timestamp_field.is_empty()
                    && p.created_timestamp_column.is_empty()
                    && p.field_mapping.is_empty()
                {
                    p.timestamp_field = batch_source.timestamp_field.clone();
                    p.created_timestamp_column = batch_source.created_timestamp_column.clone();
                    p.field_mapping = batch_source.field_mapping.clone();
                    p.date_partition_column = batch_source.date_partition_column.clone();
                }
                p.batch_source = Some(Box::new(batch_source.to_proto(None, false)));
            }
            SourceKind::Request { schema } => {
                p.r#type = pds::SourceType::RequestSource as i32;
                p.options = Some(pds::Options::RequestDataOptions(pds::RequestDataOptions {
                    schema: schema.iter().map(Field::to_proto).collect(),
                    ..Default::default()
                }));
            }
            SourceKind::Other(_) => unreachable!("handled above"),
        }
        p
    }

    /// The source described by a `DataSource` message; kinds Larder does not handle become
    /// [`SourceKind::Other`].
    pub fn from_proto(p: &pc::DataSource) -> Self {
        let kind = match (pds::SourceType::try_from(p.r#type), &p.options) {
            (Ok(pds::SourceType::BatchFile), Some(pds::Options::FileOptions(f))) => {
                SourceKind::File {
                    path: f.uri.clone(),
                    format: FileFormat::from_path(&f.uri),
                }
            }
            (Ok(pds::SourceType::PushSource), _) if p.batch_source.is_some() => SourceKind::Push {
                batch_source: Box::new(DataSource::from_proto(
                    p.batch_source.as_deref().expect("checked"),
                )),
            },
            (Ok(pds::SourceType::RequestSource), Some(pds::Options::RequestDataOptions(r))) => {
                SourceKind::Request {
                    schema: r.schema.iter().map(Field::from_proto).collect(),
                }
            }
            _ => SourceKind::Other(Box::new(p.clone())),
        };
        DataSource {
            name: p.name.clone(),
            kind,
            timestamp_field: p.timestamp_field.clone(),
            created_timestamp_column: p.created_timestamp_column.clone(),
            field_mapping: p.field_mapping.clone(),
            date_partition_column: p.date_partition_column.clone(),
            description: p.description.clone(),
            tags: p.tags.clone(),
            owner: p.owner.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_source() -> DataSource {
        DataSource {
            name: "driver_stats_source".into(),
            kind: SourceKind::File {
                path: "data/driver_stats.parquet".into(),
                format: FileFormat::Parquet,
            },
            timestamp_field: "event_timestamp".into(),
            created_timestamp_column: "created".into(),
            field_mapping: Tags::new(),
            date_partition_column: String::new(),
            description: String::new(),
            tags: Tags::new(),
            owner: String::new(),
        }
    }

    #[test]
    fn file_source_proto_matches_feast() {
        let p = file_source().to_proto(Some("demo"), true);
        assert_eq!(p.r#type, pds::SourceType::BatchFile as i32);
        assert_eq!(p.project, "demo");
        assert_eq!(p.data_source_class_type, FILE_SOURCE_CLASS);
        let Some(pds::Options::FileOptions(f)) = &p.options else {
            panic!()
        };
        assert_eq!(f.uri, "data/driver_stats.parquet");
        assert!(f.file_format.is_none());
        assert_eq!(DataSource::from_proto(&p), file_source());
    }

    #[test]
    fn push_source_round_trips() {
        let push = DataSource {
            name: "driver_push".into(),
            kind: SourceKind::Push {
                batch_source: Box::new(file_source()),
            },
            timestamp_field: String::new(),
            created_timestamp_column: String::new(),
            ..file_source()
        };
        let p = push.to_proto(Some("demo"), true);
        assert_eq!(p.batch_source.as_ref().unwrap().name, "driver_stats_source");
        assert_eq!(
            p.timestamp_field, "event_timestamp",
            "copied from the batch source, as Feast does"
        );
        assert_eq!(p.batch_source.as_ref().unwrap().data_source_class_type, "");
        let back = DataSource::from_proto(&p);
        assert_eq!(back.batch().name, "driver_stats_source");
        assert_eq!(back.to_proto(Some("demo"), true), p);
    }

    #[test]
    fn other_kinds_are_kept() {
        let p = pc::DataSource {
            name: "k".into(),
            r#type: pds::SourceType::StreamKafka as i32,
            ..Default::default()
        };
        let s = DataSource::from_proto(&p);
        assert_eq!(s.kind_name(), "stream_kafka");
        assert_eq!(s.to_proto(None, true), p);
    }

    #[test]
    fn csv_is_told_by_extension() {
        assert_eq!(FileFormat::from_path("x/y.CSV"), FileFormat::Csv);
        assert_eq!(FileFormat::from_path("x/y.parquet"), FileFormat::Parquet);
        assert_eq!(FileFormat::from_path("x/dir"), FileFormat::Parquet);
    }
}
