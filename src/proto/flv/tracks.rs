//! Enhanced RTMP v2 track structure of an audio/video message: which
//! tracks it carries, what kind of packet each is, and where each track's
//! bytes are. The relay caches decoder configuration per track with it;
//! [`super::classify_video`] / [`super::classify_audio`] remain the cheap
//! single-answer view.
//!
//! # Layout (veovera enhanced-rtmp v2, "ExVideoTagHeader"/"ExAudioTagHeader")
//!
//! ```text
//! video: UB[1] IsExHeader=1 | UB[3] FrameType | UB[4] PacketType
//! audio: UB[4] SoundFormat=9              | UB[4] PacketType
//!   while PacketType == ModEx:
//!     UI8 size-1 (255: UI16 size-1 follows) | size bytes | UB[4] ModExType | UB[4] PacketType
//!   video FrameType 5 (command) without PacketType Metadata: UI8 command, nothing else
//!   PacketType == Multitrack (video 6, audio 5):
//!     UB[4] AvMultitrackType | UB[4] inner PacketType
//!     FourCC, unless AvMultitrackType == ManyTracksManyCodecs
//!     repeat: [FourCC if ManyTracksManyCodecs] UI8 trackId
//!             [UI24 size if not OneTrack] body (size bytes; OneTrack: the rest)
//!   otherwise: FourCC, body (the rest), track 0
//! ```
//!
//! Legacy headers (video codec id 7 AVC / 12 HEVC with their AVCPacketType,
//! audio SoundFormat 10 AAC with its AACPacketType, anything else as coded
//! frames) are reported in the same terms, on track 0, with the FourCC of
//! the codec when it has one (`avc1`, `hvc1`, `mp4a`, `.mp3`).
//!
//! # Rules for callers
//!
//! * [`parse`] / [`parse_checked`] never allocate or copy. `None` means
//!   the message is too short to say (or empty): forward it as it is. Unknown FourCCs,
//!   packet types and multitrack types are reported as they are.
//! * [`Overrun`] is the only refusal: a multitrack track whose header or
//!   declared size runs past the end of the message. A multitrack type
//!   above ManyTracksManyCodecs has an unknown layout: no tracks, no
//!   refusal.
//! * [`MediaHeader::tracks`] walks the tracks; it yields at most
//!   [`MAX_TRACKS_PER_MESSAGE`] parts (more are reported as an overrun:
//!   a track id is one byte, so 256 distinct tracks is the ceiling anyway).
//! * [`one_track`] rebuilds one track of a multitrack message as a OneTrack
//!   message of its own (used to split a ManyTracks header per track).

use std::fmt;
use std::ops::Range;

/// Audio or video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AvKind {
    Video,
    Audio,
}

/// What the tracks of a message are, normalised across legacy and E-RTMP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packet {
    /// Decoder configuration: E-RTMP SequenceStart / MPEG2TSSequenceStart,
    /// AVC/HEVC/AAC sequence header.
    SequenceStart,
    /// Coded frames (CodedFrames, CodedFramesX, AVC NALU, AAC raw, any
    /// legacy codec's frame).
    CodedFrames,
    /// End of sequence.
    SequenceEnd,
    /// Per-track configuration beside the SequenceStart: video Metadata
    /// (colorInfo) or audio MultichannelConfig.
    Config,
    /// A video command frame (FrameType 5 without Metadata): no tracks.
    Command,
    /// Any other packet type (the raw 4-bit value).
    Other(u8),
}

/// AvMultitrackType values.
pub const MULTITRACK_ONE_TRACK: u8 = 0;
pub const MULTITRACK_MANY_TRACKS: u8 = 1;
pub const MULTITRACK_MANY_TRACKS_MANY_CODECS: u8 = 2;

/// The most track parts [`MediaHeader::tracks`] yields for one message.
pub const MAX_TRACKS_PER_MESSAGE: usize = 256;

const FRAME_KEY: u8 = 1;
const FRAME_GENERATED_KEY: u8 = 4;
const FRAME_COMMAND: u8 = 5;
const PKT_SEQUENCE_START: u8 = 0;
const PKT_CODED_FRAMES: u8 = 1;
const PKT_SEQUENCE_END: u8 = 2;
const PKT_CODED_FRAMES_X: u8 = 3;
const PKT_VIDEO_METADATA: u8 = 4;
const PKT_AUDIO_MULTICHANNEL_CONFIG: u8 = 4;
const PKT_MPEG2TS_SEQUENCE_START: u8 = 5;
const PKT_VIDEO_MULTITRACK: u8 = 6;
const PKT_AUDIO_MULTITRACK: u8 = 5;
const PKT_MODEX: u8 = 7;
const SOUND_EX_HEADER: u8 = 9;

/// A multitrack track whose header or size runs past the message's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overrun {
    /// Offset of the track header that overran.
    pub at: usize,
    /// Bytes the track claimed (header and body) beyond what is there.
    pub missing: usize,
}

impl fmt::Display for Overrun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "multitrack track at byte {} runs {} bytes past the message end",
            self.at, self.missing
        )
    }
}

impl std::error::Error for Overrun {}

/// The parsed header of one audio/video message (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaHeader {
    pub kind: AvKind,
    /// An E-RTMP header (video IsExHeader, audio SoundFormat 9).
    pub ex: bool,
    /// Video FrameType (1 key, 2 inter, 4 generated key, 5 command); 0 for audio.
    pub frame_type: u8,
    /// The tracks' packet type (the inner one of a multitrack message).
    pub packet: Packet,
    /// AvMultitrackType, for a multitrack message.
    pub multitrack: Option<u8>,
    /// The FourCC shared by the tracks: E-RTMP's, or the legacy codec's
    /// when it has one; `None` for ManyTracksManyCodecs (per track) and
    /// legacy codecs without a FourCC.
    pub fourcc: Option<[u8; 4]>,
    /// Where the track list (multitrack) or the body (single track) starts.
    body: usize,
    /// Legacy codec id (video) or SoundFormat (audio), when not E-RTMP.
    pub legacy: Option<u8>,
}

/// One track's part of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackPart {
    pub track: u8,
    /// The track's FourCC (the shared one, or its own in
    /// ManyTracksManyCodecs).
    pub fourcc: Option<[u8; 4]>,
    /// The track's body inside the payload (after trackId and size).
    pub body: Range<usize>,
}

fn fourcc_at(p: &[u8], pos: usize) -> Option<[u8; 4]> {
    let s = p.get(pos..pos.checked_add(4)?)?;
    Some([s[0], s[1], s[2], s[3]])
}

/// Skips ModEx blocks; `pos` is just after the byte whose low nibble was
/// ModEx. Returns the position after the final packet-type byte and that
/// packet type, or `None` if cut short.
fn skip_modex(p: &[u8], mut pos: usize) -> Option<(usize, u8)> {
    loop {
        let mut size = usize::from(*p.get(pos)?) + 1;
        pos += 1;
        if size == 256 {
            let hi = *p.get(pos)?;
            let lo = *p.get(pos + 1)?;
            size = usize::from(u16::from_be_bytes([hi, lo])) + 1;
            pos += 2;
        }
        pos = pos.checked_add(size)?;
        let next = *p.get(pos)?;
        pos += 1;
        if next & 0x0F != PKT_MODEX {
            return Some((pos, next & 0x0F));
        }
    }
}

fn is_key(frame_type: u8) -> bool {
    frame_type == FRAME_KEY || frame_type == FRAME_GENERATED_KEY
}

impl MediaHeader {
    /// A video message a decoder can start from: key frame type with
    /// coded frames.
    pub fn is_keyframe(&self) -> bool {
        self.kind == AvKind::Video && is_key(self.frame_type) && self.packet == Packet::CodedFrames
    }

    /// Decoder configuration of some kind (SequenceStart or Config).
    pub fn is_header(&self) -> bool {
        matches!(self.packet, Packet::SequenceStart | Packet::Config)
    }

    /// The tracks of the message, in order (see the module docs).
    pub fn tracks<'a>(&self, payload: &'a [u8]) -> Tracks<'a> {
        Tracks {
            payload,
            pos: self.body,
            header: *self,
            // Command frames have no tracks; nor has a multitrack type this
            // parser does not know (its layout is unknown: forwarded as is).
            done: self.packet == Packet::Command
                || self
                    .multitrack
                    .is_some_and(|mt| mt > MULTITRACK_MANY_TRACKS_MANY_CODECS),
            count: 0,
        }
    }

    /// Every track of the message, or the first overrun.
    pub fn track_list(&self, payload: &[u8]) -> Result<Vec<TrackPart>, Overrun> {
        self.tracks(payload).collect()
    }
}

/// Iterator over the tracks of one message ([`MediaHeader::tracks`]).
#[derive(Debug, Clone)]
pub struct Tracks<'a> {
    payload: &'a [u8],
    pos: usize,
    header: MediaHeader,
    done: bool,
    count: usize,
}

impl Iterator for Tracks<'_> {
    type Item = Result<TrackPart, Overrun>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let p = self.payload;
        let Some(mt) = self.header.multitrack else {
            self.done = true;
            return Some(Ok(TrackPart {
                track: 0,
                fourcc: self.header.fourcc,
                body: self.pos.min(p.len())..p.len(),
            }));
        };
        if self.pos >= p.len() && self.count > 0 {
            self.done = true;
            return None;
        }
        let at = self.pos;
        let overrun = |need: usize| {
            Some(Err(Overrun {
                at,
                missing: need.saturating_sub(p.len()),
            }))
        };
        if self.count == MAX_TRACKS_PER_MESSAGE {
            self.done = true;
            return overrun(p.len() + 1);
        }
        let mut pos = at;
        let fourcc = if mt == MULTITRACK_MANY_TRACKS_MANY_CODECS {
            let Some(cc) = fourcc_at(p, pos) else {
                self.done = true;
                return overrun(pos + 4);
            };
            pos += 4;
            Some(cc)
        } else {
            self.header.fourcc
        };
        let Some(&track) = p.get(pos) else {
            self.done = true;
            return overrun(pos + 1);
        };
        pos += 1;
        let end = if mt == MULTITRACK_ONE_TRACK {
            self.done = true;
            p.len()
        } else {
            let Some(s) = p.get(pos..pos + 3) else {
                self.done = true;
                return overrun(pos + 3);
            };
            pos += 3;
            let size = (usize::from(s[0]) << 16) | (usize::from(s[1]) << 8) | usize::from(s[2]);
            if pos + size > p.len() {
                self.done = true;
                return overrun(pos + size);
            }
            pos + size
        };
        self.pos = end;
        self.count += 1;
        Some(Ok(TrackPart {
            track,
            fourcc,
            body: pos..end,
        }))
    }
}

/// Parses the header of an audio or video message; `None` when it is
/// empty or too short to say. Tracks are not walked: see [`parse_checked`].
pub fn parse(kind: AvKind, payload: &[u8]) -> Option<MediaHeader> {
    match kind {
        AvKind::Video => parse_video(payload),
        AvKind::Audio => parse_audio(payload),
    }
}

/// [`parse`] and a walk of every track: `Err` if a track overruns.
pub fn parse_checked(kind: AvKind, payload: &[u8]) -> Result<Option<MediaHeader>, Overrun> {
    let Some(h) = parse(kind, payload) else {
        return Ok(None);
    };
    for part in h.tracks(payload) {
        part?;
    }
    Ok(Some(h))
}

fn legacy_video(payload: &[u8], b0: u8) -> MediaHeader {
    let frame_type = b0 >> 4;
    let codec = b0 & 0x0F;
    let (fourcc, packet, body) = match codec {
        7 | 12 => {
            let fourcc = if codec == 7 { *b"avc1" } else { *b"hvc1" };
            let packet = match payload.get(1) {
                Some(0) => Packet::SequenceStart,
                Some(1) => Packet::CodedFrames,
                Some(2) => Packet::SequenceEnd,
                Some(&other) => Packet::Other(other),
                None => Packet::Other(0xFF),
            };
            (Some(fourcc), packet, 5)
        }
        _ => (None, Packet::CodedFrames, 1),
    };
    let packet = if frame_type == FRAME_COMMAND {
        Packet::Command
    } else {
        packet
    };
    MediaHeader {
        kind: AvKind::Video,
        ex: false,
        frame_type,
        packet,
        multitrack: None,
        fourcc,
        body,
        legacy: Some(codec),
    }
}

fn parse_video(p: &[u8]) -> Option<MediaHeader> {
    let b0 = *p.first()?;
    if b0 & 0x80 == 0 {
        return Some(legacy_video(p, b0));
    }
    let frame_type = (b0 >> 4) & 0x07;
    let mut ptype = b0 & 0x0F;
    let mut pos = 1;
    if ptype == PKT_MODEX {
        (pos, ptype) = skip_modex(p, pos)?;
    }
    let mut header = MediaHeader {
        kind: AvKind::Video,
        ex: true,
        frame_type,
        packet: Packet::Command,
        multitrack: None,
        fourcc: None,
        body: pos,
        legacy: None,
    };
    if frame_type == FRAME_COMMAND && ptype != PKT_VIDEO_METADATA {
        return Some(header);
    }
    if ptype == PKT_VIDEO_MULTITRACK {
        let b = *p.get(pos)?;
        pos += 1;
        header.multitrack = Some(b >> 4);
        ptype = b & 0x0F;
    }
    if header.multitrack != Some(MULTITRACK_MANY_TRACKS_MANY_CODECS) {
        header.fourcc = Some(fourcc_at(p, pos)?);
        pos += 4;
    }
    header.body = pos;
    header.packet = match ptype {
        PKT_SEQUENCE_START | PKT_MPEG2TS_SEQUENCE_START => Packet::SequenceStart,
        PKT_CODED_FRAMES | PKT_CODED_FRAMES_X => Packet::CodedFrames,
        PKT_SEQUENCE_END => Packet::SequenceEnd,
        PKT_VIDEO_METADATA => Packet::Config,
        other => Packet::Other(other),
    };
    Some(header)
}

fn parse_audio(p: &[u8]) -> Option<MediaHeader> {
    let b0 = *p.first()?;
    let format = b0 >> 4;
    if format != SOUND_EX_HEADER {
        let (fourcc, packet, body) = match format {
            10 => {
                let packet = match p.get(1) {
                    Some(0) => Packet::SequenceStart,
                    Some(1) => Packet::CodedFrames,
                    Some(&other) => Packet::Other(other),
                    None => Packet::Other(0xFF),
                };
                (Some(*b"mp4a"), packet, 2)
            }
            2 | 14 => (Some(*b".mp3"), Packet::CodedFrames, 1),
            _ => (None, Packet::CodedFrames, 1),
        };
        return Some(MediaHeader {
            kind: AvKind::Audio,
            ex: false,
            frame_type: 0,
            packet,
            multitrack: None,
            fourcc,
            body,
            legacy: Some(format),
        });
    }
    let mut ptype = b0 & 0x0F;
    let mut pos = 1;
    if ptype == PKT_MODEX {
        (pos, ptype) = skip_modex(p, pos)?;
    }
    let mut multitrack = None;
    if ptype == PKT_AUDIO_MULTITRACK {
        let b = *p.get(pos)?;
        pos += 1;
        multitrack = Some(b >> 4);
        ptype = b & 0x0F;
    }
    let mut fourcc = None;
    if multitrack != Some(MULTITRACK_MANY_TRACKS_MANY_CODECS) {
        fourcc = Some(fourcc_at(p, pos)?);
        pos += 4;
    }
    let packet = match ptype {
        PKT_SEQUENCE_START => Packet::SequenceStart,
        PKT_CODED_FRAMES => Packet::CodedFrames,
        PKT_SEQUENCE_END => Packet::SequenceEnd,
        PKT_AUDIO_MULTICHANNEL_CONFIG => Packet::Config,
        other => Packet::Other(other),
    };
    Some(MediaHeader {
        kind: AvKind::Audio,
        ex: true,
        frame_type: 0,
        packet,
        multitrack,
        fourcc,
        body: pos,
        legacy: None,
    })
}

/// One track of a multitrack message as a OneTrack message of its own:
/// the first byte keeps the frame type (video) with packet type
/// Multitrack, then OneTrack with the original inner packet type, the
/// track's FourCC, its id and its body. ModEx blocks are not carried
/// over. `None` when `part` has no FourCC or `header` is not E-RTMP
/// multitrack.
pub fn one_track(header: &MediaHeader, payload: &[u8], part: &TrackPart) -> Option<Vec<u8>> {
    header.multitrack?;
    let fourcc = part.fourcc?;
    let inner = raw_packet_type(header, payload)?;
    let first = match header.kind {
        AvKind::Video => 0x80 | (header.frame_type << 4) | PKT_VIDEO_MULTITRACK,
        AvKind::Audio => (SOUND_EX_HEADER << 4) | PKT_AUDIO_MULTITRACK,
    };
    let body = payload.get(part.body.clone())?;
    let mut out = Vec::with_capacity(7 + body.len());
    out.push(first);
    out.push((MULTITRACK_ONE_TRACK << 4) | inner);
    out.extend_from_slice(&fourcc);
    out.push(part.track);
    out.extend_from_slice(body);
    Some(out)
}

/// The raw inner packet type of a multitrack message (its 4-bit value,
/// which [`Packet`] normalises).
fn raw_packet_type(header: &MediaHeader, payload: &[u8]) -> Option<u8> {
    let mut pos = 1;
    let mut ptype = payload.first()? & 0x0F;
    if ptype == PKT_MODEX {
        (pos, ptype) = skip_modex(payload, pos)?;
    }
    let multitrack = match header.kind {
        AvKind::Video => PKT_VIDEO_MULTITRACK,
        AvKind::Audio => PKT_AUDIO_MULTITRACK,
    };
    (ptype == multitrack).then(|| payload.get(pos).map(|b| b & 0x0F))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ffmpeg9_one_track_hevc_sequence_start() {
        // 96 00 hvc1 01 <config>: key, Multitrack, OneTrack|SequenceStart, track 1.
        let p = b"\x96\x00hvc1\x01\x01\x02\x03";
        let h = parse(AvKind::Video, p).unwrap();
        assert_eq!(h.packet, Packet::SequenceStart);
        assert_eq!(h.multitrack, Some(MULTITRACK_ONE_TRACK));
        assert_eq!(h.fourcc, Some(*b"hvc1"));
        let parts = h.track_list(p).unwrap();
        assert_eq!(
            parts,
            vec![TrackPart {
                track: 1,
                fourcc: Some(*b"hvc1"),
                body: 7..10
            }]
        );
        assert!(!h.is_keyframe());
    }

    #[test]
    fn legacy_avc_and_aac_are_track_zero() {
        let h = parse(AvKind::Video, b"\x17\x01\x00\x00\x00nal").unwrap();
        assert!(h.is_keyframe());
        assert_eq!(h.fourcc, Some(*b"avc1"));
        assert_eq!(
            h.track_list(b"\x17\x01\x00\x00\x00nal").unwrap()[0].track,
            0
        );
        let a = parse(AvKind::Audio, b"\xaf\x00\x11\x90").unwrap();
        assert_eq!(a.packet, Packet::SequenceStart);
        assert_eq!(a.fourcc, Some(*b"mp4a"));
    }

    #[test]
    fn many_tracks_are_walked_and_split() {
        // audio ManyTracks SequenceStart Opus: track 0 (2 bytes), track 3 (1 byte).
        let p = b"\x95\x10Opus\x00\x00\x00\x02ab\x03\x00\x00\x01c";
        let h = parse(AvKind::Audio, p).unwrap();
        assert_eq!(h.packet, Packet::SequenceStart);
        let parts = h.track_list(p).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!((parts[1].track, &p[parts[1].body.clone()]), (3, &b"c"[..]));
        let one = one_track(&h, p, &parts[1]).unwrap();
        assert_eq!(one, b"\x95\x00Opus\x03c");
        let again = parse(AvKind::Audio, &one).unwrap();
        assert_eq!(again.track_list(&one).unwrap()[0].track, 3);
    }

    #[test]
    fn many_codecs_carry_a_fourcc_per_track() {
        let p = b"\x96\x21avc1\x00\x00\x00\x01xhvc1\x01\x00\x00\x00";
        let h = parse(AvKind::Video, p).unwrap();
        assert_eq!(h.fourcc, None);
        assert!(h.is_keyframe());
        let parts = h.track_list(p).unwrap();
        assert_eq!(parts[0].fourcc, Some(*b"avc1"));
        assert_eq!(parts[1].fourcc, Some(*b"hvc1"));
        assert_eq!(parts[1].body, 19..19);
    }

    #[test]
    fn a_size_past_the_end_is_an_overrun() {
        let p = b"\x96\x11hvc1\x00\x00\x00\x09abc";
        assert_eq!(
            parse_checked(AvKind::Video, p),
            Err(Overrun { at: 6, missing: 6 })
        );
        // a cut track header too
        let p = b"\x96\x11hvc1\x00\x00\x00\x01a\x01\x00";
        assert!(parse_checked(AvKind::Video, p).is_err());
    }

    #[test]
    fn command_frames_have_no_tracks() {
        let h = parse(AvKind::Video, b"\xd1\x00").unwrap();
        assert_eq!(h.packet, Packet::Command);
        assert_eq!(h.tracks(b"\xd1\x00").count(), 0);
        // but an info frame with Metadata is a Config packet
        let h = parse(AvKind::Video, b"\xd4hvc1\x02").unwrap();
        assert_eq!(h.packet, Packet::Config);
    }
}
