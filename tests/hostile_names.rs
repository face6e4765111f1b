//! Hostile stream and app names: path traversal, absolute paths, NUL, 4 KiB,
//! non-UTF-8. Each is either served (publish + play of that exact name works)
//! or refused with a named reason; the server stays up.

mod common;

use std::time::Duration;

use common::hostile::{command, connect_values, Case, Outcome, RawConn, APP};
use common::rtmp::avc_frame;
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
            Outcome::Closed(reason) => {
                assert!(
                    reason.starts_with("protocol error"),
                    "{what}: closed with {reason}"
                );
                rows.push(format!("{what}: closed: {reason}"));
            }
        }
    }
    for r in &rows {
        eprintln!("  {r}");
    }
    case.finish("each served (exact name) or refused with a named reason");
}

#[test]
fn hostile_app_names_are_served_or_refused() {
    let case = Case::start("names: hostile app names in connect", &[]);
    for (what, name) in hostile_names() {
        let Ok(app) = String::from_utf8(name.clone()) else {
            continue; // connect goes through Amf0Value strings
        };
        let mut c = RawConn::handshake(case.addr());
        c.send_command(0, &connect_values(&app, case.addr()));
        let answer = c.wait_command(Duration::from_secs(2), |v| {
            matches!(v[0].as_str(), Some("_result") | Some("_error"))
        });
        match answer {
            Some(v) if v[0].as_str() == Some("_result") => {
                // Served: createStream works on that connection.
                c.send_command(0, &command("createStream", 2.0, &[]));
                let r =
                    c.wait_command(Duration::from_secs(2), |v| v[0].as_str() == Some("_result"));
                assert!(r.is_some(), "{what}: createStream after connect");
                let id = r.unwrap()[3].as_number();
                assert_eq!(id, Some(1.0), "{what}");
            }
            Some(_) => {}
            None => {
                assert!(
                    c.wait_closed(Duration::from_secs(1)).is_some(),
                    "{what}: silence"
                );
            }
        }
    }
    case.finish("served or refused; no crash");
}
