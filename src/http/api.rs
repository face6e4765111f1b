//! The JSON API: plain snapshot structs the endpoint fills, and their
//! rendering.
//!
//! # Contract
//!
//! * The endpoint builds one [`ServerSnapshot`] when an API, status or
//!   metrics request arrives (never per frame) and hands it to
//!   [`api_response`] (JSON routes) or [`super::metrics::render`]. The
//!   structs hold values only: no references into the endpoint, no clock.
//! * Maps keyed by a reason or role ([`ServerSnapshot::rejected_total`],
//!   [`ServerSnapshot::connections`]) should carry every key the endpoint
//!   knows, zeros included, so a series never appears and disappears.
//! * JSON shapes: `GET /api/v1/streams` → `{"streams": [StreamSnapshot…]}`;
//!   `GET /api/v1/streams/{app}/{name}` → one `StreamSnapshot`;
//!   `GET /api/v1/clients` → `{"clients": [ClientSnapshot…]}`;
//!   `GET /api/v1/clients/{id}` → one `ClientSnapshot` (with the E-RTMP
//!   capabilities its connect announced, `ertmp`);
//!   `POST /api/v1/reconnect` → the endpoint's `ReconnectSummary`. Absent optional
//!   parts (no publisher yet, no audio, not recording) are `null`, so the
//!   shape is fixed. Field names are snake_case with their unit as suffix.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::Serialize;

use super::response::{error_response, full_response, APPLICATION_JSON};
use super::route::Route;

/// Everything the API, the status page and `/metrics` show.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ServerSnapshot {
    /// Crate version (`CARGO_PKG_VERSION`).
    pub version: String,
    pub uptime_s: u64,
    /// Connections accepted since start (RTMP and HTTP).
    pub accepted_total: u64,
    /// Connections refused since start, by reason (`max_connections`,
    /// `per_ip`, `denied`, ...).
    pub rejected_total: BTreeMap<String, u64>,
    /// Open connections by role (`handshake`, `publisher`, `player`,
    /// `http_flv`, `http`, ...).
    pub connections: BTreeMap<String, u64>,
    pub viewers_evicted_total: u64,
    pub recordings_active: u64,
    pub recorded_bytes_total: u64,
    /// Relay reconnect attempts since start, pull and push.
    pub relay_reconnects_total: u64,
    pub streams: Vec<StreamSnapshot>,
    pub clients: Vec<ClientSnapshot>,
}

/// One live stream.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StreamSnapshot {
    pub app: String,
    pub name: String,
    pub uptime_s: u64,
    pub publisher: Option<PublisherSnapshot>,
    pub video: Option<VideoSnapshot>,
    pub audio: Option<AudioSnapshot>,
    /// Number of media tracks (1 per legacy audio/video, more with
    /// E-RTMP multitrack).
    pub tracks: u32,
    pub viewers: ViewerCounts,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Kilobits per second over the last 30 s.
    pub kbps_in: f64,
    pub kbps_out: f64,
    pub frames_in: u64,
    pub frames_dropped: u64,
    pub viewers_evicted: u64,
    /// Bytes held by the late-join cache (metadata, headers, GOP).
    pub gop_bytes: u64,
    pub recording: Option<RecordingSnapshot>,
    /// The stream's pull upstream and push targets.
    pub relays: Vec<RelaySnapshot>,
}

/// A pull upstream or a push target of a stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RelaySnapshot {
    /// `pull` or `push`.
    pub direction: String,
    /// The target's position in the application's `push` list (0 for pull).
    pub target: u32,
    /// The origin or target URL (secret query values redacted).
    pub url: String,
    /// Connected and streaming.
    pub up: bool,
    /// Server uptime (s) when it last connected.
    pub connected_since_s: Option<u64>,
    pub reconnects: u64,
    /// Bytes received (pull) or sent (push) on the current connection.
    pub bytes: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PublisherSnapshot {
    pub id: u64,
    pub addr: String,
    /// The encoder's `flashVer` from `connect`.
    pub flash_ver: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct VideoSnapshot {
    /// Short name ("H.264") as [`crate::proto::flv::codec_name`] gives it.
    pub codec: String,
    /// FourCC (`avc1`, `hvc1`, ...) when known.
    pub fourcc: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub fps: Option<f64>,
    /// Profile and level, e.g. "High 3.0".
    pub profile: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AudioSnapshot {
    pub codec: String,
    pub sample_rate: Option<u32>,
    pub channels: Option<u8>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ViewerCounts {
    pub rtmp: u64,
    pub http_flv: u64,
}

impl ViewerCounts {
    pub fn total(&self) -> u64 {
        self.rtmp + self.http_flv
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RecordingSnapshot {
    pub path: String,
    pub bytes: u64,
}

/// One open connection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ClientSnapshot {
    pub id: u64,
    pub addr: String,
    /// `handshake`, `publisher`, `player`, `http_flv`, `http`, ...
    pub role: String,
    pub app: Option<String>,
    pub name: Option<String>,
    /// Server uptime (s) when the client connected; its age is
    /// `uptime_s - connected_since_s` (the endpoint has no wall clock).
    pub connected_since_s: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub queued_bytes: u64,
    pub dropped_frames: u64,
    /// The E-RTMP capabilities its `connect` announced (`null` for a
    /// legacy client and for HTTP and relay connections).
    pub ertmp: Option<EnhancedCapsSnapshot>,
    /// A reconnect request (`POST /api/v1/reconnect`, SIGUSR1) was sent.
    pub reconnect_requested: bool,
}

/// A client's E-RTMP `connect` properties; a property it did not send is
/// `null`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EnhancedCapsSnapshot {
    pub four_cc_list: Option<Vec<String>>,
    /// FourCC (or `*`) → flags: 1 CanDecode, 2 CanEncode, 4 CanForward.
    pub video_four_cc_info_map: Option<BTreeMap<String, u32>>,
    pub audio_four_cc_info_map: Option<BTreeMap<String, u32>>,
    /// 1 Reconnect, 2 Multitrack, 4 ModEx, 8 TimestampNanoOffset.
    pub caps_ex: Option<u32>,
}

impl ServerSnapshot {
    /// The stream `app/name`, if live.
    pub fn stream(&self, app: &str, name: &str) -> Option<&StreamSnapshot> {
        self.streams.iter().find(|s| s.app == app && s.name == name)
    }

    /// The client with this id, if open.
    pub fn client(&self, id: u64) -> Option<&ClientSnapshot> {
        self.clients.iter().find(|c| c.id == id)
    }
}

#[derive(Serialize)]
struct StreamList<'a> {
    streams: &'a [StreamSnapshot],
}

#[derive(Serialize)]
struct ClientList<'a> {
    clients: &'a [ClientSnapshot],
}

/// `{"streams": [...]}`.
pub fn streams_json(snap: &ServerSnapshot) -> Vec<u8> {
    to_json(&StreamList {
        streams: &snap.streams,
    })
}

/// `{"clients": [...]}`.
pub fn clients_json(snap: &ServerSnapshot) -> Vec<u8> {
    to_json(&ClientList {
        clients: &snap.clients,
    })
}

/// Any snapshot part as JSON.
pub fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising these plain structs (string keys, finite or null
    // numbers) cannot fail; an empty object is the safe fallback.
    serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec())
}

/// The whole answer to a GET/HEAD on a JSON route (`Streams`, `Stream`,
/// `Clients`, `Client`): 200 with the JSON, or 404 when the stream or
/// client is gone. `None` for any other route.
pub fn api_response(
    route: &Route,
    snap: &ServerSnapshot,
    keep_alive: bool,
    head_only: bool,
) -> Option<Bytes> {
    let body = match route {
        Route::Streams => Some(streams_json(snap)),
        Route::Stream { app, name } => snap.stream(app, name).map(to_json),
        Route::Clients => Some(clients_json(snap)),
        Route::Client(id) => snap.client(*id).map(to_json),
        _ => return None,
    };
    Some(match body {
        Some(body) => full_response(200, APPLICATION_JSON, &body, keep_alive, head_only),
        None => error_response(404, None, head_only),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::example::example_snapshot as sample;
    use serde_json::Value;

    fn json_of(r: &Bytes) -> Value {
        let text = std::str::from_utf8(r).unwrap();
        let body = text.split_once("\r\n\r\n").unwrap().1;
        serde_json::from_str(body).unwrap()
    }

    #[test]
    fn stream_json_has_every_field() {
        let snap = sample();
        let v: Value = serde_json::from_slice(&streams_json(&snap)).unwrap();
        let s = &v["streams"][0];
        for key in [
            "app",
            "name",
            "uptime_s",
            "publisher",
            "video",
            "audio",
            "tracks",
            "viewers",
            "bytes_in",
            "bytes_out",
            "kbps_in",
            "kbps_out",
            "frames_in",
            "frames_dropped",
            "viewers_evicted",
            "gop_bytes",
            "recording",
        ] {
            assert!(s.get(key).is_some(), "missing {key}");
        }
        assert_eq!(s["video"]["width"], 640);
        assert_eq!(s["video"]["codec"], "H.264");
        assert_eq!(s["audio"]["sample_rate"], 44100);
        assert_eq!(s["viewers"]["http_flv"], 1);
        assert_eq!(
            s["publisher"]["flash_ver"],
            snap.streams[0]
                .publisher
                .as_ref()
                .unwrap()
                .flash_ver
                .as_deref()
                .unwrap()
        );
        assert_eq!(s["recording"]["bytes"], 900_000);
        let odd = &v["streams"][2];
        assert!(odd["publisher"].is_null() && odd["recording"].is_null());
        assert_eq!(odd["name"], "line\nbreak é");
    }

    #[test]
    fn routes_answer() {
        let snap = sample();
        let r = api_response(&Route::Streams, &snap, true, false).unwrap();
        assert_eq!(json_of(&r)["streams"].as_array().unwrap().len(), 3);
        let route = Route::Stream {
            app: "live".into(),
            name: "cam".into(),
        };
        let r = api_response(&route, &snap, true, false).unwrap();
        assert_eq!(json_of(&r)["video"]["height"], 360);
        let r = api_response(&Route::Clients, &snap, true, false).unwrap();
        let clients = json_of(&r);
        assert_eq!(clients["clients"][2]["role"], "http_flv");
        assert_eq!(clients["clients"][2]["connected_since_s"], 3);
        let r = api_response(&Route::Client(7), &snap, true, false).unwrap();
        assert_eq!(json_of(&r)["id"], 7);
        let r = api_response(&Route::Client(8), &snap, true, false).unwrap();
        assert!(r.starts_with(b"HTTP/1.1 404 "));
        let missing = Route::Stream {
            app: "live".into(),
            name: "nope".into(),
        };
        let r = api_response(&missing, &snap, true, false).unwrap();
        assert!(r.starts_with(b"HTTP/1.1 404 "));
        assert!(api_response(&Route::Metrics, &snap, true, false).is_none());
        let head = api_response(&Route::Streams, &snap, true, true).unwrap();
        assert!(head.ends_with(b"\r\n\r\n"));
    }

    #[test]
    fn viewer_total() {
        let v = ViewerCounts {
            rtmp: 2,
            http_flv: 3,
        };
        assert_eq!(v.total(), 5);
    }
}
