//! The HTTP listener against real clients: ffmpeg publishes 640×360 H.264 +
//! AAC over RTMP; the JSON API reports what it sends and counts viewers as
//! they come and go; `/metrics` passes `promtool check metrics` and its
//! counters move; ffmpeg (early and late joins) and VLC play the stream as
//! HTTP-FLV and ffprobe checks what they decoded; a play-keyed stream refuses
//! HTTP-FLV without its key.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use common::{
    ffmpeg_publish_sized, have_tool, http_request, probe_streams, promtool, vlc_save, wait_child,
    wait_until, ServerProcess, TempDir,
};

const SECONDS: Duration = Duration::from_secs(5);

fn get_json(addr: std::net::SocketAddr, path: &str) -> (u16, Value) {
    let (status, _, body) = http_request(addr, "GET", path, SECONDS);
    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (status, value)
}

/// The stream `live/NAME` as the API shows it, once it has a video size.
fn wait_stream(addr: std::net::SocketAddr, name: &str) -> Value {
    let mut last = Value::Null;
    let found = wait_until(Duration::from_secs(30), || {
        let (status, v) = get_json(addr, &format!("/api/v1/streams/live/{name}"));
        last = v;
        status == 200 && last["video"]["width"].is_u64()
    });
    assert!(
        found,
        "stream live/{name} never appeared in the API: {last}"
    );
    last
}

fn viewers(addr: std::net::SocketAddr, name: &str) -> (u64, u64) {
    let (_, v) = get_json(addr, &format!("/api/v1/streams/live/{name}"));
    (
        v["viewers"]["rtmp"].as_u64().unwrap_or(99),
        v["viewers"]["http_flv"].as_u64().unwrap_or(99),
    )
}

/// ffmpeg copying `url` into `out` (FLV) for at most `seconds`.
fn ffmpeg_copy(url: &str, out: &Path, seconds: u32) -> Child {
    Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-i", url])
        .args(["-t", &seconds.to_string(), "-c", "copy", "-f", "flv", "-y"])
        .arg(out)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn ffmpeg")
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn api_reports_an_ffmpeg_stream_and_counts_viewers_as_they_come_and_go() {
    if !have_tool("ffmpeg") {
        return;
    }
    let (server, http) = ServerProcess::start_http(&[]);
    let mut publisher = ffmpeg_publish_sized(&server.url("live/cam"), 30, "640x360");
    let s = wait_stream(http, "cam");
    assert_eq!(s["app"], "live");
    assert_eq!(s["video"]["codec"], "H.264", "{s}");
    assert_eq!(s["video"]["fourcc"], "avc1");
    assert_eq!(s["video"]["width"], 640);
    assert_eq!(s["video"]["height"], 360);
    assert_eq!(s["video"]["fps"].as_f64(), Some(25.0), "{s}");
    assert!(s["video"]["profile"].as_str().is_some(), "{s}");
    assert_eq!(s["audio"]["codec"], "AAC");
    assert_eq!(s["audio"]["sample_rate"], 44100);
    assert_eq!(s["tracks"], 2);
    let flash_ver = s["publisher"]["flash_ver"].as_str().unwrap_or("");
    assert!(flash_ver.starts_with("FMLE/3.0"), "{s}");
    assert_eq!(viewers(http, "cam"), (0, 0));

    let dir = TempDir::new("api-viewers");
    let mut rtmp = ffmpeg_copy(&server.url("live/cam"), &dir.path().join("a.flv"), 60);
    let flv_url = format!("http://{http}/live/cam.flv");
    let mut web = ffmpeg_copy(&flv_url, &dir.path().join("b.flv"), 60);
    assert!(
        wait_until(Duration::from_secs(20), || viewers(http, "cam") == (1, 1)),
        "viewers {:?}",
        viewers(http, "cam")
    );
    // Rates come from a 30 s window sampled every second.
    assert!(wait_until(Duration::from_secs(5), || {
        let (_, v) = get_json(http, "/api/v1/streams/live/cam");
        v["kbps_in"].as_f64().unwrap_or(0.0) > 10.0 && v["kbps_out"].as_f64().unwrap_or(0.0) > 10.0
    }));
    let (_, clients) = get_json(http, "/api/v1/clients");
    let roles: Vec<&str> = clients["clients"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["role"].as_str())
        .collect();
    for role in ["publisher", "player", "http_flv", "http"] {
        assert!(roles.contains(&role), "{role} missing from {roles:?}");
    }
    kill(&mut web);
    assert!(
        wait_until(Duration::from_secs(10), || viewers(http, "cam") == (1, 0)),
        "viewers {:?}",
        viewers(http, "cam")
    );
    kill(&mut rtmp);
    assert!(wait_until(Duration::from_secs(10), || viewers(http, "cam") == (0, 0)));
    kill(&mut publisher);
    assert!(
        wait_until(Duration::from_secs(10), || get_json(
            http,
            "/api/v1/streams/live/cam"
        )
        .0 == 404),
        "the stream stays in the API after its publisher left"
    );
}

#[test]
fn delete_closes_exactly_that_client() {
    if !have_tool("ffmpeg") {
        return;
    }
    let (server, http) = ServerProcess::start_http(&[]);
    let mut publisher = ffmpeg_publish_sized(&server.url("live/kick"), 30, "320x240");
    wait_stream(http, "kick");
    let dir = TempDir::new("kick");
    let url = format!("http://{http}/live/kick.flv");
    let mut a = ffmpeg_copy(&url, &dir.path().join("a.flv"), 60);
    let mut b = ffmpeg_copy(&url, &dir.path().join("b.flv"), 60);
    assert!(wait_until(Duration::from_secs(20), || viewers(
        http, "kick"
    ) == (0, 2)));
    let (_, clients) = get_json(http, "/api/v1/clients");
    let ids: Vec<u64> = clients["clients"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["role"] == "http_flv")
        .filter_map(|c| c["id"].as_u64())
        .collect();
    assert_eq!(ids.len(), 2);
    let (status, _, _) = http_request(
        http,
        "DELETE",
        &format!("/api/v1/clients/{}", ids[0]),
        SECONDS,
    );
    assert_eq!(status, 204);
    assert!(wait_until(Duration::from_secs(10), || viewers(
        http, "kick"
    ) == (0, 1)));
    assert!(
        server.wait_log(SECONDS, |l| l.contains(&format!("conn#{} ", ids[0]))
            && l.contains("closed: closed by an API request"))
    );
    let (_, clients) = get_json(http, "/api/v1/clients");
    let left: Vec<u64> = clients["clients"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["id"].as_u64())
        .collect();
    assert!(
        !left.contains(&ids[0]) && left.contains(&ids[1]),
        "{left:?}"
    );
    for c in [&mut a, &mut b, &mut publisher] {
        kill(c);
    }
}

#[test]
fn metrics_pass_promtool_and_their_counters_move() {
    if !have_tool("ffmpeg") || !have_tool("promtool") {
        return;
    }
    let (server, http) = ServerProcess::start_http(&[]);
    let mut publisher = ffmpeg_publish_sized(&server.url("live/m"), 30, "320x240");
    wait_stream(http, "m");
    let scrape = || {
        let (status, head, body) = http_request(http, "GET", "/metrics", SECONDS);
        assert_eq!(status, 200);
        assert!(head.contains("text/plain; version=0.0.4"), "{head}");
        String::from_utf8(body).unwrap()
    };
    let value = |text: &str, series: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no {series} in:\n{text}"))
    };
    let first = scrape();
    let (ok, said) = promtool(&first);
    assert!(ok && said.trim().is_empty(), "promtool:\n{said}\n{first}");
    let received = "rtmp_stream_received_bytes_total{app=\"live\",name=\"m\"}";
    assert_eq!(
        value(&first, "rtmp_stream_viewers{app=\"live\",name=\"m\"}"),
        0.0
    );
    assert_eq!(value(&first, "rtmp_streams"), 1.0);
    assert_eq!(value(&first, "rtmp_connections{role=\"publisher\"}"), 1.0);
    std::thread::sleep(Duration::from_millis(1500));
    let second = scrape();
    assert!(value(&second, received) > value(&first, received));
    assert!(
        value(&second, "rtmp_connections_accepted_total")
            > value(&first, "rtmp_connections_accepted_total")
    );
    // A refused request is counted by reason.
    http_request(http, "GET", "/nothing/here", SECONDS);
    let third = scrape();
    assert_eq!(
        value(
            &third,
            "rtmp_connections_rejected_total{reason=\"not_found\"}"
        ),
        value(
            &second,
            "rtmp_connections_rejected_total{reason=\"not_found\"}"
        ) + 1.0
    );
    kill(&mut publisher);
    assert!(wait_until(Duration::from_secs(10), || value(
        &scrape(),
        "rtmp_streams"
    ) == 0.0));
    assert!(!scrape().contains("name=\"m\""));
}

#[test]
fn ffmpeg_plays_http_flv_joining_early_and_late() {
    if !have_tool("ffmpeg") || !have_tool("ffprobe") {
        return;
    }
    let (server, http) = ServerProcess::start_http(&[]);
    let mut publisher = ffmpeg_publish_sized(&server.url("live/web"), 12, "640x360");
    wait_stream(http, "web");
    let dir = TempDir::new("http-flv");
    let url = format!("http://{http}/live/web.flv");
    let early_out = dir.path().join("early.flv");
    let mut early = ffmpeg_copy(&url, &early_out, 60);
    std::thread::sleep(Duration::from_secs(3));
    let late_out = dir.path().join("late.flv");
    let mut late = ffmpeg_copy(&url, &late_out, 60);
    assert!(wait_child(&mut publisher, Duration::from_secs(40)).is_some_and(|s| s.success()));
    // The server closes HTTP-FLV viewers when the publisher leaves.
    for (child, what) in [(&mut early, "early"), (&mut late, "late")] {
        let status = wait_child(child, Duration::from_secs(15));
        assert!(
            status.is_some(),
            "{what} reader still running after the stream ended"
        );
    }
    for (file, min_frames) in [(&early_out, 150), (&late_out, 75)] {
        let streams = probe_streams(file);
        let video = streams.iter().find(|s| s.codec == "h264");
        let audio = streams.iter().find(|s| s.codec == "aac");
        assert!(audio.is_some_and(|a| a.frames > 0), "{file:?}: {streams:?}");
        let frames = video.map_or(0, |v| v.frames);
        assert!(frames >= min_frames, "{file:?}: {frames} video frames");
        let errors = common::decode_errors(file);
        assert!(
            errors.trim().is_empty(),
            "{file:?} decode errors:\n{errors}"
        );
    }
    assert!(server.wait_log(SECONDS, |l| l.contains("closed: stream ended")));
}

#[test]
fn vlc_plays_http_flv() {
    if !have_tool("ffmpeg") || !have_tool("ffprobe") {
        return;
    }
    if !have_tool("cvlc") {
        return;
    }
    let (server, http) = ServerProcess::start_http(&[]);
    let mut publisher = ffmpeg_publish_sized(&server.url("live/vlc"), 30, "320x240");
    wait_stream(http, "vlc");
    let dir = TempDir::new("vlc");
    let out = vlc_save(&format!("http://{http}/live/vlc.flv"), dir.path()).expect("cvlc");
    kill(&mut publisher);
    let streams = probe_streams(&out);
    let video = streams
        .iter()
        .find(|s| s.codec == "h264")
        .map_or(0, |s| s.frames);
    assert!(
        video >= 50,
        "VLC wrote {video} h264 frames: {streams:?}\n{}",
        server.log_text()
    );
    assert!(streams.iter().any(|s| s.codec == "aac"), "{streams:?}");
}

#[test]
fn a_play_keyed_http_flv_url_needs_its_key() {
    if !have_tool("ffmpeg") {
        return;
    }
    let dir = TempDir::new("flv-keys");
    let config = dir.path().join("keys.toml");
    std::fs::write(&config, "[apps.live]\nplay_keys = [\"s3cret\"]\n").unwrap();
    let (server, http) = ServerProcess::start_http(&["--config", config.to_str().unwrap()]);
    let mut publisher = ffmpeg_publish_sized(&server.url("live/k"), 30, "320x240");
    wait_stream(http, "k");
    for path in ["/live/k.flv", "/live/k.flv?key=wrong"] {
        let (status, _, _) = http_request(http, "GET", path, SECONDS);
        assert_eq!(status, 403, "{path}");
    }
    assert!(server.wait_log(SECONDS, |l| l.contains("play live/k refused: unauthorized")));
    let (status, head, body) = http_request(
        http,
        "GET",
        "/live/k.flv?key=s3cret",
        Duration::from_secs(2),
    );
    assert_eq!(status, 200, "{head}");
    assert!(body.starts_with(b"FLV\x01"), "{} bytes", body.len());
    kill(&mut publisher);
}
