//! Interop with real ffmpeg: ffmpeg publishes a generated H.264 + AAC stream,
//! ffmpeg plays it into a file, ffprobe checks codecs and the decoded frame
//! count, and a late joiner decodes without errors from a keyframe.

mod common;

use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use common::rtmp::TestClient;
use common::{
    decode_errors, ffmpeg_play, ffmpeg_publish, frames_of, have_tool, probe_streams, wait_child,
    wait_until, ServerProcess, TempDir, TEST_FPS,
};
use rtmp_edge::proto::client::ClientEvent;
use rtmp_edge::proto::session::MediaKind;

fn first_video_frame_is_key(file: &Path) -> bool {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v",
            "-read_intervals",
            "%+#1",
        ])
        .args(["-show_entries", "frame=key_frame", "-of", "csv=p=0"])
        .arg(file)
        .output()
        .expect("run ffprobe");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .map(|l| l.trim())
        == Some("1")
}

fn stderr_of(child: &mut Child) -> String {
    use std::io::Read;
    let mut s = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut s);
    }
    s
}

#[test]
fn ffmpeg_publish_and_play_whole_stream() {
    if !have_tool("ffmpeg") || !have_tool("ffprobe") {
        return;
    }
    let server = ServerProcess::start(&[]);
    let dir = TempDir::new("interop-whole");
    let out = dir.path().join("whole.flv");
    let url = server.url("live/whole");
    // The player arrives first and waits for the publisher.
    let mut player = ffmpeg_play(&url, &out);
    assert!(
        wait_until(Duration::from_secs(30), || server
            .log_text()
            .contains("play start live/whole")),
        "the player never started; log:\n{}",
        server.log_text()
    );
    let seconds = 6;
    let mut publisher = ffmpeg_publish(&url, seconds);
    let pub_status =
        wait_child(&mut publisher, Duration::from_secs(30)).expect("publisher finished");
    assert!(
        pub_status.success(),
        "publisher failed: {}",
        stderr_of(&mut publisher)
    );
    // The player ends by itself on NetStream.Play.UnpublishNotify.
    let play_status = wait_child(&mut player, Duration::from_secs(15));
    assert!(
        play_status.is_some(),
        "player did not stop after unpublish; server log:\n{}",
        server.log_text()
    );
    let streams = probe_streams(&out);
    assert!(
        streams
            .iter()
            .any(|s| s.codec == "h264" && s.kind == "video"),
        "streams: {streams:?}"
    );
    assert!(
        streams
            .iter()
            .any(|s| s.codec == "aac" && s.kind == "audio"),
        "streams: {streams:?}"
    );
    assert_eq!(
        frames_of(&streams, "h264"),
        (seconds * TEST_FPS) as u64,
        "every video frame arrives"
    );
    // ffmpeg sends a scheme-0 digest C1, so it gets our digest answer: its
    // player signs C2 only after validating our S1 and S2; its publisher
    // echoes S1.
    let lines = common::handshake_lines(&server.log_text());
    assert!(
        lines.iter().any(|l| l == "digest scheme 0, C2 signed"),
        "no signed C2 from the player: {lines:?}"
    );
    assert!(
        lines.iter().any(|l| l == "digest scheme 0, C2 echoes S1"),
        "no echoed C2 from the publisher: {lines:?}"
    );
    // 44100 Hz AAC: 1024 samples a frame.
    let audio = frames_of(&streams, "aac");
    let expected_audio = (seconds as u64 * 44100).div_ceil(1024);
    assert!(
        audio + 2 >= expected_audio,
        "audio frames {audio} < {expected_audio}"
    );
    let errors = decode_errors(&out);
    assert!(errors.is_empty(), "decode errors: {errors}");
}

#[test]
fn ffmpeg_late_joiner_decodes_from_a_keyframe() {
    if !have_tool("ffmpeg") || !have_tool("ffprobe") {
        return;
    }
    let server = ServerProcess::start(&[]);
    let dir = TempDir::new("interop-late");
    let out = dir.path().join("late.flv");
    let url = server.url("live/late");
    let seconds = 8;
    let mut publisher = ffmpeg_publish(&url, seconds);
    // Join late by stream time, not wall time (x264 may run slower than
    // real time on a loaded machine): once a watcher sees video at 2.5 s.
    let mut watcher = TestClient::play(server.addr, "live", "late");
    let seen = watcher.wait_for(Duration::from_secs(60), |e| {
        matches!(e, ClientEvent::Media { kind: MediaKind::Video, timestamp, .. } if *timestamp >= 2_500)
    });
    assert!(seen.is_some(), "the stream never reached 2.5 s");
    drop(watcher);
    let mut player = ffmpeg_play(&url, &out);
    let pub_status =
        wait_child(&mut publisher, Duration::from_secs(30)).expect("publisher finished");
    assert!(
        pub_status.success(),
        "publisher failed: {}",
        stderr_of(&mut publisher)
    );
    assert!(
        wait_child(&mut player, Duration::from_secs(15)).is_some(),
        "late player did not stop after unpublish"
    );
    let streams = probe_streams(&out);
    let video = frames_of(&streams, "h264");
    assert!(frames_of(&streams, "aac") > 0, "streams: {streams:?}");
    // Joined at 2.5 s or later into an 8 s stream (200 frames, 1 s GOP):
    // the cached GOP starts at 2 s or later, so at most 150 frames; ffmpeg's
    // start-up may cost up to 2 GOPs more before at least 90 (3.6 s) are left.
    assert!(
        (90..=150).contains(&video),
        "late joiner got {video} video frames"
    );
    assert!(
        first_video_frame_is_key(&out),
        "first video frame is not a keyframe"
    );
    let errors = decode_errors(&out);
    assert!(errors.is_empty(), "late joiner decode errors: {errors}");
}
