//! Configuration reload through the real server process: SIGHUP (sent by
//! PID to the server this test started) re-reads `--config FILE`. A live
//! publisher and player keep streaming across the reload; new publishers
//! meet the new keys; a broken file is refused with the `--check-config`
//! message and changes nothing; recording, push targets and hooks switched
//! on (and pushes off) by a reload. Uses the in-crate client (no tools needed).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::hook_server::{HookServer, Reply, BOUND};
use common::relay::{numbered_publisher, send_frames, video_numbers};
use common::rtmp::{avc_frame, avc_seq_header, TestClient};
use common::{ServerProcess, TempDir};
use rtmp_edge::proto::client::{ClientEvent, ClientMode};
use rtmp_edge::proto::session::MediaKind;

const WAIT: Duration = Duration::from_secs(5);

fn sighup(server: &ServerProcess) {
    let ok = Command::new("kill")
        .args(["-HUP", &server.child.id().to_string()])
        .status()
        .expect("run kill")
        .success();
    assert!(ok, "kill -HUP failed");
}

/// Send SIGHUP and wait for the `n`-th line containing `needle`.
fn reload_and_wait(server: &ServerProcess, needle: &str, n: usize) -> String {
    sighup(server);
    assert!(
        server.wait_log(WAIT, |l| l.matches(needle).count() >= n),
        "no {needle:?} after SIGHUP:\n{}",
        server.log_text()
    );
    let log = server.log_text();
    log.lines()
        .filter(|l| l.contains(needle))
        .nth(n - 1)
        .unwrap()
        .to_string()
}

/// Write `text` to `file`, send SIGHUP and check that the `n`-th
/// "config reloaded" line ends with `summary`.
fn reload_expecting(server: &ServerProcess, file: &Path, text: &str, n: usize, summary: &str) {
    std::fs::write(file, text).unwrap();
    let line = reload_and_wait(server, "config reloaded from", n);
    assert!(
        line.ends_with(summary),
        "{line}
expected the end: {summary}"
    );
}

/// Publish `stream`: Some(true) started, Some(false) refused.
fn try_publish(server: &ServerProcess, stream: &str) -> bool {
    let mut c = TestClient::connect(server.addr, "live", stream, ClientMode::Publish);
    let e = c
        .wait_for(WAIT, |e| {
            matches!(e, ClientEvent::PublishStarted)
                || matches!(e, ClientEvent::Error { code, .. } if code == "NetStream.Publish.Denied")
        })
        .unwrap_or_else(|| panic!("no answer to the publish of {stream}"));
    matches!(e, ClientEvent::PublishStarted)
}

/// Send `n` frames from `first` on; returns how many the player got.
fn stream_frames(publisher: &mut TestClient, player: &mut TestClient, first: u32, n: u32) -> usize {
    for i in first..first + n {
        publisher.send_media(MediaKind::Video, i * 40, &avc_frame(i % 10 == 0, i, 2_000));
    }
    player.collect_media(n as usize, WAIT).len()
}

/// The server started with `--config FILE`, FILE holding `text`.
fn start_with(dir: &TempDir, text: &str) -> (std::path::PathBuf, ServerProcess) {
    let file = dir.path().join("server.toml");
    std::fs::write(&file, text).unwrap();
    let server = ServerProcess::start(&["--config", file.to_str().unwrap()]);
    (file, server)
}

/// Key A removed, key B added; the file's `listen` loses to --listen as at
/// start-up, and max_connections needs a restart.
const KEY_B: &str =
    "listen = \"127.0.0.1:9\"\nmax_connections = 50\n[apps.live]\npublish_keys = [\"B\"]\n";

fn check_config_message(file: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_rtmp-server"))
        .args(["--check-config", "--config", file.to_str().unwrap()])
        .output()
        .expect("run --check-config");
    assert!(
        !out.status.success(),
        "--check-config accepted a broken file"
    );
    String::from_utf8_lossy(&out.stderr).trim().to_string()
}

#[test]
fn sighup_swaps_publish_keys_without_dropping_the_live_stream_and_refuses_a_broken_file() {
    let dir = TempDir::new("reload");
    let (file, server) = start_with(&dir, "[apps.live]\npublish_keys = [\"A\"]\n");

    let mut publisher = TestClient::publish(server.addr, "live", "cam?key=A");
    let mut player = TestClient::play(server.addr, "live", "cam");
    publisher.send_media(MediaKind::Video, 0, &avc_seq_header());
    assert_eq!(player.collect_media(1, WAIT).len(), 1, "sequence header");
    assert_eq!(stream_frames(&mut publisher, &mut player, 0, 20), 20);

    let summary = format!(
        "config reloaded from {}: changed apps.live.publish_keys; needs a restart (running value kept): max_connections",
        file.display()
    );
    reload_expecting(&server, &file, KEY_B, 1, &summary);
    // The live stream goes on: every frame sent after the reload arrives.
    assert_eq!(
        stream_frames(&mut publisher, &mut player, 20, 30),
        30,
        "the player stopped receiving after the reload"
    );
    assert!(!try_publish(&server, "other?key=A"), "removed key accepted");
    assert!(try_publish(&server, "third?key=B"), "added key refused");

    // A broken file: refused with the --check-config message, nothing changes.
    std::fs::write(&file, "[apps.live]\npublish_keys = [\"A\"\n").unwrap();
    let expected = check_config_message(&file);
    let line = reload_and_wait(&server, "config reload refused", 1);
    assert!(
        line.ends_with(&format!(
            "config reload refused: {expected} (the running configuration stays)"
        )),
        "{line}\nexpected: {expected}"
    );
    assert!(try_publish(&server, "fourth?key=B"), "key B lost");
    assert!(!try_publish(&server, "fifth?key=A"), "key A back");
    assert_eq!(stream_frames(&mut publisher, &mut player, 50, 10), 10);

    // The same file again: nothing but the restart-only key to report.
    let again = ": needs a restart (running value kept): max_connections";
    reload_expecting(&server, &file, KEY_B, 2, again);
    let log = server.log_text();
    assert_eq!(
        log.matches("publish stop live/cam").count(),
        0,
        "the live publisher was stopped:\n{log}"
    );
}

#[test]
fn recording_switched_on_by_a_reload_starts_the_recorder_for_new_publishes() {
    let dir = TempDir::new("reload-rec");
    let rec = dir.path().join("rec");
    let (file, server) = start_with(&dir, "");
    let mut before = TestClient::publish(server.addr, "live", "before");

    let text = format!(
        "record_all = true\nrecord_dir = {:?}\n",
        rec.to_str().unwrap()
    );
    reload_expecting(&server, &file, &text, 1, ": changed record_all, record_dir");
    assert!(
        server.wait_log(WAIT, |l| l.contains("recording into")),
        "{}",
        server.log_text()
    );
    let mut after = TestClient::publish(server.addr, "live", "after");
    for publisher in [&mut before, &mut after] {
        publisher.send_media(MediaKind::Video, 0, &avc_seq_header());
        publisher.send_media(MediaKind::Video, 0, &avc_frame(true, 1, 2_000));
        publisher.finish();
    }
    assert!(
        server.wait_log(WAIT, |l| l.contains("publish stop live/after (recording")),
        "{}",
        server.log_text()
    );
    let names: Vec<String> = std::fs::read_dir(&rec)
        .expect("record_dir created")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].starts_with("live_after_"), "{names:?}");
}

#[test]
fn a_push_added_by_a_reload_starts_for_the_live_stream_and_stops_when_removed() {
    let dir = TempDir::new("reload-push");
    let second = ServerProcess::start(&[]);
    let (file, first) = start_with(&dir, "");
    let mut publisher = numbered_publisher(first.addr, "r");
    let mut local = TestClient::play(first.addr, "live", "r");
    send_frames(&mut publisher, 0, 25);

    let table = format!(
        "[apps.live]\npush = [\"rtmp://{}/live/{{name}}\"]\n",
        second.addr
    );
    let started = ": changed apps.live; pushes 1 started, 0 stopped";
    reload_expecting(&first, &file, &table, 1, started);
    assert!(
        first.wait_log(WAIT, |l| l.contains("push live/r #0: publishing")),
        "{}",
        first.log_text()
    );
    let mut remote = TestClient::play(second.addr, "live", "r");
    send_frames(&mut publisher, 25, 75);
    // The GOP cache (frames 0..25) first, then the new frames.
    let pushed = video_numbers(&remote.collect_media(70, WAIT));
    assert!(
        pushed.iter().any(|&n| n >= 25),
        "nothing pushed: {pushed:?}"
    );

    let stopped = ": changed apps.live; pushes 0 started, 1 stopped";
    reload_expecting(&first, &file, "", 2, stopped);
    assert!(
        second.wait_log(WAIT, |l| l.contains("publish stop live/r")),
        "the target's publish did not end:\n{}",
        second.log_text()
    );
    send_frames(&mut publisher, 75, 100);
    // The local player got every frame, in order, across both reloads.
    let all = video_numbers(&local.collect_media(101, WAIT));
    assert_eq!(all, (0..100).collect::<Vec<u32>>());
    assert!(first
        .log_text()
        .contains("push live/r #0: stopped (removed by a reload)"));
}

#[test]
fn a_hook_added_by_a_reload_starts_the_hook_workers_and_decides_new_publishes() {
    let hooks = HookServer::start(Reply::Status(403, vec![]));
    let dir = TempDir::new("reload-hook");
    let (file, server) = start_with(&dir, "");
    assert!(try_publish(&server, "open"), "no hook yet: accepted");

    let text = format!(
        "[apps.live]\non_publish = \"http://{}/on_publish\"\n",
        hooks.addr
    );
    reload_expecting(&server, &file, &text, 1, ": changed apps.live");
    assert!(
        !try_publish(&server, "guarded"),
        "the new hook was not asked"
    );
    let asked = hooks
        .requests
        .recv_timeout(BOUND)
        .expect("the hook server was called");
    assert_eq!(asked.path, "/on_publish");
    assert!(asked.body.contains("name=guarded"), "{}", asked.body);
}
