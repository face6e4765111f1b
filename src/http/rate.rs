//! Bit rates over a sliding window (30 s for the API's `kbps_in` /
//! `kbps_out`), from a running byte total and the caller's clock.
//!
//! # Contract
//!
//! * The caller owns one [`RateMeter`] per counter and calls
//!   [`RateMeter::record`] with `now` (milliseconds, the endpoint's clock)
//!   and the counter's running total, as often as it likes (per frame is
//!   fine: it keeps at most one sample per [`SAMPLE_EVERY_MS`] and is O(1)).
//! * [`RateMeter::kbps`] is the rate from the oldest sample still inside the
//!   window to `(now, total)`; before any sample it is 0. Memory is fixed
//!   (a ring of [`SLOTS`] samples).

/// The window of the API's rates.
pub const RATE_WINDOW_MS: u64 = 30_000;
/// The meter keeps at most one sample per this many ms.
pub const SAMPLE_EVERY_MS: u64 = 1_000;
/// Ring size: one window of samples plus the newest.
pub const SLOTS: usize = (RATE_WINDOW_MS / SAMPLE_EVERY_MS) as usize + 1;

/// A sliding-window rate of a growing byte total.
#[derive(Debug, Clone)]
pub struct RateMeter {
    /// (time ms, total bytes), oldest at `head`.
    ring: [(u64, u64); SLOTS],
    head: usize,
    len: usize,
    window_ms: u64,
}

impl Default for RateMeter {
    fn default() -> Self {
        Self::new(RATE_WINDOW_MS)
    }
}

impl RateMeter {
    /// A meter over `window_ms` (clamped to at most [`RATE_WINDOW_MS`]'s
    /// worth of samples).
    pub fn new(window_ms: u64) -> RateMeter {
        RateMeter {
            ring: [(0, 0); SLOTS],
            head: 0,
            len: 0,
            window_ms: window_ms.clamp(SAMPLE_EVERY_MS, RATE_WINDOW_MS),
        }
    }

    fn at(&self, i: usize) -> (u64, u64) {
        self.ring[(self.head + i) % SLOTS]
    }

    /// Notes the running `total` at `now`.
    pub fn record(&mut self, now: u64, total: u64) {
        if self.len > 0 && now < self.at(self.len - 1).0 + SAMPLE_EVERY_MS {
            return;
        }
        if self.len == SLOTS {
            self.head = (self.head + 1) % SLOTS;
            self.len -= 1;
        }
        let slot = (self.head + self.len) % SLOTS;
        self.ring[slot] = (now, total);
        self.len += 1;
    }

    /// Kilobits per second (1000 bits) over the window ending at `now`,
    /// where the counter stands at `total`.
    pub fn kbps(&self, now: u64, total: u64) -> f64 {
        let since = now.saturating_sub(self.window_ms);
        let base = (0..self.len)
            .map(|i| self.at(i))
            .find(|&(t, _)| t >= since)
            .or_else(|| self.len.checked_sub(1).map(|i| self.at(i)));
        match base {
            Some((t, bytes)) if now > t => {
                total.saturating_sub(bytes) as f64 * 8.0 / (now - t) as f64
            }
            _ => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_rate() {
        let mut m = RateMeter::default();
        // 125 000 bytes per second = 1000 kbit/s, fed every 40 ms.
        for step in 0..=2_500u64 {
            let now = step * 40;
            m.record(now, now * 125);
        }
        let now = 100_000;
        assert!((m.kbps(now, now * 125) - 1000.0).abs() < 1e-9);
    }

    #[test]
    fn window_forgets_old_bursts() {
        let mut m = RateMeter::default();
        m.record(0, 0);
        m.record(1_000, 10_000_000); // a burst in the first second
        for s in 2..=60u64 {
            m.record(s * 1000, 10_000_000); // then silence
        }
        assert_eq!(m.kbps(60_000, 10_000_000), 0.0);
        // Inside the window the burst counts.
        let mut m = RateMeter::default();
        m.record(0, 0);
        assert_eq!(m.kbps(2_000, 1_000), 4.0);
    }

    #[test]
    fn empty_and_stale() {
        let m = RateMeter::default();
        assert_eq!(m.kbps(5_000, 1_000), 0.0);
        let mut m = RateMeter::new(10_000);
        m.record(0, 0);
        // Only an old sample: the rate since it.
        assert_eq!(m.kbps(100_000, 1_250_000), 100.0);
        // Same instant: no division by zero.
        assert_eq!(m.kbps(0, 10), 0.0);
        // A counter that went backwards (reset) is not negative.
        assert_eq!(m.kbps(1_000, 0), 0.0);
    }

    #[test]
    fn ring_stays_bounded() {
        let mut m = RateMeter::default();
        for s in 0..1_000u64 {
            m.record(s * 1000, s * 1000);
            assert!(m.len <= SLOTS);
        }
        assert!((m.kbps(999_000, 999_000) - 8.0).abs() < 1e-9);
    }
}
