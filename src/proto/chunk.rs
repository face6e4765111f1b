//! RTMP chunk streams: reader (dechunker) and writer.
//!
//! # Rules a caller must keep
//!
//! * One [`ChunkDecoder`] per connection direction (inbound), one
//!   [`ChunkEncoder`] per connection direction (outbound). Neither touches a
//!   socket or a clock.
//! * Driving order for the reader: append received bytes to a `BytesMut`, then
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
//! * For the writer: send Set Chunk Size to the peer first, then call
//!   [`ChunkEncoder::set_chunk_size`]. Messages written with
//!   [`encode_canonical`] bypass the encoder's header state: call
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

use bytes::{Buf, BufMut, Bytes, BytesMut};
use log::trace;

use super::message::{TYPE_ABORT, TYPE_SET_CHUNK_SIZE};

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

/// Per-csid reader state.
#[derive(Debug)]
struct InStream {
    csid: u32,
    /// Timestamp of the current (or last) message.
    timestamp: u32,
    /// Last timestamp field after extension: delta (fmt 1/2) or absolute (fmt 0).
    ts_field: u32,
    len: u32,
    type_id: u8,
    stream_id: u32,
    /// The last fmt 0/1/2 header used an extended timestamp.
    ext: bool,
    /// Message in progress; its capacity grows with the bytes that arrive
    /// (doubling, capped at the declared length), never reserved up front.
    partial: Option<Vec<u8>>,
}

/// Result of looking at the chunk at the front of the buffer.
enum Step {
    NeedMore,
    Consumed,
    Message(RawMessage),
}

/// Reassembles messages from chunks, per chunk stream id.
#[derive(Debug)]
pub struct ChunkDecoder {
    limits: ChunkLimits,
    chunk_size: u32,
    streams: Vec<InStream>,
    /// Sum of declared lengths of messages in progress.
    partial_bytes: usize,
}

#[inline]
fn be24(b: &[u8]) -> u32 {
    (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2])
}

#[inline]
fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

impl ChunkDecoder {
    pub fn new(limits: ChunkLimits) -> Self {
        ChunkDecoder {
            limits,
            chunk_size: DEFAULT_CHUNK_SIZE,
            streams: Vec::new(),
            partial_bytes: 0,
        }
    }

    /// Decode the next complete message, or `Ok(None)` if more bytes are needed.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<RawMessage>, ChunkError> {
        loop {
            match self.step(buf)? {
                Step::NeedMore => return Ok(None),
                Step::Consumed => {}
                Step::Message(msg) => {
                    self.apply_control(&msg)?;
                    return Ok(Some(msg));
                }
            }
        }
    }

    /// Current inbound chunk size.
    pub fn chunk_size(&self) -> u32 {
        self.chunk_size
    }

    /// The limits this decoder enforces.
    pub fn limits(&self) -> &ChunkLimits {
        &self.limits
    }

    /// Number of chunk streams with state.
    pub fn chunk_streams(&self) -> usize {
        self.streams.len()
    }

    /// Sum of the declared lengths of the messages in progress.
    pub fn partial_bytes(&self) -> usize {
        self.partial_bytes
    }

    /// Bytes of reassembly buffer allocated for the messages in progress
    /// (their capacity): about what has arrived of them, not what their
    /// headers declare.
    pub fn reserved_bytes(&self) -> usize {
        self.streams
            .iter()
            .filter_map(|s| s.partial.as_ref())
            .map(|p| p.capacity())
            .sum()
    }

    fn apply_control(&mut self, msg: &RawMessage) -> Result<(), ChunkError> {
        match msg.type_id {
            TYPE_SET_CHUNK_SIZE => {
                let size = control_u32(msg)?;
                if size == 0 || size & 0x8000_0000 != 0 || size > self.limits.max_chunk_size {
                    return Err(ChunkError::BadChunkSize(size));
                }
                trace!("inbound chunk size {} -> {}", self.chunk_size, size);
                self.chunk_size = size;
            }
            TYPE_ABORT => {
                let csid = control_u32(msg)?;
                if let Some(st) = self.streams.iter_mut().find(|s| s.csid == csid) {
                    if st.partial.take().is_some() {
                        self.partial_bytes -= st.len as usize;
                        trace!("abort: dropped partial message on csid {}", csid);
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Parse (from a peek) the chunk at the front of `buf`; consume it only
    /// if it is complete.
    fn step(&mut self, buf: &mut BytesMut) -> Result<Step, ChunkError> {
        let data: &[u8] = buf;
        let Some(&b0) = data.first() else {
            return Ok(Step::NeedMore);
        };
        let fmt = b0 >> 6;
        let (csid, mut pos) = match b0 & 0x3F {
            0 => match data.get(1) {
                Some(&b1) => (64 + u32::from(b1), 2),
                None => return Ok(Step::NeedMore),
            },
            1 => match data.get(1..3) {
                Some(b) => (64 + u32::from(b[0]) + 256 * u32::from(b[1]), 3),
                None => return Ok(Step::NeedMore),
            },
            c => (u32::from(c), 1),
        };
        let hlen = [11usize, 7, 3, 0][usize::from(fmt)];
        let Some(h) = data.get(pos..pos + hlen) else {
            return Ok(Step::NeedMore);
        };
        pos += hlen;

        let idx = self.streams.iter().position(|s| s.csid == csid);
        let state = idx.map(|i| &self.streams[i]);
        let in_progress = state.is_some_and(|s| s.partial.is_some());
        if fmt != 0 && state.is_none() {
            return Err(ChunkError::NoPreviousHeader { csid });
        }
        if fmt != 3 && in_progress {
            return Err(ChunkError::HeaderChangedMidMessage { csid });
        }
        if state.is_none() && self.streams.len() >= self.limits.max_chunk_streams {
            return Err(ChunkError::TooManyChunkStreams {
                limit: self.limits.max_chunk_streams,
            });
        }

        // Timestamp field (after extension), extended flag, length, type, msid.
        let (ts_field, ext, len, type_id, stream_id);
        if fmt <= 2 {
            let raw = be24(&h[0..3]);
            ext = raw == EXT_MARK;
            if ext {
                let Some(e) = data.get(pos..pos + 4) else {
                    return Ok(Step::NeedMore);
                };
                ts_field = be32(e);
                pos += 4;
            } else {
                ts_field = raw;
            }
            if fmt <= 1 {
                len = be24(&h[3..6]);
                type_id = h[6];
            } else {
                let s = state.expect("checked above");
                len = s.len;
                type_id = s.type_id;
            }
            stream_id = if fmt == 0 {
                u32::from_le_bytes([h[7], h[8], h[9], h[10]])
            } else {
                state.expect("checked above").stream_id
            };
        } else {
            let s = state.expect("checked above");
            ts_field = s.ts_field;
            ext = s.ext;
            len = s.len;
            type_id = s.type_id;
            stream_id = s.stream_id;
            if ext {
                let Some(e) = data.get(pos..pos + 4) else {
                    return Ok(Step::NeedMore);
                };
                let v = be32(e);
                if v == s.ts_field || (in_progress && v == s.timestamp) {
                    pos += 4;
                }
            }
        }

        if !in_progress && len > self.limits.max_message_len {
            return Err(ChunkError::MessageTooLong {
                len,
                limit: self.limits.max_message_len,
            });
        }
        let received = state
            .and_then(|s| s.partial.as_ref())
            .map_or(0, |p| p.len());
        let remaining = len as usize - received;
        let take = remaining.min(self.chunk_size as usize);
        if data.len() - pos < take {
            return Ok(Step::NeedMore);
        }
        let completes = take == remaining;
        if !in_progress
            && !completes
            && self.partial_bytes + len as usize > self.limits.max_partial_bytes
        {
            return Err(ChunkError::PartialBudgetExceeded {
                limit: self.limits.max_partial_bytes,
            });
        }

        // The whole chunk is available and valid: commit.
        let idx = match idx {
            Some(i) => i,
            None => {
                self.streams.push(InStream {
                    csid,
                    timestamp: 0,
                    ts_field: 0,
                    len: 0,
                    type_id: 0,
                    stream_id: 0,
                    ext: false,
                    partial: None,
                });
                self.streams.len() - 1
            }
        };
        let st = &mut self.streams[idx];
        if !in_progress {
            st.timestamp = if fmt == 0 {
                ts_field
            } else {
                st.timestamp.wrapping_add(ts_field)
            };
            st.ts_field = ts_field;
            st.ext = ext;
            st.len = len;
            st.type_id = type_id;
            st.stream_id = stream_id;
        }
        trace!(
            "chunk fmt {} csid {} take {} of {} (type {})",
            fmt,
            csid,
            take,
            len,
            type_id
        );
        buf.advance(pos);
        let payload = if !in_progress {
            if completes {
                // Fits in this chunk: copied into a buffer of its own, so
                // a cached frame never keeps the caller's whole read buffer
                // alive (a 64 KiB read buffer per 300-byte audio frame) and
                // the caller can reuse that buffer.
                let payload = Bytes::copy_from_slice(&buf[..take]);
                buf.advance(take);
                payload
            } else {
                let mut p = Vec::with_capacity(take);
                p.extend_from_slice(&buf[..take]);
                buf.advance(take);
                st.partial = Some(p);
                self.partial_bytes += len as usize;
                return Ok(Step::Consumed);
            }
        } else {
            let p = st.partial.as_mut().expect("in progress");
            append_grow(p, &buf[..take], len as usize);
            buf.advance(take);
            if !completes {
                return Ok(Step::Consumed);
            }
            self.partial_bytes -= len as usize;
            Bytes::from(st.partial.take().expect("in progress"))
        };
        Ok(Step::Message(RawMessage {
            csid,
            timestamp: st.timestamp,
            type_id,
            stream_id,
            payload,
        }))
    }
}

/// Append `data` to a partial message of declared length `len`, growing its
/// capacity geometrically but never past `len`: what is reserved stays
/// within twice what has arrived, and the finished buffer is exactly `len`
/// bytes (frozen without a copy).
fn append_grow(p: &mut Vec<u8>, data: &[u8], len: usize) {
    let need = p.len() + data.len();
    if need > p.capacity() {
        let target = need.max(p.capacity().saturating_mul(2)).min(len.max(need));
        p.reserve_exact(target - p.len());
    }
    p.extend_from_slice(data);
}

fn control_u32(msg: &RawMessage) -> Result<u32, ChunkError> {
    match msg.payload.get(0..4) {
        Some(b) => Ok(be32(b)),
        None => Err(ChunkError::ShortControlMessage {
            type_id: msg.type_id,
            len: msg.payload.len(),
        }),
    }
}

/// Per-csid writer state.
#[derive(Debug)]
struct OutStream {
    csid: u32,
    timestamp: u32,
    /// Timestamp delta of the last header; `None` after fmt 0 (so the next
    /// message never starts with fmt 3, whose meaning after fmt 0 differs
    /// between implementations).
    delta: Option<u32>,
    len: u32,
    type_id: u8,
    stream_id: u32,
    /// The last fmt 0/1/2 header used an extended timestamp.
    ext: bool,
}

/// Writes messages into chunks with header compression for one direction.
#[derive(Debug)]
pub struct ChunkEncoder {
    chunk_size: u32,
    streams: Vec<OutStream>,
}

#[inline]
fn clamp_csid(csid: u32) -> u32 {
    debug_assert!((MIN_CSID..=MAX_CSID).contains(&csid), "csid {csid}");
    csid.clamp(MIN_CSID, MAX_CSID)
}

#[inline]
fn basic_header_len(csid: u32) -> usize {
    if csid < 64 {
        1
    } else if csid < 320 {
        2
    } else {
        3
    }
}

#[inline]
fn put_basic_header<B: BufMut>(out: &mut B, fmt: u8, csid: u32) {
    let f = fmt << 6;
    if csid < 64 {
        out.put_u8(f | csid as u8);
    } else if csid < 320 {
        out.put_u8(f);
        out.put_u8((csid - 64) as u8);
    } else {
        let v = csid - 64;
        out.put_u8(f | 1);
        out.put_u8(v as u8);
        out.put_u8((v >> 8) as u8);
    }
}

#[inline]
fn put_u24<B: BufMut>(out: &mut B, v: u32) {
    out.put_u8((v >> 16) as u8);
    out.put_u8((v >> 8) as u8);
    out.put_u8(v as u8);
}

/// Exact encoded size of a message whose first chunk has a `hlen`-byte
/// message header.
#[inline]
fn encoded_len(csid: u32, hlen: usize, ext: bool, len: usize, chunk_size: usize) -> usize {
    let b = basic_header_len(csid);
    let e = if ext { 4 } else { 0 };
    let chunks = if len == 0 {
        1
    } else {
        len.div_ceil(chunk_size)
    };
    b + hlen + e + len + (chunks - 1) * (b + e)
}

/// Write the first chunk's header (already chosen), then the payload in
/// chunks with fmt 3 continuation headers.
#[allow(clippy::too_many_arguments)]
fn put_message<B: BufMut>(
    out: &mut B,
    fmt: u8,
    csid: u32,
    field: u32,
    ext: bool,
    msg: &RawMessage,
    len: usize,
    chunk_size: usize,
) {
    put_basic_header(out, fmt, csid);
    if fmt <= 2 {
        put_u24(out, if ext { EXT_MARK } else { field });
        if fmt <= 1 {
            put_u24(out, len as u32);
            out.put_u8(msg.type_id);
            if fmt == 0 {
                out.put_u32_le(msg.stream_id);
            }
        }
    }
    if ext {
        out.put_u32(field);
    }
    let payload = &msg.payload[..len];
    let mut chunks = payload.chunks(chunk_size);
    if let Some(first) = chunks.next() {
        out.put_slice(first);
    }
    for c in chunks {
        put_basic_header(out, 3, csid);
        if ext {
            out.put_u32(field);
        }
        out.put_slice(c);
    }
}

#[inline]
fn checked_len(msg: &RawMessage) -> usize {
    debug_assert!(msg.payload.len() <= MAX_WIRE_LEN, "payload too long");
    msg.payload.len().min(MAX_WIRE_LEN)
}

impl ChunkEncoder {
    pub fn new() -> Self {
        ChunkEncoder {
            chunk_size: DEFAULT_CHUNK_SIZE,
            streams: Vec::new(),
        }
    }

    /// Change the outbound chunk size (the caller sends Set Chunk Size first).
    /// Valid sizes are 1..=[`MAX_CHUNK_SIZE`]; others are clamped.
    pub fn set_chunk_size(&mut self, size: u32) {
        debug_assert!((1..=MAX_CHUNK_SIZE).contains(&size), "chunk size {size}");
        self.chunk_size = size.clamp(1, MAX_CHUNK_SIZE);
    }

    pub fn chunk_size(&self) -> u32 {
        self.chunk_size
    }

    /// Append `msg` (on `msg.csid`) to `out`, compressing against that csid's
    /// previous header.
    pub fn encode(&mut self, msg: &RawMessage, out: &mut BytesMut) {
        let csid = clamp_csid(msg.csid);
        let len = checked_len(msg);
        let idx = self.streams.iter().position(|s| s.csid == csid);
        // Choose fmt and the timestamp field.
        let (fmt, field, delta) = match idx.map(|i| &self.streams[i]) {
            None => (0u8, msg.timestamp, None),
            Some(s) if s.stream_id != msg.stream_id || msg.timestamp < s.timestamp => {
                (0, msg.timestamp, None)
            }
            Some(s) => {
                let d = msg.timestamp - s.timestamp;
                if s.len as usize != len || s.type_id != msg.type_id {
                    (1, d, Some(d))
                } else if s.delta != Some(d) {
                    (2, d, Some(d))
                } else {
                    (3, d, Some(d))
                }
            }
        };
        let ext = if fmt == 3 {
            self.streams[idx.expect("fmt 3 needs state")].ext
        } else {
            field >= EXT_MARK
        };
        let hlen = [11usize, 7, 3, 0][usize::from(fmt)];
        let cs = self.chunk_size as usize;
        out.reserve(encoded_len(csid, hlen, ext, len, cs));
        put_message(out, fmt, csid, field, ext, msg, len, cs);
        trace!("encode csid {} fmt {} len {}", csid, fmt, len);
        let st = OutStream {
            csid,
            timestamp: msg.timestamp,
            delta,
            len: len as u32,
            type_id: msg.type_id,
            stream_id: msg.stream_id,
            ext,
        };
        match idx {
            Some(i) => self.streams[i] = st,
            None => self.streams.push(st),
        }
    }

    /// Forget the header state of `csid` (next message on it uses fmt 0);
    /// call after writing canonical frames on a csid this encoder also uses.
    pub fn reset_csid(&mut self, csid: u32) {
        self.streams.retain(|s| s.csid != csid);
    }
}

impl Default for ChunkEncoder {
    fn default() -> Self {
        Self::new()
    }
}

/// Encode a message once in canonical form: fmt 0 on the first chunk, fmt 3
/// on the rest, extended timestamp repeated on every chunk when needed.
/// One allocation of exactly the encoded size.
pub fn encode_canonical(msg: &RawMessage, chunk_size: u32) -> Bytes {
    debug_assert!(
        (1..=MAX_CHUNK_SIZE).contains(&chunk_size),
        "chunk size {chunk_size}"
    );
    let cs = chunk_size.clamp(1, MAX_CHUNK_SIZE) as usize;
    let csid = clamp_csid(msg.csid);
    let len = checked_len(msg);
    let ext = msg.timestamp >= EXT_MARK;
    let size = encoded_len(csid, 11, ext, len, cs);
    let mut out = Vec::with_capacity(size);
    put_message(&mut out, 0, csid, msg.timestamp, ext, msg, len, cs);
    debug_assert_eq!(out.len(), size);
    Bytes::from(out)
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

    #[test]
    fn encoded_len_matches_output() {
        for &(csid, len, cs, ts) in &[
            (2u32, 0usize, 128u32, 0u32),
            (63, 128, 128, 5),
            (64, 129, 128, 0xFFFFFF),
            (320, 5000, 100, 0x1000000),
            (65599, 1, 1, 7),
        ] {
            let msg = RawMessage {
                csid,
                timestamp: ts,
                type_id: 9,
                stream_id: 1,
                payload: Bytes::from(vec![0xAB; len]),
            };
            let b = encode_canonical(&msg, cs);
            let ext = ts >= EXT_MARK;
            assert_eq!(b.len(), encoded_len(csid, 11, ext, len, cs as usize));
        }
    }
}
