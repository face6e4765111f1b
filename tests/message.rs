//! Typed message tests: one golden vector per control message (decode, then
//! encode byte for byte), capture commands/data/media, short control
//! messages, unknown types, AMF3 wrappers, aggregates, and seeded property
//! tests (seed printed on failure).
//!
//! Regenerate `golden/message/` with
//! `cargo test --release --test message -- --ignored regen_message_golden`.

use bytes::{Bytes, BytesMut};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use rtmp_edge::proto::amf0::{self, Amf0Value};
use rtmp_edge::proto::chunk::{
    encode_canonical, ChunkDecoder, ChunkEncoder, ChunkLimits, RawMessage,
};
use rtmp_edge::proto::message::*;
use std::path::PathBuf;

fn raw(type_id: u8, payload: &[u8]) -> RawMessage {
    RawMessage {
        csid: 2,
        timestamp: 0,
        type_id,
        stream_id: 0,
        payload: Bytes::copy_from_slice(payload),
    }
}

/// fmt 0 chunk on csid 2, timestamp 0, stream id 0, laid out by hand from
/// the RTMP 1.0 specification (basic header, 11-byte message header, body).
fn spec_control_chunk(type_id: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![0x02, 0, 0, 0];
    v.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    v.push(type_id);
    v.extend_from_slice(&[0, 0, 0, 0]);
    v.extend_from_slice(body);
    v
}

#[path = "common/golden.rs"]
mod golden_files;

/// Rewrites `golden/message/` from the hand-built cases; compares nothing with
/// the stored files (review the diff). The cases' own decode checks still run.
#[test]
#[ignore = "regenerates golden/message; run on purpose and review the diff"]
fn regen_message_golden() {
    golden_files::regenerate_on_this_thread();
    golden_every_control_message();
    golden_aggregate_split_rebases_timestamps();
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("golden/message")
}

fn golden(name: &str, bytes: &[u8], text: &str) -> Vec<u8> {
    golden_files::golden_pair(&golden_dir(), name, bytes, text)
}

fn control_cases() -> Vec<(&'static str, u8, Vec<u8>, RtmpMessage)> {
    let uc = |ev: u16, args: &[u32]| {
        let mut v = ev.to_be_bytes().to_vec();
        for a in args {
            v.extend_from_slice(&a.to_be_bytes());
        }
        v
    };
    vec![
        (
            "set_chunk_size",
            1,
            4096u32.to_be_bytes().to_vec(),
            RtmpMessage::SetChunkSize(4096),
        ),
        (
            "abort",
            2,
            6u32.to_be_bytes().to_vec(),
            RtmpMessage::Abort { csid: 6 },
        ),
        (
            "acknowledgement",
            3,
            0x0102_0304u32.to_be_bytes().to_vec(),
            RtmpMessage::Acknowledgement {
                sequence: 0x0102_0304,
            },
        ),
        (
            "window_ack_size",
            5,
            5_000_000u32.to_be_bytes().to_vec(),
            RtmpMessage::WindowAckSize(5_000_000),
        ),
        (
            "set_peer_bandwidth",
            6,
            [&5_000_000u32.to_be_bytes()[..], &[2]].concat(),
            RtmpMessage::SetPeerBandwidth {
                size: 5_000_000,
                limit_type: 2,
            },
        ),
        (
            "uc_stream_begin",
            4,
            uc(0, &[1]),
            RtmpMessage::UserControl(UserControl::StreamBegin(1)),
        ),
        (
            "uc_stream_eof",
            4,
            uc(1, &[1]),
            RtmpMessage::UserControl(UserControl::StreamEof(1)),
        ),
        (
            "uc_stream_dry",
            4,
            uc(2, &[1]),
            RtmpMessage::UserControl(UserControl::StreamDry(1)),
        ),
        (
            "uc_set_buffer_length",
            4,
            uc(3, &[1, 3000]),
            RtmpMessage::UserControl(UserControl::SetBufferLength {
                stream_id: 1,
                buffer_ms: 3000,
            }),
        ),
        (
            "uc_stream_is_recorded",
            4,
            uc(4, &[1]),
            RtmpMessage::UserControl(UserControl::StreamIsRecorded(1)),
        ),
        (
            "uc_ping_request",
            4,
            uc(6, &[0x00AB_CDEF]),
            RtmpMessage::UserControl(UserControl::PingRequest(0x00AB_CDEF)),
        ),
        (
            "uc_ping_response",
            4,
            uc(7, &[0x00AB_CDEF]),
            RtmpMessage::UserControl(UserControl::PingResponse(0x00AB_CDEF)),
        ),
    ]
}

#[test]
fn golden_every_control_message() {
    for (name, type_id, body, expected) in control_cases() {
        let spec = spec_control_chunk(type_id, &body);
        let file = golden(name, &spec, &format!("{expected:?}\n"));
        // Decode the file.
        let mut dec = ChunkDecoder::new(ChunkLimits::default());
        let mut buf = BytesMut::from(&file[..]);
        let m = dec.decode(&mut buf).unwrap().unwrap();
        assert!(buf.is_empty(), "{name}");
        assert_eq!(RtmpMessage::decode(&m).unwrap(), expected, "{name}");
        // Encode back, byte for byte, through both writers.
        let enc = expected.encode();
        assert_eq!(enc, m, "{name}: RawMessage");
        let mut out = BytesMut::new();
        ChunkEncoder::new().encode(&enc, &mut out);
        assert_eq!(&out[..], &file[..], "{name}: ChunkEncoder");
        assert_eq!(
            &encode_canonical(&enc, 128)[..],
            &file[..],
            "{name}: canonical"
        );
    }
}

#[test]
fn short_control_messages_are_errors() {
    for (name, type_id, body, _) in control_cases() {
        for len in 0..body.len() {
            let err = RtmpMessage::decode(&raw(type_id, &body[..len]));
            // A User Control event type is known from 2 bytes on; shorter
            // bodies, and known events without their fields, are errors.
            assert_eq!(
                err,
                Err(MessageError::ShortControl { type_id, len }),
                "{name} cut to {len}"
            );
        }
    }
}

#[test]
fn unknown_user_control_and_trailing_bytes() {
    let m = RtmpMessage::decode(&raw(4, &[0, 5])).unwrap();
    assert_eq!(
        m,
        RtmpMessage::UserControl(UserControl::Unknown { event_type: 5 })
    );
    let m = RtmpMessage::decode(&raw(4, &[0x12, 0x34, 1, 2, 3, 4])).unwrap();
    assert_eq!(
        m,
        RtmpMessage::UserControl(UserControl::Unknown { event_type: 0x1234 })
    );
    // Trailing bytes after the fields are ignored.
    let m = RtmpMessage::decode(&raw(5, &[0, 0, 1, 0, 9, 9])).unwrap();
    assert_eq!(m, RtmpMessage::WindowAckSize(256));
    // Unknown User Control encodes as its event type alone.
    assert_eq!(
        &RtmpMessage::UserControl(UserControl::Unknown { event_type: 5 })
            .encode()
            .payload[..],
        &[0, 5]
    );
}

#[test]
fn unknown_and_shared_object_types() {
    for t in 0..=255u8 {
        let m = RtmpMessage::decode(&raw(t, &[])).ok();
        match t {
            16 | 19 => assert_eq!(m, Some(RtmpMessage::SharedObject { type_id: t })),
            0 | 7 | 10..=14 | 21 | 23..=255 => {
                assert_eq!(m, Some(RtmpMessage::Unknown { type_id: t }), "type {t}")
            }
            _ => {}
        }
    }
}

#[test]
fn media_payloads_are_not_copied() {
    let payload = Bytes::from(vec![0x17, 1, 0, 0, 0, 5]);
    for t in [TYPE_AUDIO, TYPE_VIDEO, TYPE_AGGREGATE] {
        let r = RawMessage {
            csid: 9,
            timestamp: 1234,
            type_id: t,
            stream_id: 1,
            payload: payload.clone(),
        };
        let m = RtmpMessage::decode(&r).unwrap();
        let (ts, sid, p) = match &m {
            RtmpMessage::Audio {
                timestamp,
                stream_id,
                payload,
            }
            | RtmpMessage::Video {
                timestamp,
                stream_id,
                payload,
            }
            | RtmpMessage::Aggregate {
                timestamp,
                stream_id,
                payload,
            } => (*timestamp, *stream_id, payload.clone()),
            other => panic!("type {t}: {other:?}"),
        };
        assert_eq!((ts, sid), (1234, 1));
        assert_eq!(p.as_ptr(), payload.as_ptr(), "type {t}: same buffer");
        let e = m.encode();
        assert_eq!(e.payload.as_ptr(), payload.as_ptr(), "type {t}: encode");
        assert_eq!((e.timestamp, e.stream_id, e.type_id), (1234, 1, t));
        let want_csid = if t == TYPE_AUDIO {
            CSID_AUDIO
        } else {
            CSID_VIDEO
        };
        assert_eq!(e.csid, want_csid);
    }
}

fn amf(values: &[Amf0Value]) -> Vec<u8> {
    let mut b = BytesMut::new();
    amf0::encode_all(values, &mut b);
    b.to_vec()
}

#[test]
fn commands_and_data_amf0_and_amf3_wrappers() {
    let values = vec![
        Amf0Value::String("play".into()),
        Amf0Value::Number(4.0),
        Amf0Value::Null,
        Amf0Value::String("cap".into()),
    ];
    let body = amf(&values);
    let c20 = RtmpMessage::decode(&raw(20, &body)).unwrap();
    assert_eq!(
        c20,
        RtmpMessage::Command {
            stream_id: 0,
            values: values.clone()
        }
    );
    let wrapped = [&[0u8][..], &body].concat();
    assert_eq!(RtmpMessage::decode(&raw(17, &wrapped)).unwrap(), c20);
    // Encode: csid 3 on stream 0, csid 5 on a media stream; type 20, ts 0.
    let e = c20.encode();
    assert_eq!((e.csid, e.type_id, e.timestamp, e.stream_id), (3, 20, 0, 0));
    assert_eq!(&e.payload[..], &body[..]);
    let on_stream = RtmpMessage::Command {
        stream_id: 1,
        values: values.clone(),
    }
    .encode();
    assert_eq!(
        (on_stream.csid, on_stream.stream_id),
        (CSID_STREAM_COMMAND, 1)
    );

    // Data keeps the raw AMF0 body (for AMF3 data: without the 0x00 byte).
    let meta = vec![
        Amf0Value::String("onMetaData".into()),
        Amf0Value::EcmaArray(vec![("width".into(), Amf0Value::Number(320.0))]),
    ];
    let mbody = amf(&meta);
    let mut r18 = raw(18, &mbody);
    r18.timestamp = 77;
    r18.stream_id = 1;
    let d = RtmpMessage::decode(&r18).unwrap();
    match &d {
        RtmpMessage::Data {
            timestamp,
            stream_id,
            values,
            payload,
        } => {
            assert_eq!((*timestamp, *stream_id), (77, 1));
            assert_eq!(values, &meta);
            assert_eq!(payload.as_ptr(), r18.payload.as_ptr());
        }
        other => panic!("{other:?}"),
    }
    let e = d.encode();
    assert_eq!(
        (e.csid, e.type_id, e.timestamp, e.stream_id),
        (4, 18, 77, 1)
    );
    assert_eq!(e.payload.as_ptr(), r18.payload.as_ptr(), "payload reused");
    let r15 = raw(15, &[&[0u8][..], &mbody].concat());
    match RtmpMessage::decode(&r15).unwrap() {
        RtmpMessage::Data {
            values, payload, ..
        } => {
            assert_eq!(values, meta);
            assert_eq!(&payload[..], &mbody[..]);
            assert_eq!(payload.as_ptr(), r15.payload[1..].as_ptr());
        }
        other => panic!("{other:?}"),
    }
    // Data built without a payload encodes its values.
    let built = RtmpMessage::Data {
        timestamp: 0,
        stream_id: 1,
        values: meta.clone(),
        payload: Bytes::new(),
    }
    .encode();
    assert_eq!(&built.payload[..], &mbody[..]);
    // A broken AMF body is a typed error.
    assert!(matches!(
        RtmpMessage::decode(&raw(20, &[0x02, 0x00, 0x09, b'a'])),
        Err(MessageError::Amf0 { type_id: 20, .. })
    ));
    assert!(matches!(
        RtmpMessage::decode(&raw(15, &[0x00, 0x42])),
        Err(MessageError::Amf0 { type_id: 15, .. })
    ));
}

// ---------------------------------------------------------------- captures

#[path = "common/captures.rs"]
mod captures;
use captures::{find_capture, read_capture};

/// The messages of capture `name` after the handshake (`None`: skipped).
fn capture_messages(name: &str) -> Option<Vec<RawMessage>> {
    let data = read_capture(name)?;
    let mut dec = ChunkDecoder::new(ChunkLimits::default());
    let mut buf = BytesMut::from(&data[1537 + 1536..]);
    let mut out = Vec::new();
    while let Some(m) = dec.decode(&mut buf).unwrap() {
        out.push(m);
    }
    assert!(buf.is_empty());
    Some(out)
}

fn command_name(m: &RtmpMessage) -> Option<&str> {
    match m {
        RtmpMessage::Command { values, .. } | RtmpMessage::Data { values, .. } => {
            values.first().and_then(|v| v.as_str())
        }
        _ => None,
    }
}

#[test]
fn captures_decode_and_reencode() {
    let expect: [(&str, &[&str]); 5] = [
        (
            "ffmpeg_publish.c2s.bin",
            &[
                "connect",
                "releaseStream",
                "FCPublish",
                "createStream",
                "publish",
                "@setDataFrame",
                "FCUnpublish",
                "deleteStream",
            ],
        ),
        (
            "ffmpeg_play.c2s.bin",
            &[
                "connect",
                "createStream",
                "getStreamLength",
                "play",
                "deleteStream",
            ],
        ),
        (
            "rtmpdump_play.c2s.bin",
            &["connect", "createStream", "play", "deleteStream"],
        ),
        ("gst_play.c2s.bin", &["connect", "createStream", "play"]),
        (
            "ffmpeg_play.s2c.bin",
            &[
                "_result",
                "_result",
                "onStatus",
                "onStatus",
                "|RtmpSampleAccess",
                "onMetaData",
                "onStatus",
            ],
        ),
    ];
    for (name, names) in expect {
        let Some(raws) = capture_messages(name) else {
            return;
        };
        let msgs: Vec<RtmpMessage> = raws
            .iter()
            .map(|r| RtmpMessage::decode(r).unwrap_or_else(|e| panic!("{name}: {e}")))
            .collect();
        let got: Vec<&str> = msgs.iter().filter_map(command_name).collect();
        assert_eq!(got, names, "{name}");
        for (r, m) in raws.iter().zip(&msgs) {
            // Every message re-encodes to the same type, stream and body
            // (commands through the AMF0 encoder, the rest unchanged).
            let e = m.encode();
            assert_eq!(e.type_id, r.type_id, "{name}: {m:?}");
            assert_eq!(e.stream_id, r.stream_id, "{name}: {m:?}");
            assert_eq!(e.payload, r.payload, "{name}: {m:?}");
            if !matches!(m, RtmpMessage::Command { .. }) && r.type_id > 6 {
                assert_eq!(e.timestamp, r.timestamp, "{name}: {m:?}");
            }
        }
    }
}

#[test]
fn captures_control_messages() {
    let names = [
        "ffmpeg_play.c2s.bin",
        "rtmpdump_play.c2s.bin",
        "ffmpeg_publish.s2c.bin",
        "rtmpdump_play.s2c.bin",
    ];
    if names.iter().any(|n| find_capture(n).is_none()) {
        return;
    }
    let uc = |name: &str| -> Vec<RtmpMessage> {
        capture_messages(name)
            .expect("found above")
            .iter()
            .map(|r| RtmpMessage::decode(r).unwrap())
            .filter(|m| {
                matches!(
                    m,
                    RtmpMessage::SetChunkSize(_)
                        | RtmpMessage::WindowAckSize(_)
                        | RtmpMessage::SetPeerBandwidth { .. }
                        | RtmpMessage::UserControl(_)
                )
            })
            .collect()
    };
    assert_eq!(
        uc("ffmpeg_play.c2s.bin"),
        vec![
            RtmpMessage::WindowAckSize(5_000_000),
            RtmpMessage::UserControl(UserControl::SetBufferLength {
                stream_id: 1,
                buffer_ms: 3000
            }),
        ]
    );
    assert_eq!(
        uc("rtmpdump_play.c2s.bin"),
        vec![
            RtmpMessage::WindowAckSize(5_000_000),
            RtmpMessage::UserControl(UserControl::SetBufferLength {
                stream_id: 0,
                buffer_ms: 300
            }),
            RtmpMessage::UserControl(UserControl::SetBufferLength {
                stream_id: 1,
                buffer_ms: 36_000_000
            }),
        ]
    );
    assert_eq!(
        uc("ffmpeg_publish.s2c.bin"),
        vec![
            RtmpMessage::WindowAckSize(5_000_000),
            RtmpMessage::SetPeerBandwidth {
                size: 5_000_000,
                limit_type: 2
            },
            RtmpMessage::SetChunkSize(4096),
        ]
    );
    let s2c = uc("rtmpdump_play.s2c.bin");
    assert!(s2c.contains(&RtmpMessage::UserControl(UserControl::StreamBegin(1))));
    assert!(s2c.contains(&RtmpMessage::UserControl(UserControl::StreamEof(1))));
}

// ---------------------------------------------------------------- aggregate

/// An aggregate body: FLV-tag-like sub-messages with back pointers.
fn aggregate_body(subs: &[(u8, u32, &[u8])], back_pointer_on_last: bool) -> Vec<u8> {
    let mut v = Vec::new();
    for (i, (t, ts, body)) in subs.iter().enumerate() {
        v.push(*t);
        v.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        v.extend_from_slice(&ts.to_be_bytes()[1..]);
        v.push((ts >> 24) as u8);
        v.extend_from_slice(&[0, 0, 0]);
        v.extend_from_slice(body);
        if i + 1 < subs.len() || back_pointer_on_last {
            v.extend_from_slice(&(11 + body.len() as u32).to_be_bytes());
        }
    }
    v
}

#[test]
fn golden_aggregate_split_rebases_timestamps() {
    let subs: [(u8, u32, &[u8]); 3] = [
        (9, 1000, &[0x17, 1, 0, 0, 0, 0xAA]),
        (8, 1010, &[0xAF, 1, 0x21]),
        (9, 1033, &[0x27, 1, 0, 0, 0, 0xBB, 0xCC]),
    ];
    let body = aggregate_body(&subs, true);
    let file = golden(
        "aggregate",
        &body,
        "ts 5000 msid 1 -> type 9 ts 5000 len 6; type 8 ts 5010 len 3; type 9 ts 5033 len 7\n",
    );
    let payload = Bytes::from(file);
    let got = split_aggregate(5000, 1, &payload).unwrap();
    let want: Vec<RawMessage> = subs
        .iter()
        .map(|(t, ts, b)| RawMessage {
            csid: if *t == 8 { CSID_AUDIO } else { CSID_VIDEO },
            timestamp: 5000 + ts - 1000,
            type_id: *t,
            stream_id: 1,
            payload: Bytes::copy_from_slice(b),
        })
        .collect();
    assert_eq!(got, want);
    // Bodies are slices of the aggregate (no copy).
    assert_eq!(got[0].payload.as_ptr(), payload[11..].as_ptr());
    // The last back pointer may be missing.
    let no_last = Bytes::from(aggregate_body(&subs, false));
    assert_eq!(split_aggregate(5000, 1, &no_last).unwrap(), want);
    // Empty aggregate: no sub-messages.
    assert_eq!(split_aggregate(5000, 1, &Bytes::new()).unwrap(), vec![]);
    // The timestamp high byte counts, and rebasing wraps modulo 2^32.
    let hi = Bytes::from(aggregate_body(
        &[(9, 0x0100_0000, &[1]), (9, 0x0100_0010, &[2])],
        true,
    ));
    let got = split_aggregate(u32::MAX - 5, 1, &hi).unwrap();
    assert_eq!(got[0].timestamp, u32::MAX - 5);
    assert_eq!(got[1].timestamp, 10);
}

#[test]
fn bad_aggregates_are_errors() {
    let body = aggregate_body(&[(9, 0, &[1, 2, 3]), (8, 5, &[4])], true);
    for cut in 1..body.len() {
        let r = split_aggregate(0, 1, &Bytes::copy_from_slice(&body[..cut]));
        // Valid cut points: right after the first body (the final back
        // pointer may be missing), after its back pointer, or after the last
        // body. Everything else is truncated.
        let first_end = 11 + 3;
        let last_end = body.len() - 4;
        let sub = |t: u8, ts: u32, b: &[u8]| RawMessage {
            csid: if t == 8 { CSID_AUDIO } else { CSID_VIDEO },
            timestamp: ts,
            type_id: t,
            stream_id: 1,
            payload: Bytes::copy_from_slice(b),
        };
        if cut == first_end || cut == first_end + 4 {
            assert_eq!(r, Ok(vec![sub(9, 0, &[1, 2, 3])]), "cut {cut}");
        } else if cut == last_end {
            let both = vec![sub(9, 0, &[1, 2, 3]), sub(8, 5, &[4])];
            assert_eq!(r, Ok(both), "cut {cut}");
        } else {
            assert_eq!(r, Err(MessageError::BadAggregate), "cut {cut}");
        }
    }
}

// ---------------------------------------------------------------- properties

#[test]
fn prop_random_raw_messages_never_panic() {
    for seed in 0..5000u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut payload = vec![0u8; rng.random_range(0..64)];
        rng.fill_bytes(&mut payload);
        let types = [1u8, 2, 3, 4, 5, 6, 8, 9, 15, 16, 17, 18, 19, 20, 22, 0, 255];
        let type_id = types[rng.random_range(0..types.len())];
        let r = RawMessage {
            csid: 3,
            timestamp: rng.random(),
            type_id,
            stream_id: rng.random(),
            payload: Bytes::from(payload),
        };
        if let Ok(m) = RtmpMessage::decode(&r) {
            // Whatever decodes re-encodes with its type (AMF3 becomes AMF0).
            let e = m.encode();
            let want = match type_id {
                17 => 20,
                15 => 18,
                t => t,
            };
            assert_eq!(e.type_id, want, "seed {seed}");
        }
        let _ = split_aggregate(r.timestamp, 1, &r.payload);
    }
}

#[test]
fn prop_control_roundtrip() {
    for seed in 0..2000u64 {
        let mut rng = StdRng::seed_from_u64(seed ^ 0x5EED);
        let v: u32 = rng.random();
        let m = match rng.random_range(0..13) {
            0 => RtmpMessage::SetChunkSize(v),
            1 => RtmpMessage::Abort { csid: v },
            2 => RtmpMessage::Acknowledgement { sequence: v },
            3 => RtmpMessage::WindowAckSize(v),
            4 => RtmpMessage::SetPeerBandwidth {
                size: v,
                limit_type: rng.random(),
            },
            5 => RtmpMessage::UserControl(UserControl::StreamBegin(v)),
            6 => RtmpMessage::UserControl(UserControl::StreamEof(v)),
            7 => RtmpMessage::UserControl(UserControl::StreamDry(v)),
            8 => RtmpMessage::UserControl(UserControl::SetBufferLength {
                stream_id: v,
                buffer_ms: rng.random(),
            }),
            9 => RtmpMessage::UserControl(UserControl::StreamIsRecorded(v)),
            10 => RtmpMessage::UserControl(UserControl::PingRequest(v)),
            11 => RtmpMessage::UserControl(UserControl::PingResponse(v)),
            _ => RtmpMessage::UserControl(UserControl::Unknown {
                event_type: rng.random_range(8..u16::MAX),
            }),
        };
        let e = m.encode();
        assert_eq!((e.csid, e.stream_id, e.timestamp), (2, 0, 0), "seed {seed}");
        assert_eq!(RtmpMessage::decode(&e).unwrap(), m, "seed {seed}");
    }
}
