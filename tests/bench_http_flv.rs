//! `rtmp-bench --http-flv` end to end, before the server serves HTTP-FLV:
//! the publisher goes to our server over RTMP as usual, and the subscribers
//! fetch `/{app}/{name}.flv` from `tests/browser/serve.py`, which serves the
//! same FLV file the HTTP-FLV way, paced by its timestamps. The frames the
//! subscribers get carry the file's timestamps, which are also the
//! published ones (the file starts at 0), so the bench matches them and
//! every measurement runs. Latency here is serve.py's pacing, not a
//! server's: only the plumbing is checked (connected, messages, startup,
//! matched frames, the JSON's subscriber kind, a 404 named in the error).
//!
//! Needs python3 (skipped without it). Free ports; bounded waits; every
//! process started here is stopped by its PID.

mod common;

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::BytesMut;
use common::{have_tool, wait_child, wait_until, ServerProcess, TempDir};
use rtmp_edge::proto::flv::{write_header, write_tag, FlvHeader, TAG_AUDIO, TAG_VIDEO};

/// A synthetic 12 s stream: AVC/AAC-shaped tags (sequence headers, a
/// keyframe every second at 30 fps, audio every 23 ms), timestamps from 0.
fn write_flv(path: &Path) {
    let mut out = BytesMut::new();
    write_header(
        FlvHeader {
            has_audio: true,
            has_video: true,
        },
        &mut out,
    );
    write_tag(
        TAG_VIDEO,
        0,
        &[0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff, 0xe1],
        &mut out,
    );
    write_tag(TAG_AUDIO, 0, &[0xaf, 0, 0x12, 0x10], &mut out);
    let (mut v, mut a) = (0u32, 0u32);
    while v < 12_000 || a < 12_000 {
        if v <= a {
            let n = v / 33;
            let key = n % 30 == 0;
            let mut body = vec![if key { 0x17 } else { 0x27 }, 1, 0, 0, 0];
            body.extend((0..if key { 6000 } else { 900 }).map(|i| (i ^ n) as u8));
            write_tag(TAG_VIDEO, v, &body, &mut out);
            v += 33;
        } else {
            write_tag(TAG_AUDIO, a, &[0xaf, 1, a as u8, 2, 3, 4, 5, 6], &mut out);
            a += 23;
        }
    }
    std::fs::write(path, &out).unwrap();
}

/// `python3 serve.py DIR PORT`, killed by its PID on drop.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Run the bench for `name`; its JSON object.
fn bench(
    server: &ServerProcess,
    http_port: u16,
    flv: &Path,
    name: &str,
    subs: u32,
) -> serde_json::Value {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rtmp-bench"))
        .args(["--url", &server.url(&format!("live/{name}")), "--flv"])
        .arg(flv)
        .args(["--http-flv", &format!("http://127.0.0.1:{http_port}")])
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
        status.is_some_and(|s| s.success()),
        "rtmp-bench: {status:?} {json} {err}"
    );
    serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"))
}

fn num(json: &serde_json::Value, key: &str) -> Option<f64> {
    json.get(key)?.as_f64()
}

#[test]
fn bench_http_flv_subscribers_against_serve_py() {
    if !have_tool("python3") {
        return;
    }
    let dir = TempDir::new("bench-http-flv");
    std::fs::create_dir_all(dir.path().join("live")).unwrap();
    let flv = dir.path().join("live/bench.flv");
    write_flv(&flv);

    let server = ServerProcess::start(&[]);
    let port = free_port();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/serve.py");
    let _serve = Serve(
        Command::new("python3")
            .arg(&script)
            .arg(dir.path())
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn serve.py"),
    );
    assert!(
        wait_until(Duration::from_secs(10), || TcpStream::connect((
            "127.0.0.1",
            port
        ))
        .is_ok()),
        "serve.py did not listen on {port}"
    );

    let json = bench(&server, port, &flv, "bench", 4);
    assert_eq!(json["subscriber_kind"], "http-flv", "{json}");
    assert_eq!(num(&json, "connected"), Some(4.0), "{json}");
    assert_eq!(num(&json, "failed"), Some(0.0), "{json}");
    assert_eq!(num(&json, "publishers_failed"), Some(0.0), "{json}");
    // ~2.5 s of a 30 fps + 43 fps stream, to each of 4 viewers.
    assert!(
        num(&json, "messages_received").unwrap_or(0.0) > 4.0 * 150.0,
        "{json}"
    );
    assert!(num(&json, "startup_ms_p50").is_some(), "{json}");
    // Frames were matched to the published ones by kind, timestamp, size.
    assert!(num(&json, "latency_ms_p50").is_some(), "{json}");
    assert!(json.get("first_error").is_none(), "{json}");

    // A stream serve.py does not have: every viewer refused, the status
    // line named.
    let json = bench(&server, port, &flv, "missing", 2);
    assert_eq!(num(&json, "connected"), Some(0.0), "{json}");
    assert_eq!(num(&json, "failed"), Some(2.0), "{json}");
    let err = json["first_error"].as_str().expect("an error");
    assert!(
        err.contains("/live/missing.flv") && err.contains("server answered") && err.contains("404"),
        "{err}"
    );
}
