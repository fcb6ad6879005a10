//! Appending pushed rows to a file source without rewriting anything.
//!
//! Each call writes one new file, `larder-push-<UTC time>-<uuid>.<parquet|csv>`:
//! - source path is a directory (or does not exist and has no extension): into that directory;
//! - source path is a file `x.parquet` / `x.csv`: into the sibling directory `x.parquet.d/` /
//!   `x.csv.d/`, which Larder's reads include (see [`source`](crate::source)).
//!
//! Names start with the time, so later pushes sort (and are read) later and win full ties. The
//! file is written under a hidden temporary name, synced, then renamed, so readers never see a
//! partial file. When the source already has data, the rows are conformed to its schema (same
//! columns, same order, types cast), which CSV (read by position) needs and Parquet benefits from.
//! Feast itself does not read the `.d/` directory: rows pushed this way are visible to Larder only.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{Field, Schema, SchemaRef};
use chrono::Utc;
use larder_core::model::{DataSource, FileFormat};
use parquet::arrow::ArrowWriter;

use crate::columns::column_list;
use crate::error::{Error, Result, engine};
use crate::source::SourceFiles;

/// Appends `batch` (columns named as in the source files) to `source`'s data as a new file and
/// returns its path; `None` when the batch has no rows.
pub(crate) async fn write_rows(
    repo: &Path,
    source: &DataSource,
    batch: &RecordBatch,
) -> Result<Option<PathBuf>> {
    let source = source.batch();
    let (root, format) = source
        .file_location(repo)
        .ok_or_else(|| Error::UnsupportedSource {
            source_name: source.name.clone(),
            message: format!(
                "it is a `{}` source; only file sources can take pushed rows",
                source.kind_name()
            ),
        })?;
    if batch.num_rows() == 0 {
        return Ok(None);
    }
    let batch = match existing_schema(source, repo)? {
        Some((schema, file)) => conform(batch, &schema, &source.name, &file)?,
        None => batch.clone(),
    };
    let dir = SourceFiles::push_dir(&root);
    let name = format!(
        "larder-push-{}-{}.{}",
        Utc::now().format("%Y%m%dT%H%M%S%.6fZ"),
        uuid::Uuid::new_v4().simple(),
        format.as_str()
    );
    let task = tokio::task::spawn_blocking(move || write_file(&dir, &name, &batch, format));
    task.await.map_err(engine("writing pushed rows"))?.map(Some)
}

/// The schema of the source's current data and the file it was read from, if it has data.
fn existing_schema(source: &DataSource, repo: &Path) -> Result<Option<(SchemaRef, PathBuf)>> {
    let files = match SourceFiles::resolve(source, repo) {
        Ok(files) => files,
        Err(Error::File { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let time_columns = [
        source.source_column(&source.timestamp_field),
        source.source_column(&source.created_timestamp_column),
    ];
    let schema = files.schema(&time_columns)?;
    Ok(Some((schema, files.first().to_path_buf())))
}

/// `batch` with exactly `schema`'s columns, in its order and types; extra columns are dropped.
fn conform(batch: &RecordBatch, schema: &Schema, source: &str, file: &Path) -> Result<RecordBatch> {
    let missing: Vec<&str> = schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .filter(|n| batch.column_by_name(n).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(Error::Column {
            file: file.to_path_buf(),
            message: format!(
                "source `{source}`: the pushed rows lack column(s) {}; they have: {}. Push every column of the source",
                missing.join(", "),
                column_list(batch.schema_ref())
            ),
        });
    }
    let extra = batch
        .schema()
        .fields()
        .iter()
        .filter(|f| schema.column_with_name(f.name()).is_none())
        .count();
    if extra > 0 {
        tracing::warn!(
            source,
            extra,
            "pushed rows have columns the source does not; they are not stored"
        );
    }
    let columns = schema
        .fields()
        .iter()
        .map(|f| conform_column(batch, f, source, file))
        .collect::<Result<Vec<ArrayRef>>>()?;
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| f.as_ref().clone().with_nullable(true))
        .collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .map_err(engine("conforming pushed rows"))
}

/// The pushed column `field` names, cast to its type.
fn conform_column(
    batch: &RecordBatch,
    field: &Field,
    source: &str,
    file: &Path,
) -> Result<ArrayRef> {
    let column = batch.column_by_name(field.name()).expect("checked above");
    if column.data_type() == field.data_type() {
        return Ok(column.clone());
    }
    cast(column, field.data_type()).map_err(|e| Error::Column {
        file: file.to_path_buf(),
        message: format!(
            "source `{source}`: pushed column `{}` is {} but the source stores {} and the values do not convert ({e}); \
             push values of the source's type",
            field.name(),
            column.data_type(),
            field.data_type()
        ),
    })
}

/// Writes `batch` to `dir/name` through a hidden temporary file, synced before the rename.
fn write_file(dir: &Path, name: &str, batch: &RecordBatch, format: FileFormat) -> Result<PathBuf> {
    let io = |path: &Path, what: &str| {
        let path = path.to_path_buf();
        let what = what.to_string();
        move |e: std::io::Error| Error::File {
            file: path,
            message: format!("cannot {what} pushed rows: {e}; check permissions and free space"),
        }
    };
    std::fs::create_dir_all(dir).map_err(io(dir, "create the directory for"))?;
    let tmp = dir.join(format!(".{name}.tmp"));
    let target = dir.join(name);
    let written = File::create(&tmp)
        .map_err(io(&tmp, "create a file for"))
        .and_then(|file| {
            let file = match format {
                FileFormat::Parquet => write_parquet(file, batch)?,
                FileFormat::Csv => write_csv(file, batch)?,
            };
            file.sync_all().map_err(io(&tmp, "sync"))
        });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, &target).map_err(io(&target, "rename the file of"))?;
    Ok(target)
}

fn write_parquet(file: File, batch: &RecordBatch) -> Result<File> {
    let mut writer = ArrowWriter::try_new(file, batch.schema(), None)
        .map_err(engine("writing pushed rows as Parquet"))?;
    writer
        .write(batch)
        .map_err(engine("writing pushed rows as Parquet"))?;
    writer
        .into_inner()
        .map_err(engine("writing pushed rows as Parquet"))
}

fn write_csv(file: File, batch: &RecordBatch) -> Result<File> {
    let mut writer = arrow::csv::WriterBuilder::new()
        .with_header(true)
        .build(file);
    writer
        .write(batch)
        .map_err(engine("writing pushed rows as CSV"))?;
    Ok(writer.into_inner())
}
