//! Shared media frames: classified once; on the RTMP wire as small chunk
//! headers around the shared payload.
//!
//! What is copied: nothing per frame. A media frame holds its payload
//! `Bytes` (shared with the recorder and with HTTP-FLV viewers) and, in
//! [`Wire::Chunked`], its canonical chunk headers inline
//! ([`CanonicalHeaders`], 24 bytes: the fmt 0 header of the first chunk and
//! the one fmt 3 header every further chunk repeats). A subscriber queue
//! writes `fmt 0, payload[..cs], fmt 3, payload[cs..2cs], fmt 3, ...` with a
//! vectored write, the bodies lent from the payload, so every frame exists
//! in memory once (also in the GOP cache) and building one allocates nothing.
//!
//! Rules for callers:
//! * build one [`Frame`] per published message with [`Frame::media`] or
//!   [`Frame::metadata`] (the stream table does this) and hand clones of it
//!   to every subscriber: a clone is a refcount bump, never a copy;
//! * the RTMP form of a frame is [`Frame::wire`]: for media frames the
//!   canonical chunked form (fmt 0 first chunk, fmt 3 continuations, byte for
//!   byte what [`crate::proto::chunk::encode_canonical`] writes) on message
//!   stream id [`CANONICAL_STREAM_ID`] and a fixed chunk stream id per type
//!   ([`CSID_AUDIO`], [`CSID_VIDEO`], [`CSID_DATA`]); every subscriber must
//!   have been told the same out-chunk size, given at construction. Write it
//!   with [`Frame::rtmp_slices`] from any byte offset; [`Frame::wire_len`]
//!   is its length and [`Frame::wire_bytes`] a contiguous copy (tests and
//!   tools, never the fan-out);
//! * a subscriber that plays on another message stream id gets
//!   [`Frame::on_stream`]: the same payload behind headers with its stream
//!   id (no copy either; the caller counts these as the "slow path");
//! * `flv` is the frame's HTTP-FLV tag header and trailer
//!   ([`TagFraming`], 15 inline bytes, no allocation), built once beside
//!   the chunk headers for audio (8), video (9) and data (18) frames; an
//!   HTTP-FLV viewer's queue writes it around the shared `payload` (see
//!   [`crate::relay::queue::OutputForm::Flv`]). Pre-encoded and other
//!   frames have none (nor would a payload above 2^24 - 1 bytes, which RTMP's
//!   24-bit length field cannot carry anyway);
//! * frames made by [`Frame::control`] carry pre-encoded session output as
//!   [`Wire::Encoded`], type id 0 and no payload: they cannot be re-chunked
//!   or re-stamped, and [`Frame::rechunk`] / [`Frame::restamped`] return
//!   their wire unchanged. (A message of another type given to
//!   [`Frame::media`] is also classed Control, for admission, but is chunked
//!   on csid 4 and re-chunks normally.)
//!
//! Why an enum rather than a `wire: Bytes` beside a header field: the
//! contiguous form is needed only by control frames (and tests),
//! and `Wire` fits in the 32 bytes of one `Bytes` (the inline headers sit in
//! the room `Bytes` leaves beside its non-null vtable pointer), so a
//! [`Frame`] stays at 88 bytes.

use std::io::IoSlice;

use bytes::Bytes;

use crate::http::flv::TagFraming;
use crate::proto::chunk::CanonicalHeaders;
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
    /// Any other data message (onCuePoint, onTextData, ...): forwarded and
    /// recorded, never cached.
    Data,
    /// AVC/HEVC/ERTMP decoder configuration or AAC AudioSpecificConfig, and
    /// E-RTMP per-track configuration (video Metadata, audio
    /// MultichannelConfig), of any track.
    SequenceHeader,
    /// A video frame a decoder can start from (on the stream's key track,
    /// see [`crate::relay::headers`]).
    KeyFrame,
    /// Any audio frame that is not a sequence header.
    Audio,
    /// Any other video message (inter frames, end of sequence, ERTMP metadata).
    InterFrame,
}

/// A frame's RTMP form (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Wire {
    /// Contiguous bytes written as they are: [`Frame::control`]'s
    /// pre-encoded output, or a slow-path copy re-chunked for another
    /// message stream id.
    Encoded(Bytes),
    /// Canonical chunk headers written around the frame's shared payload.
    Chunked(CanonicalHeaders),
}

/// One message as all subscribers receive it.
#[derive(Debug)]
pub struct Frame {
    pub class: FrameClass,
    /// The (rebased) timestamp subscribers see.
    pub timestamp: u32,
    /// 8 audio, 9 video, 18 data; 0 for Control.
    pub type_id: u8,
    /// Message body (shared with the recorder); empty for Control.
    pub payload: Bytes,
    /// RTMP form: canonical chunk headers on msid 1 around `payload`,
    /// written unchanged to every subscriber, or pre-encoded bytes.
    pub wire: Wire,
    /// FLV tag header and trailer for HTTP-FLV viewers (types 8, 9, 18);
    /// `None` for [`Frame::control`] frames and other types.
    pub flv: Option<TagFraming>,
}

impl Clone for Frame {
    /// A refcount bump per shared buffer (the payload's; a [`Wire::Encoded`]
    /// frame's wire too), never an allocation; the rest, the inline chunk
    /// headers included, is copied bitwise (a derived clone would branch on `flv` and copy its 15 bytes
    /// piecewise, on the fan-out's hot path).
    #[inline]
    fn clone(&self) -> Frame {
        Frame {
            class: self.class,
            timestamp: self.timestamp,
            type_id: self.type_id,
            payload: self.payload.clone(),
            wire: self.wire.clone(),
            flv: self.flv,
        }
    }
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

/// The FLV tag form of a message, when it has one (see the module docs).
fn flv_framing(type_id: u8, timestamp: u32, payload: &[u8]) -> Option<TagFraming> {
    TagFraming::new(type_id, timestamp, payload.len()).ok()
}

/// The canonical headers of a message (csid by type, see [`csid_for`]).
fn headers(type_id: u8, timestamp: u32, payload_len: usize, chunk_size: u32) -> Wire {
    Wire::Chunked(CanonicalHeaders::new(
        csid_for(type_id),
        timestamp,
        type_id,
        CANONICAL_STREAM_ID,
        payload_len,
        chunk_size,
    ))
}

impl Frame {
    /// Pre-encoded session output (onStatus etc.): class Control, empty payload.
    pub fn control(wire: Bytes) -> Frame {
        Frame {
            class: FrameClass::Control,
            timestamp: 0,
            type_id: 0,
            payload: Bytes::new(),
            wire: Wire::Encoded(wire),
            flv: None,
        }
    }

    /// Classify an audio (8) / video (9) payload with `flv::classify_*` and
    /// build the canonical chunk headers once (csid 6 audio, 7 video, msid
    /// 1, given chunk size); the payload is kept, not copied. Another type
    /// id is chunked on csid 4 (18 is classed Metadata, the rest Control).
    pub fn media(type_id: u8, timestamp: u32, payload: Bytes, chunk_size: u32) -> Frame {
        let class = classify(type_id, &payload);
        Frame::media_as(class, type_id, timestamp, payload, chunk_size)
    }

    /// [`Frame::media`] with the class decided by the caller (the stream
    /// table, which knows the tracks; see [`crate::relay::headers`]).
    pub fn media_as(
        class: FrameClass,
        type_id: u8,
        timestamp: u32,
        payload: Bytes,
        chunk_size: u32,
    ) -> Frame {
        let wire = headers(type_id, timestamp, payload.len(), chunk_size);
        let flv = flv_framing(type_id, timestamp, &payload);
        Frame {
            class,
            timestamp,
            type_id,
            payload,
            wire,
            flv,
        }
    }

    /// onMetaData data message (type 18, csid 4, msid 1); `body` is the AMF0 body.
    pub fn metadata(timestamp: u32, body: Bytes, chunk_size: u32) -> Frame {
        Frame::media_as(
            FrameClass::Metadata,
            TYPE_DATA_AMF0,
            timestamp,
            body,
            chunk_size,
        )
    }

    /// Any other data message (class [`FrameClass::Data`], type 18, csid 4,
    /// msid 1); `body` is the AMF0 body.
    pub fn data(timestamp: u32, body: Bytes, chunk_size: u32) -> Frame {
        Frame::media_as(
            FrameClass::Data,
            TYPE_DATA_AMF0,
            timestamp,
            body,
            chunk_size,
        )
    }

    /// The frame for a subscriber playing on another message stream id:
    /// the same shared payload behind canonical headers that carry
    /// `stream_id` (24 inline bytes, no copy; the caller counts these
    /// frames as the "slow path", a name kept from when they were copied).
    /// A [`Frame::control`] frame is returned as is.
    pub fn on_stream(&self, stream_id: u32, chunk_size: u32) -> Frame {
        let mut frame = self.clone();
        if !self.is_pre_encoded() {
            frame.wire = Wire::Chunked(CanonicalHeaders::new(
                csid_for(self.type_id),
                self.timestamp,
                self.type_id,
                stream_id,
                self.payload.len(),
                chunk_size,
            ));
        }
        frame
    }

    /// [`Frame::on_stream`] as one contiguous buffer (tests and tools; a
    /// [`Frame::control`] frame's wire as is): byte for byte what
    /// [`crate::proto::chunk::encode_canonical`] writes for the message on
    /// `stream_id`.
    pub fn rechunk(&self, stream_id: u32, chunk_size: u32) -> Bytes {
        self.on_stream(stream_id, chunk_size).wire_bytes()
    }

    /// Same frame with another timestamp (new headers): used for sequence
    /// headers and metadata sent to late joiners at the join point. A
    /// [`Frame::control`] frame only gets the new `timestamp` field; its wire
    /// is unchanged (and it still has no FLV framing).
    pub fn restamped(&self, timestamp: u32, chunk_size: u32) -> Frame {
        let (wire, flv) = if self.is_pre_encoded() {
            (self.wire.clone(), None)
        } else {
            (
                headers(self.type_id, timestamp, self.payload.len(), chunk_size),
                flv_framing(self.type_id, timestamp, &self.payload),
            )
        };
        Frame {
            class: self.class,
            timestamp,
            type_id: self.type_id,
            payload: self.payload.clone(),
            wire,
            flv,
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

    /// Bytes this frame puts on the RTMP wire (what the fan-out's queues
    /// and the GOP cache count).
    #[inline]
    pub fn wire_len(&self) -> usize {
        match &self.wire {
            Wire::Encoded(wire) => wire.len(),
            Wire::Chunked(h) => h.wire_len(self.payload.len()),
        }
    }

    /// Fill `dst` with the frame's RTMP bytes from byte `offset` on
    /// (headers and payload chunks of a [`Wire::Chunked`] frame, the one
    /// buffer of a [`Wire::Encoded`] one); returns the slices filled.
    /// Nothing is copied; see [`CanonicalHeaders::io_slices`].
    #[inline]
    pub fn rtmp_slices<'a>(&'a self, offset: usize, dst: &mut [IoSlice<'a>]) -> usize {
        match &self.wire {
            Wire::Chunked(h) => h.io_slices(&self.payload, offset, dst),
            Wire::Encoded(wire) => match (wire.get(offset..), dst.first_mut()) {
                (Some(rest), Some(slot)) if !rest.is_empty() => {
                    *slot = IoSlice::new(rest);
                    1
                }
                _ => 0,
            },
        }
    }

    /// The frame's RTMP bytes in one buffer: the pre-encoded `Bytes` itself,
    /// or a new copy of a chunked frame (for tests and tools; the fan-out
    /// never needs it).
    pub fn wire_bytes(&self) -> Bytes {
        match &self.wire {
            Wire::Encoded(wire) => wire.clone(),
            Wire::Chunked(_) => {
                let mut out = Vec::with_capacity(self.wire_len());
                let mut slices = [IoSlice::new(&[]); 64];
                loop {
                    let n = self.rtmp_slices(out.len(), &mut slices);
                    if n == 0 {
                        return Bytes::from(out);
                    }
                    for s in &slices[..n] {
                        out.extend_from_slice(s);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_and_metadata_carry_their_flv_framing() {
        let payload = Bytes::from_static(b"\x17\x00\x00\x00\x00avcC");
        let f = Frame::media(TYPE_VIDEO, 0x0102_0304, payload.clone(), 128);
        let t = f.flv.expect("video has a tag form");
        assert_eq!(t, TagFraming::new(9, 0x0102_0304, payload.len()).unwrap());
        assert_eq!(t.header()[..8], [9, 0, 0, 9, 0x02, 0x03, 0x04, 0x01]);
        assert_eq!(t.trailer(), 20u32.to_be_bytes());

        let a = Frame::media(TYPE_AUDIO, 5, Bytes::from_static(b"\xaf\x01ab"), 128);
        assert_eq!(a.flv.unwrap().header()[..4], [8, 0, 0, 4]);

        let m = Frame::metadata(7, Bytes::from_static(b"\x02\x00\x0aonMetaData"), 128);
        let t = m.flv.unwrap();
        assert_eq!(t.header()[..7], [18, 0, 0, 13, 0, 0, 7]);

        // an 18 given to Frame::media is framed the same way
        let d = Frame::media(TYPE_DATA_AMF0, 7, m.payload.clone(), 128);
        assert_eq!(d.flv, m.flv);
    }

    #[test]
    fn control_and_other_types_have_no_flv_framing() {
        let c = Frame::control(Bytes::from_static(b"\x02\x00\x00\x00"));
        assert_eq!(c.flv, None);
        assert_eq!(c.restamped(40, 128).flv, None);
        let other = Frame::media(20, 0, Bytes::from_static(b"\x02\x00\x01x"), 128);
        assert_eq!(other.class, FrameClass::Control);
        assert_eq!(other.flv, None);
        assert_eq!(other.restamped(40, 128).flv, None);
    }

    #[test]
    fn restamped_frames_are_reframed_at_the_new_timestamp() {
        let f = Frame::media(TYPE_VIDEO, 1000, Bytes::from_static(b"\x17\x00x"), 128);
        let g = f.restamped(0x0100_0000, 128);
        assert_eq!(
            g.flv.unwrap().header()[4..8],
            [0, 0, 0, 1],
            "extended timestamp byte"
        );
        assert_eq!(g.flv.unwrap().trailer(), f.flv.unwrap().trailer());
        assert_eq!(g.payload.as_ptr(), f.payload.as_ptr());
    }

    #[test]
    fn clone_shares_the_buffers_and_copies_the_rest() {
        let f = Frame::media(TYPE_AUDIO, 77, Bytes::from_static(b"\xaf\x00\x12\x10"), 128);
        let c = f.clone();
        assert_eq!(
            (c.class, c.timestamp, c.type_id, c.flv),
            (f.class, f.timestamp, f.type_id, f.flv)
        );
        assert!(c.flv.is_some());
        assert_eq!(c.payload.as_ptr(), f.payload.as_ptr());
        assert_eq!(c.wire, f.wire, "the same inline headers");
        assert!(matches!(c.wire, Wire::Chunked(_)));
        let ctl = Frame::control(Bytes::from(vec![2u8; 40]));
        match (&ctl.clone().wire, &ctl.wire) {
            (Wire::Encoded(a), Wire::Encoded(b)) => assert_eq!(a.as_ptr(), b.as_ptr()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn media_frames_keep_headers_beside_the_payload() {
        let payload = Bytes::from(vec![0x27u8; 10_000]);
        let f = Frame::media(TYPE_VIDEO, 0x0100_0000, payload.clone(), 4096);
        let Wire::Chunked(h) = &f.wire else {
            panic!("{:?}", f.wire)
        };
        // fmt 0 with the extended timestamp, fmt 3 repeating it
        assert_eq!(h.first().len(), 16);
        assert_eq!(h.continuation(), [0xC7, 1, 0, 0, 0]);
        assert_eq!(f.wire_len(), 16 + 10_000 + 2 * 5);
        let mut slices = [IoSlice::new(&[]); 8];
        assert_eq!(f.rtmp_slices(0, &mut slices), 6);
        assert_eq!(slices[1].as_ptr(), payload.as_ptr(), "payload lent");
        assert_eq!(f.rtmp_slices(f.wire_len(), &mut slices), 0);
        assert_eq!(f.wire_bytes().len(), f.wire_len());
        // a control frame is its one buffer, from any offset
        let c = Frame::control(Bytes::from_static(b"\x02\x00\x00\x00"));
        assert_eq!(c.rtmp_slices(1, &mut slices), 1);
        assert_eq!(&*slices[0], b"\x00\x00\x00");
        assert_eq!(c.rtmp_slices(4, &mut slices), 0);
        assert_eq!(c.rtmp_slices(0, &mut []), 0);
    }

    #[test]
    fn frame_stays_small() {
        // Two `Bytes` (one holding either pre-encoded bytes or the inline
        // chunk headers), the small fields and the inline framing: no box.
        assert_eq!(std::mem::size_of::<Wire>(), std::mem::size_of::<Bytes>());
        assert!(
            std::mem::size_of::<Frame>() <= 88,
            "{}",
            std::mem::size_of::<Frame>()
        );
    }
}
