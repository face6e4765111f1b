//! Recording through the server: hostile stream names stay inside
//! `--record-dir`, and a publisher refused as a duplicate never creates,
//! truncates or writes a file.

mod common;

use std::time::Duration;

use common::rtmp::{aac_frame, aac_seq_header, avc_frame, avc_seq_header, TestClient};
use common::{files_below, wait_until, ServerProcess, TempDir};
use rtmp_edge::proto::client::ClientEvent;
use rtmp_edge::proto::session::MediaKind;

fn send_gop(publisher: &mut TestClient, first: u32) {
    publisher.send_media(MediaKind::Video, 0, &avc_seq_header());
    publisher.send_media(MediaKind::Audio, 0, &aac_seq_header());
    for n in 0..10 {
        publisher.send_media(MediaKind::Video, n * 40, &avc_frame(n == 0, first + n, 500));
        publisher.send_media(MediaKind::Audio, n * 40, &aac_frame(first + n));
    }
}

#[test]
fn hostile_stream_names_stay_inside_the_record_dir() {
    let root = TempDir::new("rec-names");
    let dir = root.path().join("a/b/rec");
    let server = ServerProcess::start(&["--record-all", "--record-dir", dir.to_str().unwrap()]);
    let long = "n".repeat(4096);
    let names = [
        "../../escape",
        "/abs/path",
        "a\\b",
        "x\u{0}y",
        "..",
        ".hidden",
        long.as_str(),
        "ok-name",
    ];
    for name in names {
        let mut publisher = TestClient::publish(server.addr, "live", name);
        send_gop(&mut publisher, 0);
        publisher.finish();
        drop(publisher);
    }
    let expected = names.len();
    assert!(
        wait_until(Duration::from_secs(5), || files_below(root.path()).len()
            >= expected),
        "files: {:?}\nlog:\n{}",
        files_below(root.path()),
        server.log_text()
    );
    let files = files_below(root.path());
    assert_eq!(files.len(), expected, "{files:?}");
    for f in &files {
        assert_eq!(
            f.parent().unwrap(),
            dir,
            "{} escaped the record dir",
            f.display()
        );
        let name = f
            .file_name()
            .unwrap()
            .to_str()
            .expect("file names are UTF-8");
        assert!(
            name.starts_with("live_") && name.ends_with(".flv"),
            "{name}"
        );
        assert!(name.len() <= 255, "file name too long: {}", name.len());
        assert!(!name.contains(['/', '\\', '\0']), "{name}");
    }
}

#[test]
fn duplicate_publisher_never_touches_a_file() {
    let root = TempDir::new("rec-dup");
    let dir = root.path().join("rec");
    let server = ServerProcess::start(&["--record-all", "--record-dir", dir.to_str().unwrap()]);
    let mut first = TestClient::publish(server.addr, "live", "dup");
    send_gop(&mut first, 0);
    assert!(wait_until(Duration::from_secs(3), || files_below(&dir)
        .len()
        == 1));
    let file = files_below(&dir).remove(0);
    let size_before = std::fs::metadata(&file).unwrap().len();

    let mut second = TestClient::connect(
        server.addr,
        "live",
        "dup",
        rtmp_edge::proto::client::ClientMode::Publish,
    );
    let refused = second.wait_for(
        Duration::from_secs(5),
        |e| matches!(e, ClientEvent::Error { code, .. } if code == "NetStream.Publish.BadName"),
    );
    assert!(refused.is_some(), "second publisher not refused");
    assert!(
        second.wait_closed(Duration::from_secs(3)),
        "refused publisher not closed"
    );
    assert_eq!(
        files_below(&dir).len(),
        1,
        "a refused publisher created a file"
    );

    // The first publisher carries on; its file grows and is finalized.
    send_gop(&mut first, 100);
    first.finish();
    drop(first);
    assert!(wait_until(Duration::from_secs(3), || {
        std::fs::metadata(&file)
            .map(|m| m.len() > size_before)
            .unwrap_or(false)
    }));
    assert_eq!(files_below(&dir).len(), 1);
}
