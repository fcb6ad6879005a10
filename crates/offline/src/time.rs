//! Timestamps inside the offline store: every timestamp column becomes microseconds since the
//! epoch, UTC (naive timestamps are UTC), and time bounds are turned into literals of a column's
//! own type so that Parquet statistics can prune row groups.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, TimestampMicrosecondArray};
use arrow::datatypes::{
    DataType, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType,
};
use chrono::{DateTime, Utc};

/// The Arrow type of every timestamp Larder produces.
pub(crate) fn utc_micros_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// Whether `data_type` is a timestamp (any unit, any zone).
pub(crate) fn is_timestamp(data_type: &DataType) -> bool {
    matches!(data_type, DataType::Timestamp(..))
}

/// A timestamp column as microseconds, UTC. `None` when `array` is not a timestamp.
/// Nanoseconds are floored to the microsecond.
pub(crate) fn to_utc_micros(array: &ArrayRef) -> Option<TimestampMicrosecondArray> {
    let DataType::Timestamp(unit, _) = array.data_type() else {
        return None;
    };
    let micros: TimestampMicrosecondArray = match unit {
        TimeUnit::Second => array
            .as_primitive::<TimestampSecondType>()
            .unary(|v| v.saturating_mul(1_000_000)),
        TimeUnit::Millisecond => array
            .as_primitive::<TimestampMillisecondType>()
            .unary(|v| v.saturating_mul(1_000)),
        TimeUnit::Microsecond => array.as_primitive::<TimestampMicrosecondType>().clone(),
        TimeUnit::Nanosecond => array
            .as_primitive::<TimestampNanosecondType>()
            .unary(|v| v.div_euclid(1_000)),
    };
    Some(micros.with_timezone("UTC"))
}

/// [`to_utc_micros`] as an [`ArrayRef`].
pub(crate) fn to_utc_micros_ref(array: &ArrayRef) -> Option<ArrayRef> {
    to_utc_micros(array).map(|a| Arc::new(a) as ArrayRef)
}

/// A naive timestamp column tagged as UTC (values unchanged); other columns as they are.
pub(crate) fn tag_naive_as_utc(array: &ArrayRef) -> ArrayRef {
    match array.data_type() {
        DataType::Timestamp(unit, None) => {
            let data = array
                .to_data()
                .into_builder()
                .data_type(DataType::Timestamp(*unit, Some("UTC".into())));
            arrow::array::make_array(data.build().expect("same layout, only the zone differs"))
        }
        _ => array.clone(),
    }
}

/// Microseconds since the epoch of a chrono UTC time.
pub(crate) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// A bound in microseconds converted to `unit`, rounded so that comparing in `unit` keeps the
/// same rows: lower bounds round up, upper bounds round down.
pub(crate) fn bound_in_unit(micros: i64, unit: TimeUnit, lower: bool) -> i64 {
    let per = |n: i64| {
        if lower {
            div_ceil(micros, n)
        } else {
            micros.div_euclid(n)
        }
    };
    match unit {
        TimeUnit::Second => per(1_000_000),
        TimeUnit::Millisecond => per(1_000),
        TimeUnit::Microsecond => micros,
        TimeUnit::Nanosecond => micros.saturating_mul(1_000),
    }
}

fn div_ceil(a: i64, b: i64) -> i64 {
    let q = a.div_euclid(b);
    if a.rem_euclid(b) == 0 { q } else { q + 1 }
}

/// The values of a timestamp-µs array, with `null_as` where null.
pub(crate) fn values_or(array: &TimestampMicrosecondArray, null_as: i64) -> Vec<i64> {
    if array.null_count() == 0 {
        return array.values().to_vec();
    }
    array.iter().map(|v| v.unwrap_or(null_as)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{TimestampNanosecondArray, TimestampSecondArray};

    #[test]
    fn converts_units_and_tags_utc() {
        let s: ArrayRef = Arc::new(TimestampSecondArray::from(vec![Some(1), None]));
        let us = to_utc_micros(&s).unwrap();
        assert_eq!(us.data_type(), &utc_micros_type());
        assert_eq!(us.value(0), 1_000_000);
        assert!(us.is_null(1));
        let ns: ArrayRef =
            Arc::new(TimestampNanosecondArray::from(vec![-1, 1_999]).with_timezone("+02:00"));
        let us = to_utc_micros(&ns).unwrap();
        assert_eq!(us.values().as_ref(), &[-1, 1]);
        assert!(
            to_utc_micros(&(Arc::new(arrow::array::Int64Array::from(vec![1])) as ArrayRef))
                .is_none()
        );
    }

    #[test]
    fn bounds_round_inwards() {
        assert_eq!(bound_in_unit(1_500_000, TimeUnit::Second, true), 2);
        assert_eq!(bound_in_unit(1_500_000, TimeUnit::Second, false), 1);
        assert_eq!(bound_in_unit(-1_500_000, TimeUnit::Second, true), -1);
        assert_eq!(bound_in_unit(-1_500_000, TimeUnit::Second, false), -2);
        assert_eq!(bound_in_unit(2_000_000, TimeUnit::Second, true), 2);
        assert_eq!(bound_in_unit(7, TimeUnit::Nanosecond, true), 7_000);
    }

    #[test]
    fn naive_is_tagged_utc() {
        let ns: ArrayRef = Arc::new(TimestampNanosecondArray::from(vec![5]));
        let tagged = tag_naive_as_utc(&ns);
        assert_eq!(
            tagged.data_type(),
            &DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
        );
        assert_eq!(tagged.as_primitive::<TimestampNanosecondType>().value(0), 5);
    }
}
