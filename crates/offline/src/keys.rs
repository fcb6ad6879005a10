//! Entity keys as dense integer ids: the join-key columns of a batch are encoded once per batch
//! with Arrow's row format, and each distinct encoded key gets the next id. Views without
//! entities have one key (id 0). Only distinct keys allocate; rows do not.

use arrow::array::{Array, ArrayRef};
use arrow::buffer::NullBuffer;
use arrow::datatypes::DataType;
use std::hash::BuildHasher;

use arrow::row::{RowConverter, Rows, SortField};

use crate::error::{Result, engine};

/// A map from entity keys to dense ids, fed batch by batch.
#[derive(Debug)]
pub(crate) struct KeyIds {
    /// The encoder and the current batch's encoded keys; `None` for views without entities.
    rows: Option<(RowConverter, Rows)>,
    /// Encoded key → id.
    ids: foldhash::HashMap<Box<[u8]>, u32>,
    /// Rows of the current batch where some key column is null.
    nulls: Option<NullBuffer>,
}

/// The id of one row's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyId {
    /// A key seen before.
    Known(u32),
    /// A key seen for the first time (given the next id).
    New(u32),
    /// A key with a null column: it identifies no entity.
    Null,
}

impl KeyIds {
    /// A map for keys of `types` (empty for a view without entities).
    pub(crate) fn new(types: &[DataType]) -> Result<Self> {
        let rows = if types.is_empty() {
            None
        } else {
            let fields = types.iter().map(|t| SortField::new(t.clone())).collect();
            let converter = RowConverter::new(fields).map_err(engine("encoding join keys"))?;
            let rows = converter.empty_rows(0, 0);
            Some((converter, rows))
        };
        Ok(KeyIds {
            rows,
            ids: foldhash::HashMap::default(),
            nulls: None,
        })
    }

    /// Encodes the key columns of the next batch (same types as given to [`KeyIds::new`]).
    pub(crate) fn load(&mut self, keys: &[ArrayRef]) -> Result<()> {
        self.nulls = keys.iter().fold(None, |acc, k| {
            NullBuffer::union(acc.as_ref(), k.logical_nulls().as_ref())
        });
        if let Some((converter, rows)) = &mut self.rows {
            rows.clear();
            converter
                .append(rows, keys)
                .map_err(engine("encoding join keys"))?;
        }
        Ok(())
    }

    /// The id of row `i` of the loaded batch, assigning the next id to a new key.
    pub(crate) fn id(&mut self, i: usize) -> KeyId {
        if self.nulls.as_ref().is_some_and(|n| n.is_null(i)) {
            return KeyId::Null;
        }
        let next = u32::try_from(self.ids.len()).expect("fewer than 2^32 distinct keys");
        let key: &[u8] = match &self.rows {
            Some((_, rows)) => rows.row(i).data(),
            None => &[],
        };
        match self.ids.get(key) {
            Some(&id) => KeyId::Known(id),
            None => {
                self.ids.insert(key.into(), next);
                KeyId::New(next)
            }
        }
    }

    /// The id of row `i` of the loaded batch if the key is known, without assigning one.
    pub(crate) fn lookup(&self, i: usize) -> Option<u32> {
        if self.nulls.as_ref().is_some_and(|n| n.is_null(i)) {
            return None;
        }
        let key: &[u8] = match &self.rows {
            Some((_, rows)) => rows.row(i).data(),
            None => &[],
        };
        self.ids.get(key).copied()
    }
}

/// The seed of the partitioning hash (fixed: both sides of a join must agree).
const PARTITION_SEED: u64 = 0x6c61_7264_6572;

/// For each of `num_rows` rows, the partition (of `parts`) its key hashes to; rows with equal keys
/// (compared as `types`) always land in the same partition. No key columns: all in partition 0.
pub(crate) fn key_partitions(
    types: &[DataType],
    keys: &[ArrayRef],
    num_rows: usize,
    parts: u32,
) -> Result<Vec<u32>> {
    if types.is_empty() || parts <= 1 {
        return Ok(vec![0; num_rows]);
    }
    let fields = types.iter().map(|t| SortField::new(t.clone())).collect();
    let converter = RowConverter::new(fields).map_err(engine("encoding join keys"))?;
    let rows = converter
        .convert_columns(keys)
        .map_err(engine("encoding join keys"))?;
    let hasher = foldhash::fast::FixedState::with_seed(PARTITION_SEED);
    let parts = u64::from(parts);
    Ok((0..rows.num_rows())
        .map(|i| (hasher.hash_one(rows.row(i).data()) % parts) as u32)
        .collect())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};

    use super::*;

    #[test]
    fn ids_are_dense_and_stable_across_batches() {
        let mut ids = KeyIds::new(&[DataType::Int64, DataType::Utf8]).unwrap();
        let a: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), Some(2), Some(1), None]));
        let b: ArrayRef = Arc::new(StringArray::from(vec!["x", "x", "x", "x"]));
        ids.load(&[a, b.clone()]).unwrap();
        let got: Vec<_> = (0..4).map(|i| ids.id(i)).collect();
        assert_eq!(
            got,
            vec![KeyId::New(0), KeyId::New(1), KeyId::Known(0), KeyId::Null]
        );
        let a: ArrayRef = Arc::new(Int64Array::from(vec![Some(2), Some(3), Some(2), Some(2)]));
        ids.load(&[a, b]).unwrap();
        assert_eq!(ids.lookup(0), Some(1));
        assert_eq!(ids.lookup(1), None);
        assert_eq!(ids.ids.len(), 2);
    }

    #[test]
    fn equal_keys_share_a_partition() {
        let a: ArrayRef = Arc::new(Int64Array::from(vec![7, 8, 7, 9, 7]));
        let parts = key_partitions(&[DataType::Int64], &[a], 5, 4).unwrap();
        assert!(parts.iter().all(|&p| p < 4));
        assert_eq!((parts[0], parts[0]), (parts[2], parts[4]));
        assert_eq!(key_partitions(&[], &[], 3, 4).unwrap(), vec![0, 0, 0]);
    }

    #[test]
    fn no_key_columns_is_one_key() {
        let mut ids = KeyIds::new(&[]).unwrap();
        ids.load(&[]).unwrap();
        assert_eq!(ids.lookup(0), None);
        assert_eq!(ids.id(0), KeyId::New(0));
        assert_eq!(ids.id(5), KeyId::Known(0));
        assert_eq!(ids.lookup(3), Some(0));
        assert_eq!(ids.ids.len(), 1);
    }
}
