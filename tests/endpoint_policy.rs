//! The server's policy through the sans-IO endpoint, with a simulated clock:
//! no sockets, no sleeps. Each test builds an [`Endpoint`], drives real
//! client sessions (`proto::client`) against it by moving bytes by hand, sets
//! the clock, and asserts on what the endpoint wrote and whom it closed.

mod common;

use std::rc::Rc;

use bytes::{Bytes, BytesMut};

use common::sim::*;
use rtmp_edge::config::{Config, Overrides};
use rtmp_edge::endpoint::{ConnId, Input, ReconnectScope, ReconnectSummary, Role};
use rtmp_edge::error::{CloseReason, Phase};
use rtmp_edge::proto::client::{ClientConfig, ClientEvent, ClientMode, ClientSession};
use rtmp_edge::proto::command::{
    EnhancedCaps, CAPS_EX_MOD_EX, CAPS_EX_MULTITRACK, CAPS_EX_RECONNECT,
};
use rtmp_edge::proto::session::MediaKind;

#[test]
fn handshake_deadline_closes_a_silent_connection_at_the_configured_time() {
    let mut sim = Sim::new(Config {
        handshake_timeout_ms: 2_000,
        ..test_config()
    });
    let id = sim.accept();
    sim.advance(1_900, &mut []);
    assert!(sim.ep.is_open(id), "closed before the deadline");
    sim.advance(300, &mut []);
    assert_eq!(
        sim.closed.get(&id),
        Some(&CloseReason::Timeout(Phase::Handshake))
    );
}

#[test]
fn command_deadline_closes_a_connection_that_never_publishes_or_plays() {
    let mut sim = Sim::new(Config {
        command_timeout_ms: 3_000,
        ..test_config()
    });
    // Handshake done (C2 delivered) but the connect after it never arrives.
    let mut idle = sim.client(ClientMode::Play, "x");
    let mut player = sim.client(ClientMode::Play, "x");
    let c0c1 = idle.outbound.split();
    sim.ep.handle_input(idle.id, &c0c1, sim.now);
    sim.flush(&mut [&mut idle]);
    assert!(drive_client(&mut idle));
    assert!(idle.hs.is_none(), "client handshake not done");
    let c2 = idle.outbound.split_to(1536);
    sim.ep.handle_input(idle.id, &c2, sim.now);
    idle.mute = true;
    sim.pump(&mut [&mut idle, &mut player]);
    assert!(player.has(&ClientEvent::PlayStarted));
    sim.advance(2_900, &mut [&mut idle, &mut player]);
    assert!(sim.is_open(&idle), "closed before the command deadline");
    sim.advance(300, &mut [&mut idle, &mut player]);
    assert_eq!(
        sim.closed_with(&idle),
        Some(&CloseReason::Timeout(Phase::Commands))
    );
    assert!(sim.is_open(&player), "a player is exempt from the deadline");
}

#[test]
fn publisher_sending_no_media_is_closed_after_publisher_timeout() {
    let mut sim = Sim::new(Config {
        publisher_timeout_ms: 5_000,
        ..test_config()
    });
    let mut publisher = sim.started(ClientMode::Publish, "idle");
    assert!(publisher.has(&ClientEvent::PublishStarted));
    publish_start(&mut sim, &mut publisher, &mut []);
    sim.advance(4_900, &mut [&mut publisher]);
    assert!(sim.is_open(&publisher));
    // Media resets the clock.
    publisher.send(MediaKind::Video, 40, &inter(1));
    sim.advance(4_900, &mut [&mut publisher]);
    assert!(
        sim.is_open(&publisher),
        "media did not reset the idle clock"
    );
    sim.advance(300, &mut [&mut publisher]);
    assert_eq!(
        sim.closed_with(&publisher),
        Some(&CloseReason::Timeout(Phase::PublisherIdle))
    );
}

#[test]
fn silent_peer_gets_a_ping_and_is_closed_after_three_intervals() {
    let mut sim = Sim::new(Config {
        ping_interval_ms: 2_000,
        ..test_config()
    });
    let mut answering = sim.started(ClientMode::Play, "p");
    let mut silent = sim.started(ClientMode::Play, "p");
    silent.mute = true;
    let before = silent.received;
    sim.advance(1_900, &mut [&mut answering, &mut silent]);
    assert_eq!(silent.received, before, "pinged before the interval");
    sim.advance(300, &mut [&mut answering, &mut silent]);
    assert!(
        silent.received > before,
        "no PingRequest after the interval"
    );
    // Three intervals of silence in all: still open just before, closed after.
    sim.advance(3_700, &mut [&mut answering, &mut silent]);
    assert!(sim.is_open(&silent));
    sim.advance(300, &mut [&mut answering, &mut silent]);
    assert_eq!(
        sim.closed_with(&silent),
        Some(&CloseReason::Timeout(Phase::Ping))
    );
    // The peer that answers its pings stays, however long it is quiet otherwise.
    sim.advance(20_000, &mut [&mut answering]);
    assert!(sim.is_open(&answering));
}

#[test]
fn stale_publisher_is_taken_over_only_after_the_configured_silence() {
    let mut sim = Sim::new(Config {
        stale_publisher_ms: 4_000,
        ..test_config()
    });
    let mut old = sim.started(ClientMode::Publish, "s");
    let mut player = sim.started(ClientMode::Play, "s");
    publish_start(&mut sim, &mut old, &mut [&mut player]);
    assert_eq!(player.media().len(), 3);
    old.mute = true; // stops sending, connection stays open
    sim.advance(3_000, &mut [&mut old, &mut player]);

    let early = sim.started(ClientMode::Publish, "s");
    assert!(
        early
            .status_codes()
            .contains(&"NetStream.Publish.BadName".to_string()),
        "second publisher within the stale time not refused: {:?}",
        early.status_codes()
    );
    assert_eq!(
        sim.closed_with(&early),
        Some(&CloseReason::DuplicatePublisher)
    );
    assert!(sim.is_open(&old));

    sim.advance(1_100, &mut [&mut old, &mut player]);
    let mut new = sim.started(ClientMode::Publish, "s");
    assert!(new.has(&ClientEvent::PublishStarted));
    assert_eq!(sim.closed_with(&old), Some(&CloseReason::TakenOver));
    assert!(sim.is_open(&player), "the player stays through a take-over");
    new.send(MediaKind::Video, 0, &keyframe(9));
    sim.pump(&mut [&mut new, &mut player]);
    let media = player.media();
    assert_eq!(media.last().unwrap().2, keyframe(9));
}

#[test]
fn slow_viewer_is_evicted_after_its_timeout_and_the_healthy_one_keeps_everything() {
    let mut sim = Sim::new(Config {
        gop_cache: false,
        subscriber_budget_bytes: 64 * 1024,
        slow_subscriber_timeout_ms: 2_000,
        ..test_config()
    });
    let mut publisher = sim.started(ClientMode::Publish, "v");
    let mut stalled = sim.started(ClientMode::Play, "v");
    let mut healthy = sim.started(ClientMode::Play, "v");
    stalled.deaf = true;
    publish_start(&mut sim, &mut publisher, &mut [&mut stalled, &mut healthy]);
    let big = Bytes::from(vec![0x27u8; 4_000]);
    let mut sent = 0;
    let mut send_for = |sim: &mut Sim, ms: u64, p: &mut Peer, s: &mut Peer, h: &mut Peer| {
        let end = sim.now + ms;
        while sim.now < end {
            sent += 1;
            p.send(MediaKind::Video, (sim.now % 100_000) as u32, &big);
            sim.advance(100, &mut [&mut *p, &mut *s, &mut *h]);
        }
    };
    send_for(&mut sim, 1_500, &mut publisher, &mut stalled, &mut healthy);
    assert!(
        sim.is_open(&stalled),
        "evicted before congestion lasted its timeout"
    );
    send_for(&mut sim, 2_500, &mut publisher, &mut stalled, &mut healthy);
    assert_eq!(
        sim.closed_with(&stalled),
        Some(&CloseReason::SlowSubscriber)
    );
    let got = healthy.media().iter().filter(|m| m.2 == big).count();
    assert_eq!(got, sent, "the healthy viewer lost frames");
}

#[test]
fn play_before_publish_waits_then_gets_publish_notify_and_media() {
    let mut sim = Sim::new(test_config());
    let mut player = sim.started(ClientMode::Play, "early");
    assert!(player.has(&ClientEvent::PlayStarted));
    assert!(player.media().is_empty());
    sim.advance(5_000, &mut [&mut player]);
    assert!(sim.is_open(&player), "a waiting player must not time out");
    let mut publisher = sim.started(ClientMode::Publish, "early");
    publish_start(&mut sim, &mut publisher, &mut [&mut player]);
    let codes = player.status_codes();
    assert!(
        codes.contains(&"NetStream.Play.PublishNotify".to_string()),
        "{codes:?}"
    );
    let kinds: Vec<(MediaKind, Bytes)> = player.media().into_iter().map(|m| (m.0, m.2)).collect();
    assert_eq!(
        kinds,
        vec![
            (MediaKind::Video, Bytes::from_static(VIDEO_HEADER)),
            (MediaKind::Audio, Bytes::from_static(AUDIO_HEADER)),
            (MediaKind::Video, keyframe(0)),
        ]
    );
}

#[test]
fn publisher_leaving_and_returning_keeps_the_player_and_its_clock() {
    let mut sim = Sim::new(test_config());
    let mut player = sim.started(ClientMode::Play, "r");
    let mut first = sim.started(ClientMode::Publish, "r");
    publish_start(&mut sim, &mut first, &mut [&mut player]);
    first.send(MediaKind::Video, 5_000, &inter(1));
    first.session.finish(&mut first.outbound).unwrap();
    sim.pump(&mut [&mut first, &mut player]);
    assert!(
        player
            .status_codes()
            .contains(&"NetStream.Play.UnpublishNotify".to_string()),
        "{:?}",
        player.status_codes()
    );
    assert!(sim.is_open(&player));
    let mut second = sim.started(ClientMode::Publish, "r");
    assert!(
        second.has(&ClientEvent::PublishStarted),
        "key not free again"
    );
    publish_start(&mut sim, &mut second, &mut [&mut player]);
    second.send(MediaKind::Video, 40, &inter(2));
    sim.pump(&mut [&mut second, &mut player]);
    let media = player.media();
    assert_eq!(media.last().unwrap().2, inter(2));
    let ts: Vec<u32> = media.iter().map(|m| m.1).collect();
    assert!(
        ts.windows(2).all(|w| w[1] >= w[0]),
        "timestamps went back across publishers: {ts:?}"
    );
}

#[test]
fn input_that_arrived_before_eof_is_handled_in_full() {
    let mut sim = Sim::new(test_config());
    let mut player = sim.started(ClientMode::Play, "eof");
    let mut publisher = sim.started(ClientMode::Publish, "eof");
    publish_start(&mut sim, &mut publisher, &mut [&mut player]);
    // More messages than one turn handles, then deleteStream, then EOF.
    let n = 3 * rtmp_edge::endpoint::MESSAGES_PER_TURN;
    for i in 0..n {
        publisher.send(MediaKind::Audio, 10 + i as u32, &audio(i as u8));
    }
    publisher.session.finish(&mut publisher.outbound).unwrap();
    let bytes = publisher.outbound.split();
    assert_eq!(
        sim.ep.handle_input(publisher.id, &bytes, sim.now),
        Input::Pending
    );
    sim.ep.handle_eof(publisher.id, sim.now);
    sim.pump(&mut [&mut player]);
    let audio_frames = player
        .media()
        .iter()
        .filter(|m| m.0 == MediaKind::Audio)
        .count();
    assert_eq!(audio_frames, n + 1, "frames before EOF were lost");
    assert!(player
        .status_codes()
        .contains(&"NetStream.Play.UnpublishNotify".to_string()));
    assert_eq!(sim.closed_with(&publisher), Some(&CloseReason::PeerClosed));
}

#[test]
fn recording_follows_the_application_setting_and_stops_with_the_publish() {
    let log: RecLog = Rc::default();
    let recorder = FakeRecorder {
        log: log.clone(),
        ..FakeRecorder::default()
    };
    let mut sim = Sim::with_recorder(
        Config {
            record_all: true,
            ..test_config()
        },
        Some(Box::new(recorder)),
    );
    let mut publisher = sim.started(ClientMode::Publish, "rec");
    publish_start(&mut sim, &mut publisher, &mut []);
    publisher.session.finish(&mut publisher.outbound).unwrap();
    sim.pump(&mut [&mut publisher]);
    let log = log.borrow();
    assert_eq!(log.first().map(String::as_str), Some("start live/rec"));
    assert_eq!(
        log.iter().filter(|l| l.starts_with("frame 1 ")).count(),
        3,
        "{log:?}"
    );
    assert_eq!(log.last().map(String::as_str), Some("stop 1"));
    assert!(matches!(sim.ep.role(publisher.id), Some(Role::Idle)));
}

#[test]
fn nothing_is_recorded_when_the_application_does_not_record() {
    let log: RecLog = Rc::default();
    let recorder = FakeRecorder {
        log: log.clone(),
        ..FakeRecorder::default()
    };
    let mut sim = Sim::with_recorder(test_config(), Some(Box::new(recorder)));
    let mut publisher = sim.started(ClientMode::Publish, "norec");
    publish_start(&mut sim, &mut publisher, &mut []);
    assert!(log.borrow().is_empty(), "{:?}", log.borrow());
}

#[test]
fn a_refused_publisher_is_closed_only_after_its_answer_is_written() {
    let mut sim = Sim::new(test_config());
    let mut first = sim.started(ClientMode::Publish, "dup");
    publish_start(&mut sim, &mut first, &mut []);
    let mut second = sim.client(ClientMode::Publish, "dup");
    second.deaf = true;
    sim.pump(&mut [&mut second]);
    // Connect result not even read yet: nothing refused, nothing closed.
    assert!(sim.is_open(&second));
    second.deaf = false;
    sim.ep.mark_writable(second.id);
    sim.pump(&mut [&mut second]);
    assert!(second
        .status_codes()
        .contains(&"NetStream.Publish.BadName".to_string()));
    assert_eq!(
        sim.closed_with(&second),
        Some(&CloseReason::DuplicatePublisher)
    );
    assert!(sim.is_open(&first));
}

#[test]
fn shutdown_tells_players_and_closes_everyone() {
    let mut sim = Sim::new(test_config());
    let mut player = sim.started(ClientMode::Play, "sd");
    let mut publisher = sim.started(ClientMode::Publish, "sd");
    publish_start(&mut sim, &mut publisher, &mut [&mut player]);
    sim.ep.begin_shutdown(sim.now);
    sim.pump(&mut [&mut player, &mut publisher]);
    assert!(player
        .status_codes()
        .contains(&"NetStream.Play.UnpublishNotify".to_string()));
    assert_eq!(sim.closed_with(&player), Some(&CloseReason::Shutdown));
    assert_eq!(sim.closed_with(&publisher), Some(&CloseReason::Shutdown));
    assert!(sim.ep.is_empty());
}

#[test]
fn stale_ids_are_ignored() {
    let mut sim = Sim::new(test_config());
    let id = sim.accept();
    sim.ep.close(id, CloseReason::PeerClosed);
    sim.flush(&mut []);
    assert!(sim.ep.is_empty());
    // Same slot, next generation: the old id reaches nothing.
    let stale = id;
    let fresh = ConnId {
        index: id.index,
        generation: id.generation + 100,
    };
    sim.ep
        .handle_accept(fresh, ([127, 0, 0, 1], 1).into(), sim.now);
    assert_eq!(sim.ep.handle_input(stale, b"\x03", sim.now), Input::Closed);
    sim.ep.close(stale, CloseReason::PeerClosed);
    assert!(sim.ep.is_open(fresh));
    assert_eq!(sim.ep.stats(fresh).unwrap().bytes_in, 0);
}

#[test]
fn take_over_finalizes_the_old_publishers_recording() {
    let log: RecLog = Rc::default();
    let recorder = FakeRecorder {
        log: log.clone(),
        ..FakeRecorder::default()
    };
    let mut sim = Sim::with_recorder(
        Config {
            record_all: true,
            stale_publisher_ms: 1_000,
            ..test_config()
        },
        Some(Box::new(recorder)),
    );
    let mut old = sim.started(ClientMode::Publish, "to");
    publish_start(&mut sim, &mut old, &mut []);
    old.mute = true;
    sim.advance(1_500, &mut [&mut old]);
    let new = sim.started(ClientMode::Publish, "to");
    assert!(new.has(&ClientEvent::PublishStarted));
    let log = log.borrow();
    let stop_old = log.iter().position(|x| x == "stop 1");
    let starts: Vec<usize> = (0..log.len())
        .filter(|&i| log[i].starts_with("start "))
        .collect();
    assert_eq!(starts.len(), 2, "{log:?}");
    let stop_old = stop_old.unwrap_or_else(|| panic!("old recording never stopped: {log:?}"));
    assert!(
        stop_old < starts[1],
        "stopped after the new one started: {log:?}"
    );
    assert!(!log.contains(&"stop 2".to_string()), "{log:?}");
}

#[test]
fn per_application_settings_decide_recording_and_gop_cache() {
    let toml = r#"
record_all = true
[apps.norec]
record = false
gop_cache = false
"#;
    let config = Config::from_toml(toml, "test.toml", &Overrides::default()).expect("parses");
    let config = Config {
        stats_interval_ms: 3_600_000,
        ..config
    };
    let log: RecLog = Rc::default();
    let recorder = FakeRecorder {
        log: log.clone(),
        ..FakeRecorder::default()
    };
    let mut sim = Sim::with_recorder(config, Some(Box::new(recorder)));
    for app in ["live", "norec"] {
        let mut publisher = sim.client_on(app, ClientMode::Publish, "s");
        sim.pump(&mut [&mut publisher]);
        publish_start(&mut sim, &mut publisher, &mut []);
        publisher.send(MediaKind::Video, 40, &inter(1));
        sim.pump(&mut [&mut publisher]);
        let mut late = sim.client_on(app, ClientMode::Play, "s");
        sim.pump(&mut [&mut late]);
        let got: Vec<Bytes> = late.media().into_iter().map(|m| m.2).collect();
        let gop = vec![keyframe(0), inter(1)];
        if app == "live" {
            assert!(got.ends_with(&gop), "{app}: late joiner missed the GOP");
        } else {
            assert_eq!(got.len(), 2, "{app}: only the sequence headers: {got:?}");
        }
    }
    let starts: Vec<String> = log
        .borrow()
        .iter()
        .filter(|l| l.starts_with("start "))
        .cloned()
        .collect();
    assert_eq!(starts, vec!["start live/s".to_string()]);
}

fn access_sim(toml: &str) -> Sim {
    let config = Config::from_toml(toml, "access.toml", &Overrides::default()).expect("parses");
    Sim::new(Config {
        stats_interval_ms: 3_600_000,
        ..config
    })
}

fn refused_with(p: &Peer, code: &str) -> bool {
    p.events.iter().any(|e| {
        matches!(e, ClientEvent::Error { code: c, description, .. }
            if c == code && !description.is_empty())
    })
}

#[test]
fn publish_keys_admit_the_right_key_only_and_refusals_never_reach_players() {
    let mut sim = access_sim("[apps.live]\npublish_keys = [\"s3cret\"]\n");
    let mut player = sim.started(ClientMode::Play, "cam");
    for (stream, why) in [("cam", "no key"), ("cam?key=wrong", "wrong key")] {
        let mut p = sim.started(ClientMode::Publish, stream);
        assert!(
            refused_with(&p, "NetStream.Publish.Denied"),
            "{why}: {:?}",
            p.events
        );
        assert!(!p.has(&ClientEvent::PublishStarted), "{why}");
        assert_eq!(
            sim.closed_with(&p),
            Some(&CloseReason::Refused("unauthorized (missing or wrong key)")),
            "{why}"
        );
        // Whatever it still sends reaches nobody.
        let _ = p
            .session
            .send_media(MediaKind::Video, 0, &keyframe(1), &mut p.outbound);
        sim.pump(&mut [&mut p, &mut player]);
    }
    assert!(
        player.media().is_empty(),
        "a refused publisher's frame reached a player"
    );
    let mut good = sim.started(ClientMode::Publish, "cam?key=s3cret");
    assert!(good.has(&ClientEvent::PublishStarted));
    publish_start(&mut sim, &mut good, &mut [&mut player]);
    assert_eq!(
        player.media().len(),
        3,
        "the stream key is `live/cam`, query stripped"
    );
}

#[test]
fn a_key_in_the_connect_url_counts_too() {
    let mut sim = access_sim("[apps.\"*\"]\npublish_keys = [\"k1\"]\n");
    let mut p = sim.client_from([127, 0, 0, 1], "live?key=k1", ClientMode::Publish, "s");
    sim.pump(&mut [&mut p]);
    assert!(p.has(&ClientEvent::PublishStarted), "{:?}", p.events);
}

#[test]
fn play_keys_guard_playing_only() {
    let mut sim = access_sim("[apps.live]\nplay_keys = [\"watch\"]\n");
    let publisher = sim.started(ClientMode::Publish, "s");
    assert!(
        publisher.has(&ClientEvent::PublishStarted),
        "publish needs no key"
    );
    let denied = sim.started(ClientMode::Play, "s?key=nope");
    assert!(
        refused_with(&denied, "NetStream.Play.Failed"),
        "{:?}",
        denied.events
    );
    assert!(!denied.has(&ClientEvent::PlayStarted));
    assert!(sim.closed_with(&denied).is_some());
    let ok = sim.started(ClientMode::Play, "s?key=watch");
    assert!(ok.has(&ClientEvent::PlayStarted));
}

#[test]
fn denied_address_is_refused_while_others_are_served() {
    let mut sim = access_sim(
        "[apps.live]\nplay_deny = [\"127.0.0.2\"]\npublish_allow = [\"127.0.0.1/32\"]\n",
    );
    let from2 = sim.client_from([127, 0, 0, 2], "live", ClientMode::Play, "s");
    let mut from2 = from2;
    sim.pump(&mut [&mut from2]);
    assert!(refused_with(&from2, "NetStream.Play.Failed"));
    assert_eq!(
        sim.closed_with(&from2),
        Some(&CloseReason::Refused("denied address"))
    );
    let mut pub2 = sim.client_from([127, 0, 0, 2], "live", ClientMode::Publish, "s");
    sim.pump(&mut [&mut pub2]);
    assert!(
        refused_with(&pub2, "NetStream.Publish.Denied"),
        "not in the allow list"
    );
    let player = sim.started(ClientMode::Play, "s");
    assert!(player.has(&ClientEvent::PlayStarted));
    let publisher = sim.started(ClientMode::Publish, "s");
    assert!(publisher.has(&ClientEvent::PublishStarted));
}

#[test]
fn per_address_limits_close_the_extra_connection_only() {
    let mut sim = access_sim("max_connections_per_ip = 5\n");
    let mut first: Vec<Peer> = (0..5)
        .map(|_| sim.client_from([127, 0, 0, 1], "live", ClientMode::Play, "s"))
        .collect();
    let mut sixth = sim.client_from([127, 0, 0, 1], "live", ClientMode::Play, "s");
    let mut other = sim.client_from([127, 0, 0, 2], "live", ClientMode::Publish, "s");
    sim.pump(&mut [&mut sixth, &mut other]);
    assert_eq!(sim.closed_with(&sixth), Some(&CloseReason::PerIpLimit));
    assert!(other.has(&ClientEvent::PublishStarted));
    for p in first.iter_mut() {
        sim.pump(&mut [p]);
        assert!(p.has(&ClientEvent::PlayStarted));
    }
    // One leaves: the address has room again.
    sim.ep.close(first[0].id, CloseReason::PeerClosed);
    sim.pump(&mut []);
    let again = sim.started(ClientMode::Play, "s");
    assert!(again.has(&ClientEvent::PlayStarted));
}

#[test]
fn handshake_limit_counts_only_connections_not_yet_playing() {
    let mut sim = access_sim("max_handshakes_per_ip = 2\n");
    let players: Vec<Peer> = (0..4).map(|_| sim.started(ClientMode::Play, "s")).collect();
    assert!(players.iter().all(|p| p.has(&ClientEvent::PlayStarted)));
    let a = sim.accept();
    let b = sim.accept();
    let c = sim.accept();
    sim.pump(&mut []);
    assert!(sim.ep.is_open(a) && sim.ep.is_open(b));
    assert_eq!(sim.closed.get(&c), Some(&CloseReason::PerIpLimit));
}

/// An aggregate message (type 22) of `n` audio sub-messages.
fn aggregate_of_audio(n: usize) -> Bytes {
    let mut body = Vec::new();
    for i in 0..n {
        let data = audio(i as u8);
        let ts = 100 + i as u32;
        body.push(8u8);
        body.extend_from_slice(&(data.len() as u32).to_be_bytes()[1..]);
        body.extend_from_slice(&ts.to_be_bytes()[1..]);
        body.push((ts >> 24) as u8);
        body.extend_from_slice(&[0, 0, 0]);
        body.extend_from_slice(&data);
        body.extend_from_slice(&(11 + data.len() as u32).to_be_bytes());
    }
    Bytes::from(body)
}

#[test]
fn the_rest_of_a_large_aggregate_is_handled_on_later_turns_without_new_bytes() {
    use rtmp_edge::proto::chunk::{ChunkEncoder, RawMessage};
    let mut sim = Sim::new(test_config());
    let mut player = sim.started(ClientMode::Play, "agg");
    let mut publisher = sim.started(ClientMode::Publish, "agg");
    publish_start(&mut sim, &mut publisher, &mut [&mut player]);
    let n = 3 * rtmp_edge::endpoint::MESSAGES_PER_TURN;
    let mut enc = ChunkEncoder::new();
    enc.set_chunk_size(4096);
    let mut wire = BytesMut::new();
    enc.encode(
        &RawMessage {
            csid: 9,
            timestamp: 100,
            type_id: 22,
            stream_id: publisher.session.stream_id(),
            payload: aggregate_of_audio(n),
        },
        &mut wire,
    );
    assert_eq!(
        sim.ep.handle_input(publisher.id, &wire, sim.now),
        Input::Pending,
        "one turn must not handle {n} sub-messages"
    );
    let mut turns = 1;
    while sim.ep.process(publisher.id, sim.now) == Input::Pending {
        turns += 1;
        assert!(turns < 100, "never finished");
    }
    sim.pump(&mut [&mut player]);
    let got = player
        .media()
        .iter()
        .filter(|m| m.0 == MediaKind::Audio)
        .count();
    assert_eq!(got, n + 1, "sub-messages of the aggregate were lost");
    assert!(turns >= 3, "{turns} turns for {n} sub-messages");
}

fn hook_sim(app_table: &str) -> Sim {
    access_sim(&format!("[apps.live]\n{app_table}"))
}

/// The pending hook call, which must exist.
fn take_hook(sim: &mut Sim) -> rtmp_edge::hooks::HookJob {
    sim.ep.poll_hook().expect("a hook call")
}

#[test]
fn on_publish_holds_the_answer_until_the_hook_accepts() {
    use rtmp_edge::hooks::{HookKind, HookVerdict};
    let mut sim = hook_sim("on_publish = \"http://127.0.0.1:9/pub\"\n");
    let mut publisher = sim.started(ClientMode::Publish, "cam?key=abc&x=1");
    assert!(
        !publisher.has(&ClientEvent::PublishStarted),
        "answered before the hook"
    );
    let job = take_hook(&mut sim);
    assert_eq!(job.request.kind(), HookKind::Publish);
    assert_eq!(job.url, "http://127.0.0.1:9/pub");
    let body = job.request.body();
    for field in [
        "call=publish",
        "name=cam",
        "type=live",
        "app=live",
        "key=abc",
        "x=1",
    ] {
        assert!(body.contains(field), "{field} missing from {body}");
    }
    assert!(sim.ep.poll_hook().is_none());
    sim.ep
        .handle_hook_result(job.ticket, HookVerdict::Accept, sim.now);
    sim.pump(&mut [&mut publisher]);
    assert!(publisher.has(&ClientEvent::PublishStarted));
    // Unpublish fires on_publish_done only when configured: not here.
    publisher.session.finish(&mut publisher.outbound).unwrap();
    sim.pump(&mut [&mut publisher]);
    assert!(sim.ep.poll_hook().is_none());
}

#[test]
fn hook_refusals_failures_and_timeouts_refuse_with_their_reason() {
    use rtmp_edge::hooks::HookVerdict;
    let mut sim = hook_sim("on_publish = \"http://127.0.0.1:9/pub\"\nhook_timeout_ms = 2000\n");
    let cases: [(Option<HookVerdict>, &str); 3] = [
        (Some(HookVerdict::Refuse(403)), "hook refused"),
        (
            Some(HookVerdict::Failed("connection refused".into())),
            "hook failed",
        ),
        (None, "hook timed out"),
    ];
    for (i, (verdict, reason)) in cases.into_iter().enumerate() {
        let mut p = sim.started(ClientMode::Publish, &format!("s{i}"));
        let job = take_hook(&mut sim);
        match verdict {
            Some(v) => sim.ep.handle_hook_result(job.ticket, v, sim.now),
            None => {
                // No answer: the endpoint's own deadline refuses.
                sim.advance(2_900, &mut [&mut p]);
                assert!(sim.is_open(&p), "{reason}: refused before the deadline");
                sim.advance(300, &mut [&mut p]);
            }
        }
        sim.pump(&mut [&mut p]);
        assert!(refused_with(&p, "NetStream.Publish.Denied"), "{reason}");
        assert_eq!(sim.closed_with(&p), Some(&CloseReason::Refused(reason)));
        // A late answer for a refused request changes nothing.
        sim.ep
            .handle_hook_result(job.ticket, HookVerdict::Accept, sim.now);
    }
}

#[test]
fn hook_fail_open_accepts_when_the_hook_cannot_be_reached() {
    use rtmp_edge::hooks::HookVerdict;
    let mut sim = hook_sim("on_play = \"http://127.0.0.1:9/play\"\nhook_fail_open = true\n");
    let mut player = sim.started(ClientMode::Play, "s");
    let job = take_hook(&mut sim);
    sim.ep
        .handle_hook_result(job.ticket, HookVerdict::TimedOut, sim.now);
    sim.pump(&mut [&mut player]);
    assert!(player.has(&ClientEvent::PlayStarted));
    // A refusing answer still refuses.
    let mut other = sim.started(ClientMode::Play, "s");
    let job = take_hook(&mut sim);
    sim.ep
        .handle_hook_result(job.ticket, HookVerdict::Refuse(401), sim.now);
    sim.pump(&mut [&mut other]);
    assert!(refused_with(&other, "NetStream.Play.Failed"));
}

#[test]
fn a_hook_redirect_renames_the_stream_and_a_full_queue_refuses() {
    use rtmp_edge::hooks::HookVerdict;
    let mut sim = hook_sim(
        "on_play = \"http://127.0.0.1:9/play\"\non_publish = \"http://127.0.0.1:9/pub\"\n",
    );
    let mut publisher = sim.started(ClientMode::Publish, "public");
    let job = take_hook(&mut sim);
    sim.ep
        .handle_hook_result(job.ticket, HookVerdict::Accept, sim.now);
    sim.pump(&mut [&mut publisher]);
    publish_start(&mut sim, &mut publisher, &mut []);
    // The player asks for a secret name; the hook maps it to `public`.
    let mut player = sim.started(ClientMode::Play, "secret-token");
    let job = take_hook(&mut sim);
    sim.ep
        .handle_hook_result(job.ticket, HookVerdict::Redirect("public".into()), sim.now);
    sim.pump(&mut [&mut player]);
    assert!(player.has(&ClientEvent::PlayStarted));
    assert_eq!(
        player.media().len(),
        3,
        "the renamed player did not get the stream"
    );
    // An rtmp:// redirect is a relay target: refused (no relay here).
    let mut relay = sim.started(ClientMode::Play, "x");
    let job = take_hook(&mut sim);
    sim.ep.handle_hook_result(
        job.ticket,
        HookVerdict::Redirect("rtmp://origin/live/x".into()),
        sim.now,
    );
    sim.pump(&mut [&mut relay]);
    assert!(refused_with(&relay, "NetStream.Play.Failed"));
    // The pool said its queue is full.
    let mut full = sim.started(ClientMode::Play, "y");
    let job = take_hook(&mut sim);
    sim.ep.handle_hook_queue_full(job.ticket, sim.now);
    sim.pump(&mut [&mut full]);
    assert_eq!(
        sim.closed_with(&full),
        Some(&CloseReason::Refused("hook queue full"))
    );
}

#[test]
fn done_hooks_fire_when_publish_and_play_end() {
    use rtmp_edge::hooks::HookKind;
    let mut sim = hook_sim(
        "on_publish_done = \"http://127.0.0.1:9/pd\"\non_play_done = \"http://127.0.0.1:9/yd\"\n",
    );
    let mut player = sim.started(ClientMode::Play, "d?token=t0p");
    let mut publisher = sim.started(ClientMode::Publish, "d");
    assert!(sim.ep.poll_hook().is_none(), "no deciding hook configured");
    publisher.session.finish(&mut publisher.outbound).unwrap();
    sim.pump(&mut [&mut publisher, &mut player]);
    let job = take_hook(&mut sim);
    assert_eq!(job.request.kind(), HookKind::PublishDone);
    assert!(job.request.body().contains("name=d"));
    player.session.finish(&mut player.outbound).unwrap();
    sim.pump(&mut [&mut player]);
    let job = take_hook(&mut sim);
    assert_eq!(job.request.kind(), HookKind::PlayDone);
    assert!(job.request.body().contains("token=t0p"));
    assert!(!job.request.body_redacted().contains("t0p"));
}

#[test]
fn on_connect_decides_the_connect_and_can_rename_the_app() {
    use rtmp_edge::hooks::{HookKind, HookVerdict};
    let mut sim = access_sim(
        "[apps.gate]\non_connect = \"http://127.0.0.1:9/connect\"\n[apps.other]\nrecord = false\n",
    );
    // An app without on_connect is answered at once.
    let free = sim.client_from([127, 0, 0, 1], "other", ClientMode::Play, "s");
    let mut free = free;
    sim.pump(&mut [&mut free]);
    assert!(free.has(&ClientEvent::Connected));
    assert!(sim.ep.poll_hook().is_none());
    // Refused: _error NetConnection.Connect.Rejected, then closed.
    let mut refused = sim.client_from([127, 0, 0, 1], "gate?token=x", ClientMode::Play, "s");
    sim.pump(&mut [&mut refused]);
    assert!(
        !refused.has(&ClientEvent::Connected),
        "answered before the hook"
    );
    let job = take_hook(&mut sim);
    assert_eq!(job.request.kind(), HookKind::Connect);
    let body = job.request.body();
    assert!(
        body.contains("call=connect") && body.contains("app=gate"),
        "{body}"
    );
    assert!(body.contains("token=x"), "connect query not passed: {body}");
    sim.ep
        .handle_hook_result(job.ticket, HookVerdict::Refuse(403), sim.now);
    sim.pump(&mut [&mut refused]);
    assert!(refused.events.iter().any(|e| matches!(e,
        ClientEvent::Error { code, .. } if code == "NetConnection.Connect.Rejected")));
    assert_eq!(
        sim.closed_with(&refused),
        Some(&CloseReason::Refused("hook refused"))
    );
    // Renamed: a player connecting to `gate` plays from `other`.
    let mut publisher = sim.client_from([127, 0, 0, 1], "other", ClientMode::Publish, "s");
    sim.pump(&mut [&mut publisher]);
    publish_start(&mut sim, &mut publisher, &mut []);
    let mut renamed = sim.client_from([127, 0, 0, 1], "gate", ClientMode::Play, "s");
    sim.pump(&mut [&mut renamed]);
    let job = take_hook(&mut sim);
    sim.ep
        .handle_hook_result(job.ticket, HookVerdict::Redirect("other".into()), sim.now);
    sim.pump(&mut [&mut renamed]);
    assert!(renamed.has(&ClientEvent::PlayStarted));
    assert_eq!(
        renamed.media().len(),
        3,
        "the renamed app's stream did not arrive"
    );
}

#[test]
fn pulled_key_gets_one_upstream_and_waiting_players_get_stream_not_found_in_time() {
    let text = "[apps.live]\npull = [\"rtmp://192.0.2.1:1935/live\", \"rtmp://origin.example/live\"]\npull_wait_ms = 3000\n";
    let config = Config::from_toml(text, "t.toml", &Overrides::default()).unwrap();
    let mut sim = Sim::new(Config {
        stats_interval_ms: 3_600_000,
        ..config
    });
    let mut a = sim.started(ClientMode::Play, "cam?key=1");
    let mut b = sim.started(ClientMode::Play, "cam");
    let job = sim.ep.poll_connect().expect("one upstream for the key");
    assert_eq!((job.host.as_str(), job.port), ("192.0.2.1", 1935));
    assert_eq!(sim.ep.poll_connect(), None, "the second player shares it");
    // The first origin cannot be reached: the next one is tried after the backoff.
    sim.ep.handle_connect_failed(job.ticket, "refused", sim.now);
    sim.advance(400, &mut [&mut a, &mut b]);
    assert_eq!(sim.ep.poll_connect(), None, "not before the backoff");
    sim.advance(200, &mut [&mut a, &mut b]);
    let job = sim.ep.poll_connect().expect("retry");
    assert_eq!(job.host, "origin.example");
    sim.advance(2_300, &mut [&mut a, &mut b]);
    assert!(
        sim.is_open(&a) && sim.is_open(&b),
        "closed before pull_wait_ms"
    );
    sim.advance(200, &mut [&mut a, &mut b]);
    for p in [&a, &b] {
        assert!(p
            .status_codes()
            .iter()
            .any(|c| c == "NetStream.Play.StreamNotFound"));
        assert_eq!(
            sim.closed_with(p),
            Some(&CloseReason::Refused("stream not found"))
        );
    }
    // With no viewer left for pull_idle_ms (10 s) the pull is given up: a
    // connection that completes after that is refused.
    let id = ConnId {
        index: 99,
        generation: 99,
    };
    sim.advance(10_100, &mut []);
    assert!(!sim
        .ep
        .handle_connected(job.ticket, id, "192.0.2.2:1935".parse().unwrap(), sim.now));
}

// ------------------------------------------------- E-RTMP reconnect request

/// A client of live/`stream` that announces `caps` in connect instead of the
/// library's default (every FourCC, capsEx Reconnect|Multitrack|ModEx).
fn client_with_caps(sim: &mut Sim, mode: ClientMode, stream: &str, caps: EnhancedCaps) -> Peer {
    let mut p = sim.client(mode, stream);
    let mut cfg = ClientConfig::new("live", "rtmp://127.0.0.1/live", stream, mode);
    cfg.caps = caps;
    p.session = ClientSession::new(cfg);
    p
}

fn reconnect_requests(p: &Peer) -> Vec<Option<String>> {
    p.events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::ReconnectRequest { tc_url, .. } => Some(tc_url.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn connect_result_states_our_caps_only_to_clients_that_announced_theirs() {
    let mut sim = Sim::new(test_config());
    let enhanced = sim.started(ClientMode::Publish, "e");
    assert!(enhanced.has(&ClientEvent::PublishStarted));
    assert_eq!(enhanced.session.server_caps(), &EnhancedCaps::server());
    let caps = enhanced.session.server_caps();
    assert_eq!(caps.four_cc_list.as_deref(), Some(&["*".to_string()][..]));
    assert_eq!(
        caps.caps_ex,
        Some(CAPS_EX_RECONNECT | CAPS_EX_MULTITRACK | CAPS_EX_MOD_EX)
    );
    let mut legacy = client_with_caps(&mut sim, ClientMode::Publish, "l", EnhancedCaps::default());
    sim.pump(&mut [&mut legacy]);
    assert!(legacy.has(&ClientEvent::PublishStarted));
    assert!(
        !legacy.session.server_caps().is_announced(),
        "a legacy client got E-RTMP properties: {:?}",
        legacy.session.server_caps()
    );
}

#[test]
fn reconnect_request_goes_once_to_publishers_with_capsex_reconnect_and_closes_nobody() {
    let mut sim = Sim::new(test_config());
    let mut able = sim.started(ClientMode::Publish, "a");
    publish_start(&mut sim, &mut able, &mut []);
    let mut legacy = client_with_caps(&mut sim, ClientMode::Publish, "b", EnhancedCaps::default());
    // Announces E-RTMP codecs and multitrack, but not Reconnect.
    let mut no_reconnect = client_with_caps(
        &mut sim,
        ClientMode::Publish,
        "c",
        EnhancedCaps::client(CAPS_EX_MULTITRACK | CAPS_EX_MOD_EX),
    );
    let mut player = sim.client(ClientMode::Play, "a");
    sim.pump(&mut [&mut able, &mut legacy, &mut no_reconnect, &mut player]);
    for p in [&legacy, &no_reconnect] {
        assert!(p.has(&ClientEvent::PublishStarted));
    }
    assert!(player.has(&ClientEvent::PlayStarted));

    let summary = sim
        .ep
        .request_reconnect(&ReconnectScope::default(), "test", sim.now);
    assert_eq!(
        summary,
        ReconnectSummary {
            asked: 1,
            not_capable: 2,
            asked_before: 0
        }
    );
    let mut all = [&mut able, &mut legacy, &mut no_reconnect, &mut player];
    sim.pump(&mut all);
    assert_eq!(reconnect_requests(&able), vec![None]);
    for p in [&legacy, &no_reconnect, &player] {
        assert!(reconnect_requests(p).is_empty(), "{:?} was asked", p.id);
    }
    let listed = sim.ep.snapshot(sim.now).clients;
    let row = |p: &Peer| {
        listed
            .iter()
            .find(|c| c.id == u64::from(p.id.generation))
            .cloned()
            .unwrap()
    };
    assert!(row(&able).reconnect_requested);
    assert_eq!(row(&able).ertmp.unwrap().caps_ex, Some(7));
    assert!(row(&legacy).ertmp.is_none());
    assert!(!row(&no_reconnect).reconnect_requested);

    // Once per connection: a second request asks nobody again.
    let again = sim
        .ep
        .request_reconnect(&ReconnectScope::default(), "test", sim.now);
    assert_eq!((again.asked, again.asked_before), (0, 1));

    // Nobody is closed: the asked publisher keeps feeding its player.
    let before = player.media().len();
    able.send(MediaKind::Video, 40, &inter(1));
    sim.advance(
        5_000,
        &mut [&mut able, &mut legacy, &mut no_reconnect, &mut player],
    );
    assert_eq!(player.media().len(), before + 1);
    assert_eq!(reconnect_requests(&able).len(), 1, "asked twice");
    for p in [&able, &legacy, &no_reconnect, &player] {
        assert!(sim.is_open(p), "{:?} closed", p.id);
    }
    // It leaves when it wants to (here: unpublishes and closes).
    able.session.finish(&mut able.outbound).unwrap();
    sim.pump(&mut [&mut able, &mut player]);
    assert!(player
        .status_codes()
        .contains(&"NetStream.Play.UnpublishNotify".to_string()));
}

#[test]
fn reconnect_request_scope_limits_by_app_and_name_and_carries_tc_url() {
    let mut sim = Sim::new(test_config());
    let mut cam = sim.started(ClientMode::Publish, "cam");
    let mut other = sim.started(ClientMode::Publish, "other");
    let mut elsewhere = sim.client_on("studio", ClientMode::Publish, "cam");
    sim.pump(&mut [&mut elsewhere]);
    assert!(elsewhere.has(&ClientEvent::PublishStarted));
    let scope = ReconnectScope {
        app: Some("live".into()),
        name: Some("cam".into()),
        tc_url: Some("rtmp://edge2.example/live".into()),
    };
    let summary = sim.ep.request_reconnect(&scope, "test", sim.now);
    assert_eq!(summary.asked, 1);
    assert_eq!(summary.not_capable, 0);
    sim.pump(&mut [&mut cam, &mut other, &mut elsewhere]);
    assert_eq!(
        reconnect_requests(&cam),
        vec![Some("rtmp://edge2.example/live".to_string())]
    );
    assert!(reconnect_requests(&other).is_empty());
    assert!(reconnect_requests(&elsewhere).is_empty());
    // An app-wide request reaches the rest of `live` only.
    let scope = ReconnectScope {
        app: Some("live".into()),
        ..ReconnectScope::default()
    };
    let summary = sim.ep.request_reconnect(&scope, "test", sim.now);
    assert_eq!((summary.asked, summary.asked_before), (1, 1));
    sim.pump(&mut [&mut cam, &mut other, &mut elsewhere]);
    assert_eq!(reconnect_requests(&other), vec![None]);
    assert!(reconnect_requests(&elsewhere).is_empty());
}

#[test]
fn a_publisher_asked_to_reconnect_gives_way_to_its_new_connection() {
    let mut sim = Sim::new(test_config());
    let mut old = sim.started(ClientMode::Publish, "cam");
    let mut player = sim.started(ClientMode::Play, "cam");
    publish_start(&mut sim, &mut old, &mut [&mut player]);
    // Not asked yet: a second publisher of the key is a refused duplicate.
    let dup = sim.started(ClientMode::Publish, "cam");
    assert!(dup
        .status_codes()
        .contains(&"NetStream.Publish.BadName".to_string()));
    assert!(sim.is_open(&old));

    sim.ep
        .request_reconnect(&ReconnectScope::default(), "test", sim.now);
    sim.pump(&mut [&mut old, &mut player]);
    assert_eq!(reconnect_requests(&old).len(), 1);
    // Make before break on the same server: the new connection publishes
    // while the old one still does, and replaces it.
    let mut new = sim.started(ClientMode::Publish, "cam");
    assert!(new.has(&ClientEvent::PublishStarted), "{:?}", new.events);
    sim.pump(&mut [&mut old, &mut new, &mut player]);
    assert_eq!(sim.closed_with(&old), Some(&CloseReason::Reconnected));
    let before = player.media().len();
    publish_start(&mut sim, &mut new, &mut [&mut player]);
    assert_eq!(
        player.media().len(),
        before + 3,
        "the player follows the new publisher"
    );
    assert!(sim.is_open(&player) && sim.is_open(&new));
    // The new connection was not asked: a further publisher is a duplicate.
    let dup = sim.started(ClientMode::Publish, "cam");
    assert!(dup
        .status_codes()
        .contains(&"NetStream.Publish.BadName".to_string()));
    assert!(sim.is_open(&new));
}

/// Each finalized segment fires `on_record_done` with its own path; the
/// recording's hook state goes only when the recorder says it is over.
#[test]
fn on_record_done_fires_once_per_segment() {
    use rtmp_edge::endpoint::RecordEvent;
    use rtmp_edge::hooks::HookKind;
    use rtmp_edge::record::RecordingId;
    let toml = "[apps.live]\nrecord = true\nrecord_segment_s = 10\n\
                record_path = \"{app}/{name}-{seq}.flv\"\n\
                on_record_done = \"http://127.0.0.1:9/done\"\n";
    let config = Config::from_toml(toml, "rec.toml", &Overrides::default()).expect("parses");
    let log: RecLog = Rc::default();
    let recorder = FakeRecorder {
        log: log.clone(),
        ..FakeRecorder::default()
    };
    let events = recorder.events.clone();
    let mut sim = Sim::with_recorder(
        Config {
            stats_interval_ms: 3_600_000,
            ..config
        },
        Some(Box::new(recorder)),
    );
    let mut publisher = sim.started(ClientMode::Publish, "cam?k=v");
    publish_start(&mut sim, &mut publisher, &mut []);
    assert_eq!(
        log.borrow().first().map(String::as_str),
        Some("start live/cam plan 10000 0 {app}/{name}-{seq}.flv")
    );
    let rec = RecordingId(1);
    let file = |n: u32| RecordEvent::File {
        id: rec,
        path: format!("rec/live/cam-{n}.flv"),
    };
    events.borrow_mut().extend([file(0), file(1)]);
    sim.advance(1_000, &mut [&mut publisher]);
    for n in 0..2 {
        let job = take_hook(&mut sim);
        assert_eq!(job.request.kind(), HookKind::RecordDone);
        let body = job.request.body();
        assert!(body.contains(&format!("cam-{n}.flv")), "{body}");
        assert!(body.contains("name=cam") && body.contains("k=v"), "{body}");
    }
    assert!(sim.ep.poll_hook().is_none());
    publisher.session.finish(&mut publisher.outbound).unwrap();
    sim.pump(&mut [&mut publisher]);
    events
        .borrow_mut()
        .extend([file(2), RecordEvent::Ended(rec), file(3)]);
    sim.advance(1_000, &mut [&mut publisher]);
    let body = take_hook(&mut sim).request.body();
    assert!(body.contains("cam-2.flv"), "{body}");
    assert!(
        sim.ep.poll_hook().is_none(),
        "a file reported after the end has no hook state left"
    );
}
