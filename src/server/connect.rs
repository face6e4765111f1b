//! Outgoing connections for the endpoint's relays: host names are resolved
//! on a worker thread (never on the loop), which wakes the loop with the
//! result; addresses are connected without blocking (the endpoint decides
//! whether a resolved address may be connected at all).

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use log::debug;
use mio::net::TcpStream;
use mio::Waker;

use crate::tls::{self, TlsStream};

use super::conn::Transport;
use super::Server;

/// A resolved (or failed) name, by ticket.
pub type Resolved = (u64, Result<SocketAddr, String>);

/// One resolver thread.
pub struct Resolver {
    tx: Option<Sender<(u64, String, u16)>>,
    rx: Receiver<Resolved>,
    thread: Option<JoinHandle<()>>,
}

impl Resolver {
    pub fn new(waker: Arc<Waker>) -> io::Result<Resolver> {
        let (tx, jobs) = channel::<(u64, String, u16)>();
        let (results, rx) = channel();
        let thread = thread::Builder::new()
            .name("resolver".to_owned())
            .spawn(move || {
                for (ticket, host, port) in jobs {
                    let found = (host.as_str(), port)
                        .to_socket_addrs()
                        .map_err(|e| format!("cannot resolve {host}: {e}"))
                        .and_then(|mut addrs| {
                            addrs.next().ok_or_else(|| format!("{host} has no address"))
                        });
                    if results.send((ticket, found)).is_err() {
                        break;
                    }
                    let _ = waker.wake();
                }
                debug!("resolver thread exits");
            })?;
        Ok(Resolver {
            tx: Some(tx),
            rx,
            thread: Some(thread),
        })
    }

    pub fn submit(&self, ticket: u64, host: String, port: u16) {
        if let Some(tx) = &self.tx {
            let _ = tx.send((ticket, host, port));
        }
    }

    pub fn try_results(&self, out: &mut Vec<Resolved>) {
        out.extend(self.rx.try_iter());
    }
}

impl Drop for Resolver {
    fn drop(&mut self) {
        // Closing the channel ends the thread after its current lookup; a
        // lookup that hangs is not waited for.
        self.tx.take();
        if let Some(t) = self.thread.take() {
            if t.is_finished() {
                let _ = t.join();
            }
        }
    }
}

impl Server {
    /// Open the connections the endpoint asks for: addresses at once, names
    /// through the resolver thread.
    pub(super) fn start_connects(&mut self, now: u64) {
        while let Some(job) = self.endpoint.poll_connect() {
            let host = job.host.trim_start_matches('[').trim_end_matches(']');
            let tls = job.tls.map(|v| (host.to_string(), v));
            match host.parse::<std::net::IpAddr>() {
                Ok(ip) => self.connect_to(job.ticket, SocketAddr::new(ip, job.port), tls, now),
                Err(_) => match self.resolver.as_ref() {
                    Some(r) => {
                        self.resolving.insert(job.ticket, tls);
                        r.submit(job.ticket, job.host, job.port);
                    }
                    None => self
                        .endpoint
                        .handle_connect_failed(job.ticket, "no resolver", now),
                },
            }
        }
    }

    /// The resolver woke the loop: connect what it found.
    pub(super) fn on_resolved(&mut self, now: u64) {
        let mut found = Vec::new();
        if let Some(r) = self.resolver.as_ref() {
            r.try_results(&mut found);
        }
        for (ticket, result) in found {
            let tls = self.resolving.remove(&ticket).flatten();
            match result {
                Ok(addr) => self.connect_to(ticket, addr, tls, now),
                Err(e) => self.endpoint.handle_connect_failed(ticket, &e, now),
            }
        }
    }

    /// A non-blocking connect to `addr` for the endpoint's `ticket`.
    fn connect_to(
        &mut self,
        ticket: u64,
        addr: SocketAddr,
        tls: Option<(String, crate::client::TlsVerify)>,
        now: u64,
    ) {
        if !self.endpoint.allow_connect(ticket, addr, now) {
            return;
        }
        let socket = match TcpStream::connect(addr) {
            Ok(s) => s,
            Err(e) => {
                self.endpoint
                    .handle_connect_failed(ticket, &e.to_string(), now);
                return;
            }
        };
        if let Err(e) = socket.set_nodelay(true) {
            debug!("{addr}: set_nodelay: {e}");
        }
        let local = socket.local_addr().ok();
        let transport = match tls {
            None => Transport::Tcp(socket),
            Some((host, verify)) => {
                let stream = tls::client_config(&verify)
                    .map_err(|e| e.to_string())
                    .and_then(|config| {
                        TlsStream::client(socket, config, &host).map_err(|e| e.to_string())
                    });
                match stream {
                    Ok(s) => Transport::Tls(Box::new(s)),
                    Err(e) => {
                        self.endpoint
                            .handle_connect_failed(ticket, &format!("TLS: {e}"), now);
                        return;
                    }
                }
            }
        };
        let id = match self.register_conn(transport, addr) {
            Ok(id) => id,
            Err(e) => {
                self.endpoint
                    .handle_connect_failed(ticket, &e.to_string(), now);
                return;
            }
        };
        if let Some(local) = local {
            self.relay_locals.insert(local, id);
        }
        if !self.endpoint.handle_connected(ticket, id, addr, now) {
            let mut conn = self.conns.remove(id.index as usize);
            let _ = conn.transport.deregister(self.poll.registry());
        }
    }
}
