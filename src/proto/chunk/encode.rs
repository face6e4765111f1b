//! The chunk writer: header compression per csid ([`ChunkEncoder`]) and
//! the canonical one-shot form shared by every viewer
//! ([`encode_canonical`]). See the parent module for the rules.

use bytes::{BufMut, Bytes, BytesMut};
use log::trace;

use super::*;

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
