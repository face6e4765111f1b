//! AMF0 decode/encode: golden vectors (spec layouts and real captures),
//! error cases, limits and seeded property tests.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use bytes::BytesMut;
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use rtmp_edge::proto::amf0::{
    decode_all, decode_value, encode_all, encode_value, Amf0Error, Amf0Limits, Amf0Value,
};

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("golden/amf0")
        .join(name)
}

fn golden(name: &str) -> Vec<u8> {
    let p = golden_path(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

fn lim() -> Amf0Limits {
    Amf0Limits::default()
}

fn enc(v: &Amf0Value) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode_value(v, &mut out);
    out.to_vec()
}

fn enc_all(vs: &[Amf0Value]) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode_all(vs, &mut out);
    out.to_vec()
}

fn num(n: f64) -> Amf0Value {
    Amf0Value::Number(n)
}

fn s(t: &str) -> Amf0Value {
    Amf0Value::string(t)
}

// ---------------------------------------------------------------- spec layouts

fn spec_cases() -> Vec<(&'static str, Amf0Value)> {
    vec![
        ("spec_number.bin", num(1234.5)),
        ("spec_number_neg_zero.bin", num(-0.0)),
        ("spec_boolean_true.bin", Amf0Value::Boolean(true)),
        ("spec_boolean_false.bin", Amf0Value::Boolean(false)),
        ("spec_string.bin", s("hello \u{e9}")),
        ("spec_string_empty.bin", s("")),
        (
            "spec_object.bin",
            Amf0Value::object([("b", num(2.0)), ("a", s("x")), ("", Amf0Value::Null)]),
        ),
        ("spec_object_empty.bin", Amf0Value::Object(vec![])),
        ("spec_null.bin", Amf0Value::Null),
        ("spec_undefined.bin", Amf0Value::Undefined),
        ("spec_reference.bin", Amf0Value::Reference(0x0102)),
        (
            "spec_ecma_array.bin",
            Amf0Value::ecma_array([("width", num(320.0)), ("stereo", Amf0Value::Boolean(false))]),
        ),
        (
            "spec_strict_array.bin",
            Amf0Value::StrictArray(vec![num(1.0), s("two"), Amf0Value::Null]),
        ),
        (
            "spec_date.bin",
            Amf0Value::Date {
                millis: 1_700_000_000_000.0,
                tz: -120,
            },
        ),
        ("spec_long_string.bin", Amf0Value::LongString("abc".into())),
        (
            "spec_xml_document.bin",
            Amf0Value::XmlDocument("<a>b</a>!".into()),
        ),
        (
            "spec_typed_object.bin",
            Amf0Value::TypedObject {
                class: "flash.Point".into(),
                props: vec![("x".into(), num(1.0)), ("y".into(), num(-1.0))],
            },
        ),
        (
            "spec_nested.bin",
            Amf0Value::object([(
                "o",
                Amf0Value::object([(
                    "arr",
                    Amf0Value::StrictArray(vec![Amf0Value::EcmaArray(vec![])]),
                )]),
            )]),
        ),
    ]
}

#[test]
fn golden_spec_vectors_decode_and_reencode_byte_for_byte() {
    for (file, want) in spec_cases() {
        let bytes = golden(file);
        let (got, used) = decode_value(&bytes, &lim()).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(got, want, "{file}");
        assert_eq!(used, bytes.len(), "{file}: consumed");
        assert_eq!(enc(&want), bytes, "{file}: re-encode");
        assert_eq!(want.encoded_len(), bytes.len(), "{file}: encoded_len");
    }
}

#[test]
fn negative_zero_keeps_its_sign() {
    let (v, _) = decode_value(&golden("spec_number_neg_zero.bin"), &lim()).unwrap();
    assert!(v.as_number().unwrap().is_sign_negative());
}

// ---------------------------------------------------------------- captures

const CAPTURE_FILES: &[&str] = &[
    "ffmpeg_connect.bin",
    "ffmpeg_release_stream.bin",
    "ffmpeg_fcpublish.bin",
    "ffmpeg_create_stream.bin",
    "ffmpeg_publish.bin",
    "ffmpeg_fcunpublish.bin",
    "ffmpeg_delete_stream.bin",
    "ffmpeg_set_data_frame.bin",
    "ffmpeg_play_connect.bin",
    "ffmpeg_get_stream_length.bin",
    "ffmpeg_play.bin",
    "rtmpdump_play.bin",
    "gst_connect.bin",
    "gst_publish.bin",
    "gst_set_data_frame.bin",
    "gst_fcunpublish.bin",
    "gst_delete_stream.bin",
    "gst_play.bin",
    "nginx_connect_result.bin",
    "nginx_create_stream_result.bin",
    "nginx_publish_start.bin",
    "nginx_unpublish_success.bin",
    "nginx_sample_access.bin",
];

#[test]
fn golden_capture_bodies_roundtrip_byte_for_byte() {
    for file in CAPTURE_FILES {
        let bytes = golden(file);
        let values = decode_all(&bytes, &lim()).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(values.len() >= 2, "{file}: {values:?}");
        assert_eq!(enc_all(&values), bytes, "{file}: re-encode");
    }
}

const TEXT_FORMS: [&str; 5] = [
    "ffmpeg_connect",
    "ffmpeg_set_data_frame",
    "gst_connect",
    "gst_set_data_frame",
    "nginx_connect_result",
];

/// `NAME.txt`: the `Debug` form of the decoded capture vector.
fn text_form(stem: &str) -> String {
    let values = decode_all(&golden(&format!("{stem}.bin")), &lim()).unwrap();
    format!("{values:#?}\n")
}

/// A snapshot test: each `NAME.txt` is the decoder's own earlier output, so
/// this catches a change of the decoded form, not a wrong one. The
/// `*_fields` tests below check every one of these vectors independently.
#[test]
fn golden_capture_text_forms_match() {
    for stem in TEXT_FORMS {
        let path = golden_path(&format!("{stem}.txt"));
        let want = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        assert_eq!(text_form(stem), want, "{stem}.txt");
    }
}

/// Rewrites the `NAME.txt` snapshots after a deliberate change of the `Debug`
/// form; asserts nothing (review the diff).
#[test]
#[ignore = "regenerates golden/amf0/*.txt; run on purpose and review the diff"]
fn regen_amf0_golden() {
    for stem in TEXT_FORMS {
        std::fs::write(golden_path(&format!("{stem}.txt")), text_form(stem)).unwrap();
    }
}

#[test]
fn nginx_connect_result_fields() {
    let v = decode_all(&golden("nginx_connect_result.bin"), &lim()).unwrap();
    assert_eq!(v.len(), 4);
    assert_eq!(v[0].as_str(), Some("_result"));
    assert_eq!(v[1].as_number(), Some(1.0));
    assert_eq!(
        v[2].get("fmsVer").and_then(Amf0Value::as_str),
        Some("FMS/3,0,1,123")
    );
    assert_eq!(
        v[2].get("capabilities").and_then(Amf0Value::as_number),
        Some(31.0)
    );
    let code = v[3].get("code").and_then(Amf0Value::as_str);
    assert_eq!(code, Some("NetConnection.Connect.Success"));
    assert_eq!(
        v[3].get("objectEncoding").and_then(Amf0Value::as_number),
        Some(0.0)
    );
}

#[test]
fn ffmpeg_connect_fields() {
    let v = decode_all(&golden("ffmpeg_connect.bin"), &lim()).unwrap();
    assert_eq!(v.len(), 3);
    assert_eq!(v[0].as_str(), Some("connect"));
    assert_eq!(v[1].as_number(), Some(1.0));
    let obj = &v[2];
    assert_eq!(obj.get("app").and_then(Amf0Value::as_str), Some("live"));
    assert_eq!(
        obj.get("type").and_then(Amf0Value::as_str),
        Some("nonprivate")
    );
    assert_eq!(
        obj.get("flashVer").and_then(Amf0Value::as_str),
        Some("FMLE/3.0 (compatible; Lavf59.27.100)")
    );
    assert_eq!(
        obj.get("tcUrl").and_then(Amf0Value::as_str),
        Some("rtmp://127.0.0.1:19351/live")
    );
    let keys: Vec<&str> = obj
        .properties()
        .unwrap()
        .iter()
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(
        keys,
        ["app", "type", "flashVer", "tcUrl"],
        "wire order kept"
    );
}

#[test]
fn gst_connect_fields() {
    let v = decode_all(&golden("gst_connect.bin"), &lim()).unwrap();
    assert_eq!(v[0].as_str(), Some("connect"));
    assert_eq!(v[1].as_number(), Some(1.0));
    assert_eq!(v[2].get("app").and_then(Amf0Value::as_str), Some("live"));
    assert_eq!(
        v[2].get("flashVer").and_then(Amf0Value::as_str),
        Some("LNX 10,0,32,18")
    );
    assert_eq!(
        v[2].get("tcUrl").and_then(Amf0Value::as_str),
        Some("rtmp://127.0.0.1:19351/live")
    );
}

#[test]
fn ffmpeg_on_metadata_fields() {
    let v = decode_all(&golden("ffmpeg_set_data_frame.bin"), &lim()).unwrap();
    assert_eq!(v.len(), 3);
    assert_eq!(v[0].as_str(), Some("@setDataFrame"));
    assert_eq!(v[1].as_str(), Some("onMetaData"));
    let meta = &v[2];
    assert!(matches!(meta, Amf0Value::EcmaArray(p) if p.len() == 13));
    let n = |k: &str| meta.get(k).and_then(Amf0Value::as_number);
    assert_eq!(n("width"), Some(320.0));
    assert_eq!(n("height"), Some(240.0));
    assert_eq!(n("framerate"), Some(15.0));
    assert_eq!(n("videocodecid"), Some(7.0));
    assert_eq!(n("audiocodecid"), Some(10.0));
    assert_eq!(n("audiosamplerate"), Some(44100.0));
    assert_eq!(n("duration"), Some(4.0));
    assert_eq!(meta.get("stereo").and_then(Amf0Value::as_bool), Some(false));
    assert_eq!(
        meta.get("encoder").and_then(Amf0Value::as_str),
        Some("Lavf59.27.100")
    );
}

#[test]
fn gst_on_metadata_fields() {
    let v = decode_all(&golden("gst_set_data_frame.bin"), &lim()).unwrap();
    assert_eq!(v[1].as_str(), Some("onMetaData"));
    let meta = &v[2];
    assert_eq!(
        meta.get("width").and_then(Amf0Value::as_number),
        Some(320.0)
    );
    assert_eq!(
        meta.get("height").and_then(Amf0Value::as_number),
        Some(240.0)
    );
    assert_eq!(
        meta.get("metadatacreator").and_then(Amf0Value::as_str),
        Some("GStreamer 1.22.0 FLV muxer")
    );
}

// ---------------------------------------------------------------- errors

#[test]
fn string_longer_than_input_is_truncated() {
    // String claiming 10 bytes with 3 present.
    let b = [0x02, 0x00, 0x0a, b'a', b'b', b'c'];
    assert_eq!(
        decode_value(&b, &lim()),
        Err(Amf0Error::Truncated { needed: 7 })
    );
    // Long string claiming 2^32-1 bytes.
    let b = [0x0c, 0xff, 0xff, 0xff, 0xff, b'x'];
    assert_eq!(
        decode_value(&b, &lim()),
        Err(Amf0Error::Truncated {
            needed: 0xffff_ffff - 1
        })
    );
    // Number with 4 of 8 bytes.
    assert_eq!(
        decode_value(&[0x00, 1, 2, 3, 4], &lim()),
        Err(Amf0Error::Truncated { needed: 4 })
    );
    assert_eq!(
        decode_value(&[], &lim()),
        Err(Amf0Error::Truncated { needed: 1 })
    );
}

#[test]
fn unsupported_and_unknown_markers() {
    for m in [0x04u8, 0x0d, 0x0e, 0x11, 0x12, 0x7f, 0xff] {
        assert_eq!(
            decode_value(&[m, 0, 0, 0, 0], &lim()),
            Err(Amf0Error::UnknownMarker(m)),
            "marker {m:#x}"
        );
    }
}

#[test]
fn object_end_marker_out_of_place() {
    assert_eq!(decode_value(&[0x09], &lim()), Err(Amf0Error::BadObjectEnd));
    // As a property value.
    let b = [0x03, 0x00, 0x01, b'k', 0x09];
    assert_eq!(decode_value(&b, &lim()), Err(Amf0Error::BadObjectEnd));
    // As a strict array element.
    let b = [0x0a, 0, 0, 0, 1, 0x09];
    assert_eq!(decode_value(&b, &lim()), Err(Amf0Error::BadObjectEnd));
}

#[test]
fn missing_object_end_is_truncated() {
    // Object with one property and no 00 00 09.
    let b = [0x03, 0x00, 0x01, b'k', 0x05];
    assert!(matches!(
        decode_value(&b, &lim()),
        Err(Amf0Error::Truncated { .. })
    ));
    // Empty key at the very end (end marker byte missing).
    let b = [0x03, 0x00, 0x00];
    assert_eq!(
        decode_value(&b, &lim()),
        Err(Amf0Error::Truncated { needed: 1 })
    );
    // ECMA array whose count says 1 but whose end marker is missing.
    let b = [0x08, 0, 0, 0, 1, 0x00, 0x01, b'k', 0x05];
    assert!(matches!(
        decode_value(&b, &lim()),
        Err(Amf0Error::Truncated { .. })
    ));
}

#[test]
fn ecma_array_count_is_only_a_hint() {
    // Count says 4 billion, one property, then the end marker.
    let mut b = vec![0x08, 0xff, 0xff, 0xff, 0xff, 0x00, 0x01, b'k'];
    b.extend_from_slice(&enc(&num(1.0)));
    b.extend_from_slice(&[0, 0, 9]);
    let (v, used) = decode_value(&b, &lim()).unwrap();
    assert_eq!(used, b.len());
    assert_eq!(v, Amf0Value::ecma_array([("k", num(1.0))]));
    // Count says 0 but there are two properties (some encoders do this).
    let mut b = vec![0x08, 0, 0, 0, 0];
    for k in [b'a', b'b'] {
        b.extend_from_slice(&[0x00, 0x01, k]);
        b.extend_from_slice(&enc(&Amf0Value::Null));
    }
    b.extend_from_slice(&[0, 0, 9]);
    let (v, _) = decode_value(&b, &lim()).unwrap();
    assert_eq!(v.properties().unwrap().len(), 2);
}

#[test]
fn strict_array_count_capped_by_remaining_bytes() {
    let b = [0x0a, 0xff, 0xff, 0xff, 0xff, 0x05, 0x05];
    assert_eq!(
        decode_value(&b, &lim()),
        Err(Amf0Error::Truncated {
            needed: 0xffff_ffff - 2
        })
    );
    // Count 3 with two elements present.
    let b = [0x0a, 0, 0, 0, 3, 0x05, 0x06];
    assert!(matches!(
        decode_value(&b, &lim()),
        Err(Amf0Error::Truncated { .. })
    ));
}

#[test]
fn invalid_utf8_is_decoded_lossily() {
    let b = [0x02, 0x00, 0x03, b'a', 0xff, b'b'];
    let (v, used) = decode_value(&b, &lim()).unwrap();
    assert_eq!(used, 6);
    assert_eq!(v.as_str(), Some("a\u{fffd}b"));
}

#[test]
fn decode_value_reports_consumed_bytes_and_leaves_the_rest() {
    let mut b = enc(&s("first"));
    b.extend_from_slice(&enc(&num(2.0)));
    let (v, used) = decode_value(&b, &lim()).unwrap();
    assert_eq!(v, s("first"));
    assert_eq!(used, 8);
    assert_eq!(decode_all(&b, &lim()).unwrap(), vec![s("first"), num(2.0)]);
    assert_eq!(decode_all(&[], &lim()).unwrap(), Vec::<Amf0Value>::new());
}

// ---------------------------------------------------------------- limits

fn nested_objects(depth: usize) -> Vec<u8> {
    let mut b = Vec::with_capacity(depth * 7);
    for _ in 0..depth {
        b.extend_from_slice(&[0x03, 0x00, 0x01, b'o']);
    }
    b.push(0x05);
    for _ in 0..depth {
        b.extend_from_slice(&[0, 0, 9]);
    }
    b
}

#[test]
fn ten_thousand_nested_objects_are_too_deep_not_a_stack_overflow() {
    let b = nested_objects(10_000);
    assert_eq!(
        decode_value(&b, &lim()),
        Err(Amf0Error::TooDeep { limit: 64 })
    );
    // Same with strict arrays, ECMA arrays and typed objects, unterminated.
    for head in [
        &[0x0a, 0, 0, 0, 1][..],
        &[0x08, 0, 0, 0, 1, 0x00, 0x01, b'k'][..],
        &[0x10, 0x00, 0x01, b'C', 0x00, 0x01, b'k'][..],
    ] {
        let b: Vec<u8> = head
            .iter()
            .copied()
            .cycle()
            .take(head.len() * 10_000)
            .collect();
        assert_eq!(
            decode_all(&b, &lim()),
            Err(Amf0Error::TooDeep { limit: 64 }),
            "head {head:?}"
        );
    }
}

#[test]
fn depth_limit_is_exact() {
    let l = Amf0Limits {
        max_depth: 5,
        ..Amf0Limits::default()
    };
    let (v, _) = decode_value(&nested_objects(5), &l).unwrap();
    assert!(matches!(v, Amf0Value::Object(_)));
    assert_eq!(
        decode_value(&nested_objects(6), &l),
        Err(Amf0Error::TooDeep { limit: 5 })
    );
    // Scalars need no depth at all.
    let l0 = Amf0Limits {
        max_depth: 0,
        ..Amf0Limits::default()
    };
    assert_eq!(decode_value(&[0x05], &l0).unwrap().0, Amf0Value::Null);
    assert_eq!(
        decode_value(&[0x03, 0, 0, 9], &l0),
        Err(Amf0Error::TooDeep { limit: 0 })
    );
}

// ---------------------------------------------------------------- encoding

#[test]
fn long_strings_encode_as_long_string() {
    let text = "x".repeat(70_000);
    let v = Amf0Value::String(text.clone());
    let b = enc(&v);
    assert_eq!(b[0], 0x0c);
    assert_eq!(&b[1..5], &70_000u32.to_be_bytes());
    assert_eq!(b.len(), 5 + 70_000);
    let (back, used) = decode_value(&b, &lim()).unwrap();
    assert_eq!(used, b.len());
    assert_eq!(back, Amf0Value::LongString(text.clone()));
    // Exactly 65535 bytes still fits a short string.
    let v = Amf0Value::String("y".repeat(65_535));
    let b = enc(&v);
    assert_eq!(&b[..3], &[0x02, 0xff, 0xff]);
    // The constructor picks the variant.
    assert!(matches!(Amf0Value::string(text), Amf0Value::LongString(_)));
}

#[test]
fn encode_appends_to_existing_buffer() {
    let mut out = BytesMut::from(&b"AB"[..]);
    encode_value(&Amf0Value::Null, &mut out);
    encode_all(&[Amf0Value::Undefined, Amf0Value::Boolean(true)], &mut out);
    assert_eq!(&out[..], &[b'A', b'B', 0x05, 0x06, 0x01, 0x01]);
}

#[test]
fn accessors() {
    assert_eq!(s("a").as_str(), Some("a"));
    assert_eq!(Amf0Value::LongString("b".into()).as_str(), Some("b"));
    assert_eq!(num(1.0).as_str(), None);
    assert_eq!(num(1.5).as_number(), Some(1.5));
    assert_eq!(Amf0Value::Boolean(true).as_number(), None);
    assert_eq!(Amf0Value::Boolean(true).as_bool(), Some(true));
    assert_eq!(Amf0Value::Null.as_bool(), None);
    let dup = Amf0Value::object([("k", num(1.0)), ("k", num(2.0))]);
    assert_eq!(dup.get("k"), Some(&num(1.0)), "first match");
    assert_eq!(dup.get("missing"), None);
    let typed = Amf0Value::TypedObject {
        class: "C".into(),
        props: vec![("p".into(), s("v"))],
    };
    assert_eq!(typed.get("p"), Some(&s("v")));
    assert_eq!(
        Amf0Value::ecma_array([("e", num(3.0))]).get("e"),
        Some(&num(3.0))
    );
    assert_eq!(Amf0Value::StrictArray(vec![]).get("x"), None);
    assert!(Amf0Value::Null.is_null_or_undefined());
    assert!(Amf0Value::Undefined.is_null_or_undefined());
    assert!(!num(0.0).is_null_or_undefined());
}

// ---------------------------------------------------------------- properties

fn random_text(rng: &mut StdRng, max: usize) -> String {
    const ALPHABET: &[&str] = &[
        "a",
        "Z",
        "0",
        " ",
        "?",
        "\u{e9}",
        "\u{4e2d}",
        "\u{1f600}",
        "\0",
    ];
    let n = rng.random_range(0..=max);
    (0..n)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())])
        .collect()
}

fn random_number(rng: &mut StdRng) -> f64 {
    match rng.random_range(0..4) {
        0 => rng.random_range(-1000..1000) as f64,
        1 => rng.random::<f64>() * 1e6,
        2 => [0.0, -0.0, f64::INFINITY, f64::NEG_INFINITY, f64::MAX][rng.random_range(0..5)],
        _ => {
            // Any bit pattern except NaN (NaN != NaN would defeat `==`).
            let x = f64::from_bits(rng.next_u64());
            if x.is_nan() {
                1.0
            } else {
                x
            }
        }
    }
}

fn random_props(rng: &mut StdRng, depth: usize) -> Vec<(String, Amf0Value)> {
    let n = rng.random_range(0..5);
    (0..n)
        .map(|_| (random_text(rng, 8), random_value(rng, depth + 1)))
        .collect()
}

fn random_value(rng: &mut StdRng, depth: usize) -> Amf0Value {
    let leaf_only = depth >= 5;
    let kinds = if leaf_only { 9 } else { 13 };
    match rng.random_range(0..kinds) {
        0 => num(random_number(rng)),
        1 => Amf0Value::Boolean(rng.random()),
        2 => Amf0Value::String(random_text(rng, 40)),
        3 => Amf0Value::Null,
        4 => Amf0Value::Undefined,
        5 => Amf0Value::Reference(rng.random()),
        6 => Amf0Value::Date {
            millis: random_number(rng),
            tz: rng.random(),
        },
        7 => Amf0Value::LongString(random_text(rng, 40)),
        8 => Amf0Value::XmlDocument(random_text(rng, 40)),
        9 => Amf0Value::Object(random_props(rng, depth)),
        10 => Amf0Value::EcmaArray(random_props(rng, depth)),
        11 => {
            let n = rng.random_range(0..5);
            Amf0Value::StrictArray((0..n).map(|_| random_value(rng, depth + 1)).collect())
        }
        _ => Amf0Value::TypedObject {
            class: random_text(rng, 12),
            props: random_props(rng, depth),
        },
    }
}

#[test]
fn prop_random_trees_roundtrip() {
    for seed in 0..3000u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let n = rng.random_range(1..4);
        let values: Vec<Amf0Value> = (0..n).map(|_| random_value(&mut rng, 0)).collect();
        let bytes = enc_all(&values);
        let expected_len: usize = values.iter().map(Amf0Value::encoded_len).sum();
        assert_eq!(bytes.len(), expected_len, "seed {seed}: encoded_len");
        let back = decode_all(&bytes, &lim()).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert_eq!(back, values, "seed {seed}");
        assert_eq!(enc_all(&back), bytes, "seed {seed}: re-encode");
    }
}

#[test]
fn prop_every_strict_prefix_of_a_value_is_truncated() {
    for seed in 0..400u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let v = random_value(&mut rng, 0);
        let bytes = enc(&v);
        for cut in 0..bytes.len() {
            match decode_value(&bytes[..cut], &lim()) {
                Err(Amf0Error::Truncated { needed }) => {
                    assert!(needed >= 1, "seed {seed} cut {cut}");
                }
                other => panic!("seed {seed} cut {cut}/{}: {other:?}", bytes.len()),
            }
        }
    }
}

/// Decoding must either fail cleanly or return something that consumed no
/// more than the input and re-encodes to a value that decodes the same.
fn check_no_panic(seed: u64, input: &[u8]) {
    let r = catch_unwind(AssertUnwindSafe(|| {
        if let Ok((v, used)) = decode_value(input, &lim()) {
            assert!(used <= input.len());
            let again = enc(&v);
            let (v2, used2) = decode_value(&again, &lim()).unwrap();
            assert_eq!(used2, again.len());
            // NaN-free comparison: the encodings agree.
            assert_eq!(enc(&v2), again);
        }
        let _ = decode_all(input, &lim());
    }));
    if r.is_err() {
        panic!("seed {seed}: decoder panicked on {input:02x?}");
    }
}

#[test]
fn prop_random_bytes_never_panic() {
    for seed in 0..20_000u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let len = rng.random_range(0..64);
        let mut input = vec![0u8; len];
        rng.fill_bytes(&mut input);
        // Bias the first byte toward valid markers so nested paths are hit.
        if len > 0 && rng.random_bool(0.7) {
            input[0] = rng.random_range(0..0x12);
        }
        check_no_panic(seed, &input);
    }
}

#[test]
fn prop_mutated_valid_encodings_never_panic() {
    let captures: Vec<Vec<u8>> = CAPTURE_FILES.iter().map(|f| golden(f)).collect();
    for seed in 0..3000u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut input = if rng.random_bool(0.5) {
            captures[rng.random_range(0..captures.len())].clone()
        } else {
            enc(&random_value(&mut rng, 0))
        };
        let flips = rng.random_range(1..4);
        for _ in 0..flips {
            let i = rng.random_range(0..input.len());
            input[i] = rng.random();
        }
        let cut = rng.random_range(0..=input.len());
        input.truncate(cut);
        check_no_panic(seed, &input);
    }
}

#[test]
fn large_strict_array_within_input_decodes() {
    // 100 000 nulls: more than any preallocation cap, all present.
    let mut b = vec![0x0a];
    b.extend_from_slice(&100_000u32.to_be_bytes());
    b.resize(5 + 100_000, 0x05);
    let (v, used) = decode_value(&b, &lim()).unwrap();
    assert_eq!(used, b.len());
    assert!(matches!(v, Amf0Value::StrictArray(items) if items.len() == 100_000));
}
