//! Fuzz AMF0: `decode_value` and `decode_all` over arbitrary bytes; whatever
//! decodes is re-encoded and decoded again and must be equal (NaN-tolerant:
//! NaN equals NaN with the same bits). Values whose short strings grew past
//! 65535 bytes through lossy UTF-8 decoding are not round-tripped.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rtmp_edge::proto::amf0::{
    decode_all, decode_value, encode_all, encode_value, Amf0Limits, Amf0Value,
};

const LIMITS: Amf0Limits = Amf0Limits { max_depth: 16 };

fn num_eq(a: f64, b: f64) -> bool {
    a == b || a.to_bits() == b.to_bits()
}

fn props_eq(a: &[(String, Amf0Value)], b: &[(String, Amf0Value)]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|((ka, va), (kb, vb))| ka == kb && value_eq(va, vb))
}

fn value_eq(a: &Amf0Value, b: &Amf0Value) -> bool {
    use Amf0Value::*;
    match (a, b) {
        (Number(x), Number(y)) => num_eq(*x, *y),
        (Date { millis: x, tz: tx }, Date { millis: y, tz: ty }) => num_eq(*x, *y) && tx == ty,
        (Object(x), Object(y)) | (EcmaArray(x), EcmaArray(y)) => props_eq(x, y),
        (StrictArray(x), StrictArray(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| value_eq(p, q))
        }
        (
            TypedObject {
                class: ca,
                props: pa,
            },
            TypedObject {
                class: cb,
                props: pb,
            },
        ) => ca == cb && props_eq(pa, pb),
        _ => a == b,
    }
}

/// True when every u16-length string still fits its length field.
fn encodable(v: &Amf0Value) -> bool {
    let short = |s: &str| s.len() <= usize::from(u16::MAX);
    let props = |p: &[(String, Amf0Value)]| p.iter().all(|(k, v)| short(k) && encodable(v));
    match v {
        Amf0Value::String(s) => short(s),
        Amf0Value::Object(p) | Amf0Value::EcmaArray(p) => props(p),
        Amf0Value::StrictArray(items) => items.iter().all(encodable),
        Amf0Value::TypedObject { class, props: p } => short(class) && props(p),
        _ => true,
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok((v, used)) = decode_value(data, &LIMITS) {
        assert!(used > 0 && used <= data.len());
        if encodable(&v) {
            let mut out = BytesMut::new();
            encode_value(&v, &mut out);
            let (v2, used2) = decode_value(&out, &LIMITS).expect("re-encoded value decodes");
            assert_eq!(used2, out.len());
            assert!(value_eq(&v, &v2), "round trip changed {v:?} into {v2:?}");
        }
    }
    if let Ok(values) = decode_all(data, &LIMITS) {
        if values.iter().all(encodable) {
            let mut out = BytesMut::new();
            encode_all(&values, &mut out);
            let again = decode_all(&out, &LIMITS).expect("re-encoded values decode");
            assert_eq!(values.len(), again.len());
            for (a, b) in values.iter().zip(&again) {
                assert!(value_eq(a, b), "round trip changed {a:?} into {b:?}");
            }
        }
    }
});
