//! Configuration reload through the sans-IO endpoint ([`Endpoint::reload`]),
//! with the simulated clock: no sockets, no sleeps.

mod common;

use common::sim::*;
use rtmp_edge::config::{Config, Overrides};
use rtmp_edge::endpoint::ConnId;
use rtmp_edge::error::CloseReason;
use rtmp_edge::proto::client::{ClientEvent, ClientMode};
use rtmp_edge::proto::session::MediaKind;

fn parse(toml: &str) -> Config {
    let config = Config::from_toml(toml, "reload.toml", &Overrides::default()).expect("parses");
    Config {
        stats_interval_ms: 3_600_000,
        ..config
    }
}

fn refused(p: &Peer) -> bool {
    p.events
        .iter()
        .any(|e| matches!(e, ClientEvent::Error { code, .. } if code == "NetStream.Publish.Denied"))
}

#[test]
fn a_key_change_applies_to_new_publishers_while_live_ones_keep_streaming() {
    let mut sim = Sim::new(parse("[apps.live]\npublish_keys = [\"A\"]\n"));
    let mut publisher = sim.started(ClientMode::Publish, "cam?key=A");
    assert!(publisher.has(&ClientEvent::PublishStarted));
    let mut player = sim.started(ClientMode::Play, "cam");
    publish_start(&mut sim, &mut publisher, &mut [&mut player]);
    let before = player.media().len();
    assert_eq!(before, 3);

    let report = sim
        .ep
        .reload(parse("[apps.live]\npublish_keys = [\"B\"]\n"), sim.now);
    assert_eq!(report.change.changed, ["apps.live.publish_keys"]);
    assert!(report.change.needs_restart.is_empty());
    assert_eq!(report.summary(), "changed apps.live.publish_keys");

    // The running publisher is not checked again: its frames still arrive.
    for ts in 1..=5u32 {
        publisher.send(MediaKind::Video, ts * 40, &inter(ts as u8));
    }
    sim.advance(1_000, &mut [&mut publisher, &mut player]);
    assert!(sim.is_open(&publisher) && sim.is_open(&player));
    assert_eq!(
        player.media().len(),
        before + 5,
        "the player kept receiving"
    );

    let old_key = sim.started(ClientMode::Publish, "other?key=A");
    assert!(
        refused(&old_key),
        "removed key accepted: {:?}",
        old_key.events
    );
    assert_eq!(
        sim.closed_with(&old_key),
        Some(&CloseReason::Refused("unauthorized (missing or wrong key)"))
    );
    let new_key = sim.started(ClientMode::Publish, "third?key=B");
    assert!(
        new_key.has(&ClientEvent::PublishStarted),
        "added key refused: {:?}",
        new_key.events
    );
    assert!(sim.is_open(&publisher), "the old publisher was closed");
}

#[test]
fn a_push_list_change_opens_new_targets_and_closes_removed_ones() {
    let push = |targets: &str| parse(&format!("[apps.live]\npush = [{targets}]\n"));
    let mut sim = Sim::new(push(
        "\"rtmp://a.example/live/{name}\", \"rtmp://b.example/live/{name}\"",
    ));
    let mut publisher = sim.started(ClientMode::Publish, "cam");
    publish_start(&mut sim, &mut publisher, &mut []);
    let a = sim.ep.poll_connect().expect("target a");
    let b = sim.ep.poll_connect().expect("target b");
    assert_eq!(
        (a.host.as_str(), b.host.as_str()),
        ("a.example", "b.example")
    );
    assert_eq!(sim.ep.poll_connect(), None);
    // Target b connects (the driver's socket); a is still connecting.
    let b_conn = ConnId {
        index: sim.next_index,
        generation: sim.next_generation,
    };
    sim.next_index += 1;
    sim.next_generation += 1;
    assert!(sim
        .ep
        .handle_connected(b.ticket, b_conn, "192.0.2.2:1935".parse().unwrap(), sim.now));
    assert!(sim.ep.is_open(b_conn));

    let report = sim.ep.reload(
        push("\"rtmp://a.example/live/{name}\", \"rtmp://c.example/live/{name}\""),
        sim.now,
    );
    assert_eq!(report.change.changed, ["apps.live.push"]);
    assert_eq!((report.pushes_started, report.pushes_stopped), (1, 1));
    let c = sim
        .ep
        .poll_connect()
        .expect("target c opened by the reload");
    assert_eq!(c.host, "c.example");
    assert_eq!(sim.ep.poll_connect(), None, "target a is not opened twice");
    sim.flush(&mut [&mut publisher]);
    assert_eq!(sim.closed.get(&b_conn), Some(&CloseReason::RelayEnded));
    // Removed targets are not retried.
    sim.advance(10_000, &mut [&mut publisher]);
    let retried: Vec<String> = std::iter::from_fn(|| sim.ep.poll_connect())
        .map(|j| j.host)
        .collect();
    assert!(
        !retried.iter().any(|h| h == "b.example"),
        "removed target retried: {retried:?}"
    );
    assert!(sim.is_open(&publisher));
    let snapshot = sim.ep.snapshot(sim.now);
    let urls: Vec<String> = snapshot.streams[0]
        .relays
        .iter()
        .map(|r| r.url.clone())
        .collect();
    assert_eq!(
        urls,
        ["rtmp://a.example/live/cam", "rtmp://c.example/live/cam"]
    );

    // Emptying the list stops the rest.
    let report = sim.ep.reload(parse(""), sim.now);
    assert_eq!(report.change.changed, ["apps.live"], "a table removed");
    assert_eq!((report.pushes_started, report.pushes_stopped), (0, 2));
}

#[test]
fn restart_only_keys_are_reported_and_keep_their_running_value() {
    let mut sim = Sim::new(parse(
        "listen = \"127.0.0.1:1935\"\nchunk_size = 4096\nping_interval_ms = 30000\n",
    ));
    let mut player = sim.started(ClientMode::Play, "cam");
    let report = sim.ep.reload(
        parse("listen = \"127.0.0.1:1940\"\nchunk_size = 8192\nping_interval_ms = 5000\nhttp_listen = \"off\"\n"),
        sim.now,
    );
    assert_eq!(
        report.change.needs_restart,
        ["listen", "http_listen", "chunk_size"]
    );
    assert_eq!(report.change.changed, ["ping_interval_ms"]);
    let config = sim.ep.config();
    assert_eq!(config.listen, "127.0.0.1:1935".parse().unwrap());
    assert_eq!(config.chunk_size, 4096);
    assert_eq!(config.ping_interval_ms, 5000);
    assert_eq!(
        report.summary(),
        "changed ping_interval_ms; needs a restart (running value kept): listen, http_listen, chunk_size"
    );
    // No changes at all: said so.
    let same = sim.ep.config().clone();
    assert_eq!(sim.ep.reload(same, sim.now).summary(), "no changes");
    sim.advance(100, &mut [&mut player]);
    assert!(sim.is_open(&player));
}
