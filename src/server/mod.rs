//! The driver: one thread, one `mio::Poll`, every socket in a `Slab`. It
//! moves bytes and readiness between the sockets and the sans-IO
//! [`Endpoint`], accepts, closes, handles signals and reads the clock once
//! per turn; every decision is the endpoint's.
//!
//! # One loop turn (a "batch")
//!
//! 1. `poll` returns readiness events. For each: the listener sets
//!    `accept_pending`; the signal pipe starts the shutdown (SIGINT,
//!    SIGTERM), reloads the configuration and the TLS certificates
//!    (SIGHUP, see `reload`) or has the endpoint
//!    ask publishers to reconnect (SIGUSR1); a connection's
//!    token is checked against the slab (index *and* generation); a readable
//!    edge is read at once (until WouldBlock or the per-turn budget) into the
//!    endpoint, which handles it; a writable edge is passed on.
//! 2. Connections that stopped on their read budget or the endpoint's
//!    message limit are served again (they get no new edge), after every
//!    other event of the batch.
//! 3. The endpoint's timers run; the hook calls and `exec_record_done` jobs
//!    they released go to the hook pool and the exec runner, whose wakers
//!    bring the results back as events of a later batch.
//! 4. The connections the endpoint lists are written with vectored writes
//!    until their outbox is empty, the socket would block or the per-turn
//!    write budget is spent. A frame is therefore written in the same turn
//!    in which it was read from the publisher.
//! 5. Connections the endpoint closed are deregistered and dropped.
//! 6. New sockets are accepted and registered with a fresh generation.
//!
//! Closing and accepting only at batch boundaries means that no event of a
//! batch ever reaches a recycled slab slot; the generation check guards the
//! endpoint's subscriber lists, which outlive batches.

mod accept;
pub mod conn;
mod connect;
mod exec;
mod files;
pub mod io;
mod recorder;
mod reload;
pub mod token;

pub use reload::ReloadSource;

use std::io as stdio;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{debug, info, warn};
use mio::net::TcpListener;
use mio::{Events, Interest, Poll};
use rand::rngs::StdRng;
use rand::SeedableRng;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};
use signal_hook_mio::v1_0::Signals;
use slab::Slab;

use crate::config::Config;
use crate::endpoint::{Endpoint, Input, WarnLimiter, Written};
use crate::error::{CloseReason, Error};
use crate::hooks::{HookPool, HookResult};
use crate::tls;

use conn::{IoConn, Transport};
use connect::Resolver;
use files::DiskFiles;
use io::{ReadOutcome, WriteOutcome};
use token::{
    ConnId, EXEC, HOOKS, HTTPS_LISTENER, HTTP_LISTENER, LISTENER, RESOLVER, SIGNALS, TLS_LISTENER,
};

/// How long to wait before retrying accept after EMFILE/ENFILE.
const ACCEPT_RETRY_MS: u64 = 100;
/// How long shutdown waits for queues to drain.
const SHUTDOWN_GRACE_MS: u64 = 700;
/// How long shutdown waits for running hook calls.
const HOOKS_SHUTDOWN_MS: u64 = 500;
/// How long shutdown waits for the recorder to finalize its files.
const RECORDER_SHUTDOWN_MS: u64 = 900;
/// Bytes written to one connection per loop turn before the others get
/// their turn (a keyframe fits; a late joiner's GOP takes a few turns).
const WRITE_BUDGET: usize = 128 * 1024;
/// Largest single read (the size of the server's one read buffer).
const READ_STEP: usize = 64 * 1024;

/// The server: owns the poll, the listener, every socket and the endpoint.
pub struct Server {
    poll: Poll,
    listener: Option<TcpListener>,
    local_addr: SocketAddr,
    /// The RTMPS listener and the TLS configuration new connections get
    /// (replaced on SIGHUP; existing connections keep theirs).
    tls_listener: Option<TcpListener>,
    tls_config: Option<Arc<rustls::ServerConfig>>,
    tls_accept_pending: bool,
    /// The HTTP listener (API, metrics, pages, HTTP-FLV).
    http_listener: Option<TcpListener>,
    http_accept_pending: bool,
    /// The HTTPS listener (the same answers over TLS).
    https_listener: Option<TcpListener>,
    https_accept_pending: bool,
    /// Worker threads for HTTP hooks (when any application has one); they
    /// wake the loop through a `mio::Waker` with results.
    hooks: Option<HookPool>,
    hook_results: Vec<HookResult>,
    /// `exec_record_done` jobs (when any application has one); the runner
    /// wakes the loop as each ends.
    exec: Option<crate::exec::ExecRunner>,
    /// Name lookups for relay connections (when any application pulls).
    resolver: Option<Resolver>,
    /// Local addresses of our own outgoing relay sockets: a connection
    /// accepted from one of them is this server talking to itself.
    relay_locals: std::collections::HashMap<SocketAddr, ConnId>,
    /// Relay connections waiting for their name: their TLS settings.
    resolving: std::collections::HashMap<u64, Option<(String, crate::client::TlsVerify)>>,
    signals: Signals,
    conns: Slab<IoConn>,
    next_generation: u32,
    endpoint: Endpoint,
    start: Instant,
    read_budget: usize,
    max_connections: usize,
    still_readable: Vec<ConnId>,
    /// Reused list of connections to write this turn.
    ready: Vec<ConnId>,
    accept_pending: bool,
    accept_retry_at: Option<u64>,
    /// Every read lands here first; only the bytes read are copied on.
    read_scratch: Vec<u8>,
    shutdown_deadline: Option<u64>,
    accept_warn: WarnLimiter,
    /// What SIGHUP reads again (see `reload`).
    reload_source: Option<ReloadSource>,
}

impl Server {
    /// Bind the listener and set everything up; `run` starts serving.
    pub fn bind(config: Config) -> Result<Server, Error> {
        let config = config.validate()?;
        raise_nofile_limit(config.max_connections);
        let poll = Poll::new().map_err(Error::Poll)?;
        let reuse_port = config.reuse_port;
        let bind = |key: &'static str, addr: SocketAddr| {
            accept::listen(addr, key == "listen" && reuse_port)
                .and_then(|l| Ok((l.local_addr()?, l)))
                .map_err(|e| Error::Bind(key, addr, e))
        };
        let (local_addr, mut listener) = bind("listen", config.listen)?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)
            .map_err(Error::Poll)?;
        let tls_config = tls::server_config(&config).map_err(Error::Tls)?;
        let has_tls = tls_config.is_some();
        let optional = |key, addr: Option<SocketAddr>, token, what: &str| {
            let Some(addr) = addr else {
                return Ok(None);
            };
            let (at, mut l) = bind(key, addr)?;
            poll.registry()
                .register(&mut l, token, Interest::READABLE)
                .map_err(Error::Poll)?;
            info!("{what} accepting at {at}");
            Ok::<_, Error>(Some(l))
        };
        let tls_listener = optional(
            "tls_listen",
            config.tls_listen.filter(|_| has_tls),
            TLS_LISTENER,
            "RTMPS (TLS)",
        )?;
        let http_listener = optional(
            "http_listen",
            config.http_listen,
            HTTP_LISTENER,
            "HTTP (API, metrics, pages, HTTP-FLV)",
        )?;
        let https_listener = optional(
            "https_listen",
            config.https_listen.filter(|_| has_tls),
            HTTPS_LISTENER,
            "HTTPS (API, metrics, pages, HTTP-FLV over TLS)",
        )?;
        let static_files = config.http_static.clone().map(|dir| DiskFiles::new(&dir));
        let hooks = reload::hook_pool(&config, poll.registry())?;
        let exec = exec::runner(&config, poll.registry()).map_err(Error::Poll)?;
        let resolver = reload::resolver(&config, poll.registry())?;
        let mut signals =
            Signals::new([SIGINT, SIGTERM, SIGHUP, SIGUSR1]).map_err(Error::Signals)?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)
            .map_err(Error::Signals)?;
        let recorder = if config.any_recording() {
            Some(reload::spawn_recorder(&config)?)
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
        let read_budget = config.read_budget_bytes;
        let max_connections = config.max_connections;
        let mut endpoint = Endpoint::new(config, StdRng::from_os_rng(), recorder);
        if let Some(files) = static_files {
            endpoint.set_static_files(Box::new(files));
        }
        endpoint.set_local_addr(local_addr);
        endpoint.start_static_pulls();
        Ok(Server {
            poll,
            listener: Some(listener),
            local_addr,
            tls_listener,
            tls_config,
            tls_accept_pending: false,
            http_listener,
            http_accept_pending: false,
            https_listener,
            https_accept_pending: false,
            hooks,
            hook_results: Vec::new(),
            exec,
            resolver,
            resolving: Default::default(),
            relay_locals: Default::default(),
            signals,
            conns: Slab::with_capacity(1024),
            next_generation: 1,
            endpoint,
            start: Instant::now(),
            read_budget,
            max_connections,
            still_readable: Vec::new(),
            ready: Vec::new(),
            accept_pending: false,
            accept_retry_at: None,
            read_scratch: vec![0; READ_STEP],
            shutdown_deadline: None,
            accept_warn: WarnLimiter::default(),
            reload_source: None,
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
                    TLS_LISTENER => self.tls_accept_pending = true,
                    HTTP_LISTENER => self.http_accept_pending = true,
                    HTTPS_LISTENER => self.https_accept_pending = true,
                    HOOKS => self.on_hook_results(now),
                    EXEC => self.on_exec_results(),
                    RESOLVER => self.on_resolved(now),
                    SIGNALS => self.on_signals(now),
                    token => {
                        if let Some(id) = token::conn_id(token) {
                            let closed = event.is_read_closed() || event.is_error();
                            let readable = event.is_readable() || closed;
                            if closed {
                                if let Some(conn) = self.lookup(id) {
                                    conn.read_closed = true;
                                }
                            }
                            self.on_conn_event(id, readable, event.is_writable(), now);
                        }
                    }
                }
            }
            self.end_of_batch(now);
            if self.shutdown_finished(now) {
                if let Some(recorder) = self.endpoint.take_recorder() {
                    recorder.finish(RECORDER_SHUTDOWN_MS);
                }
                self.stop_execs();
                if let Some(pool) = self.hooks.take() {
                    let report = pool.shutdown(Duration::from_millis(HOOKS_SHUTDOWN_MS));
                    if report.abandoned_workers > 0 {
                        warn!(
                            "{} hook calls still running at exit were abandoned",
                            report.abandoned_workers
                        );
                    }
                }
                info!("shutdown complete");
                return Ok(());
            }
        }
    }

    fn poll_timeout(&self) -> Duration {
        if !self.still_readable.is_empty() {
            return Duration::ZERO;
        }
        let mut next = self.endpoint.poll_timeout();
        if let Some(t) = self.accept_retry_at {
            next = next.min(t);
        }
        if let Some(t) = self.shutdown_deadline {
            next = next.min(t);
        }
        Duration::from_millis(next.saturating_sub(self.now_ms()))
    }

    fn lookup(&mut self, id: ConnId) -> Option<&mut IoConn> {
        self.conns.get_mut(id.index as usize).filter(|c| c.id == id)
    }

    fn on_conn_event(&mut self, id: ConnId, readable: bool, writable: bool, now: u64) {
        if !self.endpoint.is_open(id) {
            return;
        }
        let Some(conn) = self.conns.get_mut(id.index as usize).filter(|c| c.id == id) else {
            return; // stale or unknown token
        };
        if writable {
            conn.writable = true;
            if let Err(e) = conn.transport.flush_pending() {
                let reason = close_reason(&conn.transport, e.kind());
                self.endpoint.close(id, reason);
                return;
            }
            self.endpoint.mark_writable(id);
        }
        if readable {
            // Remember the edge: it is not repeated, and the read may have
            // to wait until earlier input is processed.
            conn.readable = true;
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

    /// Read what the socket has (within the per-turn budget) into the endpoint.
    fn on_readable(&mut self, id: ConnId, now: u64) {
        if self.endpoint.has_pending_input(id) {
            // Finish what was read before reading more.
            let input = self.endpoint.process(id, now);
            let readable = self.lookup(id).is_some_and(|c| c.readable);
            if input == Input::Pending || (input == Input::Done && readable) {
                self.push_still_readable(id);
            }
            return;
        }
        let Server {
            conns,
            endpoint,
            read_scratch,
            read_budget,
            ..
        } = self;
        let Some(conn) = conns.get_mut(id.index as usize).filter(|c| c.id == id) else {
            return;
        };
        let drains = conn.transport.short_read_drains() && !conn.read_closed;
        let (n, outcome) = io::read_some(
            &mut conn.transport,
            *read_budget,
            read_scratch,
            drains,
            |b| endpoint.receive(id, b, now),
        );
        conn.readable = outcome == ReadOutcome::Budget;
        let input = if n > 0 {
            self.endpoint.process(id, now)
        } else {
            Input::Done
        };
        match outcome {
            ReadOutcome::Budget if input != Input::Closed => self.push_still_readable(id),
            ReadOutcome::Budget => {}
            ReadOutcome::WouldBlock => {
                if input == Input::Pending {
                    self.push_still_readable(id);
                }
            }
            ReadOutcome::Closed => self.endpoint.handle_eof(id, now),
            ReadOutcome::Error(kind) => {
                let reason = self
                    .lookup(id)
                    .map_or(CloseReason::Io(kind), |c| close_reason(&c.transport, kind));
                self.endpoint.close(id, reason);
            }
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
            let readable = self.lookup(id).is_some_and(|c| c.readable);
            if self.endpoint.is_open(id) && (readable || self.endpoint.has_pending_input(id)) {
                self.on_readable(id, now);
            }
        }
        self.endpoint.handle_timeout(now);
        self.submit_hooks(now);
        self.submit_execs();
        self.start_connects(now);
        self.flush(now);
        // Closing a publisher tells its viewers; a drained refusal closes.
        for _ in 0..2 {
            if self.remove_closed(now) {
                self.flush(now);
            }
        }
        if self.accept_pending
            || self.tls_accept_pending
            || self.http_accept_pending
            || self.https_accept_pending
            || self.accept_retry_at.is_some_and(|t| t <= now)
        {
            self.accept_ready(now);
        }
    }

    /// Write every connection the endpoint lists.
    fn flush(&mut self, now: u64) {
        let mut ready = std::mem::take(&mut self.ready);
        ready.clear();
        self.endpoint.poll_flush(now, &mut ready);
        for &id in &ready {
            let Some(conn) = self.conns.get_mut(id.index as usize).filter(|c| c.id == id) else {
                continue;
            };
            if !conn.writable {
                continue;
            }
            let Some(outbox) = self.endpoint.outbox_mut(id) else {
                continue;
            };
            let (n, outcome) = io::write_outbox(&mut conn.transport, outbox, WRITE_BUDGET);
            let written = match outcome {
                WriteOutcome::Drained => Written::Drained,
                WriteOutcome::Budget => Written::Budget,
                WriteOutcome::WouldBlock => {
                    conn.writable = false;
                    Written::Blocked
                }
                WriteOutcome::Error(kind) => {
                    self.endpoint.close(id, close_reason(&conn.transport, kind));
                    Written::Blocked
                }
            };
            self.endpoint.handle_written(id, n, written);
        }
        self.ready = ready;
    }

    /// Drop the sockets of the connections the endpoint closed; true if any.
    fn remove_closed(&mut self, now: u64) -> bool {
        let mut any = false;
        while let Some((id, _)) = self.endpoint.poll_close(now) {
            any = true;
            if self.lookup(id).is_none() {
                continue;
            }
            let mut conn = self.conns.remove(id.index as usize);
            if let Err(e) = conn.transport.deregister(self.poll.registry()) {
                debug!("{} {} deregister: {}", id, conn.peer, e);
            }
            if !self.relay_locals.is_empty() {
                self.relay_locals.retain(|_, c| *c != id);
            }
        }
        any
    }

    fn on_signals(&mut self, now: u64) {
        let mut stop = false;
        let mut reload = false;
        let mut reconnect = false;
        for signal in self.signals.pending() {
            if signal == SIGHUP {
                reload = true;
            } else if signal == SIGUSR1 {
                reconnect = true;
            } else {
                info!("received signal {signal}: shutting down");
                stop = true;
            }
        }
        if reload {
            self.reload(now);
        }
        if reconnect {
            // E-RTMP: ask every capable publisher to reconnect; nobody is closed.
            let scope = crate::endpoint::ReconnectScope::default();
            self.endpoint.request_reconnect(&scope, "SIGUSR1", now);
        }
        if stop && self.shutdown_deadline.is_none() {
            self.begin_shutdown(now);
        }
    }

    /// Hand the endpoint's hook calls to the worker pool; a full queue is
    /// the endpoint's to answer.
    fn submit_hooks(&mut self, now: u64) {
        while let Some(job) = self.endpoint.poll_hook() {
            let ticket = job.ticket;
            match self.hooks.as_ref() {
                Some(pool) => {
                    if pool.submit(job).is_err() {
                        self.endpoint.handle_hook_queue_full(ticket, now);
                    }
                }
                None => self.endpoint.handle_hook_queue_full(ticket, now),
            }
        }
    }

    /// The waker fired: apply every hook result that came back.
    fn on_hook_results(&mut self, now: u64) {
        let Some(pool) = self.hooks.as_mut() else {
            return;
        };
        let mut results = std::mem::take(&mut self.hook_results);
        pool.try_results(&mut results);
        for r in results.drain(..) {
            debug!(
                "hook {} {} answered in {:?}: {}",
                r.ticket, r.kind, r.elapsed, r.verdict
            );
            self.endpoint.handle_hook_result(r.ticket, r.verdict, now);
        }
        self.hook_results = results;
    }

    /// Stop accepting, tell everyone, and give the queues a short grace period.
    pub fn begin_shutdown(&mut self, now: u64) {
        self.shutdown_deadline = Some(now + SHUTDOWN_GRACE_MS);
        for mut listener in [
            self.listener.take(),
            self.tls_listener.take(),
            self.http_listener.take(),
            self.https_listener.take(),
        ]
        .into_iter()
        .flatten()
        {
            let _ = self.poll.registry().deregister(&mut listener);
        }
        self.endpoint.begin_shutdown(now);
    }

    fn shutdown_finished(&mut self, now: u64) -> bool {
        let Some(deadline) = self.shutdown_deadline else {
            return false;
        };
        if now >= deadline {
            self.endpoint.close_all(CloseReason::Shutdown);
            self.remove_closed(now);
        }
        self.conns.is_empty()
    }
}

/// Why a transport failed: the TLS layer's own error when it has one.
fn close_reason(transport: &Transport, kind: stdio::ErrorKind) -> CloseReason {
    match transport.tls_error() {
        Some(e) => CloseReason::Tls(e.to_string()),
        None => CloseReason::Io(kind),
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
