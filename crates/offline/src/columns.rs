//! Which source columns a view reads and what they are called on the way out: join keys and
//! features through `field_mapping`, the event and created timestamps; checked against the
//! source's schema up front so errors name the view, the column and the file.

use arrow::datatypes::Schema;
use larder_core::model::{
    CREATED_TS_COLUMN, DUMMY_ENTITY_ID, DataSource, EVENT_TS_COLUMN, FeatureView,
};

use crate::error::{Error, Result};
use crate::source::SourceFiles;
use crate::time::is_timestamp;

/// One column read from a source: its name in the files and its name in Larder's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Projected {
    /// The column in the source files.
    pub(crate) source: String,
    /// The column in the output (feature or join-key name, or a timestamp column).
    pub(crate) output: String,
}

/// The columns of one view's source that a read needs.
#[derive(Debug, Clone)]
pub(crate) struct ViewColumns {
    /// The join keys, in entity-column order (output names = the view's join keys).
    pub(crate) keys: Vec<Projected>,
    /// The features, in the requested order (output names = the feature names).
    pub(crate) features: Vec<Projected>,
    /// The event timestamp column in the files.
    pub(crate) ts: String,
    /// The created timestamp column in the files, when the source has one.
    pub(crate) created: Option<String>,
}

impl ViewColumns {
    /// Resolves `features` (all of the view's when `None`) of `view` against `schema`, the schema
    /// of `files`; a missing column or a non-timestamp time column is an [`Error::Column`].
    pub(crate) fn resolve(
        view: &FeatureView,
        features: Option<&[String]>,
        files: &SourceFiles,
        schema: &Schema,
    ) -> Result<Self> {
        let check = Checker {
            view,
            source: view.batch_source.batch(),
            files,
            schema,
        };
        let keys = view
            .entity_columns
            .iter()
            .filter(|k| !is_absent_dummy(&k.name, schema))
            .map(|k| check.column(&k.name, "join key"))
            .collect::<Result<_>>()?;
        let names: Vec<&str> = match features {
            Some(f) => f.iter().map(String::as_str).collect(),
            None => view.features.iter().map(|f| f.name.as_str()).collect(),
        };
        let features = names
            .iter()
            .map(|f| check.column(f, "feature"))
            .collect::<Result<_>>()?;
        let ts = check.timestamp(&check.source.timestamp_field, "timestamp_field")?;
        let created = match check.source.created_timestamp_column.as_str() {
            "" => None,
            c => Some(check.timestamp(c, "created_timestamp_column")?),
        };
        Ok(ViewColumns {
            keys,
            features,
            ts,
            created,
        })
    }

    /// Every column to read, with its output name: keys, features, then
    /// [`EVENT_TS_COLUMN`] and [`CREATED_TS_COLUMN`] (when the source has one).
    pub(crate) fn projection(&self) -> Vec<Projected> {
        let mut all: Vec<Projected> = self.keys.iter().chain(&self.features).cloned().collect();
        all.push(Projected {
            source: self.ts.clone(),
            output: EVENT_TS_COLUMN.into(),
        });
        if let Some(c) = &self.created {
            all.push(Projected {
                source: c.clone(),
                output: CREATED_TS_COLUMN.into(),
            });
        }
        all
    }

    /// The columns that rank rows: keys, then [`EVENT_TS_COLUMN`] and [`CREATED_TS_COLUMN`]
    /// (when the source has one).
    pub(crate) fn rank_projection(&self) -> Vec<Projected> {
        let mut all = self.keys.clone();
        all.extend(
            self.projection()
                .into_iter()
                .skip(self.keys.len() + self.features.len()),
        );
        all
    }
}

/// Checks columns of one view's source and builds the errors.
struct Checker<'a> {
    view: &'a FeatureView,
    source: &'a DataSource,
    files: &'a SourceFiles,
    schema: &'a Schema,
}

impl Checker<'_> {
    /// The source column holding `name` (a join key or feature), which must exist.
    fn column(&self, name: &str, role: &str) -> Result<Projected> {
        let source = self.source.source_column(name).to_string();
        if self.schema.column_with_name(&source).is_none() {
            let what = describe(&source, name, role);
            return Err(self.error(format!(
                "{what} is not in the file; its columns are: {}. Add the column to the source, fix the \
                 view's schema, or map a source column to it with the source's field_mapping",
                column_list(self.schema)
            )));
        }
        Ok(Projected {
            source,
            output: name.to_string(),
        })
    }

    /// The source column of time column `name` (`role` is its setting), which must be a timestamp.
    fn timestamp(&self, name: &str, role: &str) -> Result<String> {
        if name.is_empty() {
            return Err(self.error(format!(
                "source `{}` has no {role}; set it to the column holding each row's event time",
                self.source.name
            )));
        }
        let source = self.source.source_column(name).to_string();
        let what = describe(&source, name, role);
        match self.schema.column_with_name(&source) {
            None => Err(self.error(format!(
                "{what} is not in the file; its columns are: {}. Fix the source's {role}",
                column_list(self.schema)
            ))),
            Some((_, f)) if !is_timestamp(f.data_type()) => Err(self.error(format!(
                "{what} has type {}, not a timestamp; store it as a timestamp (Parquet) or as \
                 ISO-8601 text (CSV), or point {role} at a timestamp column",
                f.data_type()
            ))),
            Some(_) => Ok(source),
        }
    }

    fn error(&self, detail: String) -> Error {
        Error::Column {
            file: self.files.first().to_path_buf(),
            message: format!(
                "feature view `{}` (source `{}`): {detail}",
                self.view.name, self.files.name
            ),
        }
    }
}

/// Whether `key` is Feast's placeholder join key of entity-less views, absent from the source
/// (such views have no key columns here).
fn is_absent_dummy(key: &str, schema: &Schema) -> bool {
    key == DUMMY_ENTITY_ID && schema.column_with_name(key).is_none()
}

/// `column `x` (join key `y`, mapped by field_mapping)`.
fn describe(source: &str, name: &str, role: &str) -> String {
    if source == name {
        format!("column `{source}` ({role})")
    } else {
        format!("column `{source}` ({role} `{name}`, through field_mapping)")
    }
}

/// The comma-separated column names of `schema`.
pub(crate) fn column_list(schema: &Schema) -> String {
    schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
