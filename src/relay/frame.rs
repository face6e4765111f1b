//! Shared media frames: classified once, chunk-encoded once.
//!
//! Rules for callers:
//! * build one [`Frame`] per published message with [`Frame::media`] or
//!   [`Frame::metadata`] (the stream table does this) and hand clones of it
//!   to every subscriber: a clone is two refcount bumps, never a copy;
//! * `wire` is the canonical chunked form (fmt 0 first chunk, fmt 3
//!   continuations, see [`crate::proto::chunk::encode_canonical`]) on message
//!   stream id [`CANONICAL_STREAM_ID`] and a fixed chunk stream id per type
//!   ([`CSID_AUDIO`], [`CSID_VIDEO`], [`CSID_DATA`]); every subscriber must
//!   have been told the same out-chunk size, given at construction;
//! * a subscriber that plays on another message stream id takes the slow
//!   path [`Frame::rechunk`] (a new buffer per frame; the caller counts it);
//! * frames made by [`Frame::control`] carry pre-encoded session output in
//!   `wire`, type id 0 and no payload: they cannot be re-chunked or
//!   re-stamped, and [`Frame::rechunk`] / [`Frame::restamped`] return their
//!   wire unchanged. (A message of another type given to [`Frame::media`] is
//!   also classed Control, for admission, but is encoded on csid 4 and
//!   re-chunks normally.)

use bytes::Bytes;

use crate::proto::chunk::{encode_canonical, RawMessage};
use crate::proto::flv::{self, VideoPacket};

/// Chunk stream ids of canonical audio, video and data (onMetaData) frames,
/// defined once in the chunk layer.
pub use crate::proto::chunk::{CSID_AUDIO, CSID_DATA, CSID_VIDEO};
/// RTMP message type ids the relay handles, defined once in the message layer.
pub use crate::proto::message::{TYPE_AUDIO, TYPE_DATA_AMF0, TYPE_VIDEO};

/// Message stream id of canonical frames (the first `createStream` answer).
pub const CANONICAL_STREAM_ID: u32 = 1;

/// Admission class of a frame, most important first (see
/// [`crate::relay::queue`] for the policy each class gets).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FrameClass {
    /// Pre-encoded session output (onStatus, user control, ...).
    Control,
    /// onMetaData.
    Metadata,
    /// AVC/HEVC/ERTMP decoder configuration or AAC AudioSpecificConfig.
    SequenceHeader,
    /// A video frame a decoder can start from.
    KeyFrame,
    /// Any audio frame that is not a sequence header.
    Audio,
    /// Any other video message (inter frames, end of sequence, ERTMP metadata).
    InterFrame,
}

/// One message as all subscribers receive it.
#[derive(Clone, Debug)]
pub struct Frame {
    pub class: FrameClass,
    /// The (rebased) timestamp subscribers see.
    pub timestamp: u32,
    /// 8 audio, 9 video, 18 data; 0 for Control.
    pub type_id: u8,
    /// Message body (shared with the recorder); empty for Control.
    pub payload: Bytes,
    /// Canonical chunked form on msid 1, written unchanged to every subscriber.
    pub wire: Bytes,
}

/// The class of an audio/video/data payload (no copy, looks at the first bytes).
pub fn classify(type_id: u8, payload: &[u8]) -> FrameClass {
    match type_id {
        TYPE_AUDIO => match flv::classify_audio(payload) {
            Some(info) if info.sequence_header => FrameClass::SequenceHeader,
            _ => FrameClass::Audio,
        },
        TYPE_VIDEO => match flv::classify_video(payload) {
            Some(info) => match info.packet {
                VideoPacket::SequenceHeader => FrameClass::SequenceHeader,
                VideoPacket::Frame if info.keyframe => FrameClass::KeyFrame,
                _ => FrameClass::InterFrame,
            },
            None => FrameClass::InterFrame,
        },
        TYPE_DATA_AMF0 => FrameClass::Metadata,
        _ => FrameClass::Control,
    }
}

/// The canonical chunk stream id of a message type.
pub fn csid_for(type_id: u8) -> u32 {
    match type_id {
        TYPE_AUDIO => CSID_AUDIO,
        TYPE_VIDEO => CSID_VIDEO,
        _ => CSID_DATA,
    }
}

fn encode(type_id: u8, timestamp: u32, stream_id: u32, payload: &Bytes, chunk_size: u32) -> Bytes {
    let msg = RawMessage {
        csid: csid_for(type_id),
        timestamp,
        type_id,
        stream_id,
        payload: payload.clone(),
    };
    encode_canonical(&msg, chunk_size)
}

impl Frame {
    /// Pre-encoded session output (onStatus etc.): class Control, empty payload.
    pub fn control(wire: Bytes) -> Frame {
        Frame {
            class: FrameClass::Control,
            timestamp: 0,
            type_id: 0,
            payload: Bytes::new(),
            wire,
        }
    }

    /// Classify an audio (8) / video (9) payload with `flv::classify_*` and
    /// encode the canonical wire once (csid 6 audio, 7 video, msid 1, given
    /// chunk size). Another type id is encoded on csid 4 (18 is classed
    /// Metadata, the rest Control).
    pub fn media(type_id: u8, timestamp: u32, payload: Bytes, chunk_size: u32) -> Frame {
        let class = classify(type_id, &payload);
        let wire = encode(
            type_id,
            timestamp,
            CANONICAL_STREAM_ID,
            &payload,
            chunk_size,
        );
        Frame {
            class,
            timestamp,
            type_id,
            payload,
            wire,
        }
    }

    /// onMetaData data message (type 18, csid 4, msid 1); `body` is the AMF0 body.
    pub fn metadata(timestamp: u32, body: Bytes, chunk_size: u32) -> Frame {
        let wire = encode(
            TYPE_DATA_AMF0,
            timestamp,
            CANONICAL_STREAM_ID,
            &body,
            chunk_size,
        );
        Frame {
            class: FrameClass::Metadata,
            timestamp,
            type_id: TYPE_DATA_AMF0,
            payload: body,
            wire,
        }
    }

    /// Slow path for a subscriber playing on another message stream id:
    /// re-chunk the payload canonically with that stream id (a new `Bytes`;
    /// counted by the caller). A [`Frame::control`] frame's wire is returned
    /// as is.
    pub fn rechunk(&self, stream_id: u32, chunk_size: u32) -> Bytes {
        if self.is_pre_encoded() {
            return self.wire.clone();
        }
        encode(
            self.type_id,
            self.timestamp,
            stream_id,
            &self.payload,
            chunk_size,
        )
    }

    /// Same frame with another timestamp (re-encoded): used for sequence
    /// headers and metadata sent to late joiners at the join point. A
    /// [`Frame::control`] frame only gets the new `timestamp` field; its wire
    /// is unchanged.
    pub fn restamped(&self, timestamp: u32, chunk_size: u32) -> Frame {
        let wire = if self.is_pre_encoded() {
            self.wire.clone()
        } else {
            encode(
                self.type_id,
                timestamp,
                CANONICAL_STREAM_ID,
                &self.payload,
                chunk_size,
            )
        };
        Frame {
            class: self.class,
            timestamp,
            type_id: self.type_id,
            payload: self.payload.clone(),
            wire,
        }
    }

    /// Made by [`Frame::control`]: the wire is all there is (type id 0).
    pub fn is_pre_encoded(&self) -> bool {
        self.type_id == 0
    }

    /// Type 9.
    pub fn is_video(&self) -> bool {
        self.type_id == TYPE_VIDEO
    }

    /// Type 8.
    pub fn is_audio(&self) -> bool {
        self.type_id == TYPE_AUDIO
    }

    /// Class [`FrameClass::KeyFrame`] (a sequence header is not a keyframe).
    pub fn is_keyframe(&self) -> bool {
        self.class == FrameClass::KeyFrame
    }

    /// Bytes this frame puts on the wire.
    pub fn wire_len(&self) -> usize {
        self.wire.len()
    }
}
