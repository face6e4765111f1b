//! Publish → play over loopback sockets against the server binary.

mod common;

use std::time::Duration;

use common::rtmp::{
    aac_frame, aac_seq_header, avc_frame, avc_seq_header, frame_number, TestClient,
};
use common::ServerProcess;
use rtmp_edge::proto::session::MediaKind;

#[test]
fn publish_then_play_receives_every_frame_in_order() {
    let server = ServerProcess::start(&[]);
    let mut publisher = TestClient::publish(server.addr, "live", "one");
    let mut player = TestClient::play(server.addr, "live", "one");
    publisher.send_media(MediaKind::Video, 0, &avc_seq_header());
    publisher.send_media(MediaKind::Audio, 0, &aac_seq_header());
    let frames = 100u32;
    for n in 0..frames {
        publisher.send_media(MediaKind::Video, n * 40, &avc_frame(n % 25 == 0, n, 2000));
        publisher.send_media(MediaKind::Audio, n * 40, &aac_frame(n));
    }
    let got = player.collect_media(2 + 2 * frames as usize, Duration::from_secs(10));
    assert_eq!(
        got.len(),
        2 + 2 * frames as usize,
        "player got {} messages",
        got.len()
    );
    assert_eq!(got[0].2, avc_seq_header());
    assert_eq!(got[1].2, aac_seq_header());
    let video: Vec<u32> = got[2..]
        .iter()
        .filter(|m| m.0 == MediaKind::Video)
        .map(|m| frame_number(m.0, &m.2).unwrap())
        .collect();
    assert_eq!(video, (0..frames).collect::<Vec<_>>());
    let mut last = 0;
    for m in &got {
        assert!(
            m.1 >= last,
            "timestamps go backwards: {} after {}",
            m.1,
            last
        );
        last = m.1;
    }
}
