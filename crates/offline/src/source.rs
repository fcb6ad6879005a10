//! Where a file source's rows live: the files to read (a file, a directory of files, plus the
//! files Larder appended for pushed rows) and their Arrow schema, read from a Parquet footer or
//! inferred from a CSV sample.
//!
//! Layout of appended rows (see [`write`](crate::write)): for a source whose path is a directory,
//! pushed rows become new files inside it; for a source whose path is a single file `x.parquet`,
//! they go into the sibling directory `x.parquet.d/`, which every read includes. Hidden files
//! (`.`, `_` prefixes) are skipped, as pyarrow does.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use larder_core::model::{DataSource, FileFormat};
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};

use crate::error::{Error, Result};

/// The suffix of the directory holding rows appended to a single-file source.
pub(crate) const PUSH_DIR_SUFFIX: &str = ".d";
/// Rows sampled to infer a CSV file's schema.
const CSV_SAMPLE_ROWS: usize = 1000;

/// The resolved files of one file source.
#[derive(Debug, Clone)]
pub(crate) struct SourceFiles {
    /// The source's name, for messages.
    pub(crate) name: String,
    /// The source path, resolved against the repo.
    pub(crate) root: PathBuf,
    /// Parquet or CSV.
    pub(crate) format: FileFormat,
    /// The data files, sorted by path (the order rows are read in).
    pub(crate) files: Vec<PathBuf>,
}

impl SourceFiles {
    /// The files of `source` (a push source's batch source), relative paths resolved against `repo`.
    pub(crate) fn resolve(source: &DataSource, repo: &Path) -> Result<Self> {
        let (root, format) = source.file_location(repo).ok_or_else(|| Error::UnsupportedSource {
            source_name: source.batch().name.clone(),
            message: format!(
                "it is a `{}` source; the file offline store reads only file sources (Parquet or CSV) \
                 and push sources backed by one",
                source.batch().kind_name()
            ),
        })?;
        let files = list_files(&root)?;
        let name = source.batch().name.clone();
        if files.is_empty() {
            return Err(Error::File {
                file: root,
                message: format!(
                    "source `{name}`: no data file found; create it (relative paths resolve against the repo) \
                     or fix the source's path"
                ),
            });
        }
        Ok(SourceFiles {
            name,
            root,
            format,
            files,
        })
    }

    /// The directory that rows appended to this source go into.
    pub(crate) fn push_dir(root: &Path) -> PathBuf {
        if root.is_dir() || (!root.exists() && root.extension().is_none()) {
            root.to_path_buf()
        } else {
            let mut name = root.as_os_str().to_os_string();
            name.push(PUSH_DIR_SUFFIX);
            PathBuf::from(name)
        }
    }

    /// The first file, where the schema is read from.
    pub(crate) fn first(&self) -> &Path {
        &self.files[0]
    }

    /// The schema of the source (its first file); for CSV, `timestamp_columns` are read as
    /// timestamps (UTC when the text has no zone).
    pub(crate) fn schema(&self, timestamp_columns: &[&str]) -> Result<SchemaRef> {
        match self.format {
            FileFormat::Parquet => {
                parquet_metadata(self.first(), &self.name).map(|m| m.schema().clone())
            }
            FileFormat::Csv => csv_schema(self.first(), &self.name, timestamp_columns),
        }
    }

    /// The total number of rows, from the Parquet footers; `None` for CSV.
    pub(crate) fn parquet_row_count(&self) -> Option<u64> {
        if self.format != FileFormat::Parquet {
            return None;
        }
        let mut total = 0u64;
        for file in &self.files {
            let meta = parquet_metadata(file, &self.name).ok()?;
            total += u64::try_from(meta.metadata().file_metadata().num_rows()).ok()?;
        }
        Some(total)
    }

    /// The files as strings, for DataFusion.
    pub(crate) fn file_strings(&self) -> Vec<String> {
        self.files
            .iter()
            .map(|f| f.to_string_lossy().into_owned())
            .collect()
    }
}

/// The data files under `root`: the file itself plus its push directory, or a directory's files.
fn list_files(root: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    if root.is_dir() {
        walk(root, &mut files)?;
    } else {
        if root.is_file() {
            files.push(root.to_path_buf());
        }
        let push_dir = SourceFiles::push_dir(root);
        if push_dir.is_dir() {
            walk(&push_dir, &mut files)?;
        }
    }
    files.sort();
    Ok(files)
}

/// Collects the non-hidden files below `dir`, recursively.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let io_error = |e: std::io::Error| Error::File {
        file: dir.to_path_buf(),
        message: format!("cannot list the directory: {e}; check its permissions"),
    };
    for entry in std::fs::read_dir(dir).map_err(io_error)? {
        let entry = entry.map_err(io_error)?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// Reads a Parquet file's footer.
pub(crate) fn parquet_metadata(file: &Path, what: &str) -> Result<ArrowReaderMetadata> {
    let f = open(file, what)?;
    ArrowReaderMetadata::load(&f, ArrowReaderOptions::new()).map_err(|e| Error::File {
        file: file.to_path_buf(),
        message: format!(
            "`{what}`: not a readable Parquet file ({e}); rewrite it as Parquet or fix the path"
        ),
    })
}

/// Opens a file, with an error that names it and `what` it is for.
pub(crate) fn open(file: &Path, what: &str) -> Result<File> {
    File::open(file).map_err(|e| Error::File {
        file: file.to_path_buf(),
        message: format!(
            "`{what}`: cannot open the file ({e}); check the path and its permissions"
        ),
    })
}

/// Infers a CSV file's schema from a sample, reading `timestamp_columns` as UTC timestamps.
pub(crate) fn csv_schema(file: &Path, what: &str, timestamp_columns: &[&str]) -> Result<SchemaRef> {
    let f = open(file, what)?;
    let format = arrow::csv::reader::Format::default().with_header(true);
    let (schema, _) = format
        .infer_schema(f, Some(CSV_SAMPLE_ROWS))
        .map_err(|e| Error::File {
            file: file.to_path_buf(),
            message: format!("`{what}`: not a readable CSV file with a header row ({e})"),
        })?;
    let fields = schema
        .fields()
        .iter()
        .map(|f| csv_field(f, timestamp_columns))
        .collect::<Vec<_>>();
    Ok(Arc::new(Schema::new(fields)))
}

/// The type a CSV column is read as: timestamp columns become UTC timestamps (even when the
/// sample holds no value), naive timestamps are read as UTC, and other all-empty columns strings.
fn csv_field(field: &Field, timestamp_columns: &[&str]) -> Field {
    let utc = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let data_type = match field.data_type() {
        DataType::Utf8
        | DataType::Date32
        | DataType::Date64
        | DataType::Timestamp(..)
        | DataType::Null
            if timestamp_columns.contains(&field.name().as_str()) =>
        {
            utc
        }
        DataType::Timestamp(_, None) => utc,
        DataType::Null => DataType::Utf8,
        other => other.clone(),
    };
    Field::new(field.name(), data_type, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_timestamp_columns_become_utc_timestamps() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.csv");
        std::fs::write(
            &path,
            "id,ts,when,name,empty\n1,2026-10-02T00:00:00+02:00,2026-10-02 01:00:00,a,\n",
        )
        .unwrap();
        let schema = csv_schema(&path, "src", &["ts"]).unwrap();
        let utc = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        assert_eq!(schema.field(0).data_type(), &DataType::Int64);
        assert_eq!(schema.field(1).data_type(), &utc);
        assert_eq!(schema.field(2).data_type(), &utc);
        assert_eq!(schema.field(3).data_type(), &DataType::Utf8);
        assert_eq!(schema.field(4).data_type(), &DataType::Utf8);
    }

    #[test]
    fn lists_file_push_dir_and_skips_hidden() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x.parquet");
        std::fs::write(&file, b"").unwrap();
        let push = SourceFiles::push_dir(&file);
        assert_eq!(push, dir.path().join("x.parquet.d"));
        std::fs::create_dir(&push).unwrap();
        std::fs::write(push.join("b.parquet"), b"").unwrap();
        std::fs::write(push.join(".tmp.parquet"), b"").unwrap();
        std::fs::write(push.join("_SUCCESS"), b"").unwrap();
        let files = list_files(&file).unwrap();
        assert_eq!(files, vec![file.clone(), push.join("b.parquet")]);
        assert_eq!(SourceFiles::push_dir(dir.path()), dir.path());
        assert_eq!(
            SourceFiles::push_dir(&dir.path().join("new_dir")),
            dir.path().join("new_dir")
        );
    }
}
