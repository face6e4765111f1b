//! Hostile AMF0 and commands: undecodable bodies close the connection;
//! decodable commands with bad arguments get `_error` or a close (never
//! silence); unknown commands get `_error` when tx != 0; ordering violations.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::hostile::{
    assert_answers, close_reason, command, connect_values, is_error_answer, status_code, Case,
    RawConn, APP,
};
use rtmp_edge::proto::amf0::Amf0Value;

const PROMPT: Duration = Duration::from_millis(1500);

/// AMF0 string value bytes.
fn s(v: &str) -> Vec<u8> {
    let mut b = vec![0x02];
    b.extend_from_slice(&(v.len() as u16).to_be_bytes());
    b.extend_from_slice(v.as_bytes());
    b
}

fn num(v: f64) -> Vec<u8> {
    let mut b = vec![0x00];
    b.extend_from_slice(&v.to_be_bytes());
    b
}

fn cat(parts: &[&[u8]]) -> Bytes {
    Bytes::from(parts.concat())
}

#[test]
fn undecodable_command_bodies_close_the_connection() {
    let case = Case::start(
        "amf: truncated, wrong markers, overlong strings, deep nesting, huge counts",
        &[],
    );
    let name = s("hostileCall");
    let tx = num(9.0);
    let mut nested = Vec::new();
    for _ in 0..10_000 {
        nested.extend_from_slice(&[0x0A, 0, 0, 0, 1]); // strict array of one element
    }
    nested.push(0x05);
    let mut nested_obj = Vec::new();
    for _ in 0..10_000 {
        nested_obj.extend_from_slice(&[0x03, 0x00, 0x01, b'a']);
    }
    let bodies: Vec<(&str, Bytes)> = vec![
        ("truncated string", cat(&[&[0x02, 0x00, 0x0c], b"createSt"])),
        ("truncated number", cat(&[&name, &[0x00, 0x40, 0x08]])),
        (
            "truncated object",
            cat(&[&name, &tx, &[0x03, 0x00, 0x03], b"app", &[0x02, 0x00]]),
        ),
        ("unknown marker 0x20", cat(&[&name, &tx, &[0x20, 1, 2, 3]])),
        ("unknown marker first", cat(&[&[0x42], b"garbage"])),
        (
            "string longer than message",
            cat(&[&name, &tx, &[0x02, 0xFF, 0xFF], b"abc"]),
        ),
        (
            "long string 4 GiB",
            cat(&[&name, &tx, &[0x0C, 0xFF, 0xFF, 0xFF, 0xFF], b"abc"]),
        ),
        ("10000 nested arrays", cat(&[&name, &tx, &nested])),
        ("10000 nested objects", cat(&[&name, &tx, &nested_obj])),
        (
            "ECMA array count 2^32-1",
            cat(&[&name, &tx, &[0x08, 0xFF, 0xFF, 0xFF, 0xFF]]),
        ),
        (
            "strict array count 2^32-1",
            cat(&[&name, &tx, &[0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x05]]),
        ),
    ];
    for (what, body) in bodies {
        let mut c = RawConn::connected(case.addr(), APP);
        c.send_command_body(0, body);
        let took = c.wait_closed(PROMPT);
        assert!(took.is_some(), "{what}: connection not closed");
        let reason = close_reason(&case.server, c.local).expect("closed: line");
        assert!(
            reason.starts_with("protocol error"),
            "{what}: closed with {reason}"
        );
    }
    case.finish("each closed at once with `protocol error`");
}

/// Send `values` and expect an answer to this request that is an error
/// (`_error` with transaction `tx`, or an error-level `onStatus` on stream
/// `msid`), or a prompt close with a `protocol error` reason.
fn error_or_close(
    case: &Case,
    c: &mut RawConn,
    msid: u32,
    values: &[Amf0Value],
    tx: f64,
) -> String {
    c.send_command(msid, values);
    let answer = c.wait_command_on(PROMPT, |stream_id, v| {
        let ours = match v[0].as_str() {
            Some("_error") => v.get(1).and_then(Amf0Value::as_number) == Some(tx),
            Some("onStatus") => stream_id == msid,
            _ => false,
        };
        ours && is_error_answer(v)
    });
    match answer {
        Some(v) => format!(
            "answered {}",
            status_code(&v).unwrap_or_else(|| "_error".into())
        ),
        None => {
            assert!(
                c.wait_closed(PROMPT).is_some(),
                "{values:?}: neither an error answer nor a close (silence)"
            );
            let reason = close_reason(&case.server, c.local).expect("closed: line");
            assert!(
                reason.starts_with("protocol error"),
                "{values:?}: closed with {reason}, not a protocol error"
            );
            format!("closed: {reason}")
        }
    }
}

#[test]
fn bad_arguments_get_error_or_close_never_silence() {
    let case = Case::start("amf: missing / wrong-typed arguments", &[]);
    let addr = case.addr();
    let cases: Vec<(u32, Vec<Amf0Value>, f64)> = vec![
        (1, command("publish", 5.0, &[]), 5.0),
        (1, command("publish", 5.0, &[Amf0Value::Number(3.0)]), 5.0),
        (1, command("play", 6.0, &[]), 6.0),
        (1, command("play", 6.0, &[Amf0Value::Boolean(true)]), 6.0),
        (0, command("releaseStream", 7.0, &[Amf0Value::Null]), 7.0),
        (0, command("FCPublish", 8.0, &[Amf0Value::Number(1.0)]), 8.0),
        (
            1,
            command("deleteStream", 9.0, &[Amf0Value::Boolean(true)]),
            9.0,
        ),
        (0, vec![Amf0Value::string("createStream")], 0.0),
        (
            0,
            vec![Amf0Value::string("createStream"), Amf0Value::string("tx")],
            0.0,
        ),
        (0, vec![Amf0Value::Number(1.0), Amf0Value::Number(2.0)], 2.0),
        (
            0,
            vec![
                Amf0Value::string("connect"),
                Amf0Value::Number(1.0),
                Amf0Value::Number(2.0),
            ],
            1.0,
        ),
    ];
    let mut outcomes = Vec::new();
    for (msid, values, tx) in cases {
        let mut c = RawConn::connected(addr, APP);
        if msid == 1 {
            c.send_command(0, &command("createStream", 2.0, &[]));
            assert!(c
                .wait_command(PROMPT, |v| v[0].as_str() == Some("_result"))
                .is_some());
        }
        let what = format!("{:?}", values.first());
        outcomes.push((what, error_or_close(&case, &mut c, msid, &values, tx)));
    }
    for (what, outcome) in &outcomes {
        eprintln!("  {what}: {outcome}");
    }
    case.finish("each got an error answer or a `protocol error` close");
}

#[test]
fn unknown_commands_and_commands_out_of_order() {
    let case = Case::start(
        "amf: unknown commands, publish/play before connect, createStream flood",
        &[],
    );
    let addr = case.addr();
    // Unknown commands: _error for tx != 0; tx 0 ignored, connection kept.
    let mut c = RawConn::connected(addr, APP);
    for tx in [1.0, 42.0, 1e9] {
        c.send_command(0, &command("noSuchMethod", tx, &[Amf0Value::Number(1.0)]));
        let got = c.wait_command(PROMPT, |v| {
            v[0].as_str() == Some("_error") && v.get(1).and_then(Amf0Value::as_number) == Some(tx)
        });
        assert!(got.is_some(), "no _error for unknown command tx {tx}");
    }
    c.send_command(0, &command("noSuchMethod", 0.0, &[]));
    assert_answers(&mut c, 77.0);
    // publish/play/createStream before connect: protocol error.
    for name in ["publish", "play", "createStream"] {
        let mut c = RawConn::handshake(addr);
        c.send_command(1, &command(name, 2.0, &[Amf0Value::string("x")]));
        case.expect_closed(&mut c, PROMPT, "protocol error: NotConnected");
    }
    // connect twice: the second is refused with _error, the connection stays.
    let mut c = RawConn::connected(addr, APP);
    c.send_command(0, &connect_values(APP, addr));
    assert!(c
        .wait_command(PROMPT, |v| v[0].as_str() == Some("_error"))
        .is_some());
    assert_answers(&mut c, 5.0);
    // Play of a stream nobody publishes: Play.Start, then it waits.
    let mut c = RawConn::connected(addr, APP);
    c.send_command(0, &command("createStream", 2.0, &[]));
    assert!(c
        .wait_command(PROMPT, |v| v[0].as_str() == Some("_result"))
        .is_some());
    c.send_command(
        1,
        &command("play", 3.0, &[Amf0Value::string("nobody-here")]),
    );
    let start = c.wait_command(PROMPT, |v| {
        status_code(v).as_deref() == Some("NetStream.Play.Start")
    });
    assert!(
        start.is_some(),
        "no Play.Start for a stream with no publisher"
    );
    assert!(
        c.wait_closed(Duration::from_millis(500)).is_none(),
        "waiting player closed"
    );
    // createStream flood: the 17th is over the cap and closes.
    let mut c = RawConn::connected(addr, APP);
    for tx in 0..1000 {
        if !c.send_command(0, &command("createStream", 10.0 + f64::from(tx), &[])) {
            break;
        }
    }
    case.expect_closed(&mut c, PROMPT, "protocol error: TooManyStreams");
    case.finish("unknown: _error; before connect: closed; non-existent play: Play.Start + wait; createStream flood: closed at cap 16");
}
