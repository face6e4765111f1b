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

use std::fmt::{self, Write as _};

use bytes::{BufMut, BytesMut};

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

/// Cap on the capacity reserved up front from a peer's element count (ECMA
/// array hint, strict array count); beyond it vectors grow as values arrive.
const PREALLOC_CAP: usize = 16;
/// Smallest encoding of one object property: empty key (2) + null (1).
const MIN_PROPERTY_LEN: usize = 3;

/// How string bytes become a `String`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Strings {
    /// Invalid UTF-8 is replaced by U+FFFD (two inputs may give one string).
    #[default]
    Lossy,
    /// Percent-escaped ([`escape`]): injective, so different bytes always
    /// give different strings; valid UTF-8 without `%` is unchanged.
    Escaped,
}

struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
    max_depth: usize,
    /// Values read so far and the cap on them.
    values: usize,
    max_values: usize,
    strings: Strings,
}

impl<'a> Reader<'a> {
    fn new(input: &'a [u8], limits: &Amf0Limits, strings: Strings) -> Self {
        Reader {
            input,
            pos: 0,
            max_depth: limits.max_depth,
            values: 0,
            max_values: limits.max_values,
            strings,
        }
    }

    #[inline]
    fn remaining(&self) -> usize {
        self.input.len() - self.pos
    }

    #[inline]
    fn take(&mut self, n: usize) -> Result<&'a [u8], Amf0Error> {
        let rem = self.remaining();
        if n > rem {
            return Err(Amf0Error::Truncated { needed: n - rem });
        }
        let s = &self.input[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    #[inline]
    fn array<const N: usize>(&mut self) -> Result<[u8; N], Amf0Error> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    #[inline]
    fn u8(&mut self) -> Result<u8, Amf0Error> {
        Ok(self.array::<1>()?[0])
    }

    #[inline]
    fn u16(&mut self) -> Result<u16, Amf0Error> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    #[inline]
    fn u32(&mut self) -> Result<u32, Amf0Error> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    #[inline]
    fn f64(&mut self) -> Result<f64, Amf0Error> {
        Ok(f64::from_be_bytes(self.array()?))
    }

    #[inline]
    fn text(&mut self, len: usize) -> Result<String, Amf0Error> {
        let bytes = self.take(len)?;
        Ok(match (std::str::from_utf8(bytes), self.strings) {
            (Ok(s), Strings::Lossy) => s.to_owned(),
            (Err(_), Strings::Lossy) => String::from_utf8_lossy(bytes).into_owned(),
            (_, Strings::Escaped) => escape(bytes),
        })
    }

    #[inline]
    fn short_string(&mut self) -> Result<String, Amf0Error> {
        let len = self.u16()? as usize;
        self.text(len)
    }

    #[inline]
    fn long_string(&mut self) -> Result<String, Amf0Error> {
        let len = self.u32()? as usize;
        self.text(len)
    }

    fn enter(&self, depth: usize) -> Result<usize, Amf0Error> {
        let depth = depth + 1;
        if depth > self.max_depth {
            return Err(Amf0Error::TooDeep {
                limit: self.max_depth,
            });
        }
        Ok(depth)
    }

    /// Properties up to and including the `00 00 09` end marker.
    fn properties(
        &mut self,
        depth: usize,
        props: &mut Vec<(String, Amf0Value)>,
    ) -> Result<(), Amf0Error> {
        loop {
            let key_len = self.u16()? as usize;
            if key_len == 0 {
                // Either the object end or a property with an empty key.
                match self.input.get(self.pos) {
                    Some(&marker::OBJECT_END) => {
                        self.pos += 1;
                        return Ok(());
                    }
                    Some(_) => {}
                    None => return Err(Amf0Error::Truncated { needed: 1 }),
                }
            }
            let key = self.text(key_len)?;
            let value = self.value(depth)?;
            props.push((key, value));
        }
    }

    fn value(&mut self, depth: usize) -> Result<Amf0Value, Amf0Error> {
        self.values += 1;
        if self.values > self.max_values {
            return Err(Amf0Error::TooManyValues {
                limit: self.max_values,
            });
        }
        let m = self.u8()?;
        Ok(match m {
            marker::NUMBER => Amf0Value::Number(self.f64()?),
            marker::BOOLEAN => Amf0Value::Boolean(self.u8()? != 0),
            marker::STRING => Amf0Value::String(self.short_string()?),
            marker::OBJECT => {
                let depth = self.enter(depth)?;
                let mut props = Vec::new();
                self.properties(depth, &mut props)?;
                Amf0Value::Object(props)
            }
            marker::NULL => Amf0Value::Null,
            marker::UNDEFINED => Amf0Value::Undefined,
            marker::REFERENCE => Amf0Value::Reference(self.u16()?),
            marker::ECMA_ARRAY => {
                let depth = self.enter(depth)?;
                let hint = self.u32()? as usize;
                let cap = hint
                    .min(PREALLOC_CAP)
                    .min(self.remaining() / MIN_PROPERTY_LEN);
                let mut props = Vec::with_capacity(cap);
                self.properties(depth, &mut props)?;
                Amf0Value::EcmaArray(props)
            }
            marker::OBJECT_END => return Err(Amf0Error::BadObjectEnd),
            marker::STRICT_ARRAY => {
                let depth = self.enter(depth)?;
                let count = self.u32()? as usize;
                // Every element takes at least one byte.
                let rem = self.remaining();
                if count > rem {
                    return Err(Amf0Error::Truncated {
                        needed: count - rem,
                    });
                }
                let mut items = Vec::with_capacity(count.min(PREALLOC_CAP));
                for _ in 0..count {
                    items.push(self.value(depth)?);
                }
                Amf0Value::StrictArray(items)
            }
            marker::DATE => {
                let millis = self.f64()?;
                let tz = i16::from_be_bytes(self.array()?);
                Amf0Value::Date { millis, tz }
            }
            marker::LONG_STRING => Amf0Value::LongString(self.long_string()?),
            marker::XML_DOCUMENT => Amf0Value::XmlDocument(self.long_string()?),
            marker::TYPED_OBJECT => {
                let depth = self.enter(depth)?;
                let class = self.short_string()?;
                let mut props = Vec::new();
                self.properties(depth, &mut props)?;
                Amf0Value::TypedObject { class, props }
            }
            other => return Err(Amf0Error::UnknownMarker(other)),
        })
    }
}

/// Decode one value from the front of `input`; returns it and bytes consumed.
pub fn decode_value(input: &[u8], limits: &Amf0Limits) -> Result<(Amf0Value, usize), Amf0Error> {
    let mut r = Reader::new(input, limits, Strings::Lossy);
    let v = r.value(0)?;
    Ok((v, r.pos))
}

/// Decode exactly one value that fills all of `input`; bytes after it are
/// [`Amf0Error::TrailingBytes`].
pub fn decode_exact(input: &[u8], limits: &Amf0Limits) -> Result<Amf0Value, Amf0Error> {
    let (v, used) = decode_value(input, limits)?;
    match input.len() - used {
        0 => Ok(v),
        n => Err(Amf0Error::TrailingBytes(n)),
    }
}

/// Decode every value in `input` (a command or data message body).
///
/// Values are read until the input ends; an input that ends inside a value is
/// `Truncated`. An empty input gives an empty vector.
pub fn decode_all(input: &[u8], limits: &Amf0Limits) -> Result<Vec<Amf0Value>, Amf0Error> {
    decode_all_with(input, limits, Strings::Lossy)
}

/// [`decode_all`] with a choice of how string bytes become text (the
/// server decodes commands with [`Strings::Escaped`] so that names it keys
/// streams by are never merged).
pub fn decode_all_with(
    input: &[u8],
    limits: &Amf0Limits,
    strings: Strings,
) -> Result<Vec<Amf0Value>, Amf0Error> {
    let mut r = Reader::new(input, limits, strings);
    // Commands carry name, tx, object and one or two arguments.
    let mut out = Vec::with_capacity(4);
    while r.remaining() > 0 {
        out.push(r.value(0)?);
    }
    Ok(out)
}

/// Percent-escape string bytes: `%` becomes `%25` and every byte of an
/// invalid UTF-8 sequence `%XX` (upper-case hex); all other characters are
/// kept. Injective, and the identity on valid UTF-8 without `%`.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    let mut rest = bytes;
    loop {
        let (valid, bad) = match std::str::from_utf8(rest) {
            Ok(s) => (s, &[][..]),
            Err(e) => {
                let (v, tail) = rest.split_at(e.valid_up_to());
                let n = e.error_len().unwrap_or(tail.len());
                rest = &tail[n..];
                // Checked by from_utf8 up to valid_up_to.
                (std::str::from_utf8(v).unwrap_or_default(), &tail[..n])
            }
        };
        for (i, part) in valid.split('%').enumerate() {
            if i > 0 {
                out.push_str("%25");
            }
            out.push_str(part);
        }
        for b in bad {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{b:02X}");
        }
        if bad.is_empty() {
            return out;
        }
    }
}

/// The bytes an [`escape`]d string stands for (`%XX` decoded; a `%` not
/// followed by two hex digits is kept as it is).
pub fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match (b[i], hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// Cut `s` to at most `max` bytes at a character boundary.
fn clamp_str(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    log::error!(
        "AMF0 encode: a {} byte key or class name does not fit a u16 length; cut",
        s.len()
    );
    debug_assert!(false, "AMF0 key or class name longer than 65535 bytes");
    floor_char_boundary(s, max)
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character
/// boundary.
fn floor_char_boundary(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn put_short_string(s: &str, out: &mut BytesMut) {
    let s = clamp_str(s, u16::MAX as usize);
    out.put_u16(s.len() as u16);
    out.put_slice(s.as_bytes());
}

fn put_long_string(s: &str, out: &mut BytesMut) {
    let s = clamp_str(s, u32::MAX as usize);
    out.put_u32(s.len() as u32);
    out.put_slice(s.as_bytes());
}

fn put_properties(props: &[(String, Amf0Value)], out: &mut BytesMut) {
    for (k, v) in props {
        put_short_string(k, out);
        put_value(v, out);
    }
    out.put_slice(&[0, 0, marker::OBJECT_END]);
}

fn put_value(value: &Amf0Value, out: &mut BytesMut) {
    match value {
        Amf0Value::Number(n) => {
            out.put_u8(marker::NUMBER);
            out.put_f64(*n);
        }
        Amf0Value::Boolean(b) => {
            out.put_u8(marker::BOOLEAN);
            out.put_u8(u8::from(*b));
        }
        Amf0Value::String(s) if s.len() <= u16::MAX as usize => {
            out.put_u8(marker::STRING);
            put_short_string(s, out);
        }
        Amf0Value::String(s) | Amf0Value::LongString(s) => {
            out.put_u8(marker::LONG_STRING);
            put_long_string(s, out);
        }
        Amf0Value::Object(props) => {
            out.put_u8(marker::OBJECT);
            put_properties(props, out);
        }
        Amf0Value::Null => out.put_u8(marker::NULL),
        Amf0Value::Undefined => out.put_u8(marker::UNDEFINED),
        Amf0Value::Reference(r) => {
            out.put_u8(marker::REFERENCE);
            out.put_u16(*r);
        }
        Amf0Value::EcmaArray(props) => {
            out.put_u8(marker::ECMA_ARRAY);
            out.put_u32(u32::try_from(props.len()).unwrap_or(u32::MAX));
            put_properties(props, out);
        }
        Amf0Value::StrictArray(items) => {
            out.put_u8(marker::STRICT_ARRAY);
            out.put_u32(u32::try_from(items.len()).unwrap_or(u32::MAX));
            for item in items {
                put_value(item, out);
            }
        }
        Amf0Value::Date { millis, tz } => {
            out.put_u8(marker::DATE);
            out.put_f64(*millis);
            out.put_i16(*tz);
        }
        Amf0Value::XmlDocument(s) => {
            out.put_u8(marker::XML_DOCUMENT);
            put_long_string(s, out);
        }
        Amf0Value::TypedObject { class, props } => {
            out.put_u8(marker::TYPED_OBJECT);
            put_short_string(class, out);
            put_properties(props, out);
        }
    }
}

/// Append the encoding of `value` to `out`.
pub fn encode_value(value: &Amf0Value, out: &mut BytesMut) {
    out.reserve(value.encoded_len());
    put_value(value, out);
}

/// Append the encodings of `values`, one after the other, to `out`.
pub fn encode_all(values: &[Amf0Value], out: &mut BytesMut) {
    out.reserve(values.iter().map(Amf0Value::encoded_len).sum());
    for v in values {
        put_value(v, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn floor_char_boundary_never_splits_a_character() {
        assert_eq!(floor_char_boundary("héllo", 10), "héllo");
        assert_eq!(floor_char_boundary("héllo", 3), "hé");
        assert_eq!(floor_char_boundary("héllo", 2), "h");
        assert_eq!(floor_char_boundary("héllo", 0), "");
    }

    #[test]
    fn escape_cases() {
        assert_eq!(escape(b"cam"), "cam");
        assert_eq!(escape("é✓".as_bytes()), "é✓");
        assert_eq!(escape(b"50%"), "50%25");
        assert_eq!(escape(b"a\xffb"), "a%FFb");
        assert_eq!(escape(b"\xe2\x9c"), "%E2%9C", "cut sequence at the end");
        assert_eq!(escape(b"\xe2\x9c%\xe2\x9c\x93"), "%E2%9C%25✓");
        assert_eq!(unescape("a%FFb%25%zz%4"), b"a\xffb%%zz%4");
    }

    /// Random bytes: unescape(escape(b)) == b, so escape is injective.
    #[test]
    fn escape_round_trips_random_bytes() {
        use rand::rngs::StdRng;
        use rand::{Rng, SeedableRng};
        for seed in 0..2000u64 {
            let mut rng = StdRng::seed_from_u64(seed);
            let len = rng.random_range(0..40);
            let b: Vec<u8> = (0..len)
                .map(|_| match rng.random_range(0..4) {
                    0 => b'%',
                    1 => rng.random_range(0x80..=0xFF),
                    _ => rng.random_range(0x20..0x7F),
                })
                .collect();
            assert_eq!(unescape(&escape(&b)), b, "seed {seed}");
        }
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
