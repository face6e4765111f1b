//! RTMP version 3 handshake, server and client roles, in both forms: the
//! "simple" form of the Adobe RTMP 1.0 specification (section 5.2) and the
//! "digest" (a.k.a. complex) form Flash Player, ffmpeg, OBS and nginx-rtmp
//! speak, whose arithmetic lives in [`digest`].
//!
//! # Wire layout
//!
//! * C0/S0: one byte, the version. Only 3 is accepted; any other first byte
//!   fails with [`HandshakeError::BadVersion`] as soon as that byte arrives.
//! * C1/S1, 1536 bytes: time (4, big-endian ms, the `epoch_ms` given to
//!   `new`) + version (4) + 1528 random bytes from the caller's RNG.
//!   - simple form: the version is zero;
//!   - digest form: the version is non-zero (ours: [`CLIENT_VERSION`] in C1,
//!     [`SERVER_VERSION`] in S1) and 32 of the random bytes are replaced by a
//!     digest of the packet, placed per [`DigestScheme`] 0 or 1 and keyed with
//!     the sender's partial key.
//! * C2/S2, 1536 bytes:
//!   - simple form: an echo of the peer's C1/S1;
//!   - digest form: 1504 random bytes + a 32-byte signature keyed with the
//!     peer's C1/S1 digest (see [`digest`]).
//!
//! In the simple form the specification says bytes 4-7 of C2/S2 ("time2")
//! should hold the time at which the peer's C1/S1 was read. We echo the
//! peer's packet *unchanged* instead, bytes 4-7 included, as nginx-rtmp and
//! other simple-handshake servers do: no client we interoperate with (ffmpeg,
//! OBS, librtmp, GStreamer) checks time2, and a pure echo keeps S2 a function
//! of C1 alone, so handshakes are byte-exact under a seeded RNG.
//!
//! # Which form is used
//!
//! Server ([`ServerHandshake`]): a C1 with a non-zero version is checked for a
//! digest keyed with the client partial key, scheme 1 first, then scheme 0
//! (as nginx-rtmp does). If one validates, S1 carries [`SERVER_VERSION`] and
//! a digest in the same scheme, and S2 is signed for that C1 digest; ffmpeg's
//! player validates both and fails the connection otherwise. Any other C1
//! (zero version, or no valid digest) gets the simple form exactly as before:
//! S1 bytes 4-7 zero, S2 = C1, so digest-capable clients skip validation.
//! A signed C2 is never required: ffmpeg's publisher echoes S1, only its
//! player signs C2. [`ServerHandshake::c2_signed`] and
//! [`ServerHandshake::c2_echoed_s1`] report what C2 was, for logging only.
//!
//! Client ([`ClientHandshake`]): `new` offers the digest form in scheme 0
//! (C1 version [`CLIENT_VERSION`], like ffmpeg's plain RTMP); `with_form`
//! picks scheme 1 or the simple form. If S1 has a non-zero version and a
//! valid digest keyed with the server partial key (scheme 1, then 0), C2 is
//! signed for it and S2 must carry a valid signature for our C1 digest: a
//! mismatch fails with [`HandshakeError::BadS2Signature`], because ffmpeg
//! ("Signature mismatch") and librtmp ("Server not genuine Adobe!") fail it
//! too, so no server that works with them sends one; an S2 that echoes our C1 byte for byte is accepted as
//! well (a server answering the simple way after a digest S1). If S1 has no
//! valid digest (a simple server), C2 is an echo of S1 and S2 is not checked.
//!
//! # Driving rules (caller contract)
//!
//! Server ([`ServerHandshake`]):
//! 1. `new(epoch_ms)`, then call `feed(input, out, rng)` whenever bytes arrive,
//!    with the connection's inbound buffer. Any amount of input works, down to
//!    one byte per call; consumed bytes are split off the front of `input`.
//! 2. The call that completes C0C1 appends S0S1S2 (3073 bytes) to `out` once;
//!    send them. No other call writes to `out`. The RNG is used only by that
//!    call: 1528 bytes for S1, then (digest form) 1504 bytes for S2.
//! 3. When `feed` returns [`Progress::Done`], C2 has been consumed and every
//!    byte after it is still in `input`, untouched: hand it to the chunk
//!    reader. Calling `feed` again returns [`HandshakeError::AlreadyDone`].
//!
//! Client ([`ClientHandshake`]):
//! 1. `new(epoch_ms)` (or `with_form`), then `start(out, rng)` once: it
//!    appends C0C1 and, in the digest form, also draws the 1504 random bytes
//!    of a signed C2 (after C1's 1528), since `feed` takes no RNG.
//! 2. `feed(input, out)` with inbound bytes; the call that completes S1
//!    appends C2 to `out`. `Done` comes once S2 is complete; bytes after S2
//!    stay in `input`. `feed` before `start` returns
//!    [`HandshakeError::NotStarted`].
//!
//! After an error the handshake stays failed: later `feed` calls return the
//! same error and consume nothing; the connection should be closed.
//!
//! ```text
//! server:  ReadC0 --3--> ReadC1 --1536 B: check digest, write S0S1S2--> ReadC2 --1536 B--> Done
//! client:  Idle --start: write C0C1--> ReadS0 --3--> ReadS1 --1536 B: check digest, write C2-->
//!          ReadS2 --1536 B: check signature--> Done      (bad S2 signature --> Failed(BadS2Signature))
//!          (any version byte but 3) --> Failed(BadVersion)
//! ```

mod client;
pub mod digest;
mod server;

use std::fmt;

use bytes::{Buf, BytesMut};
use rand::RngCore;

pub use client::ClientHandshake;
pub use digest::DigestScheme;
pub use server::ServerHandshake;

pub const RTMP_VERSION: u8 = 3;
pub const HANDSHAKE_SIZE: usize = 1536;
/// Bytes 4-7 of our digest-form C1: 9.0.124.2, what ffmpeg sends.
pub const CLIENT_VERSION: [u8; 4] = [0x09, 0x00, 0x7c, 0x02];
/// Bytes 4-7 of our digest-form S1: 13.14.10.13, as nginx-rtmp sends. ffmpeg
/// validates the S1 digest when the first byte is at least 3.
pub const SERVER_VERSION: [u8; 4] = [0x0D, 0x0E, 0x0A, 0x0D];

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
    /// The server's S1 carried a valid digest, but its S2 is neither signed
    /// for our C1 digest nor an echo of our C1.
    BadS2Signature,
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
            HandshakeError::BadS2Signature => {
                f.write_str("server S2 signature does not match our C1 digest")
            }
        }
    }
}

impl std::error::Error for HandshakeError {}

/// The form a handshake used (server: chosen from C1; client: the server's
/// choice, read from S1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HandshakeForm {
    /// Zero version, C2/S2 echo C1/S1.
    Simple,
    /// Digests in C1 and S1 per this scheme, signed S2 (and C2 from players).
    Digest(DigestScheme),
}

impl HandshakeForm {
    /// The scheme of the digest form, `None` for the simple form.
    pub fn digest_scheme(self) -> Option<DigestScheme> {
        match self {
            HandshakeForm::Simple => None,
            HandshakeForm::Digest(s) => Some(s),
        }
    }
}

impl fmt::Display for HandshakeForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeForm::Simple => f.write_str("simple"),
            HandshakeForm::Digest(s) => write!(f, "digest scheme {}", s.number()),
        }
    }
}

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

    /// True when bytes 4-7 are non-zero (the peer offers the digest form;
    /// whether its digest is valid is a separate check).
    pub fn is_digest_form(&self) -> bool {
        self.version != [0; 4]
    }
}

/// Build a C1/S1: time, `version`, 1528 random bytes.
fn make_packet(
    epoch_ms: u32,
    version: [u8; 4],
    rng: &mut dyn RngCore,
) -> Box<[u8; HANDSHAKE_SIZE]> {
    let mut p = Box::new([0u8; HANDSHAKE_SIZE]);
    p[0..4].copy_from_slice(&epoch_ms.to_be_bytes());
    p[4..8].copy_from_slice(&version);
    rng.fill_bytes(&mut p[8..]);
    p
}

/// Copy up to `HANDSHAKE_SIZE - *have` bytes from the front of `input` into
/// `dst[*have..]`, clearing `*matches` if they differ from the same range of
/// `expected`; returns true once `dst` is full.
fn fill(
    dst: &mut [u8; HANDSHAKE_SIZE],
    have: &mut usize,
    input: &mut BytesMut,
    expected: Option<(&[u8; HANDSHAKE_SIZE], &mut bool)>,
) -> bool {
    let n = (HANDSHAKE_SIZE - *have).min(input.len());
    let range = *have..*have + n;
    if let Some((expected, matches)) = expected {
        if *matches && input[..n] != expected[range.clone()] {
            *matches = false;
        }
    }
    dst[range].copy_from_slice(&input[..n]);
    input.advance(n);
    *have += n;
    *have == HANDSHAKE_SIZE
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
    fn display_bad_s2_signature() {
        assert_eq!(
            HandshakeError::BadS2Signature.to_string(),
            "server S2 signature does not match our C1 digest"
        );
    }

    #[test]
    fn display_form() {
        assert_eq!(HandshakeForm::Simple.to_string(), "simple");
        assert_eq!(
            HandshakeForm::Digest(DigestScheme::Scheme1).to_string(),
            "digest scheme 1"
        );
        assert_eq!(HandshakeForm::Simple.digest_scheme(), None);
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
