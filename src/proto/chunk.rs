//! RTMP chunk streams: reader (dechunker) and writer (SKELETON — contract only).
//!
//! Contract:
//! * [`ChunkDecoder::decode`] pulls one complete message off the front of a
//!   `BytesMut` (consuming the chunks it read, possibly several calls' worth of
//!   partial chunks kept internally per csid). `Ok(None)` = need more bytes.
//!   It applies Set Chunk Size (type 1) and Abort (type 2) itself when it
//!   completes such a message on any csid, and still returns the message.
//! * [`ChunkEncoder`] writes messages with header compression for one
//!   connection direction; [`encode_canonical`] writes a message once in the
//!   canonical form (fmt 0 first chunk, fmt 3 continuation chunks) to share
//!   among all subscribers.

use bytes::{Bytes, BytesMut};

/// Default chunk size before any Set Chunk Size (spec).
pub const DEFAULT_CHUNK_SIZE: u32 = 128;
/// Largest chunk size the spec allows.
pub const MAX_CHUNK_SIZE: u32 = 0x7FFF_FFFF;
/// Lowest and highest chunk stream id.
pub const MIN_CSID: u32 = 2;
pub const MAX_CSID: u32 = 65599;

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
    /// Sum of all partially received messages (default 16 MiB).
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

/// Reassembles messages from chunks, per chunk stream id.
#[derive(Debug)]
pub struct ChunkDecoder {
    _private: (),
}

impl ChunkDecoder {
    pub fn new(_limits: ChunkLimits) -> Self {
        unimplemented!()
    }
    /// Decode the next complete message, or `Ok(None)` if more bytes are needed.
    pub fn decode(&mut self, _buf: &mut BytesMut) -> Result<Option<RawMessage>, ChunkError> {
        unimplemented!()
    }
    /// Current inbound chunk size.
    pub fn chunk_size(&self) -> u32 {
        unimplemented!()
    }
}

/// Writes messages into chunks with header compression for one direction.
#[derive(Debug)]
pub struct ChunkEncoder {
    _private: (),
}

impl ChunkEncoder {
    pub fn new() -> Self {
        unimplemented!()
    }
    /// Change the outbound chunk size (the caller sends Set Chunk Size first).
    pub fn set_chunk_size(&mut self, _size: u32) {
        unimplemented!()
    }
    pub fn chunk_size(&self) -> u32 {
        unimplemented!()
    }
    /// Append `msg` (on `msg.csid`) to `out`, compressing against that csid's
    /// previous header.
    pub fn encode(&mut self, _msg: &RawMessage, _out: &mut BytesMut) {
        unimplemented!()
    }
    /// Forget the header state of `csid` (next message on it uses fmt 0);
    /// call after writing canonical frames on a csid this encoder also uses.
    pub fn reset_csid(&mut self, _csid: u32) {
        unimplemented!()
    }
}

impl Default for ChunkEncoder {
    fn default() -> Self {
        Self::new()
    }
}

/// Encode a message once in canonical form: fmt 0 on the first chunk, fmt 3
/// on the rest, extended timestamp repeated on every chunk when needed.
pub fn encode_canonical(_msg: &RawMessage, _chunk_size: u32) -> Bytes {
    unimplemented!()
}
