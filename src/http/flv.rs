//! HTTP-FLV framing: the bytes an HTTP-FLV viewer gets around the shared
//! frame payloads.
//!
//! # Contract
//!
//! * A viewer's body starts with [`file_header`] (the 9-byte FLV header and
//!   PreviousTagSize0 = 0), then one tag per relayed frame.
//! * A frame's tag is [`TagFraming::new`]: an 11-byte tag header and a
//!   4-byte PreviousTagSize trailer, made once per frame as an inline 15-byte
//!   `Copy` value (no allocation) kept in the shared
//!   [`crate::relay::Frame`], so every HTTP-FLV viewer reads the same bytes.
//!   The driver writes [`TagFraming::header`], the frame's own payload
//!   `Bytes` and [`TagFraming::trailer`] with one vectored write
//!   ([`TagFraming::slices`]); the payload is never copied.
//! * Only audio (8), video (9) and script data (18) frames have a tag form;
//!   a payload above the 24-bit size field cannot be framed. Both are
//!   [`FramingError`]s the caller skips (counted, not fatal).
//! * Timestamps are the frame's (already rebased) 32-bit milliseconds, split
//!   into the 24-bit field and the extension byte as the FLV spec says.

use std::fmt;

use bytes::{Bytes, BytesMut};

use crate::proto::flv::{
    FlvHeader, MAX_TAG_DATA_SIZE, TAG_AUDIO, TAG_HEADER_LEN, TAG_SCRIPT, TAG_VIDEO,
};

/// Bytes of the PreviousTagSize trailer.
pub const TRAILER_LEN: usize = 4;

/// The 13 bytes that start an HTTP-FLV body.
pub fn file_header(has_audio: bool, has_video: bool) -> Bytes {
    let mut out = BytesMut::with_capacity(13);
    crate::proto::flv::write_header(
        FlvHeader {
            has_audio,
            has_video,
        },
        &mut out,
    );
    out.freeze()
}

/// Why a frame has no tag form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FramingError {
    /// A type id other than 8, 9 or 18.
    NotMedia(u8),
    /// A payload larger than the 24-bit DataSize field.
    TooLarge(usize),
}

impl fmt::Display for FramingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FramingError::NotMedia(t) => write!(f, "FLV framing: type id {t} is not media"),
            FramingError::TooLarge(n) => {
                write!(f, "FLV framing: payload of {n} bytes above the 24-bit size")
            }
        }
    }
}

impl std::error::Error for FramingError {}

/// The tag header and trailer of one frame, inline (15 bytes, `Copy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TagFraming {
    /// TagType, DataSize (24), Timestamp (24 + 8 extended), StreamID (0),
    /// then PreviousTagSize = 11 + payload length.
    bytes: [u8; TAG_HEADER_LEN + TRAILER_LEN],
}

impl TagFraming {
    /// The framing of a frame of `type_id` at `timestamp` whose payload is
    /// `payload_len` bytes.
    pub fn new(type_id: u8, timestamp: u32, payload_len: usize) -> Result<Self, FramingError> {
        if ![TAG_AUDIO, TAG_VIDEO, TAG_SCRIPT].contains(&type_id) {
            return Err(FramingError::NotMedia(type_id));
        }
        let size = u32::try_from(payload_len)
            .ok()
            .filter(|&n| n <= MAX_TAG_DATA_SIZE)
            .ok_or(FramingError::TooLarge(payload_len))?;
        let sz = size.to_be_bytes();
        let ts = timestamp.to_be_bytes();
        let prev = (TAG_HEADER_LEN as u32 + size).to_be_bytes();
        Ok(TagFraming {
            bytes: [
                type_id, sz[1], sz[2], sz[3], // type, 24-bit size
                ts[1], ts[2], ts[3], ts[0], // 24-bit timestamp, extension
                0, 0, 0, // stream id
                prev[0], prev[1], prev[2], prev[3], // PreviousTagSize
            ],
        })
    }

    /// The 11-byte tag header.
    pub fn header(&self) -> &[u8] {
        &self.bytes[..TAG_HEADER_LEN]
    }

    /// The 4-byte PreviousTagSize trailer (11 + payload length).
    pub fn trailer(&self) -> &[u8] {
        &self.bytes[TAG_HEADER_LEN..]
    }

    /// The three slices of the tag, in write order, for a vectored write.
    pub fn slices<'a>(&'a self, payload: &'a [u8]) -> [&'a [u8]; 3] {
        [self.header(), payload, self.trailer()]
    }

    /// Bytes of the whole tag with a payload of `payload_len` bytes.
    pub fn tag_len(&self, payload_len: usize) -> usize {
        TAG_HEADER_LEN + payload_len + TRAILER_LEN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_bytes() {
        assert_eq!(
            &file_header(true, true)[..],
            b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00"
        );
        assert_eq!(file_header(false, true)[4], 0x01);
        assert_eq!(file_header(true, false)[4], 0x04);
    }

    #[test]
    fn tag_bytes_by_hand() {
        let f = TagFraming::new(9, 0x1234_5678, 0x01_0203).unwrap();
        assert_eq!(
            f.header(),
            [9, 0x01, 0x02, 0x03, 0x34, 0x56, 0x78, 0x12, 0, 0, 0]
        );
        assert_eq!(f.trailer(), (11u32 + 0x01_0203).to_be_bytes());
        assert_eq!(f.tag_len(5), 20);
        let f = TagFraming::new(18, 40, 0).unwrap();
        assert_eq!(f.header(), [18, 0, 0, 0, 0, 0, 40, 0, 0, 0, 0]);
        assert_eq!(f.trailer(), [0, 0, 0, 11]);
    }

    #[test]
    fn inline_and_copy() {
        assert_eq!(std::mem::size_of::<TagFraming>(), 15);
        assert_eq!(std::mem::size_of::<Option<TagFraming>>(), 16);
        let a = TagFraming::new(8, 7, 3).unwrap();
        let b = a; // Copy: `a` stays usable
        assert_eq!(a, b);
        assert_eq!((a.header().len(), a.trailer().len()), (11, 4));
        let payload = [1u8, 2, 3];
        let [h, p, t] = a.slices(&payload);
        assert_eq!(h.as_ptr(), a.header().as_ptr());
        assert_eq!(
            p.as_ptr(),
            payload.as_ptr(),
            "the payload is lent, not copied"
        );
        assert_eq!(t.as_ptr(), a.trailer().as_ptr());
    }

    #[test]
    fn refusals() {
        assert_eq!(TagFraming::new(20, 0, 1), Err(FramingError::NotMedia(20)));
        let big = MAX_TAG_DATA_SIZE as usize + 1;
        assert_eq!(TagFraming::new(9, 0, big), Err(FramingError::TooLarge(big)));
        assert!(TagFraming::new(9, 0, big - 1).is_ok());
        assert_eq!(
            FramingError::NotMedia(20).to_string(),
            "FLV framing: type id 20 is not media"
        );
    }

    #[test]
    fn matches_the_file_writer() {
        let payload = Bytes::from_static(b"\x17\x01\x00\x00\x00abcdef");
        let f = TagFraming::new(9, 0x0100_0001, payload.len()).unwrap();
        let mut ours = Vec::new();
        for s in f.slices(&payload) {
            ours.extend_from_slice(s);
        }
        let mut theirs = BytesMut::new();
        crate::proto::flv::write_tag(9, 0x0100_0001, &payload, &mut theirs);
        assert_eq!(ours, &theirs[..]);
        assert_eq!(ours.len(), f.tag_len(payload.len()));
    }
}
