//! A connection as the driver sees it: the transport and its readiness.
//! Everything else about the connection lives in the endpoint under the
//! same [`ConnId`].

use std::io::{self, IoSlice, Read, Write};
use std::net::SocketAddr;

use mio::event::Source;
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use super::token::ConnId;

/// The byte stream under a connection's protocol. Plain TCP now; TLS will
/// be a second variant that decrypts on read and encrypts on write, so the
/// endpoint and the fan-out never know which transport a viewer uses.
#[derive(Debug)]
pub enum Transport {
    Tcp(TcpStream),
}

impl Transport {
    pub fn register(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        match self {
            Transport::Tcp(s) => {
                s.register(registry, token, Interest::READABLE | Interest::WRITABLE)
            }
        }
    }

    pub fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        match self {
            Transport::Tcp(s) => s.deregister(registry),
        }
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Tcp(s) => s.write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Transport::Tcp(s) => s.write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Tcp(s) => s.flush(),
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
        }
    }
}
