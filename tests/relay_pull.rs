//! Pull on demand over loopback: our edge pulls a stream from an origin
//! (another of ours, nginx-rtmp) when it is first played, and nginx-rtmp
//! pulls from ours; a chain of edges relays it end to end; many players share
//! one upstream; players of a stream no origin has get StreamNotFound in
//! time; an unwatched upstream closes after `pull_idle_ms`; edge players ride
//! out an origin restart; a pull at the server's own listener is refused at
//! start-up, and at run time when a host name hides it.

mod common;

use std::net::ToSocketAddrs;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use common::nginx::Nginx;
use common::relay::{
    live_server, numbered_publisher, origin_url, send_frames, toml_list, video_numbers,
};
use common::rtmp::{avc_frame, avc_seq_header, frame_number, TestClient};
use common::{
    ffmpeg_publish, have_tool, probe_streams, wait_child, wait_until, ServerProcess, TempDir,
};
use rtmp_edge::proto::amf0::Amf0Value;
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
    // a cue point crosses both edges (and no |RtmpSampleAccess of theirs
    // is passed on as stream data)
    let cue = [
        Amf0Value::string("onCuePoint"),
        Amf0Value::Object(vec![("name".into(), Amf0Value::string("break"))]),
    ];
    publisher.send_data(4000, &cue);
    let data = player.wait_for(Duration::from_secs(10), |e| {
        matches!(e, ClientEvent::Data { .. })
    });
    match data {
        Some(ClientEvent::Data {
            timestamp, values, ..
        }) => assert_eq!((timestamp, values), (4000, cue.to_vec())),
        other => panic!("no cue point through the edges: {other:?}"),
    }
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

#[test]
fn our_server_as_origin_nginx_rtmp_pulls_and_ffmpeg_plays_from_it() {
    if !have_tool("ffmpeg") || !have_tool("ffprobe") {
        return;
    }
    let origin = ServerProcess::start(&[]);
    let pull = format!("pull rtmp://{}/live;", origin.addr);
    let Some(nginx) = Nginx::start_with("pull-from-ours", &pull) else {
        return;
    };
    let dir = TempDir::new("pull-nginx-edge");
    let mut publisher = ffmpeg_publish(&origin.url("live/cam"), 12);
    assert!(
        origin.wait_log(Duration::from_secs(10), |l| l
            .contains("publish start live/cam")),
        "{}",
        origin.log_text()
    );
    let out = dir.path().join("nginx-edge.flv");
    let mut player = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-i"])
        .arg(nginx.url("cam"))
        .args(["-t", "6", "-c", "copy", "-f", "flv", "-y"])
        .arg(&out)
        .spawn()
        .expect("spawn ffmpeg player");
    let played = wait_child(&mut player, Duration::from_secs(30));
    let _ = publisher.kill();
    let _ = publisher.wait();
    assert!(
        played.is_some_and(|s| s.success()),
        "ffmpeg playing from nginx: {played:?}\n{}",
        origin.log_text()
    );
    // nginx-rtmp's relay played the stream from ours.
    assert!(
        origin.wait_log(Duration::from_secs(5), |l| l
            .contains("play start live/cam")),
        "{}",
        origin.log_text()
    );
    let streams = probe_streams(&out);
    assert!(common::frames_of(&streams, "h264") >= 100, "{streams:?}");
    assert!(common::frames_of(&streams, "aac") > 0, "{streams:?}");
    let errors = common::decode_errors(&out);
    assert!(errors.trim().is_empty(), "{errors}");
}

/// One media message a watched player received, and when.
struct Seen {
    ts: u32,
    /// The number of a numbered video frame (not headers).
    number: Option<u32>,
    at: Instant,
}

/// A player read by its own thread until `stop`.
struct Watcher {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// (closed by the server, the error events it got)
    thread: JoinHandle<(bool, Vec<ClientEvent>)>,
}

impl Watcher {
    fn start(mut player: TestClient) -> Watcher {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (stop2, seen2) = (stop.clone(), seen.clone());
        let thread = thread::spawn(move || {
            let mut errors = Vec::new();
            while !stop2.load(Ordering::SeqCst) {
                match player.next_event(Duration::from_millis(50)) {
                    Some(ClientEvent::Media {
                        kind,
                        timestamp,
                        payload,
                    }) => {
                        let number = (kind == MediaKind::Video && payload.get(1) == Some(&1))
                            .then(|| frame_number(kind, &payload))
                            .flatten();
                        seen2.lock().unwrap().push(Seen {
                            ts: timestamp,
                            number,
                            at: Instant::now(),
                        });
                    }
                    Some(e @ ClientEvent::Error { .. }) => errors.push(e),
                    Some(_) => {}
                    None if player.closed => break,
                    None => {}
                }
            }
            (player.closed, errors)
        });
        Watcher { stop, seen, thread }
    }

    fn has_number(&self, pred: impl Fn(u32) -> bool) -> bool {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .any(|s| s.number.is_some_and(&pred))
    }
}

/// Send numbered frames `from..to` in real time (25 fps), with timestamps
/// `(n - ts_base) * 40`; stops early once `done` holds (checked per frame).
fn send_paced(
    p: &mut TestClient,
    from: u32,
    to: u32,
    ts_base: u32,
    mut done: impl FnMut() -> bool,
) -> u32 {
    let start = Instant::now();
    for n in from..to {
        if done() {
            return n;
        }
        p.send_media(
            MediaKind::Video,
            (n - ts_base) * 40,
            &avc_frame(n.is_multiple_of(25), n, 500),
        );
        let next = start + Duration::from_millis(40 * u64::from(n - from + 1));
        thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    to
}

#[test]
fn three_edge_players_ride_out_an_origin_restart() {
    let dir = TempDir::new("pull-restart");
    let mut origin = ServerProcess::start(&[]);
    let addr = origin.addr;
    let edge = edge(&dir, "e", &[origin_url(addr)], "");
    let mut publisher = numbered_publisher(addr, "rs");
    send_frames(&mut publisher, 0, 25);
    let watchers: Vec<Watcher> = (0..3)
        .map(|_| Watcher::start(TestClient::play(edge.addr, "live", "rs")))
        .collect();
    send_paced(&mut publisher, 25, 75, 0, || false);
    assert!(
        wait_until(Duration::from_secs(10), || watchers
            .iter()
            .all(|w| w.has_number(|n| n == 74))),
        "the players did not get frames 0..75 before the restart:\n{}",
        edge.log_text()
    );
    // The origin dies with its publisher and stays away for 4 s (the edge's
    // backoff grows to 4 s meanwhile), then comes back on the same port.
    assert!(origin.terminate(Duration::from_secs(5)).is_some());
    drop(publisher);
    thread::sleep(Duration::from_secs(4));
    let _origin = ServerProcess::start_at(&addr.to_string(), &[]);
    let returned = Instant::now();
    // A restarted encoder: timestamps from 0 again; the numbers continue.
    let mut publisher = numbered_publisher(addr, "rs");
    let all_new = || watchers.iter().all(|w| w.has_number(|n| n >= 75));
    let last = send_paced(&mut publisher, 75, 75 + 25 * 10, 75, all_new);
    // One more second of frames once every player is back.
    send_paced(&mut publisher, last, last + 25, 75, || false);
    thread::sleep(Duration::from_millis(500));
    for (i, w) in watchers.into_iter().enumerate() {
        w.stop.store(true, Ordering::SeqCst);
        let (closed, errors) = w.thread.join().expect("watcher thread");
        let seen = std::mem::take(&mut *w.seen.lock().unwrap());
        assert!(!closed, "player {i} was closed:\n{}", edge.log_text());
        assert!(errors.is_empty(), "player {i}: {errors:?}");
        let numbers: Vec<u32> = seen.iter().filter_map(|s| s.number).collect();
        let (old, new): (Vec<u32>, Vec<u32>) = numbers.iter().partition(|&&n| n < 75);
        assert_eq!(old, (0..75).collect::<Vec<u32>>(), "player {i} before");
        // The new publish from a keyframe on, without a gap.
        let first = *new.first().unwrap_or_else(|| {
            panic!(
                "player {i}: nothing of the new publish:\n{}",
                edge.log_text()
            )
        });
        assert!(first.is_multiple_of(25), "player {i} resumed at {first}");
        assert_eq!(
            new,
            (first..first + new.len() as u32).collect::<Vec<u32>>(),
            "player {i} after"
        );
        let back = seen
            .iter()
            .find(|s| s.number.is_some_and(|n| n >= 75))
            .map(|s| s.at - returned)
            .unwrap();
        assert!(
            back <= Duration::from_secs(5 + 1 + 1),
            "player {i}: the new publish arrived {back:?} after the origin returned:\n{}",
            edge.log_text()
        );
        let ts: Vec<u32> = seen.iter().map(|s| s.ts).collect();
        assert!(
            ts.windows(2).all(|w| w[0] <= w[1]),
            "player {i}: timestamps went back: {ts:?}"
        );
        println!(
            "player {i}: {} frames before, {} after (from {first}), back {back:?} after the origin",
            old.len(),
            new.len()
        );
    }
    // While the origin was away the edge retried, one line per attempt.
    let log = edge.log_text();
    let refused = log
        .lines()
        .filter(|l| l.contains("pull live/rs: upstream closed: i/o error: connection refused"))
        .count();
    assert!(refused >= 2, "{log}");
}

/// A host name other than `localhost` that resolves to loopback addresses
/// only (this machine's name often does), if there is one.
fn loopback_alias() -> Option<String> {
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let found = [
        hostname.trim(),
        "localhost.localdomain",
        "ip6-localhost",
        "ip6-loopback",
    ]
    .into_iter()
    .filter(|h| !h.is_empty() && !h.eq_ignore_ascii_case("localhost"))
    .find(|h| {
        (*h, 1935)
            .to_socket_addrs()
            .map(|a| a.collect::<Vec<_>>())
            .is_ok_and(|a| !a.is_empty() && a.iter().all(|a| a.ip().is_loopback()))
    })
    .map(str::to_string);
    found
}

#[test]
fn a_pull_at_the_own_listener_under_a_host_name_is_refused_at_run_time() {
    // The start-up check cannot resolve names: a name of this machine that
    // resolves to loopback, on the listener's port, passes it.
    let Some(alias) = loopback_alias() else {
        println!("SKIPPED: no host name other than localhost resolves to loopback only");
        return;
    };
    let dir = TempDir::new("pull-loop-runtime");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let file = dir.path().join("loop.toml");
    std::fs::write(
        &file,
        format!("[apps.live]\npull = [\"rtmp://{alias}:{port}/live\"]\npull_wait_ms = 1500\n"),
    )
    .unwrap();
    let edge = ServerProcess::start_at(
        &format!("127.0.0.1:{port}"),
        &["--config", file.to_str().unwrap()],
    );
    let started = Instant::now();
    let mut player = TestClient::play(edge.addr, "live", "x");
    let not_found = player.wait_for(
        Duration::from_secs(5),
        |e| matches!(e, ClientEvent::Error { code, .. } if code == "NetStream.Play.StreamNotFound"),
    );
    let waited = started.elapsed();
    assert!(not_found.is_some(), "{}", edge.log_text());
    assert!(
        waited >= Duration::from_millis(1400) && waited < Duration::from_millis(2500),
        "StreamNotFound after {waited:?}"
    );
    assert!(player.wait_closed(Duration::from_secs(2)));
    let refusal = format!("pull live/x: cannot connect to rtmp://{alias}:{port}/live/x: ");
    assert!(
        edge.wait_log(Duration::from_secs(5), |l| l
            .contains("pull live/x: stopped (no viewers)")),
        "{}",
        edge.log_text()
    );
    let log = edge.log_text();
    let attempts = log
        .lines()
        .filter(|l| l.contains("pull live/x: connecting to"))
        .count();
    let refused: Vec<&str> = log.lines().filter(|l| l.contains(&refusal)).collect();
    assert!(!refused.is_empty(), "{log}");
    assert_eq!(refused.len(), attempts, "one refusal per attempt:\n{log}");
    for line in &refused {
        assert!(line.ends_with("own listener (a loop)"), "{line}");
    }
    assert!(!log.contains("upstream connection opened"), "{log}");
    println!("{alias}: {} attempts refused: {refused:#?}", refused.len());
}

#[test]
fn a_pull_at_the_own_listener_as_an_ipv4_mapped_address_is_refused() {
    let dir = TempDir::new("pull-loop-mapped");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let file = dir.path().join("loop.toml");
    std::fs::write(
        &file,
        format!("[apps.live]\npull = [\"rtmp://[::ffff:127.0.0.1]:{port}/live\"]\npull_wait_ms = 1500\n"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rtmp-server"))
        .args(["--config", file.to_str().unwrap(), "--check-config"])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .output()
        .unwrap();
    if out.status.code() == Some(2) {
        return; // refused at start-up: fine
    }
    let edge = ServerProcess::start_at(
        &format!("127.0.0.1:{port}"),
        &["--config", file.to_str().unwrap()],
    );
    let mut player = TestClient::play(edge.addr, "live", "x");
    let _ = player.wait_for(
        Duration::from_secs(5),
        |e| matches!(e, ClientEvent::Error { code, .. } if code == "NetStream.Play.StreamNotFound"),
    );
    assert!(
        edge.wait_log(Duration::from_secs(3), |l| l
            .contains("own listener (a loop)")),
        "{}",
        edge.log_text()
    );
}
