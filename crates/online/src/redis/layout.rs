//! Feast's Redis layout: key = serialized entity key ++ project; one hash per key shared by every
//! view with the same join keys; a field per feature named by the murmur3 of `"<view>:<feature>"`,
//! and `_ts:<view>` holding the event time as a `google.protobuf.Timestamp`.

use std::cell::RefCell;
use std::sync::{Arc, OnceLock};

use prost::Message;

use crate::memo::{self, Slot};

/// The hash field of `feature` in `view`: murmur3_32 (seed 0) of `"<view>:<feature>"`, 4 bytes
/// little-endian (Feast's `_mmh3`).
pub(super) fn feature_field(view: &str, feature: &str) -> [u8; 4] {
    let mut name = Vec::with_capacity(view.len() + 1 + feature.len());
    name.extend_from_slice(view.as_bytes());
    name.push(b':');
    name.extend_from_slice(feature.as_bytes());
    mur3::murmurhash3_x86_32(&name, 0).to_le_bytes()
}

/// The hash field holding the event time of `view`'s row.
pub(super) fn ts_field(view: &str) -> Vec<u8> {
    format!("_ts:{view}").into_bytes()
}

/// The hash fields of one view: a feature field per feature, and the timestamp field.
#[derive(Debug)]
pub(super) struct ViewFields {
    /// One field per feature, in the order given.
    pub(super) features: Vec<[u8; 4]>,
    /// `_ts:<view>`.
    pub(super) ts: Vec<u8>,
    /// The feature fields and `ts` as RESP command arguments: the end of every `HMGET` of a read.
    hmget_args: OnceLock<Vec<u8>>,
}

impl ViewFields {
    /// The fields of `features` of `view`.
    pub(super) fn new<'a>(view: &str, features: impl IntoIterator<Item = &'a str>) -> Self {
        ViewFields {
            features: features
                .into_iter()
                .map(|f| feature_field(view, f))
                .collect(),
            ts: ts_field(view),
            hmget_args: OnceLock::new(),
        }
    }

    /// How many fields an `HMGET` of every field reads.
    pub(super) fn hmget_len(&self) -> usize {
        self.features.len() + 1
    }

    /// The feature fields and the timestamp field encoded as RESP command arguments, once per
    /// `ViewFields` (reads keep theirs per thread: [`read_fields`]).
    pub(super) fn hmget_args(&self) -> &[u8] {
        self.hmget_args.get_or_init(|| {
            let mut args = Vec::with_capacity(self.features.len() * 10 + self.ts.len() + 8);
            for field in &self.features {
                super::reads::bulk_string(&mut args, field);
            }
            super::reads::bulk_string(&mut args, &self.ts);
            args
        })
    }
}

/// The fields of `features` of `view` for a read, remembered per thread for the last view and
/// features read there: comparing ten names costs less than hashing them (2 % of a 1-entity read).
pub(super) fn read_fields(view: &str, features: &[String]) -> Arc<ViewFields> {
    thread_local! {
        /// The view and features of the last [`read_fields`] on this thread, and their fields.
        static LAST: Slot<(String, Vec<String>), Arc<ViewFields>> = const { RefCell::new(None) };
    }
    memo::last_or_build(
        &LAST,
        |(v, f)| v == view && f == features,
        || {
            let fields = ViewFields::new(view, features.iter().map(String::as_str));
            ((view.to_owned(), features.to_vec()), Arc::new(fields))
        },
    )
}

/// Sets `out` to the Redis key of `entity_key` in `project`.
pub(super) fn redis_key(entity_key: &[u8], project: &str, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(entity_key);
    out.extend_from_slice(project.as_bytes());
}

/// Appends the serialized `Timestamp` of `micros` to `out`.
pub(super) fn encode_timestamp(micros: i64, out: &mut Vec<u8>) {
    let ts = prost_types::Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: (micros.rem_euclid(1_000_000) * 1_000) as i32,
    };
    ts.encode(out).expect("a Vec grows as needed");
}

/// The microseconds of a serialized `Timestamp` (Feast writes whole seconds; Larder microseconds).
pub(super) fn decode_timestamp(bytes: &[u8]) -> Result<i64, prost::DecodeError> {
    let ts = prost_types::Timestamp::decode(bytes)?;
    Ok(ts.seconds.saturating_mul(1_000_000) + i64::from(ts.nanos) / 1_000)
}

/// The `SCAN MATCH` pattern of a view's keys in `project`: the key-layout prefix, anything, the
/// project, with glob characters escaped (the prefix is binary).
pub(super) fn scan_pattern(prefix: &[u8], project: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(prefix.len() + project.len() + 8);
    escape_glob(prefix, &mut out);
    out.push(b'*');
    escape_glob(project.as_bytes(), &mut out);
    out
}

fn escape_glob(bytes: &[u8], out: &mut Vec<u8>) {
    for &b in bytes {
        if matches!(b, b'*' | b'?' | b'[' | b']' | b'\\') {
            out.push(b'\\');
        }
        out.push(b);
    }
}

/// Whether `key` is exactly `prefix`, `join_keys` serialized key values, and `project`: the pattern
/// of [`scan_pattern`] also matches keys of projects whose name ends with `project`.
pub(super) fn key_matches(key: &[u8], prefix: &[u8], join_keys: usize, project: &str) -> bool {
    let Some(mut rest) = key.strip_prefix(prefix) else {
        return false;
    };
    for _ in 0..join_keys {
        let Some(len) = rest
            .get(4..8)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
        else {
            return false;
        };
        let Some(after) = rest.get(8 + len as usize..) else {
            return false;
        };
        rest = after;
    }
    rest == project.as_bytes()
}

#[cfg(test)]
mod tests {
    use larder_core::entity_key::{EntityKeyLayout, KeyValue};

    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn feature_fields_match_feast() {
        assert_eq!(
            hex(&feature_field("driver_hourly_stats", "conv_rate")),
            "6160e3da"
        );
        assert_eq!(
            hex(&feature_field("driver_hourly_stats", "rating")),
            "2e429734"
        );
        assert_eq!(ts_field("driver_hourly_stats"), b"_ts:driver_hourly_stats");
    }

    #[test]
    fn remembered_read_fields_follow_the_view_and_features() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let a = read_fields("v", &names(&["x", "y"]));
        assert_eq!(a.features, ViewFields::new("v", ["x", "y"]).features);
        assert!(Arc::ptr_eq(&a, &read_fields("v", &names(&["x", "y"]))));
        let b = read_fields("v", &names(&["y", "x"]));
        assert_eq!(b.features, ViewFields::new("v", ["y", "x"]).features);
        let c = read_fields("w", &names(&["y", "x"]));
        assert_eq!((c.features.clone(), c.ts.clone()), {
            let w = ViewFields::new("w", ["y", "x"]);
            (w.features, w.ts)
        });
    }

    #[test]
    fn timestamps_round_trip_and_read_feast_seconds() {
        let mut buf = Vec::new();
        encode_timestamp(1_795_518_000_123_456, &mut buf);
        assert_eq!(decode_timestamp(&buf).unwrap(), 1_795_518_000_123_456);
        let feast = prost_types::Timestamp {
            seconds: 1_795_518_000,
            nanos: 0,
        }
        .encode_to_vec();
        assert_eq!(decode_timestamp(&feast).unwrap(), 1_795_518_000_000_000);
        buf.clear();
        encode_timestamp(-1, &mut buf);
        assert_eq!(decode_timestamp(&buf).unwrap(), -1);
    }

    #[test]
    fn keys_match_only_their_project() {
        let layout = EntityKeyLayout::new(&["driver_id".into()], 3).unwrap();
        let mut key = Vec::new();
        redis_key(
            &layout.serialize(&[KeyValue::Int64(1001)]),
            "demo",
            &mut key,
        );
        assert!(key_matches(&key, layout.prefix(), 1, "demo"));
        assert!(!key_matches(&key, layout.prefix(), 1, "emo"));
        redis_key(
            &layout.serialize(&[KeyValue::Int64(1001)]),
            "xdemo",
            &mut key,
        );
        assert!(!key_matches(&key, layout.prefix(), 1, "demo"));
        let v2 = EntityKeyLayout::new(&["driver_id".into()], 2).unwrap();
        redis_key(&v2.serialize(&[KeyValue::Str("a*b")]), "demo", &mut key);
        assert!(key_matches(&key, v2.prefix(), 1, "demo"));
    }

    #[test]
    fn scan_patterns_escape_glob_characters() {
        assert_eq!(scan_pattern(b"a*[?]\\", "p"), b"a\\*\\[\\?\\]\\\\*p");
    }
}
