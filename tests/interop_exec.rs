//! `exec_record_done` end to end on loopback: the server binary with
//! `--record-all` and a config file naming a test script; publishers (the
//! in-crate client, and ffmpeg when present) publish and stop; the script
//! runs once per recording with the recorded file's path, a hanging one is
//! killed at `exec_timeout_s` without delaying the next recording's job or
//! a live stream.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::rtmp::{avc_frame, avc_seq_header, TestClient};
use common::{ffmpeg_publish, have_tool, wait_child, wait_until, ServerProcess, TempDir};
use rtmp_edge::proto::session::MediaKind;

/// A server recording into `dir/rec` and running `dir/done.sh {path} {app}
/// {name}` for each finished recording; the script appends one line per
/// run to `dir/runs.txt` (and hangs for a stream named `hang`).
fn start(dir: &Path, timeout_s: u64) -> (ServerProcess, PathBuf) {
    start_with(dir, timeout_s, &[])
}

/// [`start`] with more server flags.
fn start_with(dir: &Path, timeout_s: u64, extra: &[&str]) -> (ServerProcess, PathBuf) {
    let runs = dir.join("runs.txt");
    let script = dir.join("done.sh");
    fs::write(
        &script,
        format!(
            "#!/bin/sh\n[ \"$3\" = hang ] && sleep 1000\necho \"$1 $2 $3\" >> '{}'\necho ran for \"$1\"\n",
            runs.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let config = dir.join("exec.toml");
    fs::write(
        &config,
        format!(
            "exec_record_done = [\"{}\", \"{{path}}\", \"{{app}}\", \"{{name}}\"]\nexec_timeout_s = {timeout_s}\n",
            script.display()
        ),
    )
    .unwrap();
    let rec = dir.join("rec");
    let mut args = vec![
        "--config",
        config.to_str().unwrap(),
        "--record-all",
        "--record-dir",
        rec.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let server = ServerProcess::start(&args);
    (server, runs)
}

fn runs(file: &Path) -> Vec<String> {
    fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Publish a second of video on `live/name` with the in-crate client, then stop.
fn publish_briefly(server: &ServerProcess, name: &str) {
    let mut publisher = TestClient::publish(server.addr, "live", name);
    publisher.send_media(MediaKind::Video, 0, &avc_seq_header());
    for n in 0..25 {
        publisher.send_media(MediaKind::Video, n * 40, &avc_frame(n == 0, n, 500));
    }
    publisher.finish();
}

#[test]
fn the_script_runs_once_per_recording_with_its_path() {
    let dir = TempDir::new("exec-e2e");
    let (server, runs_file) = start(dir.path(), 10);
    publish_briefly(&server, "one");
    publish_briefly(&server, "two");
    assert!(
        wait_until(Duration::from_secs(10), || runs(&runs_file).len() >= 2),
        "runs {:?}; log:\n{}",
        runs(&runs_file),
        server.log_text()
    );
    std::thread::sleep(Duration::from_millis(300));
    let mut lines = runs(&runs_file);
    assert_eq!(lines.len(), 2, "once per recording: {lines:?}");
    // The two jobs may run at the same time, in either order.
    lines.sort_by_key(|l| l.ends_with("two"));
    for (line, name) in lines.iter().zip(["one", "two"]) {
        let (path, rest) = line.split_once(' ').unwrap();
        assert_eq!(rest, format!("live {name}"));
        assert!(path.starts_with(&dir.path().join("rec").display().to_string()));
        assert!(path.contains(&format!("live_{name}_")), "{path}");
        assert!(fs::metadata(path).unwrap().len() > 0, "{path} is empty");
    }
    let log = server.log_text();
    assert!(log.contains("done.sh ("), "{log}");
    assert!(log.contains(": ran for "), "output goes to the log:\n{log}");
    assert!(log.contains(": exit status 0"), "{log}");
}

#[test]
fn the_script_runs_once_per_segment_with_that_segment_s_path() {
    let dir = TempDir::new("exec-seg");
    let segments = [
        "--record-segment-s",
        "2",
        "--record-path",
        "{app}/{name}-{seq}.flv",
    ];
    let (server, runs_file) = start_with(dir.path(), 10, &segments);
    // 7 s of media (a keyframe each second), sent at once: cuts at 2, 4 and
    // 6 s of media time make four files.
    let mut publisher = TestClient::publish(server.addr, "live", "seg");
    publisher.send_media(MediaKind::Video, 0, &avc_seq_header());
    for n in 0..175 {
        let frame = avc_frame(n % 25 == 0, n, 500);
        publisher.send_media(MediaKind::Video, n * 40, &frame);
    }
    publisher.finish();
    let rec = dir.path().join("rec");
    let want: Vec<String> = (0..4)
        .map(|seq| {
            rec.join(format!("live/seg-{seq}.flv"))
                .display()
                .to_string()
        })
        .collect();
    assert!(
        wait_until(Duration::from_secs(10), || runs(&runs_file).len() >= 4),
        "runs {:?}; log:\n{}",
        runs(&runs_file),
        server.log_text()
    );
    std::thread::sleep(Duration::from_millis(300));
    let mut got: Vec<String> = runs(&runs_file)
        .iter()
        .map(|l| {
            l.strip_suffix(" live seg")
                .expect("app and name")
                .to_string()
        })
        .collect();
    got.sort();
    assert_eq!(got, want, "one run per segment, each with its own path");
    let files: Vec<String> = common::files_below(&rec)
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    assert_eq!(files, want, "the segments on disk");
}

#[test]
fn a_hanging_script_is_killed_without_delaying_the_next_job_or_the_loop() {
    let dir = TempDir::new("exec-e2e-hang");
    let (server, runs_file) = start(dir.path(), 2);
    // A live stream with a viewer, through all of it.
    let mut live = TestClient::publish(server.addr, "live", "cam");
    let mut viewer = TestClient::play(server.addr, "live", "cam");
    live.send_media(MediaKind::Video, 0, &avc_seq_header());
    let start = Instant::now();
    publish_briefly(&server, "hang");
    assert!(
        server.wait_log(Duration::from_secs(5), |l| l.contains("done.sh (")
            && l.contains("started"))
    );
    publish_briefly(&server, "next");
    let mut n = 0u32;
    let mut sent_frame = |live: &mut TestClient| {
        live.send_media(
            MediaKind::Video,
            n * 40,
            &avc_frame(n.is_multiple_of(25), n, 300),
        );
        n += 1;
    };
    let next_ran = wait_until(Duration::from_secs(10), || {
        sent_frame(&mut live);
        runs(&runs_file).iter().any(|l| l.ends_with("live next"))
    });
    assert!(next_ran, "log:\n{}", server.log_text());
    assert!(
        !server.log_text().contains("killed after"),
        "the next job waited for the hanging one ({:?})",
        start.elapsed()
    );
    let got = viewer.collect_media(10, Duration::from_secs(5));
    assert!(got.len() >= 10, "the viewer starved: {} frames", got.len());
    assert!(
        server.wait_log(Duration::from_secs(10), |l| l
            .contains("killed after exec_timeout_s = 2")),
        "log:\n{}",
        server.log_text()
    );
    sent_frame(&mut live);
    let more: Vec<(MediaKind, u32, Bytes)> = viewer.collect_media(1, Duration::from_secs(5));
    assert!(!more.is_empty(), "the viewer stopped after the kill");
    assert!(!runs(&runs_file).iter().any(|l| l.ends_with("live hang")));
}

#[test]
fn ffmpeg_publish_then_the_script_sees_the_recorded_file() {
    if !have_tool("ffmpeg") {
        return;
    }
    let dir = TempDir::new("exec-e2e-ffmpeg");
    let (server, runs_file) = start(dir.path(), 10);
    let mut ffmpeg = ffmpeg_publish(&server.url("live/ff"), 3);
    assert!(
        wait_child(&mut ffmpeg, Duration::from_secs(60)).is_some(),
        "ffmpeg did not finish"
    );
    assert!(
        wait_until(Duration::from_secs(10), || !runs(&runs_file).is_empty()),
        "log:\n{}",
        server.log_text()
    );
    let lines = runs(&runs_file);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let (path, rest) = lines[0].split_once(' ').unwrap();
    assert_eq!(rest, "live ff");
    assert!(path.ends_with(".flv"), "{path}");
    assert!(
        fs::metadata(path).unwrap().len() > 10_000,
        "{path} holds 3 s of video"
    );
}

#[test]
fn shutdown_kills_a_running_script_after_a_bounded_wait() {
    let dir = TempDir::new("exec-e2e-stop");
    let (mut server, _) = start(dir.path(), 600);
    publish_briefly(&server, "hang");
    assert!(
        server.wait_log(Duration::from_secs(5), |l| l.contains("done.sh (")
            && l.contains("started"))
    );
    let start = Instant::now();
    let status = server.terminate(Duration::from_secs(10));
    let took = start.elapsed();
    assert!(status.is_some(), "the server did not exit");
    assert!(took < Duration::from_secs(5), "exit took {took:?}");
    let log = server.log_text();
    assert!(log.contains("killed at shutdown"), "{log}");
    assert!(
        log.contains("1 exec_record_done jobs still running at exit were killed"),
        "{log}"
    );
}
