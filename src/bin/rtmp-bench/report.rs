//! The summary of a run, as one JSON object (`--json`) or a few lines.

use std::fmt::Write as _;

use super::measure::STEADY_AFTER;

/// Everything the summary reports, measured over `window` seconds.
pub struct Figures<'a> {
    pub publishers: usize,
    pub publishers_failed: usize,
    pub subscribers: usize,
    /// Subscriber kind as JSON and as text (`rtmp`/`RTMP`, `http-flv`/`HTTP-FLV`).
    pub kind: (&'a str, &'a str),
    pub connected: usize,
    pub failed: usize,
    pub window: f64,
    /// Bytes on the wire, frame payload received, payload expected.
    pub bytes_in: u64,
    pub payload_in: u64,
    pub expected_bytes: u64,
    pub messages: u64,
    pub missing: u64,
    /// p50, p99, max.
    pub latency_ms: (Option<f64>, Option<f64>, Option<f64>),
    /// p50, p99.
    pub startup_ms: (Option<u64>, Option<u64>),
    pub no_startup: usize,
    pub catchup_frames: u64,
    pub steady_p99: Option<f64>,
    pub bench_cpu_s: Option<f64>,
    /// (user, sys) seconds summed over the server processes, and each one's.
    pub server_cpu: Option<(f64, f64)>,
    pub server_cpu_each: Vec<Option<(f64, f64)>>,
    pub server_pids: &'a [u32],
    pub rss_kb: Option<u64>,
    pub sub_urls: usize,
    /// Subscribers connected per `--sub-url`, comma-separated.
    pub per_target: String,
    pub interrupted: bool,
    pub first_error: Option<&'a str>,
    /// (latency ms, fraction of live frames): points of the latency CDF.
    pub latency_cdf: &'a [(f64, f64)],
    /// (end of the second, s; Mbit/s on the wire delivered in it).
    pub rate_mbps: &'a [(f64, f64)],
    /// The SVG `--plot` writes.
    pub plot: Option<&'a str>,
}

fn num(v: Option<f64>) -> String {
    v.map_or("null".to_owned(), |x| format!("{x:.3}"))
}

fn int(v: Option<u64>) -> String {
    v.map_or("null".to_owned(), |x| x.to_string())
}

fn hnum(v: Option<f64>) -> String {
    v.map_or("n/a".to_owned(), |x| format!("{x:.3}"))
}

fn hint(v: Option<u64>) -> String {
    v.map_or("n/a".to_owned(), |x| x.to_string())
}

impl Figures<'_> {
    fn mbps(&self, bytes: u64) -> f64 {
        bytes as f64 * 8.0 / 1e6 / self.window
    }

    /// Server CPU seconds per delivered Gbit.
    fn per_gbit(&self, cpu: f64) -> Option<f64> {
        let gbit = self.bytes_in as f64 * 8.0 / 1e9;
        (gbit > 0.0).then(|| cpu / gbit)
    }

    fn cpu_each(&self, f: fn(Option<f64>) -> String) -> Vec<String> {
        self.server_cpu_each
            .iter()
            .map(|c| f(c.map(|(u, s)| u + s)))
            .collect()
    }

    pub fn print(&self, json: bool) {
        if json {
            println!("{}", self.json());
        } else {
            self.print_text();
        }
    }

    fn json(&self) -> String {
        let (lat, st) = (self.latency_ms, self.startup_ms);
        let mut j = String::from("{");
        let _ = write!(
            j,
            "\"publishers\":{},\"publishers_failed\":{},\"subscribers\":{},\"subscriber_kind\":\"{}\",\"connected\":{},\"failed\":{},\
             \"duration_s\":{:.3},\"bytes_received\":{},\"messages_received\":{},\"messages_missing\":{},\
             \"delivered_mbps\":{:.3},\"delivered_payload_mbps\":{:.3},\"expected_payload_mbps\":{:.3},\
             \"latency_ms_p50\":{},\"latency_ms_p99\":{},\"latency_ms_max\":{},\
             \"startup_ms_p50\":{},\"startup_ms_p99\":{},\"no_keyframe\":{},\"catchup_frames\":{},\"latency_ms_p99_steady\":{},\"bench_cpu_s\":{}",
            self.publishers,
            self.publishers_failed,
            self.subscribers,
            self.kind.0,
            self.connected,
            self.failed,
            self.window,
            self.bytes_in,
            self.messages,
            self.missing,
            self.mbps(self.bytes_in),
            self.mbps(self.payload_in),
            self.mbps(self.expected_bytes),
            num(lat.0),
            num(lat.1),
            num(lat.2),
            int(st.0),
            int(st.1),
            self.no_startup,
            self.catchup_frames,
            num(self.steady_p99),
            num(self.bench_cpu_s),
        );
        if let Some((u, s)) = self.server_cpu {
            let cpu = u + s;
            let _ = write!(
                j,
                ",\"server_cpu_user_s\":{u:.3},\"server_cpu_sys_s\":{s:.3},\"server_cpu_s_per_gbit\":{},\"server_user_share\":{}",
                num(self.per_gbit(cpu)),
                num((cpu > 0.0).then(|| u / cpu)),
            );
        }
        if let Some(kb) = self.rss_kb {
            let _ = write!(j, ",\"server_peak_rss_kb\":{kb}");
        }
        if !self.server_pids.is_empty() {
            // In --server-pid order; CPU and peak RSS above are their sums.
            let pids: Vec<String> = self.server_pids.iter().map(u32::to_string).collect();
            let _ = write!(
                j,
                ",\"server_pids\":[{}],\"server_cpu_s_each\":[{}]",
                pids.join(","),
                self.cpu_each(num).join(",")
            );
        }
        if self.sub_urls > 0 {
            let _ = write!(j, ",\"connected_per_sub_url\":[{}]", self.per_target);
        }
        let pairs = |v: &[(f64, f64)], fx: fn(f64) -> String, fy: fn(f64) -> String| {
            v.iter()
                .map(|&(x, y)| format!("[{},{}]", fx(x), fy(y)))
                .collect::<Vec<_>>()
                .join(",")
        };
        let _ = write!(
            j,
            ",\"latency_cdf_ms\":[{}],\"delivered_mbps_per_s\":[{}]",
            pairs(self.latency_cdf, |x| format!("{x:.3}"), |y| y.to_string()),
            pairs(self.rate_mbps, |x| format!("{x:.3}"), |y| format!("{y:.3}")),
        );
        if self.interrupted {
            j.push_str(",\"interrupted\":true");
        }
        if let Some(e) = self.first_error {
            let quoted = serde_json::to_string(e).unwrap_or_else(|_| "\"\"".into());
            let _ = write!(j, ",\"first_error\":{quoted}");
        }
        j.push('}');
        j
    }

    fn print_text(&self) {
        let (lat, st) = (self.latency_ms, self.startup_ms);
        println!(
            "rtmp-bench: {} publisher(s) ({} failed), {} {} subscriber(s): {} connected, {} failed, {:.1} s measured",
            self.publishers,
            self.publishers_failed,
            self.subscribers,
            self.kind.1,
            self.connected,
            self.failed,
            self.window
        );
        println!(
            "  delivered {:.1} Mbit/s on the wire ({:.1} Mbit/s payload, expected {:.1}); {} messages, {} missing",
            self.mbps(self.bytes_in),
            self.mbps(self.payload_in),
            self.mbps(self.expected_bytes),
            self.messages,
            self.missing
        );
        println!(
            "  latency ms p50 {} p99 {} max {} (live frames; {} cached catch-up frames excluded; p99 from {}s after connect {}); startup ms p50 {} p99 {} ({} without a keyframe); bench CPU {} s",
            hnum(lat.0),
            hnum(lat.1),
            hnum(lat.2),
            self.catchup_frames,
            STEADY_AFTER.as_secs(),
            hnum(self.steady_p99),
            hint(st.0),
            hint(st.1),
            self.no_startup,
            hnum(self.bench_cpu_s)
        );
        if let Some((u, s)) = self.server_cpu {
            println!(
                "  server CPU {:.2} s (user {u:.2} + sys {s:.2}), {} s per delivered Gbit, peak RSS {} kB",
                u + s,
                hnum(self.per_gbit(u + s)),
                hint(self.rss_kb)
            );
        }
        if self.server_pids.len() > 1 {
            println!(
                "  summed over {} server processes; CPU s each: {}",
                self.server_pids.len(),
                self.cpu_each(hnum).join(", ")
            );
        }
        if self.sub_urls > 0 {
            println!("  subscribers connected per --sub-url: {}", self.per_target);
        }
        if let Some(e) = self.first_error {
            println!("  first error: {e}");
        }
        if self.interrupted {
            println!("  interrupted (Ctrl-C) before the end of --duration");
        }
        if let Some(p) = self.plot {
            println!("  plot: {p}");
        }
    }
}
