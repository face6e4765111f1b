//! nginx-rtmp compatible hooks through the real server, against a hook
//! server written in the test: the exact form fields of publish, play,
//! publish_done, play_done and record_done; 2xx accepts, 403 refuses, 302
//! renames; a hook that never answers or cannot be reached refuses, while a
//! healthy pair on another key loses nothing.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::hook_server::{decode_form, HookServer, Recorded, Reply};
use common::rtmp::{aac_frame, aac_seq_header, avc_frame, avc_seq_header, TestClient};
use common::{ServerProcess, TempDir};
use rtmp_edge::proto::client::{ClientEvent, ClientMode};
use rtmp_edge::proto::session::MediaKind;

fn hook_reply(path: &str) -> Reply {
    match path {
        "/deny" => Reply::Status(403, vec![]),
        "/rename" => Reply::Status(302, vec![("Location", "public")]),
        "/hang" => Reply::Hang,
        _ => Reply::Status(200, vec![]),
    }
}

fn server_with(dir: &TempDir, toml: &str) -> ServerProcess {
    let file = dir.path().join("server.toml");
    std::fs::write(&file, toml).unwrap();
    ServerProcess::start(&["--config", file.to_str().unwrap()])
}

/// Requests received until `n` have come or `max` passed, by call name.
fn collect(hooks: &HookServer, n: usize, max: Duration) -> HashMap<String, Recorded> {
    let deadline = Instant::now() + max;
    let mut got = HashMap::new();
    while got.len() < n && Instant::now() < deadline {
        if let Ok(r) = hooks.requests.recv_timeout(Duration::from_millis(100)) {
            let call = decode_form(&r.body)
                .into_iter()
                .find(|(k, _)| k == "call")
                .map(|(_, v)| v)
                .unwrap_or_default();
            got.insert(call, r);
        }
    }
    got
}

fn field_names(r: &Recorded) -> Vec<String> {
    decode_form(&r.body).into_iter().map(|(k, _)| k).collect()
}

fn field(r: &Recorded, name: &str) -> String {
    decode_form(&r.body)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no {name} in {}", r.body))
}

fn send_gop(publisher: &mut TestClient) {
    publisher.send_media(MediaKind::Video, 0, &avc_seq_header());
    publisher.send_media(MediaKind::Audio, 0, &aac_seq_header());
    for n in 0..5 {
        publisher.send_media(MediaKind::Video, n * 40, &avc_frame(n == 0, n, 300));
        publisher.send_media(MediaKind::Audio, n * 40, &aac_frame(n));
    }
}

#[test]
fn hooks_get_nginx_fields_and_their_answers_decide() {
    let hooks = HookServer::routed(hook_reply);
    let dir = TempDir::new("hooks-fields");
    let rec = dir.path().join("rec");
    let ok = hooks.url("/ok");
    let server = server_with(
        &dir,
        &format!(
            "record_dir = {rec:?}\n[apps.live]\nrecord = true\non_connect = \"{ok}\"\non_publish = \"{ok}\"\non_play = \"{ok}\"\n\
             on_publish_done = \"{ok}\"\non_play_done = \"{ok}\"\non_record_done = \"{ok}\"\n\
             [apps.deny]\non_publish = \"{}\"\n[apps.rename]\non_play = \"{}\"\n\
             [apps.gate]\non_connect = \"{}\"\n",
            hooks.url("/deny"),
            hooks.url("/rename"),
            hooks.url("/deny"),
        ),
    );
    let mut publisher = TestClient::publish(server.addr, "live", "cam?token=t0k&x=1");
    let mut player = TestClient::play(server.addr, "live", "cam");
    send_gop(&mut publisher);
    assert_eq!(player.collect_media(12, Duration::from_secs(5)).len(), 12);
    player.finish();
    publisher.finish();
    let got = collect(&hooks, 6, Duration::from_secs(10));
    let connect = got.get("connect").expect("no connect hook");
    let mut names = field_names(connect);
    names.sort();
    let mut want: Vec<&str> = vec![
        "app", "flashver", "swfurl", "tcurl", "pageurl", "addr", "epoch", "call",
    ];
    want.sort();
    assert_eq!(names, want, "connect: {}", connect.body);
    let session = [
        "app", "flashver", "swfurl", "tcurl", "pageurl", "addr", "clientid",
    ];
    let expect: [(&str, &[&str]); 5] = [
        ("publish", &["call", "name", "type", "token", "x"]),
        ("play", &["call", "name", "start", "duration", "reset"]),
        ("publish_done", &["call", "name", "token", "x"]),
        ("play_done", &["call", "name"]),
        (
            "record_done",
            &["call", "recorder", "name", "path", "token", "x"],
        ),
    ];
    for (call, own) in expect {
        let r = got
            .get(call)
            .unwrap_or_else(|| panic!("no {call} hook; got {:?}", got.keys()));
        assert_eq!(r.method, "POST");
        assert_eq!(
            r.header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        let names = field_names(r);
        let want: Vec<String> = session.iter().chain(own).map(|s| s.to_string()).collect();
        let mut sorted_names = names.clone();
        sorted_names.sort();
        let mut sorted_want = want.clone();
        sorted_want.sort();
        assert_eq!(sorted_names, sorted_want, "{call}: {}", r.body);
        assert_eq!(field(r, "app"), "live", "{call}");
        assert_eq!(field(r, "addr"), "127.0.0.1", "{call}");
        assert_eq!(field(r, "name"), "cam", "{call}");
    }
    assert_eq!(field(&got["publish"], "type"), "live");
    assert_eq!(field(&got["publish"], "token"), "t0k");
    assert!(field(&got["record_done"], "path").ends_with(".flv"));
    assert!(
        !server.log_text().contains("t0k"),
        "a secret reached the log"
    );

    // 403: refused.
    let mut denied = TestClient::connect(server.addr, "deny", "s", ClientMode::Publish);
    assert!(denied
        .wait_for(Duration::from_secs(5), |e| matches!(
            e,
            ClientEvent::Error { code, .. } if code == "NetStream.Publish.Denied"
        ))
        .is_some());
    // on_connect answered 403: the connect itself is rejected.
    let mut gated = TestClient::connect(server.addr, "gate", "s", ClientMode::Play);
    assert!(gated
        .wait_for(Duration::from_secs(5), |e| matches!(
            e,
            ClientEvent::Error { code, .. } if code == "NetConnection.Connect.Rejected"
        ))
        .is_some());
    assert!(gated.wait_closed(Duration::from_secs(5)));
    // 302 Location: public — a player of `secret` gets stream `public`.
    let mut public = TestClient::publish(server.addr, "rename", "public");
    let mut renamed = TestClient::play(server.addr, "rename", "secret");
    send_gop(&mut public);
    assert_eq!(renamed.collect_media(12, Duration::from_secs(5)).len(), 12);
    assert!(server.wait_log(Duration::from_secs(5), |l| l
        .contains("hook renames rename/secret to rename/public")));
}

#[test]
fn a_hanging_or_unreachable_hook_refuses_and_the_healthy_pair_loses_nothing() {
    let hooks = HookServer::routed(hook_reply);
    let closed_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = TempDir::new("hooks-hang");
    let server = server_with(
        &dir,
        &format!(
            "[apps.hang]\non_publish = \"{}\"\nhook_timeout_ms = 1500\n\
             [apps.down]\non_publish = \"http://127.0.0.1:{closed_port}/x\"\n",
            hooks.url("/hang")
        ),
    );
    let mut publisher = TestClient::publish(server.addr, "live", "healthy");
    let mut player = TestClient::play(server.addr, "live", "healthy");
    publisher.send_media(MediaKind::Video, 0, &avc_seq_header());
    let started = Instant::now();
    let mut hanging = TestClient::connect(server.addr, "hang", "s", ClientMode::Publish);
    let mut down = TestClient::connect(server.addr, "down", "s", ClientMode::Publish);
    // Their publish requests go out with createStream's answer.
    for c in [&mut hanging, &mut down] {
        assert!(c
            .wait_for(Duration::from_secs(5), |e| matches!(
                e,
                ClientEvent::StreamCreated(_)
            ))
            .is_some());
    }
    // While the hook hangs, the pair streams 3 s of 25 fps video.
    let mut largest_gap = Duration::ZERO;
    let mut last = Instant::now();
    let mut got = 0;
    for n in 0..75u32 {
        publisher.send_media(MediaKind::Video, n * 40, &avc_frame(n == 0, n, 2000));
        got += player.collect_media(1, Duration::from_secs(2)).len();
        largest_gap = largest_gap.max(last.elapsed());
        last = Instant::now();
        std::thread::sleep(Duration::from_millis(40));
    }
    assert_eq!(got, 75, "the healthy pair lost frames while a hook hung");
    assert!(
        largest_gap < Duration::from_millis(500),
        "largest gap {largest_gap:?}"
    );
    let denied = |c: &mut TestClient| {
        c.wait_for(
            Duration::from_secs(5),
            |e| matches!(e, ClientEvent::Error { code, .. } if code == "NetStream.Publish.Denied"),
        )
        .is_some()
    };
    assert!(denied(&mut down), "unreachable hook not refused");
    assert!(denied(&mut hanging), "hanging hook not refused");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(1400) && took < Duration::from_secs(6),
        "refused after {took:?}"
    );
    assert!(
        server.wait_log(Duration::from_secs(5), |l| l
            .contains("publish hang/s refused: hook timed out")
            && l.contains("publish down/s refused: hook failed")),
        "{}",
        server.log_text()
    );
}
