//! Fuzz the server session: a fixed valid handshake (C0 = 3, zero C1 and C2),
//! then arbitrary bytes into `ServerSession::handle_input`. The first byte
//! chooses the piece sizes. Errors end the connection and are ignored; only
//! panics, hangs and runaway allocations are findings.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rand::rngs::StdRng;
use rand::SeedableRng;
use rtmp_edge::proto::handshake::{Progress, ServerHandshake, HANDSHAKE_SIZE, RTMP_VERSION};
use rtmp_edge::proto::session::{ServerConfig, ServerSession};

fuzz_target!(|data: &[u8]| {
    let Some((&split, body)) = data.split_first() else {
        return;
    };
    let mut stream = Vec::with_capacity(1 + 2 * HANDSHAKE_SIZE + body.len());
    stream.push(RTMP_VERSION);
    stream.resize(1 + 2 * HANDSHAKE_SIZE, 0);
    stream.extend_from_slice(body);

    let mut handshake = ServerHandshake::new(0);
    let mut rng = StdRng::seed_from_u64(0);
    let mut session: Option<ServerSession> = None;
    let mut input = BytesMut::new();
    let mut out = BytesMut::new();
    let mut events = Vec::new();
    let max = usize::from(split) * 7 + 1;
    let mut state = u32::from(split) | 1;
    let mut pos = 0;
    while pos < stream.len() {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let n = (1 + (state >> 16) as usize % max).min(stream.len() - pos);
        input.extend_from_slice(&stream[pos..pos + n]);
        pos += n;
        if session.is_none() {
            match handshake.feed(&mut input, &mut out, &mut rng) {
                Ok(Progress::Done) => session = Some(ServerSession::new(ServerConfig::default())),
                Ok(Progress::InProgress) => continue,
                Err(_) => return,
            }
        }
        if let Some(s) = session.as_mut() {
            if s.handle_input(&mut input, &mut events, &mut out).is_err() {
                return;
            }
        }
        events.clear();
        out.clear();
    }
});
