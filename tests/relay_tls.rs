//! Pull and push over RTMPS: an edge pulls from an origin's RTMPS listener,
//! and a server pushes to another's RTMPS listener (`tls_verify = false`
//! for the test certificate); players get every frame.

mod common;

use std::time::Duration;

use common::relay::{send_frames, video_numbers};
use common::rtmp::{avc_seq_header, TestClient};
use common::{ServerProcess, TempDir};
use rtmp_edge::proto::session::MediaKind;

/// A server on the test PKI's certificate, and one configured by `table`
/// (the `[apps.live]` lines) with `tls_verify = false`.
fn pair(
    dir: &TempDir,
    table: impl Fn(std::net::SocketAddr) -> String,
) -> (ServerProcess, std::net::SocketAddr, ServerProcess) {
    let (_, cert, key) = common::pki::test_pki(dir.path());
    let (tls_server, tls_addr) = ServerProcess::start_tls(&cert, &key, &[]);
    let file = dir.path().join("relay.toml");
    std::fs::write(
        &file,
        format!("[apps.live]\ntls_verify = false\n{}", table(tls_addr)),
    )
    .unwrap();
    let other = ServerProcess::start(&["--config", file.to_str().unwrap()]);
    (tls_server, tls_addr, other)
}

#[test]
fn an_edge_pulls_over_rtmps() {
    let dir = TempDir::new("pull-tls");
    let (origin, _, edge) = pair(&dir, |a| format!("pull = [\"rtmps://{a}/live\"]\n"));
    let mut publisher = TestClient::publish(origin.addr, "live", "t");
    publisher.send_media(MediaKind::Video, 0, &avc_seq_header());
    send_frames(&mut publisher, 0, 25);
    let mut player = TestClient::play(edge.addr, "live", "t");
    let mut got = video_numbers(&player.collect_media(26, Duration::from_secs(10)));
    send_frames(&mut publisher, 25, 75);
    got.extend(video_numbers(
        &player.collect_media(50, Duration::from_secs(10)),
    ));
    assert_eq!(got, (0..75).collect::<Vec<u32>>(), "{}", edge.log_text());
    assert!(origin.log_text().contains("play start live/t"));
}

#[test]
fn a_server_pushes_over_rtmps() {
    let dir = TempDir::new("push-tls");
    let (target, _, source) = pair(&dir, |a| {
        format!("push = [\"rtmps://{a}/live/{{name}}\"]\n")
    });
    let mut publisher = TestClient::publish(source.addr, "live", "p");
    publisher.send_media(MediaKind::Video, 0, &avc_seq_header());
    send_frames(&mut publisher, 0, 25);
    assert!(
        source.wait_log(Duration::from_secs(10), |l| l
            .contains("push live/p #0: publishing")),
        "{}",
        source.log_text()
    );
    let mut player = TestClient::play(target.addr, "live", "p");
    let mut got = video_numbers(&player.collect_media(26, Duration::from_secs(10)));
    send_frames(&mut publisher, 25, 75);
    got.extend(video_numbers(
        &player.collect_media(50, Duration::from_secs(10)),
    ));
    assert_eq!(got, (0..75).collect::<Vec<u32>>(), "{}", target.log_text());
}
