//! The stream table: per stream key, the publisher, the viewers, the
//! late-join caches and the timestamp rebaser.
//!
//! Rules for callers (the server loop):
//! * a publish request calls [`StreamTable::claim_publisher`]: `Granted` →
//!   accept; `TakeOver { old }` → accept and close `old` (its registration is
//!   already replaced, so its later `release_publisher` is a no-op and the
//!   viewers keep playing); `Busy` → reject with `NetStream.Publish.BadName`;
//! * every publisher message goes through [`StreamTable::on_media`] /
//!   [`StreamTable::on_metadata`] with the sender's id; `None` means "not this
//!   key's publisher": drop the message, never fan it out;
//! * a play request calls [`StreamTable::add_viewer`] and offers the returned
//!   start frames with [`crate::relay::queue::SubscriberQueue::offer_start`];
//! * a closing connection calls [`StreamTable::release_publisher`] (notify
//!   the returned viewers with UnpublishNotify + StreamEOF) and/or
//!   [`StreamTable::remove_viewer`]. An entry with neither publisher nor
//!   viewers is removed.
//!
//! # Timestamps
//!
//! Timestamps a subscriber receives never go backwards, also when the
//! publisher's timestamps jump back or a new publisher restarts at 0 on the
//! same key. The stream rebases once, when it builds the shared frame:
//! `out = in + offset` (mod 2^32), with one offset for all tracks, so the
//! audio/video distance the encoder chose is kept exactly. All comparisons
//! are wrapping (`(a - b) as i32`), so the 32-bit wrap of the input (and the
//! 24-bit 0xFFFFFF boundary, which is not a boundary at this layer) is
//! ordinary progress.
//!
//! * The first publisher a key ever has keeps its timestamps (offset 0).
//! * A jump of the input, relative to the previous input of the same
//!   publisher, of more than [`StreamConfig::ts_jump_back_ms`] back (default
//!   1 s) or more than [`StreamConfig::ts_jump_forward_ms`] forward (default
//!   10 s) is a discontinuity: the offset is reset so that this message comes
//!   out at the last output timestamp + [`StreamConfig::ts_step_ms`].
//! * A new publisher (after a release or a take-over) continues the same way
//!   from the previous publisher's last output timestamp.
//! * Smaller backward steps (encoders interleave audio and video with tens of
//!   ms of skew) are not discontinuities. By default
//!   (`per_track_monotonic = false`) such a message is clamped to the last
//!   output timestamp, so the merged stream never decreases; the offset is
//!   untouched, so the error is at most the skew on that one message and
//!   never accumulates. With `per_track_monotonic = true` each track (audio,
//!   video, data) is only clamped against itself: A/V sync is then exact
//!   (each chunk stream is still monotonic, which is what decoders need), but
//!   the merged sequence may step back by up to the skew. The default keeps
//!   the stricter "never backwards" promise at the cost of a bounded jitter
//!   on the lagging track.
//!
//! # Late join
//!
//! [`StreamTable::add_viewer`] returns the cached onMetaData stamped 0 (as
//! nginx-rtmp sends it: ffmpeg 9 makes an empty subtitle stream of one
//! stamped later), then every cached decoder configuration of every track
//! ([`crate::relay::headers`]: track 0 first, SequenceStart before the
//! per-track Metadata/MultichannelConfig, in the wire form received)
//! re-stamped to the join timestamp, then the cached GOP. The join
//! timestamp is the GOP keyframe's timestamp when a GOP is sent (so the
//! viewer's timestamps never go backwards after the metadata), otherwise the
//! stream's last output timestamp. The GOP cache starts at a keyframe of the
//! key track (track 0); it is dropped (until the next keyframe) when it
//! exceeds `gop_max_bytes` of wire bytes ([`Frame::wire_len`]: the
//! frames' RTMP form, though each frame holds only its payload) or `gop_max_frames` frames, or
//! spans more than `gop_max_ms`, and when a track's SequenceStart changes
//! (the cached frames belong to the old decoder configuration).
//!
//! # Data messages
//!
//! onMetaData ([`StreamTable::on_metadata`]) replaces the cached one, also
//! mid-stream. Every other data message ([`StreamTable::on_data`]:
//! onCuePoint, onTextData, ...) is rebased like media and forwarded in
//! order, never cached: it is an event, not state.

use std::collections::HashMap;
use std::hash::Hash;

use bytes::Bytes;

use crate::config::Config;
use crate::proto::flv::tracks::{self, AvKind, MediaHeader, Overrun, TrackPart};
use crate::proto::flv::{self, VideoCodec};
use crate::relay::frame::{Frame, FrameClass, TYPE_AUDIO, TYPE_DATA_AMF0, TYPE_VIDEO};
use crate::relay::headers::{self, HeaderCache};
use crate::relay::rebase::Rebase;

/// Relay settings shared by all streams.
#[derive(Clone, Debug)]
pub struct StreamConfig {
    /// The server's out-chunk size (announced to every viewer at connect).
    pub chunk_size: u32,
    /// Keep the last GOP for late joiners.
    pub gop_cache: bool,
    /// Wire bytes the GOP cache may hold.
    pub gop_max_bytes: usize,
    /// Timestamp span the GOP cache may hold.
    pub gop_max_ms: u32,
    /// Frames the GOP cache may hold. The byte cap alone lets a publisher of
    /// tiny frames (2 bytes each on the wire with fmt 3 headers) fill it with
    /// over a million `Frame`s, each costing far more memory than its bytes.
    pub gop_max_frames: usize,
    /// A publisher silent (no media/metadata) this long can be taken over.
    pub stale_publisher_ms: u64,
    /// Backward input jump (ms) treated as a discontinuity.
    pub ts_jump_back_ms: u32,
    /// Forward input jump (ms) treated as a discontinuity.
    pub ts_jump_forward_ms: u32,
    /// Output step (ms) after a discontinuity or a publisher change.
    pub ts_step_ms: u32,
    /// Clamp each track against itself instead of the merged stream.
    pub per_track_monotonic: bool,
}

impl StreamConfig {
    /// The relay settings of a validated server configuration; the rest
    /// (frame cap, timestamp policy) are the relay's own defaults.
    pub fn from_config(config: &Config) -> StreamConfig {
        StreamConfig {
            chunk_size: config.chunk_size,
            gop_cache: config.gop_cache,
            gop_max_bytes: config.gop_max_bytes,
            gop_max_ms: config.gop_max_ms,
            gop_max_frames: 8192,
            stale_publisher_ms: config.stale_publisher_ms,
            ts_jump_back_ms: 1_000,
            ts_jump_forward_ms: 10_000,
            ts_step_ms: 10,
            per_track_monotonic: false,
        }
    }
}

impl Default for StreamConfig {
    /// The server's defaults ([`Config::default`]): one place for every number.
    fn default() -> Self {
        StreamConfig::from_config(&Config::default())
    }
}

/// Answer to a publish request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PublishClaim<Id> {
    Granted,
    /// The old publisher was stale and is replaced; the caller closes it.
    TakeOver {
        old: Id,
    },
    /// A live publisher holds the key; reject with Publish.BadName.
    Busy {
        current: Id,
    },
}

/// Per-stream figures for the periodic log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamStats {
    pub bytes_in: u64,
    pub frames_in: u64,
    pub viewers: usize,
    pub publishing: bool,
    pub video_codec: Option<VideoCodec>,
    /// FLV SoundFormat (10 = AAC).
    pub audio_format: Option<u8>,
    pub gop_frames: usize,
    pub gop_bytes: usize,
    /// Last output timestamp.
    pub last_timestamp: Option<u32>,
}

/// A key's cached late-join headers (what the API reads codec details from).
#[derive(Clone, Copy, Debug)]
pub struct StreamHeaders<'a> {
    pub metadata: Option<&'a Frame>,
    pub video: Option<&'a Frame>,
    pub audio: Option<&'a Frame>,
    /// Audio and video tracks seen (Enhanced RTMP multitrack; 2 for a plain
    /// audio+video stream).
    pub tracks: usize,
}

/// An audio/video message's parsed header and tracks, kept from
/// classification to caching (one track inline: no allocation for the
/// common single-track message).
#[derive(Debug)]
struct Parsed {
    header: Option<MediaHeader>,
    one: Option<TrackPart>,
    many: Vec<TrackPart>,
    /// Carries track 0 (after the unwrapped-FourCC rule).
    track0: bool,
}

impl Parsed {
    fn new(kind: AvKind, payload: &[u8]) -> Result<Parsed, Overrun> {
        let header = tracks::parse(kind, payload);
        let mut one = None;
        let mut many = Vec::new();
        if let Some(h) = &header {
            for part in h.tracks(payload) {
                let part = part?;
                match one.take() {
                    None if many.is_empty() => one = Some(part),
                    first => {
                        many.extend(first);
                        many.push(part);
                    }
                }
            }
        }
        Ok(Parsed {
            header,
            one,
            many,
            track0: true,
        })
    }

    fn parts(&self) -> &[TrackPart] {
        match &self.one {
            Some(p) => std::slice::from_ref(p),
            None => &self.many,
        }
    }
}

#[derive(Debug)]
struct Stream<Id> {
    publisher: Option<Id>,
    last_activity_ms: u64,
    viewers: Vec<Id>,
    metadata: Option<Frame>,
    headers: HeaderCache,
    gop: Vec<Frame>,
    gop_bytes: usize,
    gop_active: bool,
    /// This stream's application caches GOPs (`StreamConfig::gop_cache` until set).
    gop_cache: bool,
    ts: Rebase,
    bytes_in: u64,
    frames_in: u64,
    video_codec: Option<VideoCodec>,
    audio_format: Option<u8>,
    /// Messages refused this publish (a multitrack track overran).
    refused: u64,
}

impl<Id: Copy + Eq> Stream<Id> {
    fn new(gop_cache: bool) -> Self {
        Stream {
            publisher: None,
            last_activity_ms: 0,
            viewers: Vec::new(),
            metadata: None,
            headers: HeaderCache::default(),
            gop: Vec::new(),
            gop_bytes: 0,
            gop_active: false,
            gop_cache,
            ts: Rebase::default(),
            bytes_in: 0,
            frames_in: 0,
            video_codec: None,
            audio_format: None,
            refused: 0,
        }
    }

    fn drop_gop(&mut self) {
        self.gop.clear();
        self.gop_bytes = 0;
        self.gop_active = false;
    }

    /// Forget everything the previous publisher sent (not the timestamps).
    fn clear_caches(&mut self) {
        self.metadata = None;
        self.headers.clear();
        self.refused = 0;
        self.drop_gop();
    }

    fn set_publisher(&mut self, id: Id, now_ms: u64) {
        self.publisher = Some(id);
        self.last_activity_ms = now_ms;
        self.clear_caches();
        self.ts.new_publisher();
    }

    /// Caches what a late joiner needs from `frame` (its parsed header and
    /// tracks in `media`, for audio/video).
    fn update_caches(&mut self, frame: &Frame, media: Option<&Parsed>, cfg: &StreamConfig) {
        if let Some(m) = media {
            let stored = self
                .headers
                .store(m.header.as_ref(), m.parts(), frame, cfg.chunk_size);
            if stored.changed {
                self.drop_gop();
            }
            if stored.over_cap {
                log::warn!(
                    "stream: more than {} tracks or {} KiB of decoder configuration; further headers are forwarded but not kept for late joiners",
                    headers::MAX_TRACKS,
                    headers::MAX_HEADER_BYTES / 1024
                );
            }
            if m.track0 && frame.class == FrameClass::SequenceHeader {
                if frame.is_video() {
                    if let Some(info) = flv::classify_video(&frame.payload) {
                        self.video_codec = Some(info.codec);
                    }
                } else if let Some(info) = flv::classify_audio(&frame.payload) {
                    self.audio_format = Some(info.format);
                }
            }
        }
        match frame.class {
            FrameClass::SequenceHeader | FrameClass::Data | FrameClass::Control => {}
            FrameClass::Metadata => self.metadata = Some(frame.clone()),
            FrameClass::KeyFrame => {
                if self.gop_cache {
                    self.drop_gop();
                    self.gop_active = true;
                    self.push_gop(frame, cfg);
                }
            }
            FrameClass::Audio | FrameClass::InterFrame => {
                if self.gop_active {
                    self.push_gop(frame, cfg);
                }
            }
        }
        if frame.class == FrameClass::Audio && media.is_some_and(|m| m.track0) {
            if let Some(info) = flv::classify_audio(&frame.payload) {
                self.audio_format = Some(info.format);
            }
        }
    }

    fn push_gop(&mut self, frame: &Frame, cfg: &StreamConfig) {
        self.gop_bytes += frame.wire_len();
        self.gop.push(frame.clone());
        let span = frame.timestamp.wrapping_sub(self.gop[0].timestamp);
        if self.gop_bytes > cfg.gop_max_bytes
            || span > cfg.gop_max_ms
            || self.gop.len() > cfg.gop_max_frames
        {
            log::debug!(
                "GOP cache over bounds ({} bytes, {} ms, {} frames): dropped until the next keyframe",
                self.gop_bytes,
                span,
                self.gop.len()
            );
            self.drop_gop();
        }
    }

    fn start_frames(&self, chunk_size: u32) -> Vec<Frame> {
        let join_ts = match self.gop.first() {
            Some(key) => key.timestamp,
            None => self.ts.last_out().unwrap_or(0),
        };
        let headers = self.headers.start_frames();
        let mut out = Vec::with_capacity(1 + headers.len() + self.gop.len());
        // At 0, as nginx-rtmp sends it: ffmpeg 9 turns an onMetaData with
        // another timestamp into an empty subtitle stream.
        out.extend(self.metadata.iter().map(|m| m.restamped(0, chunk_size)));
        for f in headers {
            out.push(f.restamped(join_ts, chunk_size));
        }
        out.extend(self.gop.iter().cloned());
        out
    }
}

/// Stream key → publisher, viewers, caches (see the module docs).
#[derive(Debug)]
pub struct StreamTable<Id: Copy + Eq + Hash + std::fmt::Debug> {
    cfg: StreamConfig,
    streams: HashMap<String, Stream<Id>>,
}

impl<Id: Copy + Eq + Hash + std::fmt::Debug> StreamTable<Id> {
    pub fn new(cfg: StreamConfig) -> Self {
        StreamTable {
            cfg,
            streams: HashMap::new(),
        }
    }

    pub fn config(&self) -> &StreamConfig {
        &self.cfg
    }

    /// New limits (a configuration reload): the GOP caps and the
    /// stale-publisher time apply to every stream from now on; the chunk
    /// size must stay (every viewer was told it).
    pub fn set_config(&mut self, cfg: StreamConfig) {
        debug_assert_eq!(cfg.chunk_size, self.cfg.chunk_size);
        self.cfg = cfg;
    }

    /// Granted if no live publisher (or `id` already publishes this key);
    /// TakeOver if the current one has sent nothing (no media/metadata) for
    /// `stale_publisher_ms` (the caller closes `old`, whose registration is
    /// replaced now); else Busy (caller rejects with Publish.BadName).
    pub fn claim_publisher(&mut self, key: &str, id: Id, now_ms: u64) -> PublishClaim<Id> {
        if !self.streams.contains_key(key) {
            self.streams
                .insert(key.to_owned(), Stream::new(self.cfg.gop_cache));
        }
        let s = self.streams.get_mut(key).expect("inserted above");
        match s.publisher {
            None => {
                s.set_publisher(id, now_ms);
                log::debug!("stream {:?}: publisher {:?}", key, id);
                PublishClaim::Granted
            }
            Some(cur) if cur == id => PublishClaim::Granted,
            Some(cur) => {
                if now_ms.saturating_sub(s.last_activity_ms) >= self.cfg.stale_publisher_ms {
                    s.set_publisher(id, now_ms);
                    log::debug!(
                        "stream {:?}: publisher {:?} takes over from stale {:?}",
                        key,
                        id,
                        cur
                    );
                    PublishClaim::TakeOver { old: cur }
                } else {
                    PublishClaim::Busy { current: cur }
                }
            }
        }
    }

    /// The publisher left: clears metadata/sequence headers/GOP; keeps the
    /// entry while viewers remain (they wait for the next publisher). Returns
    /// the viewers to notify (UnpublishNotify + StreamEOF). No-op (empty) if
    /// `id` is not that key's publisher.
    pub fn release_publisher(&mut self, key: &str, id: Id) -> Vec<Id> {
        let Some(s) = self.streams.get_mut(key) else {
            return Vec::new();
        };
        if s.publisher != Some(id) {
            return Vec::new();
        }
        s.publisher = None;
        s.clear_caches();
        s.ts.new_publisher();
        let viewers = s.viewers.clone();
        if viewers.is_empty() {
            self.streams.remove(key);
        }
        log::debug!("stream {:?}: publisher {:?} left", key, id);
        viewers
    }

    /// Whether `key` caches GOPs (its application's setting, applied at
    /// publish). Turning it off drops the cached GOP.
    pub fn set_gop_cache(&mut self, key: &str, on: bool) {
        if let Some(s) = self.streams.get_mut(key) {
            s.gop_cache = on;
            if !on {
                s.drop_gop();
            }
        }
    }

    pub fn is_publisher(&self, key: &str, id: Id) -> bool {
        self.streams
            .get(key)
            .is_some_and(|s| s.publisher == Some(id))
    }

    /// The key's publisher, if any.
    pub fn publisher(&self, key: &str) -> Option<Id> {
        self.streams.get(key).and_then(|s| s.publisher)
    }

    /// Add a viewer (idempotent). Returns the start frames if a publisher is
    /// live (metadata, video seq header, audio seq header, restamped to the
    /// join timestamp, then the cached GOP from its keyframe, in order; only
    /// what exists), or None if the viewer waits for a publisher.
    pub fn add_viewer(&mut self, key: &str, id: Id) -> Option<Vec<Frame>> {
        if !self.streams.contains_key(key) {
            self.streams
                .insert(key.to_owned(), Stream::new(self.cfg.gop_cache));
        }
        let s = self.streams.get_mut(key).expect("inserted above");
        if !s.viewers.contains(&id) {
            s.viewers.push(id);
        }
        s.publisher?;
        Some(s.start_frames(self.cfg.chunk_size))
    }

    pub fn remove_viewer(&mut self, key: &str, id: Id) {
        let Some(s) = self.streams.get_mut(key) else {
            return;
        };
        if let Some(pos) = s.viewers.iter().position(|v| *v == id) {
            s.viewers.swap_remove(pos);
        }
        if s.viewers.is_empty() && s.publisher.is_none() {
            self.streams.remove(key);
        }
    }

    /// Publisher media: rebase the timestamp, build the Frame once (classed
    /// by its tracks, see [`crate::relay::headers`]), update the caches and
    /// return the frame and the viewers to fan out to. None if `id` is not
    /// the key's publisher, or if a multitrack track overruns the message
    /// (refused and logged once per publisher).
    pub fn on_media(
        &mut self,
        key: &str,
        id: Id,
        type_id: u8,
        timestamp: u32,
        payload: Bytes,
        now_ms: u64,
    ) -> Option<(Frame, &[Id])> {
        let kind = match type_id {
            TYPE_AUDIO => AvKind::Audio,
            TYPE_VIDEO => AvKind::Video,
            _ => {
                return self.publish_frame(key, id, now_ms, |s, cfg| {
                    let ts = s.ts.map(type_id, timestamp, cfg);
                    Some((Frame::media(type_id, ts, payload, cfg.chunk_size), None))
                })
            }
        };
        self.publish_frame(key, id, now_ms, |s, cfg| {
            let parsed = match Parsed::new(kind, &payload) {
                Ok(parsed) => parsed,
                Err(e) => {
                    s.refused += 1;
                    if s.refused == 1 {
                        log::warn!(
                            "stream {key:?}: {} message refused: {e} (further ones are refused silently)",
                            if kind == AvKind::Video { "video" } else { "audio" }
                        );
                    }
                    return None;
                }
            };
            let (class, track0) = s
                .headers
                .classify(kind, parsed.header.as_ref(), parsed.parts());
            let ts = s.ts.map(type_id, timestamp, cfg);
            let frame = Frame::media_as(class, type_id, ts, payload, cfg.chunk_size);
            Some((frame, Some(Parsed { track0, ..parsed })))
        })
    }

    /// Publisher onMetaData (the AMF0 body without `@setDataFrame`): stamped
    /// with the stream's last output timestamp, kept for late joiners
    /// (replacing the previous one).
    pub fn on_metadata(
        &mut self,
        key: &str,
        id: Id,
        body: Bytes,
        now_ms: u64,
    ) -> Option<(Frame, &[Id])> {
        self.publish_frame(key, id, now_ms, |s, cfg| {
            let frame = Frame::metadata(s.ts.last_out().unwrap_or(0), body, cfg.chunk_size);
            debug_assert_eq!(frame.type_id, TYPE_DATA_AMF0);
            Some((frame, None))
        })
    }

    /// Any other publisher data message (onCuePoint, onTextData, ...; the
    /// AMF0 body): rebased like media, forwarded in order, not cached.
    pub fn on_data(
        &mut self,
        key: &str,
        id: Id,
        timestamp: u32,
        body: Bytes,
        now_ms: u64,
    ) -> Option<(Frame, &[Id])> {
        self.publish_frame(key, id, now_ms, |s, cfg| {
            let ts = s.ts.map(TYPE_DATA_AMF0, timestamp, cfg);
            Some((Frame::data(ts, body, cfg.chunk_size), None))
        })
    }

    /// The part of `on_media`/`on_metadata`/`on_data` they share: check the
    /// publisher, note its activity, build the frame once with `build`
    /// (`None`: refused), count it and update the late-join caches.
    fn publish_frame(
        &mut self,
        key: &str,
        id: Id,
        now_ms: u64,
        build: impl FnOnce(&mut Stream<Id>, &StreamConfig) -> Option<(Frame, Option<Parsed>)>,
    ) -> Option<(Frame, &[Id])> {
        let s = self.streams.get_mut(key)?;
        if s.publisher != Some(id) {
            return None;
        }
        s.last_activity_ms = now_ms;
        let (frame, parsed) = build(s, &self.cfg)?;
        s.bytes_in += frame.payload.len() as u64;
        s.frames_in += 1;
        s.update_caches(&frame, parsed.as_ref(), &self.cfg);
        Some((frame, &s.viewers))
    }

    pub fn viewers(&self, key: &str) -> &[Id] {
        self.streams.get(key).map_or(&[], |s| &s.viewers)
    }

    /// Per-stream stats for the periodic log line.
    pub fn stats(&self) -> impl Iterator<Item = (&str, StreamStats)> {
        self.streams
            .keys()
            .filter_map(|k| Some((k.as_str(), self.stats_of(k)?)))
    }

    /// The figures of one key.
    pub fn stats_of(&self, key: &str) -> Option<StreamStats> {
        self.streams.get(key).map(|s| StreamStats {
            bytes_in: s.bytes_in,
            frames_in: s.frames_in,
            viewers: s.viewers.len(),
            publishing: s.publisher.is_some(),
            video_codec: s.video_codec,
            audio_format: s.audio_format,
            gop_frames: s.gop.len(),
            gop_bytes: s.gop_bytes,
            last_timestamp: s.ts.last_out(),
        })
    }

    /// The cached metadata and track 0's sequence headers of one key.
    pub fn headers(&self, key: &str) -> Option<StreamHeaders<'_>> {
        self.streams.get(key).map(|s| StreamHeaders {
            metadata: s.metadata.as_ref(),
            video: s.headers.track0_start(AvKind::Video),
            audio: s.headers.track0_start(AvKind::Audio),
            tracks: s.headers.track_count(),
        })
    }

    /// Number of keys with a publisher or viewers.
    pub fn len(&self) -> usize {
        self.streams.len()
    }

    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gop_cache_is_capped_in_frames_not_only_bytes() {
        let cfg = StreamConfig {
            gop_max_frames: 100,
            ..StreamConfig::default()
        };
        let mut t: StreamTable<u32> = StreamTable::new(cfg);
        assert_eq!(t.claim_publisher("k", 1, 0), PublishClaim::Granted);
        let key = Bytes::from_static(&[0x17, 0x01, 0, 0, 0, 0xAA]);
        t.on_media("k", 1, TYPE_VIDEO, 0, key, 0).unwrap();
        // 99 one-byte inter frames at the same timestamp: 100 frames, kept.
        for _ in 0..99 {
            t.on_media("k", 1, TYPE_VIDEO, 0, Bytes::from_static(&[0x27]), 0);
        }
        assert_eq!(t.add_viewer("k", 2).unwrap().len(), 100);
        // One more is over the cap: the GOP is dropped until the next keyframe.
        t.on_media("k", 1, TYPE_VIDEO, 0, Bytes::from_static(&[0x27]), 0);
        assert_eq!(t.add_viewer("k", 3).unwrap().len(), 0);
    }
}
