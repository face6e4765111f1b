//! The edge server: one thread, one `mio::Poll`, every socket in a `Slab`.
//!
//! # One loop turn (a "batch")
//!
//! 1. `poll` returns readiness events. For each: the listener sets
//!    `accept_pending`; the signal pipe starts the shutdown; a connection's
//!    token is checked against the slab (index *and* generation) and its
//!    readable edge is handled at once (read until WouldBlock or the per-turn
//!    budget, then handshake / session / relay), its writable edge sets
//!    `writable` and puts it on the dirty list.
//! 2. Connections that stopped on their read budget are read again (they get
//!    no new edge), after every other event of the batch.
//! 3. The dirty list is flushed: every connection that received output this
//!    turn is written with vectored writes until its queue is empty or the
//!    socket would block. A frame is therefore written in the same turn in
//!    which it was read from the publisher.
//! 4. Connections marked closing are deregistered and removed; publishers'
//!    viewers are told (UnpublishNotify + StreamEOF) and flushed.
//! 5. New sockets are accepted and registered with a fresh generation.
//! 6. Timers run (handshake/command/idle deadlines, pings, slow subscribers,
//!    statistics), then the next poll timeout is computed.
//!
//! Closing and accepting only at batch boundaries means that no event of a
//! batch ever reaches a recycled slab slot; the generation check guards the
//! subscriber lists, which outlive batches.

pub mod conn;
pub mod io;
pub mod token;

use std::collections::HashMap;
use std::io as stdio;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use log::{debug, info, warn};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll};
use rand::rngs::StdRng;
use rand::SeedableRng;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;
use slab::Slab;
use socket2::{SockRef, TcpKeepalive};

use crate::config::Config;
use crate::error::{CloseReason, Error, Phase};
use crate::proto::flv;
use crate::proto::handshake::Progress;
use crate::proto::message::{TYPE_AUDIO, TYPE_VIDEO};
use crate::proto::session::{MediaKind, ServerConfig, ServerEvent, ServerSession};
use crate::record::{RecorderConfig, RecorderHandle};
use crate::relay::frame::{Frame, FrameClass};
use crate::relay::queue::{Offer, QueueConfig};
use crate::relay::stream::{PublishClaim, StreamConfig, StreamTable};

use conn::{Conn, Role, State};
use io::{ReadOutcome, WriteOutcome};
use token::{ConnId, LISTENER, SIGNALS};

/// How often the timer sweep runs.
const SWEEP_INTERVAL_MS: u64 = 100;
/// How long to wait before retrying accept after EMFILE/ENFILE.
const ACCEPT_RETRY_MS: u64 = 100;
/// How long shutdown waits for queues to drain.
const SHUTDOWN_GRACE_MS: u64 = 700;
/// How long shutdown waits for the recorder to finalize its files.
const RECORDER_SHUTDOWN_MS: u64 = 900;
/// TCP keepalive: first probe after this much silence, then every
/// interval; the kernel drops the connection after the probes go unanswered.
const KEEPALIVE_IDLE_S: u64 = 60;
const KEEPALIVE_INTERVAL_S: u64 = 10;
const KEEPALIVE_PROBES: u32 = 3;
/// Bytes written to one connection per loop turn before the others get
/// their turn (a keyframe fits; a late joiner's GOP takes a few turns).
const WRITE_BUDGET: usize = 128 * 1024;
/// Largest single read (the size of the server's one read buffer).
const READ_STEP: usize = 64 * 1024;
/// Messages one connection may have handled per loop turn; the rest waits
/// for the next turn (a flood of tiny messages must not stall other streams).
const MESSAGES_PER_TURN: usize = 1024;

/// Rate limiter for warnings that can repeat during a flood: at most one
/// line per interval, with the count of suppressed ones.
#[derive(Debug, Default)]
struct WarnLimiter {
    last_ms: Option<u64>,
    suppressed: u64,
}

impl WarnLimiter {
    /// `Some(suppressed_count)` when a line may be logged now.
    fn allow(&mut self, now_ms: u64) -> Option<u64> {
        match self.last_ms {
            Some(t) if now_ms.saturating_sub(t) < 5_000 => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last_ms = Some(now_ms);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

/// The server: owns the poll, the listener, every connection and the stream table.
pub struct Server {
    poll: Poll,
    listener: Option<TcpListener>,
    local_addr: SocketAddr,
    signals: Signals,
    conns: Slab<Conn>,
    next_generation: u32,
    streams: StreamTable<ConnId>,
    config: Config,
    session_config: ServerConfig,
    queue_config: QueueConfig,
    rng: StdRng,
    start: Instant,
    /// The recorder thread's handle (with --record-all).
    recorder: Option<RecorderHandle>,
    dirty: Vec<ConnId>,
    /// Connections that stopped on their write budget: flushed again next turn.
    write_again: Vec<ConnId>,
    /// Players whose flush waits for write coalescing: (due ms, id).
    deferred: Vec<(u64, ConnId)>,
    closing: Vec<ConnId>,
    still_readable: Vec<ConnId>,
    accept_pending: bool,
    accept_retry_at: Option<u64>,
    session_events: Vec<ServerEvent>,
    scratch_out: BytesMut,
    /// Every read lands here first; only the bytes read are copied on.
    read_scratch: Vec<u8>,
    shutdown_deadline: Option<u64>,
    next_sweep_ms: u64,
    next_stats_ms: u64,
    accept_warn: WarnLimiter,
    overload_warn: WarnLimiter,
    last_stats_ms: u64,
    last_stream_bytes: HashMap<String, u64>,
}

impl Server {
    /// Bind the listener and set everything up; `run` starts serving.
    pub fn bind(config: Config) -> Result<Server, Error> {
        let config = config.validate()?;
        raise_nofile_limit(config.max_connections);
        let poll = Poll::new().map_err(Error::Poll)?;
        let mut listener = TcpListener::bind(config.listen).map_err(Error::Bind)?;
        let local_addr = listener.local_addr().map_err(Error::Bind)?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)
            .map_err(Error::Poll)?;
        let mut signals = Signals::new([SIGINT, SIGTERM]).map_err(Error::Signals)?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)
            .map_err(Error::Signals)?;
        let session_config = ServerConfig {
            out_chunk_size: config.chunk_size,
            ..ServerConfig::default()
        };
        let queue_config = QueueConfig {
            byte_budget: config.subscriber_budget_bytes,
            ..QueueConfig::default()
        };
        let streams = StreamTable::new(StreamConfig {
            chunk_size: config.chunk_size,
            gop_cache: config.gop_cache,
            gop_max_bytes: config.gop_max_bytes,
            gop_max_ms: config.gop_max_ms,
            stale_publisher_ms: config.stale_publisher_ms,
            ..StreamConfig::default()
        });
        let recorder = if config.record_all {
            let handle = RecorderHandle::spawn(RecorderConfig::new(config.record_dir.clone()))
                .map_err(Error::RecordDir)?;
            info!(
                "recording every published stream into {}",
                config.record_dir.display()
            );
            Some(handle)
        } else {
            None
        };
        info!(
            "listening on {} (chunk size {}, GOP cache {}, max connections {})",
            local_addr,
            config.chunk_size,
            if config.gop_cache { "on" } else { "off" },
            config.max_connections
        );
        Ok(Server {
            poll,
            listener: Some(listener),
            local_addr,
            signals,
            conns: Slab::with_capacity(1024),
            next_generation: 1,
            streams,
            session_config,
            queue_config,
            rng: StdRng::from_os_rng(),
            start: Instant::now(),
            recorder,
            dirty: Vec::new(),
            deferred: Vec::new(),
            write_again: Vec::new(),
            closing: Vec::new(),
            still_readable: Vec::new(),
            accept_pending: false,
            accept_retry_at: None,
            session_events: Vec::new(),
            scratch_out: BytesMut::new(),
            read_scratch: vec![0; READ_STEP],
            shutdown_deadline: None,
            next_sweep_ms: 0,
            next_stats_ms: config.stats_interval_ms,
            accept_warn: WarnLimiter::default(),
            overload_warn: WarnLimiter::default(),
            last_stats_ms: 0,
            last_stream_bytes: HashMap::new(),
            config,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// Serve until SIGINT/SIGTERM; returns after the shutdown drained.
    pub fn run(&mut self) -> Result<(), Error> {
        let mut events = Events::with_capacity(1024);
        loop {
            let timeout = self.poll_timeout();
            if let Err(e) = self.poll.poll(&mut events, Some(timeout)) {
                if e.kind() == stdio::ErrorKind::Interrupted {
                    continue;
                }
                return Err(Error::Poll(e));
            }
            let now = self.now_ms();
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept_pending = true,
                    SIGNALS => self.on_signals(now),
                    token => {
                        if let Some(id) = ConnId::from_token(token) {
                            let readable =
                                event.is_readable() || event.is_read_closed() || event.is_error();
                            self.on_conn_event(id, readable, event.is_writable(), now);
                        }
                    }
                }
            }
            self.end_of_batch(now);
            if self.shutdown_finished(now) {
                if let Some(recorder) = self.recorder.take() {
                    recorder.shutdown(Duration::from_millis(RECORDER_SHUTDOWN_MS));
                }
                info!("shutdown complete");
                return Ok(());
            }
        }
    }

    fn poll_timeout(&self) -> Duration {
        if !self.still_readable.is_empty() || !self.write_again.is_empty() {
            return Duration::ZERO;
        }
        let now = self.now_ms();
        let mut next = self.next_sweep_ms;
        if let Some(t) = self.accept_retry_at {
            next = next.min(t);
        }
        if let Some(t) = self.shutdown_deadline {
            next = next.min(t);
        }
        if let Some(t) = self.deferred.iter().map(|d| d.0).min() {
            next = next.min(t);
        }
        Duration::from_millis(next.saturating_sub(now))
    }

    fn lookup(&mut self, id: ConnId) -> Option<&mut Conn> {
        self.conns.get_mut(id.index as usize).filter(|c| c.id == id)
    }

    fn on_conn_event(&mut self, id: ConnId, readable: bool, writable: bool, now: u64) {
        let Some(conn) = self.lookup(id) else {
            return; // stale or unknown token
        };
        if conn.closing.is_some() {
            return;
        }
        if writable {
            conn.writable = true;
            self.mark_dirty(id);
        }
        if readable {
            // Remember the edge: it is not repeated, and the read may have
            // to wait until earlier input is processed.
            if let Some(conn) = self.lookup(id) {
                conn.readable = true;
            }
            self.on_readable(id, now);
        }
    }

    /// Serve this connection again after the batch (read budget or message
    /// limit reached): it gets no new edge for what is already there.
    fn push_still_readable(&mut self, id: ConnId) {
        if let Some(conn) = self.lookup(id) {
            if !conn.in_still_readable {
                conn.in_still_readable = true;
                self.still_readable.push(id);
            }
        }
    }

    fn mark_dirty(&mut self, id: ConnId) {
        if let Some(conn) = self.lookup(id) {
            if !conn.in_dirty {
                conn.in_dirty = true;
                self.dirty.push(id);
            }
        }
    }

    fn close(&mut self, id: ConnId, reason: CloseReason) {
        if let Some(conn) = self.lookup(id) {
            if conn.closing.is_none() {
                conn.closing = Some(reason);
                self.closing.push(id);
            }
        }
    }

    /// Read what the socket has (within the per-turn budget) and process it.
    fn on_readable(&mut self, id: ConnId, now: u64) {
        let budget = self.config.read_budget_bytes;
        let Some(conn) = self.lookup(id) else { return };
        if conn.pending_input {
            // Finish what was read before reading more.
            self.process_input(id, now);
            if self
                .lookup(id)
                .is_some_and(|c| c.pending_input || c.readable)
            {
                self.push_still_readable(id);
            }
            return;
        }
        let Server {
            conns,
            read_scratch,
            ..
        } = self;
        let Some(conn) = conns.get_mut(id.index as usize).filter(|c| c.id == id) else {
            return;
        };
        let (n, outcome) = io::read_some(&mut conn.socket, &mut conn.inbound, budget, read_scratch);
        conn.readable = outcome == ReadOutcome::Budget;
        if n > 0 {
            conn.stats.bytes_in += n as u64;
            conn.last_recv_ms = now;
            self.process_input(id, now);
        }
        match outcome {
            ReadOutcome::Budget => self.push_still_readable(id),
            ReadOutcome::WouldBlock => {
                if self.lookup(id).is_some_and(|c| c.pending_input) {
                    self.push_still_readable(id);
                }
            }
            // Input still pending is dropped with the connection.
            ReadOutcome::Closed => self.close(id, CloseReason::PeerClosed),
            ReadOutcome::Error(kind) => self.close(id, CloseReason::Io(kind)),
        }
        // Players send little: give back a large idle read buffer.
        if let Some(conn) = self.lookup(id) {
            if conn.inbound.is_empty()
                && !conn.is_publisher()
                && conn.inbound.capacity() > 16 * 1024
            {
                conn.inbound = BytesMut::new();
            }
        }
    }

    /// Step the handshake and the session over the connection's inbound bytes.
    fn process_input(&mut self, id: ConnId, now: u64) {
        let mut events = std::mem::take(&mut self.session_events);
        let mut out = std::mem::take(&mut self.scratch_out);
        let result = {
            let Server {
                conns,
                rng,
                session_config,
                ..
            } = self;
            let Some(conn) = conns.get_mut(id.index as usize).filter(|c| c.id == id) else {
                self.session_events = events;
                self.scratch_out = out;
                return;
            };
            let mut result = Ok(());
            if let State::Handshake(hs) = &mut conn.state {
                match hs.feed(&mut conn.inbound, &mut out, rng) {
                    Ok(Progress::InProgress) => {}
                    Ok(Progress::Done) => {
                        debug!("{} {} handshake done", id, conn.peer);
                        conn.state =
                            State::Active(Box::new(ServerSession::new(session_config.clone())));
                    }
                    Err(e) => result = Err(CloseReason::Handshake(e)),
                }
            }
            conn.pending_input = false;
            if result.is_ok() {
                if let State::Active(session) = &mut conn.state {
                    if !conn.inbound.is_empty() {
                        match session.handle_input_limited(
                            &mut conn.inbound,
                            &mut events,
                            &mut out,
                            MESSAGES_PER_TURN,
                        ) {
                            Ok(more) => conn.pending_input = more && !conn.inbound.is_empty(),
                            Err(e) => result = Err(CloseReason::Protocol(e)),
                        }
                    }
                }
            }
            result
        };
        self.push_control(id, &mut out, now);
        for event in events.drain(..) {
            self.on_session_event(id, event, now);
        }
        self.session_events = events;
        self.scratch_out = out;
        if let Err(reason) = result {
            self.close(id, reason);
        }
    }

    /// Queue session output (already chunked) on the connection, in order with its media.
    fn push_control(&mut self, id: ConnId, out: &mut BytesMut, now: u64) {
        if out.is_empty() {
            return;
        }
        let frame = Frame::control(out.split().freeze());
        let Some(conn) = self.lookup(id) else { return };
        conn.urgent = true;
        if conn.out.offer(frame, now) == Offer::Overflow {
            self.close(id, CloseReason::SlowSubscriber);
            return;
        }
        self.mark_dirty(id);
    }

    /// Run a session method that writes output for connection `id`, then queue that output.
    fn with_session<F>(&mut self, id: ConnId, now: u64, f: F)
    where
        F: FnOnce(&mut ServerSession, &mut BytesMut),
    {
        let mut out = std::mem::take(&mut self.scratch_out);
        if let Some(conn) = self.lookup(id) {
            if let State::Active(session) = &mut conn.state {
                f(session, &mut out);
            }
        }
        self.push_control(id, &mut out, now);
        self.scratch_out = out;
    }

    fn peer(&self, id: ConnId) -> String {
        self.conns
            .get(id.index as usize)
            .filter(|c| c.id == id)
            .map(|c| c.peer.to_string())
            .unwrap_or_default()
    }

    fn on_session_event(&mut self, id: ConnId, event: ServerEvent, now: u64) {
        match event {
            ServerEvent::Connected { params } => {
                debug!(
                    "{} {} connect app={:?} tcUrl={:?}",
                    id,
                    self.peer(id),
                    params.app,
                    params.tc_url
                );
                if let Some(conn) = self.lookup(id) {
                    conn.app = Some(params.app);
                }
            }
            ServerEvent::PublishRequested {
                stream_id,
                app,
                name,
                ..
            } => {
                self.on_publish(id, stream_id, &app, &name.name, now);
            }
            ServerEvent::PlayRequested {
                stream_id,
                app,
                name,
                ..
            } => {
                self.on_play(id, stream_id, &app, &name.name, now);
            }
            ServerEvent::Media {
                kind,
                stream_id,
                timestamp,
                payload,
            } => {
                let type_id = match kind {
                    MediaKind::Audio => TYPE_AUDIO,
                    MediaKind::Video => TYPE_VIDEO,
                };
                self.on_media(id, stream_id, Some(type_id), timestamp, payload, now);
            }
            ServerEvent::Metadata {
                stream_id,
                body,
                timestamp,
                ..
            } => {
                self.on_media(id, stream_id, None, timestamp, body, now);
            }
            ServerEvent::Unpublished { stream_id } | ServerEvent::PlayStopped { stream_id } => {
                let matches = self.lookup(id).is_some_and(|c| match &c.role {
                    Role::Publisher { stream_id: s, .. } | Role::Player { stream_id: s, .. } => {
                        *s == stream_id
                    }
                    Role::Idle => false,
                });
                if matches {
                    self.end_role(id, now);
                }
            }
            ServerEvent::Pause { pause, .. } => {
                debug!("{} {} pause={}", id, self.peer(id), pause);
            }
            ServerEvent::PingResponse { .. } => {
                if let Some(conn) = self.lookup(id) {
                    conn.ping_sent_ms = None;
                }
            }
        }
    }

    fn on_publish(&mut self, id: ConnId, stream_id: u32, app: &str, name: &str, now: u64) {
        let key: Rc<str> = Rc::from(format!("{app}/{name}"));
        let peer = self.peer(id);
        let Some(conn) = self.lookup(id) else { return };
        if conn.role != Role::Idle {
            info!("{id} {peer} publish {key} refused: connection already has a role");
            self.with_session(id, now, |s, out| {
                s.reject_publish(
                    stream_id,
                    "NetStream.Publish.BadName",
                    "already publishing or playing",
                    out,
                )
            });
            return;
        }
        match self.streams.claim_publisher(&key, id, now) {
            PublishClaim::Busy { current } => {
                info!("{id} {peer} publish {key} refused: {current} is publishing it");
                self.with_session(id, now, |s, out| {
                    s.reject_publish(
                        stream_id,
                        "NetStream.Publish.BadName",
                        "stream already publishing",
                        out,
                    )
                });
                if let Some(conn) = self.lookup(id) {
                    conn.close_after_flush = Some(CloseReason::DuplicatePublisher);
                }
                return;
            }
            PublishClaim::TakeOver { old } => {
                info!("{id} {peer} publish {key}: taking over from silent publisher {old}");
                if let Some(old_conn) = self.lookup(old) {
                    old_conn.role = Role::Idle;
                }
                self.close(old, CloseReason::TakenOver);
            }
            PublishClaim::Granted => {}
        }
        let recording = self
            .recorder
            .as_mut()
            .map(|r| r.start(app, name, SystemTime::now()));
        if let Some(conn) = self.lookup(id) {
            conn.had_role = true;
            conn.role = Role::Publisher {
                key: key.clone(),
                stream_id,
            };
            conn.last_media_ms = now;
            conn.recording = recording;
        }
        match recording {
            Some(rec) => info!("{id} {peer} publish start {key} (recording {rec})"),
            None => info!("{id} {peer} publish start {key}"),
        }
        self.with_session(id, now, |s, out| s.accept_publish(stream_id, name, out));
        let waiting: Vec<ConnId> = self.streams.viewers(&key).to_vec();
        for viewer in waiting {
            let sid = self
                .lookup(viewer)
                .and_then(|c| c.play_stream_id())
                .unwrap_or(1);
            self.with_session(viewer, now, |s, out| s.notify_publish(sid, name, out));
        }
    }

    fn on_play(&mut self, id: ConnId, stream_id: u32, app: &str, name: &str, now: u64) {
        let key: Rc<str> = Rc::from(format!("{app}/{name}"));
        let peer = self.peer(id);
        let Some(conn) = self.lookup(id) else { return };
        if conn.role != Role::Idle {
            info!("{id} {peer} play {key} ignored: connection already has a role");
            return;
        }
        conn.had_role = true;
        conn.role = Role::Player {
            key: key.clone(),
            stream_id,
        };
        self.with_session(id, now, |s, out| s.accept_play(stream_id, name, out));
        match self.streams.add_viewer(&key, id) {
            Some(frames) => {
                info!(
                    "{id} {peer} play start {key} ({} start frames)",
                    frames.len()
                );
                let chunk_size = self.config.chunk_size;
                let frames: Vec<Frame> = if stream_id == 1 {
                    frames
                } else {
                    frames
                        .iter()
                        .map(|f| {
                            let mut copy = f.clone();
                            if f.type_id != 0 {
                                copy.wire = f.rechunk(stream_id, chunk_size);
                            }
                            copy
                        })
                        .collect()
                };
                let Some(conn) = self.lookup(id) else { return };
                conn.urgent = true;
                if conn.out.offer_start(&frames, now) == Offer::Overflow {
                    self.close(id, CloseReason::SlowSubscriber);
                    return;
                }
                self.mark_dirty(id);
            }
            None => info!("{id} {peer} play start {key} (waiting for a publisher)"),
        }
    }

    /// Relay a publisher's media (`type_id` Some) or metadata (None).
    fn on_media(
        &mut self,
        id: ConnId,
        stream_id: u32,
        type_id: Option<u8>,
        timestamp: u32,
        payload: Bytes,
        now: u64,
    ) {
        let (key, recording) = match self.lookup(id) {
            Some(conn) => match &conn.role {
                Role::Publisher {
                    key,
                    stream_id: sid,
                } if *sid == stream_id => {
                    conn.last_media_ms = now;
                    conn.stats.media_in += 1;
                    (key.clone(), conn.recording)
                }
                _ => return,
            },
            None => return,
        };
        let Server {
            streams,
            conns,
            dirty,
            closing,
            config,
            overload_warn,
            recorder,
            ..
        } = self;
        let relayed = match type_id {
            Some(t) => streams.on_media(&key, id, t, timestamp, payload, now),
            None => streams.on_metadata(&key, id, payload, now),
        };
        let Some((frame, viewers)) = relayed else {
            return;
        };
        if frame.class == FrameClass::SequenceHeader {
            log_codec(id, &key, &frame);
        }
        if let (Some(recorder), Some(rec)) = (recorder.as_mut(), recording) {
            match type_id {
                Some(_) => {
                    recorder.frame(rec, frame.type_id, frame.timestamp, frame.payload.clone())
                }
                None => recorder.metadata(rec, frame.timestamp, frame.payload.clone()),
            }
        }
        for &viewer in viewers {
            let Some(conn) = conns
                .get_mut(viewer.index as usize)
                .filter(|c| c.id == viewer)
            else {
                continue;
            };
            if conn.closing.is_some() {
                continue;
            }
            match conn.offer_frame(&frame, config.chunk_size, now) {
                Offer::Queued | Offer::Dropped => {}
                Offer::Overflow => {
                    if let Some(suppressed) = overload_warn.allow(now) {
                        warn!(
                            "{} {} closing slow subscriber on {} ({} similar suppressed)",
                            viewer, conn.peer, key, suppressed
                        );
                    }
                    conn.closing = Some(CloseReason::SlowSubscriber);
                    closing.push(viewer);
                    continue;
                }
            }
            if !conn.in_dirty {
                conn.in_dirty = true;
                dirty.push(viewer);
            }
        }
    }

    /// The connection stops publishing or playing (unpublish, stop, close).
    fn end_role(&mut self, id: ConnId, now: u64) {
        let peer = self.peer(id);
        let Some(conn) = self.lookup(id) else { return };
        let role = std::mem::replace(&mut conn.role, Role::Idle);
        match role {
            Role::Publisher { key, .. } => {
                let recording = self.lookup(id).and_then(|c| c.recording.take());
                match (self.recorder.as_mut(), recording) {
                    (Some(recorder), Some(rec)) => {
                        recorder.stop(rec);
                        info!(
                            "{id} {peer} publish stop {key} (recording {rec} finalizing, {} frames dropped)",
                            recorder.dropped(rec)
                        );
                    }
                    _ => info!("{id} {peer} publish stop {key}"),
                }
                let viewers = self.streams.release_publisher(&key, id);
                let name = key
                    .split_once('/')
                    .map(|(_, n)| n)
                    .unwrap_or(&key)
                    .to_string();
                for viewer in viewers {
                    let sid = self
                        .lookup(viewer)
                        .and_then(|c| c.play_stream_id())
                        .unwrap_or(1);
                    self.with_session(viewer, now, |s, out| s.notify_unpublish(sid, &name, out));
                }
            }
            Role::Player { key, .. } => {
                info!("{id} {peer} play stop {key}");
                self.streams.remove_viewer(&key, id);
            }
            Role::Idle => {}
        }
    }

    fn end_of_batch(&mut self, now: u64) {
        // Connections that stopped on their read budget get another turn.
        let again = std::mem::take(&mut self.still_readable);
        for &id in &again {
            if let Some(conn) = self.lookup(id) {
                conn.in_still_readable = false;
            }
        }
        for id in again {
            if self
                .lookup(id)
                .is_some_and(|c| c.closing.is_none() && (c.readable || c.pending_input))
            {
                self.on_readable(id, now);
            }
        }
        self.release_deferred(now);
        for id in std::mem::take(&mut self.write_again) {
            self.mark_dirty(id);
        }
        self.flush_dirty(now);
        if !self.closing.is_empty() {
            self.remove_closing(now);
            self.flush_dirty(now);
        }
        if self.accept_pending || self.accept_retry_at.is_some_and(|t| t <= now) {
            self.accept_ready(now);
        }
        if now >= self.next_sweep_ms {
            self.next_sweep_ms = now + SWEEP_INTERVAL_MS;
            if let Some(recorder) = self.recorder.as_mut() {
                recorder.poll();
            }
            self.sweep_timers(now);
            if !self.closing.is_empty() {
                self.flush_dirty(now);
                self.remove_closing(now);
                self.flush_dirty(now);
            }
        }
        if now >= self.next_stats_ms {
            self.next_stats_ms = now + self.config.stats_interval_ms;
            self.log_stats(now);
        }
    }

    /// Write every connection that received output this turn. With
    /// `write_coalesce_ms` > 0 a player's media may wait until its oldest
    /// queued frame is that old, so several frames go out in one write;
    /// control output and a new player's first frames (`urgent`) never wait.
    fn flush_dirty(&mut self, now: u64) {
        let coalesce = self.config.write_coalesce_ms;
        let dirty = std::mem::take(&mut self.dirty);
        for &id in &dirty {
            let Some(conn) = self.lookup(id) else {
                continue;
            };
            conn.in_dirty = false;
            if conn.closing.is_some() || !conn.writable {
                continue;
            }
            if coalesce > 0 && !conn.urgent && conn.play_stream_id().is_some() {
                if let Some(oldest) = conn.out.oldest_enqueued_ms() {
                    let due = oldest + coalesce;
                    if now < due {
                        if !conn.deferred {
                            conn.deferred = true;
                            self.deferred.push((due, id));
                        }
                        continue;
                    }
                }
            }
            let (n, outcome) = io::write_queue(&mut conn.socket, &mut conn.out, WRITE_BUDGET);
            conn.stats.bytes_out += n as u64;
            match outcome {
                WriteOutcome::Budget => self.write_again.push(id),
                WriteOutcome::Drained => {
                    conn.urgent = false;
                    if let Some(reason) = conn.close_after_flush.take() {
                        self.close(id, reason);
                    }
                }
                WriteOutcome::WouldBlock => conn.writable = false,
                WriteOutcome::Error(kind) => self.close(id, CloseReason::Io(kind)),
            }
        }
        // Reuse the allocation when nothing was added meanwhile.
        if self.dirty.is_empty() {
            let mut dirty = dirty;
            dirty.clear();
            self.dirty = dirty;
        }
    }

    /// Move deferred (coalescing) connections whose time has come back to the dirty list.
    fn release_deferred(&mut self, now: u64) {
        if self.deferred.is_empty() {
            return;
        }
        let mut deferred = std::mem::take(&mut self.deferred);
        deferred.retain(|&(due, id)| {
            if due > now {
                return true;
            }
            if let Some(conn) = self.conns.get_mut(id.index as usize).filter(|c| c.id == id) {
                conn.deferred = false;
                if !conn.in_dirty {
                    conn.in_dirty = true;
                    self.dirty.push(id);
                }
            }
            false
        });
        self.deferred = deferred;
    }

    fn remove_closing(&mut self, now: u64) {
        let closing = std::mem::take(&mut self.closing);
        for id in closing {
            self.end_role(id, now);
            if self.lookup(id).is_none() {
                continue;
            }
            let mut conn = self.conns.remove(id.index as usize);
            if let Err(e) = self.poll.registry().deregister(&mut conn.socket) {
                debug!("{} {} deregister: {}", id, conn.peer, e);
            }
            let reason = conn.closing.take().unwrap_or(CloseReason::PeerClosed);
            info!(
                "{} {} closed: {} (in {} B, out {} B, dropped {} frames, slow path {})",
                id,
                conn.peer,
                reason,
                conn.stats.bytes_in,
                conn.stats.bytes_out,
                conn.out.dropped_frames(),
                conn.stats.slow_path_frames
            );
        }
    }

    fn accept_ready(&mut self, now: u64) {
        self.accept_pending = false;
        self.accept_retry_at = None;
        let Some(listener) = self.listener.as_ref() else {
            return;
        };
        let mut accepted = Vec::new();
        loop {
            match listener.accept() {
                Ok(pair) => accepted.push(pair),
                Err(e) if e.kind() == stdio::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == stdio::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == stdio::ErrorKind::ConnectionAborted => continue,
                Err(e) => {
                    // EMFILE/ENFILE and friends: no new edge will come, retry on a timer.
                    if let Some(suppressed) = self.accept_warn.allow(now) {
                        warn!("accept failed: {e}; retrying in {ACCEPT_RETRY_MS} ms ({suppressed} similar suppressed)");
                    }
                    self.accept_retry_at = Some(now + ACCEPT_RETRY_MS);
                    break;
                }
            }
        }
        for (socket, peer) in accepted {
            if self.conns.len() >= self.config.max_connections {
                if let Some(suppressed) = self.accept_warn.allow(now) {
                    warn!(
                        "refusing {peer}: max-connections {} reached ({} similar suppressed)",
                        self.config.max_connections, suppressed
                    );
                }
                drop(socket);
                continue;
            }
            self.insert_conn(socket, peer, now);
        }
    }

    fn insert_conn(&mut self, mut socket: TcpStream, peer: SocketAddr, now: u64) {
        if let Err(e) = socket.set_nodelay(true) {
            debug!("{peer}: set_nodelay: {e}");
        }
        // A peer that vanished without a FIN (power loss, NAT timeout) is
        // found by the kernel even while we have nothing to send it.
        let keepalive = TcpKeepalive::new()
            .with_time(Duration::from_secs(KEEPALIVE_IDLE_S))
            .with_interval(Duration::from_secs(KEEPALIVE_INTERVAL_S))
            .with_retries(KEEPALIVE_PROBES);
        if let Err(e) = SockRef::from(&socket).set_tcp_keepalive(&keepalive) {
            debug!("{peer}: TCP keepalive: {e}");
        }
        let generation = self.next_generation;
        self.next_generation = self.next_generation.wrapping_add(1).max(1);
        let entry = self.conns.vacant_entry();
        let id = ConnId {
            index: entry.key() as u32,
            generation,
        };
        if let Err(e) = self.poll.registry().register(
            &mut socket,
            id.token(),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            warn!("{id} {peer}: register failed: {e}");
            return;
        }
        info!("{id} {peer} accepted");
        entry.insert(Conn::new(id, socket, peer, self.queue_config.clone(), now));
    }

    fn sweep_timers(&mut self, now: u64) {
        let cfg = &self.config;
        let mut expired: Vec<(ConnId, CloseReason)> = Vec::new();
        let mut pings: Vec<ConnId> = Vec::new();
        for (_, conn) in self.conns.iter_mut() {
            if conn.closing.is_some() {
                continue;
            }
            let age = now.saturating_sub(conn.accepted_ms);
            let reason = match (&conn.state, &conn.role) {
                (State::Handshake(_), _) if age > cfg.handshake_timeout_ms => {
                    Some(Phase::Handshake)
                }
                (State::Active(_), Role::Idle)
                    if age > cfg.command_timeout_ms && !conn.had_role =>
                {
                    Some(Phase::Commands)
                }
                (_, Role::Publisher { .. })
                    if now.saturating_sub(conn.last_media_ms) > cfg.publisher_timeout_ms =>
                {
                    Some(Phase::PublisherIdle)
                }
                _ => None,
            };
            if let Some(phase) = reason {
                expired.push((conn.id, CloseReason::Timeout(phase)));
                continue;
            }
            if let Some(since) = conn.out.congested_since() {
                if now.saturating_sub(since) > cfg.slow_subscriber_timeout_ms {
                    expired.push((conn.id, CloseReason::SlowSubscriber));
                    continue;
                }
            }
            if matches!(conn.state, State::Active(_)) {
                let silent = now.saturating_sub(conn.last_recv_ms);
                match conn.ping_sent_ms {
                    Some(sent) if sent < conn.last_recv_ms => conn.ping_sent_ms = None,
                    Some(_) if silent > 3 * cfg.ping_interval_ms => {
                        expired.push((conn.id, CloseReason::Timeout(Phase::Ping)));
                    }
                    None if silent > cfg.ping_interval_ms => {
                        conn.ping_sent_ms = Some(now);
                        pings.push(conn.id);
                    }
                    _ => {}
                }
            }
        }
        for (id, reason) in expired {
            self.close(id, reason);
        }
        for id in pings {
            self.with_session(id, now, |s, out| s.send_ping(now as u32, out));
        }
    }

    fn log_stats(&mut self, now: u64) {
        let elapsed_ms = now.saturating_sub(self.last_stats_ms).max(1);
        self.last_stats_ms = now;
        let mut seen = HashMap::with_capacity(self.streams.len());
        for (key, st) in self.streams.stats() {
            let prev = self.last_stream_bytes.get(key).copied().unwrap_or(0);
            let kbps = st.bytes_in.saturating_sub(prev) * 8 / elapsed_ms;
            let dropped: u64 = self
                .streams
                .viewers(key)
                .iter()
                .filter_map(|v| self.conns.get(v.index as usize).filter(|c| c.id == *v))
                .map(|c| c.out.dropped_frames())
                .sum();
            info!(
                "stream {key}: {} kbit/s in, {} viewers, {} frames dropped, {} frames in, GOP {} frames/{} B",
                kbps,
                st.viewers,
                dropped,
                st.frames_in,
                st.gop_frames,
                st.gop_bytes
            );
            seen.insert(key.to_string(), st.bytes_in);
        }
        self.last_stream_bytes = seen;
    }

    fn on_signals(&mut self, now: u64) {
        let mut stop = false;
        for signal in self.signals.pending() {
            info!("received signal {signal}: shutting down");
            stop = true;
        }
        if stop && self.shutdown_deadline.is_none() {
            self.begin_shutdown(now);
        }
    }

    /// Stop accepting, tell everyone, and give the queues a short grace period.
    pub fn begin_shutdown(&mut self, now: u64) {
        self.shutdown_deadline = Some(now + SHUTDOWN_GRACE_MS);
        if let Some(mut listener) = self.listener.take() {
            let _ = self.poll.registry().deregister(&mut listener);
        }
        let ids: Vec<ConnId> = self.conns.iter().map(|(_, c)| c.id).collect();
        for id in ids {
            let Some(conn) = self.lookup(id) else {
                continue;
            };
            match conn.role.clone() {
                Role::Player { key, stream_id } => {
                    let name = key
                        .split_once('/')
                        .map(|(_, n)| n)
                        .unwrap_or(&key)
                        .to_string();
                    self.with_session(id, now, |s, out| s.notify_unpublish(stream_id, &name, out));
                    if let Some(conn) = self.lookup(id) {
                        conn.close_after_flush = Some(CloseReason::Shutdown);
                    }
                    if self.lookup(id).is_some_and(|c| c.out.is_empty()) {
                        self.close(id, CloseReason::Shutdown);
                    }
                }
                _ => self.close(id, CloseReason::Shutdown),
            }
        }
    }

    fn shutdown_finished(&mut self, now: u64) -> bool {
        let Some(deadline) = self.shutdown_deadline else {
            return false;
        };
        if now >= deadline {
            let ids: Vec<ConnId> = self.conns.iter().map(|(_, c)| c.id).collect();
            for id in ids {
                self.close(id, CloseReason::Shutdown);
            }
            self.remove_closing(now);
        }
        self.conns.is_empty()
    }
}

/// One info line when a publisher's sequence header names its codec.
fn log_codec(id: ConnId, key: &str, frame: &Frame) {
    let payload = &frame.payload[..];
    if frame.is_video() {
        let Some(info) = flv::classify_video(payload) else {
            return;
        };
        let name = flv::codec_name(info.codec);
        match flv::avc_config_summary(payload) {
            Some((profile, level)) => info!(
                "{id} stream {key}: video {name} {} level {}.{}",
                avc_profile_name(profile),
                level / 10,
                level % 10
            ),
            None => info!("{id} stream {key}: video {name}"),
        }
    } else if frame.is_audio() {
        let Some(codec) = flv::audio_codec(payload) else {
            return;
        };
        let name = flv::codec_name(codec);
        match flv::aac_config_summary(payload) {
            Some((object_type, rate, channels)) => info!(
                "{id} stream {key}: audio {name} object type {object_type}, {rate} Hz, {channels} ch"
            ),
            None => info!("{id} stream {key}: audio {name}"),
        }
    }
}

fn avc_profile_name(profile: u8) -> &'static str {
    match profile {
        66 => "Baseline",
        77 => "Main",
        88 => "Extended",
        100 => "High",
        110 => "High 10",
        122 => "High 4:2:2",
        244 => "High 4:4:4",
        _ => "profile ?",
    }
}

/// Raise the soft open-files limit toward what `max_connections` needs.
fn raise_nofile_limit(max_connections: usize) {
    let want = (max_connections as u64).saturating_add(64);
    match rlimit::increase_nofile_limit(want) {
        Ok(got) if got < want => warn!(
            "open-files limit is {got}, below the {want} that max-connections {max_connections} needs"
        ),
        Ok(_) => {}
        Err(e) => warn!("cannot raise the open-files limit: {e}"),
    }
}
