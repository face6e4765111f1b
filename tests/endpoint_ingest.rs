//! Ingest through the sans-IO endpoint: bytes handed to `Endpoint::receive`
//! are decoded where they lie when nothing waits before them, and only the
//! rest is kept; split anywhere, the same frames come out, in order.

mod common;

use bytes::{Bytes, BytesMut};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use common::captures::read_capture;
use common::sim::*;
use rtmp_edge::endpoint::{Input, MESSAGES_PER_TURN};
use rtmp_edge::proto::chunk::{ChunkDecoder, ChunkLimits};
use rtmp_edge::proto::client::ClientMode;
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
