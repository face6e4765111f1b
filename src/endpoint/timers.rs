//! Deadlines, pings, slow viewers and the periodic statistics line.
//!
//! One sweep runs every [`SWEEP_INTERVAL_MS`] (from [`Endpoint::handle_timeout`]):
//! * a handshake not done `handshake_timeout_ms` after accept closes
//!   (`timeout in phase handshake`); connect + publish/play not done
//!   `command_timeout_ms` after accept closes (a connection that had a role
//!   is exempt);
//! * a publisher that sent no media for `publisher_timeout_ms` closes;
//! * a viewer continuously congested for `slow_subscriber_timeout_ms` closes
//!   as a slow subscriber;
//! * a peer silent for `ping_interval_ms` gets a PingRequest; one that stays
//!   silent past three intervals closes.

use std::collections::HashMap;

use log::info;

use crate::config::Config;
use crate::error::{CloseReason, Phase};
use crate::proto::flv;
use crate::proto::flv::tracks::{self, AvKind, Packet};
use crate::relay::frame::{Frame, TYPE_AUDIO, TYPE_VIDEO};

use super::conn::{Protocol, Role};
use super::{ConnId, Endpoint};

/// How often the deadline sweep runs.
pub const SWEEP_INTERVAL_MS: u64 = 100;

/// Rate limiter for warnings that can repeat during a flood: at most one
/// line per interval, with the count of suppressed ones.
#[derive(Debug, Default)]
pub struct WarnLimiter {
    last_ms: Option<u64>,
    suppressed: u64,
}

impl WarnLimiter {
    /// `Some(suppressed_count)` when a line may be logged now.
    pub fn allow(&mut self, now_ms: u64) -> Option<u64> {
        match self.last_ms {
            Some(t) if now_ms.saturating_sub(t) < 5_000 => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last_ms = Some(now_ms);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

/// When the sweeps and the statistics line are due.
#[derive(Debug)]
pub(super) struct Timers {
    next_sweep_ms: u64,
    next_rate_ms: u64,
    next_stats_ms: u64,
    last_stats_ms: u64,
    last_stream_bytes: HashMap<String, u64>,
}

impl Timers {
    pub(super) fn new(config: &Config) -> Timers {
        Timers {
            next_sweep_ms: 0,
            next_rate_ms: 0,
            next_stats_ms: config.stats_interval_ms,
            last_stats_ms: 0,
            last_stream_bytes: HashMap::new(),
        }
    }
}

impl Endpoint {
    /// Run what is due at `now`: the deadline sweep, the recorder's retries
    /// and the statistics line.
    pub fn handle_timeout(&mut self, now: u64) {
        if now >= self.timers.next_sweep_ms {
            self.timers.next_sweep_ms = now + SWEEP_INTERVAL_MS;
            if let Some(recorder) = self.recorder.as_mut() {
                recorder.tick();
            }
            self.poll_recordings();
            self.sweep(now);
            if now >= self.timers.next_rate_ms {
                self.timers.next_rate_ms = now + crate::http::rate::SAMPLE_EVERY_MS;
                self.sample_rates(now);
            }
        }
        if now >= self.timers.next_stats_ms {
            self.timers.next_stats_ms = now + self.config.stats_interval_ms;
            self.log_stats(now);
        }
    }

    /// When `handle_timeout` (or `poll_flush`) next has work, in the driver's
    /// milliseconds; 0 when it has work now.
    pub fn poll_timeout(&self) -> u64 {
        if !self.write_again.is_empty() {
            return 0;
        }
        let mut next = self.timers.next_sweep_ms.min(self.timers.next_stats_ms);
        if let Some(t) = self.deferred.iter().map(|d| d.0).min() {
            next = next.min(t);
        }
        next
    }

    fn sweep(&mut self, now: u64) {
        let cfg = &self.config;
        let mut expired: Vec<(ConnId, CloseReason)> = Vec::new();
        let mut pings: Vec<ConnId> = Vec::new();
        for conn in self.conns.iter_mut().flatten() {
            if !conn.is_open() {
                continue;
            }
            let age = now.saturating_sub(conn.accepted_ms);
            let phase = match (&conn.proto, &conn.role) {
                (Protocol::Handshake(_), _) if age > cfg.handshake_timeout_ms => {
                    Some(Phase::Handshake)
                }
                (Protocol::Rtmp(_), Role::New | Role::Waiting) if age > cfg.command_timeout_ms => {
                    Some(Phase::Commands)
                }
                (Protocol::Http(http), _) => Endpoint::http_deadline(http, now),
                (Protocol::Relay(r), Role::New) if age > relay_attempt_ms(&self.pulls, r, cfg) => {
                    Some(Phase::Commands)
                }
                (_, Role::Publisher(p))
                    if now.saturating_sub(p.last_media_ms) > cfg.publisher_timeout_ms =>
                {
                    Some(Phase::PublisherIdle)
                }
                _ => None,
            };
            if let Some(phase) = phase {
                expired.push((conn.id, CloseReason::Timeout(phase)));
                continue;
            }
            if let Some(since) = conn.out.congested_since() {
                if now.saturating_sub(since) > cfg.slow_subscriber_timeout_ms {
                    expired.push((conn.id, CloseReason::SlowSubscriber));
                    continue;
                }
            }
            if matches!(conn.proto, Protocol::Rtmp(_)) {
                let silent = now.saturating_sub(conn.last_recv_ms);
                match conn.ping_sent_ms {
                    Some(sent) if sent < conn.last_recv_ms => conn.ping_sent_ms = None,
                    Some(_) if silent > 3 * cfg.ping_interval_ms => {
                        expired.push((conn.id, CloseReason::Timeout(Phase::Ping)));
                    }
                    None if silent > cfg.ping_interval_ms => {
                        conn.ping_sent_ms = Some(now);
                        pings.push(conn.id);
                    }
                    _ => {}
                }
            }
        }
        for (id, reason) in expired {
            self.close(id, reason);
        }
        self.expire_hooks(now);
        self.sweep_pulls(now);
        self.sweep_pushes(now);
        for id in pings {
            self.with_session(id, now, |s, out| s.send_ping(now as u32, out));
        }
    }

    fn log_stats(&mut self, now: u64) {
        let elapsed_ms = now.saturating_sub(self.timers.last_stats_ms).max(1);
        self.timers.last_stats_ms = now;
        let mut seen = HashMap::with_capacity(self.streams.len());
        for (key, st) in self.streams.stats() {
            let prev = self.timers.last_stream_bytes.get(key).copied().unwrap_or(0);
            let kbps = st.bytes_in.saturating_sub(prev) * 8 / elapsed_ms;
            let dropped: u64 = self
                .streams
                .viewers(key)
                .iter()
                .filter_map(|&v| self.get(v))
                .map(|c| c.out.dropped_frames())
                .sum();
            let relays: String = self
                .pull_snapshot(key)
                .into_iter()
                .chain(self.push_snapshots(key))
                .map(|r| {
                    let state = if r.up { "up" } else { "down" };
                    format!(
                        ", {} {} {state} ({} reconnects, {} B)",
                        r.direction, r.url, r.reconnects, r.bytes
                    )
                })
                .collect();
            info!(
                "stream {key}: {} kbit/s in, {} viewers, {} frames dropped, {} frames in, GOP {} frames/{} B{relays}",
                kbps,
                st.viewers,
                dropped,
                st.frames_in,
                st.gop_frames,
                st.gop_bytes
            );
            seen.insert(key.to_string(), st.bytes_in);
        }
        self.timers.last_stream_bytes = seen;
    }
}

/// How long one relay connection attempt may take to start streaming: the
/// command deadline, and for a pull at most half of its `pull_wait_ms`, so
/// that a hung origin leaves time to try the next one.
fn relay_attempt_ms(
    pulls: &HashMap<std::rc::Rc<str>, super::relay::Pull>,
    relay: &super::relay::RelayClient,
    cfg: &Config,
) -> u64 {
    match (relay.push, pulls.get(&relay.key)) {
        (None, Some(pull)) => cfg.command_timeout_ms.min(pull.wait_ms() / 2),
        _ => cfg.command_timeout_ms,
    }
}

/// One info line when a publisher's sequence header names its codec.
pub(super) fn log_codec(id: ConnId, key: &str, frame: &Frame) {
    let payload = &frame.payload[..];
    let kind = match frame.type_id {
        TYPE_VIDEO => AvKind::Video,
        TYPE_AUDIO => AvKind::Audio,
        _ => return,
    };
    let Some(header) = tracks::parse(kind, payload) else {
        return;
    };
    if header.packet != Packet::SequenceStart {
        return;
    }
    if header.multitrack.is_some() {
        // Enhanced RTMP v2 multitrack: one line per track.
        for part in header.tracks(payload).flatten() {
            let cc = part.fourcc.unwrap_or([0; 4]);
            let (what, name) = match kind {
                AvKind::Video => ("video", flv::codec_name(flv::VideoCodec::FourCc(cc))),
                AvKind::Audio => ("audio", flv::codec_name(flv::AudioCodec::FourCc(cc))),
            };
            info!("{id} stream {key}: {what} track {} {name}", part.track);
        }
        return;
    }
    if frame.is_video() {
        let Some(info) = flv::classify_video(payload) else {
            return;
        };
        let name = flv::codec_name(info.codec);
        match flv::avc_config_summary(payload) {
            Some((profile, level)) => info!(
                "{id} stream {key}: video {name} {} level {}.{}",
                avc_profile_name(profile),
                level / 10,
                level % 10
            ),
            None => info!("{id} stream {key}: video {name}"),
        }
    } else if frame.is_audio() {
        let Some(codec) = flv::audio_codec(payload) else {
            return;
        };
        let name = flv::codec_name(codec);
        match flv::aac_config_summary(payload) {
            Some((object_type, rate, channels)) => info!(
                "{id} stream {key}: audio {name} object type {object_type}, {rate} Hz, {channels} ch"
            ),
            None => info!("{id} stream {key}: audio {name}"),
        }
    }
}

fn avc_profile_name(profile: u8) -> &'static str {
    match profile {
        66 => "Baseline",
        77 => "Main",
        88 => "Extended",
        100 => "High",
        110 => "High 10",
        122 => "High 4:2:2",
        244 => "High 4:4:4",
        _ => "profile ?",
    }
}
