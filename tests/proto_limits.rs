//! Peer-controlled sizes the protocol core must bound (issue 9, item 5):
//! aggregate sub-messages per turn, reassembly memory reserved before the
//! bytes arrive, AMF0 values per message, and stream/app names that are not
//! UTF-8 (escaped, never merged).

use bytes::{BufMut, Bytes, BytesMut};

use rtmp_edge::proto::amf0::{self, Amf0Error, Amf0Limits, Amf0Value, DEFAULT_MAX_VALUES};
use rtmp_edge::proto::chunk::{ChunkDecoder, ChunkEncoder, ChunkLimits, RawMessage};
use rtmp_edge::proto::command;
use rtmp_edge::proto::message::{
    MessageError, CSID_COMMAND, CSID_STREAM_COMMAND, CSID_VIDEO, TYPE_AGGREGATE, TYPE_COMMAND_AMF0,
    TYPE_SET_CHUNK_SIZE, TYPE_VIDEO,
};
use rtmp_edge::proto::session::{ServerConfig, ServerEvent, ServerSession, SessionError};

fn raw(csid: u32, type_id: u8, stream_id: u32, payload: Bytes) -> RawMessage {
    RawMessage {
        csid,
        timestamp: 0,
        type_id,
        stream_id,
        payload,
    }
}

/// Chunked bytes of `msgs` (default chunk size 128).
fn wire(msgs: &[RawMessage]) -> BytesMut {
    let mut enc = ChunkEncoder::new();
    let mut out = BytesMut::new();
    for m in msgs {
        enc.encode(m, &mut out);
    }
    out
}

fn amf(values: &[Amf0Value]) -> Bytes {
    let mut b = BytesMut::new();
    amf0::encode_all(values, &mut b);
    b.freeze()
}

/// AMF0 short string with arbitrary (possibly invalid UTF-8) bytes.
fn amf_str(b: &mut BytesMut, s: &[u8]) {
    b.put_u8(0x02);
    b.put_u16(s.len() as u16);
    b.put_slice(s);
}

/// `connect` whose command object is `{app: <app bytes>}`.
fn connect_body(app: &[u8]) -> Bytes {
    let mut b = BytesMut::from(&amf(&[Amf0Value::string("connect"), Amf0Value::Number(1.0)])[..]);
    b.put_u8(0x03);
    b.put_u16(3);
    b.put_slice(b"app");
    amf_str(&mut b, app);
    b.put_slice(&[0, 0, 9]);
    b.freeze()
}

/// `publish(tx 0, null, <name bytes>, "live")`.
fn publish_body(name: &[u8]) -> Bytes {
    let mut b = BytesMut::from(
        &amf(&[
            Amf0Value::string("publish"),
            Amf0Value::Number(0.0),
            Amf0Value::Null,
        ])[..],
    );
    amf_str(&mut b, name);
    amf_str(&mut b, b"live");
    b.freeze()
}

fn feed(s: &mut ServerSession, mut input: BytesMut) -> Result<Vec<ServerEvent>, SessionError> {
    let mut events = Vec::new();
    let mut out = BytesMut::new();
    s.handle_input(&mut input, &mut events, &mut out)?;
    assert!(input.is_empty(), "whole messages only");
    Ok(events)
}

/// A session whose app is `app` publishing `name` on stream 1 (accepted);
/// returns it and its PublishRequested event.
fn publisher(app: &[u8], name: &[u8]) -> (ServerSession, ServerEvent) {
    let mut s = ServerSession::new(ServerConfig::default());
    let create = amf(&command::create_stream(2.0));
    let msgs = [
        raw(CSID_COMMAND, TYPE_COMMAND_AMF0, 0, connect_body(app)),
        raw(CSID_COMMAND, TYPE_COMMAND_AMF0, 0, create),
        raw(
            CSID_STREAM_COMMAND,
            TYPE_COMMAND_AMF0,
            1,
            publish_body(name),
        ),
    ];
    let events = feed(&mut s, wire(&msgs)).expect("publish");
    let req = events
        .into_iter()
        .find(|e| matches!(e, ServerEvent::PublishRequested { .. }))
        .expect("PublishRequested");
    let ServerEvent::PublishRequested { name, .. } = &req else {
        unreachable!()
    };
    let name = name.name.clone();
    s.accept_publish(1, &name, &mut BytesMut::new());
    (s, req)
}

fn requested(e: &ServerEvent) -> (String, String) {
    match e {
        ServerEvent::PublishRequested { app, name, .. } => (app.clone(), name.name.clone()),
        other => panic!("not a publish request: {other:?}"),
    }
}

// ------------------------------------------------------------ aggregates

/// An aggregate of `n` empty video sub-messages (11-byte headers, 4-byte
/// back pointers).
fn empty_aggregate(n: usize) -> Bytes {
    let mut b = BytesMut::with_capacity(n * 15);
    for i in 0..n {
        b.put_u8(TYPE_VIDEO);
        b.put_slice(&[0, 0, 0]); // size 0
        b.put_slice(&[0, 0, (i % 200) as u8, 0]); // timestamp
        b.put_slice(&[0, 0, 0]); // stream id
        b.put_u32(11);
    }
    b.freeze()
}

#[test]
fn aggregate_sub_messages_count_toward_the_turn_cap() {
    let (mut s, _) = publisher(b"live", b"cam");
    const SUBS: usize = 5000;
    const CAP: usize = 100;
    let agg = raw(CSID_VIDEO, TYPE_AGGREGATE, 1, empty_aggregate(SUBS));
    let mut input = wire(&[agg]);
    let (mut events, mut out) = (Vec::new(), BytesMut::new());
    let more = s
        .handle_input_limited(&mut input, &mut events, &mut out, CAP)
        .unwrap();
    assert!(input.is_empty(), "the aggregate's chunks are consumed");
    assert!(more, "stopped on the cap with sub-messages left");
    assert!(events.len() <= CAP, "{} events in one turn", events.len());
    let mut media = events.len();
    let mut turns = 1;
    loop {
        events.clear();
        let more = s
            .handle_input_limited(&mut input, &mut events, &mut out, CAP)
            .unwrap();
        assert!(events.len() <= CAP);
        media += events
            .iter()
            .filter(|e| matches!(e, ServerEvent::Media { .. }))
            .count();
        turns += 1;
        if !more {
            break;
        }
        assert!(turns <= SUBS, "no progress");
    }
    assert_eq!(media, SUBS, "every sub-message is reported exactly once");
    assert!(turns >= SUBS / CAP);
}

#[test]
fn aggregate_left_pending_resumes_before_the_next_message() {
    let (mut s, _) = publisher(b"live", b"cam");
    let agg = raw(CSID_VIDEO, TYPE_AGGREGATE, 1, empty_aggregate(10));
    let after = raw(
        CSID_VIDEO,
        TYPE_VIDEO,
        1,
        Bytes::from_static(b"\x17\x01after"),
    );
    let mut input = wire(&[agg, after]);
    let (mut events, mut out) = (Vec::new(), BytesMut::new());
    while s
        .handle_input_limited(&mut input, &mut events, &mut out, 3)
        .unwrap()
    {}
    let payloads: Vec<Bytes> = events
        .iter()
        .filter_map(|e| match e {
            ServerEvent::Media { payload, .. } => Some(payload.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(payloads.len(), 11);
    assert_eq!(&payloads[10][..], b"\x17\x01after", "order kept");
}

// ------------------------------------------------------------ reassembly

#[test]
fn chunk_decoder_reserves_as_bytes_arrive_not_as_declared() {
    const STREAMS: u32 = 60;
    let max = ChunkLimits::default().max_message_len;
    let limits = ChunkLimits {
        max_partial_bytes: STREAMS as usize * max as usize,
        ..ChunkLimits::default()
    };
    let mut dec = ChunkDecoder::new(limits);
    let mut buf = BytesMut::new();
    for csid in 3..3 + STREAMS {
        // fmt 0, timestamp 0, declared length = the cap, video, stream 1.
        buf.put_u8(csid as u8);
        buf.put_slice(&[0, 0, 0]);
        buf.put_slice(&max.to_be_bytes()[1..]);
        buf.put_u8(TYPE_VIDEO);
        buf.put_u32_le(1);
        buf.put_slice(&[0xAB; 128]);
    }
    assert_eq!(dec.decode(&mut buf), Ok(None));
    assert!(buf.is_empty());
    assert_eq!(dec.partial_bytes(), STREAMS as usize * max as usize);
    let reserved = dec.reserved_bytes();
    assert!(
        reserved <= STREAMS as usize * 4096,
        "{reserved} bytes reserved for {} bytes received",
        STREAMS * 128
    );
}

#[test]
fn reassembly_grows_to_exactly_the_message() {
    let payload: Vec<u8> = (0..300_000u32).map(|i| (i * 7) as u8).collect();
    let msg = raw(CSID_VIDEO, TYPE_VIDEO, 1, Bytes::from(payload.clone()));
    let mut input = wire(&[msg]);
    let mut dec = ChunkDecoder::new(ChunkLimits::default());
    let mut max_reserved = 0;
    let mut got = None;
    // Feed 1000 bytes at a time; what is reserved never exceeds twice what
    // arrived, plus one chunk.
    let mut fed = BytesMut::new();
    let mut arrived = 0;
    while !input.is_empty() {
        let n = input.len().min(1000);
        fed.extend_from_slice(&input.split_to(n));
        arrived += n;
        if let Some(m) = dec.decode(&mut fed).unwrap() {
            got = Some(m);
        }
        max_reserved = max_reserved.max(dec.reserved_bytes());
        assert!(dec.reserved_bytes() <= 2 * arrived + 4096);
    }
    assert_eq!(&got.expect("message").payload[..], &payload[..]);
    assert_eq!(dec.reserved_bytes(), 0);
    assert!(max_reserved <= payload.len());
}

#[test]
fn a_message_that_has_arrived_is_reserved_whole_at_once() {
    // 10 000 bytes at chunk size 8192: two chunks. Everything but the last
    // byte is in the buffer, so the decoder stops inside the second chunk
    // with the message in progress: it reserved the whole length at the
    // first chunk (the bytes behind it were there), not that chunk's 8192
    // bytes and then a reallocation.
    let payload: Vec<u8> = (0..10_000u32).map(|i| (i * 13) as u8).collect();
    let chunked = |payload: Vec<u8>| {
        let mut enc = ChunkEncoder::new();
        let mut out = BytesMut::new();
        let size = Bytes::copy_from_slice(&8192u32.to_be_bytes());
        enc.encode(&raw(2, TYPE_SET_CHUNK_SIZE, 0, size), &mut out);
        enc.set_chunk_size(8192);
        enc.encode(
            &raw(CSID_VIDEO, TYPE_VIDEO, 1, Bytes::from(payload)),
            &mut out,
        );
        out
    };
    let mut input = chunked(payload.clone());
    let last = input.split_off(input.len() - 1);
    let mut dec = ChunkDecoder::new(ChunkLimits::default());
    assert_eq!(
        dec.decode(&mut input).unwrap().map(|m| m.type_id),
        Some(TYPE_SET_CHUNK_SIZE)
    );
    assert_eq!(dec.decode(&mut input), Ok(None));
    assert_eq!(dec.reserved_bytes(), payload.len());
    input.extend_from_slice(&last);
    let got = dec.decode(&mut input).unwrap().expect("message");
    assert_eq!(&got.payload[..], &payload[..]);
    // Only the first chunk there: what arrived is reserved, not the length.
    let mut input = chunked(payload);
    input.truncate(16 + 12 + 8192);
    let mut dec = ChunkDecoder::new(ChunkLimits::default());
    assert!(dec.decode(&mut input).unwrap().is_some());
    assert_eq!(dec.decode(&mut input), Ok(None));
    assert_eq!(dec.reserved_bytes(), 8192);
}

// ------------------------------------------------------------ AMF0 values

#[test]
fn amf0_caps_values_per_message() {
    let l = Amf0Limits::default();
    let mut nulls = BytesMut::from(&amf(&[Amf0Value::string("foo"), Amf0Value::Number(1.0)])[..]);
    nulls.put_bytes(0x05, 1_000_000);
    assert_eq!(
        amf0::decode_all(&nulls, &l),
        Err(Amf0Error::TooManyValues {
            limit: DEFAULT_MAX_VALUES
        })
    );
    // An object of empty-key null properties: 3 bytes per value.
    let mut props = BytesMut::from(&[0x03u8][..]);
    for _ in 0..1_000_000 {
        props.put_slice(&[0, 0, 0x05]);
    }
    props.put_slice(&[0, 0, 9]);
    assert_eq!(
        amf0::decode_value(&props, &l),
        Err(Amf0Error::TooManyValues {
            limit: DEFAULT_MAX_VALUES
        })
    );
    // The limit is exact and counts nested values.
    let small = Amf0Limits {
        max_values: 4,
        ..Amf0Limits::default()
    };
    let four = amf(&[
        Amf0Value::Null,
        Amf0Value::object([("a", Amf0Value::Null), ("b", Amf0Value::Null)]),
    ]);
    assert_eq!(amf0::decode_all(&four, &small).map(|v| v.len()), Ok(2));
    let five = amf(&[Amf0Value::StrictArray(vec![Amf0Value::Null; 4])]);
    assert_eq!(
        amf0::decode_all(&five, &small),
        Err(Amf0Error::TooManyValues { limit: 4 })
    );
    assert_eq!(
        Amf0Error::TooManyValues { limit: 4 }.to_string(),
        "more than 4 AMF0 values in one message"
    );
}

#[test]
fn session_refuses_a_command_of_a_million_values() {
    let mut s = ServerSession::new(ServerConfig::default());
    let mut body = BytesMut::from(&amf(&[Amf0Value::string("foo"), Amf0Value::Number(0.0)])[..]);
    body.put_bytes(0x05, 1_000_000);
    let msg = raw(CSID_COMMAND, TYPE_COMMAND_AMF0, 0, body.freeze());
    let r = feed(&mut s, wire(&[msg]));
    assert_eq!(
        r,
        Err(SessionError::Message(MessageError::Amf0 {
            type_id: TYPE_COMMAND_AMF0,
            error: Amf0Error::TooManyValues {
                limit: DEFAULT_MAX_VALUES
            }
        }))
    );
}

// ------------------------------------------------------------ names

#[test]
fn names_that_are_not_utf8_are_escaped_not_merged() {
    let (_, a) = publisher(b"live", b"cam\xff");
    let (_, b) = publisher(b"live", b"cam\xfe");
    let (_, lit) = publisher(b"live", b"cam%FF");
    let (_, plain) = publisher(b"live", b"cam");
    let (_, lossy) = publisher(b"live", "cam\u{FFFD}".as_bytes());
    assert_eq!(requested(&a).1, "cam%FF");
    assert_eq!(requested(&b).1, "cam%FE");
    assert_eq!(requested(&lit).1, "cam%25FF", "a literal % is escaped too");
    assert_eq!(requested(&plain).1, "cam", "valid names are unchanged");
    assert_eq!(requested(&lossy).1, "cam\u{FFFD}");
    let names = [&a, &b, &lit, &plain, &lossy].map(|e| requested(e).1);
    for i in 0..names.len() {
        for j in i + 1..names.len() {
            assert_ne!(names[i], names[j]);
        }
    }
    // App names too; the query string is split off after escaping.
    let (_, x) = publisher(b"live\xff?k=1", b"s\xc3?key=a%20b");
    let (_, y) = publisher(b"live\xfe", b"s\xc4");
    assert_eq!(requested(&x), ("live%FF".to_owned(), "s%C3".to_owned()));
    assert_eq!(requested(&y), ("live%FE".to_owned(), "s%C4".to_owned()));
    assert_eq!(amf0::unescape(&requested(&x).1), b"s\xc3");
    assert_eq!(amf0::unescape("cam%25FF"), b"cam%FF");
}
