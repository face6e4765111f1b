//! A realistic [`ServerSnapshot`] for tests, documentation and page
//! previews: one busy recorded stream, one quiet stream with no viewer and
//! no audio, one stream whose names need escaping (all zeros), and a client
//! per role. Never used by the server itself.

use super::api::{
    AudioSnapshot, ClientSnapshot, PublisherSnapshot, RecordingSnapshot, RelaySnapshot,
    ServerSnapshot, StreamSnapshot, VideoSnapshot, ViewerCounts,
};

fn busy_stream() -> StreamSnapshot {
    StreamSnapshot {
        app: "live".into(),
        name: "cam".into(),
        uptime_s: 61,
        publisher: Some(PublisherSnapshot {
            id: 1,
            addr: "127.0.0.1:50001".into(),
            flash_ver: Some("FMLE/3.0 (compatible; Lavf61.7.100)".into()),
        }),
        video: Some(VideoSnapshot {
            codec: "H.264".into(),
            fourcc: Some("avc1".into()),
            width: Some(640),
            height: Some(360),
            fps: Some(25.0),
            profile: Some("High 3.0".into()),
        }),
        audio: Some(AudioSnapshot {
            codec: "AAC".into(),
            sample_rate: Some(44100),
            channels: Some(2),
        }),
        tracks: 2,
        viewers: ViewerCounts {
            rtmp: 2,
            http_flv: 1,
        },
        bytes_in: 1_000_000,
        bytes_out: 3_000_000,
        kbps_in: 130.5,
        kbps_out: 391.5,
        frames_in: 4000,
        frames_dropped: 3,
        viewers_evicted: 1,
        gop_bytes: 65536,
        recording: Some(RecordingSnapshot {
            path: "recordings/live/cam-1.flv".into(),
            bytes: 900_000,
        }),
        relays: vec![RelaySnapshot {
            direction: "push".into(),
            target: 0,
            url: "rtmp://ingest.example/live/cam?key=***".into(),
            up: true,
            connected_since_s: Some(4),
            reconnects: 1,
            bytes: 2_000_000,
        }],
    }
}

/// See the module docs.
pub fn example_snapshot() -> ServerSnapshot {
    let busy = busy_stream();
    let quiet = StreamSnapshot {
        name: "quiet".into(),
        audio: None,
        tracks: 1,
        viewers: ViewerCounts::default(),
        bytes_out: 0,
        kbps_out: 0.0,
        recording: None,
        relays: Vec::new(),
        ..busy.clone()
    };
    let odd = StreamSnapshot {
        app: "we\"ird\\app".into(),
        name: "line\nbreak é".into(),
        ..StreamSnapshot::default()
    };
    let client = |id: u64, role: &str| ClientSnapshot {
        id,
        addr: format!("127.0.0.1:{}", 50000 + id),
        role: role.into(),
        app: Some("live".into()),
        name: Some("cam".into()),
        connected_since_s: 3,
        bytes_in: 10 * id,
        bytes_out: 20 * id,
        queued_bytes: 4096,
        dropped_frames: id - 1,
        ertmp: None,
        reconnect_requested: false,
    };
    let counts = |pairs: &[(&str, u64)]| pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    ServerSnapshot {
        version: env!("CARGO_PKG_VERSION").into(),
        uptime_s: 64,
        accepted_total: 9,
        rejected_total: counts(&[("max_connections", 0), ("per_ip", 0), ("denied", 2)]),
        connections: counts(&[
            ("handshake", 0),
            ("publisher", 2),
            ("player", 2),
            ("http_flv", 1),
            ("http", 1),
        ]),
        viewers_evicted_total: 1,
        recordings_active: 1,
        recorded_bytes_total: 900_000,
        relay_reconnects_total: 1,
        streams: vec![busy, quiet, odd],
        clients: vec![
            client(1, "publisher"),
            client(2, "player"),
            client(7, "http_flv"),
        ],
    }
}
