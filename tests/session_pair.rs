//! In-memory pair tests: `ClientSession` ↔ `ServerSession` with no sockets.
//!
//! A small [`Pair`] driver shuttles bytes both ways (handshakes included),
//! optionally a few bytes at a time, plays the server loop's part
//! (accept_publish / accept_play on the requests, canonical media frames for
//! a player) and taps both directions with a separate `ChunkDecoder` so the
//! tests can check what went over the wire.

use bytes::{Bytes, BytesMut};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

use rtmp_edge::proto::amf0::{self, Amf0Value};
use rtmp_edge::proto::chunk::{
    encode_canonical, ChunkDecoder, ChunkEncoder, ChunkLimits, RawMessage,
};
use rtmp_edge::proto::client::{ClientConfig, ClientEvent, ClientMode, ClientSession};
use rtmp_edge::proto::command::{self, Command, CommandError, StreamName};
use rtmp_edge::proto::handshake::{ClientHandshake, Progress, ServerHandshake};
use rtmp_edge::proto::message::{self, MessageError, RtmpMessage, UserControl};
use rtmp_edge::proto::session::{
    MediaKind, ServerConfig, ServerEvent, ServerSession, SessionError,
};

/// Decodes one direction of the conversation for inspection.
struct Tap {
    decoder: ChunkDecoder,
    buf: BytesMut,
    msgs: Vec<RawMessage>,
}

impl Tap {
    fn new() -> Self {
        Tap {
            decoder: ChunkDecoder::new(ChunkLimits::default()),
            buf: BytesMut::new(),
            msgs: Vec::new(),
        }
    }
    fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        while let Some(m) = self.decoder.decode(&mut self.buf).expect("tap decode") {
            self.msgs.push(m);
        }
    }
    fn commands(&self) -> Vec<Vec<Amf0Value>> {
        self.msgs
            .iter()
            .filter_map(|m| match RtmpMessage::decode(m).unwrap() {
                RtmpMessage::Command { values, .. } => Some(values),
                _ => None,
            })
            .collect()
    }
    fn acks(&self) -> Vec<u32> {
        self.msgs
            .iter()
            .filter_map(|m| match RtmpMessage::decode(m).unwrap() {
                RtmpMessage::Acknowledgement { sequence } => Some(sequence),
                _ => None,
            })
            .collect()
    }
}

struct Pair {
    rng: StdRng,
    chs: ClientHandshake,
    shs: ServerHandshake,
    client: ClientSession,
    server: ServerSession,
    client_ready: bool,
    server_ready: bool,
    /// Bytes on the wire, not yet delivered.
    c2s: BytesMut,
    s2c: BytesMut,
    /// Delivered, not yet consumed.
    server_in: BytesMut,
    client_in: BytesMut,
    /// At most this many bytes per delivery (None = everything).
    step: Option<usize>,
    /// Random delivery sizes in 1..=n when set (overrides `step`).
    random_step: Option<usize>,
    server_events: Vec<ServerEvent>,
    client_events: Vec<ClientEvent>,
    /// Emulate the driver: accept every publish/play request.
    auto_accept: bool,
    c2s_tap: Tap,
    s2c_tap: Tap,
    out_chunk_size: u32,
}

impl Pair {
    fn new(client_cfg: ClientConfig, server_cfg: ServerConfig, seed: u64) -> Pair {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut chs = ClientHandshake::new(1000);
        let mut c2s = BytesMut::new();
        chs.start(&mut c2s, &mut rng);
        Pair {
            rng,
            chs,
            shs: ServerHandshake::new(2000),
            client: ClientSession::new(client_cfg),
            out_chunk_size: server_cfg.out_chunk_size,
            server: ServerSession::new(server_cfg),
            client_ready: false,
            server_ready: false,
            c2s,
            s2c: BytesMut::new(),
            server_in: BytesMut::new(),
            client_in: BytesMut::new(),
            step: None,
            random_step: None,
            server_events: Vec::new(),
            client_events: Vec::new(),
            auto_accept: true,
            c2s_tap: Tap::new(),
            s2c_tap: Tap::new(),
        }
    }

    fn publisher(seed: u64) -> Pair {
        let cfg = ClientConfig::new(
            "live",
            "rtmp://127.0.0.1/live",
            "cap?key=1",
            ClientMode::Publish,
        );
        Pair::new(cfg, ServerConfig::default(), seed)
    }

    fn player(seed: u64) -> Pair {
        let cfg = ClientConfig::new("live", "rtmp://127.0.0.1/live", "cap", ClientMode::Play);
        Pair::new(cfg, ServerConfig::default(), seed)
    }

    fn take(&mut self, from_c2s: bool) -> BytesMut {
        let n = if from_c2s {
            self.c2s.len()
        } else {
            self.s2c.len()
        };
        let k = match (self.random_step, self.step) {
            (Some(max), _) => self.rng.random_range(1..=max).min(n),
            (None, Some(s)) => s.min(n),
            (None, None) => n,
        };
        if from_c2s {
            self.c2s.split_to(k)
        } else {
            self.s2c.split_to(k)
        }
    }

    /// Move bytes until both sides are quiet. Panics on a session error.
    fn drive(&mut self) {
        self.try_drive().expect("session error");
    }

    fn try_drive(&mut self) -> Result<(), SessionError> {
        for _ in 0..10_000_000 {
            let mut moved = false;
            if !self.c2s.is_empty() {
                let chunk = self.take(true);
                self.server_in.extend_from_slice(&chunk);
                moved = true;
                self.run_server()?;
            }
            if !self.s2c.is_empty() {
                let chunk = self.take(false);
                self.client_in.extend_from_slice(&chunk);
                moved = true;
                self.run_client();
            }
            if !moved {
                return Ok(());
            }
        }
        panic!("pair did not settle");
    }

    fn run_server(&mut self) -> Result<(), SessionError> {
        if !self.server_ready {
            let p = self
                .shs
                .feed(&mut self.server_in, &mut self.s2c, &mut self.rng)
                .expect("server handshake");
            if p != Progress::Done {
                return Ok(());
            }
            self.server_ready = true;
        }
        let mut out = BytesMut::new();
        let first_new = self.server_events.len();
        self.server
            .handle_input(&mut self.server_in, &mut self.server_events, &mut out)?;
        if self.auto_accept {
            for i in first_new..self.server_events.len() {
                match self.server_events[i].clone() {
                    ServerEvent::PublishRequested {
                        stream_id, name, ..
                    } => self.server.accept_publish(stream_id, &name.name, &mut out),
                    ServerEvent::PlayRequested {
                        stream_id, name, ..
                    } => self.server.accept_play(stream_id, &name.name, &mut out),
                    _ => {}
                }
            }
        }
        self.server_write(&out);
        Ok(())
    }

    fn run_client(&mut self) {
        if !self.client_ready {
            let p = self
                .chs
                .feed(&mut self.client_in, &mut self.c2s)
                .expect("client handshake");
            if p != Progress::Done {
                return;
            }
            self.client_ready = true;
            let mut out = BytesMut::new();
            self.client.start(&mut out);
            self.client_write(&out);
        }
        let mut out = BytesMut::new();
        self.client
            .handle_input(&mut self.client_in, &mut self.client_events, &mut out)
            .expect("client error");
        self.client_write(&out);
    }

    fn server_write(&mut self, bytes: &[u8]) {
        self.s2c_tap.push(bytes);
        self.s2c.extend_from_slice(bytes);
    }

    fn client_write(&mut self, bytes: &[u8]) {
        self.c2s_tap.push(bytes);
        self.c2s.extend_from_slice(bytes);
    }

    /// Run a client action that writes bytes, then drive.
    fn client_do(&mut self, f: impl FnOnce(&mut ClientSession, &mut BytesMut)) {
        let mut out = BytesMut::new();
        f(&mut self.client, &mut out);
        self.client_write(&out);
        self.drive();
    }

    fn server_do(&mut self, f: impl FnOnce(&mut ServerSession, &mut BytesMut)) {
        let mut out = BytesMut::new();
        f(&mut self.server, &mut out);
        self.server_write(&out);
        self.drive();
    }

    fn media_events(&self) -> Vec<(MediaKind, u32, u32, Bytes)> {
        self.server_events
            .iter()
            .filter_map(|e| match e {
                ServerEvent::Media {
                    kind,
                    stream_id,
                    timestamp,
                    payload,
                } => Some((*kind, *stream_id, *timestamp, payload.clone())),
                _ => None,
            })
            .collect()
    }
}

fn random_media(rng: &mut StdRng, n: usize) -> Vec<(MediaKind, u32, Bytes)> {
    let mut ts = 0u32;
    (0..n)
        .map(|i| {
            let kind = if rng.random_bool(0.5) {
                MediaKind::Audio
            } else {
                MediaKind::Video
            };
            ts += rng.random_range(0..50);
            let len = if i % 7 == 0 {
                rng.random_range(5000..20000)
            } else {
                rng.random_range(1..600)
            };
            let mut v = vec![0u8; len];
            rng.fill_bytes(&mut v);
            (kind, ts, Bytes::from(v))
        })
        .collect()
}

fn metadata_values() -> Vec<Amf0Value> {
    vec![Amf0Value::EcmaArray(vec![
        ("width".to_owned(), Amf0Value::Number(320.0)),
        ("height".to_owned(), Amf0Value::Number(240.0)),
        ("encoder".to_owned(), Amf0Value::String("test".to_owned())),
    ])]
}

/// Connect, publish, send metadata and `media`; return the pair.
fn run_publish(pair: &mut Pair, media: &[(MediaKind, u32, Bytes)]) {
    pair.drive();
    assert!(pair.client.is_active(), "events {:?}", pair.client_events);
    pair.client_do(|c, out| c.send_metadata(&metadata_values(), out).unwrap());
    let mut out = BytesMut::new();
    for (kind, ts, payload) in media {
        pair.client
            .send_media(*kind, *ts, payload, &mut out)
            .unwrap();
    }
    pair.client_write(&out);
    pair.drive();
    pair.client_do(|c, out| c.finish(out).unwrap());
}

#[test]
fn publish_connects_creates_stream_and_media_reaches_server_unchanged() {
    let mut rng = StdRng::seed_from_u64(1);
    let media = random_media(&mut rng, 60);
    let mut pair = Pair::publisher(7);
    run_publish(&mut pair, &media);

    // Client side: connect, stream 1, publish started.
    let ce = &pair.client_events;
    assert_eq!(ce[0], ClientEvent::Connected);
    assert!(ce.contains(&ClientEvent::StreamCreated(1)));
    assert!(ce.contains(&ClientEvent::PublishStarted));
    assert_eq!(pair.client.stream_id(), 1);

    // Server side, in order.
    let se = &pair.server_events;
    match &se[0] {
        ServerEvent::Connected { params } => assert_eq!(params.app, "live"),
        other => panic!("first event {other:?}"),
    }
    match &se[1] {
        ServerEvent::PublishRequested {
            stream_id,
            app,
            name,
            kind,
        } => {
            assert_eq!(*stream_id, 1);
            assert_eq!(app, "live");
            assert_eq!(
                *name,
                StreamName {
                    name: "cap".into(),
                    query: Some("key=1".into())
                }
            );
            assert_eq!(kind, "live");
        }
        other => panic!("second event {other:?}"),
    }
    match &se[2] {
        ServerEvent::Metadata {
            stream_id,
            values,
            body,
            ..
        } => {
            assert_eq!(*stream_id, 1);
            assert_eq!(values[0], Amf0Value::String("onMetaData".into()));
            assert_eq!(&values[1..], &metadata_values()[..]);
            let mut expect = BytesMut::new();
            amf0::encode_all(values, &mut expect);
            assert_eq!(&body[..], &expect[..]);
        }
        other => panic!("third event {other:?}"),
    }
    let got = pair.media_events();
    assert_eq!(got.len(), media.len());
    for ((k, sid, ts, p), (ek, ets, ep)) in got.iter().zip(&media) {
        assert_eq!((k, *sid, ts, p), (ek, 1, ets, ep));
    }
    assert_eq!(
        se.last(),
        Some(&ServerEvent::Unpublished { stream_id: 1 }),
        "FCUnpublish/deleteStream end the publish once"
    );
    assert_eq!(
        se.iter()
            .filter(|e| matches!(e, ServerEvent::Unpublished { .. }))
            .count(),
        1
    );

    // What the server wrote: control burst then the answers.
    let s2c = &pair.s2c_tap.msgs;
    let types: Vec<u8> = s2c.iter().take(3).map(|m| m.type_id).collect();
    assert_eq!(types, [5, 6, 1]);
    assert!(s2c.iter().all(|m| ![4u32, 6, 7].contains(&m.csid)));
    let cmds = pair.s2c_tap.commands();
    let code_of = |v: &Vec<Amf0Value>| command::info_code(&v[2..]).map(str::to_owned);
    assert_eq!(cmds[0][0].as_str(), Some("_result"));
    assert_eq!(
        code_of(&cmds[0]).as_deref(),
        Some("NetConnection.Connect.Success")
    );
    assert!(cmds.iter().any(|v| v[0].as_str() == Some("onStatus")
        && code_of(v).as_deref() == Some("NetStream.Publish.Start")));
    assert!(cmds.iter().any(|v| v[0].as_str() == Some("onFCPublish")));
    assert!(cmds.iter().any(|v| v[0].as_str() == Some("onFCUnpublish")));
}

#[test]
fn play_receives_media_written_by_the_driver() {
    let mut pair = Pair::player(3);
    pair.drive();
    assert!(pair.client_events.contains(&ClientEvent::StreamCreated(1)));
    assert!(pair.client_events.contains(&ClientEvent::StreamBegin(1)));
    assert!(pair.client_events.contains(&ClientEvent::PlayStarted));
    assert!(pair.server.is_playing(1));
    match pair.server_events.last() {
        Some(ServerEvent::PlayRequested {
            stream_id: 1,
            name,
            start,
            ..
        }) => {
            assert_eq!(name.name, "cap");
            assert_eq!(*start, -2.0);
        }
        other => panic!("last server event {other:?}"),
    }
    // SetBufferLength followed the play.
    assert!(pair.c2s_tap.msgs.iter().any(|m| matches!(
        RtmpMessage::decode(m).unwrap(),
        RtmpMessage::UserControl(UserControl::SetBufferLength { stream_id: 1, .. })
    )));

    // The driver writes metadata and canonical media frames on csids 4/6/7.
    let mut rng = StdRng::seed_from_u64(11);
    let media = random_media(&mut rng, 40);
    let mut meta_body = BytesMut::new();
    let mut meta_values = vec![Amf0Value::String("onMetaData".into())];
    meta_values.extend(metadata_values());
    amf0::encode_all(&meta_values, &mut meta_body);
    let meta = RawMessage {
        csid: message::CSID_DATA,
        timestamp: 0,
        type_id: message::TYPE_DATA_AMF0,
        stream_id: 1,
        payload: meta_body.freeze(),
    };
    let mut wire = BytesMut::new();
    wire.extend_from_slice(&encode_canonical(&meta, pair.out_chunk_size));
    for (kind, ts, payload) in &media {
        let (csid, type_id) = match kind {
            MediaKind::Audio => (message::CSID_AUDIO, message::TYPE_AUDIO),
            MediaKind::Video => (message::CSID_VIDEO, message::TYPE_VIDEO),
        };
        let raw = RawMessage {
            csid,
            timestamp: *ts,
            type_id,
            stream_id: 1,
            payload: payload.clone(),
        };
        wire.extend_from_slice(&encode_canonical(&raw, pair.out_chunk_size));
    }
    let before = pair.client_events.len();
    pair.server_write(&wire);
    pair.drive();
    let new = &pair.client_events[before..];
    match &new[0] {
        ClientEvent::Metadata { values, .. } => assert_eq!(values, &meta_values),
        other => panic!("expected metadata, got {other:?}"),
    }
    let got: Vec<_> = new
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Media {
                kind,
                timestamp,
                payload,
            } => Some((*kind, *timestamp, payload.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(got, media);

    // Publisher gone: StreamEOF + UnpublishNotify reach the player.
    pair.server_do(|s, out| s.notify_unpublish(1, "cap", out));
    assert!(pair.client_events.contains(&ClientEvent::StreamEof(1)));
    assert!(pair.client_events.iter().any(|e| matches!(e,
        ClientEvent::Status { code, .. } if code == "NetStream.Play.UnpublishNotify")));
    pair.client_do(|c, out| c.finish(out).unwrap());
    assert_eq!(
        pair.server_events.last(),
        Some(&ServerEvent::PlayStopped { stream_id: 1 })
    );
}

#[test]
fn acknowledgements_follow_the_announced_window() {
    const WINDOW: u32 = 10_000;
    let mut cfg = ClientConfig::new("live", "rtmp://h/live", "cap", ClientMode::Publish);
    cfg.window_ack_size = Some(WINDOW);
    let server_cfg = ServerConfig {
        window_ack_size: 300,
        ..ServerConfig::default()
    };
    let mut pair = Pair::new(cfg, server_cfg, 5);
    let mut rng = StdRng::seed_from_u64(5);
    let media = random_media(&mut rng, 80);
    run_publish(&mut pair, &media);

    // Server acknowledged the client's bytes every WINDOW bytes.
    let acks = pair.s2c_tap.acks();
    let total = pair.server.bytes_received();
    assert!(total > 5 * u64::from(WINDOW), "total {total}");
    assert_eq!(acks.len() as u64, pair.server.acks_sent());
    assert!(acks.len() >= 5, "acks {acks:?}");
    check_acks(&acks, total, WINDOW);

    // The client acknowledged the server's bytes on the server's window.
    let client_total = pair.client.bytes_received();
    let client_acks = pair.c2s_tap.acks();
    assert!(client_total >= 600, "client got {client_total}");
    assert!(!client_acks.is_empty());
    assert_eq!(client_acks.len() as u64, pair.client.acks_sent());
    check_acks(&client_acks, client_total, 300);
}

/// Each acknowledgement comes at least a window after the previous one, and
/// no full window is left unacknowledged at the end.
fn check_acks(acks: &[u32], total: u64, window: u32) {
    let mut prev = 0u64;
    for &a in acks {
        assert!(u64::from(a) - prev >= u64::from(window), "acks {acks:?}");
        prev = u64::from(a);
    }
    assert!(
        total - prev < u64::from(window),
        "a window went unacknowledged"
    );
}

#[test]
fn pings_are_answered_both_ways() {
    let mut pair = Pair::publisher(9);
    pair.drive();
    pair.server_do(|s, out| s.send_ping(123_456, out));
    assert_eq!(
        pair.server_events.last(),
        Some(&ServerEvent::PingResponse { timestamp: 123_456 })
    );
    pair.client_do(|c, out| c.send_ping(77, out));
    assert_eq!(
        pair.client_events.last(),
        Some(&ClientEvent::PingResponse { timestamp: 77 })
    );
    // The server's response went on csid 2.
    let pong = pair.s2c_tap.msgs.last().unwrap();
    assert_eq!(pong.csid, 2);
    assert_eq!(
        RtmpMessage::decode(pong).unwrap(),
        RtmpMessage::UserControl(UserControl::PingResponse(77))
    );
}

#[test]
fn unknown_command_gets_error_only_with_a_transaction_id() {
    let mut pair = Pair::publisher(4);
    pair.drive();
    let before = pair.s2c_tap.msgs.len();
    pair.client_do(|c, out| c.send_command(&command::simple("fooBar", 0.0, vec![]), out));
    assert_eq!(pair.s2c_tap.msgs.len(), before, "tx 0: no answer");
    pair.client_do(|c, out| c.send_command(&command::simple("fooBar", 3.0, vec![]), out));
    let cmds = pair.s2c_tap.commands();
    let last = cmds.last().unwrap();
    assert_eq!(last[0].as_str(), Some("_error"));
    assert_eq!(last[1].as_number(), Some(3.0));
    assert!(matches!(
        pair.client_events.last(),
        Some(ClientEvent::Error { tx, .. }) if *tx == 3.0
    ));
    // The connection still works afterwards.
    pair.server_do(|s, out| s.send_ping(1, out));
    assert_eq!(
        pair.server_events.last(),
        Some(&ServerEvent::PingResponse { timestamp: 1 })
    );
}

/// Encode raw messages as a client would, after the handshake.
fn client_bytes(msgs: &[RawMessage]) -> BytesMut {
    let mut enc = ChunkEncoder::new();
    let mut out = BytesMut::new();
    for m in msgs {
        enc.encode(m, &mut out);
    }
    out
}

fn command_msg(stream_id: u32, values: &[Amf0Value]) -> RawMessage {
    let mut body = BytesMut::new();
    amf0::encode_all(values, &mut body);
    raw_command(stream_id, body.freeze())
}

fn raw_command(stream_id: u32, payload: Bytes) -> RawMessage {
    RawMessage {
        csid: 3,
        timestamp: 0,
        type_id: message::TYPE_COMMAND_AMF0,
        stream_id,
        payload,
    }
}

fn connect_msg() -> RawMessage {
    command_msg(0, &command::connect(1.0, "live", "rtmp://h/live", true))
}

fn feed(
    session: &mut ServerSession,
    bytes: BytesMut,
) -> (Result<(), SessionError>, Vec<ServerEvent>, BytesMut) {
    let mut input = bytes;
    let mut events = Vec::new();
    let mut out = BytesMut::new();
    let r = session.handle_input(&mut input, &mut events, &mut out);
    (r, events, out)
}

#[test]
fn undecodable_commands_are_errors() {
    // Truncated AMF string.
    let mut s = ServerSession::new(ServerConfig::default());
    let bad = raw_command(0, Bytes::from_static(b"\x02\x00\x07conn"));
    let (r, _, _) = feed(&mut s, client_bytes(&[connect_msg(), bad]));
    assert!(
        matches!(
            r,
            Err(SessionError::Message(MessageError::Amf0 {
                type_id: 20,
                ..
            }))
        ),
        "{r:?}"
    );
    // Name not a string.
    let mut s = ServerSession::new(ServerConfig::default());
    let bad = command_msg(0, &[Amf0Value::Number(1.0), Amf0Value::Number(2.0)]);
    let (r, _, _) = feed(&mut s, client_bytes(&[bad]));
    assert_eq!(r, Err(SessionError::BadCommand(CommandError::NoName)));
}

#[test]
fn publish_play_create_stream_before_connect_are_errors() {
    for (values, name) in [
        (command::publish(5.0, "cap", "live"), "publish"),
        (command::play(5.0, "cap", -2.0), "play"),
        (command::create_stream(2.0), "createStream"),
    ] {
        let mut s = ServerSession::new(ServerConfig::default());
        let (r, events, _) = feed(&mut s, client_bytes(&[command_msg(1, &values)]));
        assert_eq!(r, Err(SessionError::NotConnected { command: name }));
        assert!(events.is_empty());
    }
}

#[test]
fn too_many_streams_is_an_error() {
    let cfg = ServerConfig {
        max_streams: 3,
        ..ServerConfig::default()
    };
    let mut s = ServerSession::new(cfg);
    let mut msgs = vec![connect_msg()];
    for tx in 0..3 {
        msgs.push(command_msg(0, &command::create_stream(2.0 + f64::from(tx))));
    }
    let (r, _, out) = feed(&mut s, client_bytes(&msgs));
    r.unwrap();
    let mut tap = Tap::new();
    tap.push(&out);
    let ids: Vec<f64> = tap
        .commands()
        .iter()
        .filter(|v| v[0].as_str() == Some("_result") && v.len() == 4)
        .filter_map(|v| v[3].as_number())
        .collect();
    assert_eq!(ids, [1.0, 2.0, 3.0]);
    let (r, _, _) = feed(&mut s, client_bytes_cont(&command::create_stream(9.0)));
    assert_eq!(r, Err(SessionError::TooManyStreams { limit: 3 }));
}

/// Decode server output written after connect (chunk size 4096 by then).
fn after_connect_msgs(out: &[u8]) -> Vec<RawMessage> {
    let mut tap = Tap::new();
    let mut scs = BytesMut::new();
    ChunkEncoder::new().encode(&RtmpMessage::SetChunkSize(4096).encode(), &mut scs);
    tap.push(&scs);
    tap.msgs.clear();
    tap.push(out);
    tap.msgs
}

/// A fmt-0 command message on csid 9 (fresh header, no encoder state).
fn client_bytes_cont(values: &[Amf0Value]) -> BytesMut {
    let mut m = command_msg(0, values);
    m.csid = 9;
    client_bytes(&[m])
}

#[test]
fn rejected_publish_stops_media_and_delete_by_name_unpublishes() {
    let mut s = ServerSession::new(ServerConfig::default());
    let audio = |ts| RawMessage {
        csid: 4,
        timestamp: ts,
        type_id: message::TYPE_AUDIO,
        stream_id: 1,
        payload: Bytes::from_static(b"\xaf\x01abc"),
    };
    let msgs = [
        connect_msg(),
        command_msg(0, &command::create_stream(2.0)),
        command_msg(1, &command::publish(0.0, "capg", "live")),
        audio(10),
    ];
    let (r, events, _) = feed(&mut s, client_bytes(&msgs));
    r.unwrap();
    // Media behind a pending publish is reported after the request.
    assert!(matches!(
        events[1],
        ServerEvent::PublishRequested { stream_id: 1, .. }
    ));
    assert!(matches!(
        events[2],
        ServerEvent::Media { timestamp: 10, .. }
    ));
    let mut out = BytesMut::new();
    s.reject_publish(1, command::CODE_PUBLISH_BAD_NAME, "taken", &mut out);
    // The reject status is on csid 5, msid 1, level error.
    let msgs_out = after_connect_msgs(&out);
    assert_eq!(msgs_out.len(), 1);
    assert_eq!((msgs_out[0].csid, msgs_out[0].stream_id), (5, 1));
    match RtmpMessage::decode(&msgs_out[0]).unwrap() {
        RtmpMessage::Command { values, .. } => match Command::parse(&values).unwrap() {
            Command::OnStatus { level, code, .. } => {
                assert_eq!(level, "error");
                assert_eq!(code, "NetStream.Publish.BadName");
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
    // After the reject, media is ignored and counted.
    let mut enc_msgs = audio(20);
    enc_msgs.csid = 10;
    let (r, events, _) = feed(&mut s, client_bytes(&[enc_msgs]));
    r.unwrap();
    assert!(events.is_empty());
    assert_eq!(s.ignored_media(), 1);

    // Publish again, accept, then deleteStream('capg') by name.
    let mut publish = command_msg(1, &command::publish(0.0, "capg", "live"));
    publish.csid = 11;
    let (r, events, _) = feed(&mut s, client_bytes(&[publish]));
    r.unwrap();
    assert_eq!(events.len(), 1);
    s.accept_publish(1, "capg", &mut BytesMut::new());
    assert!(s.is_publishing(1));
    let mut del = command_msg(
        0,
        &command::simple("deleteStream", 0.0, vec![Amf0Value::String("capg".into())]),
    );
    del.csid = 12;
    let (r, events, out) = feed(&mut s, client_bytes(&[del]));
    r.unwrap();
    assert_eq!(events, [ServerEvent::Unpublished { stream_id: 1 }]);
    assert!(out.is_empty(), "deleteStream gets no answer");
    assert!(!s.is_publishing(1));
}

#[test]
fn aggregate_messages_are_split_into_media_events() {
    let mut s = ServerSession::new(ServerConfig::default());
    let msgs = [
        connect_msg(),
        command_msg(0, &command::create_stream(2.0)),
        command_msg(1, &command::publish(0.0, "cap", "live")),
    ];
    let (r, events, _) = feed(&mut s, client_bytes(&msgs));
    r.unwrap();
    assert_eq!(events.len(), 2);
    s.accept_publish(1, "cap", &mut BytesMut::new());
    // Aggregate body: FLV-style tags (type, len24, ts24, ts_ext, sid24,
    // body, prev_size32), timestamps rebased on the aggregate's timestamp.
    let mut body = Vec::new();
    for (t, ts, data) in [
        (9u8, 1000u32, &b"\x17\x01video"[..]),
        (8, 1020, b"\xaf\x01aud"),
    ] {
        body.push(t);
        body.extend_from_slice(&(data.len() as u32).to_be_bytes()[1..]);
        body.extend_from_slice(&ts.to_be_bytes()[1..]);
        body.push((ts >> 24) as u8);
        body.extend_from_slice(&[0, 0, 0]);
        body.extend_from_slice(data);
        body.extend_from_slice(&(11 + data.len() as u32).to_be_bytes());
    }
    let agg = RawMessage {
        csid: 8,
        timestamp: 5000,
        type_id: message::TYPE_AGGREGATE,
        stream_id: 1,
        payload: Bytes::from(body),
    };
    let (r, events, _) = feed(&mut s, client_bytes(&[agg]));
    r.unwrap();
    let got: Vec<_> = events
        .iter()
        .map(|e| match e {
            ServerEvent::Media {
                kind,
                timestamp,
                payload,
                ..
            } => (*kind, *timestamp, payload.clone()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        got,
        [
            (MediaKind::Video, 5000, Bytes::from_static(b"\x17\x01video")),
            (MediaKind::Audio, 5020, Bytes::from_static(b"\xaf\x01aud")),
        ]
    );
}

#[test]
fn connect_answer_echoes_object_encoding_and_strips_app_query() {
    let mut s = ServerSession::new(ServerConfig::default());
    let mut values = command::connect(1.0, "live?token=abc", "rtmp://h/live", false);
    if let Amf0Value::Object(props) = &mut values[2] {
        props.push(("objectEncoding".into(), Amf0Value::Number(3.0)));
    }
    let (r, events, out) = feed(&mut s, client_bytes(&[command_msg(0, &values)]));
    r.unwrap();
    match &events[..] {
        [ServerEvent::Connected { params }] => assert_eq!(params.app, "live"),
        other => panic!("{other:?}"),
    }
    let mut tap = Tap::new();
    tap.push(&out);
    assert_eq!(tap.msgs[2].type_id, message::TYPE_SET_CHUNK_SIZE);
    let result = &tap.commands()[0];
    let info = &result[3];
    assert_eq!(
        info.get("objectEncoding").and_then(Amf0Value::as_number),
        Some(3.0)
    );
    // A second connect does not repeat the control burst.
    let mut again = command_msg(0, &command::connect(2.0, "live", "rtmp://h/live", false));
    again.csid = 9;
    let (r, events, out) = feed(&mut s, client_bytes(&[again]));
    r.unwrap();
    assert!(events.is_empty());
    let seen = tap.msgs.len();
    tap.push(&out);
    assert_eq!(tap.msgs.len(), seen + 1);
    let m = &tap.msgs[seen];
    match RtmpMessage::decode(m).unwrap() {
        RtmpMessage::Command { values, .. } => assert_eq!(values[0].as_str(), Some("_error")),
        other => panic!("{other:?}"),
    }
}

/// The server's events, the bytes it wrote and the client's events, for one
/// publish run with the given delivery pattern.
fn publish_run(
    step: Option<usize>,
    random_step: Option<usize>,
    seed: u64,
) -> (Vec<ServerEvent>, Vec<ClientEvent>, Vec<RawMessage>) {
    let mut rng = StdRng::seed_from_u64(21);
    let media = random_media(&mut rng, 25);
    let mut pair = Pair::publisher(seed);
    pair.step = step;
    pair.random_step = random_step;
    run_publish(&mut pair, &media);
    (pair.server_events, pair.client_events, pair.s2c_tap.msgs)
}

#[test]
fn byte_at_a_time_delivery_gives_the_same_events() {
    let whole = publish_run(None, None, 2);
    assert!(whole.0.len() > 25);
    let bytewise = publish_run(Some(1), None, 2);
    assert_eq!(whole, bytewise);
}

#[test]
fn random_split_delivery_gives_the_same_events() {
    let whole = publish_run(None, None, 2);
    for seed in 0..12u64 {
        let split = publish_run(None, Some(3000), 1000 + seed);
        // The handshake seed differs, the session outputs do not.
        assert!(whole.0 == split.0, "seed {seed}: server events differ");
        assert!(whole.1 == split.1, "seed {seed}: client events differ");
        assert!(whole.2 == split.2, "seed {seed}: server output differs");
    }
}

#[test]
fn amf_limits_from_the_config_apply_to_commands() {
    let cfg = ServerConfig {
        amf_limits: rtmp_edge::proto::amf0::Amf0Limits {
            max_depth: 1,
            ..Default::default()
        },
        ..ServerConfig::default()
    };
    let mut s = ServerSession::new(cfg);
    let nested = Amf0Value::Object(vec![(
        "a".into(),
        Amf0Value::Object(vec![("b".into(), Amf0Value::Object(vec![]))]),
    )]);
    let msg = command_msg(0, &command::simple("foo", 2.0, vec![nested]));
    let (r, _, _) = feed(&mut s, client_bytes(&[msg]));
    assert!(
        matches!(
            r,
            Err(SessionError::Message(MessageError::Amf0 {
                type_id: 20,
                error: amf0::Amf0Error::TooDeep { .. }
            }))
        ),
        "{r:?}"
    );
}

#[test]
fn publish_on_unallocated_stream_ids_is_capped() {
    let cfg = ServerConfig {
        max_streams: 2,
        ..ServerConfig::default()
    };
    let mut s = ServerSession::new(cfg);
    let (r, _, _) = feed(&mut s, client_bytes(&[connect_msg()]));
    r.unwrap();
    for (i, msid) in [5u32, 6, 7].into_iter().enumerate() {
        let mut m = command_msg(msid, &command::publish(0.0, "x", "live"));
        m.csid = 10 + msid;
        let (r, events, _) = feed(&mut s, client_bytes(&[m]));
        if i < 2 {
            r.unwrap();
            assert!(matches!(
                events[..],
                [ServerEvent::PublishRequested { stream_id, .. }] if stream_id == msid
            ));
        } else {
            assert_eq!(r, Err(SessionError::TooManyStreams { limit: 2 }));
        }
    }
}

#[test]
fn plain_onmetadata_is_reported_and_other_data_ignored() {
    let mut s = ServerSession::new(ServerConfig::default());
    let data = |csid, values: &[Amf0Value]| {
        let mut body = BytesMut::new();
        amf0::encode_all(values, &mut body);
        RawMessage {
            csid,
            timestamp: 40,
            type_id: message::TYPE_DATA_AMF0,
            stream_id: 1,
            payload: body.freeze(),
        }
    };
    let meta = [
        Amf0Value::String("onMetaData".into()),
        metadata_values()[0].clone(),
    ];
    let msgs = [
        connect_msg(),
        command_msg(0, &command::create_stream(2.0)),
        // Metadata before publish: ignored.
        data(4, &meta),
        command_msg(1, &command::publish(0.0, "cap", "live")),
        data(4, &meta),
        data(4, &[Amf0Value::String("onCuePoint".into())]),
    ];
    let bytes = client_bytes(&msgs);
    let (r, events, _) = feed(&mut s, bytes);
    r.unwrap();
    let metas: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            ServerEvent::Metadata {
                timestamp,
                values,
                body,
                ..
            } => Some((*timestamp, values.clone(), body.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(metas.len(), 1);
    assert_eq!(metas[0].0, 40);
    assert_eq!(metas[0].1, meta);
    assert_eq!(
        metas[0].2, msgs[4].payload,
        "plain onMetaData body shared as is"
    );
}

#[test]
fn random_bytes_after_connect_never_panic() {
    for seed in 0..300u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut bytes =
            client_bytes(&[connect_msg(), command_msg(0, &command::create_stream(2.0))]);
        let len = rng.random_range(0..2000);
        let mut junk = vec![0u8; len];
        rng.fill_bytes(&mut junk);
        // Keep some structure: a valid basic header byte now and then.
        for b in junk.iter_mut().step_by(97) {
            *b = 0x03;
        }
        bytes.extend_from_slice(&junk);
        let mut s = ServerSession::new(ServerConfig::default());
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut input = bytes.clone();
            let mut events = Vec::new();
            let mut out = BytesMut::new();
            let _ = s.handle_input(&mut input, &mut events, &mut out);
        }));
        assert!(result.is_ok(), "panic with seed {seed}");
    }
}

#[test]
fn ertmp_connect_is_answered_with_our_caps_and_the_reconnect_request_goes_on_stream_0() {
    // Deferred (hook) and immediate connects answer the same way.
    for defer_connect in [false, true] {
        let mut s = ServerSession::new(ServerConfig {
            defer_connect,
            ..ServerConfig::default()
        });
        let caps = command::EnhancedCaps::client(command::CAPS_EX_RECONNECT);
        let values = command::connect_with(1.0, "live", "rtmp://h/live", true, None, &caps);
        let (r, events, mut out) = feed(&mut s, client_bytes(&[command_msg(0, &values)]));
        r.unwrap();
        let params = match &events[..] {
            [ServerEvent::Connected { params }] | [ServerEvent::ConnectRequested { params }] => {
                params
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(params.caps, caps);
        if defer_connect {
            s.accept_connect(None, &mut out);
        }
        s.send_reconnect_request("move", Some("rtmp://other/live"), &mut out);
        let mut tap = Tap::new();
        tap.push(&out);
        let result = &tap.commands()[0];
        assert_eq!(
            command::EnhancedCaps::parse(&result[2]),
            command::EnhancedCaps::server()
        );
        let last = tap.msgs.last().unwrap();
        assert_eq!(
            (last.stream_id, last.type_id),
            (0, message::TYPE_COMMAND_AMF0)
        );
        let request = Command::parse(&tap.commands()[1]).unwrap();
        assert_eq!(
            request.code(),
            Some(command::CODE_CONNECT_RECONNECT_REQUEST)
        );
    }
    // A legacy connect gets the legacy answer, byte for byte.
    let mut s = ServerSession::new(ServerConfig::default());
    let (r, _, out) = feed(&mut s, client_bytes(&[connect_msg()]));
    r.unwrap();
    let mut tap = Tap::new();
    tap.push(&out);
    assert_eq!(tap.commands()[0], command::connect_result(1.0, 0.0));
}
