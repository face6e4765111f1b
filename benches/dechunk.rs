//! Chunk reader throughput on a recorded video stream (the 237 audio/video
//! messages of `ffmpeg_publish.c2s.bin`, re-encoded at chunk size 128 and
//! 4096), and the cost of a relayed frame's RTMP form: building its
//! canonical chunk headers ([`CanonicalHeaders`], what replaced encoding a
//! second, chunked copy of every payload), per payload byte.
//!
//! `cargo bench --bench dechunk -- --warm-up-time 1 --measurement-time 3`
//! (captures dir: `RTMP_CAPTURES`, default `../shared/captures` beside the checkout).

use std::hint::black_box;
use std::path::PathBuf;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rtmp_edge::proto::chunk::{
    CanonicalHeaders, ChunkDecoder, ChunkEncoder, ChunkLimits, RawMessage,
};

fn media_messages() -> Vec<RawMessage> {
    let dir = std::env::var_os("RTMP_CAPTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/captures"))
        });
    let p = dir.join("ffmpeg_publish.c2s.bin");
    let data = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let mut dec = ChunkDecoder::new(ChunkLimits::default());
    let mut buf = BytesMut::from(&data[1537 + 1536..]);
    let mut out = Vec::new();
    while let Some(m) = dec.decode(&mut buf).expect("capture decodes") {
        if m.type_id == 8 || m.type_id == 9 {
            out.push(m);
        }
    }
    assert_eq!(out.len(), 237);
    out
}

/// Set Chunk Size (sent at the default 128) then the messages at `size`.
fn stream_at(msgs: &[RawMessage], size: u32) -> Bytes {
    let mut enc = ChunkEncoder::new();
    let mut out = BytesMut::new();
    enc.encode(
        &RawMessage {
            csid: 2,
            timestamp: 0,
            type_id: 1,
            stream_id: 0,
            payload: Bytes::copy_from_slice(&size.to_be_bytes()),
        },
        &mut out,
    );
    enc.set_chunk_size(size);
    for m in msgs {
        enc.encode(m, &mut out);
    }
    out.freeze()
}

fn bench(c: &mut Criterion) {
    let msgs = media_messages();
    let mut g = c.benchmark_group("dechunk");
    for size in [128u32, 4096] {
        let stream = stream_at(&msgs, size);
        g.throughput(Throughput::Bytes(stream.len() as u64));
        g.bench_function(format!("ffmpeg_media_chunk{size}"), |b| {
            b.iter_batched(
                || BytesMut::from(&stream[..]),
                |mut buf| {
                    let mut dec = ChunkDecoder::new(ChunkLimits::default());
                    let mut n = 0usize;
                    while let Some(m) = dec.decode(&mut buf).unwrap() {
                        n += m.payload.len();
                    }
                    black_box(n)
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();

    let mut g = c.benchmark_group("frame_headers");
    let payload_bytes: usize = msgs.iter().map(|m| m.payload.len()).sum();
    g.throughput(Throughput::Bytes(payload_bytes as u64));
    for size in [128u32, 4096] {
        g.bench_function(format!("ffmpeg_media_chunk{size}"), |b| {
            b.iter(|| {
                let mut n = 0usize;
                for m in &msgs {
                    let m = black_box(m);
                    let h = CanonicalHeaders::new(
                        m.csid,
                        m.timestamp,
                        m.type_id,
                        1,
                        m.payload.len(),
                        size,
                    );
                    n += h.wire_len(m.payload.len());
                }
                black_box(n)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
