//! Access control through the real server: ffmpeg publishing and playing
//! with right, wrong and missing stream keys; address rules against a client
//! bound to 127.0.0.2; the per-address connection limit.

mod common;

use std::net::IpAddr;
use std::path::Path;
use std::process::Child;
use std::time::Duration;

use common::rtmp::{avc_frame, avc_seq_header, TestClient};
use common::{
    ffmpeg_play, ffmpeg_publish, frames_of, have_tool, probe_streams, wait_child, wait_until,
    ServerProcess, TempDir,
};
use rtmp_edge::proto::client::{ClientEvent, ClientMode};
use rtmp_edge::proto::session::MediaKind;

fn server_with(dir: &TempDir, toml: &str) -> ServerProcess {
    let file = dir.path().join("server.toml");
    std::fs::write(&file, toml).unwrap();
    ServerProcess::start(&["--config", file.to_str().unwrap()])
}

/// Exit success of a child that must end by itself within `max`.
fn ended_ok(child: &mut Child, max: Duration, what: &str) -> bool {
    match wait_child(child, max) {
        Some(status) => status.success(),
        None => {
            let _ = child.kill();
            panic!("{what} did not end within {max:?}");
        }
    }
}

fn files_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn refused(client: &mut TestClient, code: &str) -> bool {
    client
        .wait_for(
            Duration::from_secs(5),
            |e| matches!(e, ClientEvent::Error { code: c, .. } if c == code),
        )
        .is_some()
}

#[test]
fn ffmpeg_needs_the_right_key_to_publish_and_to_play() {
    if !have_tool("ffmpeg") || !have_tool("ffprobe") {
        return;
    }
    let dir = TempDir::new("access-keys");
    let rec = dir.path().join("rec");
    let server = server_with(
        &dir,
        &format!(
            "record_all = true\nrecord_dir = {:?}\n[apps.live]\npublish_keys = [\"s3cret\"]\nplay_keys = [\"w4tch\"]\n",
            rec.to_str().unwrap()
        ),
    );
    // A keyed player waits before any publisher.
    let mut watcher = TestClient::connect(server.addr, "live", "cam?key=w4tch", ClientMode::Play);
    assert!(watcher
        .wait_for(Duration::from_secs(5), |e| matches!(
            e,
            ClientEvent::PlayStarted
        ))
        .is_some());
    for (url, why) in [
        (server.url("live/cam"), "no key"),
        (server.url("live/cam?key=b4dk3y"), "wrong key"),
    ] {
        let mut ffmpeg = ffmpeg_publish(&url, 3);
        assert!(
            !ended_ok(&mut ffmpeg, Duration::from_secs(20), why),
            "ffmpeg publishing with {why} exited 0"
        );
    }
    assert!(
        watcher
            .collect_media(1, Duration::from_millis(500))
            .is_empty(),
        "a refused publisher's frame reached a player"
    );
    assert!(
        files_in(&rec).is_empty(),
        "refused publish recorded: {:?}",
        files_in(&rec)
    );
    assert!(
        server.wait_log(Duration::from_secs(5), |l| l
            .contains("publish live/cam refused: unauthorized")),
        "{}",
        server.log_text()
    );
    let log = server.log_text();
    assert!(
        !log.contains("b4dk3y") && !log.contains("w4tch"),
        "a key leaked into the log:\n{log}"
    );

    // The right key: ffmpeg publishes, a keyed ffmpeg player decodes h264 + aac.
    let out = dir.path().join("played.flv");
    let mut publisher = ffmpeg_publish(&server.url("live/cam?key=s3cret"), 5);
    assert!(
        wait_until(Duration::from_secs(10), || server
            .log_text()
            .contains("publish start live/cam")),
        "keyed publish did not start:\n{}",
        server.log_text()
    );
    let mut player = ffmpeg_play(&server.url("live/cam?key=w4tch"), &out);
    let mut denied = ffmpeg_play(
        &server.url("live/cam?key=nope"),
        &dir.path().join("denied.flv"),
    );
    assert!(
        !ended_ok(&mut denied, Duration::from_secs(15), "unkeyed player"),
        "ffmpeg playing with a wrong key exited 0"
    );
    assert!(ended_ok(
        &mut publisher,
        Duration::from_secs(30),
        "publisher"
    ));
    assert!(ended_ok(&mut player, Duration::from_secs(30), "player"));
    let streams = probe_streams(&out);
    assert!(frames_of(&streams, "h264") > 0, "{streams:?}");
    assert!(frames_of(&streams, "aac") > 0, "{streams:?}");
    assert!(
        frames_of(&probe_streams(&dir.path().join("denied.flv")), "h264") == 0,
        "a refused player decoded video"
    );
    assert_eq!(files_in(&rec).len(), 1, "{:?}", files_in(&rec));
    let log = server.log_text();
    assert!(!log.contains("s3cret") && !log.contains("w4tch"), "{log}");
}

#[test]
fn a_denied_address_is_refused_while_loopback_one_is_served() {
    let dir = TempDir::new("access-addr");
    let server = server_with(&dir, "[apps.live]\nplay_deny = [\"127.0.0.2\"]\n");
    let two: IpAddr = [127, 0, 0, 2].into();
    let mut publisher = TestClient::publish(server.addr, "live", "s");
    let mut denied = TestClient::connect_from(two, server.addr, "live", "s", ClientMode::Play);
    assert!(refused(&mut denied, "NetStream.Play.Failed"));
    assert!(
        denied.wait_closed(Duration::from_secs(5)),
        "refused player not closed"
    );
    let mut player = TestClient::play(server.addr, "live", "s");
    publisher.send_media(MediaKind::Video, 0, &avc_seq_header());
    publisher.send_media(MediaKind::Video, 0, &avc_frame(true, 1, 200));
    assert_eq!(player.collect_media(2, Duration::from_secs(5)).len(), 2);
    assert!(
        server.wait_log(Duration::from_secs(5), |l| l.lines().any(|l| l
            .contains("127.0.0.2")
            && l.contains("refused: denied address"))),
        "{}",
        server.log_text()
    );
}

#[test]
fn the_sixth_connection_from_one_address_is_closed_and_another_address_still_works() {
    let dir = TempDir::new("access-perip");
    let server = server_with(&dir, "max_connections_per_ip = 5\n");
    let mut held: Vec<TestClient> = (0..5)
        .map(|i| TestClient::play(server.addr, "live", &format!("p{i}")))
        .collect();
    let sixth = std::net::TcpStream::connect(server.addr).unwrap();
    sixth
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 1];
    use std::io::Read;
    assert_eq!(
        (&sixth).read(&mut buf).map_err(|e| e.kind()),
        Ok(0),
        "the sixth connection was not closed"
    );
    let two: IpAddr = [127, 0, 0, 2].into();
    let mut publisher =
        TestClient::connect_from(two, server.addr, "live", "s", ClientMode::Publish);
    assert!(publisher
        .wait_for(Duration::from_secs(5), |e| matches!(
            e,
            ClientEvent::PublishStarted
        ))
        .is_some());
    let mut viewer = TestClient::connect_from(two, server.addr, "live", "s", ClientMode::Play);
    assert!(viewer
        .wait_for(Duration::from_secs(5), |e| matches!(
            e,
            ClientEvent::PlayStarted
        ))
        .is_some());
    publisher.send_media(MediaKind::Video, 0, &avc_seq_header());
    publisher.send_media(MediaKind::Video, 0, &avc_frame(true, 1, 200));
    assert_eq!(viewer.collect_media(2, Duration::from_secs(5)).len(), 2);
    assert!(server.wait_log(Duration::from_secs(5), |l| l
        .contains("per-address connection limit reached")));
    held.truncate(0);
}
