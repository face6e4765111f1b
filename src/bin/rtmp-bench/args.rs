//! The command line of `rtmp-bench` (flags, exit codes in `--help`) and
//! how a run's failure becomes one line and an exit code.

use std::process::ExitCode;

use argh::FromArgs;
use rtmp_edge::client::{exit_code, ClientError};

#[derive(FromArgs)]
/// RTMP fan-out benchmark: publishers and subscribers in one process.
#[argh(
    note = "Progress: on a terminal one line updated every second; otherwise a line every 5 s; --quiet: none. Ctrl-C ends the run early and still prints the summary. The JSON summary carries the latency CDF (latency_cdf_ms: [ms, fraction] points) and the delivered bitrate per second (delivered_mbps_per_s: [s, Mbit/s]); rtmp-bench plot-compare --help: draw several runs' JSON into one SVG.",
    error_code(2, "usage: bad flag or URL"),
    error_code(3, "unreachable: resolve or TCP connect failed, connection lost"),
    error_code(4, "TLS failed"),
    error_code(5, "timeout (a setup step did not complete within --timeout)"),
    error_code(6, "refused by the server (busy stream, bad key, hook refusal)"),
    error_code(7, "protocol error"),
    error_code(1, "other errors (files, I/O)")
)]
pub struct Args {
    /// rtmp[s]://host[:port]/app/NAME (with P > 1 the streams are NAME_0..NAME_{P-1})
    #[argh(option)]
    pub url: String,
    /// subscribers fetch http://HOST:PORT/app/NAME.flv (HTTP-FLV) instead of playing over RTMP
    #[argh(option)]
    pub http_flv: Option<String>,
    /// subscribers play rtmp[s]://host[:port]/app/NAME instead of --url, e.g. an edge pulling
    /// from the origin --url publishes to; repeat it to spread them round-robin over several
    /// servers (with P > 1 the streams are NAME_0..NAME_{P-1} of each)
    #[argh(option)]
    pub sub_url: Vec<String>,
    /// rtmps://: accept any server certificate (self-signed test servers)
    #[argh(switch)]
    pub insecure: bool,
    /// FLV file to publish (looped), in real time
    #[argh(option)]
    pub flv: String,
    /// number of publishers (default 1)
    #[argh(option, default = "1")]
    pub publishers: usize,
    /// number of subscribers, spread evenly over the streams
    #[argh(option)]
    pub subscribers: usize,
    /// measurement time in seconds after the subscribers connect (default 15)
    #[argh(option, default = "15.0")]
    pub duration: f64,
    /// server process id: report its CPU time and peak RSS; repeat it for several processes
    /// (an origin and its edges): their CPU times and peak RSS are summed
    #[argh(option)]
    pub server_pid: Vec<u32>,
    /// print one JSON object instead of the human summary
    #[argh(switch)]
    pub json: bool,
    /// seconds allowed for each setup step (default 10)
    #[argh(option, default = "10")]
    pub timeout: u64,
    /// seconds between the publishers' start and the subscribers' connect (default 1)
    #[argh(option, default = "1.0")]
    pub lead: f64,
    /// log level (default warn)
    #[argh(option, default = "String::from(\"warn\")")]
    pub log: String,
    /// no progress lines: print only the summary
    #[argh(switch)]
    pub quiet: bool,
    /// draw the run into FILE.svg: the latency CDF (log axis) and the delivered bitrate per second
    #[argh(option)]
    pub plot: Option<String>,
}

/// Why the run stopped: the exit code of its class and the line to print.
pub struct Fail {
    pub code: u8,
    pub msg: String,
}

impl From<String> for Fail {
    fn from(msg: String) -> Fail {
        Fail { code: 1, msg }
    }
}

impl From<&str> for Fail {
    fn from(msg: &str) -> Fail {
        Fail::from(msg.to_owned())
    }
}

/// One line for a client failure: what, the URL, the step and the error.
pub fn describe(what: &str, url: &str, e: &ClientError) -> String {
    // The step is named by the error's text, or added here.
    let text = e.to_string();
    match e.step().filter(|s| !text.contains(s.name())) {
        Some(s) => format!("{what} {url}: failed at {}: {text}", s.name()),
        None => format!("{what} {url}: {text}"),
    }
}

pub fn client_fail(what: &str, url: &str, e: &ClientError) -> Fail {
    Fail {
        code: e.exit_code(),
        msg: describe(what, url, e),
    }
}

/// The command line, with `--help` exiting 0 and a bad command line 2.
pub fn parse_args() -> Result<Args, ExitCode> {
    let argv: Vec<String> = std::env::args().collect();
    let rest: Vec<&str> = argv.iter().skip(1).map(String::as_str).collect();
    Args::from_args(&["rtmp-bench"], &rest).map_err(|early| match early.status {
        Ok(()) => {
            println!("{}", early.output);
            ExitCode::SUCCESS
        }
        Err(()) => {
            eprintln!(
                "{}\nRun rtmp-bench --help for more information.",
                early.output
            );
            ExitCode::from(exit_code::USAGE)
        }
    })
}
