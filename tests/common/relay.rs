//! Helpers of the relay tests: servers configured by an `[apps.live]` table,
//! numbered video frames and the numbers a player got.

use std::net::SocketAddr;

use bytes::Bytes;

use super::rtmp::{avc_frame, avc_seq_header, frame_number, TestClient};
use super::{ServerProcess, TempDir};
use rtmp_edge::proto::session::MediaKind;

/// A server whose `[apps.live]` table holds `table` (TOML lines), written to
/// `dir/{tag}.toml`.
pub fn live_server(dir: &TempDir, tag: &str, table: &str) -> ServerProcess {
    let file = dir.path().join(format!("{tag}.toml"));
    std::fs::write(&file, format!("[apps.live]\n{table}")).unwrap();
    ServerProcess::start(&["--config", file.to_str().unwrap()])
}

/// `["a", "b"]` as a TOML array.
pub fn toml_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("{i:?}")).collect();
    format!("[{}]", quoted.join(", "))
}

/// `rtmp://ADDR/live`.
pub fn origin_url(addr: SocketAddr) -> String {
    format!("rtmp://{addr}/live")
}

/// A publisher of `live/NAME` that has sent its video sequence header.
pub fn numbered_publisher(addr: SocketAddr, name: &str) -> TestClient {
    let mut p = TestClient::publish(addr, "live", name);
    p.send_media(MediaKind::Video, 0, &avc_seq_header());
    p
}

/// Numbered 25 fps video frames `from..to` (a keyframe every 25).
pub fn send_frames(p: &mut TestClient, from: u32, to: u32) {
    for n in from..to {
        let key = n.is_multiple_of(25);
        p.send_media(MediaKind::Video, n * 40, &avc_frame(key, n, 500));
    }
    p.flush();
}

/// The numbers of the video frames (not sequence headers) in `media`.
pub fn video_numbers(media: &[(MediaKind, u32, Bytes)]) -> Vec<u32> {
    media
        .iter()
        .filter(|m| m.0 == MediaKind::Video && m.2.get(1) == Some(&1))
        .filter_map(|m| frame_number(MediaKind::Video, &m.2))
        .collect()
}
