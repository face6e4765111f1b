//! Percent-escaping of string bytes, the injective text form the server
//! gives names: `%` -> `%25`, each byte of invalid UTF-8 -> `%XX`, every
//! other character kept; [`unescape`] gives the bytes back.

use std::fmt::Write as _;

/// Percent-escape string bytes: `%` becomes `%25` and every byte of an
/// invalid UTF-8 sequence `%XX` (upper-case hex); all other characters are
/// kept. Injective, and the identity on valid UTF-8 without `%`.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    let mut rest = bytes;
    loop {
        let (valid, bad) = match std::str::from_utf8(rest) {
            Ok(s) => (s, &[][..]),
            Err(e) => {
                let (v, tail) = rest.split_at(e.valid_up_to());
                let n = e.error_len().unwrap_or(tail.len());
                rest = &tail[n..];
                // Checked by from_utf8 up to valid_up_to.
                (std::str::from_utf8(v).unwrap_or_default(), &tail[..n])
            }
        };
        for (i, part) in valid.split('%').enumerate() {
            if i > 0 {
                out.push_str("%25");
            }
            out.push_str(part);
        }
        for b in bad {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{b:02X}");
        }
        if bad.is_empty() {
            return out;
        }
    }
}

/// The bytes an [`escape`]d string stands for (`%XX` decoded; a `%` not
/// followed by two hex digits is kept as it is).
pub fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match (b[i], hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_cases() {
        assert_eq!(escape(b"cam"), "cam");
        assert_eq!(escape("é✓".as_bytes()), "é✓");
        assert_eq!(escape(b"50%"), "50%25");
        assert_eq!(escape(b"a\xffb"), "a%FFb");
        assert_eq!(escape(b"\xe2\x9c"), "%E2%9C", "cut sequence at the end");
        assert_eq!(escape(b"\xe2\x9c%\xe2\x9c\x93"), "%E2%9C%25✓");
        assert_eq!(unescape("a%FFb%25%zz%4"), b"a\xffb%%zz%4");
    }

    /// Random bytes: unescape(escape(b)) == b, so escape is injective.
    #[test]
    fn escape_round_trips_random_bytes() {
        use rand::rngs::StdRng;
        use rand::{Rng, SeedableRng};
        for seed in 0..2000u64 {
            let mut rng = StdRng::seed_from_u64(seed);
            let len = rng.random_range(0..40);
            let b: Vec<u8> = (0..len)
                .map(|_| match rng.random_range(0..4) {
                    0 => b'%',
                    1 => rng.random_range(0x80..=0xFF),
                    _ => rng.random_range(0x20..0x7F),
                })
                .collect();
            assert_eq!(unescape(&escape(&b)), b, "seed {seed}");
        }
    }
}
