//! The sans-IO endpoint: every policy decision of the server, with no socket,
//! no clock and no RNG of its own (the quinn-proto `Endpoint` pattern).
//!
//! It owns the stream table, each connection's protocol state, role and
//! pending output, the publish/play rules (stream-key formation, admission,
//! duplicate and stale-publisher take-over, notifications), every deadline
//! and the pings. The driver (`crate::server`) owns the sockets, reads the
//! clock once per turn and passes `now` (milliseconds since it started) into
//! every call.
//!
//! # Driving order (one loop turn)
//!
//! 1. [`Endpoint::handle_accept`] for a new connection (the driver chose its
//!    [`ConnId`]).
//! 2. For readable input: [`Endpoint::receive`] the bytes read, then
//!    [`Endpoint::process`] them (or [`Endpoint::handle_input`], both at
//!    once). [`Input::Pending`] means the per-turn message limit stopped it:
//!    read no more from that socket now and call `process` again next turn.
//!    On end of input, [`Endpoint::handle_eof`] (what arrived is processed in
//!    full, then the connection closes); on a transport error,
//!    [`Endpoint::close`]. A writable edge is [`Endpoint::mark_writable`].
//! 3. [`Endpoint::handle_timeout`] (cheap when nothing is due).
//! 4. [`Endpoint::poll_flush`] lists the connections whose output should be
//!    written now; the driver writes from [`Endpoint::outbox_mut`] and reports
//!    with [`Endpoint::handle_written`].
//! 5. [`Endpoint::poll_close`] until `None`: each returned id is forgotten by
//!    the endpoint (its role ended, viewers told, one `closed:` log line);
//!    the driver drops the socket. Then flush again (viewers were told).
//! 6. Sleep until [`Endpoint::poll_timeout`] or the next readiness event.
//!
//! # Copies on the way in
//!
//! The driver reads into one server-wide buffer (a zeroed `[u8]`: safe
//! Rust cannot hand a `BytesMut`'s uninitialised spare room to `read`), and
//! [`Endpoint::receive`] decodes an RTMP session's bytes right there when
//! nothing of the connection waits in `inbound` (the usual case: a
//! publisher's read ends on a message boundary). So a message is copied
//! once in user space, from the read buffer into a buffer of its own:
//! - a single-chunk message: copied out whole, so that a cached frame never
//!   pins the read buffer (64 KiB for a 300-byte audio frame) and the read
//!   buffer is reused for the next read;
//! - a message in several chunks: each chunk's body is appended to the
//!   message's reassembly buffer (chunk headers sit between the bodies, so
//!   the payload is never contiguous in the input).
//!
//! From then on the payload is shared (`Bytes`): the GOP cache, every
//! viewer's queue, HTTP-FLV and the recorder hold the same buffer. What a
//! read leaves undecoded (a chunk cut by the read, or input past
//! [`MESSAGES_PER_TURN`]) is appended to `inbound`, and later reads are
//! appended behind it until it is empty again: that path is a second copy.
//! Outgoing relay sessions (a pull's upstream, a push target) are decoded
//! in place the same way once their handshake is done, so a pulled stream
//! is copied once too. The handshake and HTTP requests always go through
//! `inbound`.
//!
//! Connections are only forgotten in `poll_close`, so an id the driver holds
//! stays valid through a batch; a stale id (old generation) is ignored by
//! every call.
//!
//! Operator requests that are not I/O go through calls too: e.g.
//! [`Endpoint::request_reconnect`] (the driver's SIGUSR1; the API's
//! `POST /api/v1/reconnect`) queues E-RTMP reconnect requests to the
//! publishers that announced `capsEx` Reconnect (see `reconnect`), and
//! [`Endpoint::reload`] (the driver's SIGHUP) swaps the configuration for
//! new sessions (see `reload`).

mod access;
mod conn;
mod exec;
mod hooks;
mod http;
mod id;
mod input;
mod outbox;
mod policy;
mod push;
mod reconnect;
mod recorder;
mod relay;
mod reload;
mod snapshot;
mod timers;
mod upstream;

use core::net::SocketAddr;

use bytes::BytesMut;
use log::{info, warn};
use rand::rngs::StdRng;

use crate::config::{AppMap, Config};
use crate::error::CloseReason;
use crate::proto::handshake::Progress;
use crate::proto::session::{ServerConfig, ServerEvent, ServerSession};
use crate::relay::queue::QueueConfig;
use crate::relay::stream::{StreamConfig, StreamTable};

pub use access::{redact_query, Refusal};
pub use conn::{ConnStats, Lifecycle, Role};
pub use exec::ExecStats;
pub use http::{StaticFiles, REJECT_REASONS};
pub use id::ConnId;
pub use outbox::{Outbox, Pushed, CONTROL_BUDGET};
pub use reconnect::{ReconnectScope, ReconnectSummary, RECONNECT_DESCRIPTION};
pub use recorder::{RecordEvent, Recorder};
pub use relay::{ConnectJob, RelayClient};
pub use reload::ReloadReport;
pub use timers::WarnLimiter;

use conn::{Conn, Protocol};
use outbox::Pushed as P;
use timers::Timers;

/// Messages one connection may have handled per loop turn; the rest waits
/// for the next turn (a flood of tiny messages must not stall other streams).
pub const MESSAGES_PER_TURN: usize = 1024;

/// What [`Endpoint::process`] left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// Everything complete was handled; read more when the socket has it.
    Done,
    /// Stopped at the per-turn message limit: call `process` next turn before reading more.
    Pending,
    /// The connection is closing (or unknown): stop reading it.
    Closed,
}

/// How a write attempt ended, as the driver reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// The outbox is empty.
    Drained,
    /// The driver's per-turn write budget ran out: list it again next turn.
    Budget,
    /// The socket would block: the driver waits for its writable edge.
    Blocked,
}

/// See the module docs.
pub struct Endpoint {
    config: Config,
    /// Per-application settings, resolved once per configuration.
    apps: AppMap,
    session_config: ServerConfig,
    queue_config: QueueConfig,
    /// Indexed by `ConnId::index`; the generation is checked on every lookup.
    conns: Vec<Option<Conn>>,
    open: usize,
    streams: StreamTable<ConnId>,
    rng: StdRng,
    recorder: Option<Box<dyn Recorder>>,
    dirty: Vec<ConnId>,
    write_again: Vec<ConnId>,
    /// Players whose flush waits for write coalescing: (due ms, id).
    deferred: Vec<(u64, ConnId)>,
    closing: Vec<ConnId>,
    events: Vec<ServerEvent>,
    /// Reused event buffer of the relay connections' client sessions.
    relay_events: Vec<crate::proto::client::ClientEvent>,
    scratch_out: BytesMut,
    timers: Timers,
    overload_warn: WarnLimiter,
    per_ip: access::PerIp,
    per_ip_warn: WarnLimiter,
    /// Hook calls for the driver's worker pool.
    hook_jobs: std::collections::VecDeque<crate::hooks::HookJob>,
    hook_tickets: u64,
    /// Requests waiting for their deciding hook, by ticket.
    waiting_hooks: std::collections::HashMap<u64, hooks::Waiter>,
    /// What `on_record_done` needs, by recording.
    record_done: std::collections::HashMap<crate::record::RecordingId, hooks::RecordDone>,
    /// `exec_record_done` jobs waiting and running.
    exec: exec::ExecQueue,
    /// The driver's reader of `/static/` files.
    static_files: Option<Box<dyn StaticFiles>>,
    /// Server-wide counters (API and metrics).
    counters: snapshot::Counters,
    /// Per live stream: what the API shows beyond the stream table.
    stream_info: std::collections::HashMap<std::rc::Rc<str>, snapshot::StreamInfo>,
    /// Pulled keys and their upstreams.
    pulls: std::collections::HashMap<std::rc::Rc<str>, relay::Pull>,
    /// Connections for the driver to open, and what each is for.
    connect_jobs: std::collections::VecDeque<ConnectJob>,
    pending_connects: std::collections::HashMap<u64, relay::Target>,
    /// The RTMP listener's bound address (loop checks of relay connects).
    local_addr: Option<SocketAddr>,
    /// Push targets of published keys.
    pushes: std::collections::HashMap<std::rc::Rc<str>, Vec<push::Push>>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("connections", &self.open)
            .field("streams", &self.streams.len())
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// `config` must be validated; `rng` feeds the handshakes (seeded in
    /// tests); `recorder` is used for every application that records.
    pub fn new(config: Config, rng: StdRng, recorder: Option<Box<dyn Recorder>>) -> Endpoint {
        let session_config = ServerConfig {
            out_chunk_size: config.chunk_size,
            defer_connect: config.any_connect_hook(),
            ..ServerConfig::default()
        };
        let queue_config = QueueConfig {
            byte_budget: config.subscriber_budget_bytes,
            ..QueueConfig::default()
        };
        let streams = StreamTable::new(StreamConfig::from_config(&config));
        Endpoint {
            timers: Timers::new(&config),
            apps: config.app_map(),
            config,
            session_config,
            queue_config,
            conns: Vec::new(),
            open: 0,
            streams,
            rng,
            recorder,
            dirty: Vec::new(),
            write_again: Vec::new(),
            deferred: Vec::new(),
            closing: Vec::new(),
            events: Vec::new(),
            relay_events: Vec::new(),
            scratch_out: BytesMut::new(),
            overload_warn: WarnLimiter::default(),
            per_ip: access::PerIp::default(),
            per_ip_warn: WarnLimiter::default(),
            hook_jobs: Default::default(),
            hook_tickets: 0,
            waiting_hooks: Default::default(),
            record_done: Default::default(),
            exec: Default::default(),
            static_files: None,
            counters: Default::default(),
            stream_info: Default::default(),
            pulls: Default::default(),
            connect_jobs: Default::default(),
            pending_connects: Default::default(),
            pushes: Default::default(),
            local_addr: None,
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Connections the endpoint knows (closing ones until `poll_close`).
    pub fn len(&self) -> usize {
        self.open
    }

    pub fn is_empty(&self) -> bool {
        self.open == 0
    }

    fn lookup(&mut self, id: ConnId) -> Option<&mut Conn> {
        conn_mut(&mut self.conns, id)
    }

    fn get(&self, id: ConnId) -> Option<&Conn> {
        self.conns
            .get(id.index as usize)
            .and_then(|c| c.as_ref())
            .filter(|c| c.id == id)
    }

    /// Known and not closing.
    pub fn is_open(&self, id: ConnId) -> bool {
        self.get(id).is_some_and(|c| c.is_open())
    }

    /// The connection's role (tests and the driver's logging).
    pub fn role(&self, id: ConnId) -> Option<&Role> {
        self.get(id).map(|c| &c.role)
    }

    /// The connection's counters.
    pub fn stats(&self, id: ConnId) -> Option<ConnStats> {
        self.get(id).map(|c| c.stats)
    }

    /// A new connection from `peer`. `id.index` must not be in use.
    pub fn handle_accept(&mut self, id: ConnId, peer: SocketAddr, now: u64) {
        self.accept(Conn::new(id, peer, now), now);
    }

    /// Enter a connection in the table.
    fn insert(&mut self, conn: Conn) {
        let index = conn.id.index as usize;
        if self.conns.len() <= index {
            self.conns.resize_with(index + 1, || None);
        }
        debug_assert!(self.conns[index].is_none(), "{}: slot in use", conn.id);
        self.conns[index] = Some(conn);
        self.open += 1;
    }

    /// Enter an accepted connection and apply the per-address limits.
    fn accept(&mut self, conn: Conn, now: u64) {
        let (id, peer) = (conn.id, conn.peer);
        match conn.proto {
            Protocol::Http(_) => info!("{id} {peer} accepted (HTTP)"),
            _ => info!("{id} {peer} accepted"),
        }
        self.insert(conn);
        self.counters.accepted += 1;
        let (max_conns, max_handshakes) = (
            self.config.max_connections_per_ip,
            self.config.max_handshakes_per_ip,
        );
        if !self.per_ip.accept(peer.ip(), max_conns, max_handshakes) {
            if let Some(suppressed) = self.per_ip_warn.allow(now) {
                warn!(
                    "{id} {peer} refused: over the per-address limits (max_connections_per_ip {max_conns}, max_handshakes_per_ip {max_handshakes}; {suppressed} similar suppressed)"
                );
            }
            self.count_rejected("per_ip");
            self.close(id, CloseReason::PerIpLimit);
        }
    }

    /// Close the connection at the end of the batch (first reason wins).
    pub fn close(&mut self, id: ConnId, reason: CloseReason) {
        if let Some(conn) = self.lookup(id) {
            if conn.is_open() {
                conn.life = Lifecycle::Closing(reason);
                self.closing.push(id);
            }
        }
    }

    /// Queue session output (already chunked) on the connection, in order with its media.
    fn push_control(&mut self, id: ConnId, out: &mut BytesMut, now: u64) {
        if out.is_empty() {
            return;
        }
        let bytes = out.split().freeze();
        let Some(conn) = self.lookup(id) else { return };
        conn.lists.urgent = true;
        match conn.out.push_control(bytes, now) {
            P::Queued | P::Dropped => self.mark_dirty(id),
            P::ControlOverflow => self.close(id, CloseReason::ControlOverflow),
            P::MediaOverflow => self.close(id, CloseReason::SlowSubscriber),
        }
    }

    /// Run a session method that writes output for connection `id`, then queue that output.
    fn with_session<F>(&mut self, id: ConnId, now: u64, f: F)
    where
        F: FnOnce(&mut ServerSession, &mut BytesMut),
    {
        let mut out = std::mem::take(&mut self.scratch_out);
        if let Some(conn) = self.lookup(id) {
            if let Protocol::Rtmp(session) = &mut conn.proto {
                f(session, &mut out);
            }
        }
        self.push_control(id, &mut out, now);
        self.scratch_out = out;
    }

    fn mark_dirty(&mut self, id: ConnId) {
        if let Some(conn) = self.lookup(id) {
            if !conn.lists.dirty {
                conn.lists.dirty = true;
                self.dirty.push(id);
            }
        }
    }

    /// The driver saw a writable edge: try to write this connection.
    pub fn mark_writable(&mut self, id: ConnId) {
        self.mark_dirty(id);
    }

    /// The connections to write now, appended to `ready`. With
    /// `write_coalesce_ms` > 0 a player's media may wait until its oldest
    /// queued frame is that old, so several frames go out in one write;
    /// control output and a new player's first frames (`urgent`) never wait.
    pub fn poll_flush(&mut self, now: u64, ready: &mut Vec<ConnId>) {
        self.release_deferred(now);
        for id in std::mem::take(&mut self.write_again) {
            self.mark_dirty(id);
        }
        let coalesce = self.config.write_coalesce_ms;
        let dirty = std::mem::take(&mut self.dirty);
        for &id in &dirty {
            let Some(conn) = self.lookup(id) else {
                continue;
            };
            conn.lists.dirty = false;
            if !conn.is_open() {
                continue;
            }
            if coalesce > 0 && !conn.lists.urgent && conn.play_stream_id().is_some() {
                if let Some(oldest) = conn.out.oldest_enqueued_ms() {
                    let due = oldest + coalesce;
                    if now < due {
                        if !conn.lists.deferred {
                            conn.lists.deferred = true;
                            self.deferred.push((due, id));
                        }
                        continue;
                    }
                }
            }
            ready.push(id);
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
            if let Some(conn) = self.lookup(id) {
                conn.lists.deferred = false;
            }
            self.mark_dirty(id);
            false
        });
        self.deferred = deferred;
    }

    /// The connection's pending output, for the driver to write.
    pub fn outbox_mut(&mut self, id: ConnId) -> Option<&mut Outbox> {
        self.lookup(id).filter(|c| c.is_open()).map(|c| &mut c.out)
    }

    /// The driver wrote `n` bytes from the outbox and stopped for `why`.
    pub fn handle_written(&mut self, id: ConnId, n: usize, why: Written) {
        let Some(conn) = self.lookup(id) else { return };
        conn.stats.bytes_out += n as u64;
        match why {
            Written::Drained => {
                conn.lists.urgent = false;
                if let Lifecycle::CloseAfterFlush(reason) = &conn.life {
                    let reason = reason.clone();
                    self.close(id, reason);
                }
            }
            Written::Budget => self.write_again.push(id),
            Written::Blocked => {}
        }
    }

    /// The next connection to forget (see the module docs), after ending its
    /// role and logging its `closed:` line; with the reason it closed.
    pub fn poll_close(&mut self, now: u64) -> Option<(ConnId, CloseReason)> {
        let id = self.closing.pop()?;
        let mut relay_key = None;
        if let Some(conn) = self.get(id) {
            match &conn.proto {
                Protocol::Relay(r) => relay_key = Some(r.key.clone()),
                _ => {
                    let started = !matches!(conn.role, Role::New);
                    self.per_ip.closed(conn.peer.ip(), started);
                }
            }
        }
        self.end_role(id, now);
        let reason_now = match self.get(id).map(|c| &c.life) {
            Some(Lifecycle::Closing(r)) => Some(r.clone()),
            _ => None,
        };
        if let Some(key) = relay_key {
            self.relay_closed(&key, id, reason_now.as_ref(), now);
        }
        let conn = self.conns.get_mut(id.index as usize)?.take()?;
        self.open -= 1;
        let reason = match conn.life {
            Lifecycle::Closing(reason) => reason,
            _ => CloseReason::PeerClosed,
        };
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
        Some((id, reason))
    }

    /// Tell every player the stream ends and close everyone once their
    /// output is written (the driver closes what is left at its deadline).
    pub fn begin_shutdown(&mut self, now: u64) {
        let ids: Vec<ConnId> = self.conns.iter().flatten().map(|c| c.id).collect();
        for id in ids {
            let Some(conn) = self.lookup(id) else {
                continue;
            };
            match &conn.role {
                Role::Player(p) => {
                    let stream_id = p.stream_id;
                    let name = policy::stream_name(&p.key).to_string();
                    conn.life = Lifecycle::CloseAfterFlush(CloseReason::Shutdown);
                    self.with_session(id, now, |s, out| s.notify_unpublish(stream_id, &name, out));
                    if self.get(id).is_some_and(|c| c.out.is_empty()) {
                        self.close(id, CloseReason::Shutdown);
                    }
                }
                _ => self.close(id, CloseReason::Shutdown),
            }
        }
    }

    /// Close every connection now.
    pub fn close_all(&mut self, reason: CloseReason) {
        let ids: Vec<ConnId> = self.conns.iter().flatten().map(|c| c.id).collect();
        for id in ids {
            self.close(id, reason.clone());
        }
    }

    /// Stop the recorder hand-over (the driver shuts the recorder down).
    pub fn take_recorder(&mut self) -> Option<Box<dyn Recorder>> {
        self.recorder.take()
    }
}

/// Connection `id` in `conns` (its slot holds this generation): for code
/// that borrows other fields of the endpoint beside it.
fn conn_mut(conns: &mut [Option<Conn>], id: ConnId) -> Option<&mut Conn> {
    conns
        .get_mut(id.index as usize)
        .and_then(|c| c.as_mut())
        .filter(|c| c.id == id)
}
