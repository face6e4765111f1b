//! Interop with other real clients: rtmpdump (librtmp), GStreamer's
//! rtmp2src and VLC play from the server (at its default chunk size) while
//! ffmpeg publishes; GStreamer's rtmp2sink publishes while ffmpeg plays.
//! ffprobe checks what they wrote.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{
    ffmpeg_publish, have_tool, probe_streams, vlc_save, wait_child, wait_until, ServerProcess,
    TempDir,
};

/// Wait (generously: x264 and the players share 2 cores) for a server log line.
fn wait_for_log(server: &ServerProcess, needle: &str) {
    assert!(
        wait_until(Duration::from_secs(30), || server
            .log_text()
            .contains(needle)),
        "no `{needle}` in the server log:\n{}",
        server.log_text()
    );
}

/// (codec names, decoded video frames) of an FLV file.
fn probe(file: &Path) -> (Vec<String>, u64) {
    let streams = probe_streams(file);
    let video = streams
        .iter()
        .find(|s| s.kind == "video")
        .map(|s| s.frames)
        .unwrap_or(0);
    (streams.into_iter().map(|s| s.codec).collect(), video)
}

fn interrupt(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
}

#[test]
fn rtmpdump_plays_a_live_stream() {
    if !have_tool("ffmpeg") || !have_tool("ffprobe") || !have_tool("rtmpdump") {
        return;
    }
    let server = ServerProcess::start(&[]);
    let dir = TempDir::new("rtmpdump");
    let out = dir.path().join("dump.flv");
    let url = server.url("live/dump");
    let mut publisher = ffmpeg_publish(&url, 5);
    // Play a live stream: once the server has the publisher.
    wait_for_log(&server, "publish start live/dump");
    let mut player = Command::new("rtmpdump")
        .args(["-q", "-v", "-m", "10", "-r", &url, "-o"])
        .arg(&out)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn rtmpdump");
    assert!(wait_child(&mut publisher, Duration::from_secs(30)).is_some_and(|s| s.success()));
    // rtmpdump stops on StreamEOF / UnpublishNotify.
    let status = wait_child(&mut player, Duration::from_secs(15));
    assert!(
        status.is_some(),
        "rtmpdump did not stop after unpublish; log:\n{}",
        server.log_text()
    );
    let (codecs, frames) = probe(&out);
    assert!(
        codecs.contains(&"h264".into()) && codecs.contains(&"aac".into()),
        "{codecs:?}"
    );
    assert!(frames >= 50, "rtmpdump got {frames} video frames");
}

#[test]
fn vlc_plays_a_live_stream() {
    if !have_tool("ffmpeg") || !have_tool("ffprobe") {
        return;
    }
    if !have_tool("cvlc") {
        return;
    }
    let server = ServerProcess::start(&[]);
    wait_for_log(&server, "chunk size 60000");
    let url = server.url("live/vlc");
    let mut publisher = ffmpeg_publish(&url, 30);
    wait_for_log(&server, "publish start live/vlc");
    let dir = TempDir::new("vlc-rtmp");
    let out = vlc_save(&url, dir.path()).expect("cvlc");
    let _ = publisher.kill();
    let _ = publisher.wait();
    let (codecs, frames) = probe(&out);
    assert!(
        codecs.contains(&"h264".into()) && codecs.contains(&"aac".into()),
        "{codecs:?}\n{}",
        server.log_text()
    );
    assert!(frames >= 50, "VLC got {frames} video frames");
}

#[test]
fn gstreamer_rtmp2src_plays_a_live_stream() {
    if !have_tool("ffmpeg") || !have_tool("ffprobe") || !gst_available() {
        return;
    }
    let server = ServerProcess::start(&[]);
    let dir = TempDir::new("gst-play");
    let out = dir.path().join("gst.flv");
    let url = server.url("live/gst");
    let mut publisher = ffmpeg_publish(&url, 5);
    // Play a live stream: once the server has the publisher.
    wait_for_log(&server, "publish start live/gst");
    let mut player = Command::new("gst-launch-1.0")
        .args([
            "-q",
            "-e",
            "rtmp2src",
            &format!("location={url}"),
            "!",
            "filesink",
        ])
        .arg(format!("location={}", out.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn gst-launch");
    assert!(wait_child(&mut publisher, Duration::from_secs(30)).is_some_and(|s| s.success()));
    if wait_child(&mut player, Duration::from_secs(3)).is_none() {
        interrupt(&mut player);
        let _ = wait_child(&mut player, Duration::from_secs(5));
    }
    let (codecs, frames) = probe(&out);
    assert!(
        codecs.contains(&"h264".into()) && codecs.contains(&"aac".into()),
        "{codecs:?}"
    );
    assert!(frames >= 50, "GStreamer got {frames} video frames");
}

#[test]
fn gstreamer_rtmp2sink_publishes_to_an_ffmpeg_player() {
    if !have_tool("ffmpeg") || !have_tool("ffprobe") || !gst_available() {
        return;
    }
    let server = ServerProcess::start(&[]);
    let dir = TempDir::new("gst-pub");
    let out = dir.path().join("from-gst.flv");
    let url = server.url("live/fromgst");
    let mut player = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-i",
            &url,
            "-c",
            "copy",
            "-f",
            "flv",
            "-y",
        ])
        .arg(&out)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn ffmpeg player");
    // Publish only once the player waits for the stream, so it gets every frame.
    wait_for_log(&server, "play start live/fromgst");
    let pipeline = format!(
        "videotestsrc num-buffers=100 is-live=true ! video/x-raw,width=320,height=240,framerate=25/1 ! \
         x264enc key-int-max=25 tune=zerolatency speed-preset=veryfast ! h264parse ! flvmux streamable=true name=m \
         audiotestsrc num-buffers=172 is-live=true ! audioconvert ! voaacenc ! aacparse ! m. m. ! rtmp2sink location={url}"
    );
    let status = Command::new("gst-launch-1.0")
        .arg("-q")
        .args(pipeline.split_whitespace())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(|mut c| wait_child(&mut c, Duration::from_secs(30)))
        .expect("spawn gst-launch");
    assert!(
        status.is_some_and(|s| s.success()),
        "GStreamer publisher failed; log:\n{}",
        server.log_text()
    );
    let play_status = wait_child(&mut player, Duration::from_secs(10));
    assert!(
        play_status.is_some(),
        "ffmpeg player did not stop after GStreamer unpublished"
    );
    let (codecs, frames) = probe(&out);
    assert!(
        codecs.contains(&"h264".into()) && codecs.contains(&"aac".into()),
        "{codecs:?}"
    );
    assert!(frames >= 90, "player got {frames} of 100 video frames");
}

fn gst_available() -> bool {
    let ok = Command::new("gst-inspect-1.0")
        .args(["rtmp2src"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        if std::env::var_os("RTMP_REQUIRE_INTEROP").is_some() {
            panic!("GStreamer with rtmp2src is required (RTMP_REQUIRE_INTEROP is set)");
        }
        eprintln!("SKIPPED: GStreamer rtmp2src not found (install gstreamer1.0-plugins-bad)");
    }
    ok
}
