//! `application/x-www-form-urlencoded` bodies, the client's query arguments
//! and the redaction of secrets for logs.
//!
//! * [`encode`] percent-encodes one key or value: ASCII letters, digits and
//!   `*-._~` stay as they are, every other byte becomes `%XX` (upper-case
//!   hex; a space is `%20`). Any form decoder (PHP, Python, Go, Node) reads
//!   it back byte for byte. nginx-rtmp escapes fewer characters (it leaves
//!   `/` and `:` alone), which decodes to the same values.
//! * [`QueryArgs`] holds the query arguments a client sent (`key=v&a=b`),
//!   decoded once; the hook body re-encodes them.
//! * [`FormWriter`] builds a body field by field, in the order given; in
//!   redacting mode (for logs) the values of secret arguments ([`is_secret`])
//!   become `***`, also inside URL-valued fields such as `tcurl`.
//!
//! Pure functions, no I/O; usable from any thread.

use std::borrow::Cow;
use std::fmt;

/// What replaces a secret value in a redacted body or URL.
pub const REDACTED: &str = "***";

/// Query argument names whose values are secrets (compared ignoring ASCII
/// case): they never appear in a log line.
pub const SECRET_KEYS: [&str; 5] = ["key", "token", "pass", "password", "secret"];

/// Whether the query argument `name` carries a secret (see [`SECRET_KEYS`]).
pub fn is_secret(name: &str) -> bool {
    SECRET_KEYS.iter().any(|k| k.eq_ignore_ascii_case(name))
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'*' | b'-' | b'.' | b'_' | b'~')
}

/// Appends `s` to `out`, percent-encoded for a form body.
pub fn encode_into(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        if is_unreserved(b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 0x0f)] as char);
        }
    }
}

/// `s` percent-encoded for a form body.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    encode_into(&mut out, s);
    out
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes one query component: `+` is a space, `%XX` a byte; a `%` not
/// followed by two hex digits stays as it is. Invalid UTF-8 becomes U+FFFD.
pub fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match (hex_value(bytes[i + 1]), hex_value(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push(h << 4 | l);
                        i += 3;
                        continue;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// The query arguments a client sent, in order, decoded.
///
/// Parsed from the raw query string (`key=v&a=b`, what follows the `?` of a
/// stream name or of the connect app); empty segments are skipped and an
/// argument without `=` has an empty value. `Debug` hides secret values.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct QueryArgs(Vec<(String, String)>);

impl QueryArgs {
    /// No arguments.
    pub fn new() -> Self {
        QueryArgs(Vec::new())
    }

    /// Parses a raw query string (without the leading `?`).
    pub fn parse(raw: &str) -> Self {
        let pairs = raw
            .split('&')
            .filter(|seg| !seg.is_empty())
            .map(|seg| match seg.split_once('=') {
                Some((k, v)) => (decode(k), decode(v)),
                None => (decode(seg), String::new()),
            })
            .collect();
        QueryArgs(pairs)
    }

    /// From decoded pairs, kept in order.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        QueryArgs(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }

    /// The pairs, in the order the client sent them.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The first value of `name` (exact match).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl fmt::Debug for QueryArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                self.iter()
                    .map(|(k, v)| (k, if is_secret(k) { REDACTED } else { v })),
            )
            .finish()
    }
}

/// `url` with the values of secret query arguments replaced by `***`
/// (`rtmp://h/app?key=S&x=1` -> `rtmp://h/app?key=***&x=1`); borrowed when
/// there is nothing to hide.
pub fn redact_url(url: &str) -> Cow<'_, str> {
    let Some((base, query)) = url.split_once('?') else {
        return Cow::Borrowed(url);
    };
    let secret_seg = |seg: &str| {
        seg.split_once('=')
            .is_some_and(|(k, _)| is_secret(&decode(k)))
    };
    if !query.split('&').any(secret_seg) {
        return Cow::Borrowed(url);
    }
    let mut out = String::with_capacity(url.len());
    out.push_str(base);
    out.push('?');
    for (i, seg) in query.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        match seg.split_once('=') {
            Some((k, _)) if secret_seg(seg) => {
                out.push_str(k);
                out.push('=');
                out.push_str(REDACTED);
            }
            _ => out.push_str(seg),
        }
    }
    Cow::Owned(out)
}

/// Builds a form body field by field; see the module doc.
pub struct FormWriter {
    out: String,
    redact: bool,
}

impl FormWriter {
    /// `redact`: hide secrets (for logs) instead of writing the real body.
    pub fn new(redact: bool) -> Self {
        FormWriter {
            out: String::with_capacity(256),
            redact,
        }
    }

    /// Appends `name=value` (`&` first unless it is the first field).
    pub fn field(&mut self, name: &str, value: &str) -> &mut Self {
        if !self.out.is_empty() {
            self.out.push('&');
        }
        encode_into(&mut self.out, name);
        self.out.push('=');
        encode_into(&mut self.out, value);
        self
    }

    /// A field holding a URL whose query may carry secrets (`tcurl`, ...).
    pub fn url_field(&mut self, name: &str, url: &str) -> &mut Self {
        if self.redact {
            let shown = redact_url(url);
            self.field(name, &shown)
        } else {
            self.field(name, url)
        }
    }

    /// A field holding a number.
    pub fn num_field(&mut self, name: &str, value: impl fmt::Display) -> &mut Self {
        self.field(name, &value.to_string())
    }

    /// Appends every client argument, in order (secret values hidden when
    /// redacting).
    pub fn args(&mut self, args: &QueryArgs) -> &mut Self {
        for (k, v) in args.iter() {
            if self.redact && is_secret(k) {
                self.field(k, REDACTED);
            } else {
                self.field(k, v);
            }
        }
        self
    }

    pub fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_keeps_unreserved_and_escapes_the_rest() {
        assert_eq!(encode("aZ09*-._~"), "aZ09*-._~");
        assert_eq!(encode("a b&c=d+e"), "a%20b%26c%3Dd%2Be");
        assert_eq!(
            encode("rtmp://h:1935/live?x"),
            "rtmp%3A%2F%2Fh%3A1935%2Flive%3Fx"
        );
        assert_eq!(encode("%#;/"), "%25%23%3B%2F");
        assert_eq!(encode("é"), "%C3%A9");
        assert_eq!(encode("\n\x7f"), "%0A%7F");
        assert_eq!(encode(""), "");
    }

    #[test]
    fn decode_reverses_encode() {
        for s in [
            "",
            "plain",
            "a b&c=d+e",
            "100%",
            "é ü",
            "%zz",
            "\u{0}\u{7f}",
        ] {
            assert_eq!(decode(&encode(s)), s, "{s:?}");
        }
    }

    #[test]
    fn decode_plus_percent_and_broken_escapes() {
        assert_eq!(decode("a+b"), "a b");
        assert_eq!(decode("%41%2b%2B"), "A++");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%4"), "%4");
        assert_eq!(decode("%zz1"), "%zz1");
        assert_eq!(decode("%ff"), "\u{fffd}");
    }

    #[test]
    fn query_args_parse_in_order() {
        let q = QueryArgs::parse("key=s%20e+c&&flag&a=1=2&=v");
        let pairs: Vec<_> = q.iter().collect();
        assert_eq!(
            pairs,
            [("key", "s e c"), ("flag", ""), ("a", "1=2"), ("", "v")]
        );
        assert_eq!(q.get("a"), Some("1=2"));
        assert_eq!(q.get("b"), None);
        assert!(QueryArgs::parse("").is_empty());
        assert_eq!(QueryArgs::parse("&&").len(), 0);
    }

    #[test]
    fn secret_names_ignore_case() {
        for k in ["key", "KEY", "Token", "pass", "password", "secret"] {
            assert!(is_secret(k), "{k}");
        }
        for k in ["keys", "monkey", "name", "", "passwd"] {
            assert!(!is_secret(k), "{k}");
        }
    }

    #[test]
    fn query_args_debug_hides_secrets() {
        let q = QueryArgs::parse("key=hunter2&user=bob&Token=t0k");
        let shown = format!("{q:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("t0k"),
            "{shown}"
        );
        assert!(shown.contains("bob"), "{shown}");
    }

    #[test]
    fn redact_url_hides_only_secret_values() {
        assert_eq!(redact_url("rtmp://h/app"), "rtmp://h/app");
        assert!(matches!(redact_url("rtmp://h/app?x=1"), Cow::Borrowed(_)));
        assert_eq!(
            redact_url("rtmp://h/app?key=S&x=1&pass%77ord=P&token"),
            "rtmp://h/app?key=***&x=1&pass%77ord=***&token"
        );
    }

    #[test]
    fn writer_orders_fields_and_redacts() {
        let args = QueryArgs::parse("key=S&u=a b");
        let body = |redact| {
            let mut w = FormWriter::new(redact);
            w.field("app", "live")
                .url_field("tcurl", "rtmp://h/live?secret=X")
                .num_field("n", 7u32)
                .args(&args);
            w.finish()
        };
        assert_eq!(
            body(false),
            "app=live&tcurl=rtmp%3A%2F%2Fh%2Flive%3Fsecret%3DX&n=7&key=S&u=a%20b"
        );
        assert_eq!(
            body(true),
            "app=live&tcurl=rtmp%3A%2F%2Fh%2Flive%3Fsecret%3D***&n=7&key=***&u=a%20b"
        );
    }
}
