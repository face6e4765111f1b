//! The progress display of a run.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// The progress display: an in-place line on a terminal (indicatif), a
/// plain line every 5 s otherwise, nothing with `--quiet`.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    every: Duration,
    last: Instant,
    last_bytes: u64,
}

impl Progress {
    pub fn new(quiet: bool) -> Progress {
        let tty = !quiet && std::io::stderr().is_terminal();
        let bar = tty.then(|| {
            let b = indicatif::ProgressBar::with_draw_target(
                None,
                indicatif::ProgressDrawTarget::stderr_with_hz(2),
            );
            b.set_style(
                indicatif::ProgressStyle::with_template("{msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            b
        });
        Progress {
            bar,
            every: if quiet {
                Duration::MAX
            } else if tty {
                Duration::from_secs(1)
            } else {
                Duration::from_secs(5)
            },
            last: Instant::now(),
            last_bytes: 0,
        }
    }

    /// Whether a line is due now.
    pub fn due(&self, now: Instant) -> bool {
        self.every != Duration::MAX && now >= self.last + self.every
    }

    /// Show one line: `bytes` is all subscribers' bytes received so far.
    pub fn show(&mut self, now: Instant, line: ProgressLine) {
        let secs = (now - self.last).as_secs_f64().max(1e-3);
        let mbps = line.bytes.saturating_sub(self.last_bytes) as f64 * 8.0 / 1e6 / secs;
        self.last = now;
        self.last_bytes = line.bytes;
        let p99 = line
            .p99_ms
            .map_or("n/a".to_owned(), |v| format!("{v:.1} ms"));
        let msg = format!(
            "{:.0}/{:.0} s  subscribers {} ok {} failed  {mbps:.1} Mbit/s  p99 {p99}",
            line.elapsed, line.total, line.connected, line.failed
        );
        match &self.bar {
            Some(b) => b.set_message(msg),
            None => eprintln!("rtmp-bench: {msg}"),
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            // The summary follows and says it all: leave no stale line.
            b.finish_and_clear();
        }
    }
}

/// What one progress line shows.
pub struct ProgressLine {
    pub elapsed: f64,
    pub total: f64,
    pub connected: usize,
    pub failed: usize,
    pub bytes: u64,
    pub p99_ms: Option<f64>,
}
