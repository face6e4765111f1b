//! Recording interop: ffmpeg publishes H.264 + AAC with `--record-all`;
//! ffprobe and ffmpeg check the FLV file after unpublish, after SIGTERM in
//! the middle of a publish, and after kill -9 (a playable prefix).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{
    ffmpeg_publish, have_tool, recorded_video_secs, wait_child, wait_until, ServerProcess, TempDir,
};

/// Generous bound for waiting on an event (2 shared cores, x264 encoding).
const EVENT_WAIT: Duration = Duration::from_secs(60);

/// Wait until the one recording in `dir` holds at least `secs` of video;
/// returns its path and the seconds seen.
fn wait_for_recorded(server: &ServerProcess, dir: &Path, secs: f64) -> (PathBuf, f64) {
    let mut seen = (PathBuf::new(), 0.0);
    let ok = wait_until(EVENT_WAIT, || {
        if let Some(f) = recordings(dir).into_iter().next() {
            seen = (f.clone(), recorded_video_secs(&f));
        }
        seen.1 >= secs
    });
    assert!(
        ok,
        "the recording never held {secs} s of video (last seen {seen:?}); log:\n{}",
        server.log_text()
    );
    seen
}

fn recordings(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "flv"));
    files.sort();
    files
}

/// (format duration in seconds, codec names).
fn probe(file: &Path) -> (f64, Vec<String>) {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration:stream=codec_name",
            "-of",
            "default=nw=1",
        ])
        .arg(file)
        .output()
        .expect("ffprobe");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut duration = 0.0;
    let mut codecs = Vec::new();
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("duration=") {
            duration = v.trim().parse().unwrap_or(0.0);
        } else if let Some(v) = line.strip_prefix("codec_name=") {
            codecs.push(v.trim().to_string());
        }
    }
    (duration, codecs)
}

/// Seconds of video a full decode gets through, and its error output.
fn decode(file: &Path) -> (f64, String) {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v",
            "-show_entries",
            "packet=pts_time",
            "-of",
            "csv=p=0",
        ])
        .arg(file)
        .output()
        .expect("ffprobe packets");
    let last = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse::<f64>().ok())
        .fold(0.0, f64::max);
    let dec = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-v", "error", "-i"])
        .arg(file)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg decode");
    (last, String::from_utf8_lossy(&dec.stderr).into_owned())
}

fn file_name_ok(file: &Path) {
    let name = file.file_name().unwrap().to_string_lossy().to_string();
    // live_rec_YYYYMMDD_HHMMSS.flv
    let rest = name
        .strip_prefix("live_rec_")
        .unwrap_or_else(|| panic!("unexpected name {name}"));
    let rest = rest.strip_suffix(".flv").unwrap();
    let (date, time) = rest.split_once('_').unwrap();
    assert!(
        date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit()),
        "{name}"
    );
    assert!(
        time.len() == 6 && time.bytes().all(|b| b.is_ascii_digit()),
        "{name}"
    );
}

#[test]
fn recording_after_unpublish_has_the_right_duration() {
    if !have_tool("ffmpeg") || !have_tool("ffprobe") {
        return;
    }
    let dir = TempDir::new("rec-unpublish");
    let server =
        ServerProcess::start(&["--record-all", "--record-dir", dir.path().to_str().unwrap()]);
    let mut publisher = ffmpeg_publish(&server.url("live/rec"), 10);
    let status = wait_child(&mut publisher, EVENT_WAIT).expect("publisher finished");
    assert!(status.success());
    // Wait for the recorder's own word that the file is finalized.
    assert!(
        wait_until(EVENT_WAIT, || server.log_text().contains(" finished: ")),
        "recording not finalized after the unpublish; log:\n{}",
        server.log_text()
    );
    let files = recordings(dir.path());
    assert_eq!(
        files.len(),
        1,
        "files: {files:?}; log:\n{}",
        server.log_text()
    );
    file_name_ok(&files[0]);
    let (duration, codecs) = probe(&files[0]);
    assert!(
        codecs.contains(&"h264".to_string()) && codecs.contains(&"aac".to_string()),
        "{codecs:?}"
    );
    assert!((duration - 10.0).abs() <= 0.5, "duration {duration}");
    let (_, errors) = decode(&files[0]);
    assert!(errors.is_empty(), "decode errors: {errors}");
}

#[test]
fn recording_is_finalized_on_sigterm_mid_publish() {
    if !have_tool("ffmpeg") || !have_tool("ffprobe") {
        return;
    }
    let dir = TempDir::new("rec-sigterm");
    let mut server =
        ServerProcess::start(&["--record-all", "--record-dir", dir.path().to_str().unwrap()]);
    let mut publisher = ffmpeg_publish(&server.url("live/rec"), 30);
    // Mid-publish: once the file on disk holds 4 s of video.
    let (_, seen) = wait_for_recorded(&server, dir.path(), 4.0);
    // No shutdown deadline is promised; 20 s only bounds a hang.
    let status = server
        .terminate(Duration::from_secs(20))
        .expect("server exited after SIGTERM");
    assert!(status.success(), "exit status {status:?}");
    let _ = wait_child(&mut publisher, Duration::from_secs(10));
    let files = recordings(dir.path());
    assert_eq!(files.len(), 1, "files: {files:?}");
    let (duration, codecs) = probe(&files[0]);
    assert!(
        codecs.contains(&"h264".to_string()) && codecs.contains(&"aac".to_string()),
        "{codecs:?}"
    );
    // What was on disk before the signal, plus what arrived until the
    // server read it (ffmpeg publishes in real time: well under 3 s).
    assert!(
        duration >= seen - 0.1 && duration <= seen + 3.0,
        "duration {duration} s, {seen} s on disk before SIGTERM"
    );
    let (_, errors) = decode(&files[0]);
    assert!(errors.is_empty(), "decode errors: {errors}");
}

#[test]
fn recording_has_a_playable_prefix_after_kill_9() {
    if !have_tool("ffmpeg") || !have_tool("ffprobe") {
        return;
    }
    let dir = TempDir::new("rec-kill9");
    let mut server =
        ServerProcess::start(&["--record-all", "--record-dir", dir.path().to_str().unwrap()]);
    let mut publisher = ffmpeg_publish(&server.url("live/rec"), 30);
    // Flushed at least every second: 3 s of video reach the disk while the
    // server runs, and kill -9 cannot take back what is written.
    let (_, seen) = wait_for_recorded(&server, dir.path(), 3.0);
    server.child.kill().expect("kill -9");
    let _ = server.child.wait();
    let _ = wait_child(&mut publisher, Duration::from_secs(10));
    let files = recordings(dir.path());
    assert_eq!(files.len(), 1, "files: {files:?}");
    let (last_pts, errors) = decode(&files[0]);
    assert!(
        last_pts >= seen - 0.1,
        "only {last_pts} s of video survived kill -9 ({seen} s were on disk)"
    );
    assert!(
        errors.is_empty(),
        "the prefix does not decode cleanly: {errors}"
    );
    let (_, codecs) = probe(&files[0]);
    assert!(codecs.contains(&"h264".to_string()), "{codecs:?}");
}
