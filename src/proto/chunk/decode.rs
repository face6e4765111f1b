//! The chunk reader: per-csid header state and reassembly, the limits of
//! [`ChunkLimits`], Set Chunk Size and Abort applied on the spot. See the
//! parent module for the rules a caller keeps.

use bytes::{Buf, Bytes, BytesMut};

/// Input the reader decodes from: contiguous bytes, so `chunk()` is all
/// that remains. A `BytesMut` the caller appends to, `Bytes`, or a `&[u8]`
/// (a read buffer decoded where it lies).
pub trait InputBuf: Buf {}
impl InputBuf for BytesMut {}
impl InputBuf for Bytes {}
impl InputBuf for &[u8] {}
use log::trace;

use super::*;
use crate::proto::message::{TYPE_ABORT, TYPE_SET_CHUNK_SIZE};

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

impl InStream {
    fn new(csid: u32) -> Self {
        InStream {
            csid,
            timestamp: 0,
            ts_field: 0,
            len: 0,
            type_id: 0,
            stream_id: 0,
            ext: false,
            partial: None,
        }
    }
}

/// First reservation of a message spanning several chunks (or its length,
/// if smaller): saves the first few doublings of messages cut into small
/// chunks, while a peer that only declares messages still reserves little
/// (at most this per chunk stream).
const MIN_RESERVE: usize = 4096;

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

impl ChunkDecoder {
    pub fn new(limits: ChunkLimits) -> Self {
        ChunkDecoder {
            limits,
            chunk_size: DEFAULT_CHUNK_SIZE,
            streams: Vec::new(),
            partial_bytes: 0,
        }
    }

    /// Decode the next complete message, or `Ok(None)` if more bytes are
    /// needed. Consumes whole chunks from the front of `buf`: a `BytesMut`
    /// the caller appends to, or a `&[u8]` read buffer decoded in place
    /// (whatever is left of it is the caller's to keep for the next call).
    pub fn decode<B: InputBuf>(&mut self, buf: &mut B) -> Result<Option<RawMessage>, ChunkError> {
        loop {
            let (step, used) = self.step(buf.chunk())?;
            buf.advance(used);
            match step {
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

    /// Parse (from a peek) the chunk at the front of `data`; it counts as
    /// used (the second value) only if it is complete.
    fn step(&mut self, data: &[u8]) -> Result<(Step, usize), ChunkError> {
        const MORE: (Step, usize) = (Step::NeedMore, 0);
        let Some((fmt, csid, mut pos)) = basic_header(data) else {
            return Ok(MORE);
        };
        let hlen = [11usize, 7, 3, 0][usize::from(fmt)];
        let Some(h) = data.get(pos..pos + hlen) else {
            return Ok(MORE);
        };
        pos += hlen;
        let idx = self.streams.iter().position(|s| s.csid == csid);
        self.check_header(fmt, csid, idx)?;
        let state = idx.map(|i| &self.streams[i]);
        let Some((head, ext_len)) = read_fields(fmt, h, &data[pos..], state) else {
            return Ok(MORE);
        };
        pos += ext_len;
        let in_progress = state.is_some_and(|s| s.partial.is_some());
        if !in_progress && head.len > self.limits.max_message_len {
            return Err(ChunkError::MessageTooLong {
                len: head.len,
                limit: self.limits.max_message_len,
            });
        }
        let received = state.and_then(|s| s.partial.as_ref()).map_or(0, Vec::len);
        let remaining = head.len as usize - received;
        let take = remaining.min(self.chunk_size as usize);
        if data.len() - pos < take {
            return Ok(MORE);
        }
        let completes = take == remaining;
        let len = head.len as usize;
        if !in_progress && !completes && self.partial_bytes + len > self.limits.max_partial_bytes {
            return Err(ChunkError::PartialBudgetExceeded {
                limit: self.limits.max_partial_bytes,
            });
        }
        // The whole chunk is available and valid: commit.
        trace!(
            "chunk fmt {fmt} csid {csid} take {take} of {} (type {})",
            head.len,
            head.type_id
        );
        // A message that has arrived whole (`len` bytes follow its header)
        // is reserved whole at once: within what was received.
        let more = (!completes).then_some(if data.len() - pos >= len {
            len
        } else {
            MIN_RESERVE
        });
        let step = self.commit(csid, idx, fmt, head, &data[pos..pos + take], more);
        Ok((step, pos + take))
    }

    /// fmt 1/2/3 need a previous header; only fmt 3 may continue a message;
    /// a new csid must fit the cap.
    fn check_header(&self, fmt: u8, csid: u32, idx: Option<usize>) -> Result<(), ChunkError> {
        let state = idx.map(|i| &self.streams[i]);
        if fmt != 0 && state.is_none() {
            return Err(ChunkError::NoPreviousHeader { csid });
        }
        if fmt != 3 && state.is_some_and(|s| s.partial.is_some()) {
            return Err(ChunkError::HeaderChangedMidMessage { csid });
        }
        if state.is_none() && self.streams.len() >= self.limits.max_chunk_streams {
            return Err(ChunkError::TooManyChunkStreams {
                limit: self.limits.max_chunk_streams,
            });
        }
        Ok(())
    }

    /// Apply a complete, valid chunk (its payload `chunk`) to the csid's
    /// state: a finished message, or progress on one. `more`: `None` if
    /// this chunk completes its message, else what a new message first
    /// reserves (at most its length).
    fn commit(
        &mut self,
        csid: u32,
        idx: Option<usize>,
        fmt: u8,
        head: Fields,
        chunk: &[u8],
        more: Option<usize>,
    ) -> Step {
        let idx = idx.unwrap_or_else(|| {
            self.streams.push(InStream::new(csid));
            self.streams.len() - 1
        });
        let st = &mut self.streams[idx];
        let len = head.len as usize;
        let payload = match st.partial.as_mut() {
            None => {
                st.timestamp = if fmt == 0 {
                    head.ts_field
                } else {
                    st.timestamp.wrapping_add(head.ts_field)
                };
                st.ts_field = head.ts_field;
                st.ext = head.ext;
                st.len = head.len;
                st.type_id = head.type_id;
                st.stream_id = head.stream_id;
                if let Some(reserve) = more {
                    let mut p = Vec::with_capacity(len.min(chunk.len().max(reserve)));
                    p.extend_from_slice(chunk);
                    st.partial = Some(p);
                    self.partial_bytes += len;
                    return Step::Consumed;
                }
                // Fits in this chunk: copied into a buffer of its own, so a
                // cached frame never keeps the caller's whole read buffer
                // alive (a 64 KiB read buffer per 300-byte audio frame) and
                // the caller can reuse that buffer. This is the one copy a
                // single-chunk message gets on its way in.
                Bytes::copy_from_slice(chunk)
            }
            Some(p) => {
                append_grow(p, chunk, len);
                if more.is_some() {
                    return Step::Consumed;
                }
                self.partial_bytes -= len;
                Bytes::from(st.partial.take().unwrap_or_default())
            }
        };
        Step::Message(RawMessage {
            csid,
            timestamp: st.timestamp,
            type_id: st.type_id,
            stream_id: st.stream_id,
            payload,
        })
    }
}

/// The basic header at the front of `data`: fmt, csid and its length.
fn basic_header(data: &[u8]) -> Option<(u8, u32, usize)> {
    let b0 = *data.first()?;
    let fmt = b0 >> 6;
    Some(match b0 & 0x3F {
        0 => (fmt, 64 + u32::from(*data.get(1)?), 2),
        1 => {
            let b = data.get(1..3)?;
            (fmt, 64 + u32::from(b[0]) + 256 * u32::from(b[1]), 3)
        }
        c => (fmt, u32::from(c), 1),
    })
}

/// A chunk's message header fields after extension (fmt 1/2/3 completed
/// from the csid's state).
struct Fields {
    /// Timestamp field: delta (fmt 1/2/3) or absolute (fmt 0).
    ts_field: u32,
    ext: bool,
    len: u32,
    type_id: u8,
    stream_id: u32,
}

/// The fields of a chunk whose message header is `h` (fmt-dependent
/// length), followed by `rest`; and how many bytes of `rest` an extended
/// timestamp takes. `None` if those 4 bytes have not arrived. `state` is the
/// csid's state (present unless fmt is 0, checked by the caller).
fn read_fields(
    fmt: u8,
    h: &[u8],
    rest: &[u8],
    state: Option<&InStream>,
) -> Option<(Fields, usize)> {
    let ext_at = |n: usize| rest.get(..n).map(be32);
    if fmt == 3 {
        let s = state?;
        let mut used = 0;
        if s.ext {
            // Peers disagree on whether fmt 3 repeats the extended field:
            // consume it only if it is the expected value.
            let v = ext_at(4)?;
            if v == s.ts_field || (s.partial.is_some() && v == s.timestamp) {
                used = 4;
            }
        }
        let f = Fields {
            ts_field: s.ts_field,
            ext: s.ext,
            len: s.len,
            type_id: s.type_id,
            stream_id: s.stream_id,
        };
        return Some((f, used));
    }
    let raw = be24(&h[0..3]);
    let ext = raw == EXT_MARK;
    let (ts_field, used) = if ext { (ext_at(4)?, 4) } else { (raw, 0) };
    let (len, type_id) = match (fmt, state) {
        (0 | 1, _) => (be24(&h[3..6]), h[6]),
        (_, Some(s)) => (s.len, s.type_id),
        (_, None) => return None,
    };
    let stream_id = match (fmt, state) {
        (0, _) => u32::from_le_bytes([h[7], h[8], h[9], h[10]]),
        (_, Some(s)) => s.stream_id,
        (_, None) => return None,
    };
    let f = Fields {
        ts_field,
        ext,
        len,
        type_id,
        stream_id,
    };
    Some((f, used))
}

/// Append `data` to a partial message of declared length `len`, growing its
/// capacity geometrically but never past `len`: what is reserved stays
/// within twice what has arrived (or [`MIN_RESERVE`]), and the finished
/// buffer is exactly `len` bytes (frozen without a copy).
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
