//! [`WriteBatch`]: rows of one view prepared for an online write.

use arrow::array::{BinaryArray, TimestampMicrosecondArray};
use larder_core::value::ColumnEncoder;

/// Rows of one feature view ready to be written: the serialized entity key of each row, its event
/// and created timestamps, and an encoder per feature that produces the row's `Value` bytes.
#[derive(Debug)]
pub struct WriteBatch {
    /// Serialized entity keys (Feast's `serialize_entity_key`), one per row, no nulls.
    pub entity_keys: BinaryArray,
    /// Event timestamps, microseconds UTC, no nulls.
    pub event_timestamps: TimestampMicrosecondArray,
    /// Created timestamps, when the source has a created column.
    pub created_timestamps: Option<TimestampMicrosecondArray>,
    /// `(feature name, encoder)` for every feature of the view, in the view's order.
    pub features: Vec<(String, ColumnEncoder)>,
}

impl WriteBatch {
    /// The number of rows.
    pub fn len(&self) -> usize {
        self.entity_keys.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.entity_keys.is_empty()
    }
}
