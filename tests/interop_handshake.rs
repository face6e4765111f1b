//! The digest handshake of our client library with real servers on
//! loopback: it completes against our server and against nginx-rtmp, and
//! media flows. (ffmpeg's player validating our digest answer is checked in
//! `tests/interop_ffmpeg.rs`, on its whole-stream test: it signs its C2
//! only after accepting our S1 and S2, and our log says so.)
//!
//! Skips (printing why) when ffmpeg or nginx-rtmp is missing, unless
//! `RTMP_REQUIRE_INTEROP` is set. Every process started here is killed by
//! its PID; every wait is bounded.

mod common;

use std::time::{Duration, Instant};

use common::nginx::Nginx;
use common::rtmp::{avc_frame, avc_seq_header};
use common::{handshake_lines, ServerProcess};
use rtmp_edge::client::{Player, Publisher};
use rtmp_edge::proto::client::ClientEvent;
use rtmp_edge::proto::handshake::{DigestScheme, HandshakeForm};
use rtmp_edge::proto::session::MediaKind;

const STEP: Duration = Duration::from_secs(10);
const DIGEST0: Option<HandshakeForm> = Some(HandshakeForm::Digest(DigestScheme::Scheme0));

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
