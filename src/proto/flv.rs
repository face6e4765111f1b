//! FLV file framing and media classification.
//!
//! # Rules for callers
//!
//! * **Classification** ([`classify_video`], [`classify_audio`],
//!   [`audio_codec`]) looks at the first bytes of an RTMP audio/video payload
//!   (which is exactly an FLV tag body) and never copies or allocates. Both
//!   legacy FLV tag headers and Enhanced RTMP (E-RTMP v1/v2: `IsExHeader`,
//!   FourCC, ModEx, Multitrack) are understood. A payload that is too short
//!   to say anything yields `None`; unknown values are reported as they are,
//!   never as an error.
//! * **Reading** ([`FlvReader`]) is a push parser. The caller appends file
//!   bytes to a `BytesMut` it owns and calls [`FlvReader::next_tag`] until it
//!   returns `Ok(None)` ("need more bytes"), then appends more. Each
//!   [`FlvTag::data`] is split off that buffer without copying. After the
//!   last bytes of a file, [`FlvReader::finish`] reports whether a header or
//!   tag was cut short. After an `Err` the reader is poisoned: every later
//!   call returns the same error.
//! * **Writing**: [`write_header`] once (it includes PreviousTagSize0 = 0),
//!   then [`write_tag`] per tag (tag header, body, then the trailing
//!   PreviousTagSize = 11 + body length).
//! * **Finalising**: [`find_number_property`] / [`patch_number_property`]
//!   locate the 8-byte big-endian f64 of an AMF0 number property (e.g.
//!   `duration`, `filesize`) inside an `onMetaData` script tag body so a
//!   recorder can patch it in place.
//!
//! Driving order of the reader:
//!
//! ```text
//!  Header --(9 bytes + DataOffset padding)--> PrevSize --(4 bytes)--> Tag
//!                                               ^                      |
//!                                               +--(11 + size bytes)---+ => yields FlvTag
//! ```
//!
//! PreviousTagSize fields are checked loosely: a mismatch is logged at
//! `debug!` and reading goes on (real files carry wrong ones). A tag body
//! larger than the reader's cap ([`DEFAULT_MAX_TAG_SIZE`] unless set with
//! [`FlvReader::with_max_tag_size`]) is [`FlvError::TagTooLarge`].

use bytes::{Buf, BufMut, Bytes, BytesMut};
use log::{debug, error, trace};
use std::fmt;

use super::message::{TYPE_AUDIO, TYPE_DATA_AMF0, TYPE_VIDEO};

/// FLV tag types: by the FLV specification, the RTMP message type ids.
pub const TAG_AUDIO: u8 = TYPE_AUDIO;
pub const TAG_VIDEO: u8 = TYPE_VIDEO;
pub const TAG_SCRIPT: u8 = TYPE_DATA_AMF0;

/// Bytes of the FLV file header (signature, version, flags, data offset).
pub const FLV_HEADER_LEN: usize = 9;
/// Bytes of an FLV tag header (type, size, timestamp, extended, stream id).
pub const TAG_HEADER_LEN: usize = 11;
/// Default cap on one tag's body size (8 MiB). The field itself is 24 bits,
/// so anything up to 16 MiB - 1 is representable; larger caps are clamped.
pub const DEFAULT_MAX_TAG_SIZE: u32 = 8 * 1024 * 1024;
/// Largest tag body the 24-bit DataSize field can describe.
pub const MAX_TAG_DATA_SIZE: u32 = 0x00FF_FFFF;
/// Largest padding between the 9-byte header and PreviousTagSize0 we accept.
pub const MAX_HEADER_PADDING: u32 = 64 * 1024;

/// Bit 5 of the tag type byte: the tag body is filtered (encrypted).
pub const TAG_FILTER_BIT: u8 = 0x20;

// ---------------------------------------------------------------------------
// Classification
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoCodec {
    /// Legacy codec id (2 Sorenson, 4 VP6, 7 AVC, 12 HEVC as used by some).
    Legacy(u8),
    /// Enhanced RTMP FourCC, e.g. `*b"hvc1"`. `[0; 4]` for an E-RTMP command
    /// frame (which carries no FourCC) or a ManyTracksManyCodecs multitrack
    /// packet (whose FourCCs are per track).
    FourCc([u8; 4]),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoPacket {
    /// Decoder configuration (AVC/HEVC sequence header, ERTMP SequenceStart
    /// or MPEG2TSSequenceStart).
    SequenceHeader,
    /// Coded frames (AVC NALU, ERTMP CodedFrames/CodedFramesX).
    Frame,
    /// End of sequence.
    SequenceEnd,
    /// ERTMP Metadata, Multitrack, command/info frames, or anything else
    /// that is not a picture.
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoInfo {
    pub codec: VideoCodec,
    /// Frame type 1 (key frame) or 4 (generated key frame).
    pub keyframe: bool,
    pub packet: VideoPacket,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioInfo {
    /// SoundFormat (10 = AAC, 2 = MP3, 9 = E-RTMP ExHeader, ...).
    pub format: u8,
    /// True for an AAC sequence header (AudioSpecificConfig) or an E-RTMP
    /// audio SequenceStart.
    pub sequence_header: bool,
}

/// An audio codec: legacy SoundFormat or E-RTMP FourCC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioCodec {
    /// Legacy SoundFormat (2 MP3, 10 AAC, 11 Speex, ...).
    Legacy(u8),
    /// Enhanced RTMP FourCC, e.g. `*b"Opus"`; `[0; 4]` for a
    /// ManyTracksManyCodecs multitrack packet.
    FourCc([u8; 4]),
}

/// Either kind of codec, for [`codec_name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Video(VideoCodec),
    Audio(AudioCodec),
}

impl From<VideoCodec> for Codec {
    fn from(c: VideoCodec) -> Self {
        Codec::Video(c)
    }
}

impl From<AudioCodec> for Codec {
    fn from(c: AudioCodec) -> Self {
        Codec::Audio(c)
    }
}

/// Legacy VideoTagHeader frame types.
const FRAME_KEY: u8 = 1;
const FRAME_GENERATED_KEY: u8 = 4;
const FRAME_COMMAND: u8 = 5;
/// Legacy codec ids that carry an AVCPacketType byte.
const CODEC_AVC: u8 = 7;
const CODEC_HEVC_LEGACY: u8 = 12;
/// E-RTMP VideoPacketType / AudioPacketType values.
const PKT_SEQUENCE_START: u8 = 0;
const PKT_CODED_FRAMES: u8 = 1;
const PKT_SEQUENCE_END: u8 = 2;
const PKT_CODED_FRAMES_X: u8 = 3;
const PKT_METADATA: u8 = 4;
const PKT_MPEG2TS_SEQUENCE_START: u8 = 5;
const PKT_VIDEO_MULTITRACK: u8 = 6;
const PKT_AUDIO_MULTITRACK: u8 = 5;
const PKT_MODEX: u8 = 7;
/// AvMultitrackType whose tracks each carry their own FourCC.
const MULTITRACK_MANY_CODECS: u8 = 2;
/// SoundFormat values.
const SOUND_AAC: u8 = 10;
const SOUND_EX_HEADER: u8 = 9;

/// Skips the ModEx blocks of an E-RTMP header. `pos` points just after the
/// byte whose low nibble was ModEx; returns the position after the byte that
/// holds the final packet type, and that packet type. `None` if cut short.
fn skip_modex(payload: &[u8], mut pos: usize) -> Option<(usize, u8)> {
    loop {
        let mut size = usize::from(*payload.get(pos)?) + 1;
        pos += 1;
        if size == 256 {
            let hi = *payload.get(pos)?;
            let lo = *payload.get(pos + 1)?;
            size = usize::from(u16::from_be_bytes([hi, lo])) + 1;
            pos += 2;
        }
        pos = pos.checked_add(size)?;
        // High nibble: ModEx type; low nibble: the next packet type.
        let next = *payload.get(pos)?;
        pos += 1;
        let packet_type = next & 0x0F;
        if packet_type != PKT_MODEX {
            return Some((pos, packet_type));
        }
    }
}

fn fourcc_at(payload: &[u8], pos: usize) -> Option<[u8; 4]> {
    let end = pos.checked_add(4)?;
    let s = payload.get(pos..end)?;
    Some([s[0], s[1], s[2], s[3]])
}

/// Classifies an RTMP video payload (= FLV video tag body).
///
/// `None` for an empty payload, and for an E-RTMP header cut short before
/// its FourCC (the codec cannot be named then).
pub fn classify_video(payload: &[u8]) -> Option<VideoInfo> {
    let b0 = *payload.first()?;
    if b0 & 0x80 != 0 {
        return classify_video_ex(payload, b0);
    }
    let frame_type = b0 >> 4;
    let codec_id = b0 & 0x0F;
    let keyframe = frame_type == FRAME_KEY || frame_type == FRAME_GENERATED_KEY;
    let packet = if frame_type == FRAME_COMMAND {
        // Video info/command frame: the next byte is a command, not a packet type.
        VideoPacket::Other
    } else if codec_id == CODEC_AVC || codec_id == CODEC_HEVC_LEGACY {
        match payload.get(1) {
            Some(0) => VideoPacket::SequenceHeader,
            Some(1) => VideoPacket::Frame,
            Some(2) => VideoPacket::SequenceEnd,
            _ => VideoPacket::Other,
        }
    } else {
        VideoPacket::Frame
    };
    Some(VideoInfo {
        codec: VideoCodec::Legacy(codec_id),
        keyframe,
        packet,
    })
}

fn classify_video_ex(payload: &[u8], b0: u8) -> Option<VideoInfo> {
    // UB[1] IsExHeader, UB[3] VideoFrameType, UB[4] VideoPacketType.
    let frame_type = (b0 >> 4) & 0x07;
    let keyframe = frame_type == FRAME_KEY || frame_type == FRAME_GENERATED_KEY;
    let mut packet_type = b0 & 0x0F;
    let mut pos = 1;
    if packet_type == PKT_MODEX {
        (pos, packet_type) = skip_modex(payload, pos)?;
    }
    if frame_type == FRAME_COMMAND && packet_type != PKT_METADATA {
        // A command frame: UI8 VideoCommand follows, no FourCC, no body.
        return Some(VideoInfo {
            codec: VideoCodec::FourCc([0; 4]),
            keyframe: false,
            packet: VideoPacket::Other,
        });
    }
    if packet_type == PKT_VIDEO_MULTITRACK {
        // UB[4] AvMultitrackType, UB[4] inner packet type, then a FourCC
        // unless every track has its own.
        let b = *payload.get(pos)?;
        pos += 1;
        let codec = if b >> 4 == MULTITRACK_MANY_CODECS {
            [0; 4]
        } else {
            fourcc_at(payload, pos)?
        };
        return Some(VideoInfo {
            codec: VideoCodec::FourCc(codec),
            keyframe,
            packet: VideoPacket::Other,
        });
    }
    let codec = fourcc_at(payload, pos)?;
    let packet = match packet_type {
        PKT_SEQUENCE_START | PKT_MPEG2TS_SEQUENCE_START => VideoPacket::SequenceHeader,
        PKT_CODED_FRAMES | PKT_CODED_FRAMES_X => VideoPacket::Frame,
        PKT_SEQUENCE_END => VideoPacket::SequenceEnd,
        _ => VideoPacket::Other,
    };
    Some(VideoInfo {
        codec: VideoCodec::FourCc(codec),
        keyframe,
        packet,
    })
}

/// Classifies an RTMP audio payload (= FLV audio tag body).
///
/// `None` for an empty payload. For E-RTMP audio (`format == 9`) the
/// packet type after any ModEx blocks (for Multitrack: the tracks' packet
/// type) decides `sequence_header`; a header cut short is reported as not a
/// sequence header.
pub fn classify_audio(payload: &[u8]) -> Option<AudioInfo> {
    let b0 = *payload.first()?;
    let format = b0 >> 4;
    let sequence_header = match format {
        SOUND_AAC => payload.get(1) == Some(&0),
        SOUND_EX_HEADER => ex_audio_header(payload, b0).map(|(p, _)| p) == Some(PKT_SEQUENCE_START),
        _ => false,
    };
    Some(AudioInfo {
        format,
        sequence_header,
    })
}

/// Parses an E-RTMP audio header (SoundFormat 9): the effective packet type
/// (the inner one for Multitrack) and the position of the FourCC (`None` for
/// ManyTracksManyCodecs, where each track has its own). `None` if cut short.
fn ex_audio_header(payload: &[u8], b0: u8) -> Option<(u8, Option<usize>)> {
    let mut packet_type = b0 & 0x0F;
    let mut pos = 1;
    if packet_type == PKT_MODEX {
        (pos, packet_type) = skip_modex(payload, pos)?;
    }
    if packet_type == PKT_AUDIO_MULTITRACK {
        // UB[4] AvMultitrackType, UB[4] AudioPacketType of every track.
        let b = *payload.get(pos)?;
        pos += 1;
        let fourcc_pos = (b >> 4 != MULTITRACK_MANY_CODECS).then_some(pos);
        return Some((b & 0x0F, fourcc_pos));
    }
    Some((packet_type, Some(pos)))
}

/// The audio codec of an RTMP audio payload: the legacy SoundFormat or, for
/// E-RTMP (SoundFormat 9), its FourCC (`[0; 4]` for a ManyTracksManyCodecs
/// multitrack packet). `None` if empty or cut short before the FourCC.
pub fn audio_codec(payload: &[u8]) -> Option<AudioCodec> {
    let b0 = *payload.first()?;
    let format = b0 >> 4;
    if format != SOUND_EX_HEADER {
        return Some(AudioCodec::Legacy(format));
    }
    match ex_audio_header(payload, b0)? {
        (_, Some(pos)) => fourcc_at(payload, pos).map(AudioCodec::FourCc),
        (_, None) => Some(AudioCodec::FourCc([0; 4])),
    }
}

/// True if a viewer can start decoding at this video message: a key frame
/// that carries a coded picture (not a sequence header or metadata).
pub fn is_decodable_start(info: &VideoInfo) -> bool {
    info.keyframe && info.packet == VideoPacket::Frame
}

/// A short human name for a codec, for log lines ("H.264", "AAC", ...).
/// `"unknown"` for ids and FourCCs not listed.
pub fn codec_name(codec: impl Into<Codec>) -> &'static str {
    match codec.into() {
        Codec::Video(VideoCodec::Legacy(id)) => match id {
            1 => "JPEG",
            2 => "Sorenson H.263",
            3 => "Screen video",
            4 => "VP6",
            5 => "VP6 alpha",
            6 => "Screen video 2",
            7 => "H.264",
            12 => "HEVC",
            _ => "unknown",
        },
        Codec::Video(VideoCodec::FourCc(cc)) => match &cc {
            b"avc1" => "H.264",
            b"hvc1" => "HEVC",
            b"av01" => "AV1",
            b"vp09" => "VP9",
            b"vp08" => "VP8",
            _ => "unknown",
        },
        Codec::Audio(AudioCodec::Legacy(f)) => match f {
            0 => "PCM",
            1 => "ADPCM",
            2 => "MP3",
            3 => "PCM LE",
            4..=6 => "Nellymoser",
            7 => "G.711 A-law",
            8 => "G.711 mu-law",
            10 => "AAC",
            11 => "Speex",
            14 => "MP3 8 kHz",
            15 => "Device-specific",
            _ => "unknown",
        },
        Codec::Audio(AudioCodec::FourCc(cc)) => match &cc {
            b"mp4a" => "AAC",
            b"Opus" => "Opus",
            b"fLaC" => "FLAC",
            b"ac-3" => "AC-3",
            b"ec-3" => "E-AC-3",
            b".mp3" => "MP3",
            _ => "unknown",
        },
    }
}

/// The AVCDecoderConfigurationRecord of an AVC sequence header tag body
/// (legacy `0x?7 00 cts cts cts` or E-RTMP SequenceStart `avc1`).
fn avc_record(body: &[u8]) -> Option<&[u8]> {
    let info = classify_video(body)?;
    if info.packet != VideoPacket::SequenceHeader {
        return None;
    }
    match info.codec {
        VideoCodec::Legacy(CODEC_AVC) => body.get(5..),
        VideoCodec::FourCc(cc) if &cc == b"avc1" && body[0] & 0x0F == PKT_SEQUENCE_START => {
            body.get(5..)
        }
        _ => None,
    }
}

/// `(profile_idc, level_idc)` from an AVC sequence header tag body, for the
/// "codecs detected" log line. `None` if the body is not an AVC sequence
/// header or its record is too short or not version 1.
pub fn avc_config_summary(seq_header_body: &[u8]) -> Option<(u8, u8)> {
    let rec = avc_record(seq_header_body)?;
    // configurationVersion, AVCProfileIndication, profile_compatibility,
    // AVCLevelIndication.
    if rec.len() < 4 || rec[0] != 1 {
        return None;
    }
    Some((rec[1], rec[3]))
}

/// Sampling frequencies indexed by the AudioSpecificConfig's 4-bit index.
const AAC_RATES: [u32; 13] = [
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];

/// Reads bits MSB first from a byte slice.
struct BitReader<'a> {
    data: &'a [u8],
    bit: usize,
}

impl BitReader<'_> {
    fn read(&mut self, n: u32) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            let byte = *self.data.get(self.bit / 8)?;
            let b = (byte >> (7 - (self.bit % 8))) & 1;
            v = (v << 1) | u32::from(b);
            self.bit += 1;
        }
        Some(v)
    }
}

/// `(audio object type, sample rate in Hz, channel configuration)` from an
/// AAC sequence header tag body (legacy SoundFormat 10 with AACPacketType 0,
/// or E-RTMP SequenceStart `mp4a`). `None` if the body is not one or its
/// AudioSpecificConfig is cut short or uses a reserved frequency index.
pub fn aac_config_summary(seq_header_body: &[u8]) -> Option<(u8, u32, u8)> {
    let b0 = *seq_header_body.first()?;
    let asc = match b0 >> 4 {
        SOUND_AAC if seq_header_body.get(1) == Some(&0) => seq_header_body.get(2..)?,
        SOUND_EX_HEADER if b0 & 0x0F == PKT_SEQUENCE_START => {
            if fourcc_at(seq_header_body, 1)? != *b"mp4a" {
                return None;
            }
            seq_header_body.get(5..)?
        }
        _ => return None,
    };
    let mut r = BitReader { data: asc, bit: 0 };
    let mut object_type = r.read(5)?;
    if object_type == 31 {
        object_type = 32 + r.read(6)?;
    }
    let freq_index = r.read(4)?;
    let rate = if freq_index == 15 {
        r.read(24)?
    } else {
        *AAC_RATES.get(freq_index as usize)?
    };
    let channels = r.read(4)?;
    Some((object_type as u8, rate, channels as u8))
}

// ---------------------------------------------------------------------------
// AMF0 byte helpers for finalising a recording
// ---------------------------------------------------------------------------

/// Byte offset, inside a script tag body, of the 8-byte big-endian f64 of the
/// AMF0 number property named `key` (e.g. `duration`, `filesize`), so a
/// recorder can patch it in place. `None` if absent, if `key` is longer than
/// 65535 bytes, or if fewer than 8 bytes follow the number marker.
///
/// The usual shape (`string name, ECMA array or object`) is walked value by
/// value, so a *string value* spelling the key cannot be mistaken for it;
/// only top-level properties of that array/object match. If the body has
/// another shape or a value this walker does not know, it falls back to
/// scanning the bytes for the property-name encoding (u16 length, name,
/// number marker 0x00) and returns the first hit.
pub fn find_number_property(body: &[u8], key: &str) -> Option<usize> {
    let name = key.as_bytes();
    u16::try_from(name.len()).ok()?;
    match walk_for_number(body, name) {
        Walk::Found(off) => Some(off),
        Walk::Absent => None,
        Walk::Unknown => scan_for_number(body, name),
    }
}

enum Walk {
    Found(usize),
    Absent,
    Unknown,
}

/// Nesting cap for skipping AMF0 values while walking a script body.
const AMF0_WALK_DEPTH: u8 = 16;

fn walk_for_number(body: &[u8], name: &[u8]) -> Walk {
    // String marker, u16 length, name (e.g. "onMetaData").
    let Some(pos) = (|| {
        if *body.first()? != 0x02 {
            return None;
        }
        let n = usize::from(u16::from_be_bytes([*body.get(1)?, *body.get(2)?]));
        Some(3 + n)
    })() else {
        return Walk::Unknown;
    };
    let mut pos = match body.get(pos) {
        Some(0x08) => pos + 5, // ECMA array: marker, u32 count (advisory)
        Some(0x03) => pos + 1, // object
        _ => return Walk::Unknown,
    };
    loop {
        let Some(len) = body.get(pos..pos + 2) else {
            return Walk::Unknown;
        };
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        if len == 0 && body.get(pos + 2) == Some(&0x09) {
            return Walk::Absent;
        }
        let Some(prop) = body.get(pos + 2..pos + 2 + len) else {
            return Walk::Unknown;
        };
        let value = pos + 2 + len;
        if prop == name && body.get(value) == Some(&0x00) {
            return if body.len() >= value + 9 {
                Walk::Found(value + 1)
            } else {
                Walk::Absent
            };
        }
        match skip_amf0_value(body, value, AMF0_WALK_DEPTH) {
            Some(next) => pos = next,
            None => return Walk::Unknown,
        }
    }
}

/// Position after the AMF0 value starting at `pos`; `None` if cut short,
/// too deep, or of a type this walker does not skip.
fn skip_amf0_value(body: &[u8], pos: usize, depth: u8) -> Option<usize> {
    let depth = depth.checked_sub(1)?;
    let u16_at = |p: usize| -> Option<usize> {
        Some(usize::from(u16::from_be_bytes([
            *body.get(p)?,
            *body.get(p + 1)?,
        ])))
    };
    let u32_at = |p: usize| -> Option<usize> {
        let s = body.get(p..p.checked_add(4)?)?;
        usize::try_from(u32::from_be_bytes([s[0], s[1], s[2], s[3]])).ok()
    };
    let end = match *body.get(pos)? {
        0x00 => pos + 9,                                  // number
        0x01 => pos + 2,                                  // boolean
        0x02 => pos + 3 + u16_at(pos + 1)?,               // string
        0x05 | 0x06 => pos + 1,                           // null, undefined
        0x07 => pos + 3,                                  // reference
        0x0B => pos + 11,                                 // date
        0x0C => (pos + 5).checked_add(u32_at(pos + 1)?)?, // long string
        marker @ (0x03 | 0x08) => {
            // Object / ECMA array: properties until an empty name + 0x09.
            let mut p = if marker == 0x08 { pos + 5 } else { pos + 1 };
            loop {
                let len = u16_at(p)?;
                if len == 0 && *body.get(p + 2)? == 0x09 {
                    break p + 3;
                }
                p = skip_amf0_value(body, p + 2 + len, depth)?;
            }
        }
        0x0A => {
            // Strict array: u32 count, then values.
            let count = u32_at(pos + 1)?;
            let mut p = pos + 5;
            for _ in 0..count {
                p = skip_amf0_value(body, p, depth)?;
            }
            p
        }
        _ => return None,
    };
    (end <= body.len()).then_some(end)
}

/// The plain byte scan: first `u16 len, name, 0x00` followed by 8 bytes.
fn scan_for_number(body: &[u8], name: &[u8]) -> Option<usize> {
    let len = u16::try_from(name.len()).ok()?.to_be_bytes();
    let needle_len = 2 + name.len() + 1;
    if body.len() < needle_len + 8 {
        return None;
    }
    (0..=body.len() - needle_len - 8)
        .find(|&i| {
            body[i..i + 2] == len
                && &body[i + 2..i + 2 + name.len()] == name
                && body[i + 2 + name.len()] == 0x00
        })
        .map(|i| i + needle_len)
}

/// Overwrites the AMF0 number property `key` in a script tag body with
/// `value`. Returns false (and changes nothing) if the property is absent.
pub fn patch_number_property(body: &mut [u8], key: &str, value: f64) -> bool {
    match find_number_property(body, key) {
        Some(off) => {
            body[off..off + 8].copy_from_slice(&value.to_be_bytes());
            true
        }
        None => false,
    }
}

// ---------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------

/// One FLV tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlvTag {
    /// Tag type without the filter bit (8 audio, 9 video, 18 script).
    pub tag_type: u8,
    /// 32-bit timestamp (24 bits + extended byte).
    pub timestamp: u32,
    pub data: Bytes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlvHeader {
    pub has_audio: bool,
    pub has_video: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FlvError {
    /// The file does not start with `FLV`.
    BadSignature,
    /// Version is not 1, or DataOffset is below 9 or above
    /// [`MAX_HEADER_PADDING`] + 9.
    BadHeader,
    /// A tag body size above the reader's cap (the size is carried).
    TagTooLarge(u32),
    /// The input ended inside the header or a tag (bytes left over).
    Truncated(usize),
}

impl fmt::Display for FlvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlvError::BadSignature => f.write_str("FLV: bad signature (expected \"FLV\")"),
            FlvError::BadHeader => f.write_str("FLV: bad header (version or data offset)"),
            FlvError::TagTooLarge(n) => write!(f, "FLV: tag data size {n} above the cap"),
            FlvError::Truncated(n) => {
                write!(f, "FLV: input ends inside a header or tag ({n} bytes left)")
            }
        }
    }
}

impl std::error::Error for FlvError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadState {
    /// Waiting for the 9-byte file header.
    Header,
    /// Skipping header padding (DataOffset beyond 9).
    Padding(u32),
    /// Waiting for a PreviousTagSize field.
    PrevSize,
    /// Waiting for a whole tag (header + body).
    Tag,
}

/// Push parser over an FLV file's bytes. See the module docs for the rules.
#[derive(Debug)]
pub struct FlvReader {
    state: ReadState,
    header: Option<FlvHeader>,
    max_tag_size: u32,
    /// The PreviousTagSize value the next field should carry.
    expected_prev: u32,
    prev_size_mismatches: u64,
    filtered_tags: u64,
    tags: u64,
    error: Option<FlvError>,
}

impl FlvReader {
    pub fn new() -> Self {
        Self::with_max_tag_size(DEFAULT_MAX_TAG_SIZE)
    }

    /// A reader that rejects tag bodies larger than `max` bytes (clamped to
    /// the 24-bit maximum).
    pub fn with_max_tag_size(max: u32) -> Self {
        FlvReader {
            state: ReadState::Header,
            header: None,
            max_tag_size: max.min(MAX_TAG_DATA_SIZE),
            expected_prev: 0,
            prev_size_mismatches: 0,
            filtered_tags: 0,
            tags: 0,
            error: None,
        }
    }

    /// The file header once parsed.
    pub fn header(&self) -> Option<FlvHeader> {
        self.header
    }

    /// How many PreviousTagSize fields disagreed with the preceding tag.
    pub fn prev_size_mismatches(&self) -> u64 {
        self.prev_size_mismatches
    }

    /// How many tags had the filter (encrypted) bit set.
    pub fn filtered_tags(&self) -> u64 {
        self.filtered_tags
    }

    /// Tags yielded so far.
    pub fn tags_read(&self) -> u64 {
        self.tags
    }

    fn fail(&mut self, e: FlvError) -> Result<Option<FlvTag>, FlvError> {
        debug!("flv: {e}");
        self.error = Some(e.clone());
        Err(e)
    }

    /// Next tag, or `Ok(None)` if more bytes are needed.
    pub fn next_tag(&mut self, buf: &mut BytesMut) -> Result<Option<FlvTag>, FlvError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        loop {
            match self.state {
                ReadState::Header => {
                    if buf.len() < 3 {
                        // Reject a wrong signature as early as it is visible.
                        if !b"FLV".starts_with(&buf[..]) {
                            return self.fail(FlvError::BadSignature);
                        }
                        return Ok(None);
                    }
                    if &buf[..3] != b"FLV" {
                        return self.fail(FlvError::BadSignature);
                    }
                    if buf.len() < FLV_HEADER_LEN {
                        return Ok(None);
                    }
                    let version = buf[3];
                    let flags = buf[4];
                    let offset = u32::from_be_bytes([buf[5], buf[6], buf[7], buf[8]]);
                    if version != 1 || offset < FLV_HEADER_LEN as u32 {
                        return self.fail(FlvError::BadHeader);
                    }
                    let padding = offset - FLV_HEADER_LEN as u32;
                    if padding > MAX_HEADER_PADDING {
                        return self.fail(FlvError::BadHeader);
                    }
                    buf.advance(FLV_HEADER_LEN);
                    let header = FlvHeader {
                        has_audio: flags & 0x04 != 0,
                        has_video: flags & 0x01 != 0,
                    };
                    debug!(
                        "flv: header version 1 audio={} video={} data offset {offset}",
                        header.has_audio, header.has_video
                    );
                    self.header = Some(header);
                    self.state = ReadState::Padding(padding);
                }
                ReadState::Padding(left) => {
                    let n = (left as usize).min(buf.len());
                    buf.advance(n);
                    let left = left - n as u32;
                    if left > 0 {
                        self.state = ReadState::Padding(left);
                        return Ok(None);
                    }
                    self.state = ReadState::PrevSize;
                }
                ReadState::PrevSize => {
                    if buf.len() < 4 {
                        return Ok(None);
                    }
                    let prev = buf.get_u32();
                    if prev != self.expected_prev {
                        self.prev_size_mismatches += 1;
                        debug!(
                            "flv: PreviousTagSize {prev} after tag {} (expected {}), continuing",
                            self.tags, self.expected_prev
                        );
                    }
                    self.state = ReadState::Tag;
                }
                ReadState::Tag => {
                    if buf.len() < TAG_HEADER_LEN {
                        return Ok(None);
                    }
                    let type_byte = buf[0];
                    let size = u32::from_be_bytes([0, buf[1], buf[2], buf[3]]);
                    if size > self.max_tag_size {
                        return self.fail(FlvError::TagTooLarge(size));
                    }
                    let total = TAG_HEADER_LEN + size as usize;
                    if buf.len() < total {
                        return Ok(None);
                    }
                    let timestamp = u32::from_be_bytes([buf[7], buf[4], buf[5], buf[6]]);
                    let stream_id = u32::from_be_bytes([0, buf[8], buf[9], buf[10]]);
                    if stream_id != 0 {
                        debug!(
                            "flv: tag {} has stream id {stream_id} (expected 0)",
                            self.tags
                        );
                    }
                    if type_byte & TAG_FILTER_BIT != 0 {
                        self.filtered_tags += 1;
                        debug!("flv: tag {} is filtered (encrypted)", self.tags);
                    }
                    let tag_type = type_byte & 0x1F;
                    buf.advance(TAG_HEADER_LEN);
                    let data = buf.split_to(size as usize).freeze();
                    trace!("flv: tag type {tag_type} ts {timestamp} size {size}");
                    self.expected_prev = TAG_HEADER_LEN as u32 + size;
                    self.tags += 1;
                    self.state = ReadState::PrevSize;
                    return Ok(Some(FlvTag {
                        tag_type,
                        timestamp,
                        data,
                    }));
                }
            }
        }
    }

    /// Call once the input has ended and [`next_tag`](Self::next_tag)
    /// returned `Ok(None)`: `Ok` if the file ended cleanly (after the header,
    /// after a tag, or after a trailing PreviousTagSize), otherwise
    /// [`FlvError::Truncated`] with the number of bytes left in `buf`.
    pub fn finish(&self, buf: &BytesMut) -> Result<(), FlvError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        match self.state {
            ReadState::Header | ReadState::Padding(_) => Err(FlvError::Truncated(buf.len())),
            // A file cut right after a tag body (no final PreviousTagSize) is
            // still complete; a partial PreviousTagSize is not.
            ReadState::PrevSize | ReadState::Tag if buf.is_empty() => Ok(()),
            _ => Err(FlvError::Truncated(buf.len())),
        }
    }
}

impl Default for FlvReader {
    fn default() -> Self {
        Self::new()
    }
}

/// Reads a whole FLV file held in memory. Tag bodies share `bytes`'
/// allocation only if `bytes` is uniquely owned; otherwise one copy is made.
/// Strict: a file cut inside a tag is [`FlvError::Truncated`].
pub fn read_all(bytes: Bytes) -> Result<(FlvHeader, Vec<FlvTag>), FlvError> {
    let mut buf = BytesMut::from(bytes);
    let mut reader = FlvReader::new();
    let mut tags = Vec::new();
    while let Some(tag) = reader.next_tag(&mut buf)? {
        tags.push(tag);
    }
    reader.finish(&buf)?;
    let header = reader.header().ok_or(FlvError::Truncated(buf.len()))?;
    Ok((header, tags))
}

// ---------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------

/// FLV header (9 bytes) plus PreviousTagSize0.
pub fn write_header(header: FlvHeader, out: &mut BytesMut) {
    let mut flags = 0u8;
    if header.has_audio {
        flags |= 0x04;
    }
    if header.has_video {
        flags |= 0x01;
    }
    out.reserve(FLV_HEADER_LEN + 4);
    out.put_slice(b"FLV");
    out.put_u8(1);
    out.put_u8(flags);
    out.put_u32(FLV_HEADER_LEN as u32);
    out.put_u32(0);
}

/// Tag header, body and trailing PreviousTagSize, or
/// [`FlvError::TagTooLarge`] (writing nothing) if `data` does not fit the
/// 24-bit size field.
pub fn try_write_tag(
    tag_type: u8,
    timestamp: u32,
    data: &[u8],
    out: &mut BytesMut,
) -> Result<(), FlvError> {
    let size = u32::try_from(data.len()).unwrap_or(u32::MAX);
    if size > MAX_TAG_DATA_SIZE {
        return Err(FlvError::TagTooLarge(size));
    }
    out.reserve(TAG_HEADER_LEN + data.len() + 4);
    out.put_u8(tag_type);
    out.put_slice(&size.to_be_bytes()[1..]);
    let ts = timestamp.to_be_bytes();
    out.put_slice(&[ts[1], ts[2], ts[3], ts[0]]);
    out.put_slice(&[0, 0, 0]);
    out.put_slice(data);
    out.put_u32(TAG_HEADER_LEN as u32 + size);
    Ok(())
}

/// Tag header, body and trailing PreviousTagSize.
///
/// A body above 16 MiB - 1 cannot be framed: that is a caller bug
/// (`debug_assert!`); in release it is logged with `error!` and nothing is
/// written. Use [`try_write_tag`] to handle it.
pub fn write_tag(tag_type: u8, timestamp: u32, data: &[u8], out: &mut BytesMut) {
    if let Err(e) = try_write_tag(tag_type, timestamp, data, out) {
        debug_assert!(false, "write_tag: {e}");
        error!("flv write_tag: {e}; tag dropped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_display() {
        assert_eq!(
            FlvError::BadSignature.to_string(),
            "FLV: bad signature (expected \"FLV\")"
        );
        assert_eq!(
            FlvError::BadHeader.to_string(),
            "FLV: bad header (version or data offset)"
        );
        assert_eq!(
            FlvError::TagTooLarge(9_000_000).to_string(),
            "FLV: tag data size 9000000 above the cap"
        );
        assert_eq!(
            FlvError::Truncated(7).to_string(),
            "FLV: input ends inside a header or tag (7 bytes left)"
        );
    }

    #[test]
    fn modex_is_skipped() {
        // Ex video, key frame, ModEx; 1 byte of ModEx data; then
        // ModExType 0 / packet type CodedFrames; FourCC.
        let p = [0x80 | 0x10 | 7, 0x00, 0xAB, 0x01, b'h', b'v', b'c', b'1'];
        let info = classify_video(&p).unwrap();
        assert_eq!(info.codec, VideoCodec::FourCc(*b"hvc1"));
        assert_eq!(info.packet, VideoPacket::Frame);
        assert!(info.keyframe);
        // Cut inside the ModEx data: codec unknown.
        assert_eq!(classify_video(&p[..3]), None);
    }

    #[test]
    fn modex_16bit_size() {
        // size byte 255 => 16-bit size follows (+1): 0x0100 + 1 = 257 bytes.
        let mut p = vec![0x80 | 0x20 | 7, 0xFF, 0x01, 0x00];
        p.extend(std::iter::repeat_n(0u8, 257));
        p.push(0x03);
        p.extend_from_slice(b"av01");
        let info = classify_video(&p).unwrap();
        assert_eq!(info.codec, VideoCodec::FourCc(*b"av01"));
        assert_eq!(info.packet, VideoPacket::Frame);
        assert!(!info.keyframe);
    }

    #[test]
    fn bit_reader_reads_msb_first() {
        let mut r = BitReader {
            data: &[0b1010_0000, 0xFF],
            bit: 0,
        };
        assert_eq!(r.read(3), Some(0b101));
        assert_eq!(r.read(5), Some(0));
        assert_eq!(r.read(8), Some(0xFF));
        assert_eq!(r.read(1), None);
    }

    #[test]
    fn finish_reports_truncation() {
        let mut r = FlvReader::new();
        let mut buf = BytesMut::from(&b"FLV\x01"[..]);
        assert_eq!(r.next_tag(&mut buf), Ok(None));
        assert_eq!(r.finish(&buf), Err(FlvError::Truncated(4)));
    }
}
