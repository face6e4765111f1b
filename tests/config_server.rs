//! The server started with `--config FILE`: per-application settings reach
//! the streams through the real driver.

mod common;

use std::time::Duration;

use common::rtmp::{aac_frame, aac_seq_header, avc_frame, avc_seq_header, TestClient};
use common::{wait_until, ServerProcess, TempDir};
use rtmp_edge::proto::session::MediaKind;

fn publish_a_gop(server: &ServerProcess, app: &str, name: &str) {
    let mut publisher = TestClient::publish(server.addr, app, name);
    publisher.send_media(MediaKind::Video, 0, &avc_seq_header());
    publisher.send_media(MediaKind::Audio, 0, &aac_seq_header());
    for n in 0..5 {
        publisher.send_media(MediaKind::Video, n * 40, &avc_frame(n == 0, n, 300));
        publisher.send_media(MediaKind::Audio, n * 40, &aac_frame(n));
    }
    publisher.finish();
}

#[test]
fn only_the_application_whose_table_says_record_is_recorded() {
    let root = TempDir::new("cfg-apps");
    let rec_dir = root.path().join("rec");
    let file = root.path().join("server.toml");
    std::fs::write(
        &file,
        format!(
            "record_dir = {:?}\n[apps.\"*\"]\nrecord = false\n[apps.archive]\nrecord = true\n",
            rec_dir.to_str().unwrap()
        ),
    )
    .unwrap();
    let server = ServerProcess::start(&["--config", file.to_str().unwrap()]);
    publish_a_gop(&server, "live", "a");
    publish_a_gop(&server, "archive", "b");
    let names = || -> Vec<String> {
        std::fs::read_dir(&rec_dir)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    let log = server.log_text();
    assert!(
        wait_until(Duration::from_secs(10), || server
            .log_text()
            .matches("publish stop")
            .count()
            >= 2),
        "publishes did not end; log:\n{log}"
    );
    assert!(
        wait_until(Duration::from_secs(5), || !names().is_empty()),
        "nothing recorded; log:\n{}",
        server.log_text()
    );
    let files = names();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].starts_with("archive_b_"), "{files:?}");
    assert!(server.wait_log(Duration::from_secs(5), |l| l
        .contains("publish start archive/b (recording")));
    let log = server.log_text();
    assert!(!log.contains("publish start live/a (recording"), "{log}");
}

#[test]
fn a_taken_http_port_is_one_line_and_exit_2() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rtmp-server"))
        .args(["--listen", "127.0.0.1:0", "--http-listen", &addr])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].contains(&format!("cannot listen on {addr} (http_listen): "))
            && lines[0].contains("give http_listen (--http-listen) another address or \"off\""),
        "{stderr}"
    );
}

#[test]
fn two_servers_share_a_port_with_reuse_port() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let at = format!("127.0.0.1:{port}");
    let a = ServerProcess::start_at(&at, &["--reuse-port"]);
    let b = ServerProcess::start_at(&at, &["--reuse-port"]);
    assert_eq!((a.addr.port(), b.addr.port()), (port, port));
    // Without the option a third process cannot bind it.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rtmp-server"))
        .args(["--listen", &at, "--http-listen", "off"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("(listen)"));
    // The kernel spreads connections over both processes.
    let conns: Vec<std::net::TcpStream> = (0..16)
        .map(|_| std::net::TcpStream::connect(&at).unwrap())
        .collect();
    let served = |s: &ServerProcess| s.log_text().matches(" accepted").count();
    assert!(
        wait_until(Duration::from_secs(5), || served(&a) + served(&b)
            >= conns.len()),
        "a: {}, b: {}",
        served(&a),
        served(&b)
    );
    assert!(
        served(&a) > 0 && served(&b) > 0,
        "a: {}, b: {}",
        served(&a),
        served(&b)
    );
}
