//! FLV file framing: the push reader ([`FlvReader`]) and the writer
//! ([`write_header`], [`write_tag`]). See the parent module for the rules.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use log::{debug, error, trace};
use std::fmt;

use super::*;

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

/// What one reader state step achieved.
enum Read {
    NeedMore,
    Next,
    Tag(FlvTag),
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
            let step = match self.state {
                ReadState::Header => self.read_header(buf),
                ReadState::Padding(left) => Ok(self.skip_padding(left, buf)),
                ReadState::PrevSize => Ok(self.read_prev_size(buf)),
                ReadState::Tag => self.read_tag(buf),
            };
            match step {
                Err(e) => return self.fail(e),
                Ok(Read::NeedMore) => return Ok(None),
                Ok(Read::Next) => {}
                Ok(Read::Tag(tag)) => return Ok(Some(tag)),
            }
        }
    }

    fn read_header(&mut self, buf: &mut BytesMut) -> Result<Read, FlvError> {
        if buf.len() < 3 {
            // Reject a wrong signature as early as it is visible.
            if !b"FLV".starts_with(&buf[..]) {
                return Err(FlvError::BadSignature);
            }
            return Ok(Read::NeedMore);
        }
        if &buf[..3] != b"FLV" {
            return Err(FlvError::BadSignature);
        }
        if buf.len() < FLV_HEADER_LEN {
            return Ok(Read::NeedMore);
        }
        let version = buf[3];
        let flags = buf[4];
        let offset = u32::from_be_bytes([buf[5], buf[6], buf[7], buf[8]]);
        if version != 1 || offset < FLV_HEADER_LEN as u32 {
            return Err(FlvError::BadHeader);
        }
        let padding = offset - FLV_HEADER_LEN as u32;
        if padding > MAX_HEADER_PADDING {
            return Err(FlvError::BadHeader);
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
        Ok(Read::Next)
    }

    fn skip_padding(&mut self, left: u32, buf: &mut BytesMut) -> Read {
        let n = (left as usize).min(buf.len());
        buf.advance(n);
        let left = left - n as u32;
        if left > 0 {
            self.state = ReadState::Padding(left);
            return Read::NeedMore;
        }
        self.state = ReadState::PrevSize;
        Read::Next
    }

    fn read_prev_size(&mut self, buf: &mut BytesMut) -> Read {
        if buf.len() < 4 {
            return Read::NeedMore;
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
        Read::Next
    }

    fn read_tag(&mut self, buf: &mut BytesMut) -> Result<Read, FlvError> {
        if buf.len() < TAG_HEADER_LEN {
            return Ok(Read::NeedMore);
        }
        let type_byte = buf[0];
        let size = u32::from_be_bytes([0, buf[1], buf[2], buf[3]]);
        if size > self.max_tag_size {
            return Err(FlvError::TagTooLarge(size));
        }
        let total = TAG_HEADER_LEN + size as usize;
        if buf.len() < total {
            return Ok(Read::NeedMore);
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
        Ok(Read::Tag(FlvTag {
            tag_type,
            timestamp,
            data,
        }))
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
