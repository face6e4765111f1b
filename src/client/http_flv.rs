//! An HTTP-FLV player for the benchmark harness, sans-IO.
//!
//! [`HttpFlvSubscriber`] writes one `GET /{app}/{name}.flv HTTP/1.1`
//! request, reads the response head with `httparse`, and then takes the
//! body apart with the crate's push FLV reader ([`FlvReader`]). It reports
//! the same things the RTMP light player does ([`super::light`]): a start,
//! then every non-empty audio/video tag as (kind, timestamp, payload);
//! script tags (`onMetaData`) are skipped, as the RTMP player skips data
//! messages.
//!
//! Driving order: once connected call [`HttpFlvSubscriber::start`] (it
//! writes the request into `out`), then [`HttpFlvSubscriber::handle_input`]
//! whenever bytes arrive. When the server closes the connection call
//! [`HttpFlvSubscriber::finish`]: `Ok` if the body ended at a tag boundary,
//! otherwise the reason (no complete head, a refusal, a cut tag). No socket,
//! no clock.
//!
//! Rules of the answer, as the server's HTTP-FLV side sends it:
//! * `200` is the only success; any other status (403, 404, ...) is
//!   [`HttpFlvError::Status`] carrying the status line as sent.
//! * The body is the raw FLV byte stream until the connection closes: no
//!   `Content-Length` is needed and chunked transfer coding is refused
//!   ([`HttpFlvError::Chunked`]): this player does not decode it.
//! * The head may be split anywhere across reads; it may not exceed
//!   [`MAX_HEAD_BYTES`].
//!
//! [`HttpFlvUrl`] is where the streams are: `http://host[:port][/prefix]`;
//! [`HttpFlvUrl::path_for`] names an RTMP URL's stream there
//! (`{prefix}/{app}/{name}.flv[?query]`).

use std::fmt;
use std::net::SocketAddr;

use bytes::{Buf, Bytes, BytesMut};
use log::debug;

use crate::proto::flv::{FlvError, FlvReader, TAG_AUDIO, TAG_VIDEO};
use crate::proto::session::MediaKind;

use super::error::ClientError;
use super::url::{split_host_port, strip_prefix_ci, RtmpUrl, UrlError};

/// Default port of `http://`.
pub const DEFAULT_HTTP_PORT: u16 = 80;
/// Largest response head accepted (status line and headers).
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Most header lines parsed in a response head.
const MAX_HEADERS: usize = 64;

/// Where HTTP-FLV streams are served: `http://host[:port][/prefix]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpFlvUrl {
    /// Host name or address, without brackets.
    pub host: String,
    pub port: u16,
    /// Path before `/{app}/{name}.flv`: empty, or `/a/b` (no trailing `/`).
    pub prefix: String,
}

impl HttpFlvUrl {
    /// Parse `http://host[:port][/prefix]` (no query or fragment).
    pub fn parse(url: &str) -> Result<HttpFlvUrl, UrlError> {
        let rest = strip_prefix_ci(url, "http://").ok_or(UrlError::NotHttp)?;
        if rest.contains(['?', '#']) {
            return Err(UrlError::NotHttp);
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (host, port) = split_host_port(authority, DEFAULT_HTTP_PORT)?;
        Ok(HttpFlvUrl {
            host: host.to_owned(),
            port,
            prefix: path.trim_end_matches('/').to_owned(),
        })
    }

    /// `host:port` (brackets around IPv6): for resolution and `Host:`.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The first address `host:port` resolves to.
    pub fn resolve(&self) -> Result<SocketAddr, ClientError> {
        super::simple::resolve_authority(&self.authority())
    }

    /// Request target of `stream`'s app and name:
    /// `{prefix}/{app}/{name}.flv[?query]`, each path segment
    /// percent-encoded where needed; the query is sent as it is (bytes a
    /// request line cannot carry are encoded).
    pub fn path_for(&self, stream: &RtmpUrl) -> String {
        let mut path = self.prefix.clone();
        for seg in stream.app.split('/').filter(|s| !s.is_empty()) {
            path.push('/');
            encode_into(seg, false, &mut path);
        }
        path.push('/');
        encode_into(stream.stream_name(), false, &mut path);
        path.push_str(".flv");
        if let Some((_, q)) = stream.stream.split_once('?') {
            path.push('?');
            encode_into(q, true, &mut path);
        }
        path
    }

    /// The full URL of `stream` (for messages).
    pub fn url_for(&self, stream: &RtmpUrl) -> String {
        format!("http://{}{}", self.authority(), self.path_for(stream))
    }
}

impl fmt::Display for HttpFlvUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.authority(), self.prefix)
    }
}

/// Percent-encode `s` onto `out`: unreserved characters and sub-delims stay
/// (and `?`, `/` in a query), everything else becomes `%XX`.
fn encode_into(s: &str, query: bool, out: &mut String) {
    for &b in s.as_bytes() {
        let keep = b.is_ascii_alphanumeric()
            || b"-._~!$&'()*+,;=:@".contains(&b)
            || (query && (b == b'/' || b == b'?' || b == b'%'));
        if keep {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

/// Why an HTTP-FLV answer is unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpFlvError {
    /// The response head does not parse (httparse's reason).
    BadHead(String),
    /// The head grew past [`MAX_HEAD_BYTES`] without ending.
    HeadTooLarge(usize),
    /// A status other than 200; the status line as sent.
    Status(String),
    /// `Transfer-Encoding: chunked`, which this player does not decode.
    Chunked,
    /// The connection closed before the head was complete (bytes received).
    NoHead(usize),
    /// The body is not a well-formed FLV stream, or was cut inside a tag.
    Flv(FlvError),
}

impl fmt::Display for HttpFlvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpFlvError::BadHead(e) => write!(f, "malformed HTTP response head: {e}"),
            HttpFlvError::HeadTooLarge(n) => {
                write!(f, "HTTP response head longer than {n} bytes")
            }
            HttpFlvError::Status(line) => write!(f, "server answered \"{line}\" (expected 200)"),
            HttpFlvError::Chunked => {
                f.write_str("chunked transfer encoding is not supported for HTTP-FLV")
            }
            HttpFlvError::NoHead(n) => write!(
                f,
                "connection closed before the end of the HTTP response head ({n} bytes received)"
            ),
            HttpFlvError::Flv(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for HttpFlvError {}

/// What an [`HttpFlvSubscriber`] reports.
#[derive(Debug, Clone, PartialEq)]
pub enum HttpFlvEvent {
    /// `200 OK` head received: the FLV body follows.
    Started,
    /// An audio or video tag with a non-empty body.
    Media {
        kind: MediaKind,
        timestamp: u32,
        payload: Bytes,
    },
}

/// Minimal HTTP-FLV player; see the module docs.
pub struct HttpFlvSubscriber {
    host: String,
    path: String,
    in_body: bool,
    reader: FlvReader,
    skipped_tags: u64,
}

impl HttpFlvSubscriber {
    /// A player for `path` (request target, e.g. `/live/cam.flv`) sending
    /// `host` (e.g. `127.0.0.1:8080`) as its `Host:` header.
    pub fn new(host: &str, path: &str) -> Self {
        HttpFlvSubscriber {
            host: host.to_owned(),
            path: path.to_owned(),
            in_body: false,
            reader: FlvReader::new(),
            skipped_tags: 0,
        }
    }

    /// The player of `stream` at `base`.
    pub fn for_stream(base: &HttpFlvUrl, stream: &RtmpUrl) -> Self {
        Self::new(&base.authority(), &base.path_for(stream))
    }

    /// Write the request.
    pub fn start(&mut self, out: &mut BytesMut) {
        let req = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: rtmp-edge-bench\r\nAccept: */*\r\n\
             Connection: close\r\n\r\n",
            self.path, self.host
        );
        out.extend_from_slice(req.as_bytes());
    }

    /// True once the `200` head arrived.
    pub fn is_playing(&self) -> bool {
        self.in_body
    }

    /// FLV tags read so far (all types).
    pub fn tags_read(&self) -> u64 {
        self.reader.tags_read()
    }

    /// Tags other than audio/video (script data) skipped so far.
    pub fn skipped_tags(&self) -> u64 {
        self.skipped_tags
    }

    /// Consume everything complete in `input`; a partial head or tag stays.
    pub fn handle_input(
        &mut self,
        input: &mut BytesMut,
        on: &mut dyn FnMut(HttpFlvEvent),
    ) -> Result<(), HttpFlvError> {
        if !self.in_body {
            let Some(len) = parse_head(input)? else {
                return Ok(());
            };
            input.advance(len);
            self.in_body = true;
            on(HttpFlvEvent::Started);
        }
        while let Some(tag) = self.reader.next_tag(input).map_err(HttpFlvError::Flv)? {
            let kind = match tag.tag_type {
                TAG_AUDIO => MediaKind::Audio,
                TAG_VIDEO => MediaKind::Video,
                _ => {
                    self.skipped_tags += 1;
                    continue;
                }
            };
            if tag.data.is_empty() {
                continue;
            }
            on(HttpFlvEvent::Media {
                kind,
                timestamp: tag.timestamp,
                payload: tag.data,
            });
        }
        Ok(())
    }

    /// Call when the server closed the connection, after a last
    /// [`handle_input`](Self::handle_input) with what was left: `Ok` if the
    /// body ended cleanly after the FLV header or a tag.
    pub fn finish(&self, input: &BytesMut) -> Result<(), HttpFlvError> {
        if !self.in_body {
            // A refusal whose head was cut still names its status.
            if let Some(line) = status_line(input) {
                if !is_ok_status(line) {
                    return Err(HttpFlvError::Status(line.to_owned()));
                }
            }
            return Err(HttpFlvError::NoHead(input.len()));
        }
        self.reader.finish(input).map_err(HttpFlvError::Flv)
    }
}

/// The first line of `input` if complete (without its CR LF), as text.
fn status_line(input: &[u8]) -> Option<&str> {
    let end = input.iter().position(|&b| b == b'\n')?;
    let line = &input[..end];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    std::str::from_utf8(line).ok()
}

fn is_ok_status(line: &str) -> bool {
    line.split_whitespace().nth(1) == Some("200")
}

/// `Ok(Some(head length))` once the head is complete and acceptable,
/// `Ok(None)` if more bytes are needed.
fn parse_head(input: &[u8]) -> Result<Option<usize>, HttpFlvError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    let len = match resp.parse(input) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            if input.len() > MAX_HEAD_BYTES {
                return Err(HttpFlvError::HeadTooLarge(MAX_HEAD_BYTES));
            }
            return Ok(None);
        }
        Err(e) => {
            // A refusal with a quirky header still names its status.
            return Err(match status_line(input) {
                Some(line) if !is_ok_status(line) && line.starts_with("HTTP/") => {
                    HttpFlvError::Status(line.to_owned())
                }
                _ => HttpFlvError::BadHead(e.to_string()),
            });
        }
    };
    if len > MAX_HEAD_BYTES {
        return Err(HttpFlvError::HeadTooLarge(MAX_HEAD_BYTES));
    }
    if resp.code != Some(200) {
        let line = status_line(input).unwrap_or("").to_owned();
        return Err(HttpFlvError::Status(line));
    }
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("transfer-encoding")
            && String::from_utf8_lossy(h.value)
                .to_ascii_lowercase()
                .contains("chunked")
        {
            return Err(HttpFlvError::Chunked);
        }
        if h.name.eq_ignore_ascii_case("content-type")
            && !h.value.eq_ignore_ascii_case(b"video/x-flv")
        {
            debug!(
                "HTTP-FLV: Content-Type {:?} (expected video/x-flv)",
                String::from_utf8_lossy(h.value)
            );
        }
    }
    Ok(Some(len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::flv::{write_header, write_tag, FlvHeader, TAG_SCRIPT};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    const OK_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: video/x-flv\r\n\
        Access-Control-Allow-Origin: *\r\nConnection: close\r\n\r\n";

    type Media = Vec<(MediaKind, u32, Bytes)>;

    /// A tag to write: (type, timestamp, body).
    type Tag = (u8, u32, Vec<u8>);

    fn body(tags: &[Tag]) -> Vec<u8> {
        let mut out = BytesMut::new();
        let header = FlvHeader {
            has_audio: true,
            has_video: true,
        };
        write_header(header, &mut out);
        for (t, ts, data) in tags {
            write_tag(*t, *ts, data, &mut out);
        }
        out.to_vec()
    }

    /// What a player must report for `tags`: audio/video with a body.
    fn expected(tags: &[Tag]) -> Media {
        tags.iter()
            .filter(|(t, _, d)| (*t == TAG_AUDIO || *t == TAG_VIDEO) && !d.is_empty())
            .map(|(t, ts, d)| {
                let kind = if *t == TAG_AUDIO {
                    MediaKind::Audio
                } else {
                    MediaKind::Video
                };
                (kind, *ts, Bytes::from(d.clone()))
            })
            .collect()
    }

    struct Run {
        started: usize,
        media: Media,
        /// `handle_input`'s error, if any, and `finish`'s verdict.
        error: Option<HttpFlvError>,
        finish: Result<(), HttpFlvError>,
        /// Media events seen before `Started` (must be none).
        early: usize,
    }

    /// Feed `bytes` cut at `cuts` (sorted), then end the stream.
    fn run(bytes: &[u8], cuts: &[usize]) -> Run {
        let mut sub = HttpFlvSubscriber::new("127.0.0.1:8080", "/live/cam.flv");
        let mut r = Run {
            started: 0,
            media: Vec::new(),
            error: None,
            finish: Ok(()),
            early: 0,
        };
        let mut input = BytesMut::new();
        let mut at = 0;
        for &cut in cuts.iter().chain(std::iter::once(&bytes.len())) {
            input.extend_from_slice(&bytes[at..cut]);
            at = cut;
            let res = sub.handle_input(&mut input, &mut |ev| match ev {
                HttpFlvEvent::Started => r.started += 1,
                HttpFlvEvent::Media {
                    kind,
                    timestamp,
                    payload,
                } => {
                    if r.started == 0 {
                        r.early += 1;
                    }
                    r.media.push((kind, timestamp, payload));
                }
            });
            if let Err(e) = res {
                r.error = Some(e);
                return r;
            }
        }
        r.finish = sub.finish(&input);
        r
    }

    fn sample_tags() -> Vec<Tag> {
        vec![
            (
                TAG_SCRIPT,
                0,
                b"\x02\x00\x0aonMetaData\x08\x00\x00\x00\x00".to_vec(),
            ),
            (TAG_VIDEO, 0, vec![0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f]),
            (TAG_AUDIO, 0, vec![0xaf, 0, 0x12, 0x10]),
            (TAG_VIDEO, 40, vec![0x17, 1, 0, 0, 0, 9, 9, 9]),
            (TAG_AUDIO, 21, vec![0xaf, 1, 7, 7, 7]),
            (TAG_VIDEO, 73, vec![0x27, 1, 0, 0, 0, 5]),
        ]
    }

    #[test]
    fn request_is_a_plain_get() {
        let base = HttpFlvUrl::parse("http://127.0.0.1:8080").unwrap();
        let stream = RtmpUrl::parse("rtmp://10.0.0.1:1935/live/cam?key=s3").unwrap();
        let mut sub = HttpFlvSubscriber::for_stream(&base, &stream);
        let mut out = BytesMut::new();
        sub.start(&mut out);
        let text = std::str::from_utf8(&out).unwrap();
        assert!(
            text.starts_with("GET /live/cam.flv?key=s3 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"),
            "{text}"
        );
        assert!(text.contains("\r\nConnection: close\r\n"), "{text}");
        assert!(text.ends_with("\r\n\r\n"), "{text}");
        assert!(!sub.is_playing());
    }

    #[test]
    fn whole_answer_gives_the_written_media() {
        let tags = sample_tags();
        let mut bytes = OK_HEAD.to_vec();
        bytes.extend(body(&tags));
        let r = run(&bytes, &[]);
        assert_eq!(r.started, 1);
        assert_eq!(r.early, 0);
        assert_eq!(r.error, None);
        assert_eq!(r.finish, Ok(()));
        assert_eq!(r.media, expected(&tags));
        assert_eq!(r.media.len(), 5, "the script tag is skipped");
    }

    #[test]
    fn head_split_at_every_byte() {
        let tags = sample_tags();
        let flv = body(&tags);
        let want = expected(&tags);
        let mut bytes = OK_HEAD.to_vec();
        bytes.extend(&flv);
        // One cut anywhere in the head (and the first bytes of the body).
        for cut in 0..=OK_HEAD.len() + 20 {
            let r = run(&bytes, &[cut]);
            assert_eq!(r.started, 1, "cut {cut}");
            assert_eq!(r.error, None, "cut {cut}");
            assert_eq!(r.finish, Ok(()), "cut {cut}");
            assert_eq!(r.media, want, "cut {cut}");
        }
        // One byte per read, all the way through.
        let every: Vec<usize> = (1..bytes.len()).collect();
        let r = run(&bytes, &every);
        assert_eq!((r.started, r.early), (1, 0));
        assert_eq!(r.finish, Ok(()));
        assert_eq!(r.media, want);
    }

    #[test]
    fn started_only_once_the_head_is_complete() {
        let mut sub = HttpFlvSubscriber::new("h", "/a/b.flv");
        let mut input = BytesMut::from(&OK_HEAD[..OK_HEAD.len() - 1]);
        let mut events = 0;
        sub.handle_input(&mut input, &mut |_| events += 1).unwrap();
        assert_eq!(events, 0);
        assert!(!sub.is_playing());
        assert_eq!(input.len(), OK_HEAD.len() - 1, "a partial head stays");
        input.extend_from_slice(b"\n");
        sub.handle_input(&mut input, &mut |ev| {
            assert_eq!(ev, HttpFlvEvent::Started);
            events += 1
        })
        .unwrap();
        assert_eq!(events, 1);
        assert!(sub.is_playing());
        assert!(input.is_empty(), "the head is consumed");
    }

    #[test]
    fn tags_split_at_random_boundaries() {
        let mut rng = StdRng::seed_from_u64(0x5eed);
        let mut tags: Vec<Tag> = Vec::new();
        let mut ts = 0u32;
        for i in 0..300 {
            let t = match rng.random_range(0..10) {
                0 => TAG_SCRIPT,
                1..=4 => TAG_AUDIO,
                _ => TAG_VIDEO,
            };
            // Mostly small, some large, a few empty bodies (skipped).
            let len = match rng.random_range(0..20) {
                0 => 0,
                1 => rng.random_range(20_000..200_000),
                _ => rng.random_range(1..2_000),
            };
            let data: Vec<u8> = (0..len).map(|j| (i * 7 + j) as u8).collect();
            ts = ts.wrapping_add(rng.random_range(0..50));
            // Cross the 24-bit boundary halfway through.
            if i == 150 {
                ts = 0x00FF_FFF0;
            }
            tags.push((t, ts, data));
        }
        let want = expected(&tags);
        assert!(want.len() > 200);
        let mut bytes = OK_HEAD.to_vec();
        bytes.extend(body(&tags));
        for seed in 0..64u64 {
            let mut rng = StdRng::seed_from_u64(seed);
            let n = rng.random_range(1..400);
            let mut cuts: Vec<usize> = (0..n).map(|_| rng.random_range(0..bytes.len())).collect();
            cuts.sort_unstable();
            let r = run(&bytes, &cuts);
            assert_eq!(r.error, None, "seed {seed}");
            assert_eq!((r.started, r.early), (1, 0), "seed {seed}");
            assert_eq!(r.finish, Ok(()), "seed {seed}");
            assert_eq!(r.media.len(), want.len(), "seed {seed}");
            assert!(r.media == want, "seed {seed}: media differ");
        }
    }

    #[test]
    fn extended_timestamps() {
        // By hand, not with the writer: the low 24 bits big-endian, then
        // the extension byte as the high 8 bits.
        let mut bytes = OK_HEAD.to_vec();
        bytes.extend(b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00");
        let tag = [
            TAG_VIDEO, 0, 0, 2, // type, size 2
            0x34, 0x56, 0x78, 0x12, // timestamp 0x12345678
            0, 0, 0, // stream id
            0x27, 0x01, // body
            0, 0, 0, 13, // PreviousTagSize
        ];
        bytes.extend(tag);
        let r = run(&bytes, &[]);
        assert_eq!(r.finish, Ok(()));
        assert_eq!(
            r.media,
            vec![(
                MediaKind::Video,
                0x1234_5678,
                Bytes::from_static(&[0x27, 1])
            )]
        );
        // Through the writer, around the 24-bit edge and at the top.
        let stamps = [
            0x00FF_FFFE,
            0x00FF_FFFF,
            0x0100_0000,
            0x0100_0001,
            0xFFFF_FFFF,
        ];
        let tags: Vec<Tag> = stamps
            .iter()
            .map(|&t| (TAG_AUDIO, t, vec![0xaf, 1]))
            .collect();
        let mut bytes = OK_HEAD.to_vec();
        bytes.extend(body(&tags));
        let r = run(&bytes, &[]);
        let got: Vec<u32> = r.media.iter().map(|m| m.1).collect();
        assert_eq!(got, stamps);
    }

    #[test]
    fn refusals_name_their_status_line() {
        for (head, line) in [
            (
                &b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\nnot found\n"[..],
                "HTTP/1.1 404 Not Found",
            ),
            (
                &b"HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n"[..],
                "HTTP/1.1 403 Forbidden",
            ),
            (&b"HTTP/1.0 500 Internal Server Error\r\n\r\n"[..], "HTTP/1.0 500 Internal Server Error"),
        ] {
            let want = HttpFlvError::Status(line.to_owned());
            // Whole, and split at every byte of the head.
            for cut in 0..=head.len() {
                let r = run(head, &[cut]);
                assert_eq!(r.error.as_ref(), Some(&want), "{line} cut {cut}");
                assert_eq!(r.started, 0, "{line}");
                assert!(r.media.is_empty());
            }
            let msg = ClientError::Http(want).to_string();
            assert!(msg.contains(line), "{msg}");
            assert!(msg.contains("expected 200"), "{msg}");
        }
        // A refusal whose connection closes before the head ends.
        let r = run(b"HTTP/1.1 403 Forbidden\r\nServer: x", &[]);
        assert_eq!(r.error, None);
        assert_eq!(
            r.finish,
            Err(HttpFlvError::Status("HTTP/1.1 403 Forbidden".to_owned()))
        );
        // A 200 head cut short is no refusal.
        let r = run(&OK_HEAD[..20], &[]);
        assert_eq!(r.finish, Err(HttpFlvError::NoHead(20)));
        let r = run(b"", &[]);
        assert_eq!(r.finish, Err(HttpFlvError::NoHead(0)));
    }

    #[test]
    fn truncated_stream() {
        let tags = sample_tags();
        let flv = body(&tags);
        let mut bytes = OK_HEAD.to_vec();
        bytes.extend(&flv);
        let want = expected(&tags);
        // Tag boundaries (offsets into `bytes` where a tag header starts).
        let mut starts = Vec::new();
        let mut at = OK_HEAD.len() + 13;
        for (_, _, d) in &tags {
            starts.push(at);
            at += 11 + d.len() + 4;
        }
        assert_eq!(at, bytes.len());
        let last = *starts.last().unwrap();
        // Cut inside the last tag's header, its body and its trailing
        // PreviousTagSize (the tag itself is then delivered).
        for cut in [last + 5, last + 13, bytes.len() - 2] {
            let r = run(&bytes[..cut], &[]);
            assert_eq!(r.error, None, "cut {cut}");
            let in_trailer = cut == bytes.len() - 2;
            let n = if in_trailer {
                want.len()
            } else {
                want.len() - 1
            };
            assert_eq!(r.media, want[..n], "cut {cut}");
            let left = if in_trailer { 2 } else { cut - last };
            assert_eq!(
                r.finish,
                Err(HttpFlvError::Flv(FlvError::Truncated(left))),
                "cut {cut}"
            );
            let msg = r.finish.unwrap_err().to_string();
            assert!(msg.contains("ends inside"), "{msg}");
        }
        // Cut inside the FLV header: nothing but Started.
        let r = run(&bytes[..OK_HEAD.len() + 5], &[]);
        assert_eq!(r.started, 1);
        assert!(r.media.is_empty());
        assert_eq!(r.finish, Err(HttpFlvError::Flv(FlvError::Truncated(5))));
        // A body ending after a tag (with or without its PreviousTagSize)
        // is a clean end.
        let r = run(&bytes[..bytes.len() - 4], &[]);
        assert_eq!(r.finish, Ok(()));
        assert_eq!(r.media, want);
    }

    #[test]
    fn bad_answers() {
        let r = run(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nFLV\x01\x05",
            &[],
        );
        assert_eq!(r.error, Some(HttpFlvError::Chunked));
        let r = run(b"SSH-2.0-OpenSSH_9\r\n\r\n", &[]);
        assert!(
            matches!(r.error, Some(HttpFlvError::BadHead(_))),
            "{:?}",
            r.error
        );
        let r = run(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html>",
            &[],
        );
        assert_eq!(r.started, 1);
        assert_eq!(r.error, Some(HttpFlvError::Flv(FlvError::BadSignature)));
        // A head that never ends.
        let mut huge = b"HTTP/1.1 200 OK\r\nX-Pad: ".to_vec();
        huge.resize(MAX_HEAD_BYTES + 1, b'a');
        let r = run(&huge, &[MAX_HEAD_BYTES / 2]);
        assert_eq!(r.error, Some(HttpFlvError::HeadTooLarge(MAX_HEAD_BYTES)));
        // More header lines than parsed.
        let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend(format!("X-{i}: v\r\n").as_bytes());
        }
        many.extend(b"\r\n");
        let r = run(&many, &[]);
        assert_eq!(
            r.error,
            Some(HttpFlvError::BadHead("too many headers".to_owned()))
        );
    }

    #[test]
    fn base_url_parsing_and_stream_paths() {
        let u = HttpFlvUrl::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.prefix.as_str()),
            ("127.0.0.1", 8080, "")
        );
        let u = HttpFlvUrl::parse("HTTP://example.com/").unwrap();
        assert_eq!((u.port, u.prefix.as_str()), (80, ""));
        let u = HttpFlvUrl::parse("http://[::1]:9000/edge/flv/").unwrap();
        assert_eq!((u.host.as_str(), u.prefix.as_str()), ("::1", "/edge/flv"));
        assert_eq!(u.authority(), "[::1]:9000");
        let s = RtmpUrl::parse("rtmp://h/live/bench_3?key=a%20b").unwrap();
        assert_eq!(u.path_for(&s), "/edge/flv/live/bench_3.flv?key=a%20b");
        assert_eq!(
            u.url_for(&s),
            "http://[::1]:9000/edge/flv/live/bench_3.flv?key=a%20b"
        );
        let s = RtmpUrl::parse("rtmp://h/live/caméra 1").unwrap();
        let u = HttpFlvUrl::parse("http://h:1").unwrap();
        assert_eq!(u.path_for(&s), "/live/cam%C3%A9ra%201.flv");
        for bad in [
            "rtmp://h/live",
            "https://h",
            "http://",
            "http://h:0",
            "http://h/x?y",
        ] {
            assert!(HttpFlvUrl::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            HttpFlvUrl::parse("ftp://h").unwrap_err().to_string(),
            "HTTP-FLV URL must be http://host[:port][/prefix] (no query)"
        );
    }
}
