//! Chunk reader throughput on a recorded video stream (the 237 audio/video
//! messages of `ffmpeg_publish.c2s.bin`, re-encoded at chunk size 128 and
//! 4096), and the cost of a relayed frame's RTMP form: building its
//! canonical chunk headers ([`CanonicalHeaders`], what replaced encoding a
//! second, chunked copy of every payload), per payload byte.
//!
//! The `ingest_reads` group feeds the same stream as one read per message
//! (what a publisher's socket usually yields): `appended` copies each read
//! into a buffer and decodes from there (before issue 15), `in_place`
//! decodes each read where it lies and keeps only what is left (the
//! endpoint's `receive` now).
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

/// The messages at chunk size 4096, one `Bytes` per message (one read each).
fn reads_at_4096(msgs: &[RawMessage]) -> Vec<Bytes> {
    let mut enc = ChunkEncoder::new();
    enc.set_chunk_size(4096);
    msgs.iter()
        .map(|m| {
            let mut out = BytesMut::new();
            enc.encode(m, &mut out);
            out.freeze()
        })
        .collect()
}

/// A decoder that already read Set Chunk Size 4096.
fn decoder_at_4096() -> ChunkDecoder {
    let mut dec = ChunkDecoder::new(ChunkLimits::default());
    let mut set = BytesMut::from(&stream_at(&[], 4096)[..]);
    dec.decode(&mut set).unwrap();
    dec
}

fn bench_reads(c: &mut Criterion, msgs: &[RawMessage]) {
    let reads = reads_at_4096(msgs);
    let mut g = c.benchmark_group("ingest_reads");
    g.throughput(Throughput::Bytes(
        reads.iter().map(|r| r.len() as u64).sum(),
    ));
    g.bench_function("appended", |b| {
        let mut inbound = BytesMut::with_capacity(64 * 1024);
        b.iter(|| {
            let mut dec = decoder_at_4096();
            let mut n = 0usize;
            for read in &reads {
                inbound.extend_from_slice(read);
                while let Some(m) = dec.decode(&mut inbound).unwrap() {
                    n += m.payload.len();
                }
            }
            black_box(n)
        })
    });
    g.bench_function("in_place", |b| {
        let mut inbound = BytesMut::with_capacity(64 * 1024);
        b.iter(|| {
            let mut dec = decoder_at_4096();
            let mut n = 0usize;
            for read in &reads {
                if inbound.is_empty() {
                    let mut input: &[u8] = read;
                    while let Some(m) = dec.decode(&mut input).unwrap() {
                        n += m.payload.len();
                    }
                    inbound.extend_from_slice(input);
                } else {
                    inbound.extend_from_slice(read);
                    while let Some(m) = dec.decode(&mut inbound).unwrap() {
                        n += m.payload.len();
                    }
                }
            }
            black_box(n)
        })
    });
    g.finish();
}

fn bench(c: &mut Criterion) {
    let msgs = media_messages();
    bench_reads(c, &msgs);
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
