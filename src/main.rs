//! `rtmp-server`: the edge server binary. Parses flags into a `Config`,
//! initialises logging, runs the event loop, and maps failures to exit codes.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use argh::FromArgs;
use log::{error, LevelFilter};
use simplelog::{ColorChoice, ConfigBuilder, TermLogger, TerminalMode};

use rtmp_edge::config::Config;
use rtmp_edge::server::Server;

/// RTMP live-streaming edge server: relay every published stream to its players.
#[derive(FromArgs)]
struct Args {
    /// address to listen on (default 0.0.0.0:1935)
    #[argh(option, default = "SocketAddr::from(([0, 0, 0, 0], 1935))")]
    listen: SocketAddr,
    /// log level: error, warn, info, debug or trace (default info)
    #[argh(option, default = "LevelFilter::Info", from_str_fn(parse_level))]
    log_level: LevelFilter,
    /// outbound chunk size in bytes (default 4096)
    #[argh(option, default = "4096")]
    chunk_size: u32,
    /// do not cache the current GOP for late joiners
    #[argh(switch)]
    no_gop_cache: bool,
    /// cap on the cached GOP in bytes (default 16 MiB)
    #[argh(option, default = "16 * 1024 * 1024")]
    gop_max_bytes: usize,
    /// cap on the cached GOP duration in milliseconds (default 10000)
    #[argh(option, default = "10_000")]
    gop_max_ms: u32,
    /// most simultaneous connections; more are accepted and closed (default 10000)
    #[argh(option, default = "10_000")]
    max_connections: usize,
    /// handshake deadline from accept, in milliseconds (default 5000)
    #[argh(option, default = "5_000")]
    handshake_timeout_ms: u64,
    /// deadline from accept for connect and publish/play, in milliseconds (default 10000)
    #[argh(option, default = "10_000")]
    command_timeout_ms: u64,
    /// close a publisher that sends no media for this many milliseconds (default 30000)
    #[argh(option, default = "30_000")]
    publisher_timeout_ms: u64,
    /// a new publisher may take over a key whose publisher was silent this long, in milliseconds (default 5000)
    #[argh(option, default = "5_000")]
    stale_publisher_ms: u64,
    /// close a subscriber that stays over its output budget this long, in milliseconds (default 10000)
    #[argh(option, default = "10_000")]
    slow_subscriber_timeout_ms: u64,
    /// output byte budget per subscriber (default 24 MiB; raised to hold the GOP cache)
    #[argh(option, default = "24 * 1024 * 1024")]
    subscriber_budget_bytes: usize,
    /// ping a peer silent this long, in milliseconds; close it after three intervals (default 30000)
    #[argh(option, default = "30_000")]
    ping_interval_ms: u64,
    /// bytes read from one socket per loop turn (default 262144)
    #[argh(option, default = "256 * 1024")]
    read_budget_bytes: usize,
    /// hold a subscriber's frames up to this many milliseconds to write them together (default 0: off)
    #[argh(option, default = "0")]
    write_coalesce_ms: u64,
    /// interval of the per-stream statistics line, in milliseconds (default 30000)
    #[argh(option, default = "30_000")]
    stats_interval_ms: u64,
    /// record every published stream to an FLV file
    #[argh(switch)]
    record_all: bool,
    /// directory for recordings (default ./recordings)
    #[argh(option, default = "PathBuf::from(\"recordings\")")]
    record_dir: PathBuf,
    /// print the version and exit
    #[argh(switch)]
    version: bool,
}

fn parse_level(s: &str) -> Result<LevelFilter, String> {
    match s.to_ascii_lowercase().as_str() {
        "error" => Ok(LevelFilter::Error),
        "warn" => Ok(LevelFilter::Warn),
        "info" => Ok(LevelFilter::Info),
        "debug" => Ok(LevelFilter::Debug),
        "trace" => Ok(LevelFilter::Trace),
        _ => Err(format!(
            "unknown log level {s:?} (error, warn, info, debug, trace)"
        )),
    }
}

fn main() -> ExitCode {
    let args: Args = argh::from_env();
    if args.version {
        println!("rtmp-server {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let log_config = ConfigBuilder::new()
        .set_time_format_rfc3339()
        .set_target_level(LevelFilter::Off)
        .set_thread_level(LevelFilter::Off)
        .build();
    let color = if std::io::stderr().is_terminal() {
        ColorChoice::Auto
    } else {
        ColorChoice::Never
    };
    let _ = TermLogger::init(args.log_level, log_config, TerminalMode::Stderr, color);

    let config = Config {
        listen: args.listen,
        chunk_size: args.chunk_size,
        gop_cache: !args.no_gop_cache,
        gop_max_bytes: args.gop_max_bytes,
        gop_max_ms: args.gop_max_ms,
        max_connections: args.max_connections,
        handshake_timeout_ms: args.handshake_timeout_ms,
        command_timeout_ms: args.command_timeout_ms,
        publisher_timeout_ms: args.publisher_timeout_ms,
        stale_publisher_ms: args.stale_publisher_ms,
        slow_subscriber_timeout_ms: args.slow_subscriber_timeout_ms,
        subscriber_budget_bytes: args.subscriber_budget_bytes,
        ping_interval_ms: args.ping_interval_ms,
        read_budget_bytes: args.read_budget_bytes,
        write_coalesce_ms: args.write_coalesce_ms,
        stats_interval_ms: args.stats_interval_ms,
        record_all: args.record_all,
        record_dir: args.record_dir,
    };
    let mut server = match Server::bind(config) {
        Ok(s) => s,
        Err(e) => {
            error!("{e}");
            eprintln!("rtmp-server: {e}");
            return ExitCode::from(2);
        }
    };
    match server.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{e}");
            ExitCode::FAILURE
        }
    }
}
