//! Arithmetic of the digest ("complex") handshake: where the digest sits in
//! a C1/S1, how it is computed, and how C2/S2 are signed. Pure functions over
//! 1536-byte packets; the state machines [`super::ServerHandshake`] and
//! [`super::ClientHandshake`] decide when to use them.
//!
//! # Layout
//!
//! A C1/S1 in digest form is time (4) + version (4, non-zero) + 1528 bytes,
//! 32 of which are an HMAC-SHA256 digest. Where the digest sits depends on
//! the scheme ([`DigestScheme`]): four bytes at `base` are summed, and the
//! digest starts at `sum % 728 + base + 4`:
//!
//! | scheme | base | digest offset range |
//! |---|---|---|
//! | 0 | 8 | 12..=739 |
//! | 1 | 772 | 776..=1503 |
//!
//! The digest is HMAC-SHA256 keyed with the sender's *partial* key
//! ([`CLIENT_PARTIAL_KEY`] in C1, [`SERVER_PARTIAL_KEY`] in S1) over the
//! packet without its 32 digest bytes (1504 bytes).
//!
//! A signed C2/S2 is 1504 bytes + a 32-byte signature: HMAC-SHA256 over those
//! 1504 bytes, keyed with HMAC-SHA256(sender's *full* key, peer's C1/S1
//! digest) ([`response_key`]).

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::HANDSHAKE_SIZE;

type HmacSha256 = Hmac<Sha256>;

/// Bytes of a digest or signature (SHA-256).
pub const DIGEST_LEN: usize = 32;
/// Bytes of a signed C2/S2 before its signature.
pub const SIGNED_LEN: usize = HANDSHAKE_SIZE - DIGEST_LEN;

/// Flash Player's partial key, which keys a client's C1 digest. Source: the
/// key published with the reverse-engineered handshake, as used by ffmpeg
/// (`libavformat/rtmpproto.c`, `rtmp_player_key`), librtmp (`handshake.h`,
/// `GenuineFPKey`) and nginx-rtmp (`ngx_rtmp_handshake.c`).
pub const CLIENT_PARTIAL_KEY: &[u8; 30] = b"Genuine Adobe Flash Player 001";
/// Flash Media Server's partial key, which keys a server's S1 digest. Same
/// sources (`rtmp_server_key`, `GenuineFMSKey`).
pub const SERVER_PARTIAL_KEY: &[u8; 36] = b"Genuine Adobe Flash Media Server 001";
/// The 32 bytes that follow either partial key in its full key (same sources).
const KEY_TAIL: [u8; 32] = [
    0xF0, 0xEE, 0xC2, 0x4A, 0x80, 0x68, 0xBE, 0xE8, 0x2E, 0x00, 0xD0, 0xD1, 0x02, 0x9E, 0x7E, 0x57,
    0x6E, 0xEC, 0x5D, 0x2D, 0x29, 0x80, 0x6F, 0xAB, 0x93, 0xB8, 0xE6, 0x36, 0xCF, 0xEB, 0x31, 0xAE,
];
/// Flash Player's full key (partial key + tail, 62 bytes): keys the client's
/// C2 signature.
pub const CLIENT_FULL_KEY: [u8; 62] = full_key(CLIENT_PARTIAL_KEY);
/// Flash Media Server's full key (partial key + tail, 68 bytes): keys the
/// server's S2 signature.
pub const SERVER_FULL_KEY: [u8; 68] = full_key(SERVER_PARTIAL_KEY);

/// `partial` followed by [`KEY_TAIL`]; a wrong `N` fails at compile time.
const fn full_key<const N: usize>(partial: &[u8]) -> [u8; N] {
    let mut key = [0u8; N];
    let mut i = 0;
    while i < partial.len() {
        key[i] = partial[i];
        i += 1;
    }
    let mut j = 0;
    while j < KEY_TAIL.len() {
        key[partial.len() + j] = KEY_TAIL[j];
        j += 1;
    }
    assert!(partial.len() + KEY_TAIL.len() == N);
    key
}

/// Where a C1/S1 keeps its digest (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestScheme {
    /// Offset from bytes 8..12; the digest lies within bytes 12..771. ffmpeg's
    /// plain RTMP C1 and nginx-rtmp's S1 use it.
    Scheme0,
    /// Offset from bytes 772..776; the digest lies within bytes 776..1535.
    /// ffmpeg uses it for RTMPE.
    Scheme1,
}

impl DigestScheme {
    /// Both schemes in the order a receiver tries them (1, then 0), as ffmpeg
    /// and nginx-rtmp do.
    pub const TRY_ORDER: [DigestScheme; 2] = [DigestScheme::Scheme1, DigestScheme::Scheme0];

    /// 0 or 1.
    pub fn number(self) -> u8 {
        match self {
            DigestScheme::Scheme0 => 0,
            DigestScheme::Scheme1 => 1,
        }
    }

    /// First of the four bytes whose sum places the digest.
    fn base(self) -> usize {
        match self {
            DigestScheme::Scheme0 => 8,
            DigestScheme::Scheme1 => 772,
        }
    }

    /// Offset of the digest in `packet`: `sum(packet[base..base+4]) % 728 +
    /// base + 4`.
    pub fn offset(self, packet: &[u8; HANDSHAKE_SIZE]) -> usize {
        let base = self.base();
        let sum: usize = packet[base..base + 4].iter().map(|&b| usize::from(b)).sum();
        sum % 728 + base + 4
    }
}

/// A MAC for `key`. HMAC accepts keys of any length.
fn mac(key: &[u8]) -> HmacSha256 {
    match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC-SHA256 takes keys of any length"),
    }
}

/// HMAC-SHA256 keyed with `key` over `packet` without the 32 bytes at
/// `offset`.
pub fn packet_digest(packet: &[u8; HANDSHAKE_SIZE], offset: usize, key: &[u8]) -> [u8; 32] {
    let mut m = mac(key);
    m.update(&packet[..offset]);
    m.update(&packet[offset + DIGEST_LEN..]);
    m.finalize().into_bytes().into()
}

/// The 32 bytes at `scheme`'s offset in `packet` (whatever they hold).
pub fn digest_at(packet: &[u8; HANDSHAKE_SIZE], scheme: DigestScheme) -> [u8; 32] {
    let off = scheme.offset(packet);
    let mut d = [0u8; DIGEST_LEN];
    d.copy_from_slice(&packet[off..off + DIGEST_LEN]);
    d
}

/// True when `packet` holds a valid digest keyed with `key` per `scheme`.
pub fn has_digest(packet: &[u8; HANDSHAKE_SIZE], scheme: DigestScheme, key: &[u8]) -> bool {
    let off = scheme.offset(packet);
    let mut m = mac(key);
    m.update(&packet[..off]);
    m.update(&packet[off + DIGEST_LEN..]);
    m.verify_slice(&packet[off..off + DIGEST_LEN]).is_ok()
}

/// The scheme under which `packet` carries a valid digest keyed with `key`,
/// trying scheme 1, then scheme 0.
pub fn find_digest(packet: &[u8; HANDSHAKE_SIZE], key: &[u8]) -> Option<DigestScheme> {
    DigestScheme::TRY_ORDER
        .into_iter()
        .find(|&s| has_digest(packet, s, key))
}

/// Write the digest keyed with `key` into `packet` at `scheme`'s offset;
/// returns the digest.
pub fn imprint(packet: &mut [u8; HANDSHAKE_SIZE], scheme: DigestScheme, key: &[u8]) -> [u8; 32] {
    let off = scheme.offset(packet);
    let d = packet_digest(packet, off, key);
    packet[off..off + DIGEST_LEN].copy_from_slice(&d);
    d
}

/// The key of a C2/S2 signature: HMAC-SHA256(`full_key`, the peer's
/// C1/S1 digest).
pub fn response_key(full_key: &[u8], peer_digest: &[u8; 32]) -> [u8; 32] {
    let mut m = mac(full_key);
    m.update(peer_digest);
    m.finalize().into_bytes().into()
}

/// Overwrite the last 32 bytes of `packet` with HMAC-SHA256(`key`, its first
/// 1504 bytes).
pub fn sign_response(packet: &mut [u8; HANDSHAKE_SIZE], key: &[u8; 32]) {
    let mut m = mac(key);
    m.update(&packet[..SIGNED_LEN]);
    packet[SIGNED_LEN..].copy_from_slice(&m.finalize().into_bytes());
}

/// True when the last 32 bytes of `packet` are its signature under `key`.
pub fn response_signed(packet: &[u8; HANDSHAKE_SIZE], key: &[u8; 32]) -> bool {
    let mut m = mac(key);
    m.update(&packet[..SIGNED_LEN]);
    m.verify_slice(&packet[SIGNED_LEN..]).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_keys_are_partial_plus_tail() {
        assert_eq!(&CLIENT_FULL_KEY[..30], CLIENT_PARTIAL_KEY);
        assert_eq!(&SERVER_FULL_KEY[..36], SERVER_PARTIAL_KEY);
        assert_eq!(CLIENT_FULL_KEY[30..], KEY_TAIL);
        assert_eq!(SERVER_FULL_KEY[36..], KEY_TAIL);
    }

    #[test]
    fn offsets_follow_the_formula_and_stay_inside() {
        let mut p = [0u8; HANDSHAKE_SIZE];
        assert_eq!(DigestScheme::Scheme0.offset(&p), 12);
        assert_eq!(DigestScheme::Scheme1.offset(&p), 776);
        p[8..12].fill(0xff);
        p[772..776].fill(0xff);
        // 4 * 255 = 1020; 1020 % 728 = 292.
        assert_eq!(DigestScheme::Scheme0.offset(&p), 292 + 12);
        assert_eq!(DigestScheme::Scheme1.offset(&p), 292 + 776);
        p[8..12].copy_from_slice(&[255, 255, 217, 0]); // sum 727
        assert_eq!(DigestScheme::Scheme0.offset(&p), 739);
        p[772..776].copy_from_slice(&[0, 255, 217, 255]);
        assert_eq!(DigestScheme::Scheme1.offset(&p), 1503);
        const { assert!(1503 + DIGEST_LEN < HANDSHAKE_SIZE) };
    }

    #[test]
    fn imprint_then_find() {
        for scheme in DigestScheme::TRY_ORDER {
            let mut p = [0u8; HANDSHAKE_SIZE];
            for (i, b) in p.iter_mut().enumerate() {
                *b = (i * 7 + 3) as u8;
            }
            let d = imprint(&mut p, scheme, CLIENT_PARTIAL_KEY);
            assert_eq!(digest_at(&p, scheme), d);
            assert!(has_digest(&p, scheme, CLIENT_PARTIAL_KEY));
            assert!(!has_digest(&p, scheme, SERVER_PARTIAL_KEY));
            assert_eq!(find_digest(&p, CLIENT_PARTIAL_KEY), Some(scheme));
            p[0] ^= 1;
            assert_eq!(find_digest(&p, CLIENT_PARTIAL_KEY), None);
        }
    }

    #[test]
    fn sign_then_check() {
        let mut p = [0x5Au8; HANDSHAKE_SIZE];
        let key = response_key(&SERVER_FULL_KEY, &[7u8; 32]);
        assert!(!response_signed(&p, &key));
        sign_response(&mut p, &key);
        assert!(response_signed(&p, &key));
        p[100] ^= 0x80;
        assert!(!response_signed(&p, &key));
    }
}
