//! Owned, contiguous copies of what a SQLite call needs, so that it can run on a blocking thread:
//! a write batch encoded to `Value` bytes and `value_text`, and a list of entity keys.
//!
//! Each is a few large buffers with offsets, so building one allocates per batch, not per row.

use std::ops::Range;

use arrow::array::{Array, BinaryArray};

use crate::batch::WriteBatch;
use crate::error::Result;

/// A [`WriteBatch`] encoded for SQLite: per (row, feature) the `Value` bytes and the optional
/// `value_text`, plus the timestamps in whole seconds as Feast stores them.
pub(super) struct EncodedRows {
    keys: BinaryArray,
    features: Vec<String>,
    event_secs: Vec<i64>,
    created_secs: Vec<Option<i64>>,
    values: Vec<u8>,
    /// Per (row, feature), row-major: the span of its bytes in `values`.
    value_spans: Vec<Range<usize>>,
    texts: String,
    /// Per (row, feature): the span of its text in `texts`, or `None` for SQL NULL.
    text_spans: Vec<Option<Range<usize>>>,
}

impl EncodedRows {
    /// Encodes every row of `batch`.
    pub(super) fn new(batch: &WriteBatch) -> Result<Self> {
        let (rows, width) = (batch.len(), batch.features.len());
        let mut out = EncodedRows {
            keys: batch.entity_keys.clone(),
            features: batch
                .features
                .iter()
                .map(|(name, _)| name.clone())
                .collect(),
            event_secs: batch
                .event_timestamps
                .values()
                .iter()
                .map(|&us| seconds(us))
                .collect(),
            created_secs: created_seconds(batch),
            values: Vec::with_capacity(rows * width * 8),
            value_spans: Vec::with_capacity(rows * width),
            texts: String::new(),
            text_spans: Vec::with_capacity(rows * width),
        };
        for row in 0..rows {
            for (_, encoder) in &batch.features {
                let start = out.values.len();
                encoder.encode(row, &mut out.values)?;
                out.value_spans.push(start..out.values.len());
                let start = out.texts.len();
                let has_text = encoder.text(row, &mut out.texts);
                out.text_spans
                    .push(has_text.then_some(start..out.texts.len()));
            }
        }
        Ok(out)
    }

    /// The number of rows.
    pub(super) fn len(&self) -> usize {
        self.keys.len()
    }

    /// The feature names, in column order.
    pub(super) fn features(&self) -> &[String] {
        &self.features
    }

    /// The serialized entity key of `row`.
    pub(super) fn key(&self, row: usize) -> &[u8] {
        self.keys.value(row)
    }

    /// The event time of `row`, in seconds.
    pub(super) fn event_secs(&self, row: usize) -> i64 {
        self.event_secs[row]
    }

    /// The created time of `row`, in seconds, if any.
    pub(super) fn created_secs(&self, row: usize) -> Option<i64> {
        self.created_secs.get(row).copied().flatten()
    }

    /// The `Value` bytes of feature `feature` in `row` (empty for null).
    pub(super) fn value(&self, row: usize, feature: usize) -> &[u8] {
        &self.values[self.value_spans[row * self.features.len() + feature].clone()]
    }

    /// The `value_text` of feature `feature` in `row`, or `None` for SQL NULL.
    pub(super) fn text(&self, row: usize, feature: usize) -> Option<&str> {
        let span = self.text_spans[row * self.features.len() + feature].clone()?;
        Some(&self.texts[span])
    }
}

/// Whole seconds of a microsecond timestamp, as Feast stores `event_ts` and `created_ts`.
pub(super) fn seconds(micros: i64) -> i64 {
    micros.div_euclid(1_000_000)
}

fn created_seconds(batch: &WriteBatch) -> Vec<Option<i64>> {
    match &batch.created_timestamps {
        Some(created) => (0..created.len())
            .map(|i| created.is_valid(i).then(|| seconds(created.value(i))))
            .collect(),
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_floor() {
        assert_eq!(seconds(1_795_518_000_999_999), 1_795_518_000);
        assert_eq!(seconds(-1), -1);
    }
}
