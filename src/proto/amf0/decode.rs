//! The AMF0 decoder: a bounded recursive reader over a whole body (depth,
//! value count and preallocation capped; see the parent module's rules).

use super::*;

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
