//! RTMP v3 handshake, server and client roles (SKELETON — contract only).
//!
//! Contract: `feed` consumes bytes from the front of a `BytesMut` (any amount,
//! one byte at a time works), appends bytes to send to `out`, and reports
//! progress. Bytes after C2/S2 are left in the input buffer for the chunk
//! reader. Random bytes come from a caller-supplied RNG and the epoch time
//! (ms) is passed in.

use bytes::BytesMut;
use rand::RngCore;

pub const RTMP_VERSION: u8 = 3;
pub const HANDSHAKE_SIZE: usize = 1536;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// More bytes are needed.
    InProgress,
    /// The handshake is complete; remaining input belongs to the chunk reader.
    Done,
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    /// C0/S0 version byte other than 3.
    BadVersion(u8),
    /// `feed` called after `Done`.
    AlreadyDone,
}

/// Server side: reads C0C1, writes S0S1S2, reads C2.
#[derive(Debug)]
pub struct ServerHandshake {
    _private: (),
}

impl ServerHandshake {
    /// `epoch_ms` is the server time written into S1 (bytes 0-3); S1 bytes
    /// 4-7 are zero.
    pub fn new(_epoch_ms: u32) -> Self {
        unimplemented!()
    }
    pub fn feed(
        &mut self,
        _input: &mut BytesMut,
        _out: &mut BytesMut,
        _rng: &mut dyn RngCore,
    ) -> Result<Progress, HandshakeError> {
        unimplemented!()
    }
}

/// Client side: `start` writes C0C1, then `feed` reads S0S1S2 and writes C2.
#[derive(Debug)]
pub struct ClientHandshake {
    _private: (),
}

impl ClientHandshake {
    pub fn new(_epoch_ms: u32) -> Self {
        unimplemented!()
    }
    /// Write C0 and C1 to `out`.
    pub fn start(&mut self, _out: &mut BytesMut, _rng: &mut dyn RngCore) {
        unimplemented!()
    }
    pub fn feed(
        &mut self,
        _input: &mut BytesMut,
        _out: &mut BytesMut,
    ) -> Result<Progress, HandshakeError> {
        unimplemented!()
    }
}
