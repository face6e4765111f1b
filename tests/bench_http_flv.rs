//! `rtmp-bench --http-flv` end to end against the server: the publisher
//! goes to our RTMP port, the subscribers fetch `/{app}/{name}.flv` from our
//! HTTP listener. The bench matches every coded frame a subscriber gets to
//! the published one by kind, timestamp and length, so the JSON shows
//! whether the subscribers got what was sent: all connected, none failed,
//! no published frame missing after each one's first, the frame payload
//! delivered equal to what was published over the same span, startup and
//! latency measured. A stream that is live on another server only is
//! refused by this one with the 404 named in the bench's error.
//!
//! Needs nothing but the crate's binaries. Free ports; bounded waits; every
//! process started here is stopped by its PID.

mod common;

use std::io::Read;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{wait_child, ServerProcess, TempDir};

/// A synthetic 12 s stream (see `common::write_synthetic_flv`).
fn write_flv(path: &Path) {
    common::write_synthetic_flv(path, 12_000);
}

/// Run the bench for `name`, publishing to `publish_to` over RTMP and
/// subscribing over HTTP-FLV at `http`; its JSON object (exit code 0).
fn bench(
    publish_to: &ServerProcess,
    http: SocketAddr,
    flv: &Path,
    name: &str,
    subs: u32,
) -> serde_json::Value {
    bench_exit(publish_to, http, flv, name, subs, 0)
}

/// Like [`bench`], expecting exit code `code` (the JSON is printed either way).
fn bench_exit(
    publish_to: &ServerProcess,
    http: SocketAddr,
    flv: &Path,
    name: &str,
    subs: u32,
    code: i32,
) -> serde_json::Value {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rtmp-bench"))
        .args(["--url", &publish_to.url(&format!("live/{name}")), "--flv"])
        .arg(flv)
        .args(["--http-flv", &format!("http://{http}")])
        .args(["--subscribers", &subs.to_string(), "--duration", "2"])
        .args(["--lead", "0.5", "--timeout", "5", "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run rtmp-bench");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let status = wait_child(&mut child, Duration::from_secs(30));
    let json = reader.join().unwrap();
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    assert!(
        status.is_some_and(|s| s.code() == Some(code)),
        "rtmp-bench: {status:?} {json} {err}"
    );
    eprintln!("rtmp-bench {name}: {}", json.trim());
    serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"))
}

fn num(json: &serde_json::Value, key: &str) -> Option<f64> {
    json.get(key)?.as_f64()
}

#[test]
fn bench_http_flv_subscribers_get_the_published_frames_from_the_server() {
    let dir = TempDir::new("bench-http-flv");
    let flv = dir.path().join("bench.flv");
    write_flv(&flv);

    let (server, http) = ServerProcess::start_http(&[]);
    let json = bench(&server, http, &flv, "bench", 4);
    assert_eq!(json["subscriber_kind"], "http-flv", "{json}");
    assert_eq!(num(&json, "connected"), Some(4.0), "{json}");
    assert_eq!(num(&json, "failed"), Some(0.0), "{json}");
    assert_eq!(num(&json, "publishers_failed"), Some(0.0), "{json}");
    assert!(json.get("first_error").is_none(), "{json}");
    // ~2.5 s of a 30 fps + 43 fps stream, to each of 4 viewers.
    assert!(
        num(&json, "messages_received").unwrap_or(0.0) > 4.0 * 150.0,
        "{json}"
    );
    // Every frame published from each viewer's first one on was matched
    // (kind, timestamp, length), and the frame payload delivered is what
    // was published over that span (plus the few sequence headers).
    assert_eq!(num(&json, "messages_missing"), Some(0.0), "{json}");
    let got = num(&json, "delivered_payload_mbps").unwrap();
    let sent = num(&json, "expected_payload_mbps").unwrap();
    assert!(sent > 0.0 && got >= sent && got < sent * 1.01, "{json}");
    assert!(num(&json, "startup_ms_p50").is_some(), "{json}");
    assert_eq!(num(&json, "no_keyframe"), Some(0.0), "{json}");
    assert!(num(&json, "latency_ms_p50").is_some(), "{json}");
    assert!(
        server
            .log_text()
            .contains("play start live/bench (HTTP-FLV"),
        "{}",
        server.log_text()
    );

    // A stream live elsewhere only: this server refuses every viewer with
    // 404, named in the bench's error; no subscriber at all connected: the
    // exit code is that of a refusal (6).
    let elsewhere = ServerProcess::start(&[]);
    let json = bench_exit(&elsewhere, http, &flv, "missing", 2, 6);
    assert_eq!(num(&json, "connected"), Some(0.0), "{json}");
    assert_eq!(num(&json, "failed"), Some(2.0), "{json}");
    assert_eq!(num(&json, "publishers_failed"), Some(0.0), "{json}");
    let err = json["first_error"].as_str().expect("an error");
    assert!(
        err.contains("/live/missing.flv") && err.contains("server answered") && err.contains("404"),
        "{err}"
    );
}
