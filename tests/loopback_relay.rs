//! Publish → play over loopback sockets against the server binary.
//!
//! Every test starts its own server process on an OS-chosen port, drives it
//! with blocking [`TestClient`]s and bounds every wait. Synthetic frames carry
//! a counter (see [`frame_number`]) so order and completeness are checked by
//! value, never by timing.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::rtmp::{
    aac_frame, aac_seq_header, avc_frame, avc_seq_header, frame_number, is_status, media_of,
    TestClient,
};
use common::{wait_until, ServerProcess};
use rtmp_edge::proto::amf0::Amf0Value;
use rtmp_edge::proto::chunk::{ChunkEncoder, RawMessage};
use rtmp_edge::proto::client::{ClientEvent, ClientMode};
use rtmp_edge::proto::command::{
    CODE_PLAY_PUBLISH_NOTIFY, CODE_PLAY_UNPUBLISH_NOTIFY, CODE_PUBLISH_BAD_NAME,
};
use rtmp_edge::proto::message::{CSID_AUDIO, CSID_VIDEO, TYPE_AUDIO, TYPE_VIDEO};
use rtmp_edge::proto::session::MediaKind;

/// Upper bound for any single wait in these tests (generous: 2 shared cores).
const WAIT: Duration = Duration::from_secs(10);

type Media = (MediaKind, u32, Bytes);

/// AVC/AAC packet type 0: a codec sequence header.
fn is_seq_header(m: &Media) -> bool {
    m.2.get(1) == Some(&0)
}

/// Counters of the coded (non-header) frames of one kind, in arrival order.
fn counters(media: &[Media], kind: MediaKind) -> Vec<u32> {
    media
        .iter()
        .filter(|m| m.0 == kind && !is_seq_header(m))
        .map(|m| frame_number(m.0, &m.2).expect("synthetic frame"))
        .collect()
}

fn assert_never_backwards(media: &[Media]) {
    for w in media.windows(2) {
        assert!(
            w[1].1 >= w[0].1,
            "timestamps go backwards: {} after {}",
            w[1].1,
            w[0].1
        );
    }
}

/// Send both sequence headers at `ts`.
fn send_headers(publisher: &mut TestClient, ts: u32) {
    publisher.send_media(MediaKind::Video, ts, &avc_seq_header());
    publisher.send_media(MediaKind::Audio, ts, &aac_seq_header());
}

/// Send video frame `first + n` at `n * 40` ms and audio frame `first + n`
/// at `n * 40 + 20` ms for `n` in `range`; keyframe every `gop` frames.
fn send_av(
    publisher: &mut TestClient,
    first: u32,
    range: std::ops::Range<u32>,
    gop: u32,
    size: usize,
) {
    for n in range {
        publisher.send_media(
            MediaKind::Video,
            n * 40,
            &avc_frame(n % gop == 0, first + n, size),
        );
        publisher.send_media(MediaKind::Audio, n * 40 + 20, &aac_frame(first + n));
    }
}

/// Read events until both UnpublishNotify and StreamEof arrived (panics
/// otherwise); returns every event seen on the way.
fn wait_unpublished(player: &mut TestClient) -> Vec<ClientEvent> {
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    let (mut notify, mut eof) = (false, false);
    while !(notify && eof) {
        let left = deadline.saturating_duration_since(Instant::now());
        let e = player.next_event(left).unwrap_or_else(|| {
            panic!("no UnpublishNotify+StreamEof (notify {notify}, eof {eof}); got {seen:?}")
        });
        notify |= is_status(&e, CODE_PLAY_UNPUBLISH_NOTIFY);
        eof |= matches!(e, ClientEvent::StreamEof(_));
        seen.push(e);
    }
    seen
}

#[test]
fn publish_then_play_receives_every_frame_in_order() {
    let server = ServerProcess::start(&[]);
    let mut publisher = TestClient::publish(server.addr, "live", "one");
    let mut player = TestClient::play(server.addr, "live", "one");
    publisher.send_media(MediaKind::Video, 0, &avc_seq_header());
    publisher.send_media(MediaKind::Audio, 0, &aac_seq_header());
    let frames = 100u32;
    for n in 0..frames {
        publisher.send_media(MediaKind::Video, n * 40, &avc_frame(n % 25 == 0, n, 2000));
        publisher.send_media(MediaKind::Audio, n * 40, &aac_frame(n));
    }
    let got = player.collect_media(2 + 2 * frames as usize, Duration::from_secs(10));
    assert_eq!(
        got.len(),
        2 + 2 * frames as usize,
        "player got {} messages",
        got.len()
    );
    assert_eq!(got[0].2, avc_seq_header());
    assert_eq!(got[1].2, aac_seq_header());
    let video: Vec<u32> = got[2..]
        .iter()
        .filter(|m| m.0 == MediaKind::Video)
        .map(|m| frame_number(m.0, &m.2).unwrap())
        .collect();
    assert_eq!(video, (0..frames).collect::<Vec<_>>());
    let mut last = 0;
    for m in &got {
        assert!(
            m.1 >= last,
            "timestamps go backwards: {} after {}",
            m.1,
            last
        );
        last = m.1;
    }
}

#[test]
fn three_subscribers_get_every_frame_in_order_with_identical_bytes() {
    let server = ServerProcess::start(&[]);
    let mut publisher = TestClient::publish(server.addr, "live", "three");
    let mut players: Vec<TestClient> = (0..3)
        .map(|_| TestClient::play(server.addr, "live", "three"))
        .collect();
    let frames = 150u32;
    send_headers(&mut publisher, 0);
    send_av(&mut publisher, 0, 0..frames, 25, 3000);
    let want = 2 + 2 * frames as usize;
    let got: Vec<Vec<Media>> = players
        .iter_mut()
        .map(|p| p.collect_media(want, WAIT))
        .collect();
    let all: Vec<u32> = (0..frames).collect();
    for (i, g) in got.iter().enumerate() {
        assert_eq!(g.len(), want, "player {i} got {} of {want}", g.len());
        assert_eq!(g[0].2, avc_seq_header(), "player {i}");
        assert_eq!(g[1].2, aac_seq_header(), "player {i}");
        assert_eq!(counters(g, MediaKind::Video), all, "player {i} video");
        assert_eq!(counters(g, MediaKind::Audio), all, "player {i} audio");
        assert_never_backwards(g);
    }
    assert_eq!(got[0], got[1], "players 0 and 1 differ");
    assert_eq!(got[0], got[2], "players 0 and 2 differ");
}

#[test]
fn coalesced_writes_still_deliver_every_frame_in_order() {
    let server = ServerProcess::start(&["--write-coalesce-ms", "30"]);
    let mut publisher = TestClient::publish(server.addr, "live", "coalesce");
    let mut players: Vec<TestClient> = (0..2)
        .map(|_| TestClient::play(server.addr, "live", "coalesce"))
        .collect();
    send_headers(&mut publisher, 0);
    // Paced a little so that frames do wait for the coalescing timer.
    for n in 0..40u32 {
        send_av(&mut publisher, 0, n..n + 1, 10, 3000);
        std::thread::sleep(Duration::from_millis(5));
    }
    let want: Vec<u32> = (0..40).collect();
    let mut first: Option<Vec<Media>> = None;
    for (i, p) in players.iter_mut().enumerate() {
        let got = p.collect_media(82, WAIT);
        assert_eq!(got.len(), 82, "player {i} got {} of 82", got.len());
        assert_eq!(counters(&got, MediaKind::Video), want, "player {i}");
        assert_eq!(counters(&got, MediaKind::Audio), want, "player {i}");
        match &first {
            None => first = Some(got),
            Some(f) => assert_eq!(f, &got, "players differ"),
        }
    }
}

#[test]
fn a_player_that_stops_gets_no_more_media_and_others_continue() {
    let server = ServerProcess::start(&[]);
    let mut publisher = TestClient::publish(server.addr, "live", "stop");
    let mut leaving = TestClient::play(server.addr, "live", "stop");
    let mut staying = TestClient::play(server.addr, "live", "stop");
    send_headers(&mut publisher, 0);
    send_av(&mut publisher, 0, 0..10, 5, 2000);
    assert_eq!(leaving.collect_media(22, WAIT).len(), 22);
    let peer = leaving.local_addr().to_string();
    leaving.finish();
    assert!(
        wait_until(WAIT, || server
            .log_text()
            .lines()
            .any(|l| l.contains(&peer) && l.contains("play stop"))),
        "no play stop line for {peer}"
    );
    send_av(&mut publisher, 0, 10..20, 5, 2000);
    let got = staying.collect_media(42, WAIT);
    assert_eq!(
        counters(&got, MediaKind::Video),
        (0..20).collect::<Vec<_>>()
    );
    let after = leaving.collect_media(1, Duration::from_millis(300));
    assert!(after.is_empty(), "media after deleteStream: {after:?}");
    // A player whose socket just closes does not disturb the other one.
    drop(leaving);
    send_av(&mut publisher, 0, 20..30, 5, 2000);
    let got = staying.collect_media(20, WAIT);
    assert_eq!(
        counters(&got, MediaKind::Video),
        (20..30).collect::<Vec<_>>()
    );
}

/// Publishes metadata, headers and 25 frames (keyframes at 0, 10, 20) with a
/// first player reading everything; returns (publisher, first player's media).
fn late_join_setup(server: &ServerProcess, name: &str) -> (TestClient, Vec<Media>) {
    let mut publisher = TestClient::publish(server.addr, "live", name);
    let mut early = TestClient::play(server.addr, "live", name);
    publisher.send_metadata(vec![
        ("width".to_string(), Amf0Value::Number(640.0)),
        ("height".to_string(), Amf0Value::Number(360.0)),
    ]);
    send_headers(&mut publisher, 0);
    send_av(&mut publisher, 0, 0..25, 10, 1500);
    // Once the first player has everything, the server has processed it all.
    let seen = early.collect_media(2 + 50, WAIT);
    assert_eq!(seen.len(), 52, "early player got {} of 52", seen.len());
    (publisher, seen)
}

/// Metadata + media events only, in arrival order.
fn stream_events(events: Vec<ClientEvent>) -> Vec<ClientEvent> {
    events
        .into_iter()
        .filter(|e| matches!(e, ClientEvent::Media { .. } | ClientEvent::Metadata { .. }))
        .collect()
}

fn assert_starts_with_metadata_and_headers(events: &[ClientEvent]) {
    assert!(events.len() >= 3, "too few events: {events:?}");
    match &events[0] {
        ClientEvent::Metadata { values, .. } => {
            let width = values.get(1).and_then(|v| v.get("width"));
            assert_eq!(width, Some(&Amf0Value::Number(640.0)), "{values:?}");
        }
        other => panic!("first event is not metadata: {other:?}"),
    }
    let media = media_of(&events[1..3]);
    assert_eq!(media.len(), 2, "{:?}", &events[1..3]);
    assert_eq!(media[0].0, MediaKind::Video);
    assert_eq!(media[0].2, avc_seq_header());
    assert_eq!(media[1].0, MediaKind::Audio);
    assert_eq!(media[1].2, aac_seq_header());
}

#[test]
fn late_joiner_gets_metadata_headers_then_cached_gop_then_live() {
    let server = ServerProcess::start(&[]);
    let (mut publisher, early) = late_join_setup(&server, "late");
    // The current GOP as the first player saw it: from keyframe 20 on.
    let key_at = early
        .iter()
        .position(|m| m.0 == MediaKind::Video && frame_number(m.0, &m.2) == Some(20))
        .expect("keyframe 20");
    let gop: Vec<Media> = early[key_at..].to_vec();
    assert_eq!(gop.len(), 10, "GOP 20..25 has 5 video + 5 audio frames");

    let mut late = TestClient::play(server.addr, "live", "late");
    send_av(&mut publisher, 0, 25..35, 10, 1500);
    let want = 2 + gop.len() + 20;
    let events = stream_events(late.collect_events(want, WAIT));
    assert_starts_with_metadata_and_headers(&events);
    let media = media_of(&events[1..]);
    assert_eq!(
        media.len(),
        want,
        "late player got {} of {want}",
        media.len()
    );
    // The cached GOP, whole and in order, starting at its keyframe.
    let cached = &media[2..2 + gop.len()];
    assert_eq!(cached[0].2[0], 0x17, "GOP does not start at a keyframe");
    assert_eq!(cached, &gop[..], "cached GOP differs from what was live");
    // Then the live frames.
    let live = &media[2 + gop.len()..];
    let want_live: Vec<u32> = (25..35).collect();
    assert_eq!(counters(live, MediaKind::Video), want_live);
    assert_eq!(counters(live, MediaKind::Audio), want_live);
    assert_never_backwards(&media);
}

#[test]
fn late_joiner_without_gop_cache_starts_at_next_live_keyframe() {
    let server = ServerProcess::start(&["--no-gop-cache"]);
    let (mut publisher, _) = late_join_setup(&server, "nogop");
    let mut late = TestClient::play(server.addr, "live", "nogop");
    // Inter frames 25..29, then keyframes at 30 and 40.
    send_av(&mut publisher, 0, 25..45, 10, 1500);
    let events = stream_events(late.collect_events(2 + 15, WAIT));
    assert_starts_with_metadata_and_headers(&events);
    let media = media_of(&events[1..]);
    let video: Vec<&Media> = media[2..]
        .iter()
        .filter(|m| m.0 == MediaKind::Video)
        .collect();
    assert!(!video.is_empty(), "no video after the headers: {media:?}");
    assert_eq!(video[0].2[0], 0x17, "first video frame is not a keyframe");
    assert_eq!(frame_number(MediaKind::Video, &video[0].2), Some(30));
    let rest = late.collect_media(100, Duration::from_millis(500));
    let mut all = media.clone();
    all.extend(rest);
    let want: Vec<u32> = (30..45).collect();
    assert_eq!(counters(&all, MediaKind::Video), want);
    assert_never_backwards(&all);
}

#[test]
fn play_before_publish_gets_publish_notify_then_media() {
    let server = ServerProcess::start(&[]);
    let mut player = TestClient::play(server.addr, "live", "early");
    let mut publisher = TestClient::publish(server.addr, "live", "early");
    player
        .wait_for(WAIT, |e| is_status(e, CODE_PLAY_PUBLISH_NOTIFY))
        .expect("Play.PublishNotify");
    send_headers(&mut publisher, 0);
    send_av(&mut publisher, 0, 0..50, 25, 2000);
    let got = player.collect_media(102, WAIT);
    assert_eq!(got.len(), 102, "player got {} of 102", got.len());
    assert_eq!(got[0].2, avc_seq_header());
    assert_eq!(got[1].2, aac_seq_header());
    let want: Vec<u32> = (0..50).collect();
    assert_eq!(counters(&got, MediaKind::Video), want);
    assert_eq!(counters(&got, MediaKind::Audio), want);
}

/// Publish `first + 0..40` from timestamp 0 and check the player gets
/// PublishNotify, then the headers and every frame. Returns the publisher
/// (the caller decides how it leaves) and the media the player got.
fn publish_round(
    server: &ServerProcess,
    player: &mut TestClient,
    first: u32,
) -> (TestClient, Vec<Media>) {
    let mut publisher = TestClient::publish(server.addr, "live", "again");
    let mut pre = Vec::new();
    player
        .wait_for(WAIT, |e| {
            pre.push(e.clone());
            is_status(e, CODE_PLAY_PUBLISH_NOTIFY)
        })
        .unwrap_or_else(|| panic!("no PublishNotify for round {first}: {pre:?}"));
    assert!(media_of(&pre).is_empty(), "media before PublishNotify");
    send_headers(&mut publisher, 0);
    send_av(&mut publisher, first, 0..40, 20, 1500);
    let got = player.collect_media(82, WAIT);
    assert_eq!(got.len(), 82, "round {first}: {} of 82", got.len());
    assert_eq!(got[0].2, avc_seq_header());
    assert_eq!(got[1].2, aac_seq_header());
    let want: Vec<u32> = (first..first + 40).collect();
    assert_eq!(counters(&got, MediaKind::Video), want);
    assert_eq!(counters(&got, MediaKind::Audio), want);
    (publisher, got)
}

#[test]
fn publisher_leaving_and_returning_keeps_the_player() {
    let server = ServerProcess::start(&[]);
    let mut player = TestClient::play(server.addr, "live", "again");
    let mut seen: Vec<Media> = Vec::new();

    // 1: finishes properly (FCUnpublish + deleteStream).
    let (mut first, got) = publish_round(&server, &mut player, 1000);
    seen.extend(got);
    first.finish();
    let between = wait_unpublished(&mut player);
    assert!(media_of(&between).is_empty(), "media after unpublish");
    assert!(
        between.contains(&ClientEvent::StreamEof(1)),
        "StreamEof for another stream id: {between:?}"
    );
    assert!(!player.closed, "player closed after unpublish");

    // 2: restarts at timestamp 0, then its socket just closes.
    let (second, got) = publish_round(&server, &mut player, 2000);
    seen.extend(got);
    drop(second);
    let between = wait_unpublished(&mut player);
    assert!(
        media_of(&between).is_empty(),
        "media after the socket closed"
    );
    assert!(!player.closed, "player closed after the publisher vanished");

    // 3: the player still gets the next publisher.
    let (_third, got) = publish_round(&server, &mut player, 3000);
    seen.extend(got);
    assert_never_backwards(&seen);
    assert!(!player.closed);
}

#[test]
fn duplicate_publisher_is_refused_and_none_of_its_frames_reach_players() {
    let server = ServerProcess::start(&[]);
    let mut publisher = TestClient::publish(server.addr, "live", "dup");
    let mut player = TestClient::play(server.addr, "live", "dup");
    send_headers(&mut publisher, 0);
    send_av(&mut publisher, 0, 0..10, 5, 1500);

    // The intruder pipelines media right behind its publish command (same write).
    let mut intruder = TestClient::connect(server.addr, "live", "dup", ClientMode::Publish);
    let intruder_peer = intruder.local_addr().to_string();
    let mut enc = ChunkEncoder::new();
    enc.set_chunk_size(4096);
    let mut intruder_bytes = 0;
    intruder.pipeline_after_request(&mut enc, WAIT, |sid| {
        let mut raws = Vec::new();
        for n in 0..10u32 {
            for (csid, type_id, payload) in [
                (
                    CSID_VIDEO,
                    TYPE_VIDEO,
                    avc_frame(n % 5 == 0, 9000 + n, 1500),
                ),
                (CSID_AUDIO, TYPE_AUDIO, aac_frame(9000 + n)),
            ] {
                intruder_bytes += payload.len();
                raws.push(RawMessage {
                    csid,
                    timestamp: 400 + n * 40,
                    type_id,
                    stream_id: sid,
                    payload,
                });
            }
        }
        raws
    });
    let refusal = intruder.wait_for(WAIT, |e| {
        matches!(e, ClientEvent::Error { .. } | ClientEvent::PublishStarted)
    });
    match refusal {
        Some(ClientEvent::Error { code, .. }) => assert_eq!(code, CODE_PUBLISH_BAD_NAME),
        other => panic!("intruder not refused: {other:?}"),
    }
    assert!(intruder.wait_closed(WAIT), "intruder not closed");

    // The first publisher keeps working.
    send_av(&mut publisher, 0, 10..20, 5, 1500);
    let got = player.collect_media(2 + 40, WAIT);
    assert_eq!(got.len(), 42, "player got {} of 42", got.len());
    let want: Vec<u32> = (0..20).collect();
    assert_eq!(counters(&got, MediaKind::Video), want);
    assert_eq!(counters(&got, MediaKind::Audio), want);
    let extra = player.collect_media(1, Duration::from_millis(300));
    assert!(extra.is_empty(), "unexpected extra media: {extra:?}");
    // The server did read the intruder's frames (its close line counts them).
    let close_line = |log: &str| {
        log.lines()
            .find(|l| {
                l.contains(&intruder_peer) && l.contains("closed: duplicate publisher refused")
            })
            .map(str::to_owned)
    };
    assert!(
        wait_until(WAIT, || close_line(&server.log_text()).is_some()),
        "no 'duplicate publisher refused' close line for {intruder_peer}"
    );
    let line = close_line(&server.log_text()).unwrap();
    let bytes_in: usize = line
        .split("(in ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no byte count in {line:?}"));
    assert!(
        bytes_in > intruder_bytes,
        "server read {bytes_in} B from the intruder, its frames alone are {intruder_bytes} B"
    );
}

#[test]
fn silent_publisher_is_taken_over_by_a_new_one() {
    let server = ServerProcess::start(&["--stale-publisher-ms", "500"]);
    let mut old = TestClient::publish(server.addr, "live", "stale");
    let mut player = TestClient::play(server.addr, "live", "stale");
    send_headers(&mut old, 0);
    send_av(&mut old, 0, 0..10, 5, 1500);
    let got = player.collect_media(22, WAIT);
    assert_eq!(
        counters(&got, MediaKind::Video),
        (0..10).collect::<Vec<_>>()
    );

    // Silent for more than 0.5 s: a new publisher may take the key.
    std::thread::sleep(Duration::from_millis(700));
    let mut new = TestClient::publish(server.addr, "live", "stale");
    send_headers(&mut new, 0);
    send_av(&mut new, 5000, 0..20, 5, 1500);
    let got = player.collect_media(42, WAIT);
    assert_eq!(got.len(), 42, "player got {} of 42", got.len());
    assert_eq!(got[0].2, avc_seq_header());
    assert_eq!(got[1].2, aac_seq_header());
    let want: Vec<u32> = (5000..5020).collect();
    assert_eq!(counters(&got, MediaKind::Video), want);
    assert_eq!(counters(&got, MediaKind::Audio), want);
    assert!(old.wait_closed(WAIT), "the stale publisher was not closed");
    assert!(
        wait_until(WAIT, || server.log_text().contains("taken over")),
        "no 'taken over' close line in the log"
    );
}

#[test]
fn audio_only_publish_reaches_the_player() {
    let server = ServerProcess::start(&[]);
    let mut publisher = TestClient::publish(server.addr, "live", "radio");
    let mut player = TestClient::play(server.addr, "live", "radio");
    publisher.send_media(MediaKind::Audio, 0, &aac_seq_header());
    for n in 0..100u32 {
        publisher.send_media(MediaKind::Audio, n * 23, &aac_frame(n));
    }
    let got = player.collect_media(101, WAIT);
    assert_eq!(got.len(), 101, "player got {} of 101", got.len());
    assert_eq!(got[0].2, aac_seq_header());
    assert!(got.iter().all(|m| m.0 == MediaKind::Audio));
    assert_eq!(
        counters(&got, MediaKind::Audio),
        (0..100).collect::<Vec<_>>()
    );
    assert_never_backwards(&got);
}

#[test]
fn video_only_publish_reaches_the_player() {
    let server = ServerProcess::start(&[]);
    let mut publisher = TestClient::publish(server.addr, "live", "silent-film");
    let mut player = TestClient::play(server.addr, "live", "silent-film");
    publisher.send_media(MediaKind::Video, 0, &avc_seq_header());
    for n in 0..100u32 {
        publisher.send_media(MediaKind::Video, n * 40, &avc_frame(n % 25 == 0, n, 2500));
    }
    let got = player.collect_media(101, WAIT);
    assert_eq!(got.len(), 101, "player got {} of 101", got.len());
    assert_eq!(got[0].2, avc_seq_header());
    assert!(got.iter().all(|m| m.0 == MediaKind::Video));
    assert_eq!(
        counters(&got, MediaKind::Video),
        (0..100).collect::<Vec<_>>()
    );
    assert_never_backwards(&got);
}

#[test]
fn player_on_stream_id_2_receives_media_via_the_slow_path() {
    let server = ServerProcess::start(&[]);
    let mut publisher = TestClient::publish(server.addr, "live", "sid");
    let mut odd = TestClient::play_on_later_stream(server.addr, "live", "sid", 1);
    assert_eq!(odd.session.stream_id(), 2);
    let mut normal = TestClient::play(server.addr, "live", "sid");
    assert_eq!(normal.session.stream_id(), 1);
    send_headers(&mut publisher, 0);
    send_av(&mut publisher, 0, 0..60, 20, 6000);
    // The client session only reports media on its own stream id.
    let got = odd.collect_media(122, WAIT);
    assert_eq!(got.len(), 122, "stream-2 player got {} of 122", got.len());
    let want: Vec<u32> = (0..60).collect();
    assert_eq!(counters(&got, MediaKind::Video), want);
    assert_eq!(counters(&got, MediaKind::Audio), want);
    let reference = normal.collect_media(122, WAIT);
    assert_eq!(got, reference, "stream 1 and stream 2 players differ");

    // A late joiner on stream id 2 gets the headers and the cached GOP
    // (keyframe 40 on), re-chunked for its stream id.
    let mut late = TestClient::play_on_later_stream(server.addr, "live", "sid", 1);
    assert_eq!(late.session.stream_id(), 2);
    let start = late.collect_media(2 + 40, WAIT);
    assert_eq!(
        start.len(),
        42,
        "late stream-2 player got {} of 42",
        start.len()
    );
    assert_eq!(start[0].2, avc_seq_header());
    assert_eq!(start[1].2, aac_seq_header());
    let gop: Vec<u32> = (40..60).collect();
    assert_eq!(counters(&start, MediaKind::Video), gop);
    assert_eq!(counters(&start, MediaKind::Audio), gop);
    assert_eq!(
        &start[2..],
        &reference[82..],
        "cached GOP differs from live"
    );

    // Its close line counts the re-chunked frames.
    let peer = odd.local_addr().to_string();
    odd.finish();
    drop(odd);
    let closed_line = |log: &str| {
        log.lines()
            .find(|l| l.contains(&peer) && l.contains(" closed: "))
            .map(str::to_owned)
    };
    assert!(
        wait_until(WAIT, || closed_line(&server.log_text()).is_some()),
        "no close line for {peer}"
    );
    let line = closed_line(&server.log_text()).unwrap();
    let slow: u64 = line
        .split("slow path ")
        .nth(1)
        .and_then(|s| s.trim_end_matches(')').parse().ok())
        .unwrap_or_else(|| panic!("no slow-path count in {line:?}"));
    assert!(slow >= 120, "slow path count {slow} in {line:?}");
}

#[test]
fn player_on_stream_id_2_gets_notifications_for_its_stream() {
    let server = ServerProcess::start(&[]);
    let mut player = TestClient::play_on_later_stream(server.addr, "live", "sid-notify", 1);
    assert_eq!(player.session.stream_id(), 2);
    let mut publisher = TestClient::publish(server.addr, "live", "sid-notify");
    player
        .wait_for(WAIT, |e| is_status(e, CODE_PLAY_PUBLISH_NOTIFY))
        .expect("Play.PublishNotify");
    send_headers(&mut publisher, 0);
    send_av(&mut publisher, 0, 0..10, 5, 5000);
    let got = player.collect_media(22, WAIT);
    assert_eq!(got.len(), 22, "player got {} of 22", got.len());
    assert_eq!(
        counters(&got, MediaKind::Video),
        (0..10).collect::<Vec<_>>()
    );
    publisher.finish();
    let events = wait_unpublished(&mut player);
    assert!(
        events.contains(&ClientEvent::StreamEof(2)),
        "no StreamEof(2): {events:?}"
    );
    assert!(!player.closed);
}

/// Consecutive deltas (mod 2^32) of `got` equal those of `sent`, and the
/// frames are the same ones in the same order; entries are (kind, counter, ts).
fn assert_same_deltas(name: &str, got: &[(MediaKind, u32, u32)], sent: &[(MediaKind, u32, u32)]) {
    let order = |v: &[(MediaKind, u32, u32)]| v.iter().map(|x| (x.0, x.1)).collect::<Vec<_>>();
    assert_eq!(order(got), order(sent), "{name}: frame order");
    for i in 1..sent.len() {
        let want = sent[i].2.wrapping_sub(sent[i - 1].2);
        let have = got[i].2.wrapping_sub(got[i - 1].2);
        assert_eq!(
            have,
            want,
            "{name}: delta {i} ({:#x} -> {:#x} received, {:#x} -> {:#x} sent)",
            got[i - 1].2,
            got[i].2,
            sent[i - 1].2,
            sent[i].2
        );
    }
}

/// Publish 40 video frames of 9000 bytes (more than one chunk, so the
/// extended timestamp also appears in continuation chunks) + 40 audio frames
/// starting at `base` (wrapping) to a player that joined first; check every
/// delta is preserved mod 2^32. Then a late joiner gets the cached GOP
/// (keyframe 30 on) with the same deltas.
fn check_timestamp_deltas(name: &str, base: u32, server_args: &[&str]) {
    let server = ServerProcess::start(server_args);
    let mut player = TestClient::play(server.addr, "live", name);
    let mut publisher = TestClient::publish(server.addr, "live", name);
    player
        .wait_for(WAIT, |e| is_status(e, CODE_PLAY_PUBLISH_NOTIFY))
        .expect("Play.PublishNotify");
    let mut sent: Vec<(MediaKind, u32, u32)> = Vec::new();
    send_headers(&mut publisher, base);
    for n in 0..40u32 {
        let tv = base.wrapping_add(n * 40);
        let ta = tv.wrapping_add(20);
        publisher.send_media(MediaKind::Video, tv, &avc_frame(n % 10 == 0, n, 9000));
        publisher.send_media(MediaKind::Audio, ta, &aac_frame(n));
        sent.push((MediaKind::Video, n, tv));
        sent.push((MediaKind::Audio, n, ta));
    }
    let as_triples = |media: &[Media]| -> Vec<(MediaKind, u32, u32)> {
        media
            .iter()
            .map(|m| (m.0, frame_number(m.0, &m.2).unwrap(), m.1))
            .collect()
    };
    let got = player.collect_media(82, WAIT);
    assert_eq!(got.len(), 82, "{name}: player got {} of 82", got.len());
    assert!(got[2..].iter().all(|m| !is_seq_header(m)));
    assert_same_deltas(name, &as_triples(&got[2..]), &sent);

    let mut late = TestClient::play(server.addr, "live", name);
    let gop = late.collect_media(2 + 20, WAIT);
    assert_eq!(gop.len(), 22, "{name}: late joiner got {} of 22", gop.len());
    assert_eq!(gop[0].2, avc_seq_header());
    assert_eq!(gop[1].2, aac_seq_header());
    assert_same_deltas(
        &format!("{name} (late)"),
        &as_triples(&gop[2..]),
        &sent[60..],
    );
}

#[test]
fn timestamps_crossing_the_extended_timestamp_boundary_keep_their_deltas() {
    check_timestamp_deltas("ext-ts", 0xFF_FFFF - 500, &[]);
}

#[test]
fn timestamps_wrapping_at_2_pow_32_keep_their_deltas() {
    check_timestamp_deltas("wrap", u32::MAX - 500, &[]);
}

#[test]
fn timestamps_keep_their_deltas_with_128_byte_server_chunks() {
    check_timestamp_deltas("ext-ts-128", 0xFF_FFFF - 500, &["--chunk-size", "128"]);
    check_timestamp_deltas("wrap-128", u32::MAX - 500, &["--chunk-size", "128"]);
}

/// "Promptly": the server gives queues 700 ms to drain (SHUTDOWN_GRACE_MS)
/// and then closes what is left. 5 s is that grace with margin for a loaded
/// machine, and still fails a shutdown that waits on a stalled player (the
/// slow-subscriber timeout is 10 s). The grace logic itself belongs to the
/// simulated-clock tests of the server core.
const SHUTDOWN_BOUND: Duration = Duration::from_secs(5);

#[test]
fn sigterm_exits_promptly_and_players_learn_of_it() {
    let mut server = ServerProcess::start(&[]);
    let mut publisher = TestClient::publish(server.addr, "live", "term");
    let mut player = TestClient::play(server.addr, "live", "term");
    send_headers(&mut publisher, 0);
    send_av(&mut publisher, 0, 0..20, 10, 1500);
    let got = player.collect_media(42, WAIT);
    assert_eq!(got.len(), 42, "player got {} of 42", got.len());

    let started = Instant::now();
    let status = server.terminate(Duration::from_secs(15));
    let took = started.elapsed();
    let status = status.expect("server still running 15 s after SIGTERM");
    assert!(status.success(), "exit status {status:?}");
    assert!(took < SHUTDOWN_BOUND, "shutdown took {took:?}");

    // Learning of it means being told before the close: UnpublishNotify or
    // StreamEOF (a bare TCP close says nothing about the stream).
    let deadline = Instant::now() + WAIT;
    let mut told = false;
    while !told && !player.closed && Instant::now() < deadline {
        if let Some(e) = player.next_event(Duration::from_millis(100)) {
            told =
                is_status(&e, CODE_PLAY_UNPUBLISH_NOTIFY) || matches!(e, ClientEvent::StreamEof(_));
        }
    }
    assert!(
        told,
        "player was not told (UnpublishNotify/StreamEOF) before the close"
    );
    // The log is read by another thread: give it time to see the last line.
    assert!(
        wait_until(WAIT, || server.log_text().contains("shutdown complete")),
        "no shutdown line in the log"
    );
}

#[test]
fn sigterm_with_a_stalled_player_still_exits_promptly() {
    let mut server = ServerProcess::start(&[]);
    let mut publisher = TestClient::publish(server.addr, "live", "term-stalled");
    let mut player = TestClient::play(server.addr, "live", "term-stalled");
    // Plays, then never reads: its kernel buffers fill and the server keeps
    // a queue for it.
    let _stalled = TestClient::play(server.addr, "live", "term-stalled");
    send_headers(&mut publisher, 0);
    // ~8 MB, more than loopback socket buffers hold.
    let frames = 80u32;
    let reader = std::thread::spawn(move || {
        let got = player.collect_media(2 + 2 * frames as usize, WAIT);
        (player, got)
    });
    send_av(&mut publisher, 0, 0..frames, 10, 100_000);
    let (mut player, got) = reader.join().expect("reader");
    assert_eq!(got.len(), 2 + 2 * frames as usize);

    let started = Instant::now();
    let status = server.terminate(Duration::from_secs(15));
    let took = started.elapsed();
    let status = status.expect("server still running 15 s after SIGTERM");
    assert!(status.success(), "exit status {status:?}");
    assert!(took < SHUTDOWN_BOUND, "shutdown took {took:?}");
    assert!(player.wait_closed(WAIT), "healthy player not closed");
}

/// Accepted sockets carry TCP keepalive, so a peer that vanished without a
/// FIN is found even while the server has nothing to send it (checked with
/// `ss`, which shows the kernel's keepalive timer on the server's socket).
#[test]
fn accepted_sockets_have_tcp_keepalive() {
    if !common::have_tool("ss") {
        return;
    }
    let server = ServerProcess::start(&[]);
    let player = TestClient::play(server.addr, "live", "keepalive");
    let filter = format!("( sport = :{} )", server.addr.port());
    let ours = player.socket.local_addr().unwrap().to_string();
    // While sent bytes await their ACK, ss shows the retransmit timer
    // instead; the keepalive timer shows once the socket is quiet.
    let mut last = String::new();
    let found = common::wait_until(Duration::from_secs(3), || {
        let out = std::process::Command::new("ss")
            .args(["-tnoH", "state", "established", &filter])
            .output()
            .expect("run ss");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        last = text
            .lines()
            .find(|l| l.contains(&ours))
            .unwrap_or_default()
            .to_string();
        last.contains("timer:(keepalive")
    });
    assert!(found, "no keepalive timer on the server's socket: {last:?}");
}
