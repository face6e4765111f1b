//! Pull on demand over loopback: our edge pulls a stream from an origin
//! (another of ours, nginx-rtmp) when it is first played; a chain of edges
//! relays it end to end; many players share one upstream; players of a
//! stream no origin has get StreamNotFound in time; an unwatched upstream
//! closes after `pull_idle_ms`; a pull at the server's own listener is
//! refused at start-up.

mod common;

use std::process::Command;
use std::time::Duration;

use common::nginx::Nginx;
use common::relay::{
    live_server, numbered_publisher, origin_url, send_frames, toml_list, video_numbers,
};
use common::rtmp::{avc_seq_header, TestClient};
use common::{ffmpeg_publish, have_tool, probe_streams, wait_child, ServerProcess, TempDir};
use rtmp_edge::proto::client::ClientEvent;
use rtmp_edge::proto::session::MediaKind;

/// An edge whose `live` application pulls from `origins` (extra TOML lines
/// for the `[apps.live]` table in `extra`).
fn edge(dir: &TempDir, tag: &str, origins: &[String], extra: &str) -> ServerProcess {
    live_server(dir, tag, &format!("pull = {}\n{extra}", toml_list(origins)))
}

#[test]
fn a_chain_of_two_edges_relays_every_frame_end_to_end() {
    let dir = TempDir::new("pull-chain");
    let origin = ServerProcess::start(&[]);
    let edge1 = edge(&dir, "e1", &[origin_url(origin.addr)], "");
    let edge2 = edge(&dir, "e2", &[origin_url(edge1.addr)], "");
    let mut publisher = numbered_publisher(origin.addr, "chain");
    send_frames(&mut publisher, 0, 25);
    let mut player = TestClient::play(edge2.addr, "live", "chain");
    // The first frames come from the edges' caches (the GOP), then live ones.
    let first = player.collect_media(26, Duration::from_secs(10));
    let mut got = video_numbers(&first);
    assert_eq!(got.first(), Some(&0), "starts at the cached keyframe");
    send_frames(&mut publisher, 25, 100);
    let rest = player.collect_media(75, Duration::from_secs(10));
    got.extend(video_numbers(&rest));
    assert_eq!(got, (0..100).collect::<Vec<u32>>(), "every frame, in order");
    assert!(edge1.wait_log(Duration::from_secs(5), |l| l
        .contains("pull live/chain: upstream connection opened")));
    assert!(edge2.wait_log(Duration::from_secs(5), |l| l
        .contains("pull live/chain: upstream connection opened")));
}

#[test]
fn many_players_share_one_upstream() {
    let dir = TempDir::new("pull-share");
    let origin = ServerProcess::start(&[]);
    let edge = edge(&dir, "e", &[origin_url(origin.addr)], "");
    let mut publisher = numbered_publisher(origin.addr, "s");
    send_frames(&mut publisher, 0, 25);
    let mut players: Vec<TestClient> = (0..3)
        .map(|_| TestClient::play(edge.addr, "live", "s"))
        .collect();
    for p in &mut players {
        assert!(!p.collect_media(10, Duration::from_secs(10)).is_empty());
    }
    let plays = origin
        .log_text()
        .lines()
        .filter(|l| l.contains("play start live/s"))
        .count();
    assert_eq!(
        plays,
        1,
        "one upstream for three players:\n{}",
        origin.log_text()
    );
}

#[test]
fn players_of_a_stream_no_origin_has_get_stream_not_found_in_time() {
    let dir = TempDir::new("pull-missing");
    let origin = ServerProcess::start(&[]);
    // A closed port first, then an origin without the stream.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let origins = [origin_url(closed), origin_url(origin.addr)];
    let edge = edge(&dir, "e", &origins, "pull_wait_ms = 1500\n");
    let started = std::time::Instant::now();
    let mut player = TestClient::play(edge.addr, "live", "nothing");
    let not_found = player.wait_for(
        Duration::from_secs(5),
        |e| matches!(e, ClientEvent::Error { code, .. } if code == "NetStream.Play.StreamNotFound"),
    );
    let waited = started.elapsed();
    assert!(
        not_found.is_some(),
        "no StreamNotFound:\n{}",
        edge.log_text()
    );
    assert!(
        waited >= Duration::from_millis(1400) && waited < Duration::from_millis(2600),
        "StreamNotFound after {waited:?}"
    );
    assert!(player.wait_closed(Duration::from_secs(5)));
    // One line for the refused attempt; the next origin (ours) waits for a
    // publisher that never comes.
    assert!(
        edge.wait_log(Duration::from_secs(5), |l| l.contains(
            "pull live/nothing: upstream closed: i/o error: connection refused"
        )),
        "{}",
        edge.log_text()
    );
    // A healthy pair on the same edge is not disturbed.
    let mut publisher = TestClient::publish(edge.addr, "other", "x");
    let mut viewer = TestClient::play(edge.addr, "other", "x");
    publisher.send_media(MediaKind::Video, 0, &avc_seq_header());
    assert_eq!(viewer.collect_media(1, Duration::from_secs(5)).len(), 1);
}

#[test]
fn an_unwatched_upstream_closes_after_pull_idle_ms() {
    let dir = TempDir::new("pull-idle");
    let origin = ServerProcess::start(&[]);
    let edge = edge(
        &dir,
        "e",
        &[origin_url(origin.addr)],
        "pull_idle_ms = 1000\n",
    );
    let mut publisher = numbered_publisher(origin.addr, "i");
    send_frames(&mut publisher, 0, 25);
    let mut player = TestClient::play(edge.addr, "live", "i");
    assert!(!player.collect_media(5, Duration::from_secs(10)).is_empty());
    drop(player);
    assert!(
        edge.wait_log(Duration::from_secs(5), |l| l
            .contains("pull live/i: no viewers")),
        "{}",
        edge.log_text()
    );
    assert!(origin.wait_log(Duration::from_secs(5), |l| l.contains("play stop live/i")));
}

#[test]
fn the_edge_reconnects_when_the_origins_publisher_returns() {
    let dir = TempDir::new("pull-return");
    let origin = ServerProcess::start(&[]);
    let edge = edge(&dir, "e", &[origin_url(origin.addr)], "");
    let mut publisher = numbered_publisher(origin.addr, "r");
    send_frames(&mut publisher, 0, 25);
    let mut player = TestClient::play(edge.addr, "live", "r");
    let before = player.collect_media(26, Duration::from_secs(10));
    publisher.finish();
    drop(publisher);
    let mut publisher = numbered_publisher(origin.addr, "r");
    send_frames(&mut publisher, 100, 150);
    let after = player.collect_media(40, Duration::from_secs(15));
    let numbers = video_numbers(&after);
    assert!(
        numbers.iter().any(|&n| n >= 100),
        "no frame of the second publish reached the player: {numbers:?}\n{}",
        edge.log_text()
    );
    let ts: Vec<u32> = before.iter().chain(after.iter()).map(|m| m.1).collect();
    assert!(
        ts.windows(2).all(|w| w[0] <= w[1]),
        "timestamps stay monotonic across the reconnect: {ts:?}"
    );
}

#[test]
fn nginx_rtmp_as_origin_ffmpeg_plays_from_our_edge() {
    if !have_tool("ffmpeg") || !have_tool("ffprobe") {
        return;
    }
    let Some(nginx) = Nginx::start("pull-origin") else {
        return;
    };
    let dir = TempDir::new("pull-nginx");
    let origin = format!("rtmp://127.0.0.1:{}/live", nginx.port);
    let edge = edge(&dir, "e", &[origin], "");
    let mut publisher = ffmpeg_publish(&nginx.url("cam"), 12);
    std::thread::sleep(Duration::from_secs(2));
    let out = dir.path().join("edge.flv");
    let mut player = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-i"])
        .arg(edge.url("live/cam"))
        .args(["-t", "6", "-c", "copy", "-f", "flv", "-y"])
        .arg(&out)
        .spawn()
        .expect("spawn ffmpeg player");
    assert!(wait_child(&mut player, Duration::from_secs(30)).is_some_and(|s| s.success()));
    let streams = probe_streams(&out);
    let video = common::frames_of(&streams, "h264");
    assert!(video >= 100, "{streams:?}\n{}", edge.log_text());
    assert!(common::frames_of(&streams, "aac") > 0, "{streams:?}");
    let errors = common::decode_errors(&out);
    assert!(errors.trim().is_empty(), "{errors}");
    let _ = publisher.kill();
    let _ = publisher.wait();
}

#[test]
fn a_pull_at_the_servers_own_listener_is_refused_at_start_up() {
    let dir = TempDir::new("pull-loop");
    let file = dir.path().join("loop.toml");
    std::fs::write(
        &file,
        "listen = \"0.0.0.0:19355\"\n[apps.live]\npull = [\"rtmp://127.0.0.1:19355/live\"]\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rtmp-server"))
        .args(["--config", file.to_str().unwrap(), "--check-config"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("apps.live.pull") && stderr.contains("own listener"),
        "{stderr}"
    );
}

#[test]
fn relay_state_shows_in_the_api_metrics_and_the_stream_line() {
    let dir = TempDir::new("pull-api");
    let origin = ServerProcess::start(&[]);
    let file = dir.path().join("edge.toml");
    std::fs::write(
        &file,
        format!(
            "stats_interval_ms = 500\n[apps.live]\npull = [{:?}]\n",
            origin_url(origin.addr)
        ),
    )
    .unwrap();
    let (edge, http) = ServerProcess::start_http(&["--config", file.to_str().unwrap()]);
    let mut publisher = numbered_publisher(origin.addr, "a");
    send_frames(&mut publisher, 0, 25);
    let mut player = TestClient::play(edge.addr, "live", "a");
    assert!(!player.collect_media(5, Duration::from_secs(10)).is_empty());
    let (status, _, body) = common::http_request(
        http,
        "GET",
        "/api/v1/streams/live/a",
        Duration::from_secs(5),
    );
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let relay = &v["relays"][0];
    assert_eq!(relay["direction"], "pull");
    assert_eq!(relay["up"], true);
    assert_eq!(relay["url"], format!("{}/a", origin_url(origin.addr)));
    assert!(relay["bytes"].as_u64().unwrap() > 0);
    let (_, _, metrics) = common::http_request(http, "GET", "/metrics", Duration::from_secs(5));
    let text = String::from_utf8(metrics).unwrap();
    assert!(
        text.contains("rtmp_relay_up{app=\"live\",name=\"a\",direction=\"pull\",target=\"0\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("rtmp_relay_reconnects_total 0\n"));
    assert!(
        edge.wait_log(Duration::from_secs(5), |l| l.contains(&format!(
            ", pull {}/a up (0 reconnects",
            origin_url(origin.addr)
        )))
    );
}

#[test]
fn a_static_pull_is_up_before_anyone_plays() {
    let dir = TempDir::new("pull-static");
    let origin = ServerProcess::start(&[]);
    let mut publisher = numbered_publisher(origin.addr, "always");
    send_frames(&mut publisher, 0, 25);
    let edge = edge(
        &dir,
        "e",
        &[origin_url(origin.addr)],
        "static_pull = [\"always\"]\npull_idle_ms = 500\n",
    );
    assert!(
        origin.wait_log(Duration::from_secs(10), |l| l
            .contains("play start live/always")),
        "{}",
        origin.log_text()
    );
    send_frames(&mut publisher, 25, 50);
    // Unwatched well past pull_idle_ms, it stays up: a player starts from the
    // edge's own cache at once.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!edge.log_text().contains("no viewers for a while"));
    let mut player = TestClient::play(edge.addr, "live", "always");
    let got = video_numbers(&player.collect_media(26, Duration::from_secs(5)));
    assert_eq!(got.first(), Some(&25), "the cached GOP: {got:?}");
}

#[test]
fn a_chain_longer_than_the_hop_limit_is_refused() {
    let dir = TempDir::new("pull-hops");
    let extra = "hop_limit = 2\npull_wait_ms = 2000\n";
    let origin = {
        let file = dir.path().join("origin.toml");
        std::fs::write(&file, "[apps.live]\nhop_limit = 2\n").unwrap();
        ServerProcess::start(&["--config", file.to_str().unwrap()])
    };
    let e1 = edge(&dir, "e1", &[origin_url(origin.addr)], extra);
    let e2 = edge(&dir, "e2", &[origin_url(e1.addr)], extra);
    let e3 = edge(&dir, "e3", &[origin_url(e2.addr)], extra);
    let mut near_pub = numbered_publisher(origin.addr, "near");
    let mut far_pub = numbered_publisher(origin.addr, "far");
    send_frames(&mut near_pub, 0, 25);
    send_frames(&mut far_pub, 0, 25);
    // Two relay links (e2 -> e1 -> origin) are within the limit.
    let mut near = TestClient::play(e2.addr, "live", "near");
    assert!(!near.collect_media(5, Duration::from_secs(10)).is_empty());
    // Three (e3 -> e2 -> e1 -> origin) are not: the origin refuses the third.
    let mut far = TestClient::play(e3.addr, "live", "far");
    let not_found = far.wait_for(Duration::from_secs(5), |e| {
        matches!(e, rtmp_edge::proto::client::ClientEvent::Error { code, .. }
            if code == "NetStream.Play.StreamNotFound")
    });
    assert!(not_found.is_some(), "{}", e3.log_text());
    assert!(
        origin.wait_log(Duration::from_secs(5), |l| l
            .contains("play live/far refused: relay hop limit reached")),
        "{}",
        origin.log_text()
    );
    assert!(e1.wait_log(Duration::from_secs(5), |l| l.contains(
        "pull live/far: upstream ended: it answered NetStream.Play.Failed"
    )));
}
