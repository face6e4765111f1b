//! Server configuration: every default in one place ([`Config::default`]),
//! the TOML file (`--config FILE`), command-line overrides, validation, and
//! per-application settings.
//!
//! Layers, lowest first: defaults, the file's top-level keys, set flags
//! ([`Overrides`], top-level keys only). Per application: `[apps.NAME]` over
//! `[apps."*"]` over the top-level key ([`Config::app_settings`]). Errors
//! name the file and line or the flag ([`ConfigError`]). This module reads
//! files but never binds a socket; it does not depend on the logger.

mod apps;
mod cidr;
mod error;
mod overrides;
mod paths;
mod record;
mod reload;
mod source;
mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use apps::{AppMap, AppSettings, AppTable, ANY_APP, DEFAULT_HOOK_TIMEOUT_MS};
pub use cidr::{address_allowed, Cidr};
pub use error::{ConfigError, Origin};
pub use overrides::Overrides;
pub use paths::{NamedPath, PathUse};
pub use reload::{ConfigChange, RESTART_ONLY};
pub use validate::{
    is_own_address, MAX_BUDGET_BYTES, MAX_CONNECTIONS, MAX_GOP_MS, MAX_MS, MAX_READ_BUDGET_BYTES,
};

/// Everything the server needs to run. Deserialized from the TOML file with
/// these field names as top-level keys; a missing key keeps its default.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on. Default `0.0.0.0:1935`.
    pub listen: SocketAddr,
    /// Log level. Default `info`.
    pub log_level: LogLevel,
    /// Outbound chunk size announced at connect and used for every frame
    /// (128..=16777215). Default 60000 (measured: issue 15).
    pub chunk_size: u32,
    /// Cache the current GOP for late joiners (flag: `--no-gop-cache` turns
    /// it off; per app: `gop_cache`). Default on.
    pub gop_cache: bool,
    /// Cap on the cached GOP, bytes; a subscriber's budget is raised to hold
    /// it. Default 16 MiB.
    pub gop_max_bytes: usize,
    /// Cap on the cached GOP, media duration in ms. Default 10000.
    pub gop_max_ms: u32,
    /// Most simultaneous connections; more are accepted and closed. Default 10000.
    pub max_connections: usize,
    /// Most simultaneous connections from one address (0 = no limit); more
    /// are accepted and closed at once. Default 0.
    pub max_connections_per_ip: usize,
    /// Most connections from one address that have not yet started to
    /// publish or play (0 = no limit). Default 0.
    pub max_handshakes_per_ip: usize,
    /// The handshake must finish within this time after accept (ms). Default 5000.
    pub handshake_timeout_ms: u64,
    /// connect and then publish or play must arrive within this time after
    /// accept (ms). Default 10000.
    pub command_timeout_ms: u64,
    /// A publisher sending no media for this long is closed (ms). Default 30000.
    pub publisher_timeout_ms: u64,
    /// A publisher silent this long may be taken over by a new publisher on
    /// its key (ms; 0 = at once). Default 5000.
    pub stale_publisher_ms: u64,
    /// A subscriber continuously over its budget this long is closed (ms).
    /// Default 10000.
    pub slow_subscriber_timeout_ms: u64,
    /// Per-subscriber output byte budget (at least the GOP cache). Default 24 MiB.
    pub subscriber_budget_bytes: usize,
    /// Send a PingRequest to a peer that sent nothing for this long; close it
    /// after three intervals (ms). Default 30000.
    pub ping_interval_ms: u64,
    /// Bytes read from one socket per loop turn before moving on (fairness).
    /// Default 256 KiB.
    pub read_budget_bytes: usize,
    /// Hold a subscriber's queued frames up to this long to write them in one
    /// call (ms; 0 = off). Default 0.
    pub write_coalesce_ms: u64,
    /// Interval of the per-stream statistics log line (ms). Default 30000.
    pub stats_interval_ms: u64,
    /// Record every published stream (per app: `record`). Default off.
    pub record_all: bool,
    /// Directory for recordings. Default `recordings`.
    pub record_dir: PathBuf,
    /// A program run for each finished recording, without a shell
    /// (`["program", "arg", "{path}"]`; per app: `exec_record_done`).
    /// Default none.
    pub exec_record_done: Vec<String>,
    /// `exec_record_done` is killed after this many seconds (per app:
    /// `exec_timeout_s`). Default 60.
    pub exec_timeout_s: u64,
    /// Cut recordings into segments at the first keyframe this many seconds
    /// into a segment (per app too; 0 = off). Default 0.
    pub record_segment_s: u64,
    /// Cut recordings at the first keyframe once a segment holds this many
    /// bytes (per app too; 0 = off). Default 0.
    pub record_segment_bytes: u64,
    /// Recording path template inside `record_dir` (per app too; `{app}`,
    /// `{name}`, `{date}`, `{time}`, `{seq}`). Default
    /// `{app}_{name}_{date}_{time}.flv`.
    pub record_path: String,
    /// fsync recordings at every flush interval and segment close. Default off.
    pub record_fsync: bool,
    /// Worker threads that call HTTP hooks. Default 4.
    pub hook_workers: usize,
    /// Hook calls that may wait for a worker; more are refused ("hook queue
    /// full"). Default 1024.
    pub hook_queue: usize,
    /// SO_REUSEPORT on the RTMP listener, so several processes can share
    /// the port (the kernel spreads new connections over them). Default off.
    pub reuse_port: bool,
    /// RTMPS listen address (conventionally port 1936); needs `tls_cert` and
    /// `tls_key`. Default none.
    pub tls_listen: Option<SocketAddr>,
    /// PEM certificate chain of the default certificate (clients without SNI
    /// or with an unknown name). Default none.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of the default certificate. Default none.
    pub tls_key: Option<PathBuf>,
    /// Further certificates chosen by SNI (`[[tls_certs]]` with `names`,
    /// `cert`, `key`). Default none.
    pub tls_certs: Vec<TlsCert>,
    /// HTTP listen address (API, metrics, pages, HTTP-FLV), or `"off"`.
    /// Default `0.0.0.0:8080`.
    #[serde(deserialize_with = "listen_or_off")]
    pub http_listen: Option<SocketAddr>,
    /// HTTPS listen address (the same answers over TLS, with the RTMPS
    /// certificates); needs `tls_cert` and `tls_key`. Default none.
    pub https_listen: Option<SocketAddr>,
    /// Addresses allowed to read the API, `/metrics` and the status page.
    /// Default loopback (`127.0.0.0/8`, `::1`).
    pub api_allow: Vec<Cidr>,
    /// Script URL of mpegts.js on the player page. Default a pinned CDN copy.
    pub player_js_url: String,
    /// Directory served under `/static/` (e.g. a local mpegts.js). Default none.
    pub http_static: Option<PathBuf>,
    /// `[apps.NAME]` and `[apps."*"]` tables. Default none.
    pub apps: BTreeMap<String, AppTable>,
}

/// An address, or `off` (no listener), as a flag or a TOML string.
pub fn parse_listen_or_off(s: &str) -> Result<Option<SocketAddr>, String> {
    if s.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    s.parse()
        .map(Some)
        .map_err(|_| format!("{s:?} is not an address (e.g. 0.0.0.0:8080) or \"off\""))
}

fn listen_or_off<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    let s = String::deserialize(d)?;
    parse_listen_or_off(&s).map_err(serde::de::Error::custom)
}

/// A certificate served to clients that ask for one of `names` by SNI.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsCert {
    pub names: Vec<String>,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([0, 0, 0, 0], 1935)),
            log_level: LogLevel::Info,
            chunk_size: 60_000,
            gop_cache: true,
            gop_max_bytes: 16 * 1024 * 1024,
            gop_max_ms: 10_000,
            max_connections: 10_000,
            max_connections_per_ip: 0,
            max_handshakes_per_ip: 0,
            handshake_timeout_ms: 5_000,
            command_timeout_ms: 10_000,
            publisher_timeout_ms: 30_000,
            stale_publisher_ms: 5_000,
            slow_subscriber_timeout_ms: 10_000,
            subscriber_budget_bytes: 24 * 1024 * 1024,
            ping_interval_ms: 30_000,
            read_budget_bytes: 256 * 1024,
            write_coalesce_ms: 0,
            stats_interval_ms: 30_000,
            record_all: false,
            record_dir: PathBuf::from("recordings"),
            exec_record_done: Vec::new(),
            exec_timeout_s: crate::exec::DEFAULT_EXEC_TIMEOUT_S,
            record_segment_s: 0,
            record_segment_bytes: 0,
            record_path: crate::record::template::DEFAULT_TEMPLATE.to_string(),
            record_fsync: false,
            hook_workers: 4,
            hook_queue: 1024,
            reuse_port: false,
            tls_listen: None,
            tls_cert: None,
            tls_key: None,
            tls_certs: Vec::new(),
            http_listen: Some(SocketAddr::from(([0, 0, 0, 0], 8080))),
            https_listen: None,
            api_allow: ["127.0.0.0/8", "::1"]
                .iter()
                .map(|c| c.parse().expect("loopback block"))
                .collect(),
            player_js_url: crate::http::pages::DEFAULT_PLAYER_JS_URL.to_string(),
            http_static: None,
            apps: BTreeMap::new(),
        }
    }
}

/// How much the server logs (the binary maps it onto its logger).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    const NAMES: [(&'static str, LogLevel); 5] = [
        ("error", LogLevel::Error),
        ("warn", LogLevel::Warn),
        ("info", LogLevel::Info),
        ("debug", LogLevel::Debug),
        ("trace", LogLevel::Trace),
    ];
}

impl FromStr for LogLevel {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::NAMES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(s))
            .map(|&(_, level)| level)
            .ok_or_else(|| format!("unknown log level {s:?} (error, warn, info, debug, trace)"))
    }
}

impl TryFrom<String> for LogLevel {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<LogLevel> for String {
    fn from(l: LogLevel) -> String {
        l.to_string()
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_or_off_parses_both() {
        assert_eq!(parse_listen_or_off("OFF"), Ok(None));
        assert_eq!(
            parse_listen_or_off("127.0.0.1:80"),
            Ok(Some(SocketAddr::from(([127, 0, 0, 1], 80))))
        );
        assert!(parse_listen_or_off("nowhere")
            .unwrap_err()
            .contains("\"nowhere\""));
    }

    #[test]
    fn log_level_names_round_trip() {
        for (name, level) in LogLevel::NAMES {
            assert_eq!(name.to_uppercase().parse::<LogLevel>(), Ok(level));
            assert_eq!(level.to_string(), name);
        }
        assert!("loud".parse::<LogLevel>().unwrap_err().contains("\"loud\""));
    }
}
