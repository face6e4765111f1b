//! HTTP/1.1 response heads and small whole responses, as `Bytes`.
//!
//! # Contract
//!
//! * [`ResponseHead::encode`] builds a head: status line, `Server`,
//!   `Content-Type`, `Content-Length` (when known), `Cache-Control:
//!   no-cache` (when asked), `Access-Control-Allow-Origin: *` (when asked),
//!   `Allow` (for 405), then `Connection: keep-alive` or `close`, and the
//!   empty line. No `Date`: this module has no clock (RFC 9110 §6.6.1 lets
//!   an origin server without a clock leave it out).
//! * [`full_response`] is a head plus a body in one buffer (the API, pages,
//!   metrics, static files up to the driver's own limit); with `head_only`
//!   (a HEAD request) the body is left out but its length is announced.
//! * [`error_response`] is a short `text/plain` answer for a status code;
//!   it always closes the connection, so a client that sent junk after a
//!   bad head cannot smuggle a second request.
//! * [`flv_head`] starts an HTTP-FLV stream: `video/x-flv`, CORS open,
//!   `Connection: close` and neither Content-Length nor chunked encoding,
//!   so every byte after it is the same for every viewer.

use std::fmt::Write as _;

use bytes::{BufMut, Bytes, BytesMut};

/// The `Server` header value.
pub const SERVER: &str = concat!("rtmp-edge/", env!("CARGO_PKG_VERSION"));

/// Content types this server sends.
pub const TEXT_PLAIN: &str = "text/plain; charset=utf-8";
pub const TEXT_HTML: &str = "text/html; charset=utf-8";
pub const APPLICATION_JSON: &str = "application/json";
/// Prometheus text exposition format 0.0.4.
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
pub const VIDEO_FLV: &str = "video/x-flv";

/// The reason phrase of the status codes this server sends.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// The parts of a response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    pub status: u16,
    pub content_type: Option<&'static str>,
    /// `None` for a body delimited by the connection's close.
    pub content_length: Option<u64>,
    pub keep_alive: bool,
    /// `Access-Control-Allow-Origin: *`.
    pub cors: bool,
    /// `Cache-Control: no-cache`.
    pub no_cache: bool,
    /// `Allow`, for a 405.
    pub allow: Option<&'static str>,
}

impl ResponseHead {
    /// A head with status and nothing else set (no body length, closes).
    pub fn new(status: u16) -> ResponseHead {
        ResponseHead {
            status,
            content_type: None,
            content_length: None,
            keep_alive: false,
            cors: false,
            no_cache: false,
            allow: None,
        }
    }

    /// Writes the head into `out`.
    pub fn write_to(&self, out: &mut BytesMut) {
        let mut s = String::with_capacity(192);
        // Writing to a String cannot fail.
        let _ = write!(
            s,
            "HTTP/1.1 {} {}\r\nServer: {SERVER}\r\n",
            self.status,
            reason(self.status)
        );
        if let Some(ct) = self.content_type {
            let _ = write!(s, "Content-Type: {ct}\r\n");
        }
        if let Some(n) = self.content_length {
            let _ = write!(s, "Content-Length: {n}\r\n");
        }
        if self.no_cache {
            s.push_str("Cache-Control: no-cache\r\n");
        }
        if self.cors {
            s.push_str("Access-Control-Allow-Origin: *\r\n");
        }
        if let Some(allow) = self.allow {
            let _ = write!(s, "Allow: {allow}\r\n");
        }
        s.push_str(if self.keep_alive {
            "Connection: keep-alive\r\n\r\n"
        } else {
            "Connection: close\r\n\r\n"
        });
        out.put_slice(s.as_bytes());
    }

    /// The head alone.
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::new();
        self.write_to(&mut out);
        out.freeze()
    }
}

/// A head and body in one buffer. `head_only` leaves the body out (HEAD).
/// API and page answers are never cached.
pub fn full_response(
    status: u16,
    content_type: &'static str,
    body: &[u8],
    keep_alive: bool,
    head_only: bool,
) -> Bytes {
    let head = ResponseHead {
        keep_alive,
        ..ResponseHead::new(status)
    };
    with_body(head, content_type, body, head_only)
}

/// A short plain-text error answer that closes the connection. `allow` is
/// the `Allow` header for a 405.
pub fn error_response(status: u16, allow: Option<&'static str>, head_only: bool) -> Bytes {
    let body = format!("{status} {}\n", reason(status));
    let head = ResponseHead {
        allow,
        ..ResponseHead::new(status)
    };
    with_body(head, TEXT_PLAIN, body.as_bytes(), head_only)
}

/// `head` (given its type, length and no-cache) followed by `body` unless
/// `head_only`.
fn with_body(
    head: ResponseHead,
    content_type: &'static str,
    body: &[u8],
    head_only: bool,
) -> Bytes {
    let head = ResponseHead {
        content_type: Some(content_type),
        content_length: Some(body.len() as u64),
        no_cache: true,
        ..head
    };
    let mut out = BytesMut::with_capacity(256 + body.len());
    head.write_to(&mut out);
    if !head_only {
        out.put_slice(body);
    }
    out.freeze()
}

/// `204 No Content` (the answer to a successful DELETE): no body and, as
/// RFC 9110 §8.6 requires, no Content-Length.
pub fn no_content(keep_alive: bool) -> Bytes {
    ResponseHead {
        keep_alive,
        ..ResponseHead::new(204)
    }
    .encode()
}

/// The head of an HTTP-FLV stream (see the module docs).
pub fn flv_head() -> Bytes {
    ResponseHead {
        content_type: Some(VIDEO_FLV),
        cors: true,
        no_cache: true,
        ..ResponseHead::new(200)
    }
    .encode()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(b: &Bytes) -> &str {
        std::str::from_utf8(b).unwrap()
    }

    /// Parses a response head with httparse and returns (code, headers).
    fn parse(b: &[u8]) -> (u16, Vec<(String, String)>, usize) {
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let mut resp = httparse::Response::new(&mut headers);
        let n = match resp.parse(b).unwrap() {
            httparse::Status::Complete(n) => n,
            httparse::Status::Partial => panic!("partial head"),
        };
        let hs = resp
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_ascii_lowercase(),
                    String::from_utf8(h.value.to_vec()).unwrap(),
                )
            })
            .collect();
        (resp.code.unwrap(), hs, n)
    }

    fn header<'a>(hs: &'a [(String, String)], name: &str) -> Option<&'a str> {
        hs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn flv_head_has_no_length_and_closes() {
        let h = flv_head();
        let (code, hs, n) = parse(&h);
        assert_eq!(code, 200);
        assert_eq!(n, h.len());
        assert_eq!(header(&hs, "content-type"), Some("video/x-flv"));
        assert_eq!(header(&hs, "access-control-allow-origin"), Some("*"));
        assert_eq!(header(&hs, "connection"), Some("close"));
        assert_eq!(header(&hs, "cache-control"), Some("no-cache"));
        assert_eq!(header(&hs, "content-length"), None);
        assert_eq!(header(&hs, "transfer-encoding"), None);
        assert!(text(&h).starts_with("HTTP/1.1 200 OK\r\n"));
    }

    #[test]
    fn full_and_head_only() {
        let body = br#"{"streams":[]}"#;
        let r = full_response(200, APPLICATION_JSON, body, true, false);
        let (code, hs, n) = parse(&r);
        assert_eq!(code, 200);
        assert_eq!(&r[n..], body);
        assert_eq!(header(&hs, "content-length"), Some("14"));
        assert_eq!(header(&hs, "connection"), Some("keep-alive"));
        let h = full_response(200, APPLICATION_JSON, body, false, true);
        let (_, hs, n) = parse(&h);
        assert_eq!(n, h.len());
        assert_eq!(header(&hs, "content-length"), Some("14"));
        assert_eq!(header(&hs, "connection"), Some("close"));
    }

    #[test]
    fn no_content_has_no_length() {
        let r = no_content(true);
        let (code, hs, n) = parse(&r);
        assert_eq!((code, n), (204, r.len()));
        assert_eq!(header(&hs, "content-length"), None);
        assert_eq!(header(&hs, "connection"), Some("keep-alive"));
    }

    #[test]
    fn errors_close_with_a_short_body() {
        for code in [400, 403, 404, 405, 408, 431, 500, 503, 505] {
            let r = error_response(code, None, false);
            let (got, hs, n) = parse(&r);
            assert_eq!(got, code);
            assert_eq!(header(&hs, "connection"), Some("close"));
            let body = &r[n..];
            assert_eq!(
                header(&hs, "content-length").unwrap(),
                body.len().to_string()
            );
            assert!(text(&r).contains(reason(code)));
        }
        let r = error_response(405, Some("GET, HEAD"), true);
        let (_, hs, n) = parse(&r);
        assert_eq!(n, r.len());
        assert_eq!(header(&hs, "allow"), Some("GET, HEAD"));
        assert!(text(&r).starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
        assert_eq!(reason(999), "Unknown");
    }
}
