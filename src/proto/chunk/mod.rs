//! RTMP chunk streams: reader (dechunker) and writer.
//!
//! # Rules a caller must keep
//!
//! * One [`ChunkDecoder`] per connection direction (inbound), one
//!   [`ChunkEncoder`] per connection direction (outbound). Neither touches a
//!   socket or a clock.
//! * Driving order for the reader: append received bytes to a `BytesMut` (or
//!   hand over a `&[u8]` read buffer and keep what is left of it), then
//!   call [`ChunkDecoder::decode`] in a loop until it returns `Ok(None)` (more
//!   bytes needed). Each `Ok(Some(msg))` is one complete message. Only whole
//!   chunks are consumed from the buffer: a partial chunk header or a partial
//!   chunk payload stays in the buffer untouched, so the same byte stream
//!   split at any points yields the same messages.
//! * The reader applies Set Chunk Size (type 1) and Abort (type 2) itself the
//!   moment it completes such a message (on any csid), and still returns the
//!   message. The new chunk size applies to the next chunk.
//! * Any `Err` is a peer protocol violation or an exceeded cap: the decoder's
//!   state is then unspecified and the connection must be closed.
//! * Memory: a message's reassembly buffer grows as its chunks arrive (at
//!   most twice what arrived or 4 KiB, never past its declared length; all
//!   of it at once when the input already holds that many bytes behind its
//!   first chunk header, which saves the doublings and their copies), so
//!   declaring long messages without sending them reserves next to nothing
//!   ([`ChunkDecoder::reserved_bytes`]); the declared lengths of messages in
//!   progress are still capped as a sum ([`ChunkLimits::max_partial_bytes`]).
//! * For the writer: send Set Chunk Size to the peer first, then call
//!   [`ChunkEncoder::set_chunk_size`]. Messages written with
//!   [`encode_canonical`] (or as [`CanonicalHeaders`] around a payload)
//!   bypass the encoder's header state: call
//!   [`ChunkEncoder::reset_csid`] for a csid carrying both.
//! * Chunk stream ids given to the writer must lie in
//!   [`MIN_CSID`]`..=`[`MAX_CSID`] and payloads must be shorter than
//!   2^24 bytes (caller bugs: `debug_assert!`, clamped in release builds).
//!
//! # Header state
//!
//! ```text
//! csid state: none --fmt0--> header known --(fmt 0/1/2/3 chunk starts msg)--> partial
//!                             ^                                                  |
//!                             +----------- last chunk / Abort -------------------+
//! ```
//!
//! * fmt 0 carries an absolute timestamp; fmt 1 and 2 carry a delta added
//!   (modulo 2^32) to the previous message's timestamp on that csid; a fmt 3
//!   chunk that starts a new message repeats the last timestamp field of that
//!   csid. After a fmt 0 header that field is the fmt 0 absolute value (the
//!   convention of ffmpeg's reader and writer, whose audio relies on it). The
//!   writer never emits a fmt 3 message start right after a fmt 0 header, so
//!   peers with either reading of that case decode our output identically.
//! * fmt 0/1/2 in the middle of a message is rejected
//!   ([`ChunkError::HeaderChangedMidMessage`]).
//!
//! # Extended timestamps
//!
//! A timestamp field of `0xFFFFFF` means a 4-byte extended field follows the
//! message header. Peers disagree on whether fmt 3 chunks repeat it, so the
//! reader (when the csid's last fmt 0/1/2 header used an extended field)
//! peeks at the 4 bytes after a fmt 3 header and consumes them only if they
//! equal the expected value: the csid's last timestamp field, or on a
//! continuation chunk also the message's absolute timestamp. A payload that
//! happens to start with exactly that value is misread (inherent to the
//! convention). The reader therefore waits until 4 bytes follow such a fmt 3
//! header before deciding, even if the chunk's payload is shorter. The writer
//! always repeats the extended field on fmt 3 chunks, as ffmpeg, librtmp and
//! nginx-rtmp expect.

mod decode;
mod encode;

use bytes::Bytes;

pub use decode::{ChunkDecoder, InputBuf};
pub use encode::{encode_canonical, CanonicalHeaders, ChunkEncoder};

/// Default chunk size before any Set Chunk Size (spec).
pub const DEFAULT_CHUNK_SIZE: u32 = 128;
/// Largest chunk size the spec allows.
pub const MAX_CHUNK_SIZE: u32 = 0x7FFF_FFFF;
/// Lowest and highest chunk stream id.
pub const MIN_CSID: u32 = 2;
pub const MAX_CSID: u32 = 65599;

/// Chunk stream ids this implementation sends on: protocol and user
/// control (stream 0), commands on stream 0, data (metadata), commands on a
/// media stream, audio, video (and aggregates). Canonical relayed media uses
/// `CSID_DATA`, `CSID_AUDIO` and `CSID_VIDEO`; a session writes only on the
/// other three.
pub const CSID_CONTROL: u32 = 2;
pub const CSID_COMMAND: u32 = 3;
pub const CSID_DATA: u32 = 4;
pub const CSID_STREAM_COMMAND: u32 = 5;
pub const CSID_AUDIO: u32 = 6;
pub const CSID_VIDEO: u32 = 7;

/// Timestamp field value announcing an extended timestamp.
const EXT_MARK: u32 = 0x00FF_FFFF;
/// Largest message length the 3-byte length field can carry.
const MAX_WIRE_LEN: usize = 0x00FF_FFFF;

/// A complete message as carried by chunks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMessage {
    /// Chunk stream id it arrived on (informational for received messages).
    pub csid: u32,
    /// Absolute timestamp in ms (32-bit, wrapping).
    pub timestamp: u32,
    pub type_id: u8,
    pub stream_id: u32,
    pub payload: Bytes,
}

/// Peer-controlled caps on the decoder.
#[derive(Debug, Clone, Copy)]
pub struct ChunkLimits {
    /// Largest message length accepted (default 8 MiB; wire allows 0xFFFFFF).
    pub max_message_len: u32,
    /// Sum of all partially received messages (default 16 MiB). Counted as
    /// the full declared length of every message in progress (what the peer
    /// can make the reader hold by sending the rest); the memory actually
    /// reserved grows only with the bytes that arrive
    /// ([`ChunkDecoder::reserved_bytes`]).
    pub max_partial_bytes: usize,
    /// Chunk streams with state at once (default 64).
    pub max_chunk_streams: usize,
    /// Largest Set Chunk Size accepted (default MAX_CHUNK_SIZE).
    pub max_chunk_size: u32,
}

impl Default for ChunkLimits {
    fn default() -> Self {
        ChunkLimits {
            max_message_len: 8 * 1024 * 1024,
            max_partial_bytes: 16 * 1024 * 1024,
            max_chunk_streams: 64,
            max_chunk_size: MAX_CHUNK_SIZE,
        }
    }
}

/// A chunk-layer protocol violation or exceeded cap.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChunkError {
    /// fmt 1/2/3 on a chunk stream never opened with fmt 0.
    NoPreviousHeader {
        csid: u32,
    },
    MessageTooLong {
        len: u32,
        limit: u32,
    },
    PartialBudgetExceeded {
        limit: usize,
    },
    TooManyChunkStreams {
        limit: usize,
    },
    /// Set Chunk Size of 0, with the top bit set, or above the cap.
    BadChunkSize(u32),
    /// A control message shorter than its fields.
    ShortControlMessage {
        type_id: u8,
        len: usize,
    },
    /// fmt 1/2 changing the length in the middle of a message, etc.
    HeaderChangedMidMessage {
        csid: u32,
    },
}

impl std::fmt::Display for ChunkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChunkError::NoPreviousHeader { csid } => {
                write!(
                    f,
                    "chunk fmt 1/2/3 on csid {csid} without a previous header"
                )
            }
            ChunkError::MessageTooLong { len, limit } => {
                write!(f, "message length {len} exceeds limit {limit}")
            }
            ChunkError::PartialBudgetExceeded { limit } => {
                write!(f, "partial messages exceed budget of {limit} bytes")
            }
            ChunkError::TooManyChunkStreams { limit } => {
                write!(f, "more than {limit} chunk streams")
            }
            ChunkError::BadChunkSize(size) => write!(f, "bad chunk size {size}"),
            ChunkError::ShortControlMessage { type_id, len } => {
                write!(f, "control message type {type_id} too short ({len} bytes)")
            }
            ChunkError::HeaderChangedMidMessage { csid } => {
                write!(
                    f,
                    "new message header on csid {csid} in the middle of a message"
                )
            }
        }
    }
}

impl std::error::Error for ChunkError {}

#[inline]
pub(super) fn be24(b: &[u8]) -> u32 {
    (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2])
}

#[inline]
pub(super) fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_of_every_error() {
        let cases: [(ChunkError, &str); 7] = [
            (
                ChunkError::NoPreviousHeader { csid: 5 },
                "chunk fmt 1/2/3 on csid 5 without a previous header",
            ),
            (
                ChunkError::MessageTooLong { len: 10, limit: 9 },
                "message length 10 exceeds limit 9",
            ),
            (
                ChunkError::PartialBudgetExceeded { limit: 100 },
                "partial messages exceed budget of 100 bytes",
            ),
            (
                ChunkError::TooManyChunkStreams { limit: 4 },
                "more than 4 chunk streams",
            ),
            (ChunkError::BadChunkSize(0), "bad chunk size 0"),
            (
                ChunkError::ShortControlMessage { type_id: 1, len: 3 },
                "control message type 1 too short (3 bytes)",
            ),
            (
                ChunkError::HeaderChangedMidMessage { csid: 7 },
                "new message header on csid 7 in the middle of a message",
            ),
        ];
        for (e, s) in cases {
            assert_eq!(e.to_string(), s);
            let _: &dyn std::error::Error = &e;
        }
    }
}
