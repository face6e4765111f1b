//! HTTP/1.x request heads: a push parser over a connection's input buffer.
//!
//! # Contract
//!
//! * The caller appends socket bytes to the connection's buffer and, while no
//!   request is in flight on that connection, calls [`parse_request`] on the
//!   whole buffer. [`Parse::Partial`] means "need more bytes"; a
//!   [`Parse::Complete`] request says in [`Request::head_len`] how many bytes
//!   of the buffer its head used: the caller drops those and keeps the rest
//!   (a pipelined next request) for after the response has been written.
//!   One request is in flight per connection: the caller does not parse the
//!   next one before answering the current one.
//! * Limits: a head (request line, headers, empty line) longer than
//!   [`MAX_HEAD_BYTES`], or with more than [`MAX_HEADERS`] headers, is
//!   [`RequestError::HeadTooLarge`] (431) as soon as the buffer proves it,
//!   so an attacker cannot make the caller buffer more than the limit plus
//!   one read. A malformed head is `BadRequest` (400); a method other than
//!   GET, HEAD, DELETE and POST is `MethodNotAllowed` (405); a request with a body
//!   is `BadRequest` too (this server takes none). Every error's response
//!   closes the connection ([`RequestError::status`] gives the code and
//!   [`RequestError::allow`] the `Allow` header of a 405).
//! * Keep-alive: HTTP/1.1 keeps the connection unless `Connection: close`;
//!   HTTP/1.0 closes it unless `Connection: keep-alive`
//!   ([`Request::keep_alive`]).
//! * The path is percent-decoded into UTF-8 ([`Request::path`]); an encoded
//!   `/` (`%2F`), an invalid escape or invalid UTF-8 is a 400, so a decoded
//!   path splits into the same segments as the raw one. The query (after
//!   `?`) is kept as sent ([`Request::query`]).
//! * No clock here: the caller enforces [`HEAD_DEADLINE_MS`] (from the first
//!   byte of a head to its end) and [`KEEP_ALIVE_IDLE_MS`] (between
//!   requests on a kept-alive connection).

use std::fmt;

/// Largest request head accepted (431 above it).
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Most header lines accepted (431 above it).
pub const MAX_HEADERS: usize = 64;
/// Time a client has to send a whole request head, in milliseconds.
pub const HEAD_DEADLINE_MS: u64 = 5_000;
/// Idle time allowed between requests on a kept-alive connection, in ms.
pub const KEEP_ALIVE_IDLE_MS: u64 = 30_000;

/// The methods this server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Delete,
    /// Only `POST /api/v1/reconnect`, without a body.
    Post,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Delete => "DELETE",
            Method::Post => "POST",
        }
    }
}

/// A parsed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    /// Percent-decoded path, starting with `/`.
    pub path: String,
    /// The query after `?`, as sent (not decoded); `None` when absent or
    /// empty.
    pub query: Option<String>,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    /// Whether the connection stays open after the response.
    pub keep_alive: bool,
    /// The `Host` header, if any.
    pub host: Option<String>,
    /// Bytes of the buffer this head used.
    pub head_len: usize,
}

/// The result of one parse attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parse {
    /// The head is not complete yet: read more.
    Partial,
    Complete(Request),
}

/// Why a request head was refused. Each maps to a status code and closes
/// the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// Head above [`MAX_HEAD_BYTES`] or more than [`MAX_HEADERS`] headers.
    HeadTooLarge,
    /// A malformed request line, header, path or escape; the reason.
    BadRequest(&'static str),
    /// A method this server does not answer (the method, at most 16 bytes).
    MethodNotAllowed(String),
    /// A version other than HTTP/1.0 or HTTP/1.1.
    VersionNotSupported,
}

impl RequestError {
    /// The status code of the error response.
    pub fn status(&self) -> u16 {
        match self {
            RequestError::HeadTooLarge => 431,
            RequestError::BadRequest(_) => 400,
            RequestError::MethodNotAllowed(_) => 405,
            RequestError::VersionNotSupported => 505,
        }
    }

    /// The `Allow` header of the error response: the methods this server
    /// answers somewhere, for a 405 found before routing.
    pub fn allow(&self) -> Option<&'static str> {
        match self {
            RequestError::MethodNotAllowed(_) => Some("GET, HEAD, DELETE, POST"),
            _ => None,
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::HeadTooLarge => write!(
                f,
                "request head above {MAX_HEAD_BYTES} bytes or {MAX_HEADERS} headers"
            ),
            RequestError::BadRequest(why) => write!(f, "bad request: {why}"),
            RequestError::MethodNotAllowed(m) => write!(f, "method {m} not allowed"),
            RequestError::VersionNotSupported => f.write_str("HTTP version not supported"),
        }
    }
}

impl std::error::Error for RequestError {}

/// Parses the request head at the start of `buf`. See the module docs.
pub fn parse_request(buf: &[u8]) -> Result<Parse, RequestError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD_BYTES => {
            return Err(RequestError::HeadTooLarge)
        }
        Ok(httparse::Status::Partial) => return Ok(Parse::Partial),
        Ok(httparse::Status::Complete(n)) if n > MAX_HEAD_BYTES => {
            return Err(RequestError::HeadTooLarge)
        }
        Ok(httparse::Status::Complete(n)) => n,
        Err(e) => return Err(map_httparse(e)),
    };
    let method = match req.method {
        Some("GET") => Method::Get,
        Some("HEAD") => Method::Head,
        Some("DELETE") => Method::Delete,
        Some("POST") => Method::Post,
        Some(other) => {
            let shown: String = other.chars().take(16).collect();
            return Err(RequestError::MethodNotAllowed(shown));
        }
        None => return Err(RequestError::BadRequest("no method")),
    };
    let minor_version = match req.version {
        Some(v @ (0 | 1)) => v,
        _ => return Err(RequestError::VersionNotSupported),
    };
    let target = req.path.ok_or(RequestError::BadRequest("no target"))?;
    let (path, query) = split_target(target)?;
    let heads = HeadFacts::of(req.headers)?;
    if heads.has_body {
        return Err(RequestError::BadRequest("request bodies are not accepted"));
    }
    let keep_alive = match minor_version {
        1 => !heads.close,
        _ => heads.keep_alive && !heads.close,
    };
    Ok(Parse::Complete(Request {
        method,
        path,
        query,
        minor_version,
        keep_alive,
        host: heads.host,
        head_len,
    }))
}

fn map_httparse(e: httparse::Error) -> RequestError {
    match e {
        httparse::Error::TooManyHeaders => RequestError::HeadTooLarge,
        httparse::Error::Version => RequestError::VersionNotSupported,
        httparse::Error::HeaderName => RequestError::BadRequest("invalid header name"),
        httparse::Error::HeaderValue => RequestError::BadRequest("invalid header value"),
        httparse::Error::NewLine => RequestError::BadRequest("invalid line ending"),
        httparse::Error::Token => RequestError::BadRequest("invalid request line"),
        httparse::Error::Status => RequestError::BadRequest("invalid status"),
    }
}

/// What the headers say about the connection and the body.
struct HeadFacts {
    close: bool,
    keep_alive: bool,
    has_body: bool,
    host: Option<String>,
}

impl HeadFacts {
    fn of(headers: &[httparse::Header<'_>]) -> Result<HeadFacts, RequestError> {
        let mut facts = HeadFacts {
            close: false,
            keep_alive: false,
            has_body: false,
            host: None,
        };
        for h in headers {
            if h.name.eq_ignore_ascii_case("connection") {
                for token in String::from_utf8_lossy(h.value).split(',') {
                    let token = token.trim();
                    facts.close |= token.eq_ignore_ascii_case("close");
                    facts.keep_alive |= token.eq_ignore_ascii_case("keep-alive");
                }
            } else if h.name.eq_ignore_ascii_case("content-length") {
                let text = std::str::from_utf8(h.value).unwrap_or("x").trim();
                let n: u64 = text
                    .parse()
                    .map_err(|_| RequestError::BadRequest("invalid Content-Length"))?;
                facts.has_body |= n > 0;
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                facts.has_body = true;
            } else if h.name.eq_ignore_ascii_case("host") {
                facts.host = Some(String::from_utf8_lossy(h.value).into_owned());
            }
        }
        Ok(facts)
    }
}

/// Splits a request target into a decoded path and the raw query. Accepts
/// origin-form (`/a/b?q`) and absolute-form (`http://host/a/b?q`).
fn split_target(target: &str) -> Result<(String, Option<String>), RequestError> {
    let origin = match target.find("://") {
        Some(i) if !target[..i].contains('/') => {
            let rest = &target[i + 3..];
            rest.find('/').map_or("/", |j| &rest[j..])
        }
        _ => target,
    };
    if !origin.starts_with('/') {
        return Err(RequestError::BadRequest("target is not a path"));
    }
    let origin = origin.split('#').next().unwrap_or(origin);
    let (raw_path, query) = match origin.split_once('?') {
        Some((p, q)) => (p, (!q.is_empty()).then(|| q.to_string())),
        None => (origin, None),
    };
    Ok((percent_decode_path(raw_path)?, query))
}

/// Decodes `%XX` escapes of a path. An encoded `/`, a bad escape or a
/// result that is not UTF-8 is a 400.
pub fn percent_decode_path(raw: &str) -> Result<String, RequestError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let hex = bytes
            .get(i + 1..i + 3)
            .ok_or(RequestError::BadRequest("truncated percent escape"))?;
        let value = hex_pair(hex).ok_or(RequestError::BadRequest("invalid percent escape"))?;
        if value == b'/' {
            return Err(RequestError::BadRequest("encoded slash in path"));
        }
        out.push(value);
        i += 3;
    }
    String::from_utf8(out).map_err(|_| RequestError::BadRequest("path is not UTF-8"))
}

fn hex_pair(hex: &[u8]) -> Option<u8> {
    let digit = |c: u8| (c as char).to_digit(16);
    Some((digit(hex[0])? * 16 + digit(hex[1])?) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(buf: &[u8]) -> Request {
        match parse_request(buf) {
            Ok(Parse::Complete(r)) => r,
            other => panic!("expected a request, got {other:?}"),
        }
    }

    #[test]
    fn simple_get_keeps_alive_on_1_1() {
        let buf = b"GET /api/v1/streams HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\n";
        let r = complete(buf);
        assert_eq!(r.method, Method::Get);
        assert_eq!(r.path, "/api/v1/streams");
        assert_eq!(r.query, None);
        assert!(r.keep_alive);
        assert_eq!(r.host.as_deref(), Some("x"));
        assert_eq!(&buf[r.head_len..], b"GET / HTTP/1.1\r\n");
    }

    #[test]
    fn partial_until_the_empty_line() {
        let full = b"GET /live/a.flv?key=s%20x HTTP/1.1\r\nHost: h\r\n\r\n";
        for cut in 0..full.len() {
            assert_eq!(parse_request(&full[..cut]), Ok(Parse::Partial), "cut {cut}");
        }
        let r = complete(full);
        assert_eq!(r.path, "/live/a.flv");
        assert_eq!(r.query.as_deref(), Some("key=s%20x"));
    }

    #[test]
    fn connection_semantics() {
        let r = complete(b"GET / HTTP/1.1\r\nConnection: Close\r\n\r\n");
        assert!(!r.keep_alive);
        let r = complete(b"GET / HTTP/1.0\r\n\r\n");
        assert!(!r.keep_alive);
        assert_eq!(r.minor_version, 0);
        let r = complete(b"GET / HTTP/1.0\r\nConnection: foo, Keep-Alive\r\n\r\n");
        assert!(r.keep_alive);
        let r = complete(b"HEAD / HTTP/1.1\r\nConnection: keep-alive, close\r\n\r\n");
        assert!(!r.keep_alive);
        assert_eq!(r.method, Method::Head);
    }

    #[test]
    fn methods() {
        assert_eq!(
            complete(b"DELETE /api/v1/clients/3 HTTP/1.1\r\n\r\n").method,
            Method::Delete
        );
        assert_eq!(
            complete(b"POST /api/v1/reconnect HTTP/1.1\r\nContent-Length: 0\r\n\r\n").method,
            Method::Post
        );
        let e = parse_request(b"PUT / HTTP/1.1\r\n\r\n").unwrap_err();
        assert_eq!(e, RequestError::MethodNotAllowed("PUT".into()));
        assert_eq!(e.status(), 405);
        assert_eq!(e.allow(), Some("GET, HEAD, DELETE, POST"));
        assert_eq!(RequestError::HeadTooLarge.allow(), None);
        assert_eq!(e.to_string(), "method PUT not allowed");
    }

    #[test]
    fn oversized_heads_are_431() {
        let mut buf = b"GET / HTTP/1.1\r\nX-Pad: ".to_vec();
        buf.resize(MAX_HEAD_BYTES + 1, b'a');
        let e = parse_request(&buf).unwrap_err();
        assert_eq!(e, RequestError::HeadTooLarge);
        assert_eq!(e.status(), 431);
        // Exactly at the limit but complete is fine; one byte over is not.
        let mut head = b"GET / HTTP/1.1\r\nX-Pad: ".to_vec();
        head.resize(MAX_HEAD_BYTES - 4, b'a');
        head.extend_from_slice(b"\r\n\r\n");
        assert!(matches!(parse_request(&head), Ok(Parse::Complete(_))));
        head.insert(20, b'a');
        assert_eq!(parse_request(&head), Err(RequestError::HeadTooLarge));
        let many: String = (0..MAX_HEADERS + 1)
            .map(|i| format!("X-{i}: v\r\n"))
            .collect();
        let buf = format!("GET / HTTP/1.1\r\n{many}\r\n");
        assert_eq!(
            parse_request(buf.as_bytes()),
            Err(RequestError::HeadTooLarge)
        );
    }

    #[test]
    fn garbage_is_400_or_505() {
        for junk in [
            &b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"[..],
            b"GET\r\n\r\n",
            b"GET / FTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
            b"GET *  HTTP/1.1\r\n\r\n",
        ] {
            let e = parse_request(junk).unwrap_err();
            assert!(matches!(e.status(), 400 | 505), "{junk:?}: {e}");
        }
        assert_eq!(
            parse_request(b"GET * HTTP/1.1\r\n\r\n"),
            Err(RequestError::BadRequest("target is not a path"))
        );
        assert_eq!(
            parse_request(b"GET / HTTP/2.0\r\n\r\n"),
            Err(RequestError::VersionNotSupported)
        );
    }

    #[test]
    fn bodies_are_refused() {
        let e = parse_request(b"DELETE /x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc").unwrap_err();
        assert_eq!(e.status(), 400);
        let e = parse_request(b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").unwrap_err();
        assert_eq!(e.status(), 400);
        let r = complete(b"GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(r.path, "/");
        assert!(parse_request(b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n").is_err());
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode_path("/a%20b/%C3%A9").unwrap(), "/a b/é");
        assert_eq!(percent_decode_path("/%2e%2E/x").unwrap(), "/../x");
        assert_eq!(percent_decode_path("/a+b").unwrap(), "/a+b");
        for bad in ["/%2F", "/%2f", "/%", "/%4", "/%zz", "/%ff"] {
            assert!(percent_decode_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn absolute_form_and_fragments() {
        let r = complete(b"GET http://example.com/live/x.flv?a=1 HTTP/1.1\r\n\r\n");
        assert_eq!(r.path, "/live/x.flv");
        assert_eq!(r.query.as_deref(), Some("a=1"));
        let r = complete(b"GET http://example.com HTTP/1.1\r\n\r\n");
        assert_eq!(r.path, "/");
        let r = complete(b"GET /a? HTTP/1.1\r\n\r\n");
        assert_eq!(r.query, None);
    }

    /// Seeded random mutations of real heads: never a panic, and every
    /// complete request is well-formed.
    #[test]
    fn mutated_heads_never_panic() {
        use rand::rngs::StdRng;
        use rand::{Rng, SeedableRng};
        let seeds: [&[u8]; 3] = [
            b"GET /live/cam.flv?key=a%20b HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
            b"DELETE /api/v1/clients/12 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
            b"HEAD /static/%2e%2e/x HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
        ];
        let mut rng = StdRng::seed_from_u64(11);
        for round in 0..20_000 {
            let mut buf = seeds[round % seeds.len()].to_vec();
            for _ in 0..rng.random_range(1..4) {
                let i = rng.random_range(0..buf.len());
                match rng.random_range(0..3) {
                    0 => buf[i] = rng.random(),
                    1 => {
                        buf.remove(i);
                    }
                    _ => buf.insert(i, b"%/.\r\n \0"[rng.random_range(0..7)]),
                }
            }
            if let Ok(Parse::Complete(r)) = parse_request(&buf) {
                assert!(r.head_len <= buf.len());
                assert!(r.path.starts_with('/'), "{:?}", r.path);
                let _ = super::super::route::route(&r.path, r.query.as_deref());
            }
        }
    }

    #[test]
    fn error_display() {
        assert_eq!(
            RequestError::HeadTooLarge.to_string(),
            "request head above 16384 bytes or 64 headers"
        );
        assert_eq!(RequestError::BadRequest("x").to_string(), "bad request: x");
        assert_eq!(
            RequestError::VersionNotSupported.to_string(),
            "HTTP version not supported"
        );
    }
}
