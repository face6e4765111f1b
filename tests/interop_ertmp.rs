//! Enhanced RTMP interop with ffmpeg 9 (PyPI `imageio-ffmpeg`, libx265,
//! SVT-AV1): single-track HEVC and AV1, and the four-track stream (H.264
//! 640x360 on track 0, HEVC 320x180 on track 1, mono and stereo AAC), each
//! to a player started before the publisher and one started 3 s after it.
//! Players copy to matroska; Debian's ffprobe reads what they got
//! (dimensions, channels) and Debian's ffmpeg decodes it. The recording of
//! the four-track stream is read back by ffmpeg 9 with every track. Also:
//! a late joiner with `-map 0` shows no stray subtitle stream (ffmpeg 9
//! makes one of an onMetaData not stamped 0), and an onCuePoint sent
//! mid-stream reaches a player and the recording.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{decode_errors, have_tool, wait_child, ServerProcess, TempDir};
use rtmp_edge::client::{Player, Publisher};
use rtmp_edge::proto::amf0::Amf0Value;
use rtmp_edge::proto::client::ClientEvent;
use rtmp_edge::proto::flv;
use rtmp_edge::proto::session::MediaKind;

const WAIT: Duration = Duration::from_secs(60);

/// One stream as ffprobe reports it.
#[derive(Debug, Clone, PartialEq)]
struct Probed {
    kind: String,
    codec: String,
    width: u32,
    height: u32,
    channels: u32,
    packets: u64,
}

fn probe(file: &Path) -> Vec<Probed> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_packets", "-show_entries"])
        .arg("stream=codec_type,codec_name,width,height,channels,nb_read_packets")
        .args(["-of", "json"])
        .arg(file)
        .output()
        .expect("run ffprobe");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let num = |s: &serde_json::Value, k: &str| -> u64 {
        s.get(k)
            .and_then(|x| {
                x.as_u64()
                    .or_else(|| x.as_str().and_then(|t| t.parse().ok()))
            })
            .unwrap_or(0)
    };
    v["streams"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| Probed {
                    kind: s["codec_type"].as_str().unwrap_or("").to_owned(),
                    codec: s["codec_name"].as_str().unwrap_or("").to_owned(),
                    width: num(s, "width") as u32,
                    height: num(s, "height") as u32,
                    channels: num(s, "channels") as u32,
                    packets: num(s, "nb_read_packets"),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn ffmpeg9_cmd(ffmpeg9: &Path) -> Command {
    let mut c = Command::new(ffmpeg9);
    c.args(["-hide_banner", "-nostdin", "-loglevel", "error"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

/// An ffmpeg 9 player copying every stream of `url` to `out` (matroska)
/// for at most `secs` seconds.
fn play(ffmpeg9: &Path, url: &str, out: &Path, secs: u32) -> Child {
    ffmpeg9_cmd(ffmpeg9)
        .args([
            "-i",
            url,
            "-map",
            "0",
            "-c",
            "copy",
            "-t",
            &secs.to_string(),
        ])
        .args(["-f", "matroska", "-y"])
        .arg(out)
        .spawn()
        .expect("spawn ffmpeg 9 player")
}

/// Waits for an ffmpeg child; panics with its stderr and the server log.
fn finish(child: Child, what: &str, server: &ServerProcess) {
    let mut child = child;
    let status = wait_child(&mut child, WAIT);
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut err);
    }
    assert!(
        status.is_some_and(|s| s.success()),
        "{what}: {status:?}\n{err}\nserver log:\n{}",
        server.log_text()
    );
}

/// Publishes lavfi test sources with `encode` (the codec arguments and
/// maps) for `secs` seconds in real time.
fn publish(ffmpeg9: &Path, url: &str, secs: u32, encode: &[&str]) -> Child {
    ffmpeg9_cmd(ffmpeg9)
        .args(["-re", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25"])
        .args([
            "-re",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000",
        ])
        .args([
            "-re",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=660:sample_rate=44100",
        ])
        .args(["-t", &secs.to_string()])
        .args(encode)
        .args(["-rtmp_enhanced_codecs", "hvc1,av01,avc1,mp4a"])
        .args(["-f", "flv", url])
        .spawn()
        .expect("spawn ffmpeg 9 publisher")
}

/// Early and late players of one publish; returns their files.
fn early_and_late(
    ffmpeg9: &Path,
    server: &ServerProcess,
    dir: &TempDir,
    name: &str,
    encode: &[&str],
) -> (PathBuf, PathBuf) {
    let url = server.url(&format!("live/{name}"));
    let early_file = dir.path().join(format!("{name}-early.mkv"));
    let late_file = dir.path().join(format!("{name}-late.mkv"));
    let early = play(ffmpeg9, &url, &early_file, 6);
    assert!(
        server.wait_log(Duration::from_secs(10), |l| l
            .contains(&format!("play start live/{name}"))),
        "early player did not start:\n{}",
        server.log_text()
    );
    let publisher = publish(ffmpeg9, &url, 9, encode);
    assert!(
        server.wait_log(Duration::from_secs(20), |l| l
            .contains(&format!("publish start live/{name}"))),
        "publisher did not start:\n{}",
        server.log_text()
    );
    std::thread::sleep(Duration::from_secs(3));
    let late = play(ffmpeg9, &url, &late_file, 4);
    finish(early, "early player", server);
    finish(late, "late player", server);
    finish(publisher, "publisher", server);
    (early_file, late_file)
}

fn needs_tools() -> Option<PathBuf> {
    if !have_tool("ffmpeg") || !have_tool("ffprobe") {
        return None;
    }
    common::ffmpeg9()
}

/// Each player's file: the video at `size` with `codec`, AAC audio, no
/// other stream, decoding cleanly.
fn assert_single_track(file: &Path, codec: &str, size: (u32, u32)) {
    let streams = probe(file);
    let video: Vec<_> = streams.iter().filter(|s| s.kind == "video").collect();
    let audio: Vec<_> = streams.iter().filter(|s| s.kind == "audio").collect();
    assert_eq!(streams.len(), 2, "{file:?}: {streams:?}");
    assert_eq!(video.len(), 1, "{streams:?}");
    assert_eq!(video[0].codec, codec, "{streams:?}");
    assert_eq!((video[0].width, video[0].height), size, "{streams:?}");
    assert!(video[0].packets >= 25, "{streams:?}");
    assert_eq!(audio[0].codec, "aac", "{streams:?}");
    assert!(audio[0].packets > 0, "{streams:?}");
    let errors = decode_errors(file);
    assert!(errors.is_empty(), "{file:?} decode errors: {errors}");
}

/// One video codec (`video_args`) with AAC from ffmpeg 9 to an early and a
/// late player; each gets `codec` at 640x360 and the audio, and (ffmpeg 9
/// with `-map 0`) no stray subtitle stream on the late join.
fn single_track(name: &str, video_args: &[&str], codec: &str) {
    let Some(ffmpeg9) = needs_tools() else { return };
    let dir = TempDir::new(&format!("ertmp-{name}"));
    let server = ServerProcess::start(&[]);
    let mut encode = vec!["-map", "0:v", "-map", "1:a", "-c:a", "aac"];
    encode.extend_from_slice(video_args);
    let (early, late) = early_and_late(&ffmpeg9, &server, &dir, name, &encode);
    assert_single_track(&early, codec, (640, 360));
    assert_single_track(&late, codec, (640, 360));
}

#[test]
fn hevc_from_ffmpeg9_reaches_early_and_late_players() {
    let x265 = ["-c:v", "libx265", "-preset", "ultrafast", "-g", "25"];
    single_track(
        "hevc",
        &[&x265[..], &["-x265-params", "log-level=error"]].concat(),
        "hevc",
    );
}

#[test]
fn av1_from_ffmpeg9_reaches_early_and_late_players() {
    let svt = [
        "-c:v",
        "libsvtav1",
        "-preset",
        "12",
        "-svtav1-params",
        "keyint=25",
    ];
    single_track("av1", &svt, "av1");
}

/// The four tracks as expected: (kind, codec, width, height, channels).
fn assert_four_tracks(file: &Path, min_video_packets: u64) {
    let streams = probe(file);
    let mut got: Vec<_> = streams
        .iter()
        .map(|s| {
            (
                s.kind.as_str(),
                s.codec.as_str(),
                s.width,
                s.height,
                s.channels,
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("audio", "aac", 0, 0, 1),
            ("audio", "aac", 0, 0, 2),
            ("video", "h264", 640, 360, 0),
            ("video", "hevc", 320, 180, 0),
        ],
        "{file:?}: {streams:?}"
    );
    for s in &streams {
        let min = if s.kind == "video" {
            min_video_packets
        } else {
            1
        };
        assert!(s.packets >= min, "{file:?}: {streams:?}");
    }
    let errors = decode_errors(file);
    assert!(errors.is_empty(), "{file:?} decode errors: {errors}");
}

#[test]
fn four_tracks_from_ffmpeg9_reach_early_and_late_players_and_the_recording() {
    let Some(ffmpeg9) = needs_tools() else { return };
    let dir = TempDir::new("ertmp-4");
    let rec_dir = dir.path().join("rec");
    std::fs::create_dir_all(&rec_dir).unwrap();
    let server = ServerProcess::start(&["--record-all", "--record-dir", rec_dir.to_str().unwrap()]);
    let encode = [
        "-filter_complex",
        "[0:v]split=2[a][b];[b]scale=320:180[c]",
        "-map",
        "[a]",
        "-map",
        "[c]",
        "-map",
        "1:a",
        "-map",
        "2:a",
        "-c:v:0",
        "libx264",
        "-preset",
        "ultrafast",
        "-c:v:1",
        "libx265",
        "-x265-params",
        "log-level=error",
        "-g",
        "25",
        "-c:a",
        "aac",
        "-ac:a:1",
        "2",
    ];
    let (early, late) = early_and_late(&ffmpeg9, &server, &dir, "four", &encode);
    assert_four_tracks(&early, 100);
    assert_four_tracks(&late, 50);
    assert!(
        server.wait_log(WAIT, |l| l.contains(" finished: ")),
        "recording not finalized:\n{}",
        server.log_text()
    );
    let recording = std::fs::read_dir(&rec_dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "flv"))
        .expect("a recording");
    // ffmpeg 9 reads every Enhanced RTMP track of the file back
    let copy = dir.path().join("recording.mkv");
    let status = ffmpeg9_cmd(&ffmpeg9)
        .arg("-i")
        .arg(&recording)
        .args(["-map", "0", "-c", "copy", "-f", "matroska", "-y"])
        .arg(&copy)
        .status()
        .unwrap();
    assert!(status.success());
    assert_four_tracks(&copy, 200);
}

#[test]
fn a_cue_point_reaches_a_player_and_the_recording() {
    let dir = TempDir::new("ertmp-cue");
    let server =
        ServerProcess::start(&["--record-all", "--record-dir", dir.path().to_str().unwrap()]);
    let url = server.url("live/cue");
    let mut player = Player::connect(&url, Duration::from_secs(5)).expect("player");
    let mut publisher = Publisher::connect(&url, Duration::from_secs(5)).expect("publisher");
    let key = Bytes::from_static(b"\x17\x01\x00\x00\x00\x00\x00\x00\x02\x65\x88");
    let inter = Bytes::from_static(b"\x27\x01\x00\x00\x00\x00\x00\x00\x02\x41\x9a");
    publisher
        .send_media(
            MediaKind::Video,
            0,
            &Bytes::from_static(b"\x17\x00\x00\x00\x00\x01\x64\x00\x1e"),
        )
        .unwrap();
    let cue = [
        Amf0Value::string("onCuePoint"),
        Amf0Value::Object(vec![
            ("name".into(), Amf0Value::string("ad-break")),
            ("time".into(), Amf0Value::Number(1.0)),
        ]),
    ];
    for i in 0..50u32 {
        let p = if i % 25 == 0 { &key } else { &inter };
        publisher.send_media(MediaKind::Video, i * 40, p).unwrap();
        if i == 30 {
            publisher.send_data(i * 40, &cue).unwrap();
        }
    }
    publisher
        .flush(Instant::now() + Duration::from_secs(5))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = None;
    let mut frames_before = 0;
    while Instant::now() < deadline && seen.is_none() {
        match player.next_event(Duration::from_millis(500)).unwrap() {
            // (|RtmpSampleAccess, sent at play start, is a data message too)
            Some(ClientEvent::Data {
                timestamp, values, ..
            }) if values[0].as_str() == Some("onCuePoint") => seen = Some((timestamp, values)),
            Some(ClientEvent::Media { .. }) => frames_before += 1,
            _ => {}
        }
    }
    let (ts, values) = seen.expect("the player got the cue point");
    assert_eq!(ts, 1200);
    assert_eq!(values, cue.to_vec());
    assert_eq!(frames_before, 1 + 31, "in order: after frame 30");
    publisher.finish(Duration::from_secs(5)).unwrap();
    assert!(
        server.wait_log(WAIT, |l| l.contains(" finished: ")),
        "recording not finalized:\n{}",
        server.log_text()
    );
    let file = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "flv"))
        .expect("a recording");
    let (_, tags) = flv::read_all(Bytes::from(std::fs::read(&file).unwrap())).unwrap();
    let scripts: Vec<_> = tags
        .iter()
        .filter(|t| t.tag_type == flv::TAG_SCRIPT)
        .collect();
    assert_eq!(scripts.len(), 2, "onMetaData and the cue point");
    let cue_tag = scripts[1];
    assert!(cue_tag.data.starts_with(b"\x02\x00\x0aonCuePoint"));
    assert_eq!(cue_tag.timestamp, 1200);
    drop(player);
}
