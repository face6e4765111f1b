//! A connection as the driver sees it: the transport and its readiness.
//! Everything else about the connection lives in the endpoint under the
//! same [`ConnId`].

use std::io::{self, IoSlice, Read, Write};
use std::net::SocketAddr;

use mio::event::Source;
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use crate::tls::TlsStream;

use super::token::ConnId;

/// The byte stream under a connection's protocol: plain TCP, or TLS that
/// decrypts on read and encrypts on write, so the endpoint and the fan-out
/// never know which transport a viewer uses.
#[derive(Debug)]
pub enum Transport {
    Tcp(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Transport {
    pub fn socket(&mut self) -> &mut TcpStream {
        match self {
            Transport::Tcp(s) => s,
            Transport::Tls(t) => &mut t.sock,
        }
    }

    pub fn register(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        self.socket()
            .register(registry, token, Interest::READABLE | Interest::WRITABLE)
    }

    pub fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        self.socket().deregister(registry)
    }

    /// Write what the transport itself holds (TLS records) until the socket
    /// would block; called on every writable edge.
    pub fn flush_pending(&mut self) -> io::Result<()> {
        match self {
            Transport::Tcp(_) => Ok(()),
            Transport::Tls(t) => match t.flush_tls() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
                other => other,
            },
        }
    }

    /// Whether a read that returns less than asked proves the socket empty:
    /// true for plain TCP (the kernel hands over all it has), false for TLS,
    /// whose reader returns one record's plaintext at a time.
    pub fn short_read_drains(&self) -> bool {
        matches!(self, Transport::Tcp(_))
    }

    /// The TLS failure behind an I/O error, if any.
    pub fn tls_error(&self) -> Option<&str> {
        match self {
            Transport::Tcp(_) => None,
            Transport::Tls(t) => t.error(),
        }
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Tcp(s) => s.read(buf),
            Transport::Tls(t) => t.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Tcp(s) => s.write(buf),
            Transport::Tls(t) => t.write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Transport::Tcp(s) => s.write_vectored(bufs),
            Transport::Tls(t) => t.write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Tcp(s) => s.flush(),
            Transport::Tls(t) => t.flush(),
        }
    }
}

/// Readiness as last reported by an edge, cleared only by WouldBlock.
#[derive(Debug)]
pub struct IoConn {
    pub id: ConnId,
    pub peer: SocketAddr,
    pub transport: Transport,
    pub readable: bool,
    pub writable: bool,
    /// On the driver's still-readable list.
    pub in_still_readable: bool,
    /// An edge reported the peer's close (or an error): read until EOF,
    /// never stop at a short read (no later edge would come for it).
    pub read_closed: bool,
}

impl IoConn {
    pub fn new(id: ConnId, peer: SocketAddr, transport: Transport) -> IoConn {
        IoConn {
            id,
            peer,
            transport,
            readable: false,
            writable: false,
            in_still_readable: false,
            read_closed: false,
        }
    }
}
