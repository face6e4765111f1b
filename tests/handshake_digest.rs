//! The digest ("complex") handshake: golden vectors for both schemes checked
//! against the formulas (re-implemented here from the published description,
//! independently of `proto::handshake::digest`), real ffmpeg and nginx-rtmp
//! packets checked with the same formulas, in-memory pairs in both schemes,
//! the fallback to the simple form, and the client's S2 rule.
//!
//! Regenerate the golden files with the ignored test
//! `cargo test --release --test handshake_digest -- --ignored regen_handshake_digest_golden`
//! (it only writes; review the diff before committing).

use std::fmt::Write as _;

use bytes::BytesMut;
use hmac::{Hmac, Mac};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use rtmp_edge::proto::handshake::{
    digest, ClientHandshake, DigestScheme, HandshakeError, HandshakeForm, Progress,
    ServerHandshake, CLIENT_VERSION, HANDSHAKE_SIZE, RTMP_VERSION, SERVER_VERSION,
};
use sha2::Sha256;

#[path = "common/hs.rs"]
mod hs;
use hs::*;

#[path = "common/captures.rs"]
mod captures;
use captures::read_capture as capture;

// ---- The formulas, written out from the description (not the crate's code).

const CLIENT_PARTIAL: &[u8] = b"Genuine Adobe Flash Player 001";
const SERVER_PARTIAL: &[u8] = b"Genuine Adobe Flash Media Server 001";
const KEY_TAIL_HEX: &str = "F0EEC24A8068BEE82E00D0D1029E7E576EEC5D2D29806FAB93B8E636CFEB31AE";

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn full_key(partial: &[u8]) -> Vec<u8> {
    let mut k = partial.to_vec();
    k.extend(unhex(KEY_TAIL_HEX));
    k
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// Scheme 0: (sum of bytes 8..12) % 728 + 12; scheme 1: (sum of bytes
/// 772..776) % 728 + 776.
fn spec_offset(p: &[u8], scheme: u8) -> usize {
    let base = if scheme == 0 { 8 } else { 772 };
    p[base..base + 4]
        .iter()
        .map(|&b| usize::from(b))
        .sum::<usize>()
        % 728
        + base
        + 4
}

/// HMAC over the packet without its 32 digest bytes.
fn spec_digest(p: &[u8], off: usize, key: &[u8]) -> [u8; 32] {
    hmac(key, &[&p[..off], &p[off + 32..]])
}

fn spec_valid(p: &[u8], scheme: u8, key: &[u8]) -> bool {
    let off = spec_offset(p, scheme);
    p[off..off + 32] == spec_digest(p, off, key)
}

/// The digest scheme a packet validates in (1 tried first), if any.
fn spec_scheme(p: &[u8], key: &[u8]) -> Option<u8> {
    [1, 0].into_iter().find(|&s| spec_valid(p, s, key))
}

/// The signature of a C2/S2 answering a packet whose digest is `peer_digest`.
fn spec_signature(p: &[u8], peer_digest: &[u8], full: &[u8]) -> [u8; 32] {
    hmac(&hmac(full, &[peer_digest]), &[&p[..HANDSHAKE_SIZE - 32]])
}

fn digest_of(p: &[u8], scheme: u8) -> Vec<u8> {
    let off = spec_offset(p, scheme);
    p[off..off + 32].to_vec()
}

fn scheme_number(s: DigestScheme) -> u8 {
    s.number()
}

// ---- Golden vectors.

// Fixed inputs (also listed in golden/handshake/README.md).
const CLIENT_SEEDS: [u64; 2] = [0x5254_4d50_0010, 0x5254_4d50_0011];
const SERVER_SEEDS: [u64; 2] = [0x5254_4d50_0020, 0x5254_4d50_0021];
const CLIENT_EPOCH: u32 = 0x0001_0203;
const SERVER_EPOCH: u32 = 3000;
const SCHEMES: [DigestScheme; 2] = [DigestScheme::Scheme0, DigestScheme::Scheme1];

/// One scheme's exchange: (C0C1, S0S1S2, C2) from the fixed seeds.
fn exchange(i: usize) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let mut client = ClientHandshake::with_form(CLIENT_EPOCH, HandshakeForm::Digest(SCHEMES[i]));
    let mut c0c1 = BytesMut::new();
    client.start(&mut c0c1, &mut StdRng::seed_from_u64(CLIENT_SEEDS[i]));
    let s0s1s2 = server_answer(&c0c1, SERVER_SEEDS[i], SERVER_EPOCH);
    let mut input = BytesMut::from(&s0s1s2[..]);
    let mut c2 = BytesMut::new();
    assert_eq!(client.feed(&mut input, &mut c2), Ok(Progress::Done));
    (c0c1.to_vec(), s0s1s2, c2.to_vec())
}

fn hex(b: &[u8]) -> String {
    b.iter().fold(String::new(), |mut s, x| {
        let _ = write!(s, "{x:02x}");
        s
    })
}

/// Every digest golden file: (name, bytes).
fn golden_set() -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut text =
        String::from("# digest handshake vectors (see README.md): offsets and HMACs per packet\n");
    for (i, scheme) in SCHEMES.iter().enumerate() {
        let n = scheme.number();
        let (c0c1, s0s1s2, c2) = exchange(i);
        let c1 = &c0c1[1..];
        let s1 = &s0s1s2[1..C0C1_LEN];
        let s2 = &s0s1s2[C0C1_LEN..];
        let (c1_off, s1_off) = (spec_offset(c1, n), spec_offset(s1, n));
        let _ = writeln!(text, "[scheme {n}]");
        let _ = writeln!(
            text,
            "C1: version={} digest_offset={c1_off} digest={}",
            hex(&c1[4..8]),
            hex(&c1[c1_off..c1_off + 32])
        );
        let _ = writeln!(
            text,
            "S1: version={} digest_offset={s1_off} digest={}",
            hex(&s1[4..8]),
            hex(&s1[s1_off..s1_off + 32])
        );
        let _ = writeln!(text, "S2: signature={}", hex(&s2[HANDSHAKE_SIZE - 32..]));
        let _ = writeln!(text, "C2: signature={}", hex(&c2[HANDSHAKE_SIZE - 32..]));
        files.push((format!("digest{n}_client_c0c1.bin"), c0c1));
        files.push((format!("digest{n}_server_s0s1s2.bin"), s0s1s2));
        files.push((format!("digest{n}_client_c2.bin"), c2));
    }
    files.push(("digest_decoded.txt".to_string(), text.into_bytes()));
    files
}

/// A snapshot: catches any change of output. The formula tests below check
/// the same files independently.
#[test]
fn golden_digest_vectors_match_byte_for_byte() {
    for (name, bytes) in golden_set() {
        let path = golden_dir().join(&name);
        let stored = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; regenerate with `cargo test --release --test handshake_digest -- --ignored regen_handshake_digest_golden`",
                path.display()
            )
        });
        assert!(stored == bytes, "{name}: stored golden bytes differ");
    }
}

#[test]
#[ignore = "regenerates the digest files of golden/handshake; review the diff"]
fn regen_handshake_digest_golden() {
    for (name, bytes) in golden_set() {
        std::fs::write(golden_dir().join(name), bytes).unwrap();
    }
}

/// Check a server answer (S0S1S2) to `c1` against the formulas: S1 = epoch,
/// SERVER_VERSION, the seeded RNG's first 1528 bytes but for the digest in
/// `scheme`; S2 = its next 1504 bytes + the signature for C1's digest.
fn check_server_answer(c1: &[u8], s0s1s2: &[u8], scheme: u8, seed: u64, epoch: u32) {
    assert_eq!(s0s1s2.len(), S0S1S2_LEN);
    assert_eq!(s0s1s2[0], RTMP_VERSION);
    let (s1, s2) = (&s0s1s2[1..C0C1_LEN], &s0s1s2[C0C1_LEN..]);
    assert_eq!(&s1[..4], &epoch.to_be_bytes());
    assert_eq!(&s1[4..8], &SERVER_VERSION);
    assert!(s1[4] >= 3, "ffmpeg validates S1 only from version byte 3");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut random = vec![0u8; HANDSHAKE_SIZE - 8];
    rng.fill_bytes(&mut random);
    let off = spec_offset(s1, scheme);
    assert_eq!(
        &s1[8..off],
        &random[..off - 8],
        "S1 random before the digest"
    );
    assert_eq!(&s1[off + 32..], &random[off + 24..], "S1 random after it");
    assert_eq!(&s1[off..off + 32], &spec_digest(s1, off, SERVER_PARTIAL));
    assert_eq!(spec_scheme(s1, SERVER_PARTIAL), Some(scheme));
    let mut s2_random = vec![0u8; HANDSHAKE_SIZE - 32];
    rng.fill_bytes(&mut s2_random);
    assert_eq!(&s2[..HANDSHAKE_SIZE - 32], &s2_random[..], "S2 random part");
    let sig = spec_signature(s2, &digest_of(c1, scheme), &full_key(SERVER_PARTIAL));
    assert_eq!(&s2[HANDSHAKE_SIZE - 32..], &sig, "S2 signature");
}

#[test]
fn golden_digest_vectors_follow_the_formulas() {
    for (i, scheme) in SCHEMES.iter().enumerate() {
        let n = scheme.number();
        let read = |name: String| std::fs::read(golden_dir().join(name)).unwrap();
        let c0c1 = read(format!("digest{n}_client_c0c1.bin"));
        let s0s1s2 = read(format!("digest{n}_server_s0s1s2.bin"));
        let c2 = read(format!("digest{n}_client_c2.bin"));
        // C1: epoch, CLIENT_VERSION, RNG bytes with the client digest.
        assert_eq!(c0c1.len(), C0C1_LEN);
        assert_eq!(c0c1[0], RTMP_VERSION);
        let c1 = &c0c1[1..];
        assert_eq!(&c1[..4], &CLIENT_EPOCH.to_be_bytes());
        assert_eq!(&c1[4..8], &CLIENT_VERSION);
        let mut rng = StdRng::seed_from_u64(CLIENT_SEEDS[i]);
        let mut random = vec![0u8; HANDSHAKE_SIZE - 8];
        rng.fill_bytes(&mut random);
        let off = spec_offset(c1, n);
        assert_eq!(&c1[8..off], &random[..off - 8]);
        assert_eq!(&c1[off + 32..], &random[off + 24..]);
        assert_eq!(&c1[off..off + 32], &spec_digest(c1, off, CLIENT_PARTIAL));
        assert_eq!(spec_scheme(c1, CLIENT_PARTIAL), Some(n), "scheme {n}");
        // S0S1S2 in the same scheme.
        check_server_answer(c1, &s0s1s2, n, SERVER_SEEDS[i], SERVER_EPOCH);
        // C2: the client RNG's next 1504 bytes + the signature for S1's digest.
        assert_eq!(c2.len(), HANDSHAKE_SIZE);
        let mut c2_random = vec![0u8; HANDSHAKE_SIZE - 32];
        rng.fill_bytes(&mut c2_random);
        assert_eq!(&c2[..HANDSHAKE_SIZE - 32], &c2_random[..]);
        let s1 = &s0s1s2[1..C0C1_LEN];
        let sig = spec_signature(&c2, &digest_of(s1, n), &full_key(CLIENT_PARTIAL));
        assert_eq!(&c2[HANDSHAKE_SIZE - 32..], &sig, "C2 signature");
    }
}

/// `server_s0s1s2_ffmpeg.bin` (written by tests/handshake.rs) answers a
/// real ffmpeg C1, which carries a scheme-0 digest.
#[test]
fn golden_server_answer_to_ffmpeg_is_digest_form() {
    let c0c1 = std::fs::read(golden_dir().join("ffmpeg_c0c1.bin")).unwrap();
    let s = std::fs::read(golden_dir().join("server_s0s1s2_ffmpeg.bin")).unwrap();
    assert_eq!(spec_scheme(&c0c1[1..], CLIENT_PARTIAL), Some(0));
    // Seed and epoch of that file (tests/handshake.rs, SERVER_FFMPEG_*).
    check_server_answer(&c0c1[1..], &s, 0, 0x5254_4d50_0001, 1000);
}

// ---- Real packets: ffmpeg 5.1 and nginx-rtmp agree with the formulas.

#[test]
fn real_ffmpeg_c1_has_a_scheme0_digest() {
    for name in ["ffmpeg_publish", "ffmpeg_play"] {
        let Some(stream) = capture(&format!("{name}.c2s.bin")) else {
            return;
        };
        let c1: &[u8; HANDSHAKE_SIZE] = stream[1..C0C1_LEN].try_into().unwrap();
        assert_eq!(spec_scheme(c1, CLIENT_PARTIAL), Some(0), "{name}");
        assert_eq!(
            digest::find_digest(c1, digest::CLIENT_PARTIAL_KEY),
            Some(DigestScheme::Scheme0),
            "{name}"
        );
        assert_eq!(digest::find_digest(c1, digest::SERVER_PARTIAL_KEY), None);
    }
    for name in ["rtmpdump_play", "gst_publish", "gst_play"] {
        let Some(stream) = capture(&format!("{name}.c2s.bin")) else {
            return;
        };
        assert_eq!(&stream[5..9], &[0; 4], "{name}: simple form");
    }
}

#[test]
fn real_nginx_s1_s2_and_ffmpeg_player_c2_validate() {
    let (Some(up), Some(down)) = (
        capture("ffmpeg_play.c2s.bin"),
        capture("ffmpeg_play.s2c.bin"),
    ) else {
        return;
    };
    let c1 = &up[1..C0C1_LEN];
    let c2 = &up[C0C1_LEN..CLIENT_HS_LEN];
    let s1 = &down[1..C0C1_LEN];
    let s2 = &down[C0C1_LEN..S0S1S2_LEN];
    assert!(s1[4] >= 3, "nginx's S1 version");
    let scheme = spec_scheme(s1, SERVER_PARTIAL).expect("nginx S1 has a server digest");
    let s1_arr: &[u8; HANDSHAKE_SIZE] = s1.try_into().unwrap();
    assert_eq!(
        digest::find_digest(s1_arr, digest::SERVER_PARTIAL_KEY).map(scheme_number),
        Some(scheme)
    );
    // nginx signed S2 for ffmpeg's scheme-0 C1 digest.
    let sig = spec_signature(s2, &digest_of(c1, 0), &full_key(SERVER_PARTIAL));
    assert_eq!(&s2[HANDSHAKE_SIZE - 32..], &sig);
    // ffmpeg's player signed C2 for nginx's S1 digest.
    let sig = spec_signature(c2, &digest_of(s1, scheme), &full_key(CLIENT_PARTIAL));
    assert_eq!(&c2[HANDSHAKE_SIZE - 32..], &sig);
    // ffmpeg's publisher echoes S1 instead.
    if let (Some(up), Some(down)) = (
        capture("ffmpeg_publish.c2s.bin"),
        capture("ffmpeg_publish.s2c.bin"),
    ) {
        assert_eq!(&up[C0C1_LEN..CLIENT_HS_LEN], &down[1..C0C1_LEN]);
    }
}

/// Our digest client fed nginx's captured answer: S1 validates, so C2 is
/// signed for it; S2 was signed for ffmpeg's C1, not ours, so it fails.
#[test]
fn digest_client_rejects_s2_signed_for_another_c1() {
    let Some(down) = capture("ffmpeg_play.s2c.bin") else {
        return;
    };
    let mut client = ClientHandshake::new(5);
    client.start(&mut BytesMut::new(), &mut StdRng::seed_from_u64(9));
    let mut input = BytesMut::from(&down[..]);
    let mut c2 = BytesMut::new();
    assert_eq!(
        client.feed(&mut input, &mut c2),
        Err(HandshakeError::BadS2Signature)
    );
    assert_eq!(&input[..], &down[S0S1S2_LEN..], "S2 consumed, nothing more");
    assert!(client
        .form()
        .and_then(HandshakeForm::digest_scheme)
        .is_some());
    assert_eq!(client.s2_signed(), Some(false));
    let s1 = &down[1..C0C1_LEN];
    let scheme = spec_scheme(s1, SERVER_PARTIAL).unwrap();
    let sig = spec_signature(&c2, &digest_of(s1, scheme), &full_key(CLIENT_PARTIAL));
    assert_eq!(&c2[HANDSHAKE_SIZE - 32..], &sig, "C2 signed for nginx's S1");
    // The failure sticks.
    input.extend_from_slice(b"more");
    let left = input.len();
    assert_eq!(
        client.feed(&mut input, &mut c2),
        Err(HandshakeError::BadS2Signature)
    );
    assert_eq!(input.len(), left);
}

// ---- Pairs and the rules of each side.

fn digest_c0c1(scheme: DigestScheme, seed: u64) -> (ClientHandshake, Vec<u8>) {
    let mut client = ClientHandshake::with_form(7, HandshakeForm::Digest(scheme));
    let mut out = BytesMut::new();
    client.start(&mut out, &mut StdRng::seed_from_u64(seed));
    (client, out.to_vec())
}

#[test]
fn pair_completes_in_both_schemes_one_byte_at_a_time() {
    for scheme in SCHEMES {
        let (mut client, c0c1) = digest_c0c1(scheme, 21);
        let mut server = ServerHandshake::new(99);
        let mut rng = StdRng::seed_from_u64(22);
        // C0C1 one byte per call; S0S1S2 comes out once.
        let mut s0s1s2 = BytesMut::new();
        for b in &c0c1 {
            let mut input = BytesMut::from(&[*b][..]);
            let p = server.feed(&mut input, &mut s0s1s2, &mut rng).unwrap();
            assert_eq!(p, Progress::InProgress);
            assert!(input.is_empty());
        }
        assert_eq!(s0s1s2.len(), S0S1S2_LEN);
        let form = Some(HandshakeForm::Digest(scheme));
        assert_eq!(server.form(), form);
        assert_eq!(server.digest_scheme(), Some(scheme));
        // S0S1S2 one byte per call, then the server's first chunk bytes.
        let mut stream = s0s1s2.to_vec();
        stream.extend_from_slice(b"server-first");
        let (c2, left, unfed) = drive_client(&mut client, &stream, || 1);
        assert!(left.is_empty());
        assert_eq!(unfed, b"server-first");
        assert_eq!(client.form(), form);
        assert_eq!(client.s2_signed(), Some(true));
        assert_eq!(client.peer_info().map(|p| p.version), Some(SERVER_VERSION));
        // C2 one byte per call, then the client's first bytes.
        let mut stream = c2.to_vec();
        stream.extend_from_slice(b"connect");
        let (out, left, unfed, _) = drive_server(&mut server, &mut rng, &stream, || 1);
        assert!(out.is_empty() && left.is_empty());
        assert_eq!(unfed, b"connect");
        assert_eq!(server.c2_signed(), Some(true));
        assert_eq!(server.c2_echoed_s1(), Some(false));
        assert_eq!(server.peer_info().map(|p| p.version), Some(CLIENT_VERSION));
        assert_eq!(
            server.summary(),
            format!("digest scheme {}, C2 signed", scheme.number())
        );
    }
}

/// A C1 whose digest does not validate gets the simple form: S1 bytes 4-7
/// zero (so digest clients skip validation) and S2 = C1. So does a zero
/// version, even with a valid digest (as nginx-rtmp, we only look for a
/// digest when the version is non-zero).
#[test]
fn invalid_c1_digest_falls_back_to_the_simple_form() {
    for scheme in SCHEMES {
        for corrupt in [
            Corrupt::DigestByte,
            Corrupt::RandomByte,
            Corrupt::ZeroVersion,
        ] {
            let (mut client, mut c0c1) = digest_c0c1(scheme, 31);
            let off = spec_offset(&c0c1[1..], scheme.number()) + 1;
            match corrupt {
                Corrupt::DigestByte => c0c1[off + 5] ^= 1,
                // Any other byte (not an offset source): the digest covers it.
                Corrupt::RandomByte => c0c1[1 + 1530] ^= 0x40,
                Corrupt::ZeroVersion => c0c1[5..9].fill(0),
            }
            let answer = server_answer(&c0c1, 32, 0);
            assert_eq!(&answer[5..9], &[0; 4], "{corrupt:?}");
            assert_eq!(&answer[C0C1_LEN..], &c0c1[1..], "{corrupt:?}: S2 = C1");
            // The digest client sees no server digest and echoes S1.
            let mut input = BytesMut::from(&answer[..]);
            let mut c2 = BytesMut::new();
            let r = client.feed(&mut input, &mut c2);
            assert_eq!(&c2[..], &answer[1..C0C1_LEN], "{corrupt:?}: C2 = S1");
            assert_eq!(client.form(), Some(HandshakeForm::Simple));
            assert_eq!(client.s2_signed(), None);
            // The corrupted byte is not in the client's own C1, so S2
            // differs from it: still accepted in the simple form.
            assert_eq!(r, Ok(Progress::Done), "{corrupt:?}");
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Corrupt {
    DigestByte,
    RandomByte,
    ZeroVersion,
}

#[test]
fn server_accepts_an_unsigned_c2_in_the_digest_form() {
    for (c2_kind, echoed) in [("echo of S1", true), ("junk", false)] {
        let (_, c0c1) = digest_c0c1(DigestScheme::Scheme1, 41);
        let mut server = ServerHandshake::new(1);
        let mut rng = StdRng::seed_from_u64(42);
        let mut input = BytesMut::from(&c0c1[..]);
        let mut out = BytesMut::new();
        server.feed(&mut input, &mut out, &mut rng).unwrap();
        assert_eq!(server.digest_scheme(), Some(DigestScheme::Scheme1));
        let c2 = if echoed {
            out[1..C0C1_LEN].to_vec()
        } else {
            vec![0x5A; HANDSHAKE_SIZE]
        };
        let mut input = BytesMut::from(&c2[..]);
        assert_eq!(
            server.feed(&mut input, &mut out, &mut rng),
            Ok(Progress::Done),
            "{c2_kind}"
        );
        assert_eq!(server.c2_signed(), Some(false), "{c2_kind}");
        assert_eq!(server.c2_echoed_s1(), Some(echoed), "{c2_kind}");
    }
}

/// After a digest S1 the client accepts a signed S2 or an echo of its C1,
/// and fails anything else.
#[test]
fn client_s2_rule_after_a_digest_s1() {
    for (kind, want) in [
        ("signed", Ok(Progress::Done)),
        ("echo", Ok(Progress::Done)),
        ("bit flipped", Err(HandshakeError::BadS2Signature)),
    ] {
        let (mut client, c0c1) = digest_c0c1(DigestScheme::Scheme0, 51);
        let mut answer = server_answer(&c0c1, 52, 0);
        match kind {
            "echo" => answer[C0C1_LEN..].copy_from_slice(&c0c1[1..]),
            "bit flipped" => answer[S0S1S2_LEN - 1] ^= 1,
            _ => {}
        }
        let mut input = BytesMut::from(&answer[..]);
        assert_eq!(
            client.feed(&mut input, &mut BytesMut::new()),
            want,
            "{kind}"
        );
        assert_eq!(client.s2_signed(), Some(kind == "signed"), "{kind}");
        assert_eq!(client.s2_echoed_c1(), Some(kind == "echo"), "{kind}");
    }
}

/// A simple-form client gets the simple form from our server, and a simple
/// client never signs C2, even for a digest S1.
#[test]
fn simple_client_stays_simple() {
    let mut client = ClientHandshake::with_form(3, HandshakeForm::Simple);
    let mut c0c1 = BytesMut::new();
    client.start(&mut c0c1, &mut StdRng::seed_from_u64(61));
    assert_eq!(&c0c1[5..9], &[0; 4]);
    let answer = server_answer(&c0c1, 62, 0);
    assert_eq!(&answer[5..9], &[0; 4]);
    let (_, digest_c1) = digest_c0c1(DigestScheme::Scheme0, 63);
    let digest_answer = server_answer(&digest_c1, 64, 0);
    let mut input = BytesMut::from(&digest_answer[..]);
    let mut c2 = BytesMut::new();
    assert_eq!(client.feed(&mut input, &mut c2), Ok(Progress::Done));
    assert_eq!(&c2[..], &digest_answer[1..C0C1_LEN], "C2 = S1");
    assert_eq!(client.form(), Some(HandshakeForm::Simple));
}

/// Property: random server answers (with a non-zero S1 version half of the
/// time) never panic a digest client; without a valid digest it echoes S1.
#[test]
fn prop_digest_client_random_answers() {
    for_seeds(200, |seed| {
        let mut r = StdRng::seed_from_u64(seed);
        let (mut client, _) = digest_c0c1(SCHEMES[r.random_range(0..2)], r.random());
        let mut stream = vec![RTMP_VERSION];
        stream.extend((0..2 * HANDSHAKE_SIZE + 50).map(|_| r.random::<u8>()));
        if r.random_bool(0.5) {
            stream[5..9].fill(0);
        }
        let max = [1usize, 33, 1600][r.random_range(0..3)];
        let (c2, _, _) = drive_client(&mut client, &stream, || r.random_range(1..=max));
        assert_eq!(&c2[..], &stream[1..C0C1_LEN]);
        assert_eq!(client.form(), Some(HandshakeForm::Simple));
    });
}
