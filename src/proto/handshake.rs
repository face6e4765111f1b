//! RTMP version 3 handshake ("simple" form), server and client roles.
//!
//! # Wire layout (Adobe RTMP 1.0, section 5.2)
//!
//! * C0/S0: one byte, the version. Only 3 is accepted; any other first byte
//!   fails with [`HandshakeError::BadVersion`] as soon as that byte arrives.
//! * C1/S1: 1536 bytes = time (4, big-endian ms, the `epoch_ms` given to
//!   `new`) + 4 zero bytes + 1528 random bytes from the caller's RNG.
//! * C2/S2: 1536 bytes echoing the peer's C1/S1.
//!
//! The specification says bytes 4-7 of C2/S2 ("time2") should hold the time
//! at which the peer's C1/S1 was read. We echo the peer's packet *unchanged*
//! instead, bytes 4-7 included, as nginx-rtmp and other simple-handshake
//! servers do: no client we interoperate with (ffmpeg, OBS, librtmp,
//! GStreamer) checks time2, and a pure echo keeps S2 a function of C1 alone, so
//! handshakes are byte-exact under a seeded RNG without a second clock input.
//!
//! Clients that speak the digest ("complex") form, like ffmpeg and OBS, put a
//! non-zero version in C1 bytes 4-7 (e.g. `09 00 7c 02`). The server accepts
//! such a C1 and answers with the simple form: because our S1 bytes 4-7 are
//! zero, those clients skip digest validation and echo S1 in C2.
//! The server never rejects a C2 that differs from its S1 (an ffmpeg C2 is
//! derived from a digest, not an echo); [`ServerHandshake::c2_echoed_s1`]
//! reports it for logging only.
//!
//! # Driving rules (caller contract)
//!
//! Server ([`ServerHandshake`]):
//! 1. `new(epoch_ms)`, then call `feed(input, out, rng)` whenever bytes arrive,
//!    with the connection's inbound buffer. Any amount of input works, down to
//!    one byte per call; consumed bytes are split off the front of `input`.
//! 2. The call that completes C0C1 appends S0S1S2 (3073 bytes) to `out` once;
//!    send them. No other call writes to `out`.
//! 3. When `feed` returns [`Progress::Done`], C2 has been consumed and every
//!    byte after it is still in `input`, untouched: hand it to the chunk
//!    reader. Calling `feed` again returns [`HandshakeError::AlreadyDone`].
//!
//! Client ([`ClientHandshake`]):
//! 1. `new(epoch_ms)`, then `start(out, rng)` once: it appends C0C1.
//! 2. `feed(input, out)` with inbound bytes; the call that completes S1
//!    appends C2 (an echo of S1) to `out`. `Done` comes once S2 is complete;
//!    bytes after S2 stay in `input`. `feed` before `start` returns
//!    [`HandshakeError::NotStarted`].
//!
//! After an error the handshake stays failed: later `feed` calls return the
//! same error and consume nothing; the connection should be closed.
//!
//! ```text
//! server:  ReadC0 --3--> ReadC1 --1536 B, write S0S1S2--> ReadC2 --1536 B--> Done
//! client:  Idle --start: write C0C1--> ReadS0 --3--> ReadS1 --1536 B, write C2--> ReadS2 --1536 B--> Done
//!          (any other version byte) --> Failed(BadVersion)
//! ```

use std::fmt;

use bytes::{Buf, BufMut, BytesMut};
use log::{debug, error, trace};
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
    /// Client `feed` called before `start` (a driver bug).
    NotStarted,
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeError::BadVersion(v) => {
                write!(f, "unsupported RTMP handshake version {v} (expected 3)")
            }
            HandshakeError::AlreadyDone => f.write_str("handshake fed after it completed"),
            HandshakeError::NotStarted => {
                f.write_str("client handshake fed before start wrote C0C1")
            }
        }
    }
}

impl std::error::Error for HandshakeError {}

/// Time (bytes 0-3) and version (bytes 4-7) of a peer's C1 or S1, kept for
/// logging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerInfo {
    /// The peer's epoch in ms (big-endian bytes 0-3).
    pub time: u32,
    /// Bytes 4-7: zero in the simple handshake, a version such as
    /// `09 00 7c 02` from digest-handshake clients (ffmpeg, OBS).
    pub version: [u8; 4],
}

impl PeerInfo {
    fn from_packet(p: &[u8; HANDSHAKE_SIZE]) -> Self {
        PeerInfo {
            time: u32::from_be_bytes([p[0], p[1], p[2], p[3]]),
            version: [p[4], p[5], p[6], p[7]],
        }
    }

    /// True when bytes 4-7 are non-zero (the peer offers the digest form).
    pub fn is_digest_form(&self) -> bool {
        self.version != [0; 4]
    }
}

/// Build our C1/S1: time, four zero bytes, 1528 random bytes.
fn make_packet(epoch_ms: u32, rng: &mut dyn RngCore) -> Box<[u8; HANDSHAKE_SIZE]> {
    let mut p = Box::new([0u8; HANDSHAKE_SIZE]);
    p[0..4].copy_from_slice(&epoch_ms.to_be_bytes());
    rng.fill_bytes(&mut p[8..]);
    p
}

/// Copy up to `HANDSHAKE_SIZE - *have` bytes from the front of `input` into
/// `dst[*have..]`; returns true once `dst` is full.
fn fill(dst: &mut [u8; HANDSHAKE_SIZE], have: &mut usize, input: &mut BytesMut) -> bool {
    let n = (HANDSHAKE_SIZE - *have).min(input.len());
    dst[*have..*have + n].copy_from_slice(&input[..n]);
    input.advance(n);
    *have += n;
    *have == HANDSHAKE_SIZE
}

/// Consume up to `HANDSHAKE_SIZE - *have` bytes of an echo packet, comparing
/// them with `expected`; returns true once the whole packet was read.
fn skip_echo(
    expected: &[u8; HANDSHAKE_SIZE],
    have: &mut usize,
    matches: &mut bool,
    input: &mut BytesMut,
) -> bool {
    let n = (HANDSHAKE_SIZE - *have).min(input.len());
    if *matches && input[..n] != expected[*have..*have + n] {
        *matches = false;
    }
    input.advance(n);
    *have += n;
    *have == HANDSHAKE_SIZE
}

#[derive(Debug)]
enum ServerState {
    ReadC0,
    ReadC1 { have: usize },
    ReadC2 { have: usize },
    Done,
    Failed(HandshakeError),
}

/// Server side: reads C0C1, writes S0S1S2, reads C2.
#[derive(Debug)]
pub struct ServerHandshake {
    epoch_ms: u32,
    state: ServerState,
    /// The peer's C1 while it arrives (echoed as S2).
    c1: Box<[u8; HANDSHAKE_SIZE]>,
    /// Our S1 once written (C2 is compared against it, for logging only).
    s1: Option<Box<[u8; HANDSHAKE_SIZE]>>,
    peer: Option<PeerInfo>,
    c2_matches: bool,
}

impl ServerHandshake {
    /// `epoch_ms` is the server time written into S1 (bytes 0-3); S1 bytes
    /// 4-7 are zero.
    pub fn new(epoch_ms: u32) -> Self {
        ServerHandshake {
            epoch_ms,
            state: ServerState::ReadC0,
            c1: Box::new([0u8; HANDSHAKE_SIZE]),
            s1: None,
            peer: None,
            c2_matches: true,
        }
    }

    /// Consume handshake bytes from the front of `input`; see the module
    /// docs. S0S1S2 is appended to `out` by the call that completes C1.
    pub fn feed(
        &mut self,
        input: &mut BytesMut,
        out: &mut BytesMut,
        rng: &mut dyn RngCore,
    ) -> Result<Progress, HandshakeError> {
        loop {
            match &mut self.state {
                ServerState::Failed(e) => return Err(e.clone()),
                ServerState::Done => return Err(HandshakeError::AlreadyDone),
                ServerState::ReadC0 => {
                    let Some(&v) = input.first() else {
                        return Ok(Progress::InProgress);
                    };
                    if v != RTMP_VERSION {
                        debug!("handshake: C0 version {v} rejected");
                        let e = HandshakeError::BadVersion(v);
                        self.state = ServerState::Failed(e.clone());
                        return Err(e);
                    }
                    input.advance(1);
                    self.state = ServerState::ReadC1 { have: 0 };
                }
                ServerState::ReadC1 { have } => {
                    if !fill(&mut self.c1, have, input) {
                        return Ok(Progress::InProgress);
                    }
                    let peer = PeerInfo::from_packet(&self.c1);
                    debug!(
                        "handshake: C1 time {} version {:02x?}, writing S0S1S2",
                        peer.time, peer.version
                    );
                    self.peer = Some(peer);
                    let s1 = make_packet(self.epoch_ms, rng);
                    out.reserve(1 + 2 * HANDSHAKE_SIZE);
                    out.put_u8(RTMP_VERSION);
                    out.put_slice(&s1[..]);
                    out.put_slice(&self.c1[..]);
                    self.s1 = Some(s1);
                    self.state = ServerState::ReadC2 { have: 0 };
                }
                ServerState::ReadC2 { have } => {
                    let Some(s1) = self.s1.as_deref() else {
                        // S1 is always set before ReadC2 is entered.
                        error!("handshake: server in ReadC2 without S1");
                        debug_assert!(false, "server in ReadC2 without S1");
                        return Ok(Progress::InProgress);
                    };
                    if !skip_echo(s1, have, &mut self.c2_matches, input) {
                        return Ok(Progress::InProgress);
                    }
                    debug!(
                        "handshake: C2 read ({}), done; {} bytes left for chunks",
                        if self.c2_matches {
                            "echoes S1"
                        } else {
                            "differs from S1"
                        },
                        input.len()
                    );
                    self.state = ServerState::Done;
                    return Ok(Progress::Done);
                }
            }
        }
    }

    /// True once C2 has been read.
    pub fn is_done(&self) -> bool {
        matches!(self.state, ServerState::Done)
    }

    /// The peer's C1 time and version bytes, once C1 is complete.
    pub fn peer_info(&self) -> Option<PeerInfo> {
        self.peer
    }

    /// Whether the C2 bytes read so far equal our S1 (`None` before S1 was
    /// sent). Informational: a differing C2 is accepted.
    pub fn c2_echoed_s1(&self) -> Option<bool> {
        self.s1.as_ref().map(|_| self.c2_matches)
    }
}

#[derive(Debug)]
enum ClientState {
    Idle,
    ReadS0,
    ReadS1 { have: usize },
    ReadS2 { have: usize },
    Done,
    Failed(HandshakeError),
}

/// Client side: `start` writes C0C1, then `feed` reads S0S1S2 and writes C2.
#[derive(Debug)]
pub struct ClientHandshake {
    epoch_ms: u32,
    state: ClientState,
    /// Our C1 once written (S2 is compared against it).
    c1: Option<Box<[u8; HANDSHAKE_SIZE]>>,
    /// The peer's S1 while it arrives (echoed as C2).
    s1: Box<[u8; HANDSHAKE_SIZE]>,
    peer: Option<PeerInfo>,
    s2_matches: bool,
}

impl ClientHandshake {
    /// `epoch_ms` is the client time written into C1 (bytes 0-3); C1 bytes
    /// 4-7 are zero.
    pub fn new(epoch_ms: u32) -> Self {
        ClientHandshake {
            epoch_ms,
            state: ClientState::Idle,
            c1: None,
            s1: Box::new([0u8; HANDSHAKE_SIZE]),
            peer: None,
            s2_matches: true,
        }
    }

    /// Write C0 and C1 to `out`. Only the first call writes; later calls are
    /// logged as a driver bug and ignored.
    pub fn start(&mut self, out: &mut BytesMut, rng: &mut dyn RngCore) {
        if !matches!(self.state, ClientState::Idle) {
            error!("handshake: client start called twice; ignored");
            return;
        }
        let c1 = make_packet(self.epoch_ms, rng);
        out.reserve(1 + HANDSHAKE_SIZE);
        out.put_u8(RTMP_VERSION);
        out.put_slice(&c1[..]);
        self.c1 = Some(c1);
        self.state = ClientState::ReadS0;
        debug!("handshake: client wrote C0C1");
    }

    /// Consume handshake bytes from the front of `input`; see the module
    /// docs. C2 is appended to `out` by the call that completes S1.
    pub fn feed(
        &mut self,
        input: &mut BytesMut,
        out: &mut BytesMut,
    ) -> Result<Progress, HandshakeError> {
        loop {
            match &mut self.state {
                ClientState::Idle => return Err(HandshakeError::NotStarted),
                ClientState::Failed(e) => return Err(e.clone()),
                ClientState::Done => return Err(HandshakeError::AlreadyDone),
                ClientState::ReadS0 => {
                    let Some(&v) = input.first() else {
                        return Ok(Progress::InProgress);
                    };
                    if v != RTMP_VERSION {
                        debug!("handshake: S0 version {v} rejected");
                        let e = HandshakeError::BadVersion(v);
                        self.state = ClientState::Failed(e.clone());
                        return Err(e);
                    }
                    input.advance(1);
                    self.state = ClientState::ReadS1 { have: 0 };
                }
                ClientState::ReadS1 { have } => {
                    if !fill(&mut self.s1, have, input) {
                        return Ok(Progress::InProgress);
                    }
                    let peer = PeerInfo::from_packet(&self.s1);
                    debug!(
                        "handshake: S1 time {} version {:02x?}, writing C2",
                        peer.time, peer.version
                    );
                    self.peer = Some(peer);
                    out.put_slice(&self.s1[..]);
                    self.state = ClientState::ReadS2 { have: 0 };
                }
                ClientState::ReadS2 { have } => {
                    let Some(c1) = self.c1.as_deref() else {
                        error!("handshake: client in ReadS2 without C1");
                        debug_assert!(false, "client in ReadS2 without C1");
                        return Ok(Progress::InProgress);
                    };
                    if !skip_echo(c1, have, &mut self.s2_matches, input) {
                        return Ok(Progress::InProgress);
                    }
                    trace!("handshake: S2 echoes C1: {}", self.s2_matches);
                    debug!(
                        "handshake: client done; {} bytes left for chunks",
                        input.len()
                    );
                    self.state = ClientState::Done;
                    return Ok(Progress::Done);
                }
            }
        }
    }

    /// True once S2 has been read.
    pub fn is_done(&self) -> bool {
        matches!(self.state, ClientState::Done)
    }

    /// The peer's S1 time and version bytes, once S1 is complete.
    pub fn peer_info(&self) -> Option<PeerInfo> {
        self.peer
    }

    /// Whether the S2 bytes read so far equal our C1 (`None` before `start`).
    /// Informational: a differing S2 is accepted.
    pub fn s2_echoed_c1(&self) -> Option<bool> {
        self.c1.as_ref().map(|_| self.s2_matches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_bad_version() {
        assert_eq!(
            HandshakeError::BadVersion(6).to_string(),
            "unsupported RTMP handshake version 6 (expected 3)"
        );
    }

    #[test]
    fn display_already_done() {
        assert_eq!(
            HandshakeError::AlreadyDone.to_string(),
            "handshake fed after it completed"
        );
    }

    #[test]
    fn display_not_started() {
        assert_eq!(
            HandshakeError::NotStarted.to_string(),
            "client handshake fed before start wrote C0C1"
        );
    }

    #[test]
    fn error_is_std_error() {
        let e: Box<dyn std::error::Error> = Box::new(HandshakeError::BadVersion(255));
        assert_eq!(
            e.to_string(),
            "unsupported RTMP handshake version 255 (expected 3)"
        );
    }

    #[test]
    fn peer_info_digest_form() {
        let mut p = [0u8; HANDSHAKE_SIZE];
        p[..8].copy_from_slice(&[0, 0, 1, 2, 9, 0, 0x7c, 2]);
        let info = PeerInfo::from_packet(&p);
        assert_eq!(info.time, 258);
        assert_eq!(info.version, [9, 0, 0x7c, 2]);
        assert!(info.is_digest_form());
        assert!(!PeerInfo::from_packet(&[0u8; HANDSHAKE_SIZE]).is_digest_form());
    }
}
