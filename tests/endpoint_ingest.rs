//! Ingest through the sans-IO endpoint: bytes handed to `Endpoint::receive`
//! are decoded where they lie when nothing waits before them, and only the
//! rest is kept; split anywhere, the same frames come out, in order.

mod common;

use std::io::IoSlice;

use bytes::{Bytes, BytesMut};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use common::captures::read_capture;
use common::sim::*;
use rtmp_edge::config::{Config, Overrides};
use rtmp_edge::endpoint::{ConnId, Endpoint, Input, Written, MESSAGES_PER_TURN};
use rtmp_edge::proto::chunk::{ChunkDecoder, ChunkLimits};
use rtmp_edge::proto::client::{ClientEvent, ClientMode};
use rtmp_edge::proto::session::MediaKind;

/// The audio and video payloads of a client-to-server capture, in order,
/// read with the chunk reader alone (after the 3073-byte handshake).
fn media_in_capture(bytes: &[u8]) -> Vec<(MediaKind, Bytes)> {
    let mut dec = ChunkDecoder::new(ChunkLimits::default());
    let mut buf = BytesMut::from(&bytes[3073..]);
    let mut media = Vec::new();
    while let Some(m) = dec.decode(&mut buf).expect("capture decodes") {
        let kind = match m.type_id {
            8 => MediaKind::Audio,
            9 => MediaKind::Video,
            _ => continue,
        };
        media.push((kind, m.payload));
    }
    assert!(buf.is_empty(), "capture ends on a chunk boundary");
    media
}

/// Feed `bytes` as one publisher's reads (sizes drawn from `sizes`), the way
/// the driver does: `receive` each read, then `process` until done. A player
/// of live/cap (ffmpeg's capture publishes "cap") was there first; returns
/// what it got.
fn publish_in_reads(bytes: &[u8], mut sizes: impl FnMut() -> usize) -> Vec<(MediaKind, Bytes)> {
    let mut sim = Sim::new(test_config());
    let mut player = sim.started(ClientMode::Play, "cap");
    let publisher = sim.accept();
    let mut pos = 0;
    while pos < bytes.len() {
        let n = sizes().clamp(1, bytes.len() - pos);
        sim.ep.receive(publisher, &bytes[pos..pos + n], sim.now);
        pos += n;
        while sim.ep.process(publisher, sim.now) == Input::Pending {}
        sim.pump(&mut [&mut player]);
    }
    assert!(sim.ep.is_open(publisher), "publisher still connected");
    player
        .media()
        .into_iter()
        .map(|(kind, _, payload)| (kind, payload))
        .collect()
}

#[test]
fn reads_split_anywhere_deliver_every_frame_in_order() {
    let Some(bytes) = read_capture("ffmpeg_publish.c2s.bin") else {
        return;
    };
    let want = media_in_capture(&bytes);
    assert!(want.len() > 200, "the capture has its media");
    // One read of everything, reads of a whole socket buffer, and small
    // reads that cut chunk headers and bodies at random points.
    let whole = publish_in_reads(&bytes, || usize::MAX);
    assert_eq!(whole, want, "one read");
    let big = publish_in_reads(&bytes, || 64 * 1024);
    assert_eq!(big, want, "64 KiB reads");
    for seed in 0..8u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let max = [7, 100, 1500, 9000][seed as usize % 4];
        let got = publish_in_reads(&bytes, || rng.random_range(1..=max));
        assert_eq!(got.len(), want.len(), "seed {seed}: frame count");
        assert!(got == want, "seed {seed}: frames differ");
    }
}

#[test]
fn input_past_the_message_limit_waits_and_keeps_its_order() {
    let mut sim = Sim::new(test_config());
    let mut player = sim.started(ClientMode::Play, "s");
    let mut publisher = sim.started(ClientMode::Publish, "s");
    publish_start(&mut sim, &mut publisher, &mut [&mut player]);
    let before = player.media().len();
    // Three turns' worth of small audio frames arrive in one read.
    let frames = 3 * MESSAGES_PER_TURN;
    for n in 0..frames {
        publisher.send(MediaKind::Audio, 10 + n as u32, &audio(n as u8));
    }
    let read = publisher.outbound.split();
    // The driver's turn: the read (decoded in place up to the limit), then
    // `process`, which finds the turn's budget spent and leaves the rest.
    sim.ep.receive(publisher.id, &read, sim.now);
    assert_eq!(sim.ep.process(publisher.id, sim.now), Input::Pending);
    sim.pump(&mut [&mut player]);
    assert_eq!(
        player.media().len() - before,
        MESSAGES_PER_TURN,
        "one turn handles {MESSAGES_PER_TURN} messages, in place or not"
    );
    let mut turns = 1;
    loop {
        turns += 1;
        assert!(turns <= 4, "each turn handles up to the limit");
        if sim.ep.process(publisher.id, sim.now) != Input::Pending {
            break;
        }
    }
    assert_eq!(turns, 3, "three turns of {MESSAGES_PER_TURN} messages");
    sim.pump(&mut [&mut player, &mut publisher]);
    let got: Vec<u32> = player.media()[before..]
        .iter()
        .map(|(kind, ts, _)| {
            assert_eq!(*kind, MediaKind::Audio);
            *ts
        })
        .collect();
    let want: Vec<u32> = (0..frames as u32).map(|n| 10 + n).collect();
    assert_eq!(got, want, "every frame, in order");
}

/// Take everything in connection `id`'s outbox (as the driver's write would).
fn drain(ep: &mut Endpoint, id: ConnId) -> Vec<u8> {
    let mut bytes = Vec::new();
    if let Some(outbox) = ep.outbox_mut(id) {
        while !outbox.is_empty() {
            let mut slices = [IoSlice::new(&[]); 16];
            let k = outbox.io_slices(&mut slices);
            let before = bytes.len();
            for s in &slices[..k] {
                bytes.extend_from_slice(s);
            }
            outbox.advance(bytes.len() - before);
        }
        ep.handle_written(id, bytes.len(), Written::Drained);
    }
    bytes
}

/// An edge pulling live/cam from an origin (a second endpoint), the
/// origin's output handed to the edge's upstream in reads of `sizes`
/// bytes. The origin's publisher sends `frames`; returns what the edge's
/// player got.
fn pull_in_reads(
    frames: &[(MediaKind, u32, Bytes)],
    mut sizes: impl FnMut() -> usize,
) -> Vec<(MediaKind, u32, Bytes)> {
    let text = "[apps.live]\npull = [\"rtmp://origin.test/live\"]\n";
    let config = Config::from_toml(text, "t.toml", &Overrides::default()).unwrap();
    let mut edge = Sim::new(Config {
        stats_interval_ms: 3_600_000,
        ..config
    });
    let mut origin = Sim::new(test_config());
    let mut publisher = origin.started(ClientMode::Publish, "cam");
    assert!(publisher.has(&ClientEvent::PublishStarted));
    let mut player = edge.started(ClientMode::Play, "cam");
    let job = edge.ep.poll_connect().expect("the player's key is pulled");
    let up = ConnId {
        index: 1000,
        generation: 1000,
    };
    let addr = "192.0.2.9:1935".parse().unwrap();
    assert!(edge.ep.handle_connected(job.ticket, up, addr, edge.now));
    let o = origin.accept();
    let mut sent = 0;
    for _ in 0..1000 {
        let mut moved = false;
        let to_origin = drain(&mut edge.ep, up);
        if !to_origin.is_empty() {
            moved = true;
            let mut input = origin.ep.handle_input(o, &to_origin, origin.now);
            while input == Input::Pending {
                input = origin.ep.process(o, origin.now);
            }
        }
        let to_edge = drain(&mut origin.ep, o);
        let mut pos = 0;
        while pos < to_edge.len() {
            moved = true;
            let n = sizes().clamp(1, to_edge.len() - pos);
            edge.ep.receive(up, &to_edge[pos..pos + n], edge.now);
            pos += n;
            while edge.ep.process(up, edge.now) == Input::Pending {}
        }
        edge.pump(&mut [&mut player]);
        // Once the upstream plays, the origin's publisher sends its frames.
        if sent < frames.len() && player.has(&ClientEvent::PlayStarted) && !moved {
            for (kind, ts, payload) in frames {
                publisher.send(*kind, *ts, payload);
            }
            sent = frames.len();
            moved = true;
        }
        origin.pump(&mut [&mut publisher]);
        if !moved && sent == frames.len() {
            break;
        }
    }
    assert!(edge.ep.is_open(up), "the upstream is still connected");
    player.media()
}

#[test]
fn a_pulled_stream_read_in_pieces_arrives_whole_and_in_order() {
    // A GOP of large video frames (several chunks each) and small audio.
    let mut frames = vec![
        (MediaKind::Video, 0, Bytes::from_static(VIDEO_HEADER)),
        (MediaKind::Audio, 0, Bytes::from_static(AUDIO_HEADER)),
    ];
    for n in 0..40u32 {
        let mut video = if n % 20 == 0 {
            keyframe(n as u8)
        } else {
            inter(n as u8)
        }
        .to_vec();
        video.resize(300 + 977 * (n as usize % 13), n as u8);
        frames.push((MediaKind::Video, 40 * n, Bytes::from(video)));
        frames.push((MediaKind::Audio, 40 * n + 3, audio(n as u8)));
    }
    let whole = pull_in_reads(&frames, || usize::MAX);
    let tail = |got: &[(MediaKind, u32, Bytes)]| {
        // The player's view past the sequence headers (packet type 0; the
        // frames sent are packet type 1: NAL units, raw AAC).
        got.iter()
            .filter(|(_, _, p)| p.get(1) == Some(&1))
            .map(|(k, _, p)| (*k, p.clone()))
            .collect::<Vec<_>>()
    };
    let want: Vec<_> = frames[2..]
        .iter()
        .map(|(k, _, p)| (*k, p.clone()))
        .collect();
    assert_eq!(tail(&whole), want, "one read per write");
    for seed in 0..6u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let max = [5, 300, 5000][seed as usize % 3];
        let got = pull_in_reads(&frames, || rng.random_range(1..=max));
        assert_eq!(tail(&got).len(), want.len(), "seed {seed}: frame count");
        assert!(tail(&got) == want, "seed {seed}: frames differ");
    }
}
