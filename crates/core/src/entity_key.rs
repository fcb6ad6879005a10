//! Feast's entity-key serialization (`serialize_entity_key`, versions 2 and 3), byte for byte.
//!
//! Join keys are sorted by name. Version 3 writes `u32 num_keys`, then per key `u32 2 (STRING)`,
//! `u32 len`, the name; then per value `u32 value_type`, `u32 len`, the value bytes. Version 2 has no
//! `num_keys` and no name length. All integers are little-endian.

use crate::error::{Error, Result};
use crate::types::ValueType;

/// One entity-key value, borrowed from wherever it lives (an Arrow array, a JSON request, ...).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KeyValue<'a> {
    /// A `STRING` value.
    Str(&'a str),
    /// A `BYTES` value.
    Bytes(&'a [u8]),
    /// An `INT32` value.
    Int32(i32),
    /// An `INT64` value.
    Int64(i64),
    /// A `UNIX_TIMESTAMP` value, in seconds.
    UnixTimestamp(i64),
}

impl KeyValue<'_> {
    fn value_type(&self) -> ValueType {
        match self {
            KeyValue::Str(_) => ValueType::String,
            KeyValue::Bytes(_) => ValueType::Bytes,
            KeyValue::Int32(_) => ValueType::Int32,
            KeyValue::Int64(_) => ValueType::Int64,
            KeyValue::UnixTimestamp(_) => ValueType::UnixTimestamp,
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        let ty = self.value_type().as_i32() as u32;
        out.extend_from_slice(&ty.to_le_bytes());
        match self {
            KeyValue::Str(s) => put_bytes(out, s.as_bytes()),
            KeyValue::Bytes(b) => put_bytes(out, b),
            KeyValue::Int32(v) => put_bytes(out, &v.to_le_bytes()),
            KeyValue::Int64(v) | KeyValue::UnixTimestamp(v) => put_bytes(out, &v.to_le_bytes()),
        }
    }
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

/// The constant part of a view's serialized keys (the sorted join-key names), computed once per view
/// so that serializing a row only appends its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityKeyLayout {
    version: u32,
    /// Join keys in the caller's order.
    names: Vec<String>,
    /// `order[i]` = index (in the caller's order) of the i-th key in sorted order.
    order: Vec<usize>,
    header: Vec<u8>,
}

impl EntityKeyLayout {
    /// A layout for these join keys (in any order) and serialization version (2 or 3).
    pub fn new(join_keys: &[String], version: u32) -> Result<Self> {
        if !(2..=3).contains(&version) {
            return Err(Error::Value(format!(
                "entity_key_serialization_version {version} is not supported: use 3 (Feast's default) or 2"
            )));
        }
        let mut order: Vec<usize> = (0..join_keys.len()).collect();
        order.sort_by(|&a, &b| join_keys[a].cmp(&join_keys[b]));
        let mut header = Vec::new();
        if version >= 3 {
            header.extend_from_slice(&(join_keys.len() as u32).to_le_bytes());
        }
        for &i in &order {
            header.extend_from_slice(&(ValueType::String.as_i32() as u32).to_le_bytes());
            if version >= 3 {
                put_bytes(&mut header, join_keys[i].as_bytes());
            } else {
                header.extend_from_slice(join_keys[i].as_bytes());
            }
        }
        Ok(EntityKeyLayout {
            version,
            names: join_keys.to_vec(),
            order,
            header,
        })
    }

    /// The serialization version.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The join keys, in the order given to [`EntityKeyLayout::new`].
    pub fn join_keys(&self) -> &[String] {
        &self.names
    }

    /// The bytes every key of this layout starts with (Feast's `serialize_entity_key_prefix` for v3).
    pub fn prefix(&self) -> &[u8] {
        &self.header
    }

    /// Appends the serialized key for `values` (given in the join-key order of [`EntityKeyLayout::new`]).
    pub fn serialize_into(&self, values: &[KeyValue<'_>], out: &mut Vec<u8>) {
        debug_assert_eq!(values.len(), self.order.len());
        out.extend_from_slice(&self.header);
        for &i in &self.order {
            values[i].write(out);
        }
    }

    /// The serialized key for `values`, in a new buffer.
    pub fn serialize(&self, values: &[KeyValue<'_>]) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.header.len() + 16 * values.len());
        self.serialize_into(values, &mut out);
        out
    }
}

/// An owned entity-key value, as decoded from serialized bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnedKeyValue {
    /// A `STRING` value.
    Str(String),
    /// A `BYTES` value.
    Bytes(Vec<u8>),
    /// An `INT32` value.
    Int32(i32),
    /// An `INT64` value.
    Int64(i64),
    /// A `UNIX_TIMESTAMP` value, in seconds.
    UnixTimestamp(i64),
}

/// Decodes a version-3 key into `(join key, value)` pairs, sorted by join key.
pub fn deserialize_v3(bytes: &[u8]) -> Result<Vec<(String, OwnedKeyValue)>> {
    let bad = |what: &str| Error::Value(format!("not a version-3 entity key: {what}"));
    let mut pos = 0usize;
    let u32_at = |pos: &mut usize| -> Result<u32> {
        let b = bytes.get(*pos..*pos + 4).ok_or_else(|| bad("truncated"))?;
        *pos += 4;
        Ok(u32::from_le_bytes(b.try_into().expect("4 bytes")))
    };
    let n = u32_at(&mut pos)? as usize;
    if n > 1024 {
        return Err(bad("too many keys"));
    }
    let mut names = Vec::with_capacity(n);
    for _ in 0..n {
        let _ty = u32_at(&mut pos)?;
        let len = u32_at(&mut pos)? as usize;
        let b = bytes
            .get(pos..pos + len)
            .ok_or_else(|| bad("truncated name"))?;
        pos += len;
        names.push(String::from_utf8(b.to_vec()).map_err(|_| bad("name is not UTF-8"))?);
    }
    let mut out = Vec::with_capacity(n);
    for name in names {
        let ty = ValueType::from_i32(u32_at(&mut pos)? as i32);
        let len = u32_at(&mut pos)? as usize;
        let b = bytes
            .get(pos..pos + len)
            .ok_or_else(|| bad("truncated value"))?;
        pos += len;
        let v = match (ty, len) {
            (ValueType::String, _) => OwnedKeyValue::Str(
                String::from_utf8(b.to_vec()).map_err(|_| bad("string value is not UTF-8"))?,
            ),
            (ValueType::Bytes, _) => OwnedKeyValue::Bytes(b.to_vec()),
            (ValueType::Int32, 4) => {
                OwnedKeyValue::Int32(i32::from_le_bytes(b.try_into().expect("4")))
            }
            (ValueType::Int64, 8) => {
                OwnedKeyValue::Int64(i64::from_le_bytes(b.try_into().expect("8")))
            }
            (ValueType::UnixTimestamp, 8) => {
                OwnedKeyValue::UnixTimestamp(i64::from_le_bytes(b.try_into().expect("8")))
            }
            _ => return Err(bad("unsupported value type")),
        };
        out.push((name, v));
    }
    if pos != bytes.len() {
        return Err(bad("trailing bytes"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn v3_matches_feast_for_one_int64_key() {
        let layout = EntityKeyLayout::new(&["driver_id".into()], 3).unwrap();
        let key = layout.serialize(&[KeyValue::Int64(1001)]);
        assert_eq!(
            hex(&key),
            "0100000002000000090000006472697665725f69640400000008000000e903000000000000"
        );
        // The exact bytes from Feast's SQLite fixture for driver 1030 (0x0406).
        let k1030 = layout.serialize(&[KeyValue::Int64(1030)]);
        assert_eq!(
            hex(&k1030),
            "0100000002000000090000006472697665725f696404000000080000000604000000000000"
        );
    }

    #[test]
    fn v3_sorts_keys_with_their_values() {
        let layout = EntityKeyLayout::new(&["user".into(), "a".into()], 3).unwrap();
        let key = layout.serialize(&[KeyValue::Str("u1"), KeyValue::Int32(7)]);
        let expected = [
            "02000000", "02000000", "01000000", "61", "02000000", "04000000", "75736572",
            "03000000", "04000000", "07000000", "02000000", "02000000", "7531",
        ]
        .concat();
        assert_eq!(hex(&key), expected);
        let decoded = deserialize_v3(&key).unwrap();
        assert_eq!(decoded[0], ("a".into(), OwnedKeyValue::Int32(7)));
        assert_eq!(decoded[1], ("user".into(), OwnedKeyValue::Str("u1".into())));
    }

    #[test]
    fn v2_has_no_count_and_no_name_length() {
        let layout = EntityKeyLayout::new(&["driver_id".into()], 2).unwrap();
        let key = layout.serialize(&[KeyValue::Int64(1001)]);
        assert_eq!(
            hex(&key),
            "020000006472697665725f69640400000008000000e903000000000000"
        );
    }

    #[test]
    fn rejects_unknown_versions() {
        assert!(EntityKeyLayout::new(&["a".into()], 1).is_err());
        assert!(EntityKeyLayout::new(&["a".into()], 4).is_err());
    }
}
