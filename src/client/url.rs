//! `rtmp://` and `rtmps://` URL parsing.
//!
//! Form: `rtmp[s]://host[:port]/app[/instance]/name[?query]`.
//! * The port defaults to 1935 (`rtmps`: 443, as ffmpeg and OBS use). An
//!   IPv6 host is written in brackets.
//! * `rtmps` connects over TLS, verifying the server against the webpki
//!   roots by default ([`TlsVerify`]; a caller may set a CA file or turn
//!   verification off for self-signed test servers).
//! * The application is the first path segment, or the first two when the
//!   path has three or more segments (as ffmpeg splits it); the remaining
//!   segments form the stream name.
//! * A query string belongs to the stream name (`name?key=v` is sent as the
//!   name in `publish`/`play`), never to the application.

use std::fmt;
use std::path::PathBuf;

/// Default RTMP port.
pub const DEFAULT_PORT: u16 = 1935;
/// Default RTMPS port.
pub const DEFAULT_TLS_PORT: u16 = 443;

/// How an `rtmps://` client checks the server's certificate.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TlsVerify {
    /// Against Mozilla's roots (webpki-roots), with the URL's host name.
    #[default]
    WebPki,
    /// Against the CA certificates in this PEM file, with the host name.
    CaFile(PathBuf),
    /// Not at all (`--insecure`): for self-signed test servers only.
    Insecure,
}

/// A parsed `rtmp://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtmpUrl {
    /// Host name or address, without brackets.
    pub host: String,
    pub port: u16,
    /// Application, e.g. `live` or `live/instance`.
    pub app: String,
    /// Stream name with its query string, e.g. `cam?key=v`.
    pub stream: String,
    /// `Some` for `rtmps://`: TLS with this verification.
    pub tls: Option<TlsVerify>,
}

/// Why a string is not a usable RTMP URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlError {
    /// Scheme other than `rtmp://`.
    BadScheme,
    /// Empty host, or an unclosed `[`.
    BadHost,
    /// Port not a number in 1..=65535.
    BadPort,
    /// No application segment.
    MissingApp,
    /// No stream name after the application.
    MissingStream,
    /// Not `http://host[:port][/prefix]` (HTTP-FLV base URL).
    NotHttp,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UrlError::BadScheme => "URL must start with rtmp:// or rtmps://",
            UrlError::BadHost => "URL has an empty or malformed host",
            UrlError::BadPort => "URL port is not a number in 1..=65535",
            UrlError::MissingApp => "URL has no application path segment",
            UrlError::MissingStream => "URL has no stream name after the application",
            UrlError::NotHttp => "HTTP-FLV URL must be http://host[:port][/prefix] (no query)",
        })
    }
}

impl std::error::Error for UrlError {}

impl RtmpUrl {
    /// Parse `rtmp[s]://host[:port]/app[/instance]/name[?query]`.
    pub fn parse(url: &str) -> Result<RtmpUrl, UrlError> {
        let (rest, tls) = match strip_prefix_ci(url, "rtmps://") {
            Some(rest) => (rest, Some(TlsVerify::default())),
            None => (
                strip_prefix_ci(url, "rtmp://").ok_or(UrlError::BadScheme)?,
                None,
            ),
        };
        let default_port = if tls.is_some() {
            DEFAULT_TLS_PORT
        } else {
            DEFAULT_PORT
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, ""),
        };
        let (host, port) = split_host_port(authority, default_port)?;
        let (path, query) = match path.find('?') {
            Some(i) => (&path[..i], Some(&path[i + 1..])),
            None => (path, None),
        };
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let (app, name) = match segments.len() {
            0 => return Err(UrlError::MissingApp),
            1 => return Err(UrlError::MissingStream),
            2 => (segments[0].to_owned(), segments[1].to_owned()),
            _ => (segments[..2].join("/"), segments[2..].join("/")),
        };
        let stream = match query {
            Some(q) => format!("{name}?{q}"),
            None => name,
        };
        Ok(RtmpUrl {
            host: host.to_owned(),
            port,
            app,
            stream,
            tls,
        })
    }

    /// `tcUrl` for `connect`: `rtmp[s]://host:port/app`.
    pub fn tc_url(&self) -> String {
        let scheme = if self.tls.is_some() { "rtmps" } else { "rtmp" };
        format!(
            "{scheme}://{}:{}/{}",
            self.host_for_url(),
            self.port,
            self.app
        )
    }

    /// `host:port` for socket address resolution (brackets around IPv6).
    pub fn authority(&self) -> String {
        format!("{}:{}", self.host_for_url(), self.port)
    }

    /// The same URL with another stream name (query kept if `stream` has one).
    pub fn with_stream(&self, stream: &str) -> RtmpUrl {
        RtmpUrl {
            stream: stream.to_owned(),
            ..self.clone()
        }
    }

    /// For `rtmps://`: verify with `ca_file` instead of the webpki roots, or
    /// not at all with `insecure` (`--insecure`, `--ca-file` of the tools).
    /// No effect on plain `rtmp://`.
    pub fn with_verify(mut self, insecure: bool, ca_file: Option<PathBuf>) -> RtmpUrl {
        if self.tls.is_some() {
            self.tls = Some(match (insecure, ca_file) {
                (true, _) => TlsVerify::Insecure,
                (false, Some(path)) => TlsVerify::CaFile(path),
                (false, None) => TlsVerify::WebPki,
            });
        }
        self
    }

    /// The stream name without its query string.
    pub fn stream_name(&self) -> &str {
        self.stream.split('?').next().unwrap_or("")
    }

    fn host_for_url(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }
}

impl fmt::Display for RtmpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.tc_url(), self.stream)
    }
}

pub(super) fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    if s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix) {
        Some(&s[prefix.len()..])
    } else {
        None
    }
}

pub(super) fn split_host_port(authority: &str, default_port: u16) -> Result<(&str, u16), UrlError> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let end = rest.find(']').ok_or(UrlError::BadHost)?;
        let after = &rest[end + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(UrlError::BadHost),
        };
        (&rest[..end], port)
    } else {
        match authority.rfind(':') {
            Some(i) => (&authority[..i], Some(&authority[i + 1..])),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(UrlError::BadHost);
    }
    let port = match port {
        None => default_port,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => n,
            _ => return Err(UrlError::BadPort),
        },
    };
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> RtmpUrl {
        RtmpUrl::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn default_port_and_two_segments() {
        let u = p("rtmp://example.com/live/cam");
        assert_eq!(u.host, "example.com");
        assert_eq!(u.port, 1935);
        assert_eq!(u.app, "live");
        assert_eq!(u.stream, "cam");
        assert_eq!(u.tc_url(), "rtmp://example.com:1935/live");
    }

    #[test]
    fn explicit_port_and_query_goes_to_stream() {
        let u = p("rtmp://127.0.0.1:19351/live/cap?key=abc&x=1");
        assert_eq!(u.port, 19351);
        assert_eq!(u.app, "live");
        assert_eq!(u.stream, "cap?key=abc&x=1");
        assert_eq!(u.stream_name(), "cap");
        assert_eq!(u.authority(), "127.0.0.1:19351");
    }

    #[test]
    fn three_segments_make_app_instance() {
        let u = p("rtmp://h/live/inst/name");
        assert_eq!(u.app, "live/inst");
        assert_eq!(u.stream, "name");
        let u = p("rtmp://h/a/b/c/d?q");
        assert_eq!(u.app, "a/b");
        assert_eq!(u.stream, "c/d?q");
    }

    #[test]
    fn ipv6_host_and_case_insensitive_scheme() {
        let u = p("RTMP://[::1]:1940/live/s");
        assert_eq!(u.host, "::1");
        assert_eq!(u.port, 1940);
        assert_eq!(u.authority(), "[::1]:1940");
        assert_eq!(u.to_string(), "rtmp://[::1]:1940/live/s");
        assert_eq!(p("rtmp://[::1]/live/s").port, 1935);
    }

    #[test]
    fn errors() {
        assert_eq!(RtmpUrl::parse("http://h/a/b"), Err(UrlError::BadScheme));
        assert_eq!(RtmpUrl::parse("rtmp:///a/b"), Err(UrlError::BadHost));
        assert_eq!(RtmpUrl::parse("rtmp://[::1/a/b"), Err(UrlError::BadHost));
        assert_eq!(RtmpUrl::parse("rtmp://h:0/a/b"), Err(UrlError::BadPort));
        assert_eq!(RtmpUrl::parse("rtmp://h:99999/a/b"), Err(UrlError::BadPort));
        assert_eq!(RtmpUrl::parse("rtmp://h:x/a/b"), Err(UrlError::BadPort));
        assert_eq!(RtmpUrl::parse("rtmp://h"), Err(UrlError::MissingApp));
        assert_eq!(RtmpUrl::parse("rtmp://h/"), Err(UrlError::MissingApp));
        assert_eq!(
            RtmpUrl::parse("rtmp://h/live"),
            Err(UrlError::MissingStream)
        );
        assert_eq!(
            RtmpUrl::parse("rtmp://h/live?x"),
            Err(UrlError::MissingStream)
        );
    }

    #[test]
    fn with_stream_keeps_the_rest() {
        let u = p("rtmp://h:1/live/a").with_stream("b_3");
        assert_eq!(u.to_string(), "rtmp://h:1/live/b_3");
    }

    #[test]
    fn rtmps_defaults_to_443_and_keeps_its_scheme() {
        let u = p("rtmps://a.example/live/x?key=1");
        assert_eq!(u.port, 443);
        assert_eq!(u.tls, Some(TlsVerify::WebPki));
        assert_eq!(u.tc_url(), "rtmps://a.example:443/live");
        let u = u.with_verify(true, None);
        assert_eq!(u.tls, Some(TlsVerify::Insecure));
        let plain = p("rtmp://a/live/x").with_verify(true, None);
        assert_eq!(plain.tls, None, "--insecure does not turn TLS on");
    }

    #[test]
    fn url_error_display() {
        let all = [
            (
                UrlError::BadScheme,
                "URL must start with rtmp:// or rtmps://",
            ),
            (UrlError::BadHost, "URL has an empty or malformed host"),
            (UrlError::BadPort, "URL port is not a number in 1..=65535"),
            (UrlError::MissingApp, "URL has no application path segment"),
            (
                UrlError::MissingStream,
                "URL has no stream name after the application",
            ),
        ];
        for (e, s) in all {
            assert_eq!(e.to_string(), s);
        }
    }
}

#[cfg(test)]
mod property {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn word(rng: &mut StdRng) -> String {
        const CH: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789_-.";
        let n = rng.random_range(1..12);
        (0..n)
            .map(|_| CH[rng.random_range(0..CH.len())] as char)
            .collect()
    }

    #[test]
    fn formatted_urls_parse_back() {
        for seed in 0..2000u64 {
            let mut rng = StdRng::seed_from_u64(seed);
            let host = word(&mut rng);
            let port: Option<u16> = rng.random_bool(0.5).then(|| rng.random_range(1..=65535));
            let segs: Vec<String> = (0..rng.random_range(2..6))
                .map(|_| word(&mut rng))
                .collect();
            let query = rng
                .random_bool(0.3)
                .then(|| format!("k={}", word(&mut rng)));
            let mut s = format!("rtmp://{host}");
            if let Some(p) = port {
                s += &format!(":{p}");
            }
            s += "/";
            s += &segs.join("/");
            if let Some(q) = &query {
                s += &format!("?{q}");
            }
            let u = RtmpUrl::parse(&s).unwrap_or_else(|e| panic!("seed {seed}: {s}: {e}"));
            let app_n = if segs.len() == 2 { 1 } else { 2 };
            let mut name = segs[app_n..].join("/");
            if let Some(q) = &query {
                name += &format!("?{q}");
            }
            assert_eq!(u.host, host, "seed {seed}: {s}");
            assert_eq!(u.port, port.unwrap_or(DEFAULT_PORT), "seed {seed}: {s}");
            assert_eq!(u.app, segs[..app_n].join("/"), "seed {seed}: {s}");
            assert_eq!(u.stream, name, "seed {seed}: {s}");
            // Display is canonical: parsing it again gives the same URL.
            assert_eq!(RtmpUrl::parse(&u.to_string()), Ok(u.clone()), "seed {seed}");
        }
    }
}
