//! `rtmp-bench --sub-url` end to end through relays: the publisher goes to
//! an origin, the subscribers play from two edges pulling from it (one
//! `--sub-url` each), and `--server-pid` is given for all three processes.
//! The JSON shows every subscriber got every published frame from its first
//! one on (matched by kind, timestamp and length, so the latency measured is
//! end to end through the hop), the subscribers split evenly over the edges,
//! each edge pulled once, and the CPU is reported per process and summed.
//!
//! Needs nothing but the crate's binaries. Free ports; bounded waits; every
//! process started here is stopped by its PID.

mod common;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{wait_child, ServerProcess, TempDir};

/// A synthetic 12 s stream (see `common::write_synthetic_flv`).
fn write_flv(path: &Path) {
    common::write_synthetic_flv(path, 12_000);
}

/// An edge whose `live` application pulls from `origin`.
fn edge(dir: &TempDir, tag: &str, origin: &ServerProcess) -> ServerProcess {
    let file = dir.path().join(format!("{tag}.toml"));
    std::fs::write(
        &file,
        format!("[apps.live]\npull = [\"{}\"]\n", origin.url("live")),
    )
    .unwrap();
    ServerProcess::start(&["--config", file.to_str().unwrap()])
}

fn run_bench(args: &[String]) -> serde_json::Value {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rtmp-bench"))
        .args(args)
        .args([
            "--duration",
            "2",
            "--lead",
            "0.5",
            "--timeout",
            "5",
            "--json",
        ])
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
    eprintln!("rtmp-bench: {}", json.trim());
    serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"))
}

fn num(json: &serde_json::Value, key: &str) -> Option<f64> {
    json.get(key)?.as_f64()
}

#[test]
fn bench_publishes_to_the_origin_and_plays_from_two_edges() {
    let dir = TempDir::new("bench-relay");
    let flv = dir.path().join("bench.flv");
    write_flv(&flv);
    let origin = ServerProcess::start(&[]);
    let e1 = edge(&dir, "e1", &origin);
    let e2 = edge(&dir, "e2", &origin);
    let pid = |s: &ServerProcess| s.child.id().to_string();
    let args: Vec<String> = [
        "--url",
        &origin.url("live/bench"),
        "--flv",
        flv.to_str().unwrap(),
        "--subscribers",
        "6",
        "--sub-url",
        &e1.url("live/bench"),
        "--sub-url",
        &e2.url("live/bench"),
        "--server-pid",
        &pid(&origin),
        "--server-pid",
        &pid(&e1),
        "--server-pid",
        &pid(&e2),
    ]
    .map(String::from)
    .to_vec();
    let json = run_bench(&args);
    assert_eq!(num(&json, "connected"), Some(6.0), "{json}");
    assert_eq!(num(&json, "failed"), Some(0.0), "{json}");
    assert!(json.get("first_error").is_none(), "{json}");
    assert_eq!(json["connected_per_sub_url"], serde_json::json!([3, 3]));
    // Every frame from each viewer's first one on came through the hop.
    assert_eq!(num(&json, "messages_missing"), Some(0.0), "{json}");
    let got = num(&json, "delivered_payload_mbps").unwrap();
    let sent = num(&json, "expected_payload_mbps").unwrap();
    assert!(sent > 0.0 && got >= sent && got < sent * 1.01, "{json}");
    assert!(num(&json, "latency_ms_p50").is_some(), "{json}");
    // CPU per process in --server-pid order, summed in server_cpu_*.
    let pids: Vec<u64> = [&origin, &e1, &e2]
        .iter()
        .map(|s| u64::from(s.child.id()))
        .collect();
    assert_eq!(json["server_pids"], serde_json::json!(pids), "{json}");
    let each: Vec<f64> = json["server_cpu_s_each"]
        .as_array()
        .expect("server_cpu_s_each")
        .iter()
        .map(|v| v.as_f64().expect("a CPU time per process"))
        .collect();
    assert_eq!(each.len(), 3, "{json}");
    let total = num(&json, "server_cpu_user_s").unwrap() + num(&json, "server_cpu_sys_s").unwrap();
    assert!((each.iter().sum::<f64>() - total).abs() < 0.01, "{json}");
    assert!(num(&json, "server_peak_rss_kb").is_some(), "{json}");
    // One upstream per edge; the players are on the edges, none on the origin
    // besides the two upstreams.
    for e in [&e1, &e2] {
        assert!(
            e.wait_log(Duration::from_secs(5), |l| l
                .contains("pull live/bench: upstream connection opened")),
            "{}",
            e.log_text()
        );
        let plays = e.log_text().matches("play start live/bench").count();
        assert_eq!(plays, 3, "{}", e.log_text());
    }
    let plays = origin.log_text().matches("play start live/bench").count();
    assert_eq!(plays, 2, "{}", origin.log_text());
}

#[test]
fn sub_url_with_http_flv_is_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_rtmp-bench"))
        .args(["--url", "rtmp://127.0.0.1:9/live/b", "--flv", "none.flv"])
        .args([
            "--subscribers",
            "1",
            "--sub-url",
            "rtmp://127.0.0.1:9/live/b",
        ])
        .args(["--http-flv", "http://127.0.0.1:9"])
        .stdin(Stdio::null())
        .output()
        .expect("run rtmp-bench");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--sub-url and --http-flv"), "{err}");
}
