//! Request routing: a decoded path to a [`Route`], and the `/static/`
//! resolver that never leaves its directory.
//!
//! # Contract
//!
//! * [`route`] looks only at the percent-decoded path (from
//!   [`super::request::Request::path`]) and the raw query; it never fails:
//!   anything unknown is [`Route::NotFound`]. The method is checked after
//!   routing with [`Route::allows`]; a refused method is a 405 whose `Allow`
//!   header is [`Route::allow`]. `POST` is answered only on
//!   `/api/v1/reconnect`, which answers nothing else.
//! * Reserved prefixes (`/api`, `/metrics`, `/static`, `/play`, as a whole
//!   first segment) never name a stream, even when the path ends in `.flv`.
//!   Any other path `/{app}/{name}.flv` (exactly two segments, both
//!   non-empty, neither `.` nor `..`) is [`Route::Flv`].
//! * [`resolve_static`] maps a `/static/` remainder to a file path under a
//!   directory. It touches no file system: it refuses, by text, anything
//!   that could leave the directory or reach a hidden file (`..`, `.`,
//!   segments starting with `.`, absolute paths, empty segments,
//!   backslashes, NUL and other control characters, `%` — a double-encoded
//!   `%252e%252e` decodes once to `%2e%2e` and is refused here). Symbolic
//!   links inside the directory are the operator's business; the driver that
//!   opens the file may canonicalise and re-check the prefix.

use std::fmt;
use std::path::{Path, PathBuf};

use super::request::Method;

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/`: the status page.
    StatusPage,
    /// `/play/{app}/{name}`: the player page.
    PlayerPage {
        app: String,
        name: String,
    },
    /// `/static/{rest}`: a file under the static directory (`rest` is not
    /// checked yet: see [`resolve_static`]).
    Static(String),
    /// `/api/v1/streams`.
    Streams,
    /// `/api/v1/streams/{app}/{name}`.
    Stream {
        app: String,
        name: String,
    },
    /// `/api/v1/clients`.
    Clients,
    /// `/api/v1/clients/{id}` (GET to read, DELETE to close it).
    Client(u64),
    /// `/api/v1/reconnect` (POST only): ask publishers to reconnect
    /// (E-RTMP); `query` is raw (`app=`, `name=`, `tc_url=`).
    Reconnect {
        query: Option<String>,
    },
    /// `/metrics`.
    Metrics,
    /// `/{app}/{name}.flv`: an HTTP-FLV viewer. `query` is raw (play keys).
    Flv {
        app: String,
        name: String,
        query: Option<String>,
    },
    NotFound,
}

/// First path segments that never name a stream.
pub const RESERVED_PREFIXES: [&str; 4] = ["api", "metrics", "static", "play"];

impl Route {
    /// Whether `method` is answered on this route (HEAD wherever GET is).
    pub fn allows(&self, method: Method) -> bool {
        match method {
            Method::Get | Method::Head => !matches!(self, Route::Reconnect { .. }),
            Method::Delete => matches!(self, Route::Client(_)),
            Method::Post => matches!(self, Route::Reconnect { .. }),
        }
    }

    /// The `Allow` header value of this route.
    pub fn allow(&self) -> &'static str {
        match self {
            Route::Client(_) => "GET, HEAD, DELETE",
            Route::Reconnect { .. } => "POST",
            _ => "GET, HEAD",
        }
    }

    /// Whether the route answers from the API / status data (and so falls
    /// under `api_allow`).
    pub fn is_api(&self) -> bool {
        matches!(
            self,
            Route::StatusPage
                | Route::Streams
                | Route::Stream { .. }
                | Route::Clients
                | Route::Client(_)
                | Route::Reconnect { .. }
                | Route::Metrics
        )
    }
}

/// Routes a percent-decoded path and its raw query. See the module docs.
pub fn route(path: &str, query: Option<&str>) -> Route {
    let Some(rest) = path.strip_prefix('/') else {
        return Route::NotFound;
    };
    if rest.is_empty() {
        return Route::StatusPage;
    }
    let segs: Vec<&str> = rest.split('/').collect();
    match segs[0] {
        "api" => route_api(&segs[1..], query),
        "metrics" if segs.len() == 1 => Route::Metrics,
        "static" if segs.len() > 1 => Route::Static(segs[1..].join("/")),
        "play" => match segs[1..] {
            [app, name] if is_name(app) && is_name(name) => Route::PlayerPage {
                app: app.to_string(),
                name: name.to_string(),
            },
            _ => Route::NotFound,
        },
        first if RESERVED_PREFIXES.contains(&first) => Route::NotFound,
        _ => route_flv(&segs, query),
    }
}

fn route_api(segs: &[&str], query: Option<&str>) -> Route {
    match segs {
        ["v1", "reconnect"] => Route::Reconnect {
            query: query.map(str::to_owned),
        },
        ["v1", "streams"] => Route::Streams,
        ["v1", "streams", app, name] if is_name(app) && is_name(name) => Route::Stream {
            app: app.to_string(),
            name: name.to_string(),
        },
        ["v1", "clients"] => Route::Clients,
        ["v1", "clients", id] => match id.parse::<u64>() {
            // Canonical decimal only: no sign, no leading zeros.
            Ok(n) if n.to_string() == **id => Route::Client(n),
            _ => Route::NotFound,
        },
        _ => Route::NotFound,
    }
}

fn route_flv(segs: &[&str], query: Option<&str>) -> Route {
    let [app, file] = segs else {
        return Route::NotFound;
    };
    match file.strip_suffix(".flv") {
        Some(name) if is_name(app) && is_name(name) => Route::Flv {
            app: app.to_string(),
            name: name.to_string(),
            query: query.map(str::to_string),
        },
        _ => Route::NotFound,
    }
}

/// A usable app or stream name segment.
fn is_name(s: &str) -> bool {
    !s.is_empty() && s != "." && s != ".." && !s.chars().any(char::is_control)
}

/// Why a `/static/` path was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaticError {
    /// Empty path or an empty segment (`a//b`, trailing `/`).
    Empty,
    /// A segment that is `.`, `..` or starts with `.`.
    DotSegment,
    /// A backslash, `%`, `:`, NUL or another control character.
    ForbiddenChar,
    /// An absolute path.
    Absolute,
}

impl fmt::Display for StaticError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StaticError::Empty => "static path: empty segment",
            StaticError::DotSegment => "static path: dot segment",
            StaticError::ForbiddenChar => "static path: forbidden character",
            StaticError::Absolute => "static path: absolute",
        })
    }
}

impl std::error::Error for StaticError {}

/// Maps the remainder of a `/static/` path to a file under `dir`, or says
/// why not. See the module docs; any refusal is answered 404.
pub fn resolve_static(dir: &Path, rest: &str) -> Result<PathBuf, StaticError> {
    if rest.starts_with('/') {
        return Err(StaticError::Absolute);
    }
    let mut out = dir.to_path_buf();
    for seg in rest.split('/') {
        if seg.is_empty() {
            return Err(StaticError::Empty);
        }
        if seg.starts_with('.') {
            return Err(StaticError::DotSegment);
        }
        if seg
            .chars()
            .any(|c| c == '\\' || c == '%' || c == ':' || c.is_control())
        {
            return Err(StaticError::ForbiddenChar);
        }
        out.push(seg);
    }
    // Belt and braces: every component added must be a plain name.
    let added = out.strip_prefix(dir).map_err(|_| StaticError::Absolute)?;
    if added
        .components()
        .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(StaticError::DotSegment);
    }
    Ok(out)
}

/// The Content-Type of a static file, by extension.
pub fn content_type_for(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "ico" => "image/x-icon",
        "wasm" => "application/wasm",
        "flv" => "video/x-flv",
        "mp4" => "video/mp4",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(path: &str) -> Route {
        route(path, None)
    }

    fn pair(app: &str, name: &str) -> (String, String) {
        (app.to_string(), name.to_string())
    }

    #[test]
    fn pages_api_metrics() {
        assert_eq!(r("/"), Route::StatusPage);
        assert_eq!(r("/metrics"), Route::Metrics);
        assert_eq!(r("/api/v1/streams"), Route::Streams);
        assert_eq!(r("/api/v1/clients"), Route::Clients);
        assert_eq!(r("/api/v1/clients/42"), Route::Client(42));
        let (app, name) = pair("live", "cam");
        assert_eq!(
            r("/api/v1/streams/live/cam"),
            Route::Stream {
                app: app.clone(),
                name: name.clone()
            }
        );
        assert_eq!(r("/play/live/cam"), Route::PlayerPage { app, name });
        assert_eq!(r("/static/mpegts.js"), Route::Static("mpegts.js".into()));
        assert_eq!(r("/static/a/b.css"), Route::Static("a/b.css".into()));
    }

    #[test]
    fn flv_paths() {
        assert_eq!(
            route("/live/cam.flv", Some("key=s")),
            Route::Flv {
                app: "live".into(),
                name: "cam".into(),
                query: Some("key=s".into())
            }
        );
        assert_eq!(
            r("/app/my stream.flv"),
            Route::Flv {
                app: "app".into(),
                name: "my stream".into(),
                query: None
            }
        );
        for p in [
            "/cam.flv",
            "/a/b/c.flv",
            "/live/.flv",
            "//cam.flv",
            "/../x.flv",
            "/live/cam.mp4",
            "/live/cam",
        ] {
            assert_eq!(r(p), Route::NotFound, "{p}");
        }
    }

    #[test]
    fn reserved_prefixes_never_name_streams() {
        for p in [
            "/api/x.flv",
            "/metrics/x.flv",
            "/static",
            "/play/x.flv",
            "/api",
            "/api/v1",
            "/api/v2/streams",
            "/api/v1/streams/live",
            "/api/v1/streams/live/cam/x",
            "/api/v1/clients/x",
            "/api/v1/clients/-1",
            "/api/v1/clients/007",
            "/api/v1/clients/+7",
            "/metrics/",
            "/play/live",
            "/play/live/cam/x",
            "/play/../cam",
        ] {
            assert_eq!(r(p), Route::NotFound, "{p}");
        }
        // Only whole segments are reserved.
        assert!(matches!(r("/apix/cam.flv"), Route::Flv { .. }));
        assert!(matches!(r("/metricsx/cam.flv"), Route::Flv { .. }));
        assert_eq!(r("no-slash"), Route::NotFound);
    }

    #[test]
    fn methods() {
        assert!(Route::Client(1).allows(Method::Delete));
        assert!(!Route::Clients.allows(Method::Delete));
        assert!(Route::Metrics.allows(Method::Head));
        assert_eq!(Route::Client(1).allow(), "GET, HEAD, DELETE");
        assert_eq!(Route::Streams.allow(), "GET, HEAD");
        let reconnect = route("/api/v1/reconnect", Some("app=live"));
        assert_eq!(
            reconnect,
            Route::Reconnect {
                query: Some("app=live".into())
            }
        );
        assert!(reconnect.allows(Method::Post) && reconnect.is_api());
        assert!(!reconnect.allows(Method::Get) && !reconnect.allows(Method::Head));
        assert!(!Route::Streams.allows(Method::Post));
        assert_eq!(reconnect.allow(), "POST");
        assert!(Route::StatusPage.is_api());
        assert!(!Route::PlayerPage {
            app: String::new(),
            name: String::new()
        }
        .is_api());
    }

    #[test]
    fn static_resolver_stays_inside() {
        let dir = Path::new("/srv/static");
        assert_eq!(
            resolve_static(dir, "mpegts.js").unwrap(),
            Path::new("/srv/static/mpegts.js")
        );
        assert_eq!(
            resolve_static(dir, "dist/a.min.js").unwrap(),
            Path::new("/srv/static/dist/a.min.js")
        );
        let cases = [
            ("..", StaticError::DotSegment),
            ("../etc/passwd", StaticError::DotSegment),
            ("a/../../x", StaticError::DotSegment),
            ("./a", StaticError::DotSegment),
            (".git/config", StaticError::DotSegment),
            ("/etc/passwd", StaticError::Absolute),
            ("a\\..\\..\\x", StaticError::ForbiddenChar),
            ("%2e%2e/x", StaticError::ForbiddenChar),
            ("a\0b", StaticError::ForbiddenChar),
            ("C:x", StaticError::ForbiddenChar),
            ("", StaticError::Empty),
            ("a//b", StaticError::Empty),
            ("a/", StaticError::Empty),
        ];
        for (rest, want) in cases {
            assert_eq!(resolve_static(dir, rest), Err(want), "{rest:?}");
        }
    }

    #[test]
    fn static_paths_through_the_whole_chain() {
        use crate::http::request::{parse_request, Parse};
        let dir = Path::new("/srv/static");
        for target in [
            "/static/..%2fetc/passwd",
            "/static/%2e%2e/etc/passwd",
            "/static/%252e%252e/etc/passwd",
            "/static/a/%2E%2E/%2E%2E/x",
            "/static/%5c..%5c..%5cx",
            "/static/a%00b",
        ] {
            let head = format!("GET {target} HTTP/1.1\r\n\r\n");
            let Ok(Parse::Complete(req)) = parse_request(head.as_bytes()) else {
                continue; // refused by the parser: fine
            };
            match route(&req.path, None) {
                Route::Static(rest) => {
                    assert!(resolve_static(dir, &rest).is_err(), "{target} escaped")
                }
                other => panic!("{target}: {other:?}"),
            }
        }
    }

    #[test]
    fn content_types() {
        assert_eq!(
            content_type_for(Path::new("a/mpegts.js")),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type_for(Path::new("x.MAP")), "application/json");
        assert_eq!(content_type_for(Path::new("x")), "application/octet-stream");
        assert_eq!(
            StaticError::DotSegment.to_string(),
            "static path: dot segment"
        );
    }
}
