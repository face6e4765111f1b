//! What the API, the status page and `/metrics` show: server counters, a
//! little per-stream state beside the stream table, and the
//! [`ServerSnapshot`] built from them when a request asks (never per frame).

use std::collections::BTreeMap;
use std::rc::Rc;

use crate::http::api::{
    ClientSnapshot, EnhancedCapsSnapshot, PublisherSnapshot, ServerSnapshot, StreamSnapshot,
    ViewerCounts,
};
use crate::http::media::{audio_snapshot, video_snapshot};
use crate::http::rate::RateMeter;
use crate::proto::amf0::{self, Amf0Limits};
use crate::proto::command::EnhancedCaps;

use super::conn::{Conn, Protocol, Role};
use super::http::REJECT_REASONS;
use super::{ConnId, Endpoint};

/// Server-wide counters since start.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub accepted: u64,
    pub rejected: BTreeMap<&'static str, u64>,
    pub evicted: u64,
    pub relay_reconnects: u64,
}

/// One live stream, beside its stream-table entry.
#[derive(Debug)]
pub(super) struct StreamInfo {
    publisher: ConnId,
    started_ms: u64,
    /// Bytes sent to and frames dropped for viewers that have left.
    departed_bytes_out: u64,
    departed_dropped: u64,
    evicted: u64,
    rate_in: RateMeter,
    rate_out: RateMeter,
}

/// Connection roles as the API and metrics name them (every one is listed,
/// zeros included).
const ROLES: [&str; 8] = [
    "handshake",
    "connecting",
    "publisher",
    "player",
    "http_flv",
    "http",
    "pull",
    "push",
];

fn role_name(conn: &Conn) -> &'static str {
    match (&conn.proto, &conn.role) {
        (Protocol::Handshake(_), _) => "handshake",
        (Protocol::Relay(r), _) if r.push.is_some() => "push",
        (Protocol::Relay(_), _) => "pull",
        (Protocol::Http(_), Role::Player(_)) => "http_flv",
        (Protocol::Http(_), _) => "http",
        (_, Role::Publisher(_)) => "publisher",
        (_, Role::Player(_)) => "player",
        _ => "connecting",
    }
}

/// The frame rate an onMetaData body announces (`framerate` or `videoframerate`).
fn metadata_fps(body: &[u8]) -> Option<f64> {
    let values = amf0::decode_all(body, &Amf0Limits::default()).ok()?;
    let props = values.iter().find_map(|v| v.properties())?;
    props
        .iter()
        .find(|(k, _)| k == "framerate" || k == "videoframerate")
        .and_then(|(_, v)| v.as_number())
        .filter(|f| f.is_finite() && *f > 0.0)
}

impl Endpoint {
    /// A publisher started on `key`.
    pub(super) fn stream_started(&mut self, key: &Rc<str>, publisher: ConnId, now: u64) {
        let info = StreamInfo {
            publisher,
            started_ms: now,
            departed_bytes_out: 0,
            departed_dropped: 0,
            evicted: 0,
            rate_in: RateMeter::default(),
            rate_out: RateMeter::default(),
        };
        self.stream_info.insert(key.clone(), info);
    }

    /// `publisher` left `key` (its series go away).
    pub(super) fn stream_ended(&mut self, key: &str, publisher: ConnId) {
        if self
            .stream_info
            .get(key)
            .is_some_and(|i| i.publisher == publisher)
        {
            self.stream_info.remove(key);
        }
    }

    /// A viewer of `key` stops: keep what it was sent in the stream's totals.
    pub(super) fn viewer_left(&mut self, key: &str, id: ConnId, before: u64) {
        let Some(conn) = self.get(id) else { return };
        let bytes = conn.stats.bytes_out.saturating_sub(before);
        let dropped = conn.out.dropped_frames();
        let evicted = matches!(
            conn.life,
            super::Lifecycle::Closing(crate::error::CloseReason::SlowSubscriber)
        );
        if evicted {
            self.counters.evicted += 1;
        }
        if let Some(info) = self.stream_info.get_mut(key) {
            info.departed_bytes_out += bytes;
            info.departed_dropped += dropped;
            info.evicted += u64::from(evicted);
        }
    }

    /// Bytes sent so far to `key`'s viewers (present and departed) and
    /// frames dropped for them.
    fn stream_out(&self, key: &str, info: &StreamInfo) -> (u64, u64, ViewerCounts) {
        let mut bytes = info.departed_bytes_out;
        let mut dropped = info.departed_dropped;
        let mut viewers = ViewerCounts::default();
        for conn in self
            .streams
            .viewers(key)
            .iter()
            .filter_map(|&v| self.get(v))
        {
            let before = match &conn.role {
                Role::Player(p) => p.bytes_out_before,
                _ => 0,
            };
            bytes += conn.stats.bytes_out.saturating_sub(before);
            dropped += conn.out.dropped_frames();
            match conn.proto {
                Protocol::Http(_) => viewers.http_flv += 1,
                _ => viewers.rtmp += 1,
            }
        }
        (bytes, dropped, viewers)
    }

    /// Feed the per-stream rate meters (from the timer sweep).
    pub(super) fn sample_rates(&mut self, now: u64) {
        let totals: Vec<(Rc<str>, u64, u64)> = self
            .stream_info
            .iter()
            .map(|(key, info)| {
                let bytes_in = self.streams.stats_of(key).map_or(0, |s| s.bytes_in);
                (key.clone(), bytes_in, self.stream_out(key, info).0)
            })
            .collect();
        for (key, bytes_in, bytes_out) in totals {
            if let Some(info) = self.stream_info.get_mut(&key) {
                info.rate_in.record(now, bytes_in);
                info.rate_out.record(now, bytes_out);
            }
        }
    }

    /// Everything the API and `/metrics` show, now.
    pub fn snapshot(&self, now: u64) -> ServerSnapshot {
        let mut connections: BTreeMap<String, u64> =
            ROLES.iter().map(|r| (r.to_string(), 0)).collect();
        let mut clients = Vec::with_capacity(self.open);
        let mut recordings_active = 0;
        for conn in self.conns.iter().flatten().filter(|c| c.is_open()) {
            let role = role_name(conn);
            *connections.entry(role.to_string()).or_insert(0) += 1;
            let (app, name) = match &conn.role {
                Role::Publisher(p) => {
                    recordings_active += u64::from(p.recording.is_some());
                    split_key(&p.key)
                }
                Role::Player(p) => split_key(&p.key),
                _ => (None, None),
            };
            clients.push(ClientSnapshot {
                id: u64::from(conn.id.generation),
                addr: conn.peer.to_string(),
                role: role.to_string(),
                app,
                name,
                connected_since_s: conn.accepted_ms / 1000,
                bytes_in: conn.stats.bytes_in,
                bytes_out: conn.stats.bytes_out,
                queued_bytes: conn.out.queued_bytes() as u64,
                dropped_frames: conn.out.dropped_frames(),
                ertmp: conn.connect.as_ref().and_then(|c| caps_snapshot(&c.caps)),
                reconnect_requested: conn.reconnect_requested,
            });
        }
        clients.sort_by_key(|c| c.id);
        let mut streams: Vec<StreamSnapshot> = self
            .stream_info
            .iter()
            .filter_map(|(key, info)| self.stream_snapshot(key, info, now))
            .collect();
        streams.sort_by(|a, b| (&a.app, &a.name).cmp(&(&b.app, &b.name)));
        let rejected_total = REJECT_REASONS
            .iter()
            .map(|r| {
                let n = self.counters.rejected.get(r).copied().unwrap_or(0);
                (r.to_string(), n)
            })
            .collect();
        ServerSnapshot {
            version: env!("CARGO_PKG_VERSION").to_string(),
            uptime_s: now / 1000,
            accepted_total: self.counters.accepted,
            rejected_total,
            connections,
            viewers_evicted_total: self.counters.evicted,
            recordings_active,
            relay_reconnects_total: self.counters.relay_reconnects,
            recorded_bytes_total: self.recorder.as_ref().map_or(0, |r| r.recorded_bytes()),
            streams,
            clients,
        }
    }

    fn stream_snapshot(&self, key: &str, info: &StreamInfo, now: u64) -> Option<StreamSnapshot> {
        let stats = self.streams.stats_of(key)?;
        let headers = self.streams.headers(key)?;
        let (app, name) = split_key(key);
        let (bytes_out, frames_dropped, viewers) = self.stream_out(key, info);
        let publisher = self.get(info.publisher);
        let fps_hint = headers.metadata.and_then(|m| metadata_fps(&m.payload));
        let recording = publisher.and_then(|c| match &c.role {
            Role::Publisher(p) => p.recording,
            _ => None,
        });
        Some(StreamSnapshot {
            app: app.unwrap_or_default(),
            name: name.unwrap_or_default(),
            uptime_s: now.saturating_sub(info.started_ms) / 1000,
            publisher: publisher.map(|c| PublisherSnapshot {
                id: u64::from(c.id.generation),
                addr: c.peer.to_string(),
                flash_ver: c
                    .connect
                    .as_ref()
                    .map(|i| i.flashver.clone())
                    .filter(|f| !f.is_empty()),
            }),
            video: headers
                .video
                .and_then(|f| video_snapshot(&f.payload, fps_hint)),
            audio: headers.audio.and_then(|f| audio_snapshot(&f.payload)),
            tracks: headers.tracks as u32,
            viewers,
            bytes_in: stats.bytes_in,
            bytes_out,
            kbps_in: info.rate_in.kbps(now, stats.bytes_in),
            kbps_out: info.rate_out.kbps(now, bytes_out),
            frames_in: stats.frames_in,
            frames_dropped,
            viewers_evicted: info.evicted,
            gop_bytes: stats.gop_bytes as u64,
            relays: self
                .pull_snapshot(key)
                .into_iter()
                .chain(self.push_snapshots(key))
                .collect(),
            recording: recording.and_then(|rec| {
                self.recorder
                    .as_ref()
                    .and_then(|r| r.status(rec))
                    .map(|(path, bytes)| crate::http::RecordingSnapshot { path, bytes })
            }),
        })
    }
}

/// What the API shows of a client's E-RTMP capabilities (`None` when it
/// announced none).
fn caps_snapshot(caps: &EnhancedCaps) -> Option<EnhancedCapsSnapshot> {
    if !caps.is_announced() {
        return None;
    }
    let map = |m: &Option<Vec<(String, u32)>>| m.as_ref().map(|m| m.iter().cloned().collect());
    Some(EnhancedCapsSnapshot {
        four_cc_list: caps.four_cc_list.clone(),
        video_four_cc_info_map: map(&caps.video_four_cc_info_map),
        audio_four_cc_info_map: map(&caps.audio_four_cc_info_map),
        caps_ex: caps.caps_ex,
    })
}

/// `app/name` → (app, name), with the `%2F` of an app's `/` restored.
pub(super) fn split_key(key: &str) -> (Option<String>, Option<String>) {
    match key.split_once('/') {
        Some((app, name)) => (Some(app.replace("%2F", "/")), Some(name.to_string())),
        None => (None, Some(key.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::amf0::Amf0Value;
    use bytes::BytesMut;

    #[test]
    fn fps_from_metadata() {
        let mut body = BytesMut::new();
        amf0::encode_all(
            &[
                Amf0Value::string("onMetaData"),
                Amf0Value::ecma_array([
                    ("width", Amf0Value::Number(640.0)),
                    ("framerate", Amf0Value::Number(30.0)),
                ]),
            ],
            &mut body,
        );
        assert_eq!(metadata_fps(&body), Some(30.0));
        assert_eq!(metadata_fps(b"junk"), None);
    }

    #[test]
    fn keys_split_back() {
        assert_eq!(
            split_key("a%2Fb/c"),
            (Some("a/b".to_string()), Some("c".to_string()))
        );
    }
}
