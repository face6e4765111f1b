//! The AMF0 encoder: appends values to a `BytesMut` (one reservation of the
//! exact size); over-long keys and class names are a caller bug, cut.

use bytes::{BufMut, BytesMut};

use super::*;

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
    fn floor_char_boundary_never_splits_a_character() {
        assert_eq!(floor_char_boundary("héllo", 10), "héllo");
        assert_eq!(floor_char_boundary("héllo", 3), "hé");
        assert_eq!(floor_char_boundary("héllo", 2), "h");
        assert_eq!(floor_char_boundary("héllo", 0), "");
    }
}
