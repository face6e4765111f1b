//! AMF0 decode/encode of real message bodies (golden/amf0/, from the
//! captures): ffmpeg's connect command and its @setDataFrame onMetaData.
//! Criterion reports time per call (ns per decode) and bytes/s.

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rtmp_edge::proto::amf0::{decode_all, encode_all, Amf0Limits};
use rtmp_edge::proto::command::Command;

const FFMPEG_CONNECT: &[u8] = include_bytes!("../golden/amf0/ffmpeg_connect.bin");
const FFMPEG_METADATA: &[u8] = include_bytes!("../golden/amf0/ffmpeg_set_data_frame.bin");

fn amf0(c: &mut Criterion) {
    let limits = Amf0Limits::default();
    let connect = decode_all(FFMPEG_CONNECT, &limits).unwrap();

    let mut g = c.benchmark_group("amf0");
    g.throughput(Throughput::Bytes(FFMPEG_CONNECT.len() as u64));
    g.bench_function("decode_ffmpeg_connect", |b| {
        b.iter(|| decode_all(black_box(FFMPEG_CONNECT), &limits).unwrap())
    });
    g.bench_function("decode_and_parse_ffmpeg_connect", |b| {
        b.iter(|| {
            let v = decode_all(black_box(FFMPEG_CONNECT), &limits).unwrap();
            Command::parse_owned(v).unwrap()
        })
    });
    let mut out = BytesMut::with_capacity(4096);
    g.bench_function("encode_ffmpeg_connect", |b| {
        b.iter(|| {
            out.clear();
            encode_all(black_box(&connect), &mut out);
            out.len()
        })
    });
    g.throughput(Throughput::Bytes(FFMPEG_METADATA.len() as u64));
    g.bench_function("decode_ffmpeg_on_metadata", |b| {
        b.iter(|| decode_all(black_box(FFMPEG_METADATA), &limits).unwrap())
    });
    g.finish();
}

criterion_group!(benches, amf0);
criterion_main!(benches);
