//! Range checks on a [`Config`]: values that would overflow a sum, spin the
//! loop or close every connection are refused, each naming its key and range.

use super::{Config, ConfigError};

/// Longest accepted duration for any `*_ms` setting: one day. Keeps
/// `3 * ping_interval_ms` and `now + interval` far from overflow.
pub const MAX_MS: u64 = 24 * 60 * 60 * 1000;
/// Largest GOP cache and per-subscriber budget: 1 GiB, so that
/// `gop_max_bytes + gop_max_bytes / 4 + 1 MiB` fits even a 32-bit `usize`.
pub const MAX_BUDGET_BYTES: u64 = 1 << 30;
/// Longest cached GOP: 10 minutes (a wrapped RTMP timestamp difference must
/// stay far below it).
pub const MAX_GOP_MS: u64 = 10 * 60 * 1000;
/// Largest per-socket read per loop turn.
pub const MAX_READ_BUDGET_BYTES: u64 = 64 << 20;
/// Most simultaneous connections one server accepts.
pub const MAX_CONNECTIONS: u64 = 1_000_000;
/// Headroom above the GOP cache in a subscriber's budget.
const GOP_BUDGET_SLACK: usize = 1024 * 1024;

impl Config {
    /// Check ranges and derived constraints. The subscriber budget is raised
    /// to hold the whole GOP cache (when any application caches one), so a
    /// late joiner's GOP always fits. Validating twice changes nothing.
    pub fn validate(mut self) -> Result<Config, ConfigError> {
        for (key, value, min, max) in self.ranges() {
            if !(min..=max).contains(&value) {
                let reason = format!("must be between {min} and {max}");
                return Err(ConfigError::new(key, value, reason));
            }
        }
        self.check_tls()?;
        self.check_hooks()?;
        self.check_exec()?;
        self.check_pulls()?;
        self.check_recording()?;
        let min_budget = self.gop_max_bytes + self.gop_max_bytes / 4 + GOP_BUDGET_SLACK;
        if self.any_gop_cache() && self.subscriber_budget_bytes < min_budget {
            self.subscriber_budget_bytes = min_budget;
        }
        Ok(self)
    }

    /// Hook URLs must be ones the hook client can call; per-app timeouts in range.
    fn check_hooks(&self) -> Result<(), ConfigError> {
        for (app, table) in &self.apps {
            for (key, url) in table.hook_urls() {
                if let Err(e) = crate::hooks::check_url(url) {
                    return Err(ConfigError::new(
                        &format!("apps.{app}.{key}"),
                        format!("{url:?}"),
                        e.to_string(),
                    ));
                }
            }
            if let Some(ms) = table.hook_timeout_ms {
                if !(1..=MAX_MS).contains(&ms) {
                    return Err(ConfigError::new(
                        &format!("apps.{app}.hook_timeout_ms"),
                        ms,
                        format!("must be between 1 and {MAX_MS}"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// `exec_record_done` commands must be runnable and their placeholders
    /// known; `exec_timeout_s` between 1 s and a day.
    fn check_exec(&self) -> Result<(), ConfigError> {
        use crate::exec::{template, MAX_EXEC_TIMEOUT_S};
        let tables = self.apps.iter().map(|(app, t)| {
            let prefix = format!("apps.{app}.");
            (prefix, t.exec_record_done.as_ref(), t.exec_timeout_s)
        });
        let top = (
            String::new(),
            Some(&self.exec_record_done),
            Some(self.exec_timeout_s),
        );
        for (prefix, command, timeout) in std::iter::once(top).chain(tables) {
            if let Some(command) = command {
                template::check(command).map_err(|why| {
                    let key = format!("{prefix}exec_record_done");
                    ConfigError::new(&key, format!("{command:?}"), why)
                })?;
            }
            if let Some(s) = timeout.filter(|s| !(1..=MAX_EXEC_TIMEOUT_S).contains(s)) {
                return Err(ConfigError::new(
                    &format!("{prefix}exec_timeout_s"),
                    s,
                    format!("must be between 1 and {MAX_EXEC_TIMEOUT_S}"),
                ));
            }
        }
        Ok(())
    }

    /// Pull origins must be `rtmp://host[:port]/app` URLs that are not this
    /// server's own listener (a loop).
    fn check_pulls(&self) -> Result<(), ConfigError> {
        for (app, table) in &self.apps {
            for url in table.pull.iter().flatten() {
                let key = format!("apps.{app}.pull");
                let bad = |why: String| ConfigError::new(&key, format!("{url:?}"), why);
                let parsed =
                    crate::client::RtmpUrl::parse(&format!("{}/x", url.trim_end_matches('/')))
                        .map_err(|e| bad(e.to_string()))?;
                if self.is_own_listener(&parsed.host, parsed.port) {
                    return Err(bad(format!(
                        "pulls from this server's own listener {} (a loop)",
                        self.listen
                    )));
                }
            }
            for (name, value) in [
                ("pull_wait_ms", table.pull_wait_ms),
                ("pull_idle_ms", table.pull_idle_ms),
            ] {
                if let Some(ms) = value {
                    if !(1..=MAX_MS).contains(&ms) {
                        return Err(ConfigError::new(
                            &format!("apps.{app}.{name}"),
                            ms,
                            format!("must be between 1 and {MAX_MS}"),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// `host:port` names this server's RTMP listener (see [`is_own_address`]).
    fn is_own_listener(&self, host: &str, port: u16) -> bool {
        is_own_address(self.listen, host, port)
    }

    /// RTMPS needs a default certificate and key; each needs the other.
    fn check_tls(&self) -> Result<(), ConfigError> {
        let shown = |p: &Option<std::path::PathBuf>| {
            p.as_ref().map_or("(none)".to_string(), |p| {
                format!("{:?}", p.display().to_string())
            })
        };
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            let (key, value) = if self.tls_cert.is_some() {
                ("tls_key", shown(&self.tls_key))
            } else {
                ("tls_cert", shown(&self.tls_cert))
            };
            return Err(ConfigError::new(
                key,
                value,
                "tls_cert and tls_key go together",
            ));
        }
        for (key, listen) in [
            ("tls_listen", self.tls_listen),
            ("https_listen", self.https_listen),
        ] {
            if let (Some(addr), None) = (listen, &self.tls_cert) {
                return Err(ConfigError::new(
                    key,
                    format!("\"{addr}\""),
                    "needs tls_cert and tls_key",
                ));
            }
        }
        for entry in &self.tls_certs {
            if entry.names.is_empty() {
                return Err(ConfigError::new(
                    "tls_certs.names",
                    "[]",
                    "must name at least one host",
                ));
            }
        }
        Ok(())
    }

    /// `(key, value, min, max)` of every numeric top-level key.
    fn ranges(&self) -> [(&'static str, u64, u64, u64); 18] {
        let bytes = |n: usize| n as u64;
        [
            ("chunk_size", self.chunk_size.into(), 128, 0x00FF_FFFF),
            (
                "max_connections",
                bytes(self.max_connections),
                1,
                MAX_CONNECTIONS,
            ),
            (
                "max_connections_per_ip",
                bytes(self.max_connections_per_ip),
                0,
                MAX_CONNECTIONS,
            ),
            (
                "max_handshakes_per_ip",
                bytes(self.max_handshakes_per_ip),
                0,
                MAX_CONNECTIONS,
            ),
            (
                "gop_max_bytes",
                bytes(self.gop_max_bytes),
                0,
                MAX_BUDGET_BYTES,
            ),
            ("gop_max_ms", self.gop_max_ms.into(), 0, MAX_GOP_MS),
            ("handshake_timeout_ms", self.handshake_timeout_ms, 1, MAX_MS),
            ("command_timeout_ms", self.command_timeout_ms, 1, MAX_MS),
            ("publisher_timeout_ms", self.publisher_timeout_ms, 1, MAX_MS),
            ("stale_publisher_ms", self.stale_publisher_ms, 0, MAX_MS),
            (
                "slow_subscriber_timeout_ms",
                self.slow_subscriber_timeout_ms,
                0,
                MAX_MS,
            ),
            (
                "subscriber_budget_bytes",
                bytes(self.subscriber_budget_bytes),
                64 * 1024,
                MAX_BUDGET_BYTES,
            ),
            ("ping_interval_ms", self.ping_interval_ms, 1000, MAX_MS),
            (
                "read_budget_bytes",
                bytes(self.read_budget_bytes),
                4096,
                MAX_READ_BUDGET_BYTES,
            ),
            ("write_coalesce_ms", self.write_coalesce_ms, 0, 1000),
            ("hook_workers", bytes(self.hook_workers), 1, 64),
            ("hook_queue", bytes(self.hook_queue), 1, 1 << 20),
            ("stats_interval_ms", self.stats_interval_ms, 100, MAX_MS),
        ]
    }
}

/// Whether `host:port` names a listener on `listen`: the same port on a
/// loopback or wildcard address, on `listen`'s own address, or `localhost`
/// (IPv4-mapped IPv6 addresses count as their IPv4 form). Another port is
/// fine.
pub fn is_own_address(listen: std::net::SocketAddr, host: &str, port: u16) -> bool {
    if port != listen.port() {
        return false;
    }
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => {
            let ip = ip.to_canonical();
            ip.is_loopback() || ip.is_unspecified() || ip == listen.ip().to_canonical()
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(c: Config) -> String {
        c.validate().unwrap_err().to_string()
    }

    #[test]
    fn defaults_validate() {
        let c = Config::default().validate().unwrap();
        assert_eq!(c.listen.port(), 1935);
        assert!(c.subscriber_budget_bytes >= c.gop_max_bytes);
        assert_eq!(c.clone().validate().unwrap(), c, "validate is idempotent");
    }

    #[test]
    fn budget_raised_to_hold_gop() {
        let c = Config {
            subscriber_budget_bytes: 100_000,
            gop_max_bytes: 8_000_000,
            ..Config::default()
        };
        let c = c.validate().unwrap();
        assert_eq!(
            c.subscriber_budget_bytes,
            8_000_000 + 2_000_000 + 1024 * 1024
        );
    }

    #[test]
    fn budget_raised_when_only_an_app_caches_gop() {
        let mut c = Config {
            gop_cache: false,
            subscriber_budget_bytes: 100_000,
            ..Config::default()
        };
        assert_eq!(
            c.clone().validate().unwrap().subscriber_budget_bytes,
            100_000
        );
        c.apps.insert(
            "live".into(),
            super::super::AppTable {
                gop_cache: Some(true),
                ..Default::default()
            },
        );
        assert!(c.validate().unwrap().subscriber_budget_bytes > 16 << 20);
    }

    #[test]
    fn rejects_bad_chunk_size() {
        let c = Config {
            chunk_size: 1,
            ..Config::default()
        };
        let e = c.validate().unwrap_err();
        assert_eq!(e.key.as_deref(), Some("chunk_size"));
        assert_eq!(e.value.as_deref(), Some("1"));
        assert_eq!(
            e.to_string(),
            "invalid chunk_size = 1: must be between 128 and 16777215"
        );
        let c = Config {
            chunk_size: 0x0100_0000,
            ..Config::default()
        };
        assert!(rejected(c).starts_with("invalid chunk_size = 16777216: "));
    }

    #[test]
    fn rejects_ping_interval_whose_triple_overflows() {
        let c = Config {
            ping_interval_ms: u64::MAX / 2,
            ..Config::default()
        };
        assert_eq!(
            rejected(c),
            format!(
                "invalid ping_interval_ms = {}: must be between 1000 and 86400000",
                u64::MAX / 2
            )
        );
        let c = Config {
            ping_interval_ms: 999,
            ..Config::default()
        };
        assert!(rejected(c).starts_with("invalid ping_interval_ms = 999: "));
    }

    #[test]
    fn rejects_budgets_whose_sum_overflows() {
        let c = Config {
            gop_max_bytes: usize::MAX,
            ..Config::default()
        };
        assert_eq!(
            rejected(c),
            format!(
                "invalid gop_max_bytes = {}: must be between 0 and 1073741824",
                usize::MAX
            )
        );
        let c = Config {
            subscriber_budget_bytes: usize::MAX,
            ..Config::default()
        };
        assert!(rejected(c).starts_with("invalid subscriber_budget_bytes = "));
        let c = Config {
            subscriber_budget_bytes: 1000,
            ..Config::default()
        };
        assert!(rejected(c).ends_with("must be between 65536 and 1073741824"));
        // The largest accepted GOP cache still gives a finite budget.
        let c = Config {
            gop_max_bytes: 1 << 30,
            ..Config::default()
        };
        assert!(c.validate().unwrap().subscriber_budget_bytes > 1 << 30);
    }

    #[test]
    fn rejects_zero_stats_interval() {
        let c = Config {
            stats_interval_ms: 0,
            ..Config::default()
        };
        assert_eq!(
            rejected(c),
            "invalid stats_interval_ms = 0: must be between 100 and 86400000"
        );
    }

    #[test]
    fn rejects_zero_or_huge_timeouts() {
        for key in [
            "handshake_timeout_ms",
            "command_timeout_ms",
            "publisher_timeout_ms",
        ] {
            let mut c = Config::default();
            *timeout(&mut c, key) = 0;
            assert_eq!(
                rejected(c.clone()),
                format!("invalid {key} = 0: must be between 1 and 86400000")
            );
            *timeout(&mut c, key) = MAX_MS + 1;
            assert!(rejected(c).starts_with(&format!("invalid {key} = 86400001: ")));
        }
        for key in ["stale_publisher_ms", "slow_subscriber_timeout_ms"] {
            let mut c = Config::default();
            *timeout(&mut c, key) = 0;
            assert!(c.clone().validate().is_ok(), "{key} = 0 means at once");
            *timeout(&mut c, key) = u64::MAX;
            assert!(rejected(c).ends_with("must be between 0 and 86400000"));
        }
    }

    fn timeout<'a>(c: &'a mut Config, key: &str) -> &'a mut u64 {
        match key {
            "handshake_timeout_ms" => &mut c.handshake_timeout_ms,
            "command_timeout_ms" => &mut c.command_timeout_ms,
            "publisher_timeout_ms" => &mut c.publisher_timeout_ms,
            "stale_publisher_ms" => &mut c.stale_publisher_ms,
            _ => &mut c.slow_subscriber_timeout_ms,
        }
    }

    #[test]
    fn rejects_other_out_of_range_values() {
        let c = Config {
            gop_max_ms: u32::MAX,
            ..Config::default()
        };
        assert_eq!(
            rejected(c),
            format!(
                "invalid gop_max_ms = {}: must be between 0 and 600000",
                u32::MAX
            )
        );
        let c = Config {
            max_connections: 0,
            ..Config::default()
        };
        assert_eq!(
            rejected(c),
            "invalid max_connections = 0: must be between 1 and 1000000"
        );
        let c = Config {
            read_budget_bytes: 100,
            ..Config::default()
        };
        assert_eq!(
            rejected(c),
            "invalid read_budget_bytes = 100: must be between 4096 and 67108864"
        );
        let c = Config {
            write_coalesce_ms: 1001,
            ..Config::default()
        };
        assert_eq!(
            rejected(c),
            "invalid write_coalesce_ms = 1001: must be between 0 and 1000"
        );
    }
}
