//! Hostile chunk streams: Set Chunk Size edge values, short control messages,
//! huge lengths, headers without a previous fmt 0, chunk stream id forms and
//! flood, Abort, interleaving, incomplete messages, extended timestamps.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::hostile::{
    assert_answers, chunk_header, control_message, message_chunks, unknown_command_body, Case,
    RawConn, APP,
};
use common::rtmp::{avc_frame, avc_seq_header, frame_number, TestClient};
use rtmp_edge::proto::amf0::Amf0Value;
use rtmp_edge::proto::chunk::RawMessage;
use rtmp_edge::proto::message::{TYPE_ABORT, TYPE_SET_CHUNK_SIZE, TYPE_VIDEO};
use rtmp_edge::proto::session::MediaKind;

const PROMPT: Duration = Duration::from_millis(1500);

#[test]
fn set_chunk_size_and_control_message_edge_values() {
    let case = Case::start("chunks: Set Chunk Size 0/1/max/top bit, short control", &[]);
    // 0 and the top bit set are protocol errors.
    for (size, why) in [
        (0u32, "protocol error: Chunk(BadChunkSize(0))"),
        (0x8000_0100, "protocol error: Chunk(BadChunkSize("),
        (0xFFFF_FFFF, "protocol error: Chunk(BadChunkSize("),
    ] {
        let mut c = RawConn::connected(case.addr(), APP);
        c.send(&control_message(TYPE_SET_CHUNK_SIZE, &size.to_be_bytes()));
        case.expect_closed(&mut c, PROMPT, why);
    }
    // Control messages shorter than their fields.
    for (type_id, len) in [
        (TYPE_SET_CHUNK_SIZE, 2usize),
        (TYPE_ABORT, 0),
        (3, 3),
        (5, 1),
        (6, 4),
        (4, 1),
    ] {
        let mut c = RawConn::connected(case.addr(), APP);
        c.send(&control_message(type_id, &vec![0u8; len]));
        case.expect_closed(&mut c, PROMPT, "protocol error");
    }
    // 1 and 0x7FFFFFFF are legal: commands in such chunks are still answered.
    for size in [1u32, 0x7FFF_FFFF] {
        let mut c = RawConn::connected(case.addr(), APP);
        c.send(&control_message(TYPE_SET_CHUNK_SIZE, &size.to_be_bytes()));
        c.enc.set_chunk_size(size);
        assert_answers(&mut c, 7.0);
        assert_answers(&mut c, 8.0);
        assert!(!c.closed);
    }
    case.finish("0 / top bit / short control: closed `protocol error`; 1 and 0x7FFFFFFF served");
}

#[test]
fn bad_headers_are_protocol_errors_and_csid_forms_work() {
    let case = Case::start("chunks: length 0xFFFFFF, fmt 1/2/3 first, csids", &[]);
    // A message length of 0xFFFFFF is over the 8 MiB cap: closed before any payload.
    let mut c = RawConn::connected(case.addr(), APP);
    c.send(&chunk_header(0, 3, 0, 0xFF_FFFF, 20, 0));
    case.expect_closed(&mut c, PROMPT, "protocol error: Chunk(MessageTooLong");
    // fmt 1/2/3 on a csid never opened with fmt 0.
    for fmt in [1u8, 2, 3] {
        for csid in [10u32, 100, 40000] {
            let mut c = RawConn::connected(case.addr(), APP);
            let mut b = chunk_header(fmt, csid, 5, 10, 20, 0);
            b.extend_from_slice(&[0u8; 10]);
            c.send(&b);
            case.expect_closed(&mut c, PROMPT, "protocol error: Chunk(NoPreviousHeader");
        }
    }
    // The three basic-header forms (csid 63, 64, 319, 320, 65599) are served.
    let mut c = RawConn::connected(case.addr(), APP);
    for (i, csid) in [63u32, 64, 319, 320, 65599].into_iter().enumerate() {
        let tx = 10.0 + i as f64;
        let body = unknown_command_body("hostileProbe", tx);
        for chunk in message_chunks(csid, 20, 0, &body, 128) {
            c.send(&chunk);
        }
        let got = c.wait_command(Duration::from_secs(3), |v| {
            v.get(1).and_then(Amf0Value::as_number) == Some(tx)
        });
        assert!(got.is_some(), "no answer on csid {csid}");
    }
    // Many distinct chunk stream ids: refused by the named cap (64 live csids).
    let mut c = RawConn::connected(case.addr(), APP);
    let mut flood = Vec::new();
    for csid in (4u32..=65599).step_by(97) {
        let mut m = chunk_header(0, csid, 0, 4, 3, 0); // Acknowledgement
        m.extend_from_slice(&[0, 0, 0, 1]);
        flood.extend_from_slice(&m);
    }
    c.send(&flood);
    case.expect_closed(&mut c, PROMPT, "protocol error: Chunk(TooManyChunkStreams");
    case.finish(
        "too long / no previous header / csid flood: closed `protocol error`; csid forms served",
    );
}

#[test]
fn abort_interleaving_and_incomplete_messages() {
    let case = Case::start("chunks: Abort, interleaving, never-completed message", &[]);
    // Abort for chunk streams we never used (and out-of-range ids) is ignored.
    let mut c = RawConn::connected(case.addr(), APP);
    for csid in [9u32, 999, 65599, 0, 1, 0xFFFF_FFFF] {
        c.send(&control_message(TYPE_ABORT, &csid.to_be_bytes()));
    }
    assert_answers(&mut c, 3.0);
    // 40 commands of ~500 bytes on 40 csids, chunks interleaved round-robin.
    let mut per_msg: Vec<Vec<Vec<u8>>> = (0..40u32)
        .map(|i| {
            let mut body = unknown_command_body("hostileProbe", 100.0 + f64::from(i));
            // Pad with a string argument so each message spans several chunks.
            body.extend_from_slice(&[0x02, 0x01, 0xc2]);
            body.extend(std::iter::repeat_n(b'x', 450));
            message_chunks(20 + i, 20, 0, &body, 128)
        })
        .collect();
    let mut wire = Vec::new();
    while per_msg.iter().any(|m| !m.is_empty()) {
        for m in per_msg.iter_mut() {
            if !m.is_empty() {
                wire.extend_from_slice(&m.remove(0));
            }
        }
    }
    c.send(&wire);
    let mut answered = std::collections::BTreeSet::new();
    c.wait_command(Duration::from_secs(5), |v| {
        if let Some(tx) = v.get(1).and_then(Amf0Value::as_number) {
            if v[0].as_str() == Some("_error") && tx >= 100.0 {
                answered.insert(tx as u32);
            }
        }
        answered.len() == 40
    });
    assert_eq!(
        answered.len(),
        40,
        "answers to interleaved commands: {answered:?}"
    );
    // A message that never completes: the connection keeps working on other csids.
    let mut c2 = RawConn::connected(case.addr(), APP);
    // Its first two full 128-byte chunks arrive, the rest never does.
    let mut b = chunk_header(0, 30, 0, 1000, 20, 0);
    b.extend_from_slice(&[0x02; 128]);
    b.extend_from_slice(&chunk_header(3, 30, 0, 0, 0, 0));
    b.extend_from_slice(&[0x02; 128]);
    c2.send(&b);
    assert_answers(&mut c2, 4.0);
    assert!(!c2.closed);
    // Partial messages over the reassembly budget (16 MiB): named cap.
    let mut c3 = RawConn::connected(case.addr(), APP);
    for csid in [40u32, 41, 42] {
        let mut b = chunk_header(0, csid, 0, 8_000_000, 9, 1);
        b.extend_from_slice(&[0x17; 128]);
        c3.send(&b);
    }
    case.expect_closed(
        &mut c3,
        PROMPT,
        "protocol error: Chunk(PartialBudgetExceeded",
    );
    drop(c2);
    case.finish("Abort ignored, 40 interleaved served, incomplete kept, partial budget: closed `protocol error`");
}

#[test]
fn extended_timestamps_across_the_wrap_are_relayed() {
    let case = Case::start("chunks: extended timestamps at the 32-bit wrap", &[]);
    let mut p = RawConn::connected(case.addr(), APP);
    p.send_command(0, &common::hostile::command("createStream", 2.0, &[]));
    assert!(p
        .wait_command(Duration::from_secs(3), |v| v[0].as_str() == Some("_result"))
        .is_some());
    p.send_command(
        1,
        &common::hostile::command(
            "publish",
            3.0,
            &[Amf0Value::string("wrap"), Amf0Value::string("live")],
        ),
    );
    let start = p.wait_command(Duration::from_secs(3), |v| {
        v[0].as_str() == Some("onStatus")
    });
    assert_eq!(
        start
            .as_deref()
            .and_then(common::hostile::status_code)
            .as_deref(),
        Some("NetStream.Publish.Start")
    );
    let mut player = TestClient::play(case.addr(), APP, "wrap");
    let stamps = [
        0x00FF_FFFEu32,
        0x00FF_FFFF,
        0x0100_0000,
        0xFFFF_FFF0,
        0xFFFF_FFFF,
        0,
        40,
        0x0200_0000,
    ];
    let mut send = |ts: u32, payload: Bytes| {
        p.send_raw(&RawMessage {
            csid: 7,
            timestamp: ts,
            type_id: TYPE_VIDEO,
            stream_id: 1,
            payload,
        });
    };
    send(0x00FF_FFF0, avc_seq_header());
    for (n, &ts) in stamps.iter().enumerate() {
        // 300 bytes: several 128-byte chunks, so fmt 3 chunks repeat the field.
        send(ts, avc_frame(n == 0, n as u32, 300));
    }
    let got = player.collect_media(1 + stamps.len(), Duration::from_secs(5));
    assert_eq!(
        got.len(),
        1 + stamps.len(),
        "player got {} messages",
        got.len()
    );
    for (n, m) in got[1..].iter().enumerate() {
        assert_eq!(m.0, MediaKind::Video);
        assert_eq!(frame_number(m.0, &m.2), Some(n as u32), "frame order");
        assert_eq!(m.2.len(), 300);
    }
    // What the relay's rebaser (src/relay/stream.rs, default StreamConfig:
    // 1 s back / 10 s forward are discontinuities, continued 10 ms after the
    // last output) makes of the input. The first publisher keeps its
    // timestamps, so the 24-bit boundary passes through unchanged and the
    // player reads them from extended-timestamp fields; the jump to the top
    // of the 32-bit range is a discontinuity, and from there the wrap to 0
    // and 40 is ordinary progress (+15, +1, +40).
    let want: [u32; 9] = [
        0x00FF_FFF0, // sequence header
        0x00FF_FFFE,
        0x00FF_FFFF,
        0x0100_0000,
        0x0100_000A, // 0xFFFF_FFF0: 16.7 M ms back, last + 10
        0x0100_0019, // 0xFFFF_FFFF: +15
        0x0100_001A, // 0: +1 across the 32-bit wrap
        0x0100_0042, // 40: +40
        0x0100_004C, // 0x0200_0000: 33.5 M ms forward, last + 10
    ];
    let relayed: Vec<u32> = got.iter().map(|m| m.1).collect();
    assert_eq!(relayed, want, "relayed timestamps (hex: {relayed:x?})");
    case.finish(
        "every extended-timestamp frame relayed intact, in order, with the rebased timestamps",
    );
}
