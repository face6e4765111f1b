//! Accepting: the listeners (with their backlog and SO_REUSEPORT), accept
//! until WouldBlock, the max-connections and own-relay checks, socket
//! options, and registration of each new connection.

use std::io as stdio;
use std::net::SocketAddr;
use std::time::Duration;

use log::{debug, warn};
use mio::net::{TcpListener, TcpStream};
use socket2::{SockRef, TcpKeepalive};

use crate::tls::TlsStream;

use super::conn::{IoConn, Transport};
use super::token::{self, ConnId};
use super::{Server, ACCEPT_RETRY_MS};

/// The listener a connection came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Listener {
    Rtmp,
    Rtmps,
    Http,
    Https,
}

impl Listener {
    pub(super) fn is_tls(self) -> bool {
        matches!(self, Listener::Rtmps | Listener::Https)
    }
}

/// TCP keepalive: first probe after this much silence, then every
/// interval; the kernel drops the connection after the probes go unanswered.
const KEEPALIVE_IDLE_S: u64 = 60;
const KEEPALIVE_INTERVAL_S: u64 = 10;
const KEEPALIVE_PROBES: u32 = 3;
impl Server {
    pub(super) fn accept_ready(&mut self, now: u64) {
        let retry = self.accept_retry_at.is_some_and(|t| t <= now);
        self.accept_retry_at = None;
        for kind in [
            Listener::Rtmp,
            Listener::Rtmps,
            Listener::Http,
            Listener::Https,
        ] {
            let pending = match kind {
                Listener::Rtmp => &mut self.accept_pending,
                Listener::Rtmps => &mut self.tls_accept_pending,
                Listener::Http => &mut self.http_accept_pending,
                Listener::Https => &mut self.https_accept_pending,
            };
            if std::mem::take(pending) || retry {
                let accepted = self.accept_from(kind, now);
                self.insert_accepted(accepted, kind, now);
            }
        }
    }

    /// Accept from one listener until it would block.
    fn accept_from(&mut self, kind: Listener, now: u64) -> Vec<(TcpStream, SocketAddr)> {
        let mut accepted = Vec::new();
        let listener = match kind {
            Listener::Rtmp => self.listener.as_ref(),
            Listener::Rtmps => self.tls_listener.as_ref(),
            Listener::Http => self.http_listener.as_ref(),
            Listener::Https => self.https_listener.as_ref(),
        };
        let Some(listener) = listener else {
            return accepted;
        };
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
        accepted
    }

    fn insert_accepted(
        &mut self,
        accepted: Vec<(TcpStream, SocketAddr)>,
        kind: Listener,
        now: u64,
    ) {
        for (socket, peer) in accepted {
            if let Some(relay) = self.relay_locals.get(&peer) {
                warn!("refusing {peer}: it is this server's own relay connection {relay} (a loop)");
                self.endpoint.handle_refused_loop(*relay);
                continue;
            }
            if self.conns.len() >= self.max_connections {
                self.endpoint.handle_refused_over_max();
                if let Some(suppressed) = self.accept_warn.allow(now) {
                    warn!(
                        "refusing {peer}: max-connections {} reached ({} similar suppressed)",
                        self.max_connections, suppressed
                    );
                }
                drop(socket);
                continue;
            }
            let transport = match (&self.tls_config, kind.is_tls()) {
                (Some(config), true) => match TlsStream::new(socket, config.clone()) {
                    Ok(stream) => Transport::Tls(Box::new(stream)),
                    Err(e) => {
                        warn!("{peer}: cannot start TLS: {e}");
                        continue;
                    }
                },
                _ => Transport::Tcp(socket),
            };
            self.insert_conn(transport, peer, kind, now);
        }
    }

    /// Give a new socket a slab slot, a fresh generation and its poll token.
    pub(super) fn register_conn(
        &mut self,
        mut transport: Transport,
        peer: SocketAddr,
    ) -> stdio::Result<ConnId> {
        let generation = self.next_generation;
        self.next_generation = self.next_generation.wrapping_add(1).max(1);
        let entry = self.conns.vacant_entry();
        let id = ConnId {
            index: entry.key() as u32,
            generation,
        };
        transport.register(self.poll.registry(), token::token(id))?;
        entry.insert(IoConn::new(id, peer, transport));
        Ok(id)
    }

    fn insert_conn(
        &mut self,
        mut transport: Transport,
        peer: SocketAddr,
        kind: Listener,
        now: u64,
    ) {
        let socket = transport.socket();
        if let Err(e) = socket.set_nodelay(true) {
            debug!("{peer}: set_nodelay: {e}");
        }
        // A peer that vanished without a FIN (power loss, NAT timeout) is
        // found by the kernel even while we have nothing to send it.
        let keepalive = TcpKeepalive::new()
            .with_time(Duration::from_secs(KEEPALIVE_IDLE_S))
            .with_interval(Duration::from_secs(KEEPALIVE_INTERVAL_S))
            .with_retries(KEEPALIVE_PROBES);
        if let Err(e) = SockRef::from(&*socket).set_tcp_keepalive(&keepalive) {
            debug!("{peer}: TCP keepalive: {e}");
        }
        let id = match self.register_conn(transport, peer) {
            Ok(id) => id,
            Err(e) => {
                warn!("{peer}: register failed: {e}");
                return;
            }
        };
        match kind {
            Listener::Http | Listener::Https => self.endpoint.handle_accept_http(id, peer, now),
            Listener::Rtmp | Listener::Rtmps => self.endpoint.handle_accept(id, peer, now),
        }
    }
}

/// Pending connections a listener holds before the kernel drops SYNs
/// (mio's own bind uses 128, too few for a connection flood).
pub(super) const LISTEN_BACKLOG: i32 = 1024;

/// A non-blocking listener on `addr` with [`LISTEN_BACKLOG`] (and
/// SO_REUSEPORT when `reuse_port`).
pub(super) fn listen(addr: SocketAddr, reuse_port: bool) -> stdio::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(TcpListener::from_std(socket.into()))
}
