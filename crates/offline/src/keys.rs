//! Entity keys as dense integer ids: the join-key columns of a batch are encoded once per batch
//! with Arrow's row format (a single `Int64` key is hashed as it is), and each distinct key gets
//! the next id. Views without entities have one key (id 0). Only distinct keys allocate; rows do
//! not.

use arrow::array::{Array, ArrayRef, AsArray, Int64Array};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, Int64Type};

use arrow::row::{RowConverter, Rows, SortField};

use crate::error::{Result, engine};

/// A map from entity keys to dense ids, fed batch by batch.
#[derive(Debug)]
pub(crate) struct KeyIds {
    encoding: Encoding,
    /// Rows of the current batch where some key column is null.
    nulls: Option<NullBuffer>,
}

/// How keys are told apart: no key, one 64-bit integer (hashed as is), or Arrow's row format.
#[derive(Debug)]
enum Encoding {
    /// A view without entities: every row has key id 0.
    Unit { seen: bool },
    /// One `Int64` key column: the current batch's values, and value → id.
    Int64 {
        values: Int64Array,
        ids: foldhash::HashMap<i64, u32>,
    },
    /// Any other keys: the encoder, the current batch's encoded keys, and encoded key → id.
    Rows {
        types: Vec<DataType>,
        converter: RowConverter,
        rows: Rows,
        ids: foldhash::HashMap<Box<[u8]>, u32>,
    },
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
        let encoding = match types {
            [] => Encoding::Unit { seen: false },
            [DataType::Int64] => Encoding::Int64 {
                values: Int64Array::from(Vec::<i64>::new()),
                ids: foldhash::HashMap::default(),
            },
            _ => {
                let (converter, rows) = row_encoder(types)?;
                Encoding::Rows {
                    types: types.to_vec(),
                    converter,
                    rows,
                    ids: foldhash::HashMap::default(),
                }
            }
        };
        Ok(KeyIds {
            encoding,
            nulls: None,
        })
    }

    /// A map with the same ids, to be fed batches of its own (on another task).
    pub(crate) fn fork(&self) -> Result<Self> {
        let encoding = match &self.encoding {
            Encoding::Unit { seen } => Encoding::Unit { seen: *seen },
            Encoding::Int64 { ids, .. } => Encoding::Int64 {
                values: Int64Array::from(Vec::<i64>::new()),
                ids: ids.clone(),
            },
            Encoding::Rows { types, ids, .. } => {
                let (converter, rows) = row_encoder(types)?;
                Encoding::Rows {
                    types: types.clone(),
                    converter,
                    rows,
                    ids: ids.clone(),
                }
            }
        };
        Ok(KeyIds {
            encoding,
            nulls: None,
        })
    }

    /// How many distinct keys have an id.
    pub(crate) fn len(&self) -> usize {
        match &self.encoding {
            Encoding::Unit { seen } => usize::from(*seen),
            Encoding::Int64 { ids, .. } => ids.len(),
            Encoding::Rows { ids, .. } => ids.len(),
        }
    }

    /// Encodes the key columns of the next batch (same types as given to [`KeyIds::new`]).
    pub(crate) fn load(&mut self, keys: &[ArrayRef]) -> Result<()> {
        self.nulls = keys.iter().fold(None, |acc, k| {
            NullBuffer::union(acc.as_ref(), k.logical_nulls().as_ref())
        });
        match &mut self.encoding {
            Encoding::Unit { .. } => {}
            Encoding::Int64 { values, .. } => {
                *values = keys[0].as_primitive::<Int64Type>().clone();
            }
            Encoding::Rows {
                converter, rows, ..
            } => {
                rows.clear();
                converter
                    .append(rows, keys)
                    .map_err(engine("encoding join keys"))?;
            }
        }
        Ok(())
    }

    /// The id of row `i` of the loaded batch, assigning the next id to a new key.
    pub(crate) fn id(&mut self, i: usize) -> KeyId {
        if self.nulls.as_ref().is_some_and(|n| n.is_null(i)) {
            return KeyId::Null;
        }
        let next = u32::try_from(self.len()).expect("fewer than 2^32 distinct keys");
        let known = match &mut self.encoding {
            Encoding::Unit { seen } => std::mem::replace(seen, true).then_some(0),
            Encoding::Int64 { values, ids } => return int64_id(ids, values.value(i)),
            Encoding::Rows { rows, ids, .. } => {
                let key = rows.row(i).data();
                let known = ids.get(key).copied();
                if known.is_none() {
                    ids.insert(key.into(), next);
                }
                known
            }
        };
        known.map_or(KeyId::New(next), KeyId::Known)
    }

    /// The ids of the loaded batch's first `rows` rows, in order, into `out` (cleared first), as
    /// [`KeyIds::id`] gives them; rows that are null in `skip` get [`KeyId::Null`] and no id.
    /// Looking every row up before using any id lets the lookups' cache misses overlap.
    pub(crate) fn ids(&mut self, rows: usize, skip: Option<&NullBuffer>, out: &mut Vec<KeyId>) {
        out.clear();
        out.reserve(rows);
        let skipped = |i: usize| skip.is_some_and(|s| s.is_null(i));
        if let KeyIds {
            encoding: Encoding::Int64 { values, ids },
            nulls,
        } = self
        {
            for (i, &key) in values.values()[..rows].iter().enumerate() {
                if skipped(i) || nulls.as_ref().is_some_and(|n| n.is_null(i)) {
                    out.push(KeyId::Null);
                    continue;
                }
                out.push(int64_id(ids, key));
            }
            return;
        }
        for i in 0..rows {
            out.push(if skipped(i) { KeyId::Null } else { self.id(i) });
        }
    }

    /// The id of row `i` of the loaded batch if the key is known, without assigning one.
    pub(crate) fn lookup(&self, i: usize) -> Option<u32> {
        if self.nulls.as_ref().is_some_and(|n| n.is_null(i)) {
            return None;
        }
        match &self.encoding {
            Encoding::Unit { seen } => seen.then_some(0),
            Encoding::Int64 { values, ids } => ids.get(&values.value(i)).copied(),
            Encoding::Rows { rows, ids, .. } => ids.get(rows.row(i).data()).copied(),
        }
    }
}

impl KeyIds {
    /// The ids of the loaded batch's first `rows` rows, as [`KeyIds::lookup`] gives them, into
    /// `out` (cleared first), `absent` where a key is unknown or null. One tight pass over the
    /// batch lets the hash probes' cache misses overlap.
    pub(crate) fn lookup_all(&self, rows: usize, absent: u32, out: &mut Vec<u32>) {
        out.clear();
        out.reserve(rows);
        match &self.encoding {
            Encoding::Int64 { values, ids } => out.extend(
                values.values()[..rows]
                    .iter()
                    .map(|key| ids.get(key).copied().unwrap_or(absent)),
            ),
            _ => out.extend((0..rows).map(|i| self.lookup(i).unwrap_or(absent))),
        }
        if let Some(nulls) = &self.nulls {
            for i in nulls
                .iter()
                .take(rows)
                .enumerate()
                .filter(|(_, v)| !v)
                .map(|(i, _)| i)
            {
                out[i] = absent;
            }
        }
    }

    /// Takes in the keys of `other` (a map of the same key types, fed other batches): keys new
    /// here get the next ids. Returns, per id of `other`, the key's id here.
    pub(crate) fn absorb(&mut self, other: KeyIds) -> Vec<u32> {
        let next = |len: usize| u32::try_from(len).expect("fewer than 2^32 distinct keys");
        match (&mut self.encoding, other.encoding) {
            (Encoding::Unit { seen }, Encoding::Unit { seen: theirs }) => {
                *seen |= theirs;
                if theirs { vec![0] } else { Vec::new() }
            }
            (Encoding::Int64 { ids, .. }, Encoding::Int64 { ids: theirs, .. }) => {
                let mut map = vec![0; theirs.len()];
                for (key, their_id) in theirs {
                    let id = next(ids.len());
                    map[their_id as usize] = *ids.entry(key).or_insert(id);
                }
                map
            }
            (Encoding::Rows { ids, .. }, Encoding::Rows { ids: theirs, .. }) => {
                let mut map = vec![0; theirs.len()];
                for (key, their_id) in theirs {
                    let id = next(ids.len());
                    map[their_id as usize] = *ids.entry(key).or_insert(id);
                }
                map
            }
            _ => unreachable!("key maps of one source share their key types"),
        }
    }
}

/// The id of the 64-bit integer key `key`, assigning the next id to a new key (one probe).
fn int64_id(ids: &mut foldhash::HashMap<i64, u32>, key: i64) -> KeyId {
    let next = u32::try_from(ids.len()).expect("fewer than 2^32 distinct keys");
    let id = *ids.entry(key).or_insert(next);
    if id == next {
        KeyId::New(id)
    } else {
        KeyId::Known(id)
    }
}

/// An encoder of keys of `types` in Arrow's row format, with an empty buffer.
fn row_encoder(types: &[DataType]) -> Result<(RowConverter, Rows)> {
    let fields = types.iter().map(|t| SortField::new(t.clone())).collect();
    let converter = RowConverter::new(fields).map_err(engine("encoding join keys"))?;
    let rows = converter.empty_rows(0, 0);
    Ok((converter, rows))
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
        assert_eq!(ids.len(), 2);
    }

    #[test]
    fn a_single_integer_key_is_told_apart_by_value() {
        let mut ids = KeyIds::new(&[DataType::Int64]).unwrap();
        let a: ArrayRef = Arc::new(Int64Array::from(vec![Some(5), None, Some(-5), Some(5)]));
        ids.load(&[a]).unwrap();
        let got: Vec<_> = (0..4).map(|i| ids.id(i)).collect();
        assert_eq!(
            got,
            vec![KeyId::New(0), KeyId::Null, KeyId::New(1), KeyId::Known(0)]
        );
        let a: ArrayRef = Arc::new(Int64Array::from(vec![-5, 6]));
        ids.load(&[a]).unwrap();
        assert_eq!((ids.lookup(0), ids.lookup(1)), (Some(1), None));
        assert_eq!(ids.len(), 2);
    }

    #[test]
    fn batch_lookups_match_row_lookups_without_assigning_ids() {
        for types in [
            vec![DataType::Int64],
            vec![DataType::Int64, DataType::Int64],
        ] {
            let known: ArrayRef = Arc::new(Int64Array::from(vec![7, 8]));
            let mut ids = KeyIds::new(&types).unwrap();
            ids.load(&vec![known; types.len()]).unwrap();
            ids.ids(2, None, &mut Vec::new());
            let a: ArrayRef = Arc::new(Int64Array::from(vec![Some(8), None, Some(9), Some(7)]));
            ids.load(&vec![a; types.len()]).unwrap();
            let mut got = Vec::new();
            ids.lookup_all(4, u32::MAX, &mut got);
            let expected: Vec<u32> = (0..4).map(|i| ids.lookup(i).unwrap_or(u32::MAX)).collect();
            assert_eq!(got, expected);
            assert_eq!(
                got,
                [1, u32::MAX, u32::MAX, 0],
                "null and unknown keys are absent"
            );
            assert_eq!(ids.len(), 2);
        }
    }

    #[test]
    fn batch_ids_match_row_ids_and_skipped_rows_get_none() {
        for types in [
            vec![DataType::Int64],
            vec![DataType::Int64, DataType::Int64],
        ] {
            let a: ArrayRef = Arc::new(Int64Array::from(vec![
                Some(1),
                Some(2),
                None,
                Some(1),
                Some(3),
                Some(4),
            ]));
            let keys = vec![a; types.len()];
            let mut one_by_one = KeyIds::new(&types).unwrap();
            one_by_one.load(&keys).unwrap();
            let expected: Vec<_> = (0..6).map(|i| one_by_one.id(i)).collect();
            let mut batched = KeyIds::new(&types).unwrap();
            batched.load(&keys).unwrap();
            let mut got = Vec::new();
            batched.ids(6, None, &mut got);
            assert_eq!(got, expected);
            // A skipped row (row 4, key 3) neither gets an id nor takes one from later keys.
            let mut skipping = KeyIds::new(&types).unwrap();
            skipping.load(&keys).unwrap();
            let skip = NullBuffer::from(vec![true, true, true, true, false, true]);
            skipping.ids(6, Some(&skip), &mut got);
            assert_eq!(
                got,
                vec![
                    KeyId::New(0),
                    KeyId::New(1),
                    KeyId::Null,
                    KeyId::Known(0),
                    KeyId::Null,
                    KeyId::New(2)
                ]
            );
        }
    }

    #[test]
    fn absorbing_another_map_keeps_ids_and_maps_the_others() {
        for types in [
            vec![],
            vec![DataType::Int64],
            vec![DataType::Int64, DataType::Int64],
        ] {
            let column = |v: Vec<i64>| -> Vec<ArrayRef> {
                vec![Arc::new(Int64Array::from(v)) as ArrayRef; types.len()]
            };
            let mut mine = KeyIds::new(&types).unwrap();
            mine.load(&column(vec![10, 20])).unwrap();
            let mine_ids: Vec<_> = (0..2).map(|i| mine.id(i)).collect();
            let mut theirs = KeyIds::new(&types).unwrap();
            theirs.load(&column(vec![30, 20, 40])).unwrap();
            let their_ids: Vec<_> = (0..3).map(|i| theirs.id(i)).collect();
            let map = mine.absorb(theirs);
            mine.load(&column(vec![10, 20, 30, 40])).unwrap();
            let now: Vec<_> = (0..4).map(|i| mine.lookup(i).unwrap()).collect();
            let id = |k: KeyId| match k {
                KeyId::Known(id) | KeyId::New(id) => id as usize,
                KeyId::Null => unreachable!(),
            };
            // Keys already known keep their ids; theirs map to the ids the keys have now.
            assert_eq!(now[0] as usize, id(mine_ids[0]));
            assert_eq!(now[1] as usize, id(mine_ids[1]));
            for (their, key) in [(0, 2), (1, 1), (2, 3)] {
                if !types.is_empty() {
                    assert_eq!(map[id(their_ids[their])], now[key]);
                }
            }
            assert_eq!(mine.len(), if types.is_empty() { 1 } else { 4 });
        }
    }

    #[test]
    fn a_fork_knows_the_same_keys() {
        for types in [
            vec![DataType::Int64],
            vec![DataType::Int64, DataType::Int64],
        ] {
            let mut ids = KeyIds::new(&types).unwrap();
            let a: ArrayRef = Arc::new(Int64Array::from(vec![3, 4]));
            let keys = vec![a.clone(); types.len()];
            ids.load(&keys).unwrap();
            assert_eq!((ids.id(0), ids.id(1)), (KeyId::New(0), KeyId::New(1)));
            let mut fork = ids.fork().unwrap();
            let b: ArrayRef = Arc::new(Int64Array::from(vec![4, 5]));
            fork.load(&vec![b; types.len()]).unwrap();
            assert_eq!((fork.lookup(0), fork.lookup(1)), (Some(1), None));
        }
    }

    #[test]
    fn no_key_columns_is_one_key() {
        let mut ids = KeyIds::new(&[]).unwrap();
        ids.load(&[]).unwrap();
        assert_eq!(ids.lookup(0), None);
        assert_eq!(ids.id(0), KeyId::New(0));
        assert_eq!(ids.id(5), KeyId::Known(0));
        assert_eq!(ids.lookup(3), Some(0));
        assert_eq!(ids.len(), 1);
    }
}
