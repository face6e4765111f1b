//! HTTP on the sans-IO endpoint, with a simulated clock: request heads and
//! their limits, the API and metrics over a live stream, `DELETE` of a
//! client, and HTTP-FLV viewers beside RTMP players (start frames, live
//! frames, keys, the end of the stream, the slow-viewer policy). No sockets,
//! no sleeps.

mod common;

use std::collections::HashMap;
use std::path::Path;

use bytes::Bytes;
use serde_json::Value;

use common::sim::*;
use rtmp_edge::config::{Config, Overrides};
use rtmp_edge::endpoint::{ConnId, StaticFiles};
use rtmp_edge::error::{CloseReason, Phase};
use rtmp_edge::proto::client::{ClientEvent, ClientMode};
use rtmp_edge::proto::flv::{read_all, FlvTag};
use rtmp_edge::proto::session::MediaKind;

const LOCAL: [u8; 4] = [127, 0, 0, 1];
const REMOTE: [u8; 4] = [192, 0, 2, 9];

/// An answer split into status, head lines and body.
struct Answer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Answer {
    fn parse(bytes: &[u8]) -> Answer {
        let end = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a complete response head");
        let head = String::from_utf8(bytes[..end].to_vec()).unwrap();
        let status = head[9..12].parse().unwrap();
        Answer {
            status,
            head,
            body: bytes[end + 4..].to_vec(),
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: edge\r\n\r\n").into_bytes()
}

fn request(sim: &mut Sim, id: ConnId, bytes: &[u8], peers: &mut [&mut Peer]) -> Answer {
    sim.http_send(id, bytes, peers);
    Answer::parse(&sim.http_take(id))
}

/// A publisher of live/`name` that has sent its headers and a keyframe.
fn live(sim: &mut Sim, name: &str) -> Peer {
    let mut publisher = sim.started(ClientMode::Publish, name);
    publish_start(sim, &mut publisher, &mut []);
    publisher
}

/// The FLV tags after the 13-byte file header.
fn tags_of(body: &[u8]) -> Vec<FlvTag> {
    assert_eq!(&body[..3], b"FLV", "FLV signature");
    read_all(Bytes::copy_from_slice(body))
        .expect("well-formed FLV")
        .1
}

#[test]
fn streams_api_reports_a_live_stream_and_counts_viewers_by_kind() {
    let mut sim = Sim::new(test_config());
    let mut publisher = live(&mut sim, "cam");
    let api = sim.accept_http(LOCAL);
    let a = request(
        &mut sim,
        api,
        &get("/api/v1/streams"),
        &mut [&mut publisher],
    );
    assert_eq!(a.status, 200);
    assert_eq!(a.header("content-type"), Some("application/json"));
    let v = a.json();
    let s = &v["streams"][0];
    assert_eq!(s["app"], "live");
    assert_eq!(s["name"], "cam");
    assert_eq!(s["publisher"]["id"], u64::from(publisher.id.generation));
    assert_eq!(s["video"]["codec"], "H.264");
    assert_eq!(s["audio"]["codec"], "AAC");
    assert_eq!(s["viewers"]["rtmp"], 0);
    assert_eq!(s["viewers"]["http_flv"], 0);
    assert_eq!(s["frames_in"], 3);

    let mut player = sim.started(ClientMode::Play, "cam");
    let flv = sim.accept_http(LOCAL);
    sim.http_send(
        flv,
        &get("/live/cam.flv"),
        &mut [&mut publisher, &mut player],
    );
    let a = request(&mut sim, api, &get("/api/v1/streams/live/cam"), &mut []);
    let v = a.json();
    assert_eq!(v["viewers"]["rtmp"], 1);
    assert_eq!(v["viewers"]["http_flv"], 1);
    assert!(v["bytes_out"].as_u64().unwrap() > 0);

    sim.ep.close(player.id, CloseReason::PeerClosed);
    sim.pump(&mut [&mut publisher]);
    let v = request(&mut sim, api, &get("/api/v1/streams/live/cam"), &mut []).json();
    assert_eq!(v["viewers"]["rtmp"], 0);
    assert_eq!(v["viewers"]["http_flv"], 1);
    let a = request(&mut sim, api, &get("/api/v1/streams/live/gone"), &mut []);
    assert_eq!(a.status, 404);
}

#[test]
fn api_and_metrics_answer_only_addresses_in_api_allow() {
    let mut sim = Sim::new(test_config());
    for path in ["/api/v1/streams", "/api/v1/clients", "/metrics", "/"] {
        let id = sim.accept_http(REMOTE);
        let a = request(&mut sim, id, &get(path), &mut []);
        assert_eq!(a.status, 403, "{path}");
        assert_eq!(
            sim.closed.get(&id),
            Some(&CloseReason::HttpRefused(403)),
            "{path}"
        );
    }
    let mut sim = Sim::new(Config {
        api_allow: vec!["192.0.2.0/24".parse().unwrap()],
        ..test_config()
    });
    let id = sim.accept_http(REMOTE);
    assert_eq!(request(&mut sim, id, &get("/metrics"), &mut []).status, 200);
}

#[test]
fn keep_alive_serves_requests_in_order_on_one_connection() {
    let mut sim = Sim::new(test_config());
    let id = sim.accept_http(LOCAL);
    let mut both = get("/api/v1/clients");
    both.extend_from_slice(&get("/metrics"));
    sim.http_send(id, &both, &mut []);
    let bytes = sim.http_take(id);
    let first = Answer::parse(&bytes);
    assert_eq!(first.status, 200);
    let len: usize = first.header("content-length").unwrap().parse().unwrap();
    let clients: Value = serde_json::from_slice(&first.body[..len]).unwrap();
    assert_eq!(clients["clients"][0]["role"], "http");
    let second = Answer::parse(&first.body[len..]);
    assert_eq!(second.status, 200);
    assert!(String::from_utf8_lossy(&second.body).contains("rtmp_connections{role=\"http\"} 1"));
    assert!(sim.ep.is_open(id), "kept alive");
}

#[test]
fn delete_closes_exactly_that_client() {
    let mut sim = Sim::new(test_config());
    let mut publisher = live(&mut sim, "cam");
    let mut a = sim.started(ClientMode::Play, "cam");
    let mut b = sim.started(ClientMode::Play, "cam");
    let api = sim.accept_http(LOCAL);
    let target = a.id.generation;
    let del = format!("DELETE /api/v1/clients/{target} HTTP/1.1\r\nHost: x\r\n\r\n");
    let answer = request(
        &mut sim,
        api,
        del.as_bytes(),
        &mut [&mut publisher, &mut a, &mut b],
    );
    assert_eq!(answer.status, 204);
    assert_eq!(sim.closed.get(&a.id), Some(&CloseReason::Kicked));
    assert!(sim.is_open(&b) && sim.is_open(&publisher));
    // Gone now: a second DELETE is a 404.
    let api2 = sim.accept_http(LOCAL);
    assert_eq!(request(&mut sim, api2, del.as_bytes(), &mut []).status, 404);
}

#[test]
fn metrics_export_a_live_stream_with_zeros_and_drop_it_when_it_ends() {
    let mut sim = Sim::new(test_config());
    let mut publisher = live(&mut sim, "cam");
    let id = sim.accept_http(LOCAL);
    let a = request(&mut sim, id, &get("/metrics"), &mut [&mut publisher]);
    assert_eq!(
        a.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = String::from_utf8(a.body).unwrap();
    assert!(text.contains("rtmp_streams 1\n"), "{text}");
    assert!(text.contains("rtmp_stream_viewers{app=\"live\",name=\"cam\"} 0\n"));
    assert!(text.contains("rtmp_connections{role=\"publisher\"} 1\n"));
    assert!(text.contains("rtmp_connections_accepted_total 2\n"));
    sim.ep.close(publisher.id, CloseReason::PeerClosed);
    sim.pump(&mut []);
    let text = String::from_utf8(request(&mut sim, id, &get("/metrics"), &mut []).body).unwrap();
    assert!(text.contains("rtmp_streams 0\n"));
    assert!(!text.contains("name=\"cam\""), "{text}");
}

#[test]
fn http_flv_viewer_gets_the_same_start_and_live_frames_as_an_rtmp_player() {
    let mut sim = Sim::new(test_config());
    let mut publisher = live(&mut sim, "cam");
    let mut player = sim.started(ClientMode::Play, "cam");
    let flv = sim.accept_http(REMOTE);
    sim.http_send(
        flv,
        &get("/live/cam.flv"),
        &mut [&mut publisher, &mut player],
    );
    publisher.send(MediaKind::Video, 40, &inter(1));
    publisher.send(MediaKind::Audio, 46, &audio(2));
    publisher.send(MediaKind::Video, 80, &keyframe(3));
    sim.pump(&mut [&mut publisher, &mut player]);

    let a = Answer::parse(&sim.http_take(flv));
    assert_eq!(a.status, 200);
    assert_eq!(a.header("content-type"), Some("video/x-flv"));
    assert_eq!(a.header("access-control-allow-origin"), Some("*"));
    assert_eq!(a.header("connection"), Some("close"));
    assert_eq!(a.header("content-length"), None);
    assert_eq!(a.header("transfer-encoding"), None);
    assert_eq!(a.body[4], 0x05, "audio and video flags");
    let tags = tags_of(&a.body);
    let flv_payloads: Vec<(u8, Bytes)> =
        tags.iter().map(|t| (t.tag_type, t.data.clone())).collect();
    let rtmp_payloads: Vec<(u8, Bytes)> = player
        .media()
        .into_iter()
        .map(|(k, _, p)| (if k == MediaKind::Video { 9 } else { 8 }, p))
        .collect();
    assert_eq!(flv_payloads, rtmp_payloads);
    assert_eq!(flv_payloads.len(), 6);
    assert_eq!(&flv_payloads[0].1[..], VIDEO_HEADER);
    let live: Vec<u32> = tags[3..].iter().map(|t| t.timestamp).collect();
    assert_eq!(live, [40, 46, 80]);
}

#[test]
fn head_of_a_stream_gets_the_head_only() {
    let mut sim = Sim::new(test_config());
    let mut publisher = live(&mut sim, "cam");
    let id = sim.accept_http(REMOTE);
    let head = b"HEAD /live/cam.flv HTTP/1.1\r\nHost: x\r\n\r\n";
    let a = request(&mut sim, id, head, &mut [&mut publisher]);
    assert_eq!(a.status, 200);
    assert_eq!(a.header("content-type"), Some("video/x-flv"));
    assert!(a.body.is_empty());
    assert_eq!(sim.closed.get(&id), Some(&CloseReason::HttpDone));
}

#[test]
fn http_flv_of_a_stream_that_is_not_live_is_a_404() {
    let mut sim = Sim::new(test_config());
    let id = sim.accept_http(REMOTE);
    let a = request(&mut sim, id, &get("/live/nothing.flv"), &mut []);
    assert_eq!(a.status, 404);
    assert_eq!(sim.closed.get(&id), Some(&CloseReason::HttpRefused(404)));
}

#[test]
fn http_flv_follows_the_applications_play_keys() {
    let text = "[apps.live]\nplay_keys = [\"s3cret\"]\n";
    let config = Config::from_toml(text, "t.toml", &Overrides::default()).unwrap();
    let mut sim = Sim::new(Config {
        stats_interval_ms: 3_600_000,
        ..config
    });
    let mut publisher = live(&mut sim, "cam");
    let bad = sim.accept_http(REMOTE);
    let a = request(
        &mut sim,
        bad,
        &get("/live/cam.flv?key=nope"),
        &mut [&mut publisher],
    );
    assert_eq!(a.status, 403);
    let none = sim.accept_http(REMOTE);
    assert_eq!(
        request(&mut sim, none, &get("/live/cam.flv"), &mut []).status,
        403
    );
    let good = sim.accept_http(REMOTE);
    let a = request(&mut sim, good, &get("/live/cam.flv?key=s3cret"), &mut []);
    assert_eq!(a.status, 200);
    assert_eq!(tags_of(&a.body).len(), 3);
}

#[test]
fn http_flv_viewer_is_closed_once_the_publisher_leaves_and_its_frames_are_written() {
    let mut sim = Sim::new(test_config());
    let mut publisher = live(&mut sim, "cam");
    let mut player = sim.started(ClientMode::Play, "cam");
    let flv = sim.accept_http(REMOTE);
    sim.http_send(
        flv,
        &get("/live/cam.flv"),
        &mut [&mut publisher, &mut player],
    );
    publisher.send(MediaKind::Video, 40, &inter(1));
    sim.pump(&mut [&mut publisher, &mut player]);
    sim.ep.close(publisher.id, CloseReason::PeerClosed);
    sim.pump(&mut [&mut player]);
    assert_eq!(sim.closed.get(&flv), Some(&CloseReason::StreamEnded));
    assert!(
        sim.is_open(&player),
        "the RTMP player waits for the next publisher"
    );
    let a = Answer::parse(&sim.http_take(flv));
    assert_eq!(tags_of(&a.body).len(), 4, "every frame before the end");
}

#[test]
fn a_slow_http_flv_viewer_is_evicted_and_the_others_keep_everything() {
    let mut sim = Sim::new(Config {
        gop_cache: false,
        subscriber_budget_bytes: 64 * 1024,
        slow_subscriber_timeout_ms: 2_000,
        ..test_config()
    });
    let mut publisher = live(&mut sim, "cam");
    let mut player = sim.started(ClientMode::Play, "cam");
    let slow = sim.accept_http(REMOTE);
    let fast = sim.accept_http(REMOTE);
    sim.http_send(
        slow,
        &get("/live/cam.flv"),
        &mut [&mut publisher, &mut player],
    );
    sim.http_send(
        fast,
        &get("/live/cam.flv"),
        &mut [&mut publisher, &mut player],
    );
    sim.http_deaf.push(slow);
    // Viewers that joined without a cached GOP start at the next keyframe.
    let frame_of = |first: u8| {
        let mut f = vec![first, 0x01, 0, 0, 0];
        f.resize(4000, 0x55);
        Bytes::from(f)
    };
    let (key, big) = (frame_of(0x17), frame_of(0x27));
    for i in 0..40u32 {
        let frame = if i == 0 { &key } else { &big };
        publisher.send(MediaKind::Video, 40 * (i + 1), frame);
        sim.advance(100, &mut [&mut publisher, &mut player]);
    }
    assert_eq!(sim.closed.get(&slow), Some(&CloseReason::SlowSubscriber));
    assert!(sim.ep.is_open(fast) && sim.is_open(&player));
    // Without a GOP cache the start is the two sequence headers.
    let a = Answer::parse(&sim.http_take(fast));
    assert_eq!(tags_of(&a.body).len(), 2 + 40);
    assert_eq!(player.media().len(), 2 + 40);
    let api = sim.accept_http(LOCAL);
    let text = String::from_utf8(request(&mut sim, api, &get("/metrics"), &mut []).body).unwrap();
    assert!(text.contains("rtmp_viewers_evicted_total 1\n"), "{text}");
}

#[test]
fn an_unfinished_head_closes_at_the_head_deadline() {
    let mut sim = Sim::new(test_config());
    let silent = sim.accept_http(LOCAL);
    let slow = sim.accept_http(LOCAL);
    sim.http_send(slow, b"GET /metrics HTTP/1.1\r\nHost:", &mut []);
    sim.advance(4_900, &mut []);
    assert!(sim.ep.is_open(silent) && sim.ep.is_open(slow));
    for _ in 0..3 {
        sim.http_send(slow, b" x", &mut []);
    }
    sim.advance(300, &mut []);
    for id in [silent, slow] {
        assert_eq!(
            sim.closed.get(&id),
            Some(&CloseReason::Timeout(Phase::HttpHead))
        );
    }
}

#[test]
fn a_kept_alive_connection_closes_after_the_idle_limit() {
    let mut sim = Sim::new(test_config());
    let id = sim.accept_http(LOCAL);
    assert_eq!(request(&mut sim, id, &get("/metrics"), &mut []).status, 200);
    sim.advance(29_900, &mut []);
    assert!(sim.ep.is_open(id));
    sim.advance(300, &mut []);
    assert_eq!(
        sim.closed.get(&id),
        Some(&CloseReason::Timeout(Phase::HttpIdle))
    );
}

#[test]
fn bad_heads_get_their_status_and_close_only_their_connection() {
    let mut sim = Sim::new(test_config());
    let mut publisher = live(&mut sim, "cam");
    let viewer = sim.accept_http(REMOTE);
    sim.http_send(viewer, &get("/live/cam.flv"), &mut [&mut publisher]);
    let cases: [(Vec<u8>, u16); 4] = [
        (b"GARBAGE\r\n\r\n".to_vec(), 400),
        (
            format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(64 * 1024)).into_bytes(),
            431,
        ),
        (b"PUT /metrics HTTP/1.1\r\n\r\n".to_vec(), 405),
        (
            b"GET /metrics HTTP/1.1\r\n\r\n\x00\x01junk\r\n\r\n".to_vec(),
            400,
        ),
    ];
    for (bytes, status) in cases {
        let id = sim.accept_http(LOCAL);
        sim.http_send(id, &bytes, &mut [&mut publisher]);
        let all = sim.http_take(id);
        // A pipelined bad request follows a good answer.
        let last = if status == 400 && all.starts_with(b"HTTP/1.1 200") {
            let first = Answer::parse(&all);
            let len: usize = first.header("content-length").unwrap().parse().unwrap();
            Answer::parse(&first.body[len..])
        } else {
            Answer::parse(&all)
        };
        assert_eq!(last.status, status);
        assert_eq!(sim.closed.get(&id), Some(&CloseReason::HttpRefused(status)));
    }
    publisher.send(MediaKind::Video, 40, &inter(1));
    sim.pump(&mut [&mut publisher]);
    assert!(sim.ep.is_open(viewer) && sim.is_open(&publisher));
    assert_eq!(
        tags_of(&Answer::parse(&sim.http_take(viewer)).body).len(),
        4
    );
}

struct MemFiles(HashMap<String, Bytes>);

impl StaticFiles for MemFiles {
    fn read(&mut self, path: &Path) -> Option<Bytes> {
        self.0.get(path.to_str()?).cloned()
    }
}

#[test]
fn static_files_are_served_from_their_directory_only() {
    let mut sim = Sim::new(Config {
        http_static: Some("/srv/static".into()),
        ..test_config()
    });
    let files = [(
        "/srv/static/mpegts.js".to_string(),
        Bytes::from_static(b"js!"),
    )];
    sim.ep
        .set_static_files(Box::new(MemFiles(files.into_iter().collect())));
    let id = sim.accept_http(REMOTE);
    let a = request(&mut sim, id, &get("/static/mpegts.js"), &mut []);
    assert_eq!(a.status, 200);
    assert_eq!(a.body, b"js!");
    assert_eq!(
        a.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    for path in [
        "/static/../secret",
        "/static/%2e%2e/secret",
        "/static/missing.js",
    ] {
        let id = sim.accept_http(REMOTE);
        assert_eq!(
            request(&mut sim, id, &get(path), &mut []).status,
            404,
            "{path}"
        );
    }
}

#[test]
fn player_page_names_the_stream_and_the_configured_script() {
    let mut sim = Sim::new(Config {
        player_js_url: "/static/mpegts.js".into(),
        ..test_config()
    });
    let id = sim.accept_http(REMOTE);
    let a = request(&mut sim, id, &get("/play/live/cam"), &mut []);
    assert_eq!(a.status, 200);
    let page = String::from_utf8(a.body).unwrap();
    assert!(page.contains("<script src=\"/static/mpegts.js\"></script>"));
    assert!(page.contains("data-app=\"live\""));
}

#[test]
fn stream_bytes_out_count_only_what_was_sent_while_playing() {
    let mut sim = Sim::new(Config {
        http_static: Some("/srv/static".into()),
        ..test_config()
    });
    let big = Bytes::from(vec![b'x'; 50_000]);
    let files = [("/srv/static/big.js".to_string(), big)];
    sim.ep
        .set_static_files(Box::new(MemFiles(files.into_iter().collect())));
    let mut publisher = live(&mut sim, "cam");
    // One keep-alive connection: a file first, then the stream.
    let viewer = sim.accept_http(REMOTE);
    let file = sim.ep.stats(viewer).unwrap().bytes_out;
    assert_eq!(file, 0);
    let answer = request(
        &mut sim,
        viewer,
        &get("/static/big.js"),
        &mut [&mut publisher],
    );
    assert_eq!(answer.body.len(), 50_000);
    let before = sim.ep.stats(viewer).unwrap().bytes_out;
    sim.http_send(viewer, &get("/live/cam.flv"), &mut [&mut publisher]);
    publisher.send(MediaKind::Video, 40, &inter(1));
    sim.pump(&mut [&mut publisher]);
    let streamed = sim.http_take(viewer).len() as u64;
    assert_eq!(sim.ep.stats(viewer).unwrap().bytes_out, before + streamed);
    let api = sim.accept_http(LOCAL);
    let v = request(&mut sim, api, &get("/api/v1/streams/live/cam"), &mut []).json();
    assert_eq!(v["bytes_out"].as_u64(), Some(streamed));
    // And after it left.
    sim.ep.close(viewer, CloseReason::PeerClosed);
    sim.pump(&mut [&mut publisher]);
    let v = request(&mut sim, api, &get("/api/v1/streams/live/cam"), &mut []).json();
    assert_eq!(v["bytes_out"].as_u64(), Some(streamed));
}

#[test]
fn post_reconnect_asks_publishers_and_answers_only_api_allow() {
    let mut sim = Sim::new(test_config());
    let mut cam = live(&mut sim, "cam");
    let mut other = live(&mut sim, "other");
    let post = |q: &str| {
        format!("POST /api/v1/reconnect{q} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            .into_bytes()
    };
    // Only from api_allow, only POST.
    let id = sim.accept_http(REMOTE);
    let a = request(&mut sim, id, &post(""), &mut [&mut cam, &mut other]);
    assert_eq!(a.status, 403);
    let id = sim.accept_http(LOCAL);
    let a = request(&mut sim, id, &get("/api/v1/reconnect"), &mut []);
    assert_eq!(a.status, 405);
    assert_eq!(a.header("allow"), Some("POST"));
    let api = sim.accept_http(LOCAL);
    let a = request(
        &mut sim,
        api,
        &post("?app=live&name=cam&tc_url=rtmp%3A%2F%2Fedge2%2Flive"),
        &mut [&mut cam, &mut other],
    );
    assert_eq!(a.status, 200);
    let v = a.json();
    assert_eq!(v["asked"], 1);
    assert_eq!(v["not_capable"], 0);
    assert_eq!(v["asked_before"], 0);
    assert!(cam.events.iter().any(|e| matches!(
        e,
        ClientEvent::ReconnectRequest { tc_url: Some(u), .. } if u == "rtmp://edge2/live"
    )));
    assert!(!other
        .events
        .iter()
        .any(|e| matches!(e, ClientEvent::ReconnectRequest { .. })));
    // The client listing shows who announced what and who was asked.
    let v = request(&mut sim, api, &get("/api/v1/clients"), &mut []).json();
    let row = |p: &Peer| {
        v["clients"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == u64::from(p.id.generation))
            .unwrap()
            .clone()
    };
    assert_eq!(row(&cam)["reconnect_requested"], true);
    assert_eq!(row(&other)["reconnect_requested"], false);
    let ertmp = &row(&cam)["ertmp"];
    assert_eq!(ertmp["caps_ex"], 7);
    assert_eq!(ertmp["four_cc_list"][0], "*");
    assert_eq!(ertmp["video_four_cc_info_map"]["hvc1"], 4);
    assert_eq!(ertmp["audio_four_cc_info_map"]["Opus"], 4);
    assert!(sim.is_open(&cam), "asked, not closed");
}
