//! E-RTMP reconnect requests end to end: the server binary on loopback, our
//! client library publishing with and without `capsEx` Reconnect, and the
//! two triggers (SIGUSR1 to the server process this test started, and
//! `POST /api/v1/reconnect`).

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;

use common::sim::{keyframe, AUDIO_HEADER, VIDEO_HEADER};
use common::{http_request, ServerProcess};
use rtmp_edge::client::{Publisher, RtmpUrl};
use rtmp_edge::proto::client::ClientEvent;
use rtmp_edge::proto::command::EnhancedCaps;
use rtmp_edge::proto::session::MediaKind;

const STEP: Duration = Duration::from_secs(5);

fn start_media(p: &mut Publisher) {
    p.send_media(MediaKind::Video, 0, &Bytes::from_static(VIDEO_HEADER))
        .unwrap();
    p.send_media(MediaKind::Audio, 0, &Bytes::from_static(AUDIO_HEADER))
        .unwrap();
    p.send_media(MediaKind::Video, 0, &keyframe(0)).unwrap();
    p.flush(Instant::now() + STEP).unwrap();
}

/// Poll `p` for up to `max`; the reconnect requests seen (their tcUrl).
fn requests_within(p: &mut Publisher, max: Duration) -> Vec<Option<String>> {
    let deadline = Instant::now() + max;
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        for ev in p.poll_events().expect("publisher still connected") {
            if let ClientEvent::ReconnectRequest { tc_url, .. } = ev {
                seen.push(tc_url);
            }
        }
        if !seen.is_empty() {
            return seen;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    seen
}

#[test]
fn sigusr1_and_the_api_ask_only_publishers_with_capsex_reconnect() {
    let (server, http) = ServerProcess::start_http(&[]);
    let able_url = RtmpUrl::parse(&server.url("live/able")).unwrap();
    let legacy_url = RtmpUrl::parse(&server.url("live/legacy")).unwrap();
    let mut able = Publisher::connect_url(&able_url, STEP).expect("E-RTMP publisher");
    let mut legacy = Publisher::connect_url_with(&legacy_url, EnhancedCaps::default(), STEP)
        .expect("legacy publisher");
    // The connect answer states the server's caps to the E-RTMP client only.
    assert_eq!(able.server_caps(), &EnhancedCaps::server());
    assert!(!legacy.server_caps().is_announced());
    start_media(&mut able);
    start_media(&mut legacy);

    // SIGUSR1, by PID, to the server this test started.
    let pid = server.child.id().to_string();
    let ok = Command::new("kill")
        .args(["-USR1", &pid])
        .status()
        .expect("run kill");
    assert!(ok.success());
    assert!(
        server.wait_log(STEP, |l| l.contains(
            "reconnect request (SIGUSR1): asked 1 publishers, 1 could not be asked (no capsEx Reconnect), 0 asked before"
        )),
        "no summary line:\n{}",
        server.log_text()
    );
    assert_eq!(requests_within(&mut able, STEP), vec![None]);
    let req = able.reconnect_request().expect("kept by the publisher");
    assert_eq!(req.requested_tc_url, None);
    assert_eq!(req.tc_url, able_url.tc_url());
    assert!(requests_within(&mut legacy, Duration::from_millis(500)).is_empty());
    assert!(legacy.reconnect_request().is_none());

    // Nobody was closed: both keep publishing.
    for (i, p) in [&mut able, &mut legacy].into_iter().enumerate() {
        p.send_media(MediaKind::Video, 40, &keyframe(i as u8 + 1))
            .expect("still publishing");
        p.flush(Instant::now() + STEP).unwrap();
    }

    // The API: the asked publisher is not asked again; a tcUrl goes along
    // to a publisher that was not asked yet.
    let (status, _, body) = http_request(http, "POST", "/api/v1/reconnect?app=live", STEP);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (&v["asked"], &v["not_capable"], &v["asked_before"]),
        (&0.into(), &1.into(), &1.into())
    );
    let url3 = RtmpUrl::parse(&server.url("live/third")).unwrap();
    let mut third = Publisher::connect_url(&url3, STEP).unwrap();
    start_media(&mut third);
    let (status, _, body) = http_request(
        http,
        "POST",
        "/api/v1/reconnect?name=third&tc_url=%2F%2F127.0.0.2%2Flive",
        STEP,
    );
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["asked"], 1);
    assert_eq!(
        requests_within(&mut third, STEP),
        vec![Some("//127.0.0.2/live".to_string())]
    );
    let req = third.reconnect_request().unwrap();
    assert_eq!(req.tc_url, "rtmp://127.0.0.2/live");
    assert!(requests_within(&mut able, Duration::from_millis(300)).is_empty());

    // The client listing shows the caps and who was asked.
    let (status, _, body) = http_request(http, "GET", "/api/v1/clients", STEP);
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let publishers: Vec<&serde_json::Value> = v["clients"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["role"] == "publisher")
        .collect();
    assert_eq!(publishers.len(), 3);
    let asked = publishers
        .iter()
        .filter(|c| c["reconnect_requested"] == true)
        .count();
    assert_eq!(asked, 2);
    assert_eq!(
        publishers.iter().filter(|c| c["ertmp"].is_null()).count(),
        1,
        "the legacy publisher announced nothing"
    );

    // Still served (a closed connection fails poll_events), until they leave.
    for p in [&mut able, &mut legacy, &mut third] {
        p.poll_events().expect("still connected");
    }
    for p in [able, legacy, third] {
        p.finish(STEP).expect("finish after the request");
    }
}

#[test]
fn rtmp_client_publish_reconnects_at_a_keyframe_when_asked() {
    let dir = common::TempDir::new("cli-reconnect");
    let flv = dir.path().join("in.flv");
    common::write_synthetic_flv(&flv, 4_000);
    let (server, _http) = ServerProcess::start_http(&[]);
    let mut player =
        rtmp_edge::client::Player::connect(&server.url("live/cli"), STEP).expect("player");
    let mut client = Command::new(env!("CARGO_BIN_EXE_rtmp-client"))
        .args(["publish", "--quiet", &server.url("live/cli")])
        .arg(&flv)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn rtmp-client");
    assert!(
        server.wait_log(STEP, |l| l.contains("publish start live/cli")),
        "{}",
        server.log_text()
    );
    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-USR1", &pid])
        .status()
        .unwrap()
        .success());
    // Make before break: the new connection replaces the asked one.
    assert!(
        server.wait_log(STEP, |l| l.contains("which was asked to reconnect")
            && l.contains(
                "asked to reconnect, replaced by a new publisher of its key"
            )),
        "{}",
        server.log_text()
    );
    let mut codes = Vec::new();
    let mut note = |ev: ClientEvent| {
        if let ClientEvent::Status { code, .. } = ev {
            codes.push(code);
        }
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = client.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "rtmp-client did not finish");
        if let Some(ev) = player
            .next_event(Duration::from_millis(50))
            .expect("player stays")
        {
            note(ev);
        }
    };
    let mut err = String::new();
    std::io::Read::read_to_string(client.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(status.success(), "rtmp-client failed: {err}");
    assert!(err.contains("reconnected to rtmp://"), "{err}");
    // Exactly two publish starts of the key: the first and the reconnected one.
    let log = server.log_text();
    assert_eq!(log.matches("publish start live/cli").count(), 2, "{log}");
    // The player stayed through the switch: the old publisher's end, then
    // the new one's start.
    while let Ok(Some(ev)) = player.next_event(Duration::from_millis(200)) {
        note(ev);
    }
    let switch = codes
        .iter()
        .position(|c| c == "NetStream.Play.UnpublishNotify")
        .expect("UnpublishNotify when the old connection gave way");
    assert_eq!(
        codes.get(switch + 1).map(String::as_str),
        Some("NetStream.Play.PublishNotify"),
        "{codes:?}"
    );
}
