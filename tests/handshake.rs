//! Handshake tests: golden vectors (fixed seeds), real client captures, an
//! in-memory client/server pair, version checks and random-split properties.
//!
//! Regenerate the golden files with the ignored test
//! `cargo test --release --test handshake -- --ignored regen_handshake_golden`
//! (it only writes; review the diff before committing).

use std::fmt::Write as _;

use bytes::BytesMut;
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use rtmp_edge::proto::handshake::{
    ClientHandshake, DigestScheme, HandshakeError, HandshakeForm, Progress, ServerHandshake,
    CLIENT_VERSION, HANDSHAKE_SIZE, RTMP_VERSION, SERVER_VERSION,
};

#[path = "common/hs.rs"]
mod hs;
use hs::*;

// Fixed inputs of the golden vectors (also listed in golden/handshake/README.md).
const SERVER_FFMPEG_SEED: u64 = 0x5254_4d50_0001;
const SERVER_FFMPEG_EPOCH: u32 = 1000;
const CLIENT_SEED: u64 = 0x5254_4d50_0002;
const CLIENT_EPOCH: u32 = 0x0012_3456;
const SERVER_CLIENT_SEED: u64 = 0x5254_4d50_0003;
const SERVER_CLIENT_EPOCH: u32 = 2000;

const CAPTURES: [&str; 5] = [
    "ffmpeg_publish",
    "ffmpeg_play",
    "rtmpdump_play",
    "gst_publish",
    "gst_play",
];

#[path = "common/captures.rs"]
mod captures;
use captures::read_capture as capture;

/// A simple-form client's C0C1 (the digest form has its own golden vectors
/// in `tests/handshake_digest.rs`).
fn client_hello(seed: u64, epoch: u32) -> (ClientHandshake, Vec<u8>) {
    let mut client = ClientHandshake::with_form(epoch, HandshakeForm::Simple);
    let mut out = BytesMut::new();
    client.start(&mut out, &mut StdRng::seed_from_u64(seed));
    (client, out.to_vec())
}

/// Every golden file, computed from its inputs: (file name, bytes).
fn golden_set() -> Option<Vec<(&'static str, Vec<u8>)>> {
    let ffmpeg_c0c1 = capture("ffmpeg_publish.c2s.bin")?[..C0C1_LEN].to_vec();
    let server_ffmpeg = server_answer(&ffmpeg_c0c1, SERVER_FFMPEG_SEED, SERVER_FFMPEG_EPOCH);
    let (mut client, client_c0c1) = client_hello(CLIENT_SEED, CLIENT_EPOCH);
    let server_client = server_answer(&client_c0c1, SERVER_CLIENT_SEED, SERVER_CLIENT_EPOCH);
    let mut input = BytesMut::from(&server_client[..]);
    let mut c2 = BytesMut::new();
    assert_eq!(client.feed(&mut input, &mut c2), Ok(Progress::Done));

    let mut text = String::new();
    text.push_str("# decoded form of the .bin files in this folder (see README.md)\n");
    let sections: [(&str, &[u8], &[&str]); 5] = [
        ("ffmpeg_c0c1.bin", &ffmpeg_c0c1, &["C0", "C1"]),
        (
            "server_s0s1s2_ffmpeg.bin",
            &server_ffmpeg,
            &["S0", "S1", "S2"],
        ),
        ("client_c0c1.bin", &client_c0c1, &["C0", "C1"]),
        (
            "server_s0s1s2_client.bin",
            &server_client,
            &["S0", "S1", "S2"],
        ),
        ("client_c2.bin", &c2, &["C2"]),
    ];
    for (name, bytes, parts) in sections {
        let _ = writeln!(text, "[{name}] {} bytes", bytes.len());
        let mut rest = bytes;
        for part in parts {
            if part.ends_with('0') {
                let _ = writeln!(text, "{part}: version={}", rest[0]);
                rest = &rest[1..];
            } else {
                text.push_str(&describe_packet(part, &rest[..HANDSHAKE_SIZE]));
                rest = &rest[HANDSHAKE_SIZE..];
            }
        }
        assert!(rest.is_empty());
    }

    Some(vec![
        ("ffmpeg_c0c1.bin", ffmpeg_c0c1),
        ("server_s0s1s2_ffmpeg.bin", server_ffmpeg),
        ("client_c0c1.bin", client_c0c1),
        ("server_s0s1s2_client.bin", server_client),
        ("client_c2.bin", c2.to_vec()),
        ("decoded.txt", text.into_bytes()),
    ])
}

/// A snapshot test: the stored files are the implementation's own output
/// for fixed seeds, so this catches any change of output, not a wrong one.
/// The layout tests below check the same files against the spec and the
/// seeded RNG independently.
#[test]
fn golden_vectors_match_byte_for_byte() {
    let dir = golden_dir();
    let Some(set) = golden_set() else { return };
    for (name, bytes) in set {
        let path = dir.join(name);
        let stored = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; regenerate with `cargo test --release --test handshake -- --ignored regen_handshake_golden`",
                path.display()
            )
        });
        assert!(
            stored == bytes,
            "{name}: stored golden bytes differ from what the handshake produces now"
        );
    }
}

/// Rewrites golden/handshake from the current implementation; asserts nothing.
#[test]
#[ignore = "regenerates golden/handshake; run on purpose and review the diff"]
fn regen_handshake_golden() {
    let dir = golden_dir();
    std::fs::create_dir_all(&dir).unwrap();
    for (name, bytes) in golden_set().expect("captures are needed to regenerate") {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

// The server's answer to ffmpeg's C0C1 is in the digest form; its layout is
// checked by `golden_server_answer_to_ffmpeg_is_digest_form` in
// tests/handshake_digest.rs.

#[test]
fn golden_client_c0c1_and_c2_have_spec_layout() {
    let dir = golden_dir();
    let c0c1 = std::fs::read(dir.join("client_c0c1.bin")).unwrap();
    let s0s1s2 = std::fs::read(dir.join("server_s0s1s2_client.bin")).unwrap();
    let c2 = std::fs::read(dir.join("client_c2.bin")).unwrap();
    assert_eq!(c0c1.len(), C0C1_LEN);
    assert_eq!(c0c1[0], RTMP_VERSION);
    assert_eq!(&c0c1[1..5], &CLIENT_EPOCH.to_be_bytes());
    assert_eq!(&c0c1[5..9], &[0, 0, 0, 0]);
    let mut random = [0u8; HANDSHAKE_SIZE - 8];
    StdRng::seed_from_u64(CLIENT_SEED).fill_bytes(&mut random);
    assert_eq!(&c0c1[9..], &random[..]);
    assert_eq!(s0s1s2.len(), S0S1S2_LEN);
    assert_eq!(s0s1s2[0], RTMP_VERSION);
    assert_eq!(&s0s1s2[1..5], &SERVER_CLIENT_EPOCH.to_be_bytes());
    assert_eq!(&s0s1s2[5..9], &[0, 0, 0, 0], "S1 bytes 4-7 must be zero");
    StdRng::seed_from_u64(SERVER_CLIENT_SEED).fill_bytes(&mut random);
    assert_eq!(&s0s1s2[9..C0C1_LEN], &random[..], "S1 random part");
    assert_eq!(&s0s1s2[C0C1_LEN..], &c0c1[1..], "S2 echoes C1");
    assert_eq!(&c2[..], &s0s1s2[1..C0C1_LEN], "C2 echoes S1");
}

#[test]
fn captures_one_piece_complete_and_leave_the_rest() {
    for name in CAPTURES {
        let Some(stream) = capture(&format!("{name}.c2s.bin")) else {
            return;
        };
        let mut server = ServerHandshake::new(77);
        let mut rng = StdRng::seed_from_u64(1);
        let mut input = BytesMut::from(&stream[..]);
        let mut out = BytesMut::new();
        assert_eq!(
            server.feed(&mut input, &mut out, &mut rng),
            Ok(Progress::Done),
            "{name}"
        );
        assert_eq!(&input[..], &stream[CLIENT_HS_LEN..], "{name}: leftover");
        assert_eq!(out.len(), S0S1S2_LEN, "{name}");
        assert_eq!(out[0], RTMP_VERSION);
        assert_eq!(&out[1..5], &77u32.to_be_bytes());
        assert!(server.is_done());
        // The replayed C2 answered nginx's S1, not ours, and is accepted.
        assert_eq!(server.c2_echoed_s1(), Some(false), "{name}");
        if name.starts_with("ffmpeg") {
            // ffmpeg's C1 carries a valid scheme-0 digest: digest answer.
            assert_eq!(&out[5..9], &SERVER_VERSION, "{name}");
            assert_eq!(server.digest_scheme(), Some(DigestScheme::Scheme0));
            assert_eq!(server.c2_signed(), Some(false), "{name}: not for our S1");
        } else {
            assert_eq!(&out[5..9], &[0, 0, 0, 0]);
            assert_eq!(&out[C0C1_LEN..], &stream[1..C0C1_LEN], "{name}: S2 = C1");
            assert_eq!(server.form(), Some(HandshakeForm::Simple), "{name}");
            assert_eq!(server.c2_signed(), None, "{name}");
        }
    }
}

#[test]
fn captures_one_byte_at_a_time_complete_at_c2_end() {
    for name in CAPTURES {
        let Some(stream) = capture(&format!("{name}.c2s.bin")) else {
            return;
        };
        let mut server = ServerHandshake::new(77);
        let mut rng = StdRng::seed_from_u64(1);
        let (out, left, unfed, writes) = drive_server(&mut server, &mut rng, &stream, || 1);
        assert!(
            left.is_empty(),
            "{name}: Done must come with the last C2 byte"
        );
        assert_eq!(unfed, &stream[CLIENT_HS_LEN..], "{name}");
        assert_eq!(writes, 1, "{name}");
        assert_eq!(
            &out[..],
            &server_answer(&stream[..C0C1_LEN], 1, 77)[..],
            "{name}"
        );
    }
}

#[test]
fn captures_expose_peer_time_and_version() {
    for name in CAPTURES {
        let Some(stream) = capture(&format!("{name}.c2s.bin")) else {
            return;
        };
        let mut server = ServerHandshake::new(0);
        let mut rng = StdRng::seed_from_u64(1);
        let mut input = BytesMut::from(&stream[..C0C1_LEN]);
        assert_eq!(server.peer_info().map(|p| p.time), None);
        server
            .feed(&mut input, &mut BytesMut::new(), &mut rng)
            .unwrap();
        let time = u32::from_be_bytes(stream[1..5].try_into().unwrap());
        assert_eq!(server.peer_info().map(|p| p.time), Some(time), "{name}");
        let version: [u8; 4] = stream[5..9].try_into().unwrap();
        assert_eq!(
            server.peer_info().map(|p| p.version),
            Some(version),
            "{name}"
        );
        let info = server.peer_info().unwrap();
        // ffmpeg sends the digest form; rtmpdump and GStreamer send zeros.
        let expect_digest = name.starts_with("ffmpeg");
        assert_eq!(info.is_digest_form(), expect_digest, "{name}");
        if expect_digest {
            assert_eq!(version, [0x09, 0x00, 0x7c, 0x02], "{name}");
        }
    }
}

#[test]
fn client_reads_real_nginx_answers() {
    // Simple-form clients: C2 echoes S1 even when nginx's S1 has a digest
    // (the digest client's view is in tests/handshake_digest.rs).
    for name in CAPTURES {
        let Some(stream) = capture(&format!("{name}.s2c.bin")) else {
            return;
        };
        let mut client = ClientHandshake::with_form(5, HandshakeForm::Simple);
        client.start(&mut BytesMut::new(), &mut StdRng::seed_from_u64(9));
        let mut input = BytesMut::from(&stream[..]);
        let mut out = BytesMut::new();
        assert_eq!(client.feed(&mut input, &mut out), Ok(Progress::Done));
        assert_eq!(&input[..], &stream[S0S1S2_LEN..], "{name}: leftover");
        assert_eq!(&out[..], &stream[1..C0C1_LEN], "{name}: C2 = S1");
        // nginx echoed the original client's C1, not ours.
        assert_eq!(client.s2_echoed_c1(), Some(false), "{name}");
        let time = u32::from_be_bytes(stream[1..5].try_into().unwrap());
        assert_eq!(client.peer_info().map(|p| p.time), Some(time));

        let mut client = ClientHandshake::with_form(5, HandshakeForm::Simple);
        client.start(&mut BytesMut::new(), &mut StdRng::seed_from_u64(9));
        let (out, left, unfed) = drive_client(&mut client, &stream, || 1);
        assert!(left.is_empty(), "{name}");
        assert_eq!(unfed, &stream[S0S1S2_LEN..], "{name}");
        assert_eq!(&out[..], &stream[1..C0C1_LEN], "{name}");
    }
}

#[test]
fn pair_in_memory_completes_and_keeps_trailing_bytes() {
    let mut rng_c = StdRng::seed_from_u64(11);
    let mut rng_s = StdRng::seed_from_u64(12);
    let mut client = ClientHandshake::new(123);
    let mut server = ServerHandshake::new(456);

    let mut to_server = BytesMut::new();
    let mut to_client = BytesMut::new();
    client.start(&mut to_server, &mut rng_c);
    assert_eq!(to_server.len(), C0C1_LEN);
    assert_eq!(
        server.feed(&mut to_server, &mut to_client, &mut rng_s),
        Ok(Progress::InProgress)
    );
    assert_eq!(to_client.len(), S0S1S2_LEN);
    // The server's first chunk bytes travel right behind S0S1S2.
    to_client.extend_from_slice(b"server-first");
    assert_eq!(
        client.feed(&mut to_client, &mut to_server),
        Ok(Progress::Done)
    );
    assert_eq!(&to_client[..], b"server-first");
    assert_eq!(to_server.len(), HANDSHAKE_SIZE, "client wrote C2");
    to_server.extend_from_slice(b"connect...");
    assert_eq!(
        server.feed(&mut to_server, &mut BytesMut::new(), &mut rng_s),
        Ok(Progress::Done)
    );
    assert_eq!(&to_server[..], b"connect...");

    assert_eq!(server.peer_info().map(|p| p.time), Some(123));
    assert_eq!(client.peer_info().map(|p| p.time), Some(456));
    // `new` offers the digest form (scheme 0) and our server takes it.
    assert_eq!(server.peer_info().map(|p| p.version), Some(CLIENT_VERSION));
    assert_eq!(client.peer_info().map(|p| p.version), Some(SERVER_VERSION));
    let form = Some(HandshakeForm::Digest(DigestScheme::Scheme0));
    assert_eq!((server.form(), client.form()), (form, form));
    assert_eq!(server.c2_signed(), Some(true));
    assert_eq!(client.s2_signed(), Some(true));
    assert_eq!(server.c2_echoed_s1(), Some(false));
    assert_eq!(client.s2_echoed_c1(), Some(false));
    assert!(server.is_done() && client.is_done());
}

#[test]
fn server_accepts_c2_that_differs_from_s1() {
    let mut server = ServerHandshake::new(0);
    let mut rng = StdRng::seed_from_u64(3);
    let mut stream = vec![RTMP_VERSION];
    stream.extend(std::iter::repeat_n(0xAA, 2 * HANDSHAKE_SIZE));
    let mut input = BytesMut::from(&stream[..]);
    assert_eq!(
        server.feed(&mut input, &mut BytesMut::new(), &mut rng),
        Ok(Progress::Done)
    );
    assert_eq!(server.c2_echoed_s1(), Some(false));
}

#[test]
fn bad_version_six_and_ff_fail_on_first_byte() {
    for v in [6u8, 0xFF] {
        let mut server = ServerHandshake::new(0);
        let mut rng = StdRng::seed_from_u64(0);
        let mut input = BytesMut::from(&[v][..]);
        let mut out = BytesMut::new();
        assert_eq!(
            server.feed(&mut input, &mut out, &mut rng),
            Err(HandshakeError::BadVersion(v))
        );
        assert!(out.is_empty(), "nothing is written for a bad version");
        // The failure sticks and consumes nothing more.
        input.extend_from_slice(&[0; 100]);
        assert_eq!(
            server.feed(&mut input, &mut out, &mut rng),
            Err(HandshakeError::BadVersion(v))
        );
        assert_eq!(input.len(), 101);
        assert!(out.is_empty());

        let mut client = ClientHandshake::new(0);
        client.start(&mut BytesMut::new(), &mut rng);
        let mut input = BytesMut::from(&[v][..]);
        assert_eq!(
            client.feed(&mut input, &mut out),
            Err(HandshakeError::BadVersion(v))
        );
        assert!(out.is_empty());
    }
}

#[test]
fn every_version_but_three_is_rejected() {
    for v in 0..=255u8 {
        let mut server = ServerHandshake::new(0);
        let mut input = BytesMut::from(&[v][..]);
        let r = server.feed(
            &mut input,
            &mut BytesMut::new(),
            &mut StdRng::seed_from_u64(0),
        );
        if v == RTMP_VERSION {
            assert_eq!(r, Ok(Progress::InProgress));
            assert!(input.is_empty());
        } else {
            assert_eq!(r, Err(HandshakeError::BadVersion(v)));
        }
    }
}

#[test]
fn feed_after_done_is_already_done_and_consumes_nothing() {
    let Some(stream) = capture("gst_play.c2s.bin") else {
        return;
    };
    let mut server = ServerHandshake::new(0);
    let mut rng = StdRng::seed_from_u64(0);
    let mut input = BytesMut::from(&stream[..]);
    let mut out = BytesMut::new();
    assert_eq!(
        server.feed(&mut input, &mut out, &mut rng),
        Ok(Progress::Done)
    );
    let left = input.len();
    assert_eq!(
        server.feed(&mut input, &mut out, &mut rng),
        Err(HandshakeError::AlreadyDone)
    );
    assert_eq!(input.len(), left);
    assert_eq!(out.len(), S0S1S2_LEN);
}

#[test]
fn client_feed_before_start_is_not_started() {
    let mut client = ClientHandshake::new(0);
    let mut input = BytesMut::from(&[RTMP_VERSION][..]);
    let mut out = BytesMut::new();
    assert_eq!(
        client.feed(&mut input, &mut out),
        Err(HandshakeError::NotStarted)
    );
    assert_eq!(input.len(), 1);
    assert!(out.is_empty());
}

#[test]
fn client_start_twice_writes_once() {
    let mut client = ClientHandshake::new(0);
    let mut rng = StdRng::seed_from_u64(0);
    let mut out = BytesMut::new();
    client.start(&mut out, &mut rng);
    client.start(&mut out, &mut rng);
    assert_eq!(out.len(), C0C1_LEN);
}

#[test]
fn empty_input_is_in_progress_in_every_state() {
    let mut server = ServerHandshake::new(0);
    let mut rng = StdRng::seed_from_u64(0);
    let mut out = BytesMut::new();
    let Some(cap) = capture("rtmpdump_play.c2s.bin") else {
        return;
    };
    let mut stream = BytesMut::from(&cap[..CLIENT_HS_LEN - 1]);
    // Stop in each state: before C0, after C0, inside C1, at the C1/C2
    // border, inside C2.
    for take in [0usize, 1, 700, C0C1_LEN - 701, 1, 1000] {
        let mut piece = stream.split_to(take);
        server.feed(&mut piece, &mut out, &mut rng).unwrap();
        assert!(piece.is_empty());
        assert_eq!(
            server.feed(&mut BytesMut::new(), &mut out, &mut rng),
            Ok(Progress::InProgress)
        );
    }
    assert!(!server.is_done());
    assert_eq!(out.len(), S0S1S2_LEN);
    assert_eq!(stream.len(), CLIENT_HS_LEN - 1 - C0C1_LEN - 1001);
    stream.extend_from_slice(&[0]);
    assert_eq!(
        server.feed(&mut stream, &mut out, &mut rng),
        Ok(Progress::Done)
    );
}

/// Task C: a C0C1 dribbled one byte at a time yields S0S1S2 exactly once,
/// on the call that delivers C1's last byte.
#[test]
fn dribbled_c0c1_yields_s0s1s2_exactly_once() {
    let Some(stream) = capture("ffmpeg_play.c2s.bin") else {
        return;
    };
    let mut server = ServerHandshake::new(42);
    let mut rng = StdRng::seed_from_u64(4);
    let mut out = BytesMut::new();
    let mut write_calls = Vec::new();
    for (i, b) in stream[..CLIENT_HS_LEN].iter().enumerate() {
        let before = out.len();
        // A fresh buffer per call: the server must keep partial C1 itself.
        let mut input = BytesMut::from(&[*b][..]);
        let p = server.feed(&mut input, &mut out, &mut rng).unwrap();
        assert!(input.is_empty());
        assert_eq!(p == Progress::Done, i == CLIENT_HS_LEN - 1, "byte {i}");
        if out.len() != before {
            write_calls.push((i, out.len() - before));
        }
    }
    assert_eq!(write_calls, vec![(C0C1_LEN - 1, S0S1S2_LEN)]);
    assert_eq!(&out[..], &server_answer(&stream[..C0C1_LEN], 4, 42)[..]);
}

/// Property: the same client stream split at random points gives the same
/// S0S1S2 (same seed) and leaves exactly the trailing bytes.
#[test]
fn prop_server_random_splits() {
    for_seeds(300, |seed| {
        let mut r = StdRng::seed_from_u64(seed);
        let mut stream = vec![RTMP_VERSION];
        let mut c1 = vec![0u8; HANDSHAKE_SIZE];
        r.fill_bytes(&mut c1);
        if r.random_bool(0.5) {
            c1[4..8].fill(0);
        }
        stream.extend_from_slice(&c1);
        let mut c2 = vec![0u8; HANDSHAKE_SIZE];
        r.fill_bytes(&mut c2);
        stream.extend_from_slice(&c2);
        let trailing = r.random_range(0..300usize);
        let tail: Vec<u8> = (0..trailing).map(|_| r.random()).collect();
        stream.extend_from_slice(&tail);

        let server_seed: u64 = r.random();
        let epoch: u32 = r.random();
        let expected = server_answer(&stream[..C0C1_LEN], server_seed, epoch);
        let max_piece = [1usize, 2, 7, 100, 1600, 4000][r.random_range(0..6)];
        let mut server = ServerHandshake::new(epoch);
        let mut rng = StdRng::seed_from_u64(server_seed);
        let (out, left, unfed, writes) = drive_server(&mut server, &mut rng, &stream, || {
            r.random_range(1..=max_piece)
        });
        assert_eq!(&out[..], &expected[..]);
        assert_eq!(writes, 1);
        let mut rest = left.to_vec();
        rest.extend_from_slice(&unfed);
        assert_eq!(rest, tail);
        assert_eq!(
            server.peer_info().map(|p| p.time),
            Some(u32::from_be_bytes(c1[..4].try_into().unwrap()))
        );
    });
}

/// Property: a client fed a server answer split at random points writes C2
/// = S1 once and leaves exactly the trailing bytes.
#[test]
fn prop_client_random_splits() {
    for_seeds(300, |seed| {
        let mut r = StdRng::seed_from_u64(seed);
        let form = FORMS[r.random_range(0..FORMS.len())];
        let (epoch, client_seed) = (r.random(), r.random());
        let new_client = || {
            let mut client = ClientHandshake::with_form(epoch, form);
            let mut c0c1 = BytesMut::new();
            client.start(&mut c0c1, &mut StdRng::seed_from_u64(client_seed));
            (client, c0c1)
        };
        let (mut client, c0c1) = new_client();
        let mut stream = server_answer(&c0c1, r.random(), r.random());
        // The same client fed the whole answer at once: the reference C2.
        let (mut whole, _) = new_client();
        let mut whole_c2 = BytesMut::new();
        let mut input = BytesMut::from(&stream[..]);
        assert_eq!(whole.feed(&mut input, &mut whole_c2), Ok(Progress::Done));
        let tail: Vec<u8> = (0..r.random_range(0..300usize))
            .map(|_| r.random())
            .collect();
        stream.extend_from_slice(&tail);
        let max_piece = [1usize, 3, 50, 1537, 5000][r.random_range(0..5)];
        let (out, left, unfed) =
            drive_client(&mut client, &stream, || r.random_range(1..=max_piece));
        assert_eq!(out, whole_c2);
        if form == HandshakeForm::Simple {
            assert_eq!(&out[..], &stream[1..C0C1_LEN], "C2 = S1");
        }
        let mut rest = left.to_vec();
        rest.extend_from_slice(&unfed);
        assert_eq!(rest, tail);
        assert_eq!(client.form(), Some(form));
        assert_eq!(client.s2_echoed_c1(), Some(form == HandshakeForm::Simple));
        assert_eq!(
            client.s2_signed(),
            form.digest_scheme().map(|_| true),
            "{form}"
        );
    });
}

/// Property: a client and a server exchanging bytes in random-sized pieces
/// both finish, with application bytes after the handshake untouched.
#[test]
fn prop_pair_random_delivery() {
    for_seeds(200, |seed| {
        let mut r = StdRng::seed_from_u64(seed);
        let mut rng_c = StdRng::seed_from_u64(r.random());
        let mut rng_s = StdRng::seed_from_u64(r.random());
        let form = FORMS[r.random_range(0..FORMS.len())];
        let mut client = ClientHandshake::with_form(r.random(), form);
        let mut server = ServerHandshake::new(r.random());
        let mut c_wire = BytesMut::new(); // client -> server, not yet delivered
        let mut s_wire = BytesMut::new(); // server -> client, not yet delivered
        let mut s_in = BytesMut::new();
        let mut c_in = BytesMut::new();
        client.start(&mut c_wire, &mut rng_c);
        let (mut c_done, mut s_done) = (false, false);
        let mut steps = 0;
        while !(c_done && s_done) {
            steps += 1;
            assert!(steps < 100_000, "no progress");
            let n = r.random_range(0..=c_wire.len().min(900));
            s_in.extend_from_slice(&c_wire.split_to(n));
            if !s_done {
                s_done = server.feed(&mut s_in, &mut s_wire, &mut rng_s).unwrap() == Progress::Done;
                if s_done {
                    s_wire.extend_from_slice(b"S-APP");
                }
            }
            let n = r.random_range(0..=s_wire.len().min(900));
            c_in.extend_from_slice(&s_wire.split_to(n));
            if !c_done {
                c_done = client.feed(&mut c_in, &mut c_wire).unwrap() == Progress::Done;
                if c_done {
                    c_wire.extend_from_slice(b"C-APP");
                }
            }
        }
        s_in.extend_from_slice(&c_wire);
        c_in.extend_from_slice(&s_wire);
        assert_eq!(&s_in[..], b"C-APP");
        assert_eq!(&c_in[..], b"S-APP");
        assert_eq!((server.form(), client.form()), (Some(form), Some(form)));
        let simple = form == HandshakeForm::Simple;
        assert_eq!(server.c2_echoed_s1(), Some(simple));
        assert_eq!(client.s2_echoed_c1(), Some(simple));
        let signed = form.digest_scheme().map(|_| true);
        assert_eq!((server.c2_signed(), client.s2_signed()), (signed, signed));
    });
}

/// Property: random bytes never panic, and the server reports Done exactly
/// when the stream starts with 3 and holds at least 3073 bytes.
#[test]
fn prop_random_bytes_never_panic() {
    for_seeds(300, |seed| {
        let mut r = StdRng::seed_from_u64(seed);
        let len = r.random_range(0..4000usize);
        let mut stream: Vec<u8> = (0..len).map(|_| r.random()).collect();
        if len > 0 && r.random_bool(0.7) {
            stream[0] = RTMP_VERSION;
        }
        let mut server = ServerHandshake::new(0);
        let mut rng = StdRng::seed_from_u64(seed);
        let mut input = BytesMut::new();
        let mut out = BytesMut::new();
        let mut result = Ok(Progress::InProgress);
        for piece in stream.chunks(r.random_range(1..=64)) {
            input.extend_from_slice(piece);
            result = server.feed(&mut input, &mut out, &mut rng);
            if result != Ok(Progress::InProgress) {
                break;
            }
        }
        match stream.first() {
            None => assert_eq!(result, Ok(Progress::InProgress)),
            Some(&v) if v != RTMP_VERSION => assert_eq!(result, Err(HandshakeError::BadVersion(v))),
            Some(_) if len >= CLIENT_HS_LEN => assert_eq!(result, Ok(Progress::Done)),
            Some(_) => assert_eq!(result, Ok(Progress::InProgress)),
        }
    });
}
