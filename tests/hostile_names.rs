//! Hostile stream and app names: path traversal, absolute paths, NUL, 4 KiB,
//! non-UTF-8. Each is either served (publish + play of that exact name works)
//! or refused with a named reason; the server stays up.

mod common;

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use common::hostile::{close_reason, command, status_code, Case, Outcome, RawConn, APP};
use common::rtmp::avc_frame;
use rtmp_edge::proto::amf0::{encode_value, Amf0Value};
use rtmp_edge::proto::session::MediaKind;

fn hostile_names() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("../ traversal", b"../../../etc/passwd".to_vec()),
        ("absolute path", b"/tmp/hostile-abs".to_vec()),
        ("NUL inside", b"a\0b".to_vec()),
        ("4 KiB", vec![b'n'; 4096]),
        ("backslashes", b"..\\..\\win".to_vec()),
        ("non-UTF-8", vec![0xff, 0xfe, b'x', 0xc3]),
        ("empty", Vec::new()),
        ("only a query", b"?key=v".to_vec()),
    ]
}

/// A close must be for a protocol error; returns the report row.
fn protocol_close(what: &str, reason: &str) -> String {
    assert!(
        reason.starts_with("protocol error"),
        "{what}: closed with {reason}"
    );
    format!("{what}: closed: {reason}")
}

#[test]
fn hostile_stream_names_are_served_or_refused() {
    let case = Case::start(
        "names: ../, absolute, NUL, 4 KiB, non-UTF-8 stream names",
        &[],
    );
    let mut rows = Vec::new();
    for (what, name) in hostile_names() {
        let mut p = RawConn::connected(case.addr(), APP);
        match p.request(&case.server, "publish", &name) {
            Outcome::Status(code) if code == "NetStream.Publish.Start" => {
                let mut v = RawConn::connected(case.addr(), APP);
                let o = v.request(&case.server, "play", &name);
                assert_eq!(o, Outcome::Status("NetStream.Play.Start".into()), "{what}");
                p.send_media(1, MediaKind::Video, 0, avc_frame(true, 77, 200));
                let got = v.collect_media(1, Duration::from_secs(2));
                assert_eq!(got.len(), 1, "{what}: player of that name got no frame");
                assert_eq!(got[0].2, avc_frame(true, 77, 200), "{what}");
                rows.push(format!("{what}: served"));
            }
            Outcome::Status(code) => {
                assert!(
                    code.contains("BadName") || code.contains("Failed"),
                    "{what}: {code}"
                );
                rows.push(format!("{what}: refused {code}"));
            }
            Outcome::Closed(reason) => rows.push(protocol_close(what, &reason)),
        }
    }
    for r in &rows {
        eprintln!("  {r}");
    }
    case.finish("each served (exact name) or refused with a named reason");
}

/// The body of a `connect` command (tx 1) whose `app` string carries `app`
/// as raw bytes (so non-UTF-8 reaches the server as sent).
fn connect_body(app: &[u8], addr: std::net::SocketAddr) -> Bytes {
    let mut out = BytesMut::new();
    encode_value(&Amf0Value::string("connect"), &mut out);
    encode_value(&Amf0Value::Number(1.0), &mut out);
    let key = |out: &mut BytesMut, k: &str| {
        out.extend_from_slice(&(k.len() as u16).to_be_bytes());
        out.extend_from_slice(k.as_bytes());
    };
    out.extend_from_slice(&[0x03]);
    key(&mut out, "app");
    out.extend_from_slice(&[0x02]);
    out.extend_from_slice(&(app.len() as u16).to_be_bytes());
    out.extend_from_slice(app);
    key(&mut out, "type");
    encode_value(&Amf0Value::string("nonprivate"), &mut out);
    key(&mut out, "tcUrl");
    encode_value(&Amf0Value::string(format!("rtmp://{addr}/x")), &mut out);
    out.extend_from_slice(&[0x00, 0x00, 0x09]);
    out.freeze()
}

#[test]
fn hostile_app_names_are_served_or_refused() {
    let case = Case::start("names: hostile app names in connect", &[]);
    let mut rows = Vec::new();
    for (what, name) in hostile_names() {
        let mut c = RawConn::handshake(case.addr());
        c.send_command_body(0, connect_body(&name, case.addr()));
        let answer = c.wait_command(Duration::from_secs(10), |v| {
            matches!(v[0].as_str(), Some("_result") | Some("_error"))
        });
        match answer {
            Some(v) if v[0].as_str() == Some("_result") => {
                assert_eq!(v[1].as_number(), Some(1.0), "{what}: _result of connect");
                assert_eq!(
                    status_code(&v).as_deref(),
                    Some("NetConnection.Connect.Success"),
                    "{what}"
                );
                // Served: createStream works on that connection.
                c.send_command(0, &command("createStream", 2.0, &[]));
                let r = c.wait_command(Duration::from_secs(10), |v| {
                    v[0].as_str() == Some("_result")
                });
                assert!(r.is_some(), "{what}: createStream after connect");
                let id = r.unwrap()[3].as_number();
                assert_eq!(id, Some(1.0), "{what}");
                rows.push(format!("{what}: served"));
            }
            Some(v) => {
                // Refused: the connect's own _error, saying Connect.Rejected.
                assert_eq!(v[1].as_number(), Some(1.0), "{what}: _error of connect");
                assert_eq!(
                    status_code(&v).as_deref(),
                    Some("NetConnection.Connect.Rejected"),
                    "{what}: {v:?}"
                );
                rows.push(format!("{what}: rejected"));
            }
            None => {
                assert!(
                    c.wait_closed(Duration::from_secs(10)).is_some(),
                    "{what}: silence"
                );
                let reason = close_reason(&case.server, c.local).expect("closed: line");
                rows.push(protocol_close(what, &reason));
            }
        }
    }
    for r in &rows {
        eprintln!("  {r}");
    }
    case.finish(
        "served, rejected with Connect.Rejected, or closed with a protocol error; no crash",
    );
}
