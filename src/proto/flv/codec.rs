//! Media classification: what an RTMP audio/video payload (= an FLV tag
//! body) is — codec, key frame, sequence header — for legacy FLV headers
//! and Enhanced RTMP (ExHeader, FourCC, ModEx, Multitrack), plus the codec
//! summaries the server logs. Looks at the first bytes only; never copies,
//! allocates or fails (`None` when too short to say).

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
