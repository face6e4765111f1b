//! Command-line overrides: each set flag replaces the top-level key of the
//! same name, after the file is read (so `[apps.NAME]` tables still win).

use std::net::SocketAddr;
use std::path::PathBuf;

use super::{Config, LogLevel};

macro_rules! overrides {
    ($( $key:ident: $ty:ty, )*) => {
        /// The flags that were given; `None` leaves the file's value (or the
        /// default). Field names are the top-level keys; switches are
        /// `Some(true)` (`--record-all`) or `Some(false)` (`--no-gop-cache`).
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct Overrides {
            $( pub $key: Option<$ty>, )*
        }

        impl Overrides {
            /// Replace the top-level keys whose flag was given.
            pub fn apply(&self, config: &mut Config) {
                $( if let Some(v) = &self.$key { config.$key = v.clone(); } )*
            }

            /// Whether the flag for top-level key `key` was given.
            pub fn sets(&self, key: &str) -> bool {
                match key {
                    $( stringify!($key) => self.$key.is_some(), )*
                    _ => false,
                }
            }
        }
    };
}

overrides! {
    listen: SocketAddr,
    log_level: LogLevel,
    chunk_size: u32,
    gop_cache: bool,
    gop_max_bytes: usize,
    gop_max_ms: u32,
    max_connections: usize,
    max_connections_per_ip: usize,
    max_handshakes_per_ip: usize,
    handshake_timeout_ms: u64,
    command_timeout_ms: u64,
    publisher_timeout_ms: u64,
    stale_publisher_ms: u64,
    slow_subscriber_timeout_ms: u64,
    subscriber_budget_bytes: usize,
    ping_interval_ms: u64,
    read_budget_bytes: usize,
    write_coalesce_ms: u64,
    stats_interval_ms: u64,
    record_all: bool,
    record_dir: PathBuf,
    record_segment_s: u64,
    record_segment_bytes: u64,
    record_path: String,
    record_fsync: bool,
    hook_workers: usize,
    hook_queue: usize,
    reuse_port: bool,
    tls_listen: Option<SocketAddr>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    http_listen: Option<SocketAddr>,
    https_listen: Option<SocketAddr>,
    http_static: Option<PathBuf>,
}
