//! Recording segments with real clients: ffmpeg publishes H.264 (1 s GOP)
//! and AAC with `--record-segment-s` / `--record-segment-bytes` and a path
//! template; ffprobe and ffmpeg check every segment. Also: hostile names
//! with a template stay inside the record dir, and kill -9 in the second
//! segment leaves the first finalized and the second playable.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use bytes::BytesMut;
use common::rtmp::{aac_frame, aac_seq_header, avc_frame, avc_seq_header, TestClient};
use common::{
    decode_errors, ffmpeg_publish_with, files_below, frames_of, have_tool, probe_streams,
    recorded_video_secs, wait_child, wait_until, ServerProcess, TempDir, TEST_FPS,
};
use rtmp_edge::proto::flv::{self, FlvReader, TAG_SCRIPT};
use rtmp_edge::proto::session::MediaKind;

/// Generous bound for waiting on an event (2 shared cores, x264 encoding).
const EVENT_WAIT: Duration = Duration::from_secs(90);

/// The `duration` of the file's onMetaData tag, in seconds (read up to the
/// last complete tag, so a growing file works too).
fn metadata_duration(file: &Path) -> f64 {
    let mut buf = BytesMut::from(&std::fs::read(file).unwrap()[..]);
    let mut reader = FlvReader::new();
    let tag = reader.next_tag(&mut buf).unwrap().expect("a first tag");
    assert_eq!(tag.tag_type, TAG_SCRIPT, "{}", file.display());
    let off = flv::find_number_property(&tag.data, "duration").expect("duration");
    f64::from_be_bytes(tag.data[off..off + 8].try_into().unwrap())
}

/// Video packets as ffprobe reads them: (dts seconds, flags).
fn video_packets(file: &Path) -> Vec<(f64, String)> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v"])
        .args(["-show_entries", "packet=dts_time,flags", "-of", "csv=p=0"])
        .arg(file)
        .output()
        .expect("ffprobe packets");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (t, f) = l.split_once(',')?;
            Some((t.trim().parse().ok()?, f.trim().to_string()))
        })
        .collect()
}

/// Waits until the server logged `n` finalized files.
fn wait_finished(server: &ServerProcess, n: usize) {
    let ok = wait_until(EVENT_WAIT, || {
        server.log_text().matches(" finished: ").count() >= n
    });
    assert!(ok, "{n} files not finalized; log:\n{}", server.log_text());
}

#[test]
fn ffmpeg_25_s_cut_every_10_s_gives_three_clean_segments() {
    if !have_tool("ffmpeg") || !have_tool("ffprobe") {
        return;
    }
    let dir = TempDir::new("seg-time");
    let d = dir.path().to_str().unwrap();
    let server = ServerProcess::start(&[
        "--record-all",
        "--record-dir",
        d,
        "--record-segment-s",
        "10",
    ]);
    // Exactly 25 s × 25 fps pictures: -frames:v caps what -t allows.
    let sent = 25 * u64::from(TEST_FPS);
    let frames = sent.to_string();
    let mut publisher = ffmpeg_publish_with(
        &server.url("live/seg"),
        25,
        "320x240",
        &["-frames:v", &frames],
    );
    let status = wait_child(&mut publisher, EVENT_WAIT).expect("publisher finished");
    assert!(status.success());
    wait_finished(&server, 3);
    let files = files_below(dir.path());
    assert_eq!(files.len(), 3, "{files:?}\nlog:\n{}", server.log_text());
    let mut total_frames = 0;
    let mut durations = Vec::new();
    for (i, file) in files.iter().enumerate() {
        let errors = decode_errors(file);
        assert!(errors.is_empty(), "{}: {errors}", file.display());
        total_frames += frames_of(&probe_streams(file), "h264");
        let packets = video_packets(file);
        let (first_dts, first_flags) = &packets[0];
        assert!(
            first_flags.starts_with('K'),
            "{}: {packets:?}",
            file.display()
        );
        // Later segments start with their cutting keyframe at 0; the first
        // one may start with an audio frame just before its first picture.
        let start = if i == 0 { 0.1 } else { 0.001 };
        assert!(
            *first_dts < start,
            "{}: starts at {first_dts}",
            file.display()
        );
        let meta = metadata_duration(file);
        let last_dts = packets.last().unwrap().0;
        // A segment lasts up to the next one's first frame: its last picture
        // plus one frame interval; the last segment up to its last frame
        // (audio may end a little after the last picture).
        let want = if i < 2 { last_dts + 0.04 } else { last_dts };
        assert!(
            (meta - want).abs() <= 0.05 || (i == 2 && meta >= want && meta - want <= 0.1),
            "{}: metadata {meta} s, packets say {want} s",
            file.display()
        );
        durations.push(meta);
    }
    eprintln!("segment durations {durations:?}, frames {total_frames} of {sent}");
    assert_eq!(total_frames, sent, "pictures lost or duplicated");
    for d in &durations[..2] {
        assert!((10.0..=11.0).contains(d), "{durations:?}");
    }
    let sum: f64 = durations.iter().sum();
    assert!((sum - 25.0).abs() <= 0.2, "{durations:?}");
}

#[test]
fn size_limit_and_template_with_subdirectories() {
    if !have_tool("ffmpeg") || !have_tool("ffprobe") {
        return;
    }
    let dir = TempDir::new("seg-bytes");
    let d = dir.path().to_str().unwrap();
    let server = ServerProcess::start(&[
        "--record-all",
        "--record-dir",
        d,
        "--record-segment-bytes",
        "100000",
        "--record-path",
        "{app}/{name}/{date}-{seq}.flv",
    ]);
    let sent = 8 * u64::from(TEST_FPS);
    let frames = sent.to_string();
    let mut publisher = ffmpeg_publish_with(
        &server.url("live/cam"),
        8,
        "320x240",
        &["-frames:v", &frames],
    );
    let status = wait_child(&mut publisher, EVENT_WAIT).expect("publisher finished");
    assert!(status.success());
    assert!(
        wait_until(EVENT_WAIT, || server.log_text().contains("publish stop")),
        "{}",
        server.log_text()
    );
    let files = files_below(dir.path());
    wait_finished(&server, files.len());
    assert!(files.len() >= 2, "{files:?}\nlog:\n{}", server.log_text());
    let mut total_frames = 0;
    for (seq, file) in files.iter().enumerate() {
        assert_eq!(file.parent().unwrap(), dir.path().join("live/cam"));
        let name = file.file_name().unwrap().to_str().unwrap();
        let (date, rest) = name.split_once('-').unwrap();
        assert!(
            date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit()),
            "{name}"
        );
        assert_eq!(rest, format!("{seq}.flv"), "{files:?}");
        let size = std::fs::metadata(file).unwrap().len();
        if seq + 1 < files.len() {
            // Cut at the first keyframe past 100 000 bytes: one GOP at most
            // beyond it.
            assert!((100_000..400_000).contains(&size), "{name}: {size} bytes");
        }
        assert!(decode_errors(file).is_empty(), "{name}");
        assert!(video_packets(file)[0].1.starts_with('K'), "{name}");
        total_frames += frames_of(&probe_streams(file), "h264");
    }
    assert_eq!(total_frames, sent);
}

fn send_gops(publisher: &mut TestClient, gops: u32) {
    publisher.send_media(MediaKind::Video, 0, &avc_seq_header());
    publisher.send_media(MediaKind::Audio, 0, &aac_seq_header());
    for n in 0..gops * 10 {
        publisher.send_media(MediaKind::Video, n * 100, &avc_frame(n % 10 == 0, n, 500));
        publisher.send_media(MediaKind::Audio, n * 100, &aac_frame(n));
    }
}

#[test]
fn hostile_names_with_a_template_stay_inside_the_record_dir() {
    let root = TempDir::new("seg-names");
    let dir = root.path().join("rec");
    let server = ServerProcess::start(&[
        "--record-all",
        "--record-dir",
        dir.to_str().unwrap(),
        "--record-segment-s",
        "1",
        "--record-path",
        "{app}/{name}/{seq}.flv",
    ]);
    let names = [
        "../../escape",
        "/abs/path",
        "..",
        ".hidden",
        "a\\b",
        "x\u{0}y",
    ];
    for name in names {
        let mut publisher = TestClient::publish(server.addr, "live", name);
        // Two 1 s GOPs: two segments each.
        send_gops(&mut publisher, 2);
        publisher.finish();
    }
    let expected = 2 * names.len();
    assert!(
        wait_until(Duration::from_secs(10), || server
            .log_text()
            .matches(" finished: ")
            .count()
            >= expected),
        "log:\n{}",
        server.log_text()
    );
    let files = files_below(root.path());
    assert_eq!(files.len(), expected, "{files:?}");
    for f in &files {
        let rel = f.strip_prefix(&dir).expect("inside the record dir");
        let parts: Vec<&str> = rel.iter().map(|c| c.to_str().unwrap()).collect();
        assert_eq!(parts.len(), 3, "{rel:?}");
        assert_eq!(parts[0], "live");
        assert!(
            !parts[1].starts_with('.') && !parts[1].contains(['\\', '\0']),
            "{rel:?}"
        );
        assert!(parts[2] == "0.flv" || parts[2] == "1.flv", "{rel:?}");
    }
}

#[test]
fn kill_9_in_the_second_segment_leaves_the_first_finalized() {
    if !have_tool("ffmpeg") || !have_tool("ffprobe") {
        return;
    }
    let dir = TempDir::new("seg-kill9");
    let d = dir.path().to_str().unwrap();
    let mut server =
        ServerProcess::start(&["--record-all", "--record-dir", d, "--record-segment-s", "3"]);
    let mut publisher = ffmpeg_publish_with(&server.url("live/k9"), 30, "320x240", &[]);
    // The second segment holds 1.5 s of video on disk (flushed each second).
    let second_secs = || {
        files_below(dir.path())
            .get(1)
            .map_or(0.0, |f| recorded_video_secs(f))
    };
    assert!(
        wait_until(EVENT_WAIT, || second_secs() >= 1.5),
        "no second segment; log:\n{}",
        server.log_text()
    );
    server.child.kill().expect("kill -9");
    let _ = server.child.wait();
    let _ = wait_child(&mut publisher, Duration::from_secs(10));
    let files = files_below(dir.path());
    assert_eq!(files.len(), 2, "{files:?}");
    let first = metadata_duration(&files[0]);
    assert!(
        (3.0..=4.1).contains(&first),
        "first segment duration {first}"
    );
    assert!(decode_errors(&files[0]).is_empty());
    assert_eq!(metadata_duration(&files[1]), 0.0, "not finalized");
    let errors = decode_errors(&files[1]);
    assert!(
        errors.is_empty(),
        "the current segment does not decode: {errors}"
    );
    assert!(frames_of(&probe_streams(&files[1]), "h264") >= 25);
}
