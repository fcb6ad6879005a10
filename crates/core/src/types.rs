//! Feast's value types: the `ValueType` enum, dtype names such as `Array(Float32)`, and their Arrow types.

use std::fmt;

use arrow::datatypes::{DataType, Field as ArrowField, TimeUnit};

/// A Feast value type (`feast.types.ValueType.Enum`).
///
/// The classic types have their own variants; any other number read from a registry is kept as
/// [`ValueType::Other`] so that it survives a round trip, and is rejected where Larder must encode it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ValueType {
    /// Not declared (`INVALID` / Python's `UNKNOWN`, 0).
    Unknown,
    /// `BYTES`, 1.
    Bytes,
    /// `STRING`, 2.
    String,
    /// `INT32`, 3.
    Int32,
    /// `INT64`, 4.
    Int64,
    /// `DOUBLE` (Feast's `Float64`), 5.
    Double,
    /// `FLOAT` (Feast's `Float32`), 6.
    Float,
    /// `BOOL`, 7.
    Bool,
    /// `UNIX_TIMESTAMP`, 8.
    UnixTimestamp,
    /// `BYTES_LIST`, 11.
    BytesList,
    /// `STRING_LIST`, 12.
    StringList,
    /// `INT32_LIST`, 13.
    Int32List,
    /// `INT64_LIST`, 14.
    Int64List,
    /// `DOUBLE_LIST`, 15.
    DoubleList,
    /// `FLOAT_LIST`, 16.
    FloatList,
    /// `BOOL_LIST`, 17.
    BoolList,
    /// `UNIX_TIMESTAMP_LIST`, 18.
    UnixTimestampList,
    /// `NULL`, 19.
    Null,
    /// Any other enum number (sets, maps, JSON, structs, ...): kept, not encoded.
    Other(i32),
}

const SCALARS: [(ValueType, i32, &str, &str); 8] = [
    (ValueType::Bytes, 1, "BYTES", "Bytes"),
    (ValueType::String, 2, "STRING", "String"),
    (ValueType::Int32, 3, "INT32", "Int32"),
    (ValueType::Int64, 4, "INT64", "Int64"),
    (ValueType::Double, 5, "DOUBLE", "Float64"),
    (ValueType::Float, 6, "FLOAT", "Float32"),
    (ValueType::Bool, 7, "BOOL", "Bool"),
    (
        ValueType::UnixTimestamp,
        8,
        "UNIX_TIMESTAMP",
        "UnixTimestamp",
    ),
];

const LISTS: [(ValueType, ValueType); 8] = [
    (ValueType::BytesList, ValueType::Bytes),
    (ValueType::StringList, ValueType::String),
    (ValueType::Int32List, ValueType::Int32),
    (ValueType::Int64List, ValueType::Int64),
    (ValueType::DoubleList, ValueType::Double),
    (ValueType::FloatList, ValueType::Float),
    (ValueType::BoolList, ValueType::Bool),
    (ValueType::UnixTimestampList, ValueType::UnixTimestamp),
];

impl ValueType {
    /// The type for a proto enum number.
    pub fn from_i32(n: i32) -> Self {
        match n {
            0 => ValueType::Unknown,
            19 => ValueType::Null,
            1..=8 => SCALARS[(n - 1) as usize].0,
            11..=18 => LISTS[(n - 11) as usize].0,
            other => ValueType::Other(other),
        }
    }

    /// The proto enum number.
    pub fn as_i32(self) -> i32 {
        match self {
            ValueType::Unknown => 0,
            ValueType::Null => 19,
            ValueType::Other(n) => n,
            t => {
                if let Some(i) = SCALARS.iter().position(|s| s.0 == t) {
                    SCALARS[i].1
                } else {
                    LISTS.iter().position(|l| l.0 == t).expect("list type") as i32 + 11
                }
            }
        }
    }

    /// The element type of a list type, or `None` for scalars.
    pub fn element(self) -> Option<ValueType> {
        LISTS.iter().find(|l| l.0 == self).map(|l| l.1)
    }

    /// The list type whose elements are `self`, if there is one.
    pub fn list_of(self) -> Option<ValueType> {
        LISTS.iter().find(|l| l.1 == self).map(|l| l.0)
    }

    /// Whether this is one of the eight classic list types.
    pub fn is_list(self) -> bool {
        self.element().is_some()
    }

    /// Whether values of this type can form an entity key (Feast: string, bytes, int32, int64, timestamp).
    pub fn is_valid_entity_key(self) -> bool {
        matches!(
            self,
            ValueType::String
                | ValueType::Bytes
                | ValueType::Int32
                | ValueType::Int64
                | ValueType::UnixTimestamp
        )
    }

    /// The proto enum name, e.g. `INT64` (as in Feast's registry JSON).
    pub fn proto_name(self) -> String {
        match self {
            ValueType::Unknown => "INVALID".into(),
            ValueType::Null => "NULL".into(),
            ValueType::Other(n) => crate::proto::types::value_type::Enum::try_from(n)
                .map(|e| e.as_str_name().to_string())
                .unwrap_or_else(|_| n.to_string()),
            t => match t.element() {
                Some(e) => format!("{}_LIST", e.proto_name()),
                None => SCALARS.iter().find(|s| s.0 == t).expect("scalar").2.into(),
            },
        }
    }

    /// The Feast dtype name used in definitions, e.g. `Float32` or `Array(Int64)`.
    pub fn dtype_name(self) -> String {
        match self {
            ValueType::Unknown => "Invalid".into(),
            ValueType::Null => "Null".into(),
            ValueType::Other(_) => self.proto_name(),
            t => match t.element() {
                Some(e) => format!("Array({})", e.dtype_name()),
                None => SCALARS.iter().find(|s| s.0 == t).expect("scalar").3.into(),
            },
        }
    }

    /// Parses a Feast dtype name, case-insensitively: `Int64`, `float32`, `Array(String)`, `UnixTimestamp`.
    /// Proto enum names (`INT64`, `DOUBLE`, `STRING_LIST`) are accepted too.
    pub fn parse_dtype(text: &str) -> Option<ValueType> {
        let t = text.trim();
        let lower = t.to_ascii_lowercase();
        if let Some(inner) = lower
            .strip_prefix("array(")
            .or_else(|| lower.strip_prefix("list("))
            .and_then(|s| s.strip_suffix(')'))
        {
            return ValueType::parse_dtype(inner)?.list_of();
        }
        if let Some(base) = lower.strip_suffix("_list") {
            return ValueType::parse_dtype(base)?.list_of();
        }
        Some(match lower.as_str() {
            "bytes" => ValueType::Bytes,
            "string" | "str" => ValueType::String,
            "int32" => ValueType::Int32,
            "int64" => ValueType::Int64,
            "float64" | "double" => ValueType::Double,
            "float32" | "float" => ValueType::Float,
            "bool" | "boolean" => ValueType::Bool,
            "unixtimestamp" | "unix_timestamp" | "timestamp" => ValueType::UnixTimestamp,
            _ => return None,
        })
    }

    /// The names [`ValueType::parse_dtype`] accepts, for error messages.
    pub fn dtype_names() -> &'static str {
        "Int32, Int64, Float32, Float64, String, Bytes, Bool, UnixTimestamp, or Array(<one of those>)"
    }

    /// The Feast type of an Arrow column, as Feast infers it from a Parquet/CSV schema.
    pub fn from_arrow(data_type: &DataType) -> Option<ValueType> {
        Some(match data_type {
            DataType::Int8 | DataType::Int16 | DataType::Int32 => ValueType::Int32,
            DataType::UInt8 | DataType::UInt16 => ValueType::Int32,
            DataType::Int64 | DataType::UInt32 | DataType::UInt64 => ValueType::Int64,
            DataType::Float16 | DataType::Float32 => ValueType::Float,
            DataType::Float64 | DataType::Decimal128(..) | DataType::Decimal256(..) => {
                ValueType::Double
            }
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => ValueType::String,
            DataType::Binary
            | DataType::LargeBinary
            | DataType::BinaryView
            | DataType::FixedSizeBinary(_) => ValueType::Bytes,
            DataType::Boolean => ValueType::Bool,
            DataType::Timestamp(..) | DataType::Date32 | DataType::Date64 => {
                ValueType::UnixTimestamp
            }
            DataType::Null => ValueType::Null,
            DataType::Dictionary(_, value) => ValueType::from_arrow(value)?,
            DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
                ValueType::from_arrow(f.data_type())?.list_of()?
            }
            _ => return None,
        })
    }

    /// The Arrow type Larder uses for values of this type (timestamps: microseconds, UTC).
    pub fn to_arrow(self) -> Option<DataType> {
        Some(match self {
            ValueType::Bytes => DataType::Binary,
            ValueType::String => DataType::Utf8,
            ValueType::Int32 => DataType::Int32,
            ValueType::Int64 => DataType::Int64,
            ValueType::Double => DataType::Float64,
            ValueType::Float => DataType::Float32,
            ValueType::Bool => DataType::Boolean,
            ValueType::UnixTimestamp => {
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
            }
            ValueType::Null => DataType::Null,
            t => {
                let element = t.element()?.to_arrow()?;
                DataType::List(ArrowField::new_list_field(element, true).into())
            }
        })
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.dtype_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip() {
        for n in 0..50 {
            assert_eq!(ValueType::from_i32(n).as_i32(), n);
        }
        assert_eq!(ValueType::from_i32(4), ValueType::Int64);
        assert_eq!(ValueType::from_i32(16), ValueType::FloatList);
        assert_eq!(ValueType::from_i32(34), ValueType::Other(34));
    }

    #[test]
    fn parses_feast_dtype_names_case_insensitively() {
        assert_eq!(ValueType::parse_dtype("Float32"), Some(ValueType::Float));
        assert_eq!(ValueType::parse_dtype("float64"), Some(ValueType::Double));
        assert_eq!(
            ValueType::parse_dtype("ARRAY(int64)"),
            Some(ValueType::Int64List)
        );
        assert_eq!(
            ValueType::parse_dtype("Array(String)"),
            Some(ValueType::StringList)
        );
        assert_eq!(
            ValueType::parse_dtype("UnixTimestamp"),
            Some(ValueType::UnixTimestamp)
        );
        assert_eq!(ValueType::parse_dtype("INT64"), Some(ValueType::Int64));
        assert_eq!(ValueType::parse_dtype("Array(Array(Int64))"), None);
        assert_eq!(ValueType::parse_dtype("Int128"), None);
    }

    #[test]
    fn names_match_feast() {
        assert_eq!(ValueType::Double.dtype_name(), "Float64");
        assert_eq!(ValueType::FloatList.dtype_name(), "Array(Float32)");
        assert_eq!(ValueType::Int64.proto_name(), "INT64");
        assert_eq!(
            ValueType::UnixTimestampList.proto_name(),
            "UNIX_TIMESTAMP_LIST"
        );
        assert_eq!(ValueType::Other(32).proto_name(), "JSON");
    }

    #[test]
    fn infers_from_arrow_like_feast() {
        assert_eq!(
            ValueType::from_arrow(&DataType::Int16),
            Some(ValueType::Int32)
        );
        assert_eq!(
            ValueType::from_arrow(&DataType::Float32),
            Some(ValueType::Float)
        );
        let ts = DataType::Timestamp(TimeUnit::Nanosecond, None);
        assert_eq!(ValueType::from_arrow(&ts), Some(ValueType::UnixTimestamp));
        let list = ValueType::Int64List.to_arrow().unwrap();
        assert_eq!(ValueType::from_arrow(&list), Some(ValueType::Int64List));
        assert_eq!(
            ValueType::from_arrow(&DataType::Duration(TimeUnit::Second)),
            None
        );
    }
}
