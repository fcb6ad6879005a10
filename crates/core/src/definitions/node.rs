//! A YAML document as a tree of nodes that remember their line, and a serde `Deserializer` over it.
//!
//! Parsing a whole file into strict structs stops at the first mistake; deserializing each object from
//! its own [`Node`] instead lets one typo cost one object, so every problem of a file can be reported,
//! each with the line and the field path (`schema[2].dtype`) where it happened.

use std::fmt;

use serde::de::value::{StrDeserializer, U64Deserializer};
use serde::de::{
    self, DeserializeSeed, Error as _, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};
use serde::{Deserialize, Deserializer};
use serde_saphyr::Spanned;

/// One YAML node and the (1-based) line it starts on.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    /// The line, 1-based (0 when unknown).
    pub(crate) line: usize,
    /// The value.
    pub(crate) kind: Kind,
}

/// The value of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    /// `null`, `~` or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A negative integer.
    Int(i64),
    /// A non-negative integer.
    UInt(u64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in document order.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The value of key `key` when this is a mapping.
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            Kind::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The text of a string node.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The text of a scalar node (numbers and booleans as written in canonical form).
    pub(crate) fn scalar_text(&self) -> Option<String> {
        Some(match &self.kind {
            Kind::Str(s) => s.clone(),
            Kind::Bool(b) => b.to_string(),
            Kind::Int(i) => i.to_string(),
            Kind::UInt(u) => u.to_string(),
            Kind::Float(f) => f.to_string(),
            Kind::Null | Kind::Seq(_) | Kind::Map(_) => return None,
        })
    }

    /// What the node is, for messages: `a string "x"`, `a sequence`, ...
    pub(crate) fn describe(&self) -> String {
        match &self.kind {
            Kind::Null => "nothing (null)".into(),
            Kind::Bool(b) => format!("the boolean {b}"),
            Kind::Int(_) | Kind::UInt(_) | Kind::Float(_) => {
                format!("the number {}", self.scalar_text().unwrap_or_default())
            }
            Kind::Str(s) => format!("the string \"{s}\""),
            Kind::Seq(_) => "a list".into(),
            Kind::Map(_) => "a mapping".into(),
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Kind>::deserialize(deserializer)?;
        let line = usize::try_from(spanned.referenced.line()).unwrap_or(0);
        Ok(Node {
            line,
            kind: spanned.value,
        })
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(KindVisitor)
    }
}

struct KindVisitor;

impl<'de> Visitor<'de> for KindVisitor {
    type Value = Kind;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Kind, E> {
        Ok(Kind::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Kind, E> {
        Ok(u64::try_from(v).map_or(Kind::Int(v), Kind::UInt))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Kind, E> {
        Ok(Kind::UInt(v))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Kind, E> {
        Ok(Kind::Str(v.to_string()))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Kind, E> {
        Ok(Kind::Str(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Kind, E> {
        Ok(Kind::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Kind, E> {
        Ok(Kind::Str(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Kind, E> {
        Ok(Kind::Str(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Kind, D::Error> {
        Kind::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Kind, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Kind::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry::<Node, Node>()? {
            entries.push(entry);
        }
        Ok(Kind::Map(entries))
    }
}

/// One step of a field path: a mapping key or a list index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    /// `.key`
    Key(String),
    /// `[i]`
    Index(usize),
}

/// Formats a path as `schema[2].dtype`.
pub(crate) fn format_path(path: &[Segment]) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Key(k) if out.is_empty() => out.push_str(k),
            Segment::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// An error from deserializing a [`Node`]: what is wrong, the line, and the path to the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeError {
    /// What is wrong.
    pub(crate) message: String,
    /// The line of the innermost node involved.
    pub(crate) line: Option<usize>,
    /// The path from the object to the field.
    pub(crate) path: Vec<Segment>,
}

impl DeError {
    fn new(message: String, path: Vec<Segment>) -> Self {
        DeError {
            message,
            line: None,
            path,
        }
    }

    /// Sets the line unless an inner node already did.
    fn at(mut self, line: usize) -> Self {
        if self.line.is_none() && line > 0 {
            self.line = Some(line);
        }
        self
    }

    /// Puts `segment` in front of the path.
    fn under(mut self, segment: Segment) -> Self {
        self.path.insert(0, segment);
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError::new(msg.to_string(), Vec::new())
    }

    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        DeError::custom(format_args!("expected {exp}, found {unexp}"))
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        DeError::custom(format_args!(
            "unknown value `{variant}`: use one of {}",
            expected.join(", ")
        ))
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        let message = format!(
            "unknown field `{field}`: valid fields are {}",
            expected.join(", ")
        );
        DeError::new(message, vec![Segment::Key(field.to_string())])
    }

    fn missing_field(field: &'static str) -> Self {
        DeError::new(
            format!("`{field}` is required"),
            vec![Segment::Key(field.to_string())],
        )
    }

    fn duplicate_field(field: &'static str) -> Self {
        DeError::new(
            format!("`{field}` is given twice"),
            vec![Segment::Key(field.to_string())],
        )
    }
}

/// The struct name that asks [`NodeDeserializer`] for a node's line (see [`Located`]).
const LOCATED: &str = "$larder::Located";

/// A value and the line it was written on. Only [`NodeDeserializer`] can produce one.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Located<T> {
    /// The line, 1-based.
    pub(crate) line: usize,
    /// The value.
    pub(crate) value: T,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Located<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_struct(
            LOCATED,
            &["line", "value"],
            LocatedVisitor(std::marker::PhantomData),
        )
    }
}

struct LocatedVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for LocatedVisitor<T> {
    type Value = Located<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value with its line")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Located<T>, A::Error> {
        let mut line = 0;
        let mut value = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "line" {
                line = map.next_value::<u64>()? as usize;
            } else {
                value = Some(map.next_value::<T>()?);
            }
        }
        let value =
            value.ok_or_else(|| de::Error::custom("internal: located value without a value"))?;
        Ok(Located { line, value })
    }
}

/// Deserializes a Rust value from a [`Node`]. Scalars deserialize into strings as their text, so
/// `ttl: 3600` and `tags: {version: 2}` read as `"3600"` and `"2"`.
pub(crate) struct NodeDeserializer<'a>(pub(crate) &'a Node);

impl<'a> NodeDeserializer<'a> {
    fn invalid<V>(&self, expected: &str) -> Result<V, DeError> {
        Err(DeError::custom(format_args!(
            "expected {expected}, found {}",
            self.0.describe()
        ))
        .at(self.0.line))
    }
}

macro_rules! forward_to_any {
    ($($method:ident)*) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            self.deserialize_any(visitor)
        })*
    };
}

impl<'de, 'a> Deserializer<'de> for NodeDeserializer<'a> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let node = self.0;
        let result = match &node.kind {
            Kind::Null => visitor.visit_unit(),
            Kind::Bool(b) => visitor.visit_bool(*b),
            Kind::Int(i) => visitor.visit_i64(*i),
            Kind::UInt(u) => visitor.visit_u64(*u),
            Kind::Float(f) => visitor.visit_f64(*f),
            Kind::Str(s) => visitor.visit_str(s),
            Kind::Seq(items) => visitor.visit_seq(NodeSeq {
                items: items.iter(),
                index: 0,
            }),
            Kind::Map(entries) => visitor.visit_map(NodeMap {
                entries: entries.iter(),
                key: None,
            }),
        };
        result.map_err(|e| e.at(node.line))
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0.scalar_text() {
            Some(text) => visitor
                .visit_string(text)
                .map_err(|e: DeError| e.at(self.0.line)),
            None => self.invalid("a string"),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0.kind {
            Kind::Bool(b) => visitor
                .visit_bool(b)
                .map_err(|e: DeError| e.at(self.0.line)),
            _ => self.invalid("true or false"),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0.kind {
            Kind::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.0.kind {
            Kind::Seq(_) => self.deserialize_any(visitor),
            _ => self.invalid("a list"),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.0.kind {
            Kind::Map(_) => self.deserialize_any(visitor),
            _ => self.invalid("a mapping"),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        if name == LOCATED {
            return visitor.visit_map(LocatedAccess {
                node: self.0,
                step: 0,
            });
        }
        match &self.0.kind {
            Kind::Map(_) => self.deserialize_any(visitor),
            _ => self.invalid(&format!(
                "a mapping with fields such as {}",
                fields.join(", ")
            )),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    forward_to_any! {
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
        deserialize_f32 deserialize_f64 deserialize_char deserialize_bytes deserialize_byte_buf
        deserialize_unit
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.0.scalar_text() {
            Some(text) => visitor
                .visit_enum(text.into_deserializer())
                .map_err(|e: DeError| e.at(self.0.line)),
            None => self.invalid("one of the listed values"),
        }
    }
}

/// Sequence access over a node's items; errors get `[i]` in front of their path.
struct NodeSeq<'a> {
    items: std::slice::Iter<'a, Node>,
    index: usize,
}

impl<'de, 'a> SeqAccess<'de> for NodeSeq<'a> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let Some(item) = self.items.next() else {
            return Ok(None);
        };
        let index = self.index;
        self.index += 1;
        seed.deserialize(NodeDeserializer(item))
            .map(Some)
            .map_err(|e| e.at(item.line).under(Segment::Index(index)))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// Mapping access over a node's entries; value errors get the key in front of their path.
struct NodeMap<'a> {
    entries: std::slice::Iter<'a, (Node, Node)>,
    key: Option<&'a Node>,
}

impl<'de, 'a> MapAccess<'de> for NodeMap<'a> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some((key, _)) = self.entries.as_slice().first() else {
            return Ok(None);
        };
        self.key = Some(key);
        seed.deserialize(NodeDeserializer(key))
            .map(Some)
            .map_err(|e| {
                let e = e.at(key.line);
                match (e.path.is_empty(), key.scalar_text()) {
                    (true, Some(text)) => e.under(Segment::Key(text)),
                    _ => e,
                }
            })
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let (key, value) = self
            .entries
            .next()
            .ok_or_else(|| DeError::custom("internal: value without key"))?;
        let name = key.scalar_text().unwrap_or_else(|| key.describe());
        seed.deserialize(NodeDeserializer(value))
            .map_err(|e| e.at(value.line).under(Segment::Key(name)))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// The synthetic `{line, value}` mapping behind [`Located`].
struct LocatedAccess<'a> {
    node: &'a Node,
    step: u8,
}

impl<'de, 'a> MapAccess<'de> for LocatedAccess<'a> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let key = match self.step {
            0 => "line",
            1 => "value",
            _ => return Ok(None),
        };
        seed.deserialize(StrDeserializer::<DeError>::new(key))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        self.step += 1;
        if self.step == 1 {
            seed.deserialize(U64Deserializer::<DeError>::new(self.node.line as u64))
        } else {
            seed.deserialize(NodeDeserializer(self.node))
        }
    }
}

/// Parses YAML text into its documents (empty documents are skipped). Only `true` and `false` are
/// booleans (YAML 1.2), so keys and values such as `on` or `no` stay strings.
pub(crate) fn parse_documents(text: &str) -> Result<Vec<Node>, serde_saphyr::Error> {
    let options = serde_saphyr::options! { strict_booleans: true, with_snippet: false };
    serde_saphyr::from_multiple_with_options(text, options)
}

/// Deserializes `T` from `node`.
pub(crate) fn from_node<'de, T: Deserialize<'de>>(node: &Node) -> Result<T, DeError> {
    T::deserialize(NodeDeserializer(node)).map_err(|e| e.at(node.line))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn parse(text: &str) -> Node {
        let mut docs = parse_documents(text).unwrap();
        assert_eq!(docs.len(), 1);
        docs.remove(0)
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        name: String,
        ttl: Option<Located<String>>,
        #[serde(default)]
        tags: BTreeMap<String, String>,
        #[serde(default)]
        schema: Vec<Located<Field>>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Field {
        name: String,
        dtype: String,
    }

    #[test]
    fn nodes_know_their_lines() {
        let node = parse("a:\n  - x: 1\n  - y: [2, 3]\nb: text\n");
        let a = node.get("a").unwrap();
        assert_eq!(a.line, 2);
        let Kind::Seq(items) = &a.kind else { panic!() };
        assert_eq!(items[1].line, 3);
        assert_eq!(node.get("b").unwrap().line, 4);
        assert_eq!(node.get("b").unwrap().as_str(), Some("text"));
    }

    #[test]
    fn syntax_errors_have_a_line() {
        let err = parse_documents("a: 1\nb: [1, 2\nc: 3\n").unwrap_err();
        assert!(err.location().is_some_and(|l| l.line() >= 2), "{err}");
        assert!(parse_documents("# nothing\n").unwrap().is_empty());
        assert_eq!(parse_documents("a: 1\n---\nb: 2\n").unwrap().len(), 2);
    }

    #[test]
    fn located_values_and_scalars_as_text() {
        let node = parse(
            "name: v\nttl: 3600\ntags: {version: 2, on: true}\nschema:\n  - {name: a, dtype: Int64}\n",
        );
        let item: Item = from_node(&node).unwrap();
        let ttl = item.ttl.unwrap();
        assert_eq!((ttl.line, ttl.value.as_str()), (2, "3600"));
        assert_eq!(item.tags["version"], "2");
        assert_eq!(item.tags["on"], "true");
        assert_eq!(item.schema[0].line, 5);
        assert_eq!(item.schema[0].value.dtype, "Int64");
    }

    #[test]
    fn errors_carry_line_and_path() {
        let node =
            parse("name: v\nschema:\n  - {name: a, dtype: Int64}\n  - {name: b, dtyp: Int64}\n");
        let err = from_node::<Item>(&node).unwrap_err();
        assert_eq!(format_path(&err.path), "schema[1].dtyp");
        assert_eq!(err.line, Some(4));
        assert!(
            err.message.contains("unknown field `dtyp`"),
            "{}",
            err.message
        );
        assert!(err.message.contains("name, dtype"), "{}", err.message);

        let err = from_node::<Item>(&parse("ttl: 1\n")).unwrap_err();
        assert_eq!(format_path(&err.path), "name");
        assert!(err.message.contains("required"));

        let err = from_node::<Item>(&parse("name: [1]\n")).unwrap_err();
        assert_eq!(
            (format_path(&err.path).as_str(), err.line),
            ("name", Some(1))
        );
        assert!(
            err.message.contains("expected a string, found a list"),
            "{}",
            err.message
        );
    }
}
