//! FLV file framing and media classification (SKELETON — contract only).
//!
//! Contract:
//! * [`classify_video`] / [`classify_audio`] inspect the first bytes of an
//!   RTMP audio/video payload (= FLV tag body) without copying: codec,
//!   keyframe, sequence header. Enhanced RTMP (IsExHeader) is understood.
//! * [`FlvReader`] is a push parser over a file's bytes yielding [`FlvTag`]s;
//!   [`write_header`] / [`write_tag`] produce file bytes (PreviousTagSize
//!   included).

use bytes::{Bytes, BytesMut};

pub const TAG_AUDIO: u8 = 8;
pub const TAG_VIDEO: u8 = 9;
pub const TAG_SCRIPT: u8 = 18;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoCodec {
    /// Legacy codec id (2 Sorenson, 4 VP6, 7 AVC, 12 HEVC as used by some).
    Legacy(u8),
    /// Enhanced RTMP FourCC, e.g. `*b"hvc1"`.
    FourCc([u8; 4]),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoPacket {
    /// Decoder configuration (AVC/HEVC sequence header, ERTMP SequenceStart).
    SequenceHeader,
    /// Coded frames (AVC NALU, ERTMP CodedFrames/CodedFramesX).
    Frame,
    /// End of sequence.
    SequenceEnd,
    /// ERTMP Metadata packet or anything else that is not a picture.
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoInfo {
    pub codec: VideoCodec,
    pub keyframe: bool,
    pub packet: VideoPacket,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioInfo {
    /// SoundFormat (10 = AAC, 2 = MP3, ...).
    pub format: u8,
    /// True for an AAC sequence header (AudioSpecificConfig).
    pub sequence_header: bool,
}

/// `None` for an empty payload.
pub fn classify_video(_payload: &[u8]) -> Option<VideoInfo> {
    unimplemented!()
}
/// `None` for an empty payload.
pub fn classify_audio(_payload: &[u8]) -> Option<AudioInfo> {
    unimplemented!()
}

/// One FLV tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlvTag {
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
    BadSignature,
    BadHeader,
    TagTooLarge(u32),
}

/// Push parser over an FLV file's bytes.
#[derive(Debug)]
pub struct FlvReader {
    _private: (),
}

impl FlvReader {
    pub fn new() -> Self {
        unimplemented!()
    }
    /// The file header once parsed.
    pub fn header(&self) -> Option<FlvHeader> {
        unimplemented!()
    }
    /// Next tag, or `Ok(None)` if more bytes are needed.
    pub fn next_tag(&mut self, _buf: &mut BytesMut) -> Result<Option<FlvTag>, FlvError> {
        unimplemented!()
    }
}

impl Default for FlvReader {
    fn default() -> Self {
        Self::new()
    }
}

/// FLV header (9 bytes) plus PreviousTagSize0.
pub fn write_header(_header: FlvHeader, _out: &mut BytesMut) {
    unimplemented!()
}
/// Tag header, body and trailing PreviousTagSize.
pub fn write_tag(_tag_type: u8, _timestamp: u32, _data: &[u8], _out: &mut BytesMut) {
    unimplemented!()
}
