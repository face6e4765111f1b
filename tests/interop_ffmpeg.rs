//! Interop with real ffmpeg: ffmpeg publishes a generated H.264 + AAC stream,
//! ffmpeg plays it into a file, ffprobe checks codecs and the decoded frame
//! count, and a late joiner decodes without errors from a keyframe.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::Duration;

use common::{have_tool, wait_child, ServerProcess, TempDir};

const FPS: u32 = 25;

fn publish(url: &str, seconds: u32) -> Child {
    Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-re"])
        .args([
            "-f",
            "lavfi",
            "-i",
            &format!("testsrc2=size=320x240:rate={FPS}"),
        ])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-tune",
            "zerolatency",
            "-pix_fmt",
            "yuv420p",
        ])
        .args(["-g", &FPS.to_string(), "-c:a", "aac", "-b:a", "64k"])
        .args(["-t", &seconds.to_string(), "-f", "flv", url])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ffmpeg publisher")
}

fn play(url: &str, out: &Path) -> Child {
    Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-i", url])
        .args(["-c", "copy", "-f", "flv", "-y"])
        .arg(out)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ffmpeg player")
}

/// (codec_name, codec_type, decoded frames) per stream, from ffprobe -count_frames.
fn probe_streams(file: &Path) -> Vec<(String, String, u64)> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-show_entries",
            "stream=codec_name,codec_type,nb_read_frames",
        ])
        .args(["-of", "csv=p=0"])
        .arg(file)
        .output()
        .expect("run ffprobe");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            if f.len() < 3 {
                return None;
            }
            Some((
                f[0].to_string(),
                f[1].to_string(),
                f[2].trim().parse().unwrap_or(0),
            ))
        })
        .collect()
}

fn frames_of(streams: &[(String, String, u64)], codec: &str) -> u64 {
    streams
        .iter()
        .find(|s| s.0 == codec)
        .map(|s| s.2)
        .unwrap_or(0)
}

/// Errors printed by a full decode of `file` (empty when it decodes cleanly).
fn decode_errors(file: &Path) -> String {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-v", "error", "-i"])
        .arg(file)
        .args(["-f", "null", "-"])
        .output()
        .expect("run ffmpeg decode");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

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
    let mut player = play(&url, &out);
    thread::sleep(Duration::from_millis(700));
    let seconds = 6;
    let mut publisher = publish(&url, seconds);
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
        streams.iter().any(|s| s.0 == "h264" && s.1 == "video"),
        "streams: {streams:?}"
    );
    assert!(
        streams.iter().any(|s| s.0 == "aac" && s.1 == "audio"),
        "streams: {streams:?}"
    );
    assert_eq!(
        frames_of(&streams, "h264"),
        (seconds * FPS) as u64,
        "every video frame arrives"
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
    let mut publisher = publish(&url, seconds);
    thread::sleep(Duration::from_millis(3_000));
    let mut player = play(&url, &out);
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
    // Joined about 3 s into an 8 s stream with a 1 s GOP cached: at least ~4 s of video.
    assert!(
        (90..=200).contains(&video),
        "late joiner got {video} video frames"
    );
    assert!(
        first_video_frame_is_key(&out),
        "first video frame is not a keyframe"
    );
    let errors = decode_errors(&out);
    assert!(errors.is_empty(), "late joiner decode errors: {errors}");
}
