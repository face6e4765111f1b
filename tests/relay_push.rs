//! Push / restream over loopback: a stream published to ours is re-published
//! to nginx-rtmp and to a second of ours, whose players decode it; a target
//! that goes away for 3 s is reconnected and its player gets frames again
//! while a local player loses nothing; a target that refuses is retried with
//! one log line per attempt.

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use common::nginx::Nginx;
use common::relay::{live_server, toml_list, video_numbers};
use common::rtmp::{avc_frame, avc_seq_header, TestClient};
use common::{ffmpeg_publish, have_tool, probe_streams, wait_child, ServerProcess, TempDir};
use rtmp_edge::proto::session::MediaKind;

/// A server whose `live` application pushes to `targets`.
fn pusher(dir: &TempDir, targets: &[String]) -> ServerProcess {
    live_server(dir, "push", &format!("push = {}\n", toml_list(targets)))
}

fn target(addr: SocketAddr) -> String {
    format!("rtmp://{addr}/live/{{name}}")
}

#[test]
fn ffmpeg_stream_pushed_to_nginx_and_to_ours_decodes_on_both() {
    if !have_tool("ffmpeg") || !have_tool("ffprobe") {
        return;
    }
    let Some(nginx) = Nginx::start("push-target") else {
        return;
    };
    let dir = TempDir::new("push-both");
    let second = ServerProcess::start(&[]);
    let nginx_target = format!("rtmp://127.0.0.1:{}/live/{{name}}", nginx.port);
    let first = pusher(&dir, &[nginx_target, target(second.addr)]);
    let mut publisher = ffmpeg_publish(&first.url("live/cam"), 12);
    assert!(
        first.wait_log(Duration::from_secs(20), |l| l
            .matches("publishing (")
            .count()
            >= 2),
        "both targets publishing:\n{}",
        first.log_text()
    );
    let outs = [dir.path().join("nginx.flv"), dir.path().join("ours.flv")];
    let mut players: Vec<_> = [nginx.url("cam"), second.url("live/cam")]
        .iter()
        .zip(&outs)
        .map(|(url, out)| {
            Command::new("ffmpeg")
                .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-i", url])
                .args(["-t", "5", "-c", "copy", "-f", "flv", "-y"])
                .arg(out)
                .spawn()
                .expect("spawn ffmpeg player")
        })
        .collect();
    for p in &mut players {
        assert!(wait_child(p, Duration::from_secs(30)).is_some_and(|s| s.success()));
    }
    for out in &outs {
        let streams = probe_streams(out);
        assert!(
            common::frames_of(&streams, "h264") >= 75,
            "{out:?}: {streams:?}"
        );
        assert!(
            common::frames_of(&streams, "aac") > 0,
            "{out:?}: {streams:?}"
        );
        let errors = common::decode_errors(out);
        assert!(errors.trim().is_empty(), "{out:?}: {errors}");
    }
    let _ = publisher.kill();
    let _ = publisher.wait();
}

#[test]
fn a_target_that_goes_away_is_reconnected_and_local_players_lose_nothing() {
    let dir = TempDir::new("push-return");
    let mut second = ServerProcess::start(&[]);
    let addr = second.addr;
    let first = pusher(&dir, &[target(addr)]);
    let mut publisher = TestClient::publish(first.addr, "live", "r");
    let mut local = TestClient::play(first.addr, "live", "r");
    publisher.send_media(MediaKind::Video, 0, &avc_seq_header());
    let mut sent = 0u32;
    let send = |p: &mut TestClient, sent: &mut u32, n: u32| {
        for _ in 0..n {
            let k = *sent;
            p.send_media(
                MediaKind::Video,
                k * 40,
                &avc_frame(k.is_multiple_of(25), k, 400),
            );
            *sent += 1;
        }
        p.flush();
    };
    send(&mut publisher, &mut sent, 25);
    assert!(first.wait_log(Duration::from_secs(10), |l| l
        .contains("push live/r #0: publishing")));
    let mut remote = TestClient::play(addr, "live", "r");
    send(&mut publisher, &mut sent, 25);
    assert!(!video_numbers(&remote.collect_media(20, Duration::from_secs(10))).is_empty());
    // The target dies for 3 s, then comes back on the same port.
    assert!(second.terminate(Duration::from_secs(5)).is_some());
    for _ in 0..6 {
        send(&mut publisher, &mut sent, 12);
        std::thread::sleep(Duration::from_millis(500));
    }
    let second = ServerProcess::start_at(&addr.to_string(), &[]);
    let mut remote = TestClient::play(second.addr, "live", "r");
    let from = sent;
    for _ in 0..10 {
        send(&mut publisher, &mut sent, 25);
        std::thread::sleep(Duration::from_millis(300));
    }
    let got = video_numbers(&remote.collect_media(50, Duration::from_secs(15)));
    assert!(
        got.iter().any(|&n| n >= from),
        "no frame after the target's return: {got:?}\n{}",
        first.log_text()
    );
    assert!(first.log_text().contains("push live/r #0: target closed"));
    // The local player got every frame, in order.
    let all = video_numbers(&local.collect_media(sent as usize + 1, Duration::from_secs(10)));
    assert_eq!(all, (0..sent).collect::<Vec<u32>>());
}

#[test]
fn a_refusing_target_is_retried_with_one_line_per_attempt() {
    let dir = TempDir::new("push-refused");
    let keys = dir.path().join("keys.toml");
    std::fs::write(&keys, "[apps.live]\npublish_keys = [\"secret\"]\n").unwrap();
    let second = ServerProcess::start(&["--config", keys.to_str().unwrap()]);
    let first = pusher(&dir, &[target(second.addr)]);
    let mut publisher = TestClient::publish(first.addr, "live", "k");
    publisher.send_media(MediaKind::Video, 0, &avc_seq_header());
    publisher.flush();
    let refused = "push live/k #0: target ended: it answered NetStream.Publish.Denied";
    assert!(
        first.wait_log(Duration::from_secs(10), |l| l.matches(refused).count() >= 2),
        "{}",
        first.log_text()
    );
    // The local stream is unaffected.
    let mut local = TestClient::play(first.addr, "live", "k");
    assert!(!local.collect_media(1, Duration::from_secs(5)).is_empty());
}
