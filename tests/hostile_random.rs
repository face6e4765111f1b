//! Random bytes after a valid handshake and `connect`: 200 connections with
//! seeded StdRng, up to 4 KiB each, in three shapes (pure noise, a valid
//! chunk header with a random body, a valid command with flipped bytes).
//! The server either closes a connection with `protocol error` or keeps it
//! (waiting for the rest of a chunk); nothing else. Seeds are printed.

mod common;

use std::time::Duration;

use bytes::BytesMut;
use common::hostile::{chunk_header, close_reason, command, Case, RawConn, APP};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use rtmp_edge::proto::amf0::{self, Amf0Value};

const CONNS: u64 = 200;

fn random_input(seed: u64) -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(seed);
    let len = rng.random_range(1..=4096usize);
    let mut bytes = vec![0u8; len];
    rng.fill_bytes(&mut bytes);
    match seed % 3 {
        0 => bytes,
        1 => {
            let type_id = rng.random_range(0..=24u8);
            let csid = rng.random_range(2..=70u32);
            let body_len = rng.random_range(0..=bytes.len() as u32);
            let mut m = chunk_header(
                0,
                csid,
                rng.random(),
                body_len,
                type_id,
                rng.random_range(0..3),
            );
            m.extend_from_slice(&bytes);
            m
        }
        _ => {
            let mut body = BytesMut::new();
            amf0::encode_all(
                &command(
                    ["publish", "play", "createStream", "connect", "deleteStream"]
                        [(seed % 5) as usize],
                    f64::from(rng.random_range(0..5u8)),
                    &[Amf0Value::string("x"), Amf0Value::Number(1.0)],
                ),
                &mut body,
            );
            for _ in 0..rng.random_range(1..4) {
                let at = rng.random_range(0..body.len());
                body[at] = rng.random();
            }
            let mut m = chunk_header(0, 3, 0, body.len() as u32, 20, 0);
            m.extend_from_slice(&body);
            m.extend_from_slice(&bytes[..bytes.len().min(64)]);
            m
        }
    }
}

#[test]
fn random_bytes_after_connect_never_hurt_the_server() {
    let mut case = Case::start(
        "random: 200 seeded connections x <= 4 KiB after connect",
        &[],
    );
    let mut conns = Vec::new();
    for seed in 0..CONNS {
        let mut c = RawConn::connected(case.addr(), APP);
        c.send(&random_input(seed));
        conns.push((seed, c));
        if seed % 50 == 0 {
            case.sample();
        }
    }
    // Then our FIN: the server handles what it read before the end of input,
    // so each connection is closed either for its bytes (protocol error) or,
    // if they left it waiting for more, as `peer closed`. No race with a
    // probe: every connection ends, and its log line says why.
    for (_, c) in &conns {
        let _ = c.socket.shutdown(std::net::Shutdown::Write);
    }
    let (mut closed, mut open) = (0, 0);
    for (seed, c) in conns.iter_mut() {
        assert!(
            c.wait_closed(Duration::from_secs(20)).is_some(),
            "seed {seed}: still open 20 s after our FIN"
        );
        let reason = close_reason(&case.server, c.local)
            .unwrap_or_else(|| panic!("seed {seed}: closed without a `closed:` line"));
        if reason.starts_with("peer closed") {
            open += 1;
        } else {
            assert!(
                // A flipped command may still decode to a second `publish x`.
                reason.starts_with("protocol error") || reason.starts_with("duplicate publisher"),
                "seed {seed}: closed with `{reason}`"
            );
            closed += 1;
        }
    }
    eprintln!("  random: {closed} closed with protocol error, {open} left waiting for more bytes");
    assert!(
        closed >= CONNS as usize / 2,
        "only {closed} of {CONNS} closed (seeds 0..{CONNS})"
    );
    drop(conns);
    case.finish(&format!(
        "{closed} closed `protocol error`, {open} waiting for more bytes (then peer closed)"
    ));
}
