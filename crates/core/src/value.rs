//! Feast's `Value` protobuf: fast encoding straight from Arrow columns (no per-row allocation),
//! decoding, the SQLite `value_text` rendering, and the JSON Feast's feature server writes.
//!
//! A null (or a NaN float, as Feast writes it) is a `Value` with no field set: zero bytes.

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BooleanArray, Float32Array, Float64Array, Int32Array,
    Int64Array, ListArray, StringArray, TimestampMicrosecondArray,
};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::DataType;
use prost::Message;

use crate::error::{Error, Result};
use crate::proto::types::{self as pt, value::Val};
use crate::types::ValueType;

/// Whether a column of Arrow type `data_type` can hold values of Feast type `value_type`
/// (same family: integers and floats together, strings, bytes, timestamps, lists of those).
pub fn arrow_compatible(data_type: &DataType, value_type: ValueType) -> bool {
    let Some(found) = ValueType::from_arrow(data_type) else {
        return false;
    };
    fn family(t: ValueType) -> u8 {
        match t {
            ValueType::Int32 | ValueType::Int64 | ValueType::Float | ValueType::Double => 1,
            ValueType::Bool => 2,
            ValueType::String => 3,
            ValueType::Bytes => 4,
            ValueType::UnixTimestamp => 5,
            ValueType::Null => 0,
            _ => 9,
        }
    }
    match (found.element(), value_type.element()) {
        (Some(a), Some(b)) => family(a) == family(b),
        (None, None) => found == ValueType::Null || family(found) == family(value_type),
        _ => false,
    }
}

/// Encodes one Arrow column, cast once to the declared Feast type, into `Value` bytes row by row.
#[derive(Debug)]
pub struct ColumnEncoder {
    column: Column,
}

#[derive(Debug)]
enum Column {
    Int32(Int32Array),
    Int64(Int64Array),
    Float(Float32Array),
    Double(Float64Array),
    Bool(BooleanArray),
    Str(StringArray),
    Bytes(BinaryArray),
    Timestamp(TimestampMicrosecondArray),
    Null,
    List {
        list: ListArray,
        element: Box<Column>,
        field: u32,
    },
}

impl ColumnEncoder {
    /// Prepares `array` for encoding as `value_type`. `column` names the column in errors.
    pub fn new(array: &ArrayRef, value_type: ValueType, column: &str) -> Result<Self> {
        if !arrow_compatible(array.data_type(), value_type) {
            return Err(Error::Value(format!(
                "column `{column}` has type {} in the data, which cannot hold {value_type} values: \
                 fix the schema's dtype or the data",
                array.data_type()
            )));
        }
        Ok(ColumnEncoder {
            column: Column::new(array, value_type, column)?,
        })
    }

    /// Appends the `Value` bytes of `row` to `out` (nothing for a null). Returns false for a null.
    pub fn encode(&self, row: usize, out: &mut Vec<u8>) -> Result<bool> {
        self.column.encode(row, out)
    }

    /// Appends Feast's SQLite `value_text` of `row` (Python's `str()` of a scalar string, number or
    /// bool) to `out`; returns false when Feast stores NULL (nulls, bytes, timestamps, lists).
    pub fn text(&self, row: usize, out: &mut String) -> bool {
        use std::fmt::Write;
        let c = &self.column;
        if c.is_null(row) {
            return false;
        }
        match c {
            Column::Int32(a) => write!(out, "{}", a.value(row)).is_ok(),
            Column::Int64(a) => write!(out, "{}", a.value(row)).is_ok(),
            Column::Float(a) => {
                python_float_repr(a.value(row) as f64, out);
                true
            }
            Column::Double(a) => {
                python_float_repr(a.value(row), out);
                true
            }
            Column::Bool(a) => {
                out.push_str(if a.value(row) { "True" } else { "False" });
                true
            }
            Column::Str(a) => {
                out.push_str(a.value(row));
                true
            }
            _ => false,
        }
    }

    /// Whether `row` encodes as a null `Value`.
    pub fn is_null(&self, row: usize) -> bool {
        self.column.is_null(row)
    }
}

impl Column {
    fn new(array: &ArrayRef, value_type: ValueType, column: &str) -> Result<Self> {
        if array.data_type() == &DataType::Null {
            return Ok(Column::Null);
        }
        let target = value_type.to_arrow().ok_or_else(|| {
            Error::Value(format!(
                "column `{column}`: Larder cannot encode {value_type} values yet"
            ))
        })?;
        let options = CastOptions {
            safe: false,
            ..Default::default()
        };
        let cast = if array.data_type() == &target {
            array.clone()
        } else {
            cast_with_options(array, &target, &options).map_err(|e| {
                Error::Value(format!(
                    "column `{column}`: cannot convert to {value_type}: {e}"
                ))
            })?
        };
        Ok(match value_type {
            ValueType::Int32 => Column::Int32(cast.as_primitive().clone()),
            ValueType::Int64 => Column::Int64(cast.as_primitive().clone()),
            ValueType::Float => Column::Float(cast.as_primitive().clone()),
            ValueType::Double => Column::Double(cast.as_primitive().clone()),
            ValueType::Bool => Column::Bool(cast.as_boolean().clone()),
            ValueType::String => Column::Str(cast.as_string::<i32>().clone()),
            ValueType::Bytes => Column::Bytes(cast.as_binary::<i32>().clone()),
            ValueType::UnixTimestamp => Column::Timestamp(cast.as_primitive().clone()),
            t => {
                let element_type = t.element().expect("list type");
                let list = cast.as_list::<i32>().clone();
                let element = Column::new(list.values(), element_type, column)?;
                Column::List {
                    list,
                    element: Box::new(element),
                    field: t.as_i32() as u32,
                }
            }
        })
    }

    fn is_null(&self, row: usize) -> bool {
        match self {
            Column::Int32(a) => a.is_null(row),
            Column::Int64(a) => a.is_null(row),
            Column::Float(a) => a.is_null(row) || a.value(row).is_nan(),
            Column::Double(a) => a.is_null(row) || a.value(row).is_nan(),
            Column::Bool(a) => a.is_null(row),
            Column::Str(a) => a.is_null(row),
            Column::Bytes(a) => a.is_null(row),
            Column::Timestamp(a) => a.is_null(row),
            Column::Null => true,
            Column::List { list, .. } => list.is_null(row),
        }
    }

    fn encode(&self, row: usize, out: &mut Vec<u8>) -> Result<bool> {
        if self.is_null(row) {
            if let Column::Timestamp(_) = self {
                // Feast stores a missing timestamp (pandas NaT) as the smallest int64.
                put_tag(out, 8, 0);
                put_varint(out, NULL_TIMESTAMP as u64);
            }
            return Ok(false);
        }
        match self {
            Column::Int32(a) => {
                put_tag(out, 3, 0);
                put_varint(out, a.value(row) as i64 as u64);
            }
            Column::Int64(a) => {
                put_tag(out, 4, 0);
                put_varint(out, a.value(row) as u64);
            }
            Column::Float(a) => {
                put_tag(out, 6, 5);
                out.extend_from_slice(&a.value(row).to_le_bytes());
            }
            Column::Double(a) => {
                put_tag(out, 5, 1);
                out.extend_from_slice(&a.value(row).to_le_bytes());
            }
            Column::Bool(a) => {
                put_tag(out, 7, 0);
                out.push(a.value(row) as u8);
            }
            Column::Str(a) => put_len_delimited(out, 2, a.value(row).as_bytes()),
            Column::Bytes(a) => put_len_delimited(out, 1, a.value(row)),
            Column::Timestamp(a) => {
                put_tag(out, 8, 0);
                put_varint(out, (a.value(row) / 1_000_000) as u64);
            }
            Column::Null => return Ok(false),
            Column::List {
                list,
                element,
                field,
            } => {
                let offsets = list.value_offsets();
                let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
                put_tag(out, *field, 2);
                let size = element.list_body_size(start, end)?;
                put_varint(out, size as u64);
                element.write_list_body(start, end, out);
            }
        }
        Ok(true)
    }

    /// Size of an `XxxList { repeated val = 1 }` body for elements `start..end`.
    fn list_body_size(&self, start: usize, end: usize) -> Result<usize> {
        let n = end - start;
        for i in start..end {
            let fillable = matches!(
                self,
                Column::Float(_) | Column::Double(_) | Column::Str(_) | Column::Bytes(_)
            );
            if self.is_null(i) && !fillable {
                return Err(Error::Value(
                    "a list holds a null element, which Feast's integer, bool and timestamp lists cannot \
                     represent: drop or fill nulls inside those lists"
                        .into(),
                ));
            }
        }
        let packed = |payload: usize| {
            if n == 0 {
                0
            } else {
                1 + varint_len(payload as u64) + payload
            }
        };
        Ok(match self {
            Column::Int32(a) => packed(
                (start..end)
                    .map(|i| varint_len(a.value(i) as i64 as u64))
                    .sum(),
            ),
            Column::Int64(a) => packed((start..end).map(|i| varint_len(a.value(i) as u64)).sum()),
            Column::Timestamp(a) => packed(
                (start..end)
                    .map(|i| varint_len((a.value(i) / 1_000_000) as u64))
                    .sum(),
            ),
            Column::Float(_) => packed(4 * n),
            Column::Double(_) => packed(8 * n),
            Column::Bool(_) => packed(n),
            Column::Str(_) | Column::Bytes(_) => (start..end)
                .map(|i| 1 + varint_len(elem_len(self, i) as u64) + elem_len(self, i))
                .sum(),
            Column::Null | Column::List { .. } => 0,
        })
    }

    fn write_list_body(&self, start: usize, end: usize, out: &mut Vec<u8>) {
        let packed_header = |out: &mut Vec<u8>, payload: usize| {
            if end > start {
                put_tag(out, 1, 2);
                put_varint(out, payload as u64);
            }
        };
        match self {
            Column::Int32(a) => {
                packed_header(
                    out,
                    (start..end)
                        .map(|i| varint_len(a.value(i) as i64 as u64))
                        .sum(),
                );
                (start..end).for_each(|i| put_varint(out, a.value(i) as i64 as u64));
            }
            Column::Int64(a) => {
                packed_header(
                    out,
                    (start..end).map(|i| varint_len(a.value(i) as u64)).sum(),
                );
                (start..end).for_each(|i| put_varint(out, a.value(i) as u64));
            }
            Column::Timestamp(a) => {
                let secs = |i| (a.value(i) / 1_000_000) as u64;
                packed_header(out, (start..end).map(|i| varint_len(secs(i))).sum());
                (start..end).for_each(|i| put_varint(out, secs(i)));
            }
            Column::Float(a) => {
                packed_header(out, 4 * (end - start));
                (start..end).for_each(|i| out.extend_from_slice(&float_at(a, i).to_le_bytes()));
            }
            Column::Double(a) => {
                packed_header(out, 8 * (end - start));
                (start..end).for_each(|i| out.extend_from_slice(&float_at(a, i).to_le_bytes()));
            }
            Column::Bool(a) => {
                packed_header(out, end - start);
                (start..end).for_each(|i| out.push(a.value(i) as u8));
            }
            Column::Str(a) => {
                (start..end).for_each(|i| put_len_delimited(out, 1, str_at(a, i).as_bytes()))
            }
            Column::Bytes(a) => {
                (start..end).for_each(|i| put_len_delimited(out, 1, bytes_at(a, i)))
            }
            Column::Null | Column::List { .. } => {}
        }
    }
}

/// A string list element; null elements are written as `""`, as Feast does.
fn str_at(a: &StringArray, i: usize) -> &str {
    if a.is_null(i) { "" } else { a.value(i) }
}

/// A bytes list element; null elements are written as empty bytes.
fn bytes_at(a: &BinaryArray, i: usize) -> &[u8] {
    if a.is_null(i) { &[] } else { a.value(i) }
}

/// A float list element; null elements are written as NaN, as Feast does.
fn float_at<T>(a: &arrow::array::PrimitiveArray<T>, i: usize) -> T::Native
where
    T: arrow::datatypes::ArrowPrimitiveType,
    T::Native: num_nan::Nan,
{
    if a.is_null(i) {
        <T::Native as num_nan::Nan>::NAN
    } else {
        a.value(i)
    }
}

mod num_nan {
    /// Float types' NaN.
    pub(super) trait Nan {
        const NAN: Self;
    }
    impl Nan for f32 {
        const NAN: f32 = f32::NAN;
    }
    impl Nan for f64 {
        const NAN: f64 = f64::NAN;
    }
}

fn elem_len(c: &Column, i: usize) -> usize {
    match c {
        Column::Str(a) => str_at(a, i).len(),
        Column::Bytes(a) => bytes_at(a, i).len(),
        _ => 0,
    }
}

fn put_tag(out: &mut Vec<u8>, field: u32, wire_type: u32) {
    put_varint(out, ((field << 3) | wire_type) as u64);
}

fn put_len_delimited(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_tag(out, field, 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// Writes Python's `repr()` of a float: the shortest digits that round-trip, fixed notation for
/// 1e-4 <= |x| < 1e16 (always with a `.0` when integral), else `1e-05` / `1.5e+16` style.
pub fn python_float_repr(x: f64, out: &mut String) {
    if x.is_nan() {
        out.push_str("nan");
        return;
    }
    if x.is_infinite() {
        out.push_str(if x > 0.0 { "inf" } else { "-inf" });
        return;
    }
    if x == 0.0 {
        out.push_str(if x.is_sign_negative() { "-0.0" } else { "0.0" });
        return;
    }
    use std::fmt::Write;
    // `{:e}` gives the shortest round-trip digits, e.g. "4.0832364559173584e-1". It is formatted
    // on the stack: this runs for every float feature of every row a materialization writes.
    let mut sci = StackText::default();
    write!(sci, "{x:e}").expect("a float's {:e} fits in StackText");
    if sci
        .as_str()
        .split('e')
        .next()
        .map_or(0, |m| m.bytes().filter(u8::is_ascii_digit).count())
        >= 17
    {
        // Two 17-digit strings may round-trip; Python picks the correctly rounded one (half-even).
        sci = StackText::default();
        write!(sci, "{x:.16e}").expect("a float's {:.16e} fits in StackText");
    }
    let (mantissa, exp) = sci.as_str().split_once('e').expect("exponent");
    let exp: i32 = exp.parse().expect("integer exponent");
    let negative = mantissa.starts_with('-');
    let mut digit_bytes = [0u8; 20];
    let mut count = 0;
    for d in mantissa.bytes().filter(u8::is_ascii_digit) {
        digit_bytes[count] = d;
        count += 1;
    }
    let digits = std::str::from_utf8(&digit_bytes[..count]).expect("ASCII digits");
    if negative {
        out.push('-');
    }
    if (-4..16).contains(&exp) {
        let point = exp + 1; // digits before the decimal point
        if point <= 0 {
            out.push_str("0.");
            (0..-point).for_each(|_| out.push('0'));
            out.push_str(digits);
        } else if point as usize >= digits.len() {
            out.push_str(digits);
            (0..point as usize - digits.len()).for_each(|_| out.push('0'));
            out.push_str(".0");
        } else {
            out.push_str(&digits[..point as usize]);
            out.push('.');
            out.push_str(&digits[point as usize..]);
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
}

/// Text formatted into a fixed buffer on the stack; long enough for any `f64` in `{:e}` or
/// `{:.16e}` form (at most 24 bytes, as in `-1.2345678901234567e-308`).
#[derive(Default)]
struct StackText {
    bytes: [u8; 32],
    len: usize,
}

impl StackText {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).expect("formatted text is UTF-8")
    }
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let slot = self.bytes.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// The `unix_timestamp_val` Feast writes for a missing timestamp (pandas `NaT`).
pub const NULL_TIMESTAMP: i64 = i64::MIN;

/// Whether a decoded value means "no value": no field set, `null_val`, or Feast's null timestamp.
pub fn is_null(value: &pt::Value) -> bool {
    matches!(
        value.val,
        None | Some(Val::NullVal(_)) | Some(Val::UnixTimestampVal(NULL_TIMESTAMP))
    )
}

/// Decodes `Value` bytes (empty bytes = null).
pub fn decode(bytes: &[u8]) -> Result<pt::Value> {
    pt::Value::decode(bytes).map_err(|source| Error::Decode {
        what: "feature value".into(),
        source,
    })
}

/// Encodes a `Value` message.
pub fn encode(value: &pt::Value) -> Vec<u8> {
    value.encode_to_vec()
}

/// The JSON Feast's feature server writes for a value: numbers (float32 widened to double), strings,
/// `"NaN"`/`"Infinity"`/`"-Infinity"`, bytes as base64, lists as arrays, null for no value.
pub fn to_json(value: &pt::Value) -> serde_json::Value {
    use serde_json::Value as J;
    let Some(val) = &value.val else {
        return J::Null;
    };
    if is_null(value) {
        return J::Null;
    }
    fn float(f: f64) -> J {
        if f.is_nan() {
            J::String("NaN".into())
        } else if f.is_infinite() {
            J::String(if f > 0.0 { "Infinity" } else { "-Infinity" }.into())
        } else {
            serde_json::Number::from_f64(f)
                .map(J::Number)
                .unwrap_or(J::Null)
        }
    }
    fn b64(b: &[u8]) -> J {
        use base64::Engine;
        J::String(base64::engine::general_purpose::STANDARD.encode(b))
    }
    match val {
        Val::BytesVal(b) => b64(b),
        Val::StringVal(s) => J::String(s.clone()),
        Val::Int32Val(v) => J::from(*v),
        Val::Int64Val(v) => J::from(*v),
        Val::DoubleVal(v) => float(*v),
        Val::FloatVal(v) => float(*v as f64),
        Val::BoolVal(v) => J::Bool(*v),
        Val::UnixTimestampVal(v) => J::from(*v),
        Val::BytesListVal(l) => J::Array(l.val.iter().map(|b| b64(b)).collect()),
        Val::StringListVal(l) => J::Array(l.val.iter().map(|s| J::String(s.clone())).collect()),
        Val::Int32ListVal(l) => J::Array(l.val.iter().map(|v| J::from(*v)).collect()),
        Val::Int64ListVal(l) => J::Array(l.val.iter().map(|v| J::from(*v)).collect()),
        Val::DoubleListVal(l) => J::Array(l.val.iter().map(|v| float(*v)).collect()),
        Val::FloatListVal(l) => J::Array(l.val.iter().map(|v| float(*v as f64)).collect()),
        Val::BoolListVal(l) => J::Array(l.val.iter().map(|v| J::Bool(*v)).collect()),
        Val::UnixTimestampListVal(l) => J::Array(l.val.iter().map(|v| J::from(*v)).collect()),
        Val::NullVal(_) => J::Null,
        Val::JsonVal(s) | Val::UuidVal(s) | Val::TimeUuidVal(s) | Val::DecimalVal(s) => {
            J::String(s.clone())
        }
        other => J::String(format!("{other:?}")),
    }
}

/// Appends `value` as JSON to `out`, exactly as `serde_json` writes [`to_json`]'s result, without
/// building a `serde_json::Value` for scalars (the hot path of online serving).
pub fn write_json(value: &pt::Value, out: &mut Vec<u8>) {
    match Scalar::of(value) {
        Some(scalar) => scalar.write_json(out),
        None if is_null(value) => out.extend_from_slice(b"null"),
        None => serialize_into(out, &to_json(value)),
    }
}

/// Appends `v` as `serde_json` writes it.
fn serialize_into<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) {
    serde_json::to_writer(&mut *out, v).expect("JSON serializes into memory");
}

/// A scalar `Value` read straight from its bytes, without building the message: what serving
/// answers with for nearly every cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scalar<'a> {
    /// `string_val`.
    Str(&'a str),
    /// `int32_val`.
    Int32(i32),
    /// `int64_val`.
    Int64(i64),
    /// `double_val`.
    Double(f64),
    /// `float_val`.
    Float(f32),
    /// `bool_val`.
    Bool(bool),
    /// `unix_timestamp_val`, seconds.
    UnixTimestamp(i64),
}

/// The scalar in `bytes` when they are exactly one field of a scalar type other than bytes (what
/// Feast and Larder write for such features); `None` for anything else (lists, bytes, maps, empty,
/// or a field written twice), which [`decode`] reads.
pub fn scalar(bytes: &[u8]) -> Option<Scalar<'_>> {
    let (&tag, rest) = bytes.split_first()?;
    let whole_varint = |rest: &[u8]| match read_varint(rest)? {
        (v, []) => Some(v),
        _ => None,
    };
    Some(match tag {
        0x12 => {
            let (len, text) = read_varint(rest)?;
            if text.len() as u64 != len {
                return None;
            }
            Scalar::Str(std::str::from_utf8(text).ok()?)
        }
        // int32 is written as a 64-bit varint and read back truncated, as protobuf does.
        0x18 => Scalar::Int32(whole_varint(rest)? as i32),
        0x20 => Scalar::Int64(whole_varint(rest)? as i64),
        0x29 => Scalar::Double(f64::from_le_bytes(rest.try_into().ok()?)),
        0x35 => Scalar::Float(f32::from_le_bytes(rest.try_into().ok()?)),
        0x38 => Scalar::Bool(whole_varint(rest)? != 0),
        0x40 => Scalar::UnixTimestamp(whole_varint(rest)? as i64),
        _ => return None,
    })
}

/// A varint at the start of `bytes`, and what follows it.
fn read_varint(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let mut v = 0u64;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        v |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            return Some((v, &bytes[i + 1..]));
        }
    }
    None
}

impl<'a> Scalar<'a> {
    /// The scalar a decoded `Value` holds; `None` for lists, bytes, maps and nulls.
    pub fn of(value: &'a pt::Value) -> Option<Self> {
        Some(match value.val.as_ref()? {
            Val::StringVal(s) => Scalar::Str(s),
            Val::Int32Val(v) => Scalar::Int32(*v),
            Val::Int64Val(v) => Scalar::Int64(*v),
            Val::DoubleVal(v) => Scalar::Double(*v),
            Val::FloatVal(v) => Scalar::Float(*v),
            Val::BoolVal(v) => Scalar::Bool(*v),
            Val::UnixTimestampVal(v) => Scalar::UnixTimestamp(*v),
            _ => return None,
        })
    }

    /// Whether it means "no value" (Feast's null timestamp), as [`is_null`] says of a `Value`.
    pub fn is_null(&self) -> bool {
        *self == Scalar::UnixTimestamp(NULL_TIMESTAMP)
    }

    /// Appends the JSON Feast's feature server writes for it, as [`write_json`] does for a `Value`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        match *self {
            _ if self.is_null() => out.extend_from_slice(b"null"),
            Scalar::Str(s) => serialize_into(out, s),
            Scalar::Int32(v) => serialize_into(out, &v),
            Scalar::Int64(v) | Scalar::UnixTimestamp(v) => serialize_into(out, &v),
            Scalar::Double(v) => write_float_json(out, v),
            Scalar::Float(v) => write_float_json(out, f64::from(v)),
            Scalar::Bool(v) => serialize_into(out, &v),
        }
    }

    /// The `Value` it is read from.
    pub fn to_value(&self) -> pt::Value {
        let val = match *self {
            Scalar::Str(s) => Val::StringVal(s.to_string()),
            Scalar::Int32(v) => Val::Int32Val(v),
            Scalar::Int64(v) => Val::Int64Val(v),
            Scalar::Double(v) => Val::DoubleVal(v),
            Scalar::Float(v) => Val::FloatVal(v),
            Scalar::Bool(v) => Val::BoolVal(v),
            Scalar::UnixTimestamp(v) => Val::UnixTimestampVal(v),
        };
        pt::Value { val: Some(val) }
    }
}

/// A float as Feast's feature server writes it: a JSON number, or `"NaN"`/`"Infinity"`/`"-Infinity"`.
fn write_float_json(out: &mut Vec<u8>, f: f64) {
    if f.is_finite() {
        serialize_into(out, &f);
    } else if f.is_nan() {
        out.extend_from_slice(b"\"NaN\"");
    } else if f > 0.0 {
        out.extend_from_slice(b"\"Infinity\"");
    } else {
        out.extend_from_slice(b"\"-Infinity\"");
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Builder, ListBuilder, StringBuilder};

    use super::*;

    #[test]
    fn scalars_read_from_bytes_as_decoding_reads_them() {
        let values = [
            Val::StringVal("say \"hi\"\n\u{e9}".into()),
            Val::StringVal(String::new()),
            Val::Int32Val(-7),
            Val::Int32Val(i32::MAX),
            Val::Int64Val(i64::MIN + 1),
            Val::Int64Val(300),
            Val::DoubleVal(0.1),
            Val::DoubleVal(f64::NAN),
            Val::DoubleVal(f64::NEG_INFINITY),
            Val::FloatVal(0.1),
            Val::FloatVal(f32::INFINITY),
            Val::BoolVal(true),
            Val::BoolVal(false),
            Val::UnixTimestampVal(1_795_518_000),
            Val::UnixTimestampVal(NULL_TIMESTAMP),
        ];
        for val in values {
            let value = pt::Value { val: Some(val) };
            let bytes = encode(&value);
            let got = scalar(&bytes).unwrap_or_else(|| panic!("{value:?} is a scalar"));
            let (mut from_bytes, mut from_value) = (Vec::new(), Vec::new());
            got.write_json(&mut from_bytes);
            write_json(&value, &mut from_value);
            assert_eq!(
                String::from_utf8(from_bytes).unwrap(),
                String::from_utf8(from_value).unwrap(),
                "{value:?}"
            );
            assert_eq!(got.is_null(), is_null(&value), "{value:?}");
            assert_eq!(encode(&got.to_value()), bytes, "{value:?}");
        }
    }

    #[test]
    fn anything_but_one_scalar_field_is_left_to_decoding() {
        let list = pt::Value {
            val: Some(Val::Int64ListVal(pt::Int64List { val: vec![1, 2] })),
        };
        let bytes_val = pt::Value {
            val: Some(Val::BytesVal(vec![1])),
        };
        let mut twice = encode(&pt::Value {
            val: Some(Val::Int64Val(1)),
        });
        twice.extend_from_within(..);
        let cases = [
            encode(&list),
            encode(&bytes_val),
            Vec::new(),
            twice,
            vec![0x12, 5, b'a'],
            vec![0x20, 0x80],
            vec![0x12, 2, 0xff, 0xfe],
        ];
        for bytes in cases {
            assert_eq!(scalar(&bytes), None, "{bytes:?}");
        }
    }

    fn encode_one(array: ArrayRef, t: ValueType) -> Vec<u8> {
        let enc = ColumnEncoder::new(&array, t, "c").unwrap();
        let mut out = Vec::new();
        enc.encode(0, &mut out).unwrap();
        out
    }

    fn prost_bytes(val: Val) -> Vec<u8> {
        pt::Value { val: Some(val) }.encode_to_vec()
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02X}")).collect()
    }

    #[test]
    fn scalars_match_feasts_bytes() {
        // Bytes observed in Feast 0.67's SQLite fixture.
        let f32s: ArrayRef = Arc::new(Float32Array::from(vec![f32::from_le_bytes([
            0xCC, 0x0F, 0xD1, 0x3E,
        ])]));
        assert_eq!(hex(&encode_one(f32s, ValueType::Float)), "35CC0FD13E");
        let i64s: ArrayRef = Arc::new(Int64Array::from(vec![680]));
        assert_eq!(hex(&encode_one(i64s, ValueType::Int64)), "20A805");
        let neg: ArrayRef = Arc::new(Int64Array::from(vec![-1]));
        assert_eq!(
            hex(&encode_one(neg, ValueType::Int64)),
            "20FFFFFFFFFFFFFFFFFF01"
        );
        let s: ArrayRef = Arc::new(StringArray::from(vec!["Delhi"]));
        assert_eq!(hex(&encode_one(s, ValueType::String)), "120544656C6869");
        let d: ArrayRef = Arc::new(Float64Array::from(vec![4.868]));
        assert_eq!(hex(&encode_one(d, ValueType::Double)), "2946B6F3FDD4781340");
    }

    #[test]
    fn matches_prost_for_every_scalar_and_list() {
        let i32s: ArrayRef = Arc::new(Int32Array::from(vec![-7]));
        assert_eq!(
            encode_one(i32s, ValueType::Int32),
            prost_bytes(Val::Int32Val(-7))
        );
        let zero: ArrayRef = Arc::new(Int64Array::from(vec![0]));
        assert_eq!(
            encode_one(zero, ValueType::Int64),
            prost_bytes(Val::Int64Val(0))
        );
        let b: ArrayRef = Arc::new(BooleanArray::from(vec![false]));
        assert_eq!(
            encode_one(b, ValueType::Bool),
            prost_bytes(Val::BoolVal(false))
        );
        let ts: ArrayRef = Arc::new(
            TimestampMicrosecondArray::from(vec![1_795_521_600_500_000]).with_timezone("UTC"),
        );
        assert_eq!(
            encode_one(ts, ValueType::UnixTimestamp),
            prost_bytes(Val::UnixTimestampVal(1_795_521_600))
        );

        let mut lb = ListBuilder::new(Int64Builder::new());
        lb.values().append_value(1);
        lb.values().append_value(-300);
        lb.append(true);
        lb.append(true); // empty list
        let list: ArrayRef = Arc::new(lb.finish());
        let enc = ColumnEncoder::new(&list, ValueType::Int64List, "l").unwrap();
        let mut out = Vec::new();
        enc.encode(0, &mut out).unwrap();
        assert_eq!(
            out,
            prost_bytes(Val::Int64ListVal(pt::Int64List { val: vec![1, -300] }))
        );
        out.clear();
        enc.encode(1, &mut out).unwrap();
        assert_eq!(
            out,
            prost_bytes(Val::Int64ListVal(pt::Int64List { val: vec![] }))
        );

        let mut sb = ListBuilder::new(StringBuilder::new());
        sb.values().append_value("a");
        sb.values().append_value("");
        sb.append(true);
        let list: ArrayRef = Arc::new(sb.finish());
        let enc = ColumnEncoder::new(&list, ValueType::StringList, "l").unwrap();
        out.clear();
        enc.encode(0, &mut out).unwrap();
        let expected = pt::StringList {
            val: vec!["a".into(), "".into()],
        };
        assert_eq!(out, prost_bytes(Val::StringListVal(expected)));
    }

    #[test]
    fn nulls_and_nans_are_empty_values() {
        let f: ArrayRef = Arc::new(Float64Array::from(vec![Some(f64::NAN), None]));
        let enc = ColumnEncoder::new(&f, ValueType::Double, "f").unwrap();
        let mut out = Vec::new();
        assert!(!enc.encode(0, &mut out).unwrap());
        assert!(!enc.encode(1, &mut out).unwrap());
        assert!(out.is_empty());
        assert!(decode(&out).unwrap().val.is_none());
    }

    #[test]
    fn null_timestamps_are_feasts_smallest_int64() {
        let ts: ArrayRef =
            Arc::new(TimestampMicrosecondArray::from(vec![None::<i64>]).with_timezone("UTC"));
        let enc = ColumnEncoder::new(&ts, ValueType::UnixTimestamp, "t").unwrap();
        let mut out = Vec::new();
        assert!(!enc.encode(0, &mut out).unwrap());
        assert_eq!(out, prost_bytes(Val::UnixTimestampVal(i64::MIN)));
        let decoded = decode(&out).unwrap();
        assert!(is_null(&decoded));
        assert_eq!(to_json(&decoded), serde_json::Value::Null);
    }

    #[test]
    fn null_list_elements_are_filled_as_feast_does_or_rejected() {
        let mut sb = ListBuilder::new(StringBuilder::new());
        sb.values().append_value("a");
        sb.values().append_null();
        sb.append(true);
        let list: ArrayRef = Arc::new(sb.finish());
        let enc = ColumnEncoder::new(&list, ValueType::StringList, "l").unwrap();
        let mut out = Vec::new();
        enc.encode(0, &mut out).unwrap();
        let expected = pt::StringList {
            val: vec!["a".into(), "".into()],
        };
        assert_eq!(out, prost_bytes(Val::StringListVal(expected)));

        let mut fb = ListBuilder::new(arrow::array::Float64Builder::new());
        fb.values().append_null();
        fb.append(true);
        let list: ArrayRef = Arc::new(fb.finish());
        let enc = ColumnEncoder::new(&list, ValueType::DoubleList, "l").unwrap();
        out.clear();
        enc.encode(0, &mut out).unwrap();
        let Some(Val::DoubleListVal(l)) = decode(&out).unwrap().val else {
            panic!()
        };
        assert!(l.val[0].is_nan());

        let mut ib = ListBuilder::new(Int64Builder::new());
        ib.values().append_null();
        ib.append(true);
        let list: ArrayRef = Arc::new(ib.finish());
        let enc = ColumnEncoder::new(&list, ValueType::Int64List, "l").unwrap();
        assert!(
            enc.encode(0, &mut Vec::new())
                .unwrap_err()
                .to_string()
                .contains("null element")
        );
    }

    #[test]
    fn casts_within_a_family_and_rejects_across() {
        let i32s: ArrayRef = Arc::new(Int32Array::from(vec![5]));
        assert_eq!(
            encode_one(i32s, ValueType::Int64),
            prost_bytes(Val::Int64Val(5))
        );
        let s: ArrayRef = Arc::new(StringArray::from(vec!["5"]));
        let err = ColumnEncoder::new(&s, ValueType::Int64, "trips")
            .unwrap_err()
            .to_string();
        assert!(err.contains("`trips`") && err.contains("Int64"), "{err}");
    }

    #[test]
    fn value_text_is_pythons_str() {
        let f: ArrayRef = Arc::new(Float32Array::from(vec![f32::from_le_bytes([
            0xCC, 0x0F, 0xD1, 0x3E,
        ])]));
        let enc = ColumnEncoder::new(&f, ValueType::Float, "f").unwrap();
        let mut s = String::new();
        assert!(enc.text(0, &mut s));
        assert_eq!(s, "0.40832364559173584");
        let b: ArrayRef = Arc::new(BooleanArray::from(vec![true]));
        let mut s = String::new();
        ColumnEncoder::new(&b, ValueType::Bool, "b")
            .unwrap()
            .text(0, &mut s);
        assert_eq!(s, "True");
    }

    #[test]
    // The literals are exact binary values on purpose: they are the round-half-even ties.
    #[allow(clippy::excessive_precision)]
    fn python_float_repr_cases() {
        let cases = [
            (1.0, "1.0"),
            (33.7610745075035, "33.7610745075035"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (1.5e16, "1.5e+16"),
            (1e16, "1e+16"),
            (123456789012345.0, "123456789012345.0"),
            (-2.5, "-2.5"),
            (206.554351806640625, "206.55435180664062"),
            (125.71109008789063, "125.71109008789062"),
            (0.1, "0.1"),
            (f64::NAN, "nan"),
            (-0.0, "-0.0"),
            // The longest texts: 17 digits, a sign and a three-digit exponent.
            (f64::MAX, "1.7976931348623157e+308"),
            (-f64::MIN_POSITIVE, "-2.2250738585072014e-308"),
            (5e-324, "5e-324"),
        ];
        for (x, want) in cases {
            let mut s = String::new();
            python_float_repr(x, &mut s);
            assert_eq!(s, want, "{x}");
        }
    }

    #[test]
    fn json_like_feast() {
        let v = pt::Value {
            val: Some(Val::FloatVal(f32::from_le_bytes([0xCC, 0x0F, 0xD1, 0x3E]))),
        };
        assert_eq!(to_json(&v).to_string(), "0.40832364559173584");
        let v = pt::Value {
            val: Some(Val::DoubleVal(f64::NAN)),
        };
        assert_eq!(to_json(&v), serde_json::json!("NaN"));
        assert_eq!(to_json(&pt::Value { val: None }), serde_json::Value::Null);
    }

    fn written(v: &pt::Value) -> String {
        let mut out = Vec::new();
        write_json(v, &mut out);
        String::from_utf8(out).unwrap()
    }

    fn any_value() -> impl proptest::strategy::Strategy<Value = pt::Value> {
        use crate::proto::types::{DoubleList, StringList};
        use proptest::prelude::*;
        let special = prop_oneof![
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(0.1),
            Just(-0.0),
            Just(1e300),
            any::<f64>(),
        ];
        let val = prop_oneof![
            special.clone().prop_map(Val::DoubleVal),
            any::<f32>().prop_map(Val::FloatVal),
            any::<i32>().prop_map(Val::Int32Val),
            any::<i64>().prop_map(Val::Int64Val),
            any::<i64>().prop_map(Val::UnixTimestampVal),
            any::<bool>().prop_map(Val::BoolVal),
            "\\PC*|[\"\\\\\u{0}-\u{1f}é😀]*".prop_map(Val::StringVal),
            prop::collection::vec(any::<u8>(), 0..8).prop_map(Val::BytesVal),
            prop::collection::vec(special, 0..4)
                .prop_map(|val| Val::DoubleListVal(DoubleList { val })),
            prop::collection::vec("[a-z\"]*", 0..4)
                .prop_map(|val| Val::StringListVal(StringList { val })),
            Just(Val::NullVal(0)),
        ];
        prop::option::of(val).prop_map(|val| pt::Value { val })
    }

    proptest::proptest! {
        #[test]
        fn written_json_is_what_serde_writes_of_to_json(v in any_value()) {
            proptest::prop_assert_eq!(written(&v), serde_json::to_string(&to_json(&v)).unwrap());
        }
    }

    #[test]
    fn written_json_of_specials_is_feasts() {
        let double = |f| pt::Value {
            val: Some(Val::DoubleVal(f)),
        };
        assert_eq!(written(&double(f64::NAN)), r#""NaN""#);
        assert_eq!(written(&double(f64::NEG_INFINITY)), r#""-Infinity""#);
        let float = pt::Value {
            val: Some(Val::FloatVal(0.1)),
        };
        assert_eq!(
            written(&float),
            "0.10000000149011612",
            "float32 widened as Feast does"
        );
        let text = pt::Value {
            val: Some(Val::StringVal("a\"b\n".into())),
        };
        assert_eq!(written(&text), r#""a\"b\n""#);
        assert_eq!(written(&pt::Value { val: None }), "null");
    }
}
