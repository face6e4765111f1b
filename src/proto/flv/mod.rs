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

mod codec;
mod file;
mod script;
pub mod tracks;

pub use codec::*;
pub use file::*;
pub use script::*;

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

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;

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
    fn finish_reports_truncation() {
        let mut r = FlvReader::new();
        let mut buf = BytesMut::from(&b"FLV\x01"[..]);
        assert_eq!(r.next_tag(&mut buf), Ok(None));
        assert_eq!(r.finish(&buf), Err(FlvError::Truncated(4)));
    }
}
