//! AMF0 values: decode and encode (SKELETON — contract only; to be implemented).
//!
//! Contract (other modules code against exactly these items):
//! * [`Amf0Value`] with ordered object properties.
//! * [`decode_value`] decodes one value from the front of a slice and returns
//!   it with the number of bytes consumed; [`decode_all`] decodes a whole
//!   command/data body (values until the slice ends; trailing garbage is an
//!   error). Both enforce [`Amf0Limits`].
//! * [`encode_value`] / [`encode_all`] append to a `BytesMut`.
//! * Accessors `as_str`, `as_number`, `as_bool`, `get` (object / ECMA array /
//!   typed object property lookup by key).

use bytes::BytesMut;

/// One AMF0 value. Object-like values keep their properties in wire order.
#[derive(Debug, Clone, PartialEq)]
pub enum Amf0Value {
    Number(f64),
    Boolean(bool),
    /// Short (u16-length) string. Invalid UTF-8 is decoded lossily.
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
    /// Maximum nesting of objects/arrays (default 64).
    pub max_depth: usize,
}

impl Default for Amf0Limits {
    fn default() -> Self {
        Amf0Limits { max_depth: 64 }
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
}

impl Amf0Value {
    pub fn as_str(&self) -> Option<&str> {
        unimplemented!()
    }
    pub fn as_number(&self) -> Option<f64> {
        unimplemented!()
    }
    pub fn as_bool(&self) -> Option<bool> {
        unimplemented!()
    }
    /// Property lookup on Object, EcmaArray and TypedObject (first match).
    pub fn get(&self, _key: &str) -> Option<&Amf0Value> {
        unimplemented!()
    }
}

/// Decode one value from the front of `input`; returns it and bytes consumed.
pub fn decode_value(_input: &[u8], _limits: &Amf0Limits) -> Result<(Amf0Value, usize), Amf0Error> {
    unimplemented!()
}

/// Decode every value in `input` (a command or data message body).
pub fn decode_all(_input: &[u8], _limits: &Amf0Limits) -> Result<Vec<Amf0Value>, Amf0Error> {
    unimplemented!()
}

pub fn encode_value(_value: &Amf0Value, _out: &mut BytesMut) {
    unimplemented!()
}

pub fn encode_all(_values: &[Amf0Value], _out: &mut BytesMut) {
    unimplemented!()
}
