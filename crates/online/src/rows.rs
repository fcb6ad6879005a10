//! [`OnlineRows`]: what an online read found for its entity keys, in one buffer.
//!
//! A read of 100 entity keys and 10 features finds up to 1,000 values. Keeping each in its own
//! `Vec` cost an allocation and a free per value on the serving hot path; here every value is a
//! span of one shared byte buffer, so a read allocates a fixed handful of times whatever its size.

/// The stored values of one entity key in one view, owned: for tests and messages. Reads return
/// [`OnlineRows`]; [`OnlineRows::row`] gives one of its keys as an `OnlineRow`.
#[derive(Debug, Clone, PartialEq)]
pub struct OnlineRow {
    /// The event timestamp of the stored row, microseconds since the epoch (SQLite keeps whole seconds).
    pub event_ts_micros: i64,
    /// Per requested feature, in request order: the serialized `Value` (empty = stored null),
    /// or `None` when the store has no value for that feature.
    pub values: Vec<Option<Vec<u8>>>,
}

/// Where a value sits in [`OnlineRows::data`]; `start == MISSING` when nothing is stored.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: u32,
    end: u32,
}

const MISSING: u32 = u32::MAX;
const NOT_STORED: Span = Span {
    start: MISSING,
    end: 0,
};

/// What a read of `len()` entity keys found, in key order: per key, nothing, or the stored row's
/// event time and, per requested feature (`width()` of them), its serialized `Value` (empty for a
/// stored null) or nothing.
///
/// Stores fill it key by key ([`OnlineRows::push_found`], [`OnlineRows::push_absent`]) or, when
/// the backend returns values out of order, by index after [`OnlineRows::absent`].
#[derive(Debug, Clone, Default)]
pub struct OnlineRows {
    width: usize,
    /// Per key: the event time of its stored row, `None` when nothing is stored.
    event_ts: Vec<Option<i64>>,
    /// Per key, then feature: the span of its value in `data`.
    cells: Vec<Span>,
    data: Vec<u8>,
}

impl OnlineRows {
    /// No keys yet, for reads of `width` features; room for `keys` keys and `data_bytes` of values.
    pub fn with_capacity(width: usize, keys: usize, data_bytes: usize) -> Self {
        OnlineRows {
            width,
            event_ts: Vec::with_capacity(keys),
            cells: Vec::with_capacity(keys * width),
            data: Vec::with_capacity(data_bytes),
        }
    }

    /// `keys` keys with nothing stored, for reads of `width` features.
    pub fn absent(width: usize, keys: usize) -> Self {
        OnlineRows {
            width,
            event_ts: vec![None; keys],
            cells: vec![NOT_STORED; keys * width],
            data: Vec::new(),
        }
    }

    /// Rows from owned rows (each with `width` values), e.g. those a test expects.
    pub fn from_rows(width: usize, rows: impl IntoIterator<Item = Option<OnlineRow>>) -> Self {
        let mut out = OnlineRows::with_capacity(width, 0, 0);
        for row in rows {
            match row {
                None => out.push_absent(),
                Some(row) => {
                    assert_eq!(row.values.len(), width, "a row has one value per feature");
                    out.push_found(row.event_ts_micros, row.values.iter().map(|v| v.as_deref()));
                }
            }
        }
        out
    }

    /// How many keys.
    pub fn len(&self) -> usize {
        self.event_ts.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.event_ts.is_empty()
    }

    /// How many features each key has.
    pub fn width(&self) -> usize {
        self.width
    }

    /// The event time of key `key`'s stored row, `None` when nothing is stored for it.
    pub fn event_ts(&self, key: usize) -> Option<i64> {
        self.event_ts[key]
    }

    /// Feature `feature` of key `key`: the serialized `Value` (empty for a stored null), `None`
    /// when nothing is stored.
    pub fn value(&self, key: usize, feature: usize) -> Option<&[u8]> {
        let span = self.cells[key * self.width + feature];
        (span.start != MISSING).then(|| &self.data[span.start as usize..span.end as usize])
    }

    /// Key `key` as an owned row.
    pub fn row(&self, key: usize) -> Option<OnlineRow> {
        Some(OnlineRow {
            event_ts_micros: self.event_ts[key]?,
            values: (0..self.width)
                .map(|f| self.value(key, f).map(<[u8]>::to_vec))
                .collect(),
        })
    }

    /// Every key as an owned row.
    pub fn to_rows(&self) -> Vec<Option<OnlineRow>> {
        (0..self.len()).map(|key| self.row(key)).collect()
    }

    /// Adds a key with nothing stored.
    pub fn push_absent(&mut self) {
        self.event_ts.push(None);
        self.cells
            .extend(std::iter::repeat_n(NOT_STORED, self.width));
    }

    /// Adds a key whose row has `event_ts` and `values` (`width` of them; `None` = not stored).
    pub fn push_found<'v>(
        &mut self,
        event_ts: i64,
        values: impl IntoIterator<Item = Option<&'v [u8]>>,
    ) {
        let start = self.cells.len();
        self.event_ts.push(Some(event_ts));
        for value in values {
            let span = match value {
                Some(bytes) => self.append(bytes),
                None => NOT_STORED,
            };
            self.cells.push(span);
        }
        assert_eq!(
            self.cells.len() - start,
            self.width,
            "a row has one value per feature"
        );
    }

    /// Records a stored row for key `key` with `event_ts`, keeping the later time when the key
    /// already has one (SQLite stores one row per feature, each with its time).
    pub fn found_at(&mut self, key: usize, event_ts: i64) {
        let ts = &mut self.event_ts[key];
        *ts = Some(ts.map_or(event_ts, |t| t.max(event_ts)));
    }

    /// Sets feature `feature` of key `key` (which [`OnlineRows::found_at`] marked found) to `bytes`.
    pub fn set_value(&mut self, key: usize, feature: usize, bytes: &[u8]) {
        debug_assert!(
            self.event_ts[key].is_some(),
            "a value of a key marked found"
        );
        self.cells[key * self.width + feature] = self.append(bytes);
    }

    /// Makes key `to` hold what key `from` holds (a key asked for twice).
    pub fn copy_key(&mut self, from: usize, to: usize) {
        self.event_ts[to] = self.event_ts[from];
        let w = self.width;
        self.cells.copy_within(from * w..(from + 1) * w, to * w);
    }

    fn append(&mut self, bytes: &[u8]) -> Span {
        let start = self.data.len();
        self.data.extend_from_slice(bytes);
        let span = |at: usize| u32::try_from(at).expect("an online read holds under 4 GiB");
        Span {
            start: span(start),
            end: span(self.data.len()),
        }
    }
}

/// Equal when they hold the same keys with the same times and values (wherever in their buffers).
impl PartialEq for OnlineRows {
    fn eq(&self, other: &Self) -> bool {
        self.width == other.width
            && self.event_ts == other.event_ts
            && (0..self.len())
                .all(|key| (0..self.width).all(|f| self.value(key, f) == other.value(key, f)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(ts: i64, values: &[Option<&[u8]>]) -> Option<OnlineRow> {
        Some(OnlineRow {
            event_ts_micros: ts,
            values: values.iter().map(|v| v.map(<[u8]>::to_vec)).collect(),
        })
    }

    #[test]
    fn keys_keep_their_order_values_and_nulls() {
        let mut rows = OnlineRows::with_capacity(2, 3, 16);
        rows.push_found(7, [Some(&b"ab"[..]), None]);
        rows.push_absent();
        rows.push_found(9, [Some(&b""[..]), Some(&b"c"[..])]);
        assert_eq!((rows.len(), rows.width()), (3, 2));
        assert_eq!(rows.value(0, 0), Some(&b"ab"[..]));
        assert_eq!(rows.value(0, 1), None);
        assert_eq!((rows.event_ts(1), rows.value(1, 0)), (None, None));
        assert_eq!(
            rows.value(2, 0),
            Some(&b""[..]),
            "a stored null is empty, not missing"
        );
        assert_eq!(
            rows.to_rows(),
            vec![
                row(7, &[Some(b"ab"), None]),
                None,
                row(9, &[Some(b""), Some(b"c")])
            ]
        );
        assert_eq!(OnlineRows::from_rows(2, rows.to_rows()), rows);
    }

    #[test]
    fn out_of_order_fills_keep_the_newest_time_and_copy_repeated_keys() {
        let mut rows = OnlineRows::absent(2, 3);
        rows.found_at(1, 5);
        rows.set_value(1, 1, b"y");
        rows.found_at(1, 3);
        rows.set_value(1, 0, b"x");
        rows.copy_key(1, 2);
        assert_eq!(
            rows.to_rows(),
            vec![
                None,
                row(5, &[Some(b"x"), Some(b"y")]),
                row(5, &[Some(b"x"), Some(b"y")])
            ]
        );
        let mut other = OnlineRows::absent(2, 3);
        other.found_at(1, 5);
        other.set_value(1, 0, b"x");
        assert_ne!(other, rows, "a missing value differs from a stored one");
    }
}
