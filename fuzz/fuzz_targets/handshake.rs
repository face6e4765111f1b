//! Fuzz the handshake: arbitrary bytes, split at arbitrary points, into a
//! `ServerHandshake` and (as a server answer) into a started
//! `ClientHandshake`. Checks the contract, not just "no panic": on `Done`
//! exactly 3073 bytes were consumed and the echo is right; a bad first byte is
//! `BadVersion` of that byte.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rand::rngs::StdRng;
use rand::SeedableRng;
use rtmp_edge::proto::handshake::{
    ClientHandshake, HandshakeError, Progress, ServerHandshake, HANDSHAKE_SIZE, RTMP_VERSION,
};

const FULL: usize = 1 + 2 * HANDSHAKE_SIZE;

/// Piece sizes from a one-byte seed: 0 = everything at once, otherwise a
/// xorshift sequence of sizes in 1..=seed*13.
struct Splits {
    state: u32,
    max: usize,
}

impl Splits {
    fn new(seed: u8) -> Self {
        Splits {
            state: u32::from(seed).wrapping_mul(0x9E37_79B9) | 1,
            max: usize::from(seed) * 13,
        }
    }
    fn next(&mut self, left: usize) -> usize {
        if self.max == 0 {
            return left;
        }
        self.state ^= self.state << 13;
        self.state ^= self.state >> 17;
        self.state ^= self.state << 5;
        (1 + self.state as usize % self.max).min(left)
    }
}

/// Feed `stream` in pieces to `step`; returns (result, bytes consumed).
fn drive(
    stream: &[u8],
    seed: u8,
    mut step: impl FnMut(&mut BytesMut) -> Result<Progress, HandshakeError>,
) -> (Result<Progress, HandshakeError>, usize) {
    let mut splits = Splits::new(seed);
    let mut input = BytesMut::new();
    let mut pos = 0;
    let mut result = Ok(Progress::InProgress);
    while pos < stream.len() {
        let n = splits.next(stream.len() - pos);
        input.extend_from_slice(&stream[pos..pos + n]);
        pos += n;
        result = step(&mut input);
        if result != Ok(Progress::InProgress) {
            break;
        }
    }
    (result, pos - input.len())
}

fuzz_target!(|data: &[u8]| {
    let Some((&seed, stream)) = data.split_first() else {
        return;
    };
    let expect = |consumed: usize, r: &Result<Progress, HandshakeError>| match stream.first() {
        None => assert_eq!(*r, Ok(Progress::InProgress)),
        Some(&v) if v != RTMP_VERSION => {
            assert_eq!(*r, Err(HandshakeError::BadVersion(v)));
            assert_eq!(consumed, 0);
        }
        Some(_) if stream.len() >= FULL => {
            assert_eq!(*r, Ok(Progress::Done));
            assert_eq!(consumed, FULL);
        }
        Some(_) => {
            assert_eq!(*r, Ok(Progress::InProgress));
            assert_eq!(consumed, stream.len());
        }
    };

    // Server.
    let mut server = ServerHandshake::new(7);
    let mut rng = StdRng::seed_from_u64(u64::from(seed));
    let mut out = BytesMut::new();
    let (r, consumed) = drive(stream, seed, |input| server.feed(input, &mut out, &mut rng));
    expect(consumed, &r);
    if stream.len() > HANDSHAKE_SIZE && stream[0] == RTMP_VERSION {
        assert_eq!(out.len(), FULL);
        assert_eq!(&out[1 + HANDSHAKE_SIZE..], &stream[1..1 + HANDSHAKE_SIZE]);
    } else {
        assert!(out.is_empty());
    }

    // Client, reading the same bytes as a server answer.
    let mut client = ClientHandshake::new(9);
    let mut c0c1 = BytesMut::new();
    client.start(&mut c0c1, &mut StdRng::seed_from_u64(1));
    let mut c2 = BytesMut::new();
    let (r, consumed) = drive(stream, seed, |input| client.feed(input, &mut c2));
    expect(consumed, &r);
    if stream.len() > HANDSHAKE_SIZE && stream[0] == RTMP_VERSION {
        assert_eq!(&c2[..], &stream[1..1 + HANDSHAKE_SIZE]);
    } else {
        assert!(c2.is_empty());
    }
});
