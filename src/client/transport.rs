//! One non-blocking client socket: mio connect procedure, handshake, buffered
//! reads and writes. Shared by the single-connection API and the
//! multi-connection driver.

use std::io::{self, Read, Write};
use std::net::SocketAddr;

use bytes::{Buf, BytesMut};
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use rustls::ClientConnection;
use rustls_pki_types::ServerName;

use crate::proto::handshake::{ClientHandshake, Progress};

use super::error::{ClientError, Step};
use super::url::TlsVerify;

/// Bytes asked of the kernel per `read` call.
pub(crate) const READ_CHUNK: usize = 256 * 1024;
/// Bytes read from one socket per readable event before yielding to others.
pub(crate) const READ_BUDGET: usize = 4 * 1024 * 1024;

pub(crate) struct Transport {
    pub sock: TcpStream,
    pub connected: bool,
    pub hs: ClientHandshake,
    pub hs_done: bool,
    pub inbuf: BytesMut,
    pub out: BytesMut,
    pub writable: bool,
    pub eof: bool,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// `rtmps://`: the TLS layer between the socket and `inbuf`/`out`.
    tls: Option<Box<ClientConnection>>,
}

/// The TLS client for `host` with `verify`.
fn tls_client(host: &str, verify: &TlsVerify) -> Result<Box<ClientConnection>, ClientError> {
    let tls_err = |reason: String| ClientError::Tls {
        step: Step::Connect,
        reason,
    };
    let config = crate::tls::client_config(verify).map_err(|e| tls_err(e.0))?;
    let name = ServerName::try_from(host.to_owned())
        .map_err(|e| tls_err(format!("{host:?} is not a valid TLS server name: {e}")))?;
    let conn = ClientConnection::new(config, name).map_err(|e| tls_err(e.to_string()))?;
    Ok(Box::new(conn))
}

impl Transport {
    /// Start a non-blocking connect and register for both directions.
    pub fn connect(
        addr: SocketAddr,
        registry: &Registry,
        token: Token,
        tls: Option<(&str, &TlsVerify)>,
    ) -> Result<Self, ClientError> {
        let tls = match tls {
            Some((host, verify)) => Some(tls_client(host, verify)?),
            None => None,
        };
        let io = |kind| ClientError::Io {
            step: Step::Connect,
            kind,
        };
        let mut sock = TcpStream::connect(addr).map_err(|e| io(e.kind()))?;
        registry
            .register(&mut sock, token, Interest::READABLE | Interest::WRITABLE)
            .map_err(|e| io(e.kind()))?;
        Ok(Transport {
            sock,
            connected: false,
            hs: ClientHandshake::new(0),
            hs_done: false,
            inbuf: BytesMut::with_capacity(64 * 1024),
            out: BytesMut::with_capacity(64 * 1024),
            writable: false,
            eof: false,
            bytes_in: 0,
            bytes_out: 0,
            tls,
        })
    }

    /// No RTMP handshake on this connection (HTTP): nothing is queued on
    /// connect and [`drive_handshake`](Self::drive_handshake) is done at once.
    pub fn without_handshake(mut self) -> Self {
        self.hs_done = true;
        self
    }

    /// mio's connect procedure, on a writable (or error) event: check
    /// `take_error`, then `peer_addr`. `Ok(true)` once connected (C0C1 is then
    /// queued, unless [`without_handshake`](Self::without_handshake));
    /// `Ok(false)` if the connect is still in progress.
    pub fn check_connected(&mut self) -> Result<bool, ClientError> {
        if self.connected {
            return Ok(true);
        }
        let io = |e: io::Error| ClientError::Io {
            step: Step::Connect,
            kind: e.kind(),
        };
        if let Some(e) = self.sock.take_error().map_err(io)? {
            return Err(io(e));
        }
        match self.sock.peer_addr() {
            Ok(_) => {
                self.connected = true;
                let _ = self.sock.set_nodelay(true);
                if !self.hs_done {
                    self.hs.start(&mut self.out, &mut rand::rng());
                }
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(e) => Err(io(e)),
        }
    }

    /// Read until `WouldBlock`, end of stream or the per-turn budget. Returns
    /// the bytes read; sets `eof` on end of stream.
    ///
    /// Reads go into the caller's `scratch` (initialised once, reused by
    /// every connection of a driver) and are appended to `inbuf`: without
    /// `unsafe` a `BytesMut`'s spare capacity cannot be handed to `read`,
    /// and zeroing a large region before every read would cost more than
    /// copying the bytes that actually arrived.
    pub fn read(&mut self, step: Step, scratch: &mut [u8]) -> Result<usize, ClientError> {
        if self.tls.is_some() {
            return self.read_tls(step, scratch);
        }
        let mut total = 0;
        while total < READ_BUDGET && !self.eof {
            match self.sock.read(scratch) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    self.inbuf.extend_from_slice(&scratch[..n]);
                    total += n;
                }
                Err(e) => match e.kind() {
                    io::ErrorKind::WouldBlock => break,
                    io::ErrorKind::Interrupted => continue,
                    kind => return Err(ClientError::Io { step, kind }),
                },
            }
        }
        self.bytes_in += total as u64;
        Ok(total)
    }

    /// `read` through TLS: records from the socket, plaintext into `inbuf`.
    fn read_tls(&mut self, step: Step, scratch: &mut [u8]) -> Result<usize, ClientError> {
        let Some(tls) = self.tls.as_mut() else {
            return Ok(0);
        };
        let mut total = 0;
        while total < READ_BUDGET && !self.eof {
            match tls.read_tls(&mut self.sock) {
                Ok(0) => self.eof = true,
                Ok(_) => {}
                Err(e) => match e.kind() {
                    io::ErrorKind::WouldBlock => break,
                    io::ErrorKind::Interrupted => continue,
                    kind => return Err(ClientError::Io { step, kind }),
                },
            }
            tls.process_new_packets().map_err(|e| ClientError::Tls {
                step,
                reason: e.to_string(),
            })?;
            loop {
                match tls.reader().read(scratch) {
                    Ok(0) => {
                        self.eof = true;
                        break;
                    }
                    Ok(n) => {
                        self.inbuf.extend_from_slice(&scratch[..n]);
                        total += n;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => {
                        return Err(ClientError::Io {
                            step,
                            kind: e.kind(),
                        })
                    }
                }
            }
        }
        self.bytes_in += total as u64;
        // Handshake answers go out at once.
        self.flush(step)?;
        Ok(total)
    }

    /// True if the last read stopped on the budget (more may be waiting).
    pub fn read_budget_hit(read: usize) -> bool {
        read >= READ_BUDGET
    }

    /// Write pending output until empty or `WouldBlock` (which clears
    /// `writable`; the next writable event sets it again).
    pub fn flush(&mut self, step: Step) -> Result<(), ClientError> {
        if let Some(tls) = self.tls.as_mut() {
            // Plaintext goes into rustls (it buffers until the handshake is
            // done); records go to the socket.
            if self.connected && !self.out.is_empty() {
                let n = self.out.len();
                io::Write::write_all(&mut tls.writer(), &self.out).map_err(|e| {
                    ClientError::Io {
                        step,
                        kind: e.kind(),
                    }
                })?;
                self.out.advance(n);
                self.bytes_out += n as u64;
            }
            while self.connected && self.writable && tls.wants_write() {
                match tls.write_tls(&mut self.sock) {
                    Ok(0) => return Err(ClientError::Closed(step)),
                    Ok(_) => {}
                    Err(e) => match e.kind() {
                        io::ErrorKind::WouldBlock => self.writable = false,
                        io::ErrorKind::Interrupted => {}
                        kind => return Err(ClientError::Io { step, kind }),
                    },
                }
            }
            return Ok(());
        }
        while self.connected && self.writable && !self.out.is_empty() {
            match self.sock.write(&self.out) {
                Ok(0) => return Err(ClientError::Closed(step)),
                Ok(n) => {
                    self.out.advance(n);
                    self.bytes_out += n as u64;
                }
                Err(e) => match e.kind() {
                    io::ErrorKind::WouldBlock => self.writable = false,
                    io::ErrorKind::Interrupted => {}
                    kind => return Err(ClientError::Io { step, kind }),
                },
            }
        }
        Ok(())
    }

    /// Feed received bytes to the handshake; `Ok(true)` once it is done
    /// (bytes after S2 stay in `inbuf`).
    pub fn drive_handshake(&mut self) -> Result<bool, ClientError> {
        if self.hs_done {
            return Ok(true);
        }
        if !self.connected || self.inbuf.is_empty() {
            return Ok(false);
        }
        match self.hs.feed(&mut self.inbuf, &mut self.out)? {
            Progress::Done => {
                self.hs_done = true;
                Ok(true)
            }
            Progress::InProgress => Ok(false),
        }
    }
}
