//! The digest handshake with real peers on loopback:
//! * ffmpeg publishes and ffmpeg's player plays through our server. The
//!   player validates our S1 digest and S2 signature (it fails the
//!   connection otherwise) and then signs its C2, so a "C2 signed" line in
//!   our log proves it accepted our digest answer;
//! * our client library completes the digest handshake against our server
//!   and against nginx-rtmp, and media flows.
//!
//! Skips (printing why) when ffmpeg or nginx-rtmp is missing, unless
//! `RTMP_REQUIRE_INTEROP` is set. Every process started here is killed by
//! its PID; every wait is bounded.

mod common;

use std::process::Child;
use std::time::{Duration, Instant};

use common::nginx::Nginx;
use common::rtmp::{avc_frame, avc_seq_header};
use common::{
    ffmpeg_play, ffmpeg_publish, frames_of, have_tool, probe_streams, wait_child, wait_until,
    ServerProcess, TempDir,
};
use rtmp_edge::client::{Player, Publisher};
use rtmp_edge::proto::client::ClientEvent;
use rtmp_edge::proto::handshake::{DigestScheme, HandshakeForm};
use rtmp_edge::proto::session::MediaKind;

const STEP: Duration = Duration::from_secs(10);
const DIGEST0: Option<HandshakeForm> = Some(HandshakeForm::Digest(DigestScheme::Scheme0));

fn stderr_of(child: &mut Child) -> String {
    use std::io::Read;
    let mut s = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut s);
    }
    s
}

/// The server's "handshake done: ..." summaries, in order.
fn handshake_lines(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|l| l.split_once("handshake done: ").map(|(_, s)| s.to_string()))
        .collect()
}

#[test]
fn ffmpeg_player_validates_our_digest_answer() {
    if !have_tool("ffmpeg") || !have_tool("ffprobe") {
        return;
    }
    let server = ServerProcess::start(&[]);
    let dir = TempDir::new("interop-digest");
    let out = dir.path().join("played.flv");
    let url = server.url("live/digest");
    let mut player = ffmpeg_play(&url, &out);
    assert!(
        wait_until(Duration::from_secs(30), || server
            .log_text()
            .contains("play start live/digest")),
        "the player never started; log:\n{}",
        server.log_text()
    );
    let mut publisher = ffmpeg_publish(&url, 4);
    let pub_status =
        wait_child(&mut publisher, Duration::from_secs(30)).expect("publisher finished");
    assert!(
        pub_status.success(),
        "publisher failed: {}",
        stderr_of(&mut publisher)
    );
    let play_status = wait_child(&mut player, Duration::from_secs(15));
    let Some(play_status) = play_status else {
        let _ = player.kill();
        let _ = player.wait();
        panic!("player did not stop; log:\n{}", server.log_text());
    };
    assert!(
        play_status.success(),
        "player failed: {}",
        stderr_of(&mut player)
    );
    // ffmpeg sends a scheme-0 C1: the player signed C2 (it validated our S1
    // and S2 first), the publisher echoed S1.
    let lines = handshake_lines(&server.log_text());
    assert!(
        lines.iter().any(|l| l == "digest scheme 0, C2 signed"),
        "no signed C2 from the player: {lines:?}"
    );
    assert!(
        lines.iter().any(|l| l == "digest scheme 0, C2 echoes S1"),
        "no echoed C2 from the publisher: {lines:?}"
    );
    let streams = probe_streams(&out);
    assert!(
        frames_of(&streams, "h264") > 0,
        "the player got no video: {streams:?}"
    );
}

/// Publish a sequence header and frames with our client, play them with our
/// client, both over the digest handshake; returns the forms seen.
fn publish_and_play(url: &str) -> (Option<HandshakeForm>, Option<HandshakeForm>) {
    let mut player = Player::connect(url, STEP).expect("player connects");
    let mut publisher = Publisher::connect(url, STEP).expect("publisher connects");
    let forms = (publisher.handshake_form(), player.handshake_form());
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut n = 0u32;
    let mut got_media = false;
    publisher
        .send_media(MediaKind::Video, 0, &avc_seq_header())
        .expect("send");
    while !got_media {
        assert!(Instant::now() < deadline, "no media reached the player");
        n += 1;
        publisher
            .send_media(MediaKind::Video, n * 40, &avc_frame(n % 25 == 1, n, 200))
            .expect("send");
        publisher
            .flush(Instant::now() + STEP)
            .expect("publisher flush");
        while let Some(ev) = player
            .next_event(Duration::from_millis(40))
            .expect("player event")
        {
            got_media |= matches!(ev, ClientEvent::Media { .. });
        }
    }
    publisher.finish(STEP).expect("finish");
    forms
}

#[test]
fn client_library_digest_handshake_with_our_server() {
    let server = ServerProcess::start(&[]);
    let (publisher, player) = publish_and_play(&server.url("live/lib"));
    assert_eq!(publisher, DIGEST0);
    assert_eq!(player, DIGEST0);
    // Our client signs C2 for our S1.
    assert!(
        server.wait_log(Duration::from_secs(5), |log| handshake_lines(log)
            .iter()
            .filter(|l| *l == "digest scheme 0, C2 signed")
            .count()
            >= 2),
        "log:\n{}",
        server.log_text()
    );
}

#[test]
fn client_library_digest_handshake_with_nginx() {
    let Some(nginx) = Nginx::start("digest") else {
        return;
    };
    let (publisher, player) = publish_and_play(&nginx.url("digest"));
    // nginx answers a digest C1 with a digest S1 (and a signed S2, which
    // the client requires after a digest S1).
    for form in [publisher, player] {
        assert!(
            form.and_then(HandshakeForm::digest_scheme).is_some(),
            "{form:?}"
        );
    }
}
