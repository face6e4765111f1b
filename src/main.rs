//! `rtmp-server`: the edge server binary. Parses flags, reads `--config
//! FILE`, initialises logging, runs the event loop, and maps failures to exit
//! codes (2: configuration or startup error).

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use argh::FromArgs;
use log::{error, LevelFilter};
use simplelog::{ColorChoice, ConfigBuilder, TermLogger, TerminalMode};

use rtmp_edge::config::{Config, LogLevel, Overrides};
use rtmp_edge::server::{ReloadSource, Server};

/// RTMP live-streaming edge server: relay every published stream to its players.
/// Each option overrides the top-level key of the same name (with `_` for `-`)
/// in --config FILE; defaults are documented once, in examples/rtmp-server.toml.
#[derive(FromArgs)]
struct Args {
    /// TOML configuration file (top-level keys and [apps.NAME] tables)
    #[argh(option)]
    config: Option<PathBuf>,
    /// validate the configuration (and the paths it names), print "FILE: ok" and exit
    #[argh(switch)]
    check_config: bool,
    /// address to listen on
    #[argh(option)]
    listen: Option<SocketAddr>,
    /// log level: error, warn, info, debug or trace
    #[argh(option)]
    log_level: Option<LogLevel>,
    /// outbound chunk size in bytes
    #[argh(option)]
    chunk_size: Option<u32>,
    /// do not cache the current GOP for late joiners
    #[argh(switch)]
    no_gop_cache: bool,
    /// cap on the cached GOP in bytes
    #[argh(option)]
    gop_max_bytes: Option<usize>,
    /// cap on the cached GOP duration in milliseconds
    #[argh(option)]
    gop_max_ms: Option<u32>,
    /// most simultaneous connections; more are accepted and closed
    #[argh(option)]
    max_connections: Option<usize>,
    /// most simultaneous connections from one address (0 = no limit)
    #[argh(option)]
    max_connections_per_ip: Option<usize>,
    /// most connections from one address not yet publishing or playing (0 = no limit)
    #[argh(option)]
    max_handshakes_per_ip: Option<usize>,
    /// handshake deadline from accept, in milliseconds
    #[argh(option)]
    handshake_timeout_ms: Option<u64>,
    /// deadline from accept for connect and publish/play, in milliseconds
    #[argh(option)]
    command_timeout_ms: Option<u64>,
    /// close a publisher that sends no media for this many milliseconds
    #[argh(option)]
    publisher_timeout_ms: Option<u64>,
    /// a new publisher may take over a key whose publisher was silent this long, in milliseconds
    #[argh(option)]
    stale_publisher_ms: Option<u64>,
    /// close a subscriber that stays over its output budget this long, in milliseconds
    #[argh(option)]
    slow_subscriber_timeout_ms: Option<u64>,
    /// output byte budget per subscriber (raised to hold the GOP cache)
    #[argh(option)]
    subscriber_budget_bytes: Option<usize>,
    /// ping a peer silent this long, in milliseconds; close it after three intervals
    #[argh(option)]
    ping_interval_ms: Option<u64>,
    /// bytes read from one socket per loop turn
    #[argh(option)]
    read_budget_bytes: Option<usize>,
    /// hold a subscriber's frames up to this many milliseconds to write them together (0: off)
    #[argh(option)]
    write_coalesce_ms: Option<u64>,
    /// interval of the per-stream statistics line, in milliseconds
    #[argh(option)]
    stats_interval_ms: Option<u64>,
    /// record every published stream to an FLV file (an app's `record = false` still wins)
    #[argh(switch)]
    record_all: bool,
    /// directory for recordings
    #[argh(option)]
    record_dir: Option<PathBuf>,
    /// cut recordings at the first keyframe this many seconds into a segment (0: off)
    #[argh(option)]
    record_segment_s: Option<u64>,
    /// cut recordings at the first keyframe once a segment holds this many bytes (0: off)
    #[argh(option)]
    record_segment_bytes: Option<u64>,
    /// recording path template inside --record-dir ({app} {name} {date} {time} {seq})
    #[argh(option)]
    record_path: Option<String>,
    /// fsync recordings at every flush interval and when a file is closed
    #[argh(switch)]
    record_fsync: bool,
    /// RTMPS listen address, e.g. 0.0.0.0:1936 (needs --tls-cert and --tls-key)
    #[argh(option)]
    tls_listen: Option<SocketAddr>,
    /// PEM certificate chain for RTMPS (the default certificate)
    #[argh(option)]
    tls_cert: Option<PathBuf>,
    /// PEM private key for RTMPS
    #[argh(option)]
    tls_key: Option<PathBuf>,
    /// HTTP listen address (API, metrics, pages, HTTP-FLV), or "off"
    #[argh(option, from_str_fn(listen_or_off))]
    http_listen: Option<Option<SocketAddr>>,
    /// HTTPS listen address (API, pages, HTTP-FLV over TLS; needs --tls-cert and --tls-key)
    #[argh(option)]
    https_listen: Option<SocketAddr>,
    /// directory served under /static/ (e.g. a local mpegts.js)
    #[argh(option)]
    http_static: Option<PathBuf>,
    /// SO_REUSEPORT on the RTMP listener: several server processes share the port
    #[argh(switch)]
    reuse_port: bool,
    /// print the version and exit
    #[argh(switch)]
    version: bool,
}

impl Args {
    /// The flags that were given, as overrides of top-level keys.
    fn overrides(&self) -> Overrides {
        Overrides {
            listen: self.listen,
            log_level: self.log_level,
            chunk_size: self.chunk_size,
            gop_cache: self.no_gop_cache.then_some(false),
            gop_max_bytes: self.gop_max_bytes,
            gop_max_ms: self.gop_max_ms,
            max_connections: self.max_connections,
            max_connections_per_ip: self.max_connections_per_ip,
            max_handshakes_per_ip: self.max_handshakes_per_ip,
            handshake_timeout_ms: self.handshake_timeout_ms,
            command_timeout_ms: self.command_timeout_ms,
            publisher_timeout_ms: self.publisher_timeout_ms,
            stale_publisher_ms: self.stale_publisher_ms,
            slow_subscriber_timeout_ms: self.slow_subscriber_timeout_ms,
            subscriber_budget_bytes: self.subscriber_budget_bytes,
            ping_interval_ms: self.ping_interval_ms,
            read_budget_bytes: self.read_budget_bytes,
            write_coalesce_ms: self.write_coalesce_ms,
            stats_interval_ms: self.stats_interval_ms,
            record_all: self.record_all.then_some(true),
            record_dir: self.record_dir.clone(),
            record_segment_s: self.record_segment_s,
            record_segment_bytes: self.record_segment_bytes,
            record_path: self.record_path.clone(),
            record_fsync: self.record_fsync.then_some(true),
            hook_workers: None,
            hook_queue: None,
            reuse_port: self.reuse_port.then_some(true),
            tls_listen: self.tls_listen.map(Some),
            tls_cert: self.tls_cert.clone().map(Some),
            tls_key: self.tls_key.clone().map(Some),
            http_listen: self.http_listen,
            https_listen: self.https_listen.map(Some),
            http_static: self.http_static.clone().map(Some),
        }
    }
}

fn listen_or_off(s: &str) -> Result<Option<SocketAddr>, String> {
    rtmp_edge::config::parse_listen_or_off(s)
}

fn level_filter(level: LogLevel) -> LevelFilter {
    match level {
        LogLevel::Error => LevelFilter::Error,
        LogLevel::Warn => LevelFilter::Warn,
        LogLevel::Info => LevelFilter::Info,
        LogLevel::Debug => LevelFilter::Debug,
        LogLevel::Trace => LevelFilter::Trace,
    }
}

fn init_logging(level: LogLevel) {
    let log_config = ConfigBuilder::new()
        .set_time_format_rfc3339()
        .set_target_level(LevelFilter::Off)
        .set_thread_level(LevelFilter::Off)
        // The hook client's own request logs would name hook URLs at debug
        // level; the server logs each hook call itself, secrets redacted.
        .add_filter_ignore_str("ureq")
        .build();
    let color = if std::io::stderr().is_terminal() {
        ColorChoice::Auto
    } else {
        ColorChoice::Never
    };
    let _ = TermLogger::init(level_filter(level), log_config, TerminalMode::Stderr, color);
}

fn main() -> ExitCode {
    let args: Args = argh::from_env();
    if args.version {
        println!("rtmp-server {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let config = match Config::load(args.config.as_deref(), &args.overrides()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if args.check_config {
        match &args.config {
            Some(path) => println!("{}: ok", path.display()),
            None => println!("command line: ok"),
        }
        return ExitCode::SUCCESS;
    }
    init_logging(config.log_level);
    let mut server = match Server::bind(config) {
        Ok(s) => s,
        Err(e) => {
            // The logger writes to stderr: one line says what failed.
            error!("{e}");
            return ExitCode::from(2);
        }
    };
    server.set_reload_source(ReloadSource {
        file: args.config.clone(),
        flags: args.overrides(),
    });
    match server.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{e}");
            ExitCode::FAILURE
        }
    }
}
