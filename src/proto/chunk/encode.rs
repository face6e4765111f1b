//! The chunk writer: header compression per csid ([`ChunkEncoder`]) and
//! the canonical form shared by every viewer: its headers alone, written
//! around the payload without copying it ([`CanonicalHeaders`], what the
//! relay uses), or the whole message in one buffer ([`encode_canonical`]).
//! See the parent module for the rules.

use std::io::IoSlice;

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

/// Largest chunk stream id [`CanonicalHeaders`] takes (one-byte basic header).
const MAX_SHORT_CSID: u32 = 63;

/// The chunk headers of one message in canonical form, kept beside its
/// payload instead of copying the payload between them: the message goes
/// out as [`first`](Self::first), `payload[..cs]`,
/// [`continuation`](Self::continuation), `payload[cs..2cs]`, ... (`cs` the
/// chunk size), byte for byte what [`encode_canonical`] writes for the same
/// message. The fmt 3 header repeats the extended timestamp when the fmt 0
/// header has one.
///
/// 24 bytes inline and `Copy`: building it allocates nothing. It takes
/// chunk stream ids [`MIN_CSID`]`..=63` (a one-byte basic header; every
/// canonical csid is one), others are a caller bug (`debug_assert!`,
/// clamped in release builds).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CanonicalHeaders {
    /// The fmt 0 header (12 bytes, 16 with an extended timestamp), then the
    /// fmt 3 header (1 byte, 5 with an extended timestamp); the rest zero.
    bytes: [u8; 21],
    /// The chunk size, 24-bit big-endian, saturated at 2^24 - 1: no message
    /// is longer, so a larger chunk size cuts every message the same way.
    chunk_size: [u8; 3],
}

impl CanonicalHeaders {
    /// The headers of a `len`-byte message (clamped below 2^24) on `csid`.
    pub fn new(
        csid: u32,
        timestamp: u32,
        type_id: u8,
        stream_id: u32,
        len: usize,
        chunk_size: u32,
    ) -> Self {
        debug_assert!(
            (MIN_CSID..=MAX_SHORT_CSID).contains(&csid),
            "canonical csid {csid}"
        );
        debug_assert!(
            (1..=MAX_CHUNK_SIZE).contains(&chunk_size),
            "chunk size {chunk_size}"
        );
        debug_assert!(len <= MAX_WIRE_LEN, "payload too long");
        let csid = csid.clamp(MIN_CSID, MAX_SHORT_CSID);
        let len = len.min(MAX_WIRE_LEN);
        let ext = timestamp >= EXT_MARK;
        let mut bytes = [0u8; 21];
        let mut out = &mut bytes[..];
        put_basic_header(&mut out, 0, csid);
        put_u24(&mut out, if ext { EXT_MARK } else { timestamp });
        put_u24(&mut out, len as u32);
        out.put_u8(type_id);
        out.put_u32_le(stream_id);
        if ext {
            out.put_u32(timestamp);
        }
        put_basic_header(&mut out, 3, csid);
        if ext {
            out.put_u32(timestamp);
        }
        let cs = chunk_size.clamp(1, MAX_WIRE_LEN as u32).to_be_bytes();
        CanonicalHeaders {
            bytes,
            chunk_size: [cs[1], cs[2], cs[3]],
        }
    }

    /// Bytes of the extended timestamp field: 4 when the headers carry one,
    /// else 0. With one, byte 16 is the fmt 3 basic header (never 0: its
    /// fmt bits are set); without, the fmt 3 header is byte 12 and byte 16
    /// stays 0.
    #[inline]
    fn ext_len(&self) -> usize {
        if self.bytes[16] != 0 {
            4
        } else {
            0
        }
    }

    /// The fmt 0 header of the first chunk.
    #[inline]
    pub fn first(&self) -> &[u8] {
        &self.bytes[..12 + self.ext_len()]
    }

    /// The fmt 3 header before every further chunk.
    #[inline]
    pub fn continuation(&self) -> &[u8] {
        let e = self.ext_len();
        &self.bytes[12 + e..13 + 2 * e]
    }

    /// The chunk size the message is cut at (saturated at 2^24 - 1).
    #[inline]
    pub fn chunk_size(&self) -> usize {
        let [a, b, c] = self.chunk_size;
        u32::from_be_bytes([0, a, b, c]) as usize
    }

    /// Bytes the message puts on the wire with a `payload_len`-byte payload
    /// (the same number [`encode_canonical`] returns).
    #[inline]
    pub fn wire_len(&self, payload_len: usize) -> usize {
        let len = payload_len.min(MAX_WIRE_LEN);
        let cs = self.chunk_size();
        let e = self.ext_len();
        if len <= cs {
            // one chunk: the common case, per frame per viewer on offer
            return 12 + e + len;
        }
        // continuation chunks: ceil(len / cs) - 1, without a division for
        // the usual power-of-two chunk sizes
        let more = if cs.is_power_of_two() {
            (len - 1) >> cs.trailing_zeros()
        } else {
            (len - 1) / cs
        };
        12 + e + len + more * (1 + e)
    }

    /// Fill `dst` with the message's bytes from byte `offset` on (headers
    /// from `self`, chunk bodies lent from `payload`); returns the slices
    /// filled, stopping early when `dst` is full. `offset` may land
    /// anywhere (inside a header or a chunk body): it is mapped to a chunk
    /// index arithmetically, with no per-chunk state. Empty slices are left
    /// out; an `offset` at or past the end fills nothing.
    #[inline]
    pub fn io_slices<'a>(
        &'a self,
        payload: &'a [u8],
        offset: usize,
        dst: &mut [IoSlice<'a>],
    ) -> usize {
        // The common case, inlined into the fan-out's write loop: a message
        // of one chunk (audio, most inter frames) from its start.
        if offset == 0 && payload.len() <= self.chunk_size() && dst.len() >= 2 {
            dst[0] = IoSlice::new(self.first());
            if payload.is_empty() {
                return 1;
            }
            dst[1] = IoSlice::new(payload);
            return 2;
        }
        self.io_slices_from(payload, offset, dst)
    }

    /// [`CanonicalHeaders::io_slices`] in general.
    #[inline(never)]
    fn io_slices_from<'a>(
        &'a self,
        payload: &'a [u8],
        offset: usize,
        dst: &mut [IoSlice<'a>],
    ) -> usize {
        let payload = &payload[..payload.len().min(MAX_WIRE_LEN)];
        let (first, cont) = (self.first(), self.continuation());
        let cs = self.chunk_size();
        // Chunk 0 is the fmt 0 header and up to `cs` payload bytes; every
        // further chunk is a fmt 3 header and up to `cs` bytes.
        let (mut chunk, mut skip) = if offset < first.len() + cs {
            (0, offset)
        } else {
            let rest = offset - first.len() - cs;
            let stride = cont.len() + cs;
            (1 + rest / stride, rest % stride)
        };
        let mut n = 0;
        loop {
            let start = chunk * cs;
            if chunk > 0 && start >= payload.len() {
                return n;
            }
            let head = if chunk == 0 { first } else { cont };
            let body = &payload[start.min(payload.len())..(start + cs).min(payload.len())];
            for part in [head, body] {
                if skip >= part.len() {
                    // written already, or empty
                    skip -= part.len();
                    continue;
                }
                if n == dst.len() {
                    return n;
                }
                dst[n] = IoSlice::new(&part[skip..]);
                skip = 0;
                n += 1;
            }
            chunk += 1;
        }
    }
}

impl std::fmt::Debug for CanonicalHeaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CanonicalHeaders")
            .field("first", &self.first())
            .field("continuation", &self.continuation())
            .field("chunk_size", &self.chunk_size())
            .finish()
    }
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

    /// Concatenate the slices [`CanonicalHeaders::io_slices`] gives from
    /// `offset`, `k` slices at a time.
    fn gather(h: &CanonicalHeaders, payload: &[u8], mut offset: usize, k: usize) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let mut slices = [IoSlice::new(&[]); 8];
            let n = h.io_slices(payload, offset, &mut slices[..k]);
            if n == 0 {
                return out;
            }
            for s in &slices[..n] {
                assert!(!s.is_empty(), "empty slice");
                out.extend_from_slice(s);
                offset += s.len();
            }
        }
    }

    #[test]
    fn canonical_headers_write_what_encode_canonical_writes() {
        for &(csid, len, cs, ts, sid) in &[
            (4u32, 0usize, 128u32, 0u32, 1u32),
            (6, 1, 1, 5, 1),
            (7, 128, 128, 0xFF_FFFE, 1),
            (7, 129, 128, 0xFF_FFFF, 3),
            (63, 300, 100, 0x0100_0000, 0x0102_0304),
            (2, 5000, 4096, 0xFFFF_FFFF, 1),
            (7, 4096, 4096, 40, 1),
            (7, 8193, 4096, 40, 1),
            (6, 70, 0x7FFF_FFFF, 9, 1),
        ] {
            let payload: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let msg = RawMessage {
                csid,
                timestamp: ts,
                type_id: 9,
                stream_id: sid,
                payload: Bytes::from(payload.clone()),
            };
            let expect = encode_canonical(&msg, cs);
            let h = CanonicalHeaders::new(csid, ts, 9, sid, len, cs);
            assert_eq!(h.wire_len(len), expect.len(), "{csid} {len} {cs} {ts:#x}");
            assert_eq!(h.first(), &expect[..h.first().len()]);
            assert_eq!(h.continuation().len(), if ts >= EXT_MARK { 5 } else { 1 });
            // every start offset, one slice or several at a time
            for offset in 0..=expect.len() {
                for k in [1, 2, 3, 8] {
                    assert_eq!(
                        gather(&h, &payload, offset, k),
                        &expect[offset..],
                        "{csid} {len} {cs} {ts:#x} offset {offset} k {k}"
                    );
                }
            }
        }
    }

    #[test]
    fn canonical_headers_lend_the_payload() {
        let payload = vec![0x27u8; 10_000];
        let h = CanonicalHeaders::new(7, 40, 9, 1, payload.len(), 4096);
        let mut slices = [IoSlice::new(&[]); 8];
        assert_eq!(h.io_slices(&payload, 0, &mut slices), 6);
        let lens: Vec<usize> = slices[..6].iter().map(|s| s.len()).collect();
        assert_eq!(lens, [12, 4096, 1, 4096, 1, 1808]);
        assert_eq!(slices[1].as_ptr(), payload.as_ptr());
        assert_eq!(slices[3].as_ptr(), payload[4096..].as_ptr());
        assert_eq!(&*slices[2], &[0xC7]);
        // from inside the second chunk's body
        assert_eq!(h.io_slices(&payload, 12 + 4096 + 1 + 10, &mut slices), 3);
        assert_eq!(slices[0].as_ptr(), payload[4106..].as_ptr());
        assert_eq!(std::mem::size_of::<CanonicalHeaders>(), 24);
    }
}
