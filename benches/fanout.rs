//! Fan-out cost: one frame offered to 1000 in-memory subscriber queues, then
//! every queue drained through `io_slices`/`advance` (as a writable socket
//! taking everything would), so the queues stay at steady state.
//!
//! Throughput is reported in elements = subscribers, so criterion's
//! "time per element" is the cost per subscriber per frame.
//!
//! `offer_and_drain/*` are RTMP players (each frame's chunked wire, one
//! slice); `offer_and_drain_flv/*` are HTTP-FLV viewers fed the same frames
//! (tag header, shared payload and trailer, three slices).
//!
//! Run: `cargo bench --bench fanout -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::io::IoSlice;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rtmp_edge::relay::{
    Frame, Offer, OutputForm, QueueConfig, StreamConfig, StreamTable, SubscriberQueue,
};

const SUBSCRIBERS: usize = 1000;

fn queues(form: OutputForm) -> Vec<SubscriberQueue> {
    (0..SUBSCRIBERS)
        .map(|_| {
            let mut q = SubscriberQueue::new(QueueConfig {
                form,
                ..QueueConfig::default()
            });
            let key = Frame::media(9, 0, Bytes::from(vec![0x17, 1, 0, 0, 0, 0]), 4096);
            assert_eq!(q.offer(key, 0), Offer::Queued);
            q
        })
        .collect()
}

fn drain(q: &mut SubscriberQueue) -> usize {
    let mut total = 0;
    while !q.is_empty() {
        let n = {
            let mut slices = [IoSlice::new(&[]); 8];
            let k = q.io_slices(&mut slices);
            slices[..k].iter().map(|s| s.len()).sum::<usize>()
        };
        q.advance(n);
        total += n;
    }
    total
}

fn fanout(c: &mut Criterion) {
    let mut g = c.benchmark_group("fanout_1000");
    g.throughput(Throughput::Elements(SUBSCRIBERS as u64));
    for (name, type_id, len) in [("inter_2k", 9u8, 2048usize), ("audio_200", 8, 200)] {
        let mut payload = vec![0u8; len];
        payload[0] = if type_id == 9 { 0x27 } else { 0xAF };
        payload[1] = 1;
        let frame = Frame::media(type_id, 40, Bytes::from(payload), 4096);
        for (group, form) in [
            ("offer_and_drain", OutputForm::Rtmp),
            ("offer_and_drain_flv", OutputForm::Flv),
        ] {
            let mut qs = queues(form);
            for q in &mut qs {
                drain(q);
            }
            let expect = match form {
                OutputForm::Rtmp => frame.wire_len(),
                OutputForm::Flv => 11 + frame.payload.len() + 4,
            };
            assert_eq!(qs[0].offer(frame.clone(), 0), Offer::Queued);
            assert_eq!(drain(&mut qs[0]), expect, "{group}/{name}");
            let mut now = 0u64;
            g.bench_function(format!("{group}/{name}"), |b| {
                b.iter(|| {
                    now += 1;
                    let mut written = 0;
                    for q in qs.iter_mut() {
                        black_box(q.offer(frame.clone(), now));
                    }
                    for q in qs.iter_mut() {
                        written += drain(q);
                    }
                    black_box(written)
                })
            });
        }
    }

    // The whole per-message path: rebase + classify + encode once in the
    // stream table, then the fan-out and drain.
    let mut table: StreamTable<u32> = StreamTable::new(StreamConfig::default());
    table.claim_publisher("k", u32::MAX, 0);
    let mut qs = queues(OutputForm::Rtmp);
    for id in 0..SUBSCRIBERS as u32 {
        table.add_viewer("k", id);
    }
    for q in &mut qs {
        drain(q);
    }
    let payload = {
        let mut p = vec![0u8; 2048];
        p[0] = 0x27;
        p[1] = 1;
        Bytes::from(p)
    };
    let mut ts = 0u32;
    g.bench_function("on_media_offer_and_drain/inter_2k", |b| {
        b.iter(|| {
            ts = ts.wrapping_add(40);
            let (frame, ids) = table
                .on_media("k", u32::MAX, 9, ts, payload.clone(), ts as u64)
                .expect("publisher");
            for &id in ids {
                black_box(qs[id as usize].offer(frame.clone(), ts as u64));
            }
            let mut written = 0;
            for q in qs.iter_mut() {
                written += drain(q);
            }
            black_box(written)
        })
    });
    g.finish();
}

/// Ingest alone (no viewers): the stream table's per-message work (rebase,
/// classification by track, caches, canonical wire), for a legacy H.264
/// inter frame and an Enhanced RTMP v2 ManyTracks message of two tracks.
fn ingest(c: &mut Criterion) {
    let mut g = c.benchmark_group("ingest");
    g.throughput(Throughput::Elements(1));
    let legacy = {
        let mut p = vec![0u8; 2048];
        p[..5].copy_from_slice(&[0x27, 1, 0, 0, 0]);
        Bytes::from(p)
    };
    let many = {
        // inter, Multitrack; ManyTracks|CodedFramesX, hvc1; tracks 0 and 1
        let mut p = vec![0xA6, 0x13, b'h', b'v', b'c', b'1'];
        for track in 0..2u8 {
            p.extend_from_slice(&[track, 0x00, 0x04, 0x00]);
            p.extend(std::iter::repeat_n(0x55, 1024));
        }
        Bytes::from(p)
    };
    for (name, payload) in [("legacy_avc_2k", legacy), ("many_tracks_2x1k", many)] {
        let mut table: StreamTable<u32> = StreamTable::new(StreamConfig::default());
        table.claim_publisher("k", 1, 0);
        let mut ts = 0u32;
        g.bench_function(format!("on_media/{name}"), |b| {
            b.iter(|| {
                ts = ts.wrapping_add(40);
                black_box(table.on_media("k", 1, 9, ts, payload.clone(), 0).is_some())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, fanout, ingest);
criterion_main!(benches);
