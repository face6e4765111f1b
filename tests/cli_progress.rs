//! `rtmp-bench` and `rtmp-client` as a user sees them: the progress line
//! on a terminal (a pseudo-terminal from util-linux `script`) and the plain
//! lines without one, `--quiet`, one line and a distinct exit code per
//! failure class (refused, unreachable, timeout, usage), and Ctrl-C: the bench
//! still prints its summary, `rtmp-client play` leaves a valid FLV file.
//!
//! Loopback only; free ports; bounded waits; every process started here is
//! stopped by its PID.

mod common;

use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use common::{wait_child, ServerProcess, TempDir};

const CLIENT: &str = env!("CARGO_BIN_EXE_rtmp-client");
const BENCH: &str = env!("CARGO_BIN_EXE_rtmp-bench");

fn write_flv(path: &Path, ms: u32) {
    common::write_synthetic_flv(path, ms);
}

/// Run `cmd` (already set up) with piped output for at most `max`.
fn run(mut cmd: Command, max: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    collect(&mut child, max)
}

/// Wait for `child` (killing it after `max`) and collect its output.
fn collect(child: &mut Child, max: Duration) -> Output {
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t1 = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let t2 = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let status = wait_child(child, max).expect("process did not finish in time");
    Output {
        status,
        stdout: t1.join().unwrap(),
        stderr: t2.join().unwrap(),
    }
}

/// `args` run under a pseudo-terminal: `script -qec "..." /dev/null`; what
/// the terminal showed (stdout and stderr together).
fn under_tty(args: &[&str], max: Duration) -> (Output, String) {
    let line: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &line.join(" "), "/dev/null"]);
    let out = run(cmd, max);
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    (out, shown)
}

fn have_script() -> bool {
    common::have_tool("script")
}

fn bench_args<'a>(url: &'a str, flv: &'a str, duration: &'a str) -> Vec<&'a str> {
    vec![
        BENCH,
        "--url",
        url,
        "--flv",
        flv,
        "--subscribers",
        "2",
        "--duration",
        duration,
        "--lead",
        "0.5",
        "--timeout",
        "5",
    ]
}

#[test]
fn bench_progress_line_in_place_on_a_terminal() {
    if !have_script() {
        return;
    }
    let server = ServerProcess::start(&[]);
    let dir = TempDir::new("cli-progress-tty");
    let flv = dir.path().join("s.flv");
    write_flv(&flv, 4000);
    let url = server.url("live/tty");
    let (out, shown) = under_tty(
        &bench_args(&url, flv.to_str().unwrap(), "3"),
        Duration::from_secs(30),
    );
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("Mbit/s  p99 "), "{shown:?}");
    assert!(shown.contains("subscribers 2 ok 0 failed"), "{shown:?}");
    // Updated in place: the line is redrawn (carriage return / erase).
    assert!(
        shown.contains('\r') && shown.contains("\x1b["),
        "no in-place redraw: {shown:?}"
    );
    assert!(shown.contains("rtmp-bench: 1 publisher(s)"), "{shown}");
}

#[test]
fn bench_plain_progress_lines_without_a_terminal_and_quiet() {
    let server = ServerProcess::start(&[]);
    let dir = TempDir::new("cli-progress-plain");
    let flv = dir.path().join("s.flv");
    write_flv(&flv, 4000);
    let url = server.url("live/plain");
    let f = flv.to_str().unwrap();
    let args = bench_args(&url, f, "6");
    let mut cmd = Command::new(args[0]);
    cmd.args(&args[1..]);
    let out = run(cmd, Duration::from_secs(40));
    let err = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{err}{stdout}");
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("rtmp-bench: ") && l.contains("Mbit/s  p99 "))
        .collect();
    assert!(!lines.is_empty(), "no plain progress line: {err}");
    assert!(!err.contains('\r') && !err.contains("\x1b["), "{err:?}");
    assert!(stdout.contains("rtmp-bench: 1 publisher(s)"), "{stdout}");

    // --quiet, on a terminal even: the summary only.
    if !have_script() {
        return;
    }
    let url = server.url("live/quiet");
    let mut args = bench_args(&url, f, "2");
    args.push("--quiet");
    let (out, shown) = under_tty(&args, Duration::from_secs(30));
    assert!(out.status.success(), "{shown}");
    assert!(!shown.contains("Mbit/s  p99 "), "{shown:?}");
    assert!(!shown.contains("\x1b["), "{shown:?}");
    assert!(shown.contains("rtmp-bench: 1 publisher(s)"), "{shown}");
}

#[test]
fn client_progress_and_quiet() {
    if !have_script() {
        return;
    }
    let server = ServerProcess::start(&[]);
    let dir = TempDir::new("cli-progress-client");
    let flv = dir.path().join("s.flv");
    write_flv(&flv, 2500);
    let f = flv.to_str().unwrap();
    let url = server.url("live/cq");
    let (out, shown) = under_tty(&[CLIENT, "publish", &url, f], Duration::from_secs(20));
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("\rpublished "), "{shown:?}");
    assert!(
        shown.contains("published ") && shown.contains(" frames"),
        "{shown}"
    );
    let url = server.url("live/cq2");
    let (out, shown) = under_tty(
        &[CLIENT, "publish", "--quiet", &url, f],
        Duration::from_secs(20),
    );
    assert!(out.status.success(), "{shown}");
    assert!(
        !shown.contains('\r') || !shown.contains("\rpublished "),
        "{shown:?}"
    );
    assert!(shown.contains(" frames, "), "{shown}");
}

/// `rtmp-client publish` of `flv` to `url`, expected to fail: its exit code
/// and stderr.
fn client_fails(extra: &[&str], url: &str, flv: &Path) -> (i32, String) {
    let mut cmd = Command::new(CLIENT);
    cmd.args(extra).args(["publish", url]).arg(flv);
    let out = run(cmd, Duration::from_secs(30));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code().unwrap_or(-1), err)
}

/// `rtmp-bench` publishing to `url`, expected to fail: exit code, stderr.
fn bench_fails(url: &str, flv: &Path) -> (i32, String) {
    let mut cmd = Command::new(BENCH);
    cmd.args(["--url", url, "--flv"]).arg(flv).args([
        "--subscribers",
        "1",
        "--duration",
        "1",
        "--timeout",
        "1",
    ]);
    let out = run(cmd, Duration::from_secs(30));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code().unwrap_or(-1), err)
}

#[test]
fn failures_have_one_line_and_an_exit_code_per_class() {
    let dir = TempDir::new("cli-failures");
    let flv = dir.path().join("s.flv");
    write_flv(&flv, 8000);

    // Unreachable: a closed port.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("rtmp://127.0.0.1:{port}/live/x");
    let (code, err) = client_fails(&[], &url, &flv);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains(&url) && err.contains("tcp connect"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let (code, err) = bench_fails(&url, &flv);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains(&url) && err.contains("tcp connect"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    // Timeout: a listener that accepts and never answers the handshake.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in silent.incoming().flatten() {
            held.push(s);
        }
    });
    let url = format!("rtmp://{addr}/live/x");
    let (code, err) = client_fails(&["--timeout", "1"], &url, &flv);
    assert_eq!(code, 5, "{err}");
    assert!(
        err.contains(&url) && err.contains("handshake timed out"),
        "{err}"
    );
    let (code, err) = bench_fails(&url, &flv);
    assert_eq!(code, 5, "{err}");
    assert!(err.contains(&url) && err.contains("handshake"), "{err}");

    // Refused: a busy stream (the key is already published).
    let server = ServerProcess::start(&[]);
    let url = server.url("live/busy");
    let mut first = Command::new(CLIENT)
        .args(["publish", &url])
        .arg(&flv)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(server.wait_log(Duration::from_secs(5), |l| l.contains("live/busy")));
    std::thread::sleep(Duration::from_millis(300));
    let (code, err) = client_fails(&[], &url, &flv);
    assert_eq!(code, 6, "{err}");
    assert!(
        err.contains(&url)
            && err.contains("publish/play start")
            && err.contains("NetStream.Publish.BadName"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let (code, err) = bench_fails(&url, &flv);
    assert_eq!(code, 6, "{err}");
    assert!(err.contains("NetStream.Publish.BadName"), "{err}");
    let _ = first.kill();
    let _ = first.wait();

    // Refused: a bad key.
    let conf = dir.path().join("keys.toml");
    std::fs::write(&conf, "[apps.live]\npublish_keys = [\"k\"]\n").unwrap();
    let server = ServerProcess::start(&["--config", conf.to_str().unwrap()]);
    let url = server.url("live/s?key=wrong");
    let (code, err) = client_fails(&[], &url, &flv);
    assert_eq!(code, 6, "{err}");
    assert!(err.contains("NetStream.Publish.Denied"), "{err}");

    // Refused: the on_publish hook answers 403.
    let hook =
        common::hook_server::HookServer::start(common::hook_server::Reply::Status(403, vec![]));
    let conf = dir.path().join("hook.toml");
    std::fs::write(
        &conf,
        format!(
            "[apps.live]\non_publish = \"{}\"\n",
            hook.url("/on_publish")
        ),
    )
    .unwrap();
    let server = ServerProcess::start(&["--config", conf.to_str().unwrap()]);
    let url = server.url("live/hooked");
    let (code, err) = client_fails(&[], &url, &flv);
    assert_eq!(code, 6, "{err}");
    assert!(
        err.contains(&url) && err.contains("server refused publish/play start"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    // Usage.
    let out = run(
        {
            let mut c = Command::new(CLIENT);
            c.args(["publish", "--bogus"]);
            c
        },
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(2));
    let out = run(
        {
            let mut c = Command::new(CLIENT);
            c.args(["publish", "http://x/y/z", "f.flv"]);
            c
        },
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(2));
}

fn sigint(child: &Child) {
    let ok = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

#[test]
fn bench_ctrl_c_still_prints_the_summary() {
    let server = ServerProcess::start(&[]);
    let dir = TempDir::new("cli-bench-int");
    let flv = dir.path().join("s.flv");
    write_flv(&flv, 4000);
    let url = server.url("live/int");
    let mut child = Command::new(BENCH)
        .args(bench_args(&url, flv.to_str().unwrap(), "60")[1..].iter())
        .arg("--json")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    sigint(&child);
    let out = collect(&mut child, Duration::from_secs(10));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let j: serde_json::Value = serde_json::from_str(stdout.trim()).expect("JSON");
    assert_eq!(j["interrupted"], true);
    assert_eq!(j["connected"], 2);
    assert!(j["duration_s"].as_f64().unwrap() < 10.0, "{j}");
}

#[test]
fn client_play_ctrl_c_leaves_a_valid_flv() {
    if !common::have_tool("ffmpeg") || !common::have_tool("ffprobe") {
        return;
    }
    let server = ServerProcess::start(&[]);
    let url = server.url("live/sigint");
    let mut ff = common::ffmpeg_publish(&url, 20);
    assert!(server.wait_log(Duration::from_secs(10), |l| l.contains("live/sigint")));
    std::thread::sleep(Duration::from_millis(500));
    let dir = TempDir::new("cli-play-int");
    let out_flv = dir.path().join("out.flv");
    let mut child = Command::new(CLIENT)
        .args(["play", "--quiet", &url])
        .arg(&out_flv)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    sigint(&child);
    let out = collect(&mut child, Duration::from_secs(10));
    let _ = ff.kill();
    let _ = ff.wait();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("(interrupted)"), "{err}");
    let streams = common::probe_streams(&out_flv);
    assert!(common::frames_of(&streams, "h264") > 0, "{streams:?} {err}");
}
