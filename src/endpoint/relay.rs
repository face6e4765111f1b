//! Pull on demand: a play of a key that has no local publisher, on an
//! application with `pull` origins, opens one upstream connection from the
//! same loop and feeds what it receives into the stream as a local publisher
//! would (caches, GOP, recording, HTTP-FLV).
//!
//! * One upstream per key, however many players ask. The endpoint makes a
//!   [`ConnectJob`] ([`Endpoint::poll_connect`]); the driver resolves the
//!   host off the loop, connects without blocking and reports
//!   [`Endpoint::handle_connected`] or [`Endpoint::handle_connect_failed`].
//! * The upstream runs the client handshake and a playing client session
//!   (`proto::client`); its first media message makes it the key's
//!   publisher. Players wait up to `pull_wait_ms` for that, then get
//!   `NetStream.Play.StreamNotFound` and are closed.
//! * An upstream that fails or ends while viewers remain is reconnected
//!   with backoff (0.5 s doubling to 5 s, the next origin each time; reset
//!   after 30 s connected); viewers stay and their timestamps continue.
//! * With no viewer left for `pull_idle_ms`, the upstream is closed.

use core::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;

use bytes::BytesMut;
use log::{debug, info, warn};

use crate::client::RtmpUrl;
use crate::config::AppSettings;
use crate::error::CloseReason;
use crate::proto::client::{ClientConfig, ClientMode, ClientSession, CLIENT_CAPS_EX};
use crate::proto::command::StreamName;
use crate::proto::handshake::ClientHandshake;
use crate::proto::status::CODE_PLAY_STREAM_NOT_FOUND;

use super::conn::{Conn, Lifecycle, Protocol, Role};
use super::{ConnId, Endpoint};

/// First reconnect delay; doubles up to [`BACKOFF_MAX_MS`].
pub const BACKOFF_MIN_MS: u64 = 500;
pub const BACKOFF_MAX_MS: u64 = 5_000;
/// Connected this long, the backoff starts again from its minimum.
pub const BACKOFF_RESET_MS: u64 = 30_000;

/// What a relay adds to its flashVer: `rtmp-edge-relay/HOPS`.
pub const RELAY_MARK: &str = "rtmp-edge-relay/";

/// The hops a peer's flashVer says it has crossed (0 for any other client).
pub fn relay_hops(flash_ver: &str) -> u32 {
    flash_ver
        .rsplit_once(RELAY_MARK)
        .and_then(|(_, n)| n.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The retry state of one relay target (a pull's upstream, a push target):
/// backoff from [`BACKOFF_MIN_MS`] doubling to [`BACKOFF_MAX_MS`], reset
/// after [`BACKOFF_RESET_MS`] connected.
#[derive(Debug)]
pub(super) struct Retry {
    backoff_ms: u64,
    /// When the next attempt is due.
    pub at: Option<u64>,
    /// When the current connection started streaming.
    pub connected_ms: Option<u64>,
    pub reconnects: u64,
}

impl Default for Retry {
    fn default() -> Retry {
        Retry {
            backoff_ms: BACKOFF_MIN_MS,
            at: None,
            connected_ms: None,
            reconnects: 0,
        }
    }
}

impl Retry {
    /// The connection failed or ended at `now`: schedule the next attempt;
    /// returns its delay.
    pub fn failed(&mut self, now: u64) -> u64 {
        if self
            .connected_ms
            .is_some_and(|t| now.saturating_sub(t) >= BACKOFF_RESET_MS)
        {
            self.backoff_ms = BACKOFF_MIN_MS;
        }
        self.connected_ms = None;
        let delay = self.backoff_ms;
        self.at = Some(now + delay);
        self.reconnects += 1;
        self.backoff_ms = (self.backoff_ms * 2).min(BACKOFF_MAX_MS);
        delay
    }

    pub fn due(&self, now: u64) -> bool {
        self.at.is_some_and(|t| t <= now)
    }
}

/// A connection the driver should open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectJob {
    pub ticket: u64,
    pub host: String,
    pub port: u16,
    /// `rtmps://`: TLS, verifying the server (by `host`) this way.
    pub tls: Option<crate::client::TlsVerify>,
}

/// How an `rtmps://` relay URL is verified under `settings`.
pub(super) fn relay_tls(
    parsed: &RtmpUrl,
    settings: &AppSettings,
) -> Option<crate::client::TlsVerify> {
    parsed.tls.as_ref().map(|v| {
        if settings.tls_verify {
            v.clone()
        } else {
            crate::client::TlsVerify::Insecure
        }
    })
}

/// What an outgoing connection is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The upstream of a pulled key.
    Pull(Rc<str>),
    /// Push target number `usize` of a published key.
    Push(Rc<str>, usize),
}

/// An outgoing relay connection's protocol state.
#[derive(Debug)]
pub struct RelayClient {
    pub key: Rc<str>,
    /// `Some(n)`: push target `n` of the key; `None`: the key's pull upstream.
    pub push: Option<usize>,
    pub url: String,
    pub handshake: Option<Box<ClientHandshake>>,
    pub session: Box<ClientSession>,
    /// The origin's stream ended or refused: do not count it as live.
    pub ended: bool,
}

/// One pulled key.
#[derive(Debug)]
pub(super) struct Pull {
    pub(super) app: String,
    /// The stream name with the first player's query.
    pub(super) name: String,
    pub(super) settings: Arc<AppSettings>,
    /// Index into `settings.pull` of the origin tried last.
    origin: usize,
    conn: Option<ConnId>,
    ticket: Option<u64>,
    pub(super) retry: Retry,
    idle_since: Option<u64>,
    /// Hops the upstream connection announces (the asking player's + 1).
    hops: u32,
    /// `static_pull`: kept up from start-up, watched or not.
    pinned: bool,
}

impl Pull {
    /// The application's `pull_wait_ms`.
    pub(super) fn wait_ms(&self) -> u64 {
        self.settings.pull_wait_ms
    }
}

impl Endpoint {
    /// The hops connection `id` announced in its connect (0: not a relay).
    pub(super) fn hops_of(&self, id: ConnId) -> u32 {
        self.get(id)
            .and_then(|c| c.connect.as_ref())
            .map_or(0, |i| relay_hops(&i.flashver))
    }

    /// The `static_pull` streams of every application: (app, name).
    fn static_pull_list(&self) -> Vec<(String, String)> {
        self.config
            .apps
            .iter()
            .flat_map(|(app, t)| {
                t.static_pull
                    .iter()
                    .flatten()
                    .map(move |name| (app.clone(), name.clone()))
            })
            .collect()
    }

    /// After a reload: a static pull no longer listed ends once it has no
    /// viewers (as a pull started by a player); a new one starts.
    pub(super) fn reload_static_pulls(&mut self) {
        let wanted: Vec<Rc<str>> = self
            .static_pull_list()
            .iter()
            .map(|(app, name)| super::policy::stream_key(app, name))
            .collect();
        for (key, pull) in self.pulls.iter_mut() {
            if pull.pinned && !wanted.contains(key) {
                pull.pinned = false;
                info!("pull {key}: no longer static (removed by a reload)");
            }
        }
        self.start_static_pulls();
    }

    /// Start the `static_pull` streams of every application.
    pub fn start_static_pulls(&mut self) {
        for (app, name) in self.static_pull_list() {
            let settings = self.apps.get(&app);
            let key = super::policy::stream_key(&app, &name);
            let stream = StreamName::parse(&name);
            if self.pulls.get(&key).is_some_and(|p| p.pinned) {
                continue;
            }
            if self.want_pull(&key, &app, &stream, &settings, 0) {
                if let Some(pull) = self.pulls.get_mut(&key) {
                    pull.pinned = true;
                }
                info!("pull {key}: static, kept from now on");
            }
        }
    }
    /// The next connection the driver should open.
    pub fn poll_connect(&mut self) -> Option<ConnectJob> {
        self.connect_jobs.pop_front()
    }

    /// A play of `key` found no publisher: start pulling it if its
    /// application has origins. Returns whether the key is (being) pulled.
    pub(super) fn want_pull(
        &mut self,
        key: &Rc<str>,
        app: &str,
        name: &StreamName,
        settings: &Arc<AppSettings>,
        hops: u32,
    ) -> bool {
        if settings.pull.is_empty() {
            return false;
        }
        if let Some(pull) = self.pulls.get_mut(key) {
            pull.idle_since = None;
            return true;
        }
        let full_name = match &name.query {
            Some(q) => format!("{}?{q}", name.name),
            None => name.name.clone(),
        };
        let pull = Pull {
            app: app.to_string(),
            name: full_name,
            settings: settings.clone(),
            origin: 0,
            conn: None,
            ticket: None,
            retry: Retry::default(),
            idle_since: None,
            hops: hops + 1,
            pinned: false,
        };
        self.pulls.insert(key.clone(), pull);
        self.pull_connect(key);
        true
    }

    fn pull_url(pull: &Pull) -> Option<(String, RtmpUrl)> {
        let base = pull.settings.pull.get(pull.origin)?;
        let url = format!("{}/{}", base.trim_end_matches('/'), pull.name);
        let parsed = RtmpUrl::parse(&url).ok()?;
        Some((url, parsed))
    }

    /// Ask the driver for a connection to the current origin of `key`.
    fn pull_connect(&mut self, key: &Rc<str>) {
        let Some(pull) = self.pulls.get_mut(key) else {
            return;
        };
        pull.retry.at = None;
        let Some((url, parsed)) = Self::pull_url(pull) else {
            warn!("pull {key}: origin {} is not a usable URL", pull.origin);
            return;
        };
        info!("pull {key}: connecting to {}", super::redact_query(&url));
        let tls = relay_tls(&parsed, &pull.settings);
        let ticket = self.queue_connect(Target::Pull(key.clone()), &parsed, tls);
        if let Some(pull) = self.pulls.get_mut(key) {
            pull.ticket = Some(ticket);
        }
    }

    /// Ask the driver for a connection to `parsed` for `target`; returns the
    /// ticket its answer will carry.
    pub(super) fn queue_connect(
        &mut self,
        target: Target,
        parsed: &RtmpUrl,
        tls: Option<crate::client::TlsVerify>,
    ) -> u64 {
        self.hook_tickets += 1;
        let ticket = self.hook_tickets;
        self.pending_connects.insert(ticket, target);
        self.connect_jobs.push_back(ConnectJob {
            ticket,
            host: parsed.host.clone(),
            port: parsed.port,
            tls,
        });
        ticket
    }

    /// The driver connected ticket `ticket` as `id` (to `peer`). Returns
    /// false when nobody wants it any more (the driver drops the socket).
    pub fn handle_connected(
        &mut self,
        ticket: u64,
        id: ConnId,
        peer: SocketAddr,
        now: u64,
    ) -> bool {
        let key = match self.pending_connects.remove(&ticket) {
            Some(Target::Pull(key)) => key,
            Some(Target::Push(key, n)) => {
                return self.push_connected(ticket, &key, n, id, peer, now)
            }
            None => return false,
        };
        let Some(pull) = self.pulls.get_mut(&key) else {
            return false;
        };
        if pull.ticket != Some(ticket) {
            return false;
        }
        pull.ticket = None;
        pull.conn = Some(id);
        let Some((url, parsed)) = Self::pull_url(pull) else {
            return false;
        };
        info!(
            "{id} {peer} pull {key}: upstream connection opened to {}",
            super::redact_query(&url)
        );
        let hops = pull.hops;
        self.open_relay(
            id,
            peer,
            &key,
            None,
            hops,
            url,
            &parsed,
            ClientMode::Play,
            now,
        );
        true
    }

    /// Enter an outgoing connection and start its client handshake.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn open_relay(
        &mut self,
        id: ConnId,
        peer: SocketAddr,
        key: &Rc<str>,
        push: Option<usize>,
        hops: u32,
        url: String,
        parsed: &RtmpUrl,
        mode: ClientMode,
        now: u64,
    ) {
        let mut config = ClientConfig::new(&parsed.app, &parsed.tc_url(), &parsed.stream, mode);
        let base = match mode {
            ClientMode::Play => crate::proto::command::CLIENT_FLASH_VER_PLAY,
            ClientMode::Publish => crate::proto::command::CLIENT_FLASH_VER_PUBLISH,
        };
        config.flash_ver = Some(format!("{base} {RELAY_MARK}{hops}"));
        // Frames go out in their canonical form: the target must know our chunk size.
        config.out_chunk_size = self.config.chunk_size;
        // A relay connection forwards any codec, but does not act on a
        // reconnect request (its own retry reconnects when the origin or
        // target closes): no capsEx Reconnect.
        config.caps.caps_ex = Some(CLIENT_CAPS_EX & !crate::proto::command::CAPS_EX_RECONNECT);
        let mut handshake = Box::new(ClientHandshake::new(now as u32));
        let mut out = BytesMut::new();
        handshake.start(&mut out, &mut self.rng);
        let client = RelayClient {
            key: key.clone(),
            push,
            url,
            handshake: Some(handshake),
            session: Box::new(ClientSession::new(config)),
            ended: false,
        };
        self.insert(Conn::with_protocol(
            id,
            peer,
            Protocol::Relay(Box::new(client)),
            now,
        ));
        self.push_control(id, &mut out, now);
    }

    /// The driver resolved ticket `ticket` to `addr`: connect only if it is
    /// not this server's own listener (the listen address the driver bound,
    /// see [`Endpoint::set_local_addr`]); a loop fails the attempt.
    pub fn allow_connect(&mut self, ticket: u64, addr: SocketAddr, now: u64) -> bool {
        let listen = self.local_addr.unwrap_or(self.config.listen);
        if crate::config::is_own_address(listen, &addr.ip().to_string(), addr.port()) {
            let why = format!("{addr} is this server's own listener (a loop)");
            self.handle_connect_failed(ticket, &why, now);
            return false;
        }
        true
    }

    /// The RTMP listener's bound address (the configured port may be 0).
    pub fn set_local_addr(&mut self, addr: SocketAddr) {
        self.local_addr = Some(addr);
    }

    /// The driver found that relay connection `id` reached this server's own
    /// listener (a loop): end it; the pull's retries go on to the next origin.
    pub fn handle_refused_loop(&mut self, id: ConnId) {
        self.relay_end(id, "it is this server's own listener (a loop)");
    }

    /// The driver could not resolve or connect ticket `ticket`.
    pub fn handle_connect_failed(&mut self, ticket: u64, why: &str, now: u64) {
        let key = match self.pending_connects.remove(&ticket) {
            Some(Target::Pull(key)) => key,
            Some(Target::Push(key, n)) => {
                warn!("push {key} #{n}: cannot connect: {why}");
                return self.push_retry(&key, n, now);
            }
            None => return,
        };
        if let Some(pull) = self.pulls.get(&key) {
            if pull.ticket == Some(ticket) {
                let url = Self::pull_url(pull).map(|(u, _)| u).unwrap_or_default();
                warn!(
                    "pull {key}: cannot connect to {}: {why}",
                    super::redact_query(&url)
                );
            }
        }
        self.pull_retry(&key, now);
    }

    /// The upstream of `key` is gone: retry later while viewers remain.
    fn pull_retry(&mut self, key: &Rc<str>, now: u64) {
        let viewers = !self.streams.viewers(key).is_empty();
        let Some(pull) = self.pulls.get_mut(key) else {
            return;
        };
        pull.conn = None;
        pull.ticket = None;
        if !viewers && !pull.pinned {
            info!("pull {key}: stopped (no viewers)");
            self.pulls.remove(key);
            return;
        }
        pull.origin = (pull.origin + 1) % pull.settings.pull.len().max(1);
        let delay = pull.retry.failed(now);
        self.counters.relay_reconnects += 1;
        debug!("pull {key}: retry in {delay} ms");
    }

    /// The pull upstream of `key` as the API shows it.
    pub(super) fn pull_snapshot(&self, key: &str) -> Option<crate::http::RelaySnapshot> {
        let pull = self.pulls.get(key)?;
        let url = Self::pull_url(pull).map(|(u, _)| u).unwrap_or_default();
        let up = pull
            .conn
            .is_some_and(|c| self.streams.publisher(key) == Some(c));
        let bytes = pull
            .conn
            .and_then(|c| self.get(c))
            .map_or(0, |c| c.stats.bytes_in);
        Some(crate::http::RelaySnapshot {
            direction: "pull".into(),
            target: 0,
            url: super::redact_query(&url),
            up,
            connected_since_s: pull.retry.connected_ms.map(|t| t / 1000),
            reconnects: pull.retry.reconnects,
            bytes,
        })
    }

    /// Timer work: retries that are due, idle upstreams, players that waited
    /// too long for a pulled stream.
    pub(super) fn sweep_pulls(&mut self, now: u64) {
        let keys: Vec<Rc<str>> = self.pulls.keys().cloned().collect();
        for key in keys {
            let has_viewers = !self.streams.viewers(&key).is_empty();
            let Some(pull) = self.pulls.get_mut(&key) else {
                continue;
            };
            if has_viewers || pull.pinned {
                pull.idle_since = None;
            } else {
                let since = *pull.idle_since.get_or_insert(now);
                if now.saturating_sub(since) >= pull.settings.pull_idle_ms {
                    let conn = pull.conn.take();
                    self.pulls.remove(&key);
                    info!("pull {key}: no viewers for a while, closing the upstream");
                    if let Some(conn) = conn {
                        self.close(conn, CloseReason::RelayIdle);
                    }
                    continue;
                }
            }
            if pull.retry.due(now) {
                self.pull_connect(&key);
            }
        }
        let mut expired = Vec::new();
        for conn in self.conns.iter().flatten() {
            let Some(deadline) = conn.wait_deadline else {
                continue;
            };
            if let Role::Player(p) = &conn.role {
                if now >= deadline && self.streams.publisher(&p.key).is_none() {
                    expired.push((conn.id, p.stream_id, p.key.clone()));
                }
            }
        }
        for (id, stream_id, key) in expired {
            info!("{id} play {key}: no stream from the origins in time, StreamNotFound");
            let description = format!("{key} not found at the origins");
            self.with_session(id, now, |s, out| {
                s.reject_publish(stream_id, CODE_PLAY_STREAM_NOT_FOUND, &description, out)
            });
            if let Some(conn) = self.lookup(id) {
                conn.wait_deadline = None;
                conn.life = Lifecycle::CloseAfterFlush(CloseReason::Refused("stream not found"));
            }
            self.mark_dirty(id);
        }
    }

    /// An upstream connection is being forgotten: retry while viewers wait.
    pub(super) fn relay_closed(
        &mut self,
        key: &Rc<str>,
        id: ConnId,
        reason: Option<&CloseReason>,
        now: u64,
    ) {
        let push = match self.get(id).map(|c| &c.proto) {
            Some(Protocol::Relay(r)) => r.push,
            _ => None,
        };
        match (reason, push) {
            (Some(CloseReason::RelayEnded | CloseReason::RelayIdle) | None, _) => {}
            (Some(other), None) => info!("{id} pull {key}: upstream closed: {other}"),
            (Some(other), Some(n)) => info!("{id} push {key} #{n}: target closed: {other}"),
        }
        if let Some(n) = push {
            if self.push_conn(key, n) == Some(id) {
                self.push_retry(key, n, now);
            }
            return;
        }
        if self.pulls.get(key).is_some_and(|p| p.conn == Some(id)) {
            self.pull_retry(key, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hops_come_from_the_flash_ver_mark() {
        assert_eq!(relay_hops("LNX 9,0,124,2 rtmp-edge-relay/3"), 3);
        assert_eq!(relay_hops("FMLE/3.0 (compatible; Lavf61.7.100)"), 0);
        assert_eq!(relay_hops("rtmp-edge-relay/x"), 0);
    }
}
