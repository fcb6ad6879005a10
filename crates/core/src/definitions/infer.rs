//! The Arrow schemas of data files, read for inference and validation only: a Parquet footer, the
//! first Parquet file of a directory, or a CSV header plus type inference on a sample of rows.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use arrow::csv::reader::Format;
use arrow::datatypes::{DataType, SchemaRef};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::model::FileFormat;

/// How many CSV rows type inference looks at.
const CSV_SAMPLE_ROWS: usize = 1000;

/// Why a data file's schema is not available.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SchemaError {
    /// Nothing at the path.
    NotFound,
    /// The file (or directory) could not be read as the format; the message says why.
    Unreadable(String),
}

/// Schemas already read, by resolved path: each file is read at most once per load.
#[derive(Debug, Default)]
pub(crate) struct SchemaCache {
    schemas: HashMap<PathBuf, Result<SchemaRef, SchemaError>>,
}

impl SchemaCache {
    /// The schema of the data at `path` in `format`.
    pub(crate) fn get(
        &mut self,
        path: &Path,
        format: FileFormat,
    ) -> Result<SchemaRef, SchemaError> {
        self.schemas
            .entry(path.to_path_buf())
            .or_insert_with(|| read_schema(path, format))
            .clone()
    }
}

/// Reads the schema of a Parquet file or directory, or of a CSV file.
pub(crate) fn read_schema(path: &Path, format: FileFormat) -> Result<SchemaRef, SchemaError> {
    if !path.exists() {
        return Err(SchemaError::NotFound);
    }
    let file = match (format, path.is_dir()) {
        (FileFormat::Parquet, true) => first_parquet_file(path)?,
        (FileFormat::Csv, true) => {
            return Err(SchemaError::Unreadable(
                "is a directory; a CSV source must be one file".into(),
            ));
        }
        (_, false) => path.to_path_buf(),
    };
    match format {
        FileFormat::Parquet => parquet_schema(&file),
        FileFormat::Csv => csv_schema(&file),
    }
    .map_err(|message| match file == path {
        true => SchemaError::Unreadable(message),
        false => SchemaError::Unreadable(format!("{}: {message}", file.display())),
    })
}

fn parquet_schema(path: &Path) -> Result<SchemaRef, String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| format!("not a Parquet file ({e})"))?;
    Ok(builder.schema().clone())
}

fn csv_schema(path: &Path) -> Result<SchemaRef, String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let format = Format::default().with_header(true);
    let (schema, _) = format
        .infer_schema(BufReader::new(file), Some(CSV_SAMPLE_ROWS))
        .map_err(|e| format!("not a readable CSV file ({e})"))?;
    Ok(std::sync::Arc::new(schema))
}

/// The first Parquet file (in path order) under a directory, skipping hidden and `_`-prefixed entries
/// such as `_SUCCESS`.
fn first_parquet_file(dir: &Path) -> Result<PathBuf, SchemaError> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| SchemaError::Unreadable(e.to_string()))?
        .filter_map(|e| e.ok())
        .filter(|e| !e.file_name().to_string_lossy().starts_with(['.', '_']))
        .map(|e| e.path())
        .collect();
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            if let Ok(found) = first_parquet_file(&entry) {
                return Ok(found);
            }
        } else if entry
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
        {
            return Ok(entry);
        }
    }
    Err(SchemaError::Unreadable(
        "is a directory without any .parquet file".into(),
    ))
}

/// Whether a column of this type can be an event or created timestamp.
pub(crate) fn is_timestamp(data_type: &DataType) -> bool {
    matches!(data_type, DataType::Timestamp(..))
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use arrow::array::{
        ArrayRef, Float32Array, Int64Array, StringArray, TimestampMicrosecondArray,
    };
    use arrow::datatypes::TimeUnit;
    use arrow::record_batch::RecordBatch;
    use parquet::arrow::ArrowWriter;

    use super::*;

    /// Writes a one-row Parquet file with the given columns (`i64`, `f32`, `str`, `ts`).
    pub(crate) fn write_parquet(path: &Path, columns: &[(&str, &str)]) {
        let arrays: Vec<(&str, ArrayRef)> = columns
            .iter()
            .map(|(name, kind)| {
                let array: ArrayRef = match *kind {
                    "i64" => Arc::new(Int64Array::from(vec![1])),
                    "f32" => Arc::new(Float32Array::from(vec![1.5])),
                    "str" => Arc::new(StringArray::from(vec!["x"])),
                    "ts" => Arc::new(TimestampMicrosecondArray::from(vec![0]).with_timezone("UTC")),
                    other => panic!("unknown column kind {other}"),
                };
                (*name, array)
            })
            .collect();
        let batch = RecordBatch::try_from_iter(arrays).unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut writer =
            ArrowWriter::try_new(File::create(path).unwrap(), batch.schema(), None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
    }

    #[test]
    fn parquet_file_and_directory() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t/part-1.parquet");
        write_parquet(&file, &[("id", "i64"), ("ts", "ts")]);
        std::fs::write(dir.path().join("t/_SUCCESS"), "").unwrap();
        let schema = read_schema(&file, FileFormat::Parquet).unwrap();
        assert_eq!(schema.field(0).data_type(), &DataType::Int64);
        assert!(is_timestamp(schema.field(1).data_type()));
        let from_dir = read_schema(&dir.path().join("t"), FileFormat::Parquet).unwrap();
        assert_eq!(from_dir, schema);
        assert_eq!(
            read_schema(&dir.path().join("nope"), FileFormat::Parquet),
            Err(SchemaError::NotFound)
        );
        std::fs::write(dir.path().join("bad.parquet"), "not parquet").unwrap();
        let bad = read_schema(&dir.path().join("bad.parquet"), FileFormat::Parquet);
        assert!(matches!(bad, Err(SchemaError::Unreadable(m)) if m.contains("not a Parquet file")));
    }

    #[test]
    fn csv_infers_types_and_timestamps() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.csv");
        std::fs::write(
            &path,
            "id,rate,city,event_timestamp,created\n1,0.5,Oslo,2026-01-01 10:00:00+00:00,2026-01-01T10:00:00.123456\n",
        )
        .unwrap();
        let schema = read_schema(&path, FileFormat::Csv).unwrap();
        let types: Vec<_> = schema
            .fields()
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        assert_eq!(
            types[..3],
            [DataType::Int64, DataType::Float64, DataType::Utf8]
        );
        assert!(
            matches!(types[3], DataType::Timestamp(TimeUnit::Second, _)),
            "{:?}",
            types[3]
        );
        assert!(is_timestamp(&types[4]));
        let mut cache = SchemaCache::default();
        assert_eq!(cache.get(&path, FileFormat::Csv).unwrap(), schema);
    }
}
