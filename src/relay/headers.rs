//! Late-join decoder configuration of one stream, per track (Enhanced RTMP
//! v2 multitrack), and the class of each published audio/video message.
//!
//! # What is cached
//!
//! Per (audio/video, track id): the latest SequenceStart and the latest
//! per-track configuration ([`Packet::Config`]: video Metadata such as
//! colorInfo, audio MultichannelConfig), as [`Frame`]s in the wire form
//! received. A SequenceEnd clears that track's entries (the message itself is
//! still forwarded). A header message that carries several tracks
//! (ManyTracks, ManyTracksManyCodecs) is split: each track is cached as a
//! OneTrack message of its own ([`tracks::one_track`]).
//!
//! A message without the multitrack wrapper is track 0, with one exception
//! that ffmpeg 9 needs: it sends track 1's colorInfo Metadata unwrapped, so
//! an unwrapped per-track configuration (video Metadata, audio
//! MultichannelConfig) whose FourCC is not track 0's but is another track's
//! belongs to that track. (An unwrapped SequenceStart or coded frame is
//! always track 0: a codec change on track 0 stays on track 0.)
//!
//! At most [`MAX_TRACKS`] tracks and [`MAX_HEADER_BYTES`] of cached payload
//! per stream; beyond that, headers are forwarded but not cached, and the
//! stream logs it once.
//!
//! # Keyframes
//!
//! A stream keyframe (where a late joiner starts and the GOP cache begins)
//! is a video key frame with coded frames on the key track: track 0, or,
//! while no track-0 video has been seen, the lowest video track seen.
//! Keyframes of other tracks are inter frames to the relay.
//!
//! # Rules for callers
//!
//! * [`HeaderCache::classify`] first (it also learns tracks' FourCCs and the
//!   key track), build the frame with that class, then
//!   [`HeaderCache::store`] with the same parsed header; `store` answers
//!   whether a cached SequenceStart changed (the GOP then belongs to the old
//!   configuration and must be dropped).
//! * [`HeaderCache::start_frames`] lists the cached headers in late-join
//!   order: by track (0 first), SequenceStart before Config, video before
//!   audio.
//! * [`HeaderCache::clear`] when the publisher changes.

use bytes::Bytes;

use crate::proto::flv::tracks::{self, AvKind, MediaHeader, Packet, TrackPart};
use crate::relay::frame::{Frame, FrameClass};

/// Tracks (audio and video together) whose headers a stream caches.
pub const MAX_TRACKS: usize = 16;
/// Payload bytes of cached headers per stream.
pub const MAX_HEADER_BYTES: usize = 1024 * 1024;

/// Which of a track's two cached messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Slot {
    Start,
    Config,
}

#[derive(Debug)]
struct Track {
    kind: AvKind,
    id: u8,
    fourcc: Option<[u8; 4]>,
    start: Option<Frame>,
    config: Option<Frame>,
}

impl Track {
    fn slot(&mut self, slot: Slot) -> &mut Option<Frame> {
        match slot {
            Slot::Start => &mut self.start,
            Slot::Config => &mut self.config,
        }
    }

    fn cached_bytes(&self) -> usize {
        [&self.start, &self.config]
            .into_iter()
            .flatten()
            .map(|f| f.payload.len())
            .sum()
    }
}

/// What [`HeaderCache::store`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stored {
    /// A cached SequenceStart was replaced by a different one.
    pub changed: bool,
    /// A header could not be cached (track or byte cap), for the first
    /// time on this stream: the caller logs it.
    pub over_cap: bool,
}

/// The per-track header cache of one stream (see the module docs).
#[derive(Debug, Default)]
pub struct HeaderCache {
    tracks: Vec<Track>,
    /// The last track and FourCC learned, per kind (video, audio): learning
    /// them again changes nothing, so the next frame of that track skips the
    /// search of `tracks` (every frame of a single-track stream).
    learned: [Option<(u8, Option<[u8; 4]>)>; 2],
    bytes: usize,
    key_track: Option<u8>,
    warned: bool,
}

impl HeaderCache {
    /// Forget everything (a new publisher).
    pub fn clear(&mut self) {
        *self = HeaderCache::default();
    }

    fn find(&self, kind: AvKind, id: u8) -> Option<usize> {
        self.tracks
            .iter()
            .position(|t| t.kind == kind && t.id == id)
    }

    /// The track an unwrapped (or OneTrack) part belongs to: see the module
    /// docs for the unwrapped-FourCC rule.
    fn resolve(&self, header: &MediaHeader, part: &TrackPart) -> u8 {
        if header.multitrack.is_some()
            || !header.ex
            || part.track != 0
            || header.packet != Packet::Config
        {
            return part.track;
        }
        let Some(cc) = part.fourcc else {
            return 0;
        };
        let own = |t: &&Track| t.kind == header.kind;
        let track0 = self.tracks.iter().filter(own).find(|t| t.id == 0);
        if track0.is_none_or(|t| t.fourcc.is_none_or(|f| f == cc)) {
            return 0;
        }
        self.tracks
            .iter()
            .filter(own)
            .find(|t| t.id != 0 && t.fourcc == Some(cc))
            .map_or(0, |t| t.id)
    }

    /// The track ids of a message's parts, resolved.
    fn track_ids<'a>(
        &'a self,
        header: &'a MediaHeader,
        parts: &'a [TrackPart],
    ) -> impl Iterator<Item = u8> + 'a {
        parts.iter().map(move |p| self.resolve(header, p))
    }

    /// Notes the FourCC a track uses (it decides the unwrapped-FourCC rule).
    fn learn(&mut self, kind: AvKind, id: u8, fourcc: Option<[u8; 4]>) {
        let k = usize::from(kind == AvKind::Audio);
        if self.learned[k] == Some((id, fourcc)) {
            return;
        }
        match self.find(kind, id) {
            Some(i) if fourcc.is_some() => self.tracks[i].fourcc = fourcc,
            Some(_) => {}
            None if self.tracks.len() < MAX_TRACKS => self.tracks.push(Track {
                kind,
                id,
                fourcc,
                start: None,
                config: None,
            }),
            None => return,
        }
        self.learned[k] = Some((id, fourcc));
    }

    /// The class of a message with this parsed header (`None`: too short to
    /// parse) and tracks, and whether it carries track 0 (after resolving);
    /// learns the tracks' FourCCs and the key track. One pass over the parts.
    pub fn classify(
        &mut self,
        kind: AvKind,
        header: Option<&MediaHeader>,
        parts: &[TrackPart],
    ) -> (FrameClass, bool) {
        let Some(h) = header else {
            let class = match kind {
                AvKind::Audio => FrameClass::Audio,
                AvKind::Video => FrameClass::InterFrame,
            };
            return (class, true);
        };
        let mut lowest: Option<u8> = None;
        for part in parts {
            let id = self.resolve(h, part);
            if h.packet != Packet::Config {
                self.learn(kind, id, part.fourcc);
            }
            lowest = Some(lowest.map_or(id, |l| l.min(id)));
        }
        if kind == AvKind::Video {
            if let Some(l) = lowest.filter(|&l| self.key_track.is_none_or(|k| l < k)) {
                self.key_track = Some(l);
            }
        }
        let track0 = lowest == Some(0);
        // Every id here is at or above the key track now: the message is on
        // it exactly when its lowest id is the key track.
        let class = match kind {
            _ if h.is_header() => FrameClass::SequenceHeader,
            AvKind::Audio => FrameClass::Audio,
            AvKind::Video if h.is_keyframe() && lowest.is_some() && lowest == self.key_track => {
                FrameClass::KeyFrame
            }
            AvKind::Video => FrameClass::InterFrame,
        };
        (class, track0)
    }

    /// Caches (or clears, on SequenceEnd) the headers of a message already
    /// built as `frame` (see the module docs). `chunk_size` encodes the
    /// split per-track messages of a many-track header.
    pub fn store(
        &mut self,
        header: Option<&MediaHeader>,
        parts: &[TrackPart],
        frame: &Frame,
        chunk_size: u32,
    ) -> Stored {
        let mut stored = Stored::default();
        let Some(h) = header else {
            return stored;
        };
        let slot = match h.packet {
            Packet::SequenceStart => Slot::Start,
            Packet::Config => Slot::Config,
            Packet::SequenceEnd => {
                for id in self.track_ids(h, parts).collect::<Vec<_>>() {
                    if let Some(i) = self.find(h.kind, id) {
                        let t = &mut self.tracks[i];
                        self.bytes -= t.cached_bytes();
                        t.start = None;
                        t.config = None;
                    }
                }
                return stored;
            }
            _ => return stored,
        };
        let single = parts.len() == 1;
        for part in parts {
            let id = self.resolve(h, part);
            let entry = if single {
                Some(frame.clone())
            } else {
                tracks::one_track(h, &frame.payload, part).map(|p| {
                    Frame::media_as(
                        FrameClass::SequenceHeader,
                        frame.type_id,
                        frame.timestamp,
                        Bytes::from(p),
                        chunk_size,
                    )
                })
            };
            let Some(entry) = entry else { continue };
            let (changed, fits) = self.put(h.kind, id, slot, entry);
            stored.changed |= changed;
            stored.over_cap |= !fits;
        }
        // Reported (for the one log line) the first time only.
        let first = stored.over_cap && !self.warned;
        self.warned |= stored.over_cap;
        stored.over_cap = first;
        stored
    }

    /// Puts one header in its slot: (a different SequenceStart replaced,
    /// within the caps).
    fn put(&mut self, kind: AvKind, id: u8, slot: Slot, frame: Frame) -> (bool, bool) {
        if self.find(kind, id).is_none() {
            self.learn(kind, id, None);
        }
        let Some(i) = self.find(kind, id) else {
            return (false, false);
        };
        let old_len = self.tracks[i]
            .slot(slot)
            .as_ref()
            .map_or(0, |f| f.payload.len());
        let new_bytes = self.bytes - old_len + frame.payload.len();
        if new_bytes > MAX_HEADER_BYTES {
            return (false, false);
        }
        self.bytes = new_bytes;
        let cell = self.tracks[i].slot(slot);
        let changed =
            slot == Slot::Start && cell.as_ref().is_some_and(|o| o.payload != frame.payload);
        *cell = Some(frame);
        (changed, true)
    }

    /// The cached headers in late-join order (see the module docs).
    pub fn start_frames(&self) -> Vec<&Frame> {
        let mut order: Vec<&Track> = self.tracks.iter().collect();
        order.sort_by_key(|t| (t.id, t.kind));
        let mut out = Vec::new();
        for t in order {
            out.extend(t.start.iter());
            out.extend(t.config.iter());
        }
        out
    }

    /// Track 0's cached SequenceStart of `kind` (what the API reads codec
    /// details from).
    pub fn track0_start(&self, kind: AvKind) -> Option<&Frame> {
        self.find(kind, 0)
            .and_then(|i| self.tracks[i].start.as_ref())
    }

    /// Payload bytes cached.
    pub fn cached_bytes(&self) -> usize {
        self.bytes
    }

    /// Tracks known, audio and video.
    pub fn track_count(&self) -> usize {
        self.tracks.len()
    }
}
