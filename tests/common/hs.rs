//! Helpers shared by the handshake tests (`tests/handshake.rs`,
//! `tests/handshake_digest.rs`): drivers that feed bytes in pieces, the
//! seeded-property runner, and text forms of packets.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use bytes::BytesMut;
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use rtmp_edge::proto::handshake::{
    ClientHandshake, DigestScheme, HandshakeForm, Progress, ServerHandshake, HANDSHAKE_SIZE,
};

pub const C0C1_LEN: usize = 1 + HANDSHAKE_SIZE;
pub const S0S1S2_LEN: usize = 1 + 2 * HANDSHAKE_SIZE;
/// Bytes a client sends during the handshake: C0 + C1 + C2.
pub const CLIENT_HS_LEN: usize = 1 + 2 * HANDSHAKE_SIZE;

pub fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("golden/handshake")
}

/// The three forms a client can offer.
pub const FORMS: [HandshakeForm; 3] = [
    HandshakeForm::Simple,
    HandshakeForm::Digest(DigestScheme::Scheme0),
    HandshakeForm::Digest(DigestScheme::Scheme1),
];

/// Run `f` for each seed in `0..count`, printing the seed of a failing case.
pub fn for_seeds(count: u64, f: impl Fn(u64)) {
    for seed in 0..count {
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| f(seed))) {
            eprintln!("property failed with seed {seed} (StdRng::seed_from_u64({seed}))");
            std::panic::resume_unwind(p);
        }
    }
}

/// Feed a server `stream` in the given piece sizes (cycled), appending each
/// piece to one accumulating input buffer. Returns (S0S1S2 written, bytes
/// left in the buffer at Done, bytes of `stream` not yet appended, number of
/// calls that wrote output).
pub fn drive_server(
    server: &mut ServerHandshake,
    rng: &mut dyn RngCore,
    stream: &[u8],
    mut piece: impl FnMut() -> usize,
) -> (BytesMut, BytesMut, Vec<u8>, usize) {
    let mut input = BytesMut::new();
    let mut out = BytesMut::new();
    let mut pos = 0;
    let mut writes = 0;
    while pos < stream.len() {
        let n = piece().clamp(1, stream.len() - pos);
        input.extend_from_slice(&stream[pos..pos + n]);
        pos += n;
        let before = out.len();
        let progress = server.feed(&mut input, &mut out, rng).expect("server feed");
        if out.len() != before {
            writes += 1;
        }
        if progress == Progress::Done {
            return (out, input, stream[pos..].to_vec(), writes);
        }
    }
    panic!("server not done after {} bytes", stream.len());
}

/// The client-side counterpart of [`drive_server`]: returns (C2 written,
/// bytes left in the buffer at Done, bytes of `stream` not yet appended).
pub fn drive_client(
    client: &mut ClientHandshake,
    stream: &[u8],
    mut piece: impl FnMut() -> usize,
) -> (BytesMut, BytesMut, Vec<u8>) {
    let mut input = BytesMut::new();
    let mut out = BytesMut::new();
    let mut pos = 0;
    while pos < stream.len() {
        let n = piece().clamp(1, stream.len() - pos);
        input.extend_from_slice(&stream[pos..pos + n]);
        pos += n;
        if client.feed(&mut input, &mut out).expect("client feed") == Progress::Done {
            return (out, input, stream[pos..].to_vec());
        }
    }
    panic!("client not done after {} bytes", stream.len());
}

pub fn hex(b: &[u8]) -> String {
    b.iter().fold(String::new(), |mut s, x| {
        let _ = write!(s, "{x:02x}");
        s
    })
}

/// Text form of a C1/S1/C2/S2 packet: time, bytes 4-7, random head and tail.
pub fn describe_packet(label: &str, p: &[u8]) -> String {
    assert_eq!(p.len(), HANDSHAKE_SIZE);
    format!(
        "{label}: time={} bytes4_7={} random[0..8]={} random[1520..1528]={}\n",
        u32::from_be_bytes([p[0], p[1], p[2], p[3]]),
        hex(&p[4..8]),
        hex(&p[8..16]),
        hex(&p[HANDSHAKE_SIZE - 8..]),
    )
}

pub fn server_answer(c0c1: &[u8], seed: u64, epoch: u32) -> Vec<u8> {
    let mut server = ServerHandshake::new(epoch);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut input = BytesMut::from(c0c1);
    let mut out = BytesMut::new();
    assert_eq!(
        server.feed(&mut input, &mut out, &mut rng),
        Ok(Progress::InProgress)
    );
    assert!(input.is_empty());
    out.to_vec()
}
