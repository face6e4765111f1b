//! Server configuration: defaults, validation, and the limits every part of
//! the server reads from one place.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything the server needs to run, already validated.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// Outbound chunk size announced at connect and used for every frame.
    pub chunk_size: u32,
    pub gop_cache: bool,
    /// Cap on the cached GOP (bytes); a subscriber's byte budget is at least this.
    pub gop_max_bytes: usize,
    /// Cap on the cached GOP (media duration, ms).
    pub gop_max_ms: u32,
    pub max_connections: usize,
    /// Handshake must finish within this time after accept.
    pub handshake_timeout_ms: u64,
    /// connect and then publish or play must arrive within this time after accept.
    pub command_timeout_ms: u64,
    /// A publisher sending no media for this long is closed.
    pub publisher_timeout_ms: u64,
    /// A publisher silent this long may be taken over by a new publisher on its key.
    pub stale_publisher_ms: u64,
    /// A subscriber continuously over its budget this long is closed.
    pub slow_subscriber_timeout_ms: u64,
    /// Per-subscriber output byte budget.
    pub subscriber_budget_bytes: usize,
    /// Send a PingRequest to a peer that sent nothing for this long; close it
    /// if it still sent nothing after another interval.
    pub ping_interval_ms: u64,
    /// Bytes read from one socket per loop turn before moving on (fairness).
    pub read_budget_bytes: usize,
    /// Hold a subscriber's queued frames up to this long to write them in one call (0 = off).
    pub write_coalesce_ms: u64,
    /// Interval of the per-stream statistics log line.
    pub stats_interval_ms: u64,
    pub record_all: bool,
    pub record_dir: PathBuf,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([0, 0, 0, 0], 1935)),
            chunk_size: 4096,
            gop_cache: true,
            gop_max_bytes: 16 * 1024 * 1024,
            gop_max_ms: 10_000,
            max_connections: 10_000,
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
        }
    }
}

/// Per-application settings, resolved once when a connection publishes or
/// plays on an application (`[apps.NAME]` over `[apps."*"]` over the
/// top-level keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppSettings {
    /// Record streams published on this application.
    pub record: bool,
    /// Cache the current GOP for late joiners.
    pub gop_cache: bool,
}

impl Config {
    /// The settings that apply to application `app`.
    pub fn app_settings(&self, _app: &str) -> AppSettings {
        AppSettings {
            record: self.record_all,
            gop_cache: self.gop_cache,
        }
    }

    /// Whether any application may record (the recorder thread is started then).
    pub fn any_recording(&self) -> bool {
        self.record_all
    }
}

/// A configuration value out of its allowed range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub field: &'static str,
    pub reason: &'static str,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {}: {}", self.field, self.reason)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Check ranges and derived constraints (the subscriber budget is raised
    /// to hold the whole GOP cache, so a late joiner's GOP always fits).
    pub fn validate(mut self) -> Result<Config, ConfigError> {
        let err = |field, reason| Err(ConfigError { field, reason });
        if self.chunk_size < 128 || self.chunk_size > 0x00FF_FFFF {
            return err("chunk-size", "must be between 128 and 16777215");
        }
        if self.max_connections == 0 {
            return err("max-connections", "must be at least 1");
        }
        if self.handshake_timeout_ms == 0 || self.command_timeout_ms == 0 {
            return err("timeouts", "must be non-zero");
        }
        if self.read_budget_bytes < 4096 {
            return err("read-budget-bytes", "must be at least 4096");
        }
        if self.subscriber_budget_bytes < 64 * 1024 {
            return err("subscriber-budget-bytes", "must be at least 65536");
        }
        if self.ping_interval_ms < 1000 {
            return err("ping-interval-ms", "must be at least 1000");
        }
        if self.write_coalesce_ms > 1000 {
            return err("write-coalesce-ms", "must be at most 1000");
        }
        let min_budget = self.gop_max_bytes + self.gop_max_bytes / 4 + 1024 * 1024;
        if self.gop_cache && self.subscriber_budget_bytes < min_budget {
            self.subscriber_budget_bytes = min_budget;
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate() {
        let c = Config::default().validate().unwrap();
        assert_eq!(c.listen.port(), 1935);
        assert!(c.subscriber_budget_bytes >= c.gop_max_bytes);
    }

    #[test]
    fn budget_raised_to_hold_gop() {
        let c = Config {
            subscriber_budget_bytes: 100_000,
            gop_max_bytes: 8_000_000,
            ..Config::default()
        };
        let c = c.validate().unwrap();
        assert!(c.subscriber_budget_bytes >= 8_000_000);
    }

    #[test]
    fn rejects_bad_chunk_size() {
        let c = Config {
            chunk_size: 1,
            ..Config::default()
        };
        let e = c.validate().unwrap_err();
        assert_eq!(e.field, "chunk-size");
        assert_eq!(
            e.to_string(),
            "invalid chunk-size: must be between 128 and 16777215"
        );
    }
}
