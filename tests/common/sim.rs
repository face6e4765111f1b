//! A simulated server for policy tests: the sans-IO [`Endpoint`] with a
//! clock set by hand, real client sessions (`proto::client`) on the far side
//! of each connection, bytes moved by hand. No sockets, no sleeps.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::io::IoSlice;
use std::net::SocketAddr;
use std::rc::Rc;

use bytes::{Bytes, BytesMut};
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::rtmp::media_of;
use rtmp_edge::config::Config;
use rtmp_edge::endpoint::{ConnId, Endpoint, Input, RecordEvent, Recorder, Written};
use rtmp_edge::error::CloseReason;
use rtmp_edge::proto::client::{ClientConfig, ClientEvent, ClientMode, ClientSession};
use rtmp_edge::proto::handshake::{ClientHandshake, Progress};
use rtmp_edge::proto::session::MediaKind;
use rtmp_edge::record::{RecordPlan, RecordingId};

pub const VIDEO_HEADER: &[u8] = &[0x17, 0x00, 0, 0, 0, 1, 0x64, 0x00, 0x1f, 0xff];
pub const AUDIO_HEADER: &[u8] = &[0xaf, 0x00, 0x12, 0x10];

pub fn keyframe(n: u8) -> Bytes {
    Bytes::from(vec![0x17, 0x01, 0, 0, 0, n, n, n])
}

pub fn inter(n: u8) -> Bytes {
    Bytes::from(vec![0x27, 0x01, 0, 0, 0, n, n])
}

pub fn audio(n: u8) -> Bytes {
    Bytes::from(vec![0xaf, 0x01, n, n])
}

/// What the fake recorder was asked, in order.
pub type RecLog = Rc<RefCell<Vec<String>>>;

#[derive(Default)]
pub struct FakeRecorder {
    pub log: RecLog,
    pub next: u64,
    /// What `poll_finished` answers, in order (the test pushes them).
    pub events: Rc<RefCell<VecDeque<RecordEvent>>>,
}

impl Recorder for FakeRecorder {
    fn start(&mut self, app: &str, name: &str, plan: RecordPlan) -> RecordingId {
        self.next += 1;
        let mut line = format!("start {app}/{name}");
        if plan != RecordPlan::default() {
            line += &format!(
                " plan {} {} {}",
                plan.segment_ms, plan.segment_bytes, plan.path
            );
        }
        self.log.borrow_mut().push(line);
        RecordingId(self.next)
    }
    fn poll_finished(&mut self) -> Option<RecordEvent> {
        self.events.borrow_mut().pop_front()
    }
    fn metadata(&mut self, id: RecordingId, _ts: u32, _body: Bytes) {
        self.log.borrow_mut().push(format!("meta {}", id.0));
    }
    fn frame(&mut self, id: RecordingId, type_id: u8, ts: u32, _payload: Bytes) {
        self.log
            .borrow_mut()
            .push(format!("frame {} {type_id} {ts}", id.0));
    }
    fn stop(&mut self, id: RecordingId) -> u64 {
        self.log.borrow_mut().push(format!("stop {}", id.0));
        0
    }
}

/// A client on the far side of a simulated connection.
pub struct Peer {
    pub id: ConnId,
    pub hs: Option<ClientHandshake>,
    pub session: ClientSession,
    pub inbound: BytesMut,
    pub outbound: BytesMut,
    pub events: Vec<ClientEvent>,
    /// Bytes the endpoint wrote to this peer.
    pub received: usize,
    /// Sends nothing (its output is discarded).
    pub mute: bool,
    /// Reads nothing: the endpoint's writes would block.
    pub deaf: bool,
}

impl Peer {
    pub fn media(&self) -> Vec<(MediaKind, u32, Bytes)> {
        media_of(&self.events)
    }

    pub fn status_codes(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                ClientEvent::Status { code, .. } | ClientEvent::Error { code, .. } => {
                    Some(code.clone())
                }
                _ => None,
            })
            .collect()
    }

    pub fn has(&self, want: &ClientEvent) -> bool {
        self.events.contains(want)
    }

    pub fn send(&mut self, kind: MediaKind, ts: u32, payload: &Bytes) {
        self.session
            .send_media(kind, ts, payload, &mut self.outbound)
            .expect("publishing");
    }
}

/// The endpoint, a clock, and the peers' connections.
pub struct Sim {
    pub ep: Endpoint,
    pub now: u64,
    pub next_generation: u32,
    pub next_index: u32,
    pub closed: HashMap<ConnId, CloseReason>,
    pub rng: StdRng,
    /// What the endpoint wrote to each HTTP connection (see [`Sim::accept_http`]).
    pub http: HashMap<ConnId, Vec<u8>>,
    /// HTTP connections that read nothing.
    pub http_deaf: Vec<ConnId>,
}

pub fn test_config() -> Config {
    Config {
        stats_interval_ms: 3_600_000,
        ..Config::default()
    }
}

impl Sim {
    pub fn new(config: Config) -> Sim {
        Sim::with_recorder(config, None)
    }

    pub fn with_recorder(config: Config, recorder: Option<Box<dyn Recorder>>) -> Sim {
        let config = config.validate().expect("valid test config");
        Sim {
            ep: Endpoint::new(config, StdRng::seed_from_u64(7), recorder),
            now: 1_000,
            next_generation: 1,
            next_index: 0,
            closed: HashMap::new(),
            rng: StdRng::seed_from_u64(11),
            http: HashMap::new(),
            http_deaf: Vec::new(),
        }
    }

    pub fn accept(&mut self) -> ConnId {
        self.accept_from([127, 0, 0, 1])
    }

    pub fn accept_from(&mut self, ip: [u8; 4]) -> ConnId {
        let id = ConnId {
            index: self.next_index,
            generation: self.next_generation,
        };
        self.next_index += 1;
        self.next_generation += 1;
        let peer: SocketAddr = (ip, 40_000 + id.index as u16).into();
        self.ep.handle_accept(id, peer, self.now);
        id
    }

    /// A connection from the HTTP listener, from `ip`; what the endpoint
    /// writes to it collects in `self.http[&id]`.
    pub fn accept_http(&mut self, ip: [u8; 4]) -> ConnId {
        let id = ConnId {
            index: self.next_index,
            generation: self.next_generation,
        };
        self.next_index += 1;
        self.next_generation += 1;
        let peer: SocketAddr = (ip, 40_000 + id.index as u16).into();
        self.ep.handle_accept_http(id, peer, self.now);
        self.http.insert(id, Vec::new());
        id
    }

    /// Send bytes on HTTP connection `id` and move everything that follows.
    pub fn http_send(&mut self, id: ConnId, bytes: &[u8], peers: &mut [&mut Peer]) {
        if self.ep.is_open(id) {
            let mut input = self.ep.handle_input(id, bytes, self.now);
            while input == Input::Pending {
                input = self.ep.process(id, self.now);
            }
        }
        self.pump(peers);
    }

    /// Take what HTTP connection `id` received so far.
    pub fn http_take(&mut self, id: ConnId) -> Vec<u8> {
        std::mem::take(self.http.get_mut(&id).expect("an HTTP connection"))
    }

    /// A client that will publish or play `live/<stream>` once driven.
    pub fn client(&mut self, mode: ClientMode, stream: &str) -> Peer {
        self.client_on("live", mode, stream)
    }

    /// A client of application `app`.
    pub fn client_on(&mut self, app: &str, mode: ClientMode, stream: &str) -> Peer {
        self.client_from([127, 0, 0, 1], app, mode, stream)
    }

    /// A client of application `app` (whose name may carry a query) from `ip`.
    pub fn client_from(&mut self, ip: [u8; 4], app: &str, mode: ClientMode, stream: &str) -> Peer {
        let id = self.accept_from(ip);
        let mut hs = ClientHandshake::new(0);
        let mut outbound = BytesMut::new();
        hs.start(&mut outbound, &mut self.rng);
        let tc_url = format!("rtmp://127.0.0.1/{app}");
        let cfg = ClientConfig::new(app, &tc_url, stream, mode);
        Peer {
            id,
            hs: Some(hs),
            session: ClientSession::new(cfg),
            inbound: BytesMut::new(),
            outbound,
            events: Vec::new(),
            received: 0,
            mute: false,
            deaf: false,
        }
    }

    /// Publisher or player driven until its Start (or refusal).
    pub fn started(&mut self, mode: ClientMode, stream: &str) -> Peer {
        let mut p = self.client(mode, stream);
        self.pump(&mut [&mut p]);
        p
    }

    pub fn is_open(&self, p: &Peer) -> bool {
        self.ep.is_open(p.id)
    }

    /// Move bytes both ways until nothing moves (no time passes).
    pub fn pump(&mut self, peers: &mut [&mut Peer]) {
        for _ in 0..10_000 {
            let mut moved = false;
            for p in peers.iter_mut() {
                if !p.outbound.is_empty() {
                    let bytes = p.outbound.split();
                    if !p.mute && self.ep.is_open(p.id) {
                        let mut input = self.ep.handle_input(p.id, &bytes, self.now);
                        while input == Input::Pending {
                            input = self.ep.process(p.id, self.now);
                        }
                        moved = true;
                    }
                }
            }
            moved |= self.flush(peers);
            for p in peers.iter_mut() {
                moved |= drive_client(p);
            }
            if !moved {
                return;
            }
        }
        panic!("pump did not settle");
    }

    /// Write what the endpoint lists to the peers that read; forget closed ones.
    pub fn flush(&mut self, peers: &mut [&mut Peer]) -> bool {
        let mut moved = false;
        let mut ready = Vec::new();
        self.ep.poll_flush(self.now, &mut ready);
        for id in ready {
            if self.http.contains_key(&id) {
                moved |= self.flush_http(id);
                continue;
            }
            let Some(p) = peers.iter_mut().find(|p| p.id == id) else {
                continue;
            };
            if p.deaf {
                self.ep.handle_written(id, 0, Written::Blocked);
                continue;
            }
            let outbox = self.ep.outbox_mut(id).expect("listed connections are open");
            let mut n = 0;
            while !outbox.is_empty() {
                let mut slices = [IoSlice::new(&[]); 16];
                let k = outbox.io_slices(&mut slices);
                let mut step = 0;
                for s in &slices[..k] {
                    p.inbound.extend_from_slice(s);
                    step += s.len();
                }
                outbox.advance(step);
                n += step;
            }
            p.received += n;
            moved |= n > 0;
            self.ep.handle_written(id, n, Written::Drained);
        }
        while let Some((id, reason)) = self.ep.poll_close(self.now) {
            self.closed.insert(id, reason);
            moved = true;
        }
        moved
    }

    fn flush_http(&mut self, id: ConnId) -> bool {
        if self.http_deaf.contains(&id) {
            self.ep.handle_written(id, 0, Written::Blocked);
            return false;
        }
        let sink = self.http.get_mut(&id).expect("an HTTP connection");
        let outbox = self.ep.outbox_mut(id).expect("listed connections are open");
        let mut n = 0;
        while !outbox.is_empty() {
            let mut slices = [IoSlice::new(&[]); 16];
            let k = outbox.io_slices(&mut slices);
            let mut step = 0;
            for s in &slices[..k] {
                sink.extend_from_slice(s);
                step += s.len();
            }
            outbox.advance(step);
            n += step;
        }
        self.ep.handle_written(id, n, Written::Drained);
        n > 0
    }

    /// Let `ms` pass in steps of at most 100 ms, running timers and moving bytes.
    pub fn advance(&mut self, ms: u64, peers: &mut [&mut Peer]) {
        let end = self.now + ms;
        while self.now < end {
            self.now = (self.now + 100).min(end);
            self.ep.handle_timeout(self.now);
            self.pump(peers);
        }
    }

    pub fn closed_with(&self, p: &Peer) -> Option<&CloseReason> {
        self.closed.get(&p.id)
    }
}

/// Feed the client what it received; returns whether anything happened.
pub fn drive_client(p: &mut Peer) -> bool {
    if p.inbound.is_empty() {
        return false;
    }
    let before = p.outbound.len() + p.events.len();
    if let Some(hs) = p.hs.as_mut() {
        match hs.feed(&mut p.inbound, &mut p.outbound).expect("handshake") {
            Progress::InProgress => return p.outbound.len() + p.events.len() != before,
            Progress::Done => {
                p.hs = None;
                p.session.start(&mut p.outbound);
            }
        }
    }
    p.session
        .handle_input(&mut p.inbound, &mut p.events, &mut p.outbound)
        .expect("server output decodes");
    true
}

pub fn publish_start(sim: &mut Sim, publisher: &mut Peer, players: &mut [&mut Peer]) {
    publisher.send(MediaKind::Video, 0, &Bytes::from_static(VIDEO_HEADER));
    publisher.send(MediaKind::Audio, 0, &Bytes::from_static(AUDIO_HEADER));
    publisher.send(MediaKind::Video, 0, &keyframe(0));
    let mut all: Vec<&mut Peer> = vec![publisher];
    all.extend(players.iter_mut().map(|p| &mut **p));
    sim.pump(&mut all);
}
