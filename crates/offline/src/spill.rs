//! Spilling rows to disk by partition: one temporary Arrow IPC file per partition, written batch
//! by batch while a source is read and read back one partition at a time. The files live in a
//! temporary directory that is removed when the reader is dropped.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::PathBuf;

use arrow::array::{RecordBatch, UInt32Array};
use arrow::compute::{concat_batches, take_record_batch};
use arrow::datatypes::SchemaRef;
use arrow::ipc::reader::FileReader;
use arrow::ipc::writer::FileWriter;
use tempfile::TempDir;

use crate::error::{Error, Result, engine};

/// Partition files being written.
pub(crate) struct Spill {
    dir: TempDir,
    schema: SchemaRef,
    writers: Vec<FileWriter<BufWriter<File>>>,
}

impl std::fmt::Debug for Spill {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spill")
            .field("dir", &self.dir.path())
            .field("parts", &self.writers.len())
            .finish()
    }
}

/// Partition files written and ready to read.
#[derive(Debug)]
pub(crate) struct Spilled {
    _dir: TempDir,
    schema: SchemaRef,
    paths: Vec<PathBuf>,
}

impl Spill {
    /// `parts` empty partition files for rows of `schema`, in a new temporary directory.
    pub(crate) fn create(parts: u32, schema: SchemaRef) -> Result<Self> {
        let dir = tempfile::Builder::new().prefix("larder-join-").tempdir().map_err(|e| Error::File {
            file: std::env::temp_dir(),
            message: format!("cannot create a directory to spill the join to: {e}; set TMPDIR to a writable directory"),
        })?;
        let writers = (0..parts)
            .map(|p| {
                let path = dir.path().join(format!("part-{p}.arrow"));
                let file =
                    File::create(&path).map_err(engine(format!("creating {}", path.display())))?;
                FileWriter::try_new(BufWriter::new(file), &schema)
                    .map_err(engine("spilling join rows"))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Spill {
            dir,
            schema,
            writers,
        })
    }

    /// Appends each row of `batch` to the partition `parts[row]` says.
    pub(crate) fn write(&mut self, batch: &RecordBatch, parts: &[u32]) -> Result<()> {
        let mut groups: Vec<Vec<u32>> = vec![Vec::new(); self.writers.len()];
        for (row, &p) in parts.iter().enumerate() {
            groups[p as usize].push(u32::try_from(row).expect("batch rows fit in u32"));
        }
        for (writer, rows) in self.writers.iter_mut().zip(groups) {
            if rows.is_empty() {
                continue;
            }
            let part = take_record_batch(batch, &UInt32Array::from(rows))
                .map_err(engine("spilling join rows"))?;
            writer.write(&part).map_err(engine("spilling join rows"))?;
        }
        Ok(())
    }

    /// Closes the files.
    pub(crate) fn finish(mut self) -> Result<Spilled> {
        for writer in &mut self.writers {
            writer.finish().map_err(engine("spilling join rows"))?;
        }
        let paths = (0..self.writers.len())
            .map(|p| self.dir.path().join(format!("part-{p}.arrow")))
            .collect();
        Ok(Spilled {
            _dir: self.dir,
            schema: self.schema,
            paths,
        })
    }
}

impl Spilled {
    /// All rows of partition `p`, as one batch.
    pub(crate) fn read(&self, p: usize) -> Result<RecordBatch> {
        let path = &self.paths[p];
        let file = File::open(path).map_err(engine(format!("reading {}", path.display())))?;
        let reader = FileReader::try_new(BufReader::new(file), None)
            .map_err(engine("reading spilled join rows"))?;
        let batches = reader
            .collect::<Result<Vec<_>, _>>()
            .map_err(engine("reading spilled join rows"))?;
        concat_batches(&self.schema, &batches).map_err(engine("reading spilled join rows"))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{AsArray, Int64Array};
    use arrow::datatypes::{DataType, Field, Int64Type, Schema};

    use super::*;

    #[test]
    fn rows_come_back_by_partition_in_order() {
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
        let mut spill = Spill::create(2, schema.clone()).unwrap();
        let batch = |v: Vec<i64>| {
            RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(v))]).unwrap()
        };
        spill.write(&batch(vec![1, 2, 3]), &[0, 1, 0]).unwrap();
        spill.write(&batch(vec![4]), &[0]).unwrap();
        let spilled = spill.finish().unwrap();
        let values = |p| {
            spilled
                .read(p)
                .unwrap()
                .column(0)
                .as_primitive::<Int64Type>()
                .values()
                .to_vec()
        };
        assert_eq!(values(0), vec![1, 3, 4]);
        assert_eq!(values(1), vec![2]);
    }
}
