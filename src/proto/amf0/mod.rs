//! AMF0 values: decode and encode (Adobe "Action Message Format -- AMF 0").
//!
//! # Rules a caller keeps
//!
//! * AMF0 bodies arrive whole: an RTMP command or data message is fully
//!   reassembled before it is decoded, so this is not a push parser. An input
//!   that ends inside a value is [`Amf0Error::Truncated`]; the caller treats
//!   it as a malformed message (it will never get more bytes of it).
//! * [`decode_value`] decodes one value from the front of a slice and returns
//!   it with the number of bytes consumed; [`decode_all`] decodes a whole
//!   command/data body (values until the slice ends). Both enforce
//!   [`Amf0Limits`]: object/array nesting deeper than `max_depth` is
//!   [`Amf0Error::TooDeep`] (decoding recurses once per nesting level, so keep
//!   `max_depth` modest: the default 64 is far beyond what any client sends).
//! * Nothing is preallocated from a peer-supplied count beyond a small cap
//!   (ECMA array counts are only hints; the properties are read until the
//!   `00 00 09` end marker). A strict array whose count exceeds the bytes
//!   left is `Truncated` before any element is read. Memory therefore grows
//!   only with values actually present in the (size-capped) message, and
//!   the number of values in one input is capped by `max_values`
//!   ([`Amf0Error::TooManyValues`]): every value counts, nested ones too.
//! * String bytes that are not UTF-8 are decoded lossily (U+FFFD) by
//!   default. [`decode_all_with`] and [`Strings::Escaped`] percent-escape
//!   every string instead ([`escape`]: `%` -> `%25`, each invalid byte ->
//!   `%XX`), an injective mapping that [`unescape`] reverses; the server
//!   decodes commands so, so that stream and app names are never merged.
//! * Unsupported markers (movieclip 0x04, unsupported 0x0D, recordset 0x0E,
//!   the AMF3 switch 0x11) and unknown ones are [`Amf0Error::UnknownMarker`].
//!   An object-end marker (0x09) anywhere but after an empty key inside an
//!   object is [`Amf0Error::BadObjectEnd`].
//! * [`encode_value`] / [`encode_all`] append to a `BytesMut`. A
//!   [`Amf0Value::String`] longer than 65535 bytes is written as a long
//!   string (so it decodes as [`Amf0Value::LongString`]); property keys and
//!   typed-object class names longer than 65535 bytes cannot be represented
//!   and are cut at a character boundary (a bug in the caller; logged).
//!
//! Object-like values keep their properties in wire order; lookups with
//! [`Amf0Value::get`] return the first match.

mod decode;
mod encode;
mod escape;

use std::fmt;

pub use decode::{decode_all, decode_all_with, decode_exact, decode_value, Strings};
pub use encode::{encode_all, encode_value};
pub use escape::{escape, unescape};

/// Type markers (AMF0 specification, section 2.1).
pub mod marker {
    pub const NUMBER: u8 = 0x00;
    pub const BOOLEAN: u8 = 0x01;
    pub const STRING: u8 = 0x02;
    pub const OBJECT: u8 = 0x03;
    pub const MOVIECLIP: u8 = 0x04;
    pub const NULL: u8 = 0x05;
    pub const UNDEFINED: u8 = 0x06;
    pub const REFERENCE: u8 = 0x07;
    pub const ECMA_ARRAY: u8 = 0x08;
    pub const OBJECT_END: u8 = 0x09;
    pub const STRICT_ARRAY: u8 = 0x0A;
    pub const DATE: u8 = 0x0B;
    pub const LONG_STRING: u8 = 0x0C;
    pub const UNSUPPORTED: u8 = 0x0D;
    pub const RECORDSET: u8 = 0x0E;
    pub const XML_DOCUMENT: u8 = 0x0F;
    pub const TYPED_OBJECT: u8 = 0x10;
    pub const AVMPLUS: u8 = 0x11;
}

/// One AMF0 value. Object-like values keep their properties in wire order.
#[derive(Debug, Clone, PartialEq)]
pub enum Amf0Value {
    Number(f64),
    Boolean(bool),
    /// Short (u16-length) string. Invalid UTF-8 is decoded lossily, or
    /// percent-escaped with [`Strings::Escaped`].
    String(String),
    Object(Vec<(String, Amf0Value)>),
    Null,
    Undefined,
    Reference(u16),
    EcmaArray(Vec<(String, Amf0Value)>),
    StrictArray(Vec<Amf0Value>),
    /// Milliseconds since the epoch and the (ignored by everyone) time zone.
    Date {
        millis: f64,
        tz: i16,
    },
    LongString(String),
    XmlDocument(String),
    TypedObject {
        class: String,
        props: Vec<(String, Amf0Value)>,
    },
}

/// Caps on what a peer can make the decoder allocate or recurse into.
#[derive(Debug, Clone, Copy)]
pub struct Amf0Limits {
    /// Maximum nesting of objects/arrays (default 64). A top-level object is
    /// at depth 1; its object-valued properties at depth 2, and so on.
    pub max_depth: usize,
    /// Maximum number of values in one decoded input (default
    /// [`DEFAULT_MAX_VALUES`]): every value counts, nested ones and property
    /// values included, so memory is bounded by the count, not only by the
    /// message size (a 1-byte null becomes a 32-byte [`Amf0Value`]).
    pub max_values: usize,
}

/// Default [`Amf0Limits::max_values`]: far above any real command or
/// `onMetaData` (a keyframe index of a two-hour file has about 7200 values).
pub const DEFAULT_MAX_VALUES: usize = 128 * 1024;

impl Default for Amf0Limits {
    fn default() -> Self {
        Amf0Limits {
            max_depth: 64,
            max_values: DEFAULT_MAX_VALUES,
        }
    }
}

/// Why a byte sequence is not valid AMF0.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Amf0Error {
    /// The input ended inside a value (`needed` more bytes at least).
    Truncated { needed: usize },
    /// An unknown or unsupported type marker.
    UnknownMarker(u8),
    /// Nesting deeper than [`Amf0Limits::max_depth`].
    TooDeep { limit: usize },
    /// An object-end marker where none may stand, or a missing one.
    BadObjectEnd,
    /// Bytes left after the last value where none may be.
    TrailingBytes(usize),
    /// More values in one input than [`Amf0Limits::max_values`].
    TooManyValues { limit: usize },
}

impl fmt::Display for Amf0Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Amf0Error::Truncated { needed } => {
                write!(
                    f,
                    "AMF0 input truncated: at least {needed} more bytes needed"
                )
            }
            Amf0Error::UnknownMarker(m) => {
                write!(f, "unknown or unsupported AMF0 marker 0x{m:02x}")
            }
            Amf0Error::TooDeep { limit } => {
                write!(f, "AMF0 nesting deeper than the limit of {limit}")
            }
            Amf0Error::BadObjectEnd => f.write_str("misplaced or missing AMF0 object-end marker"),
            Amf0Error::TrailingBytes(n) => write!(f, "{n} trailing bytes after the AMF0 values"),
            Amf0Error::TooManyValues { limit } => {
                write!(f, "more than {limit} AMF0 values in one message")
            }
        }
    }
}

impl std::error::Error for Amf0Error {}

impl Amf0Value {
    /// A `String` value (or a `LongString` if longer than 65535 bytes).
    pub fn string(s: impl Into<String>) -> Amf0Value {
        let s = s.into();
        if s.len() > u16::MAX as usize {
            Amf0Value::LongString(s)
        } else {
            Amf0Value::String(s)
        }
    }

    /// An anonymous object from `(key, value)` pairs, in the given order.
    pub fn object<K: Into<String>>(props: impl IntoIterator<Item = (K, Amf0Value)>) -> Amf0Value {
        Amf0Value::Object(props.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// An ECMA array from `(key, value)` pairs, in the given order.
    pub fn ecma_array<K: Into<String>>(
        props: impl IntoIterator<Item = (K, Amf0Value)>,
    ) -> Amf0Value {
        Amf0Value::EcmaArray(props.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// The text of a `String` or `LongString`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Amf0Value::String(s) | Amf0Value::LongString(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_number(&self) -> Option<f64> {
        match self {
            Amf0Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Amf0Value::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    /// The properties of an Object, EcmaArray or TypedObject.
    pub fn properties(&self) -> Option<&[(String, Amf0Value)]> {
        match self {
            Amf0Value::Object(p)
            | Amf0Value::EcmaArray(p)
            | Amf0Value::TypedObject { props: p, .. } => Some(p),
            _ => None,
        }
    }

    /// Property lookup on Object, EcmaArray and TypedObject (first match).
    pub fn get(&self, key: &str) -> Option<&Amf0Value> {
        self.properties()?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// `Null` or `Undefined`.
    pub fn is_null_or_undefined(&self) -> bool {
        matches!(self, Amf0Value::Null | Amf0Value::Undefined)
    }

    /// Exact number of bytes [`encode_value`] writes for this value.
    pub fn encoded_len(&self) -> usize {
        fn props_len(props: &[(String, Amf0Value)]) -> usize {
            props
                .iter()
                .map(|(k, v)| 2 + k.len().min(u16::MAX as usize) + v.encoded_len())
                .sum::<usize>()
                + 3
        }
        match self {
            Amf0Value::Number(_) => 9,
            Amf0Value::Boolean(_) => 2,
            Amf0Value::String(s) if s.len() <= u16::MAX as usize => 3 + s.len(),
            Amf0Value::String(s) | Amf0Value::LongString(s) | Amf0Value::XmlDocument(s) => {
                5 + s.len()
            }
            Amf0Value::Object(p) => 1 + props_len(p),
            Amf0Value::Null | Amf0Value::Undefined => 1,
            Amf0Value::Reference(_) => 3,
            Amf0Value::EcmaArray(p) => 5 + props_len(p),
            Amf0Value::StrictArray(items) => {
                5 + items.iter().map(Amf0Value::encoded_len).sum::<usize>()
            }
            Amf0Value::Date { .. } => 11,
            Amf0Value::TypedObject { class, props } => {
                3 + class.len().min(u16::MAX as usize) + props_len(props)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;

    #[test]
    fn display_of_every_error() {
        let cases: [(Amf0Error, &str); 6] = [
            (
                Amf0Error::Truncated { needed: 3 },
                "AMF0 input truncated: at least 3 more bytes needed",
            ),
            (
                Amf0Error::UnknownMarker(0x11),
                "unknown or unsupported AMF0 marker 0x11",
            ),
            (
                Amf0Error::TooDeep { limit: 64 },
                "AMF0 nesting deeper than the limit of 64",
            ),
            (
                Amf0Error::BadObjectEnd,
                "misplaced or missing AMF0 object-end marker",
            ),
            (
                Amf0Error::TrailingBytes(2),
                "2 trailing bytes after the AMF0 values",
            ),
            (
                Amf0Error::TooManyValues { limit: 7 },
                "more than 7 AMF0 values in one message",
            ),
        ];
        for (e, want) in cases {
            assert_eq!(e.to_string(), want);
            let _: &dyn std::error::Error = &e;
        }
    }

    #[test]
    fn encoded_len_matches_encoding() {
        let v = Amf0Value::object([
            ("a", Amf0Value::Number(1.0)),
            ("b", Amf0Value::string("xyz")),
            (
                "c",
                Amf0Value::StrictArray(vec![Amf0Value::Null, Amf0Value::Boolean(true)]),
            ),
            (
                "d",
                Amf0Value::TypedObject {
                    class: "K".into(),
                    props: vec![("e".into(), Amf0Value::Reference(2))],
                },
            ),
            ("f", Amf0Value::ecma_array([("g", Amf0Value::Undefined)])),
            (
                "h",
                Amf0Value::Date {
                    millis: 5.0,
                    tz: -60,
                },
            ),
            ("i", Amf0Value::XmlDocument("<x/>".into())),
        ]);
        let mut out = BytesMut::new();
        encode_value(&v, &mut out);
        assert_eq!(out.len(), v.encoded_len());
    }

    #[test]
    fn decode_exact_rejects_trailing_bytes() {
        let l = Amf0Limits::default();
        assert_eq!(decode_exact(&[0x05], &l), Ok(Amf0Value::Null));
        assert_eq!(
            decode_exact(&[0x05, 0x05, 0x06], &l),
            Err(Amf0Error::TrailingBytes(2))
        );
    }
}
