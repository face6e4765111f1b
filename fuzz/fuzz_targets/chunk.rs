//! Fuzz the dechunker with small limits. The first byte chooses the piece
//! sizes; the rest is the chunk stream. The messages (and the error, if any)
//! must be the same whether the stream arrives whole or in pieces.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rtmp_edge::proto::chunk::{ChunkDecoder, ChunkError, ChunkLimits, RawMessage};

fn limits() -> ChunkLimits {
    ChunkLimits {
        max_message_len: 64 * 1024,
        max_partial_bytes: 128 * 1024,
        max_chunk_streams: 8,
        max_chunk_size: 64 * 1024,
    }
}

/// Decode `stream` delivered in pieces of `piece(left)` bytes; stop at the
/// first error.
fn decode_all(
    stream: &[u8],
    mut piece: impl FnMut(usize) -> usize,
) -> (Vec<RawMessage>, Option<ChunkError>) {
    let mut dec = ChunkDecoder::new(limits());
    let mut buf = BytesMut::new();
    let mut msgs = Vec::new();
    let mut pos = 0;
    while pos < stream.len() {
        let n = piece(stream.len() - pos).clamp(1, stream.len() - pos);
        buf.extend_from_slice(&stream[pos..pos + n]);
        pos += n;
        // Each message consumes at least one header byte, so this bounds the loop.
        for _ in 0..=stream.len() {
            let before = buf.len();
            match dec.decode(&mut buf) {
                Ok(Some(m)) => msgs.push(m),
                Ok(None) => break,
                Err(e) => return (msgs, Some(e)),
            }
            assert!(buf.len() <= before, "decode grew the input buffer");
        }
        assert!(dec.chunk_size() >= 1 && dec.chunk_size() <= limits().max_chunk_size);
    }
    (msgs, None)
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, stream)) = data.split_first() else {
        return;
    };
    let whole = decode_all(stream, |left| left);
    let mut state = u32::from(split) | 1;
    let max = usize::from(split % 64) + 1;
    let pieces = decode_all(stream, |_| {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        1 + (state >> 16) as usize % max
    });
    assert_eq!(whole, pieces, "split delivery changed the decoded messages");
});
