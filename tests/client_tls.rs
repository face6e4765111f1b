//! Our client over `rtmps://` against our server: a certificate signed by a
//! test CA verifies with that CA; a wrong host name or an unknown CA is
//! refused with a clear TLS error; `--insecure` accepts it. The CA and the
//! server certificate are generated here (rcgen).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use common::pki::test_pki;
use common::{ServerProcess, TempDir};
use rtmp_edge::client::{ClientError, Player, Publisher, RtmpUrl};
use rtmp_edge::proto::client::ClientEvent;
use rtmp_edge::proto::session::MediaKind;

const STEP: Duration = Duration::from_secs(5);

fn url(host: &str, port: u16, stream: &str, ca: Option<&Path>, insecure: bool) -> RtmpUrl {
    RtmpUrl::parse(&format!("rtmps://{host}:{port}/live/{stream}"))
        .unwrap()
        .with_verify(insecure, ca.map(Path::to_path_buf))
}

fn tls_reason(e: ClientError) -> String {
    match e {
        ClientError::Tls { reason, .. } => reason,
        other => panic!("expected a TLS error, got {other}"),
    }
}

#[test]
fn rtmps_client_verifies_the_server_and_says_why_it_refuses() {
    let dir = TempDir::new("client-tls");
    let (ca, cert, key) = test_pki(dir.path());
    let (_server, tls_addr) = ServerProcess::start_tls(&cert, &key, &[]);
    let port = tls_addr.port();
    assert_eq!(
        RtmpUrl::parse("rtmps://example.com/live/x").unwrap().port,
        443
    );

    // Verified against the test CA, by name: publish and play work.
    let mut publisher =
        Publisher::connect_url(&url("localhost", port, "v", Some(&ca), false), STEP)
            .expect("publish over rtmps with the test CA");
    let mut player = Player::connect_url(&url("localhost", port, "v", Some(&ca), false), STEP)
        .expect("play over rtmps with the test CA");
    let frame = Bytes::from(vec![0x17, 1, 0, 0, 0, 7, 7, 7]);
    publisher
        .send_media(
            MediaKind::Video,
            0,
            &Bytes::from_static(&[0x17, 0, 0, 0, 0, 1]),
        )
        .unwrap();
    publisher.send_media(MediaKind::Video, 40, &frame).unwrap();
    let mut got = Vec::new();
    while got.len() < 2 {
        match player.next_event(STEP).expect("player events") {
            Some(ClientEvent::Media { payload, .. }) => got.push(payload),
            Some(_) => {}
            None => panic!("no media over rtmps"),
        }
    }
    assert_eq!(got[1], frame);

    // The certificate names `localhost`, not 127.0.0.1.
    let wrong_name = Publisher::connect_url(&url("127.0.0.1", port, "w", Some(&ca), false), STEP);
    let reason = tls_reason(wrong_name.err().expect("wrong host name accepted"));
    assert!(
        reason.to_lowercase().contains("not valid for name"),
        "{reason}"
    );
    // Not signed by a root the client knows.
    let unknown = Publisher::connect_url(&url("localhost", port, "u", None, false), STEP);
    let reason = tls_reason(unknown.err().expect("unknown CA accepted"));
    assert!(reason.to_lowercase().contains("unknown"), "{reason}");
    // --insecure accepts it anyway.
    Publisher::connect_url(&url("127.0.0.1", port, "i", None, true), STEP)
        .expect("--insecure connects");
}

#[test]
fn rtmp_client_tool_refuses_an_unknown_ca_and_accepts_it_with_insecure() {
    let dir = TempDir::new("client-tls-cli");
    let (ca, cert, key) = test_pki(dir.path());
    let (_server, tls_addr) = ServerProcess::start_tls(&cert, &key, &[]);
    let port = tls_addr.port();
    let _publisher =
        Publisher::connect_url(&url("localhost", port, "cli", Some(&ca), false), STEP).unwrap();
    let out = dir.path().join("out.flv");
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_rtmp-client"))
            .args(extra)
            .args(["play", &format!("rtmps://localhost:{port}/live/cli")])
            .arg(&out)
            .args(["--duration", "1"])
            .output()
            .expect("run rtmp-client")
    };
    let refused = run(&[]);
    let msg = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(
        refused.status.code(),
        Some(4),
        "exit code of a TLS failure: {msg}"
    );
    assert!(msg.contains("TLS failed"), "{msg}");
    assert!(run(&["--insecure"]).status.success());
    assert!(run(&["--ca-file", ca.to_str().unwrap()]).status.success());
}
