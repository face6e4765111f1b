//! The timestamp rebaser of one stream: see "Timestamps" in
//! [`crate::relay::stream`] for the rules it keeps.

use crate::relay::frame::{TYPE_AUDIO, TYPE_VIDEO};
use crate::relay::stream::StreamConfig;

/// `a` is later than or equal to `b` in wrapping order.
fn not_before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) >= 0
}

/// Timestamp rebaser of one stream (see the module docs).
#[derive(Clone, Debug, Default)]
pub(crate) struct Rebase {
    last_in: Option<u32>,
    offset: u32,
    /// Latest output timestamp of the merged stream.
    last_out: Option<u32>,
    /// Latest output per track: audio, video, other.
    track_out: [Option<u32>; 3],
}

impl Rebase {
    /// Latest output timestamp of the merged stream.
    pub(crate) fn last_out(&self) -> Option<u32> {
        self.last_out
    }

    pub(crate) fn new_publisher(&mut self) {
        self.last_in = None;
    }

    fn continue_from_last(&mut self, ts_in: u32, step: u32) {
        self.offset = match self.last_out {
            None => 0,
            Some(lo) => lo.wrapping_add(step).wrapping_sub(ts_in),
        };
    }

    pub(crate) fn map(&mut self, type_id: u8, ts_in: u32, cfg: &StreamConfig) -> u32 {
        match self.last_in {
            None => self.continue_from_last(ts_in, cfg.ts_step_ms),
            Some(li) => {
                let d = ts_in.wrapping_sub(li) as i32 as i64;
                if d < -(cfg.ts_jump_back_ms as i64) || d > cfg.ts_jump_forward_ms as i64 {
                    log::debug!(
                        "timestamp discontinuity: {} -> {} (delta {}), rebasing",
                        li,
                        ts_in,
                        d
                    );
                    self.continue_from_last(ts_in, cfg.ts_step_ms);
                }
            }
        }
        self.last_in = Some(ts_in);
        let raw = ts_in.wrapping_add(self.offset);
        let track = match type_id {
            TYPE_AUDIO => 0,
            TYPE_VIDEO => 1,
            _ => 2,
        };
        let floor = if cfg.per_track_monotonic {
            self.track_out[track]
        } else {
            self.last_out
        };
        let out = match floor {
            Some(f) if !not_before(raw, f) => f,
            _ => raw,
        };
        self.track_out[track] = Some(out);
        self.last_out = match self.last_out {
            Some(lo) if not_before(lo, out) => Some(lo),
            _ => Some(out),
        };
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn run(r: &mut Rebase, cfg: &StreamConfig, input: &[(u8, u32)]) -> Vec<u32> {
        input.iter().map(|&(t, ts)| r.map(t, ts, cfg)).collect()
    }

    #[test]
    fn first_publisher_keeps_its_timestamps() {
        let cfg = StreamConfig::default();
        let mut r = Rebase::default();
        let out = run(&mut r, &cfg, &[(9, 0), (8, 0), (8, 23), (9, 66), (8, 46)]);
        // 46 after 66 is clamped to 66 (merged stream never decreases)
        assert_eq!(out, vec![0, 0, 23, 66, 66]);
    }

    #[test]
    fn per_track_mode_keeps_interleave_exact() {
        let cfg = StreamConfig {
            per_track_monotonic: true,
            ..StreamConfig::default()
        };
        let mut r = Rebase::default();
        let input = [(9, 0), (8, 0), (8, 23), (9, 66), (8, 46), (8, 69), (9, 133)];
        let out = run(&mut r, &cfg, &input);
        assert_eq!(out, vec![0, 0, 23, 66, 46, 69, 133]);
        // but a track never goes back against itself
        let out = run(&mut r, &cfg, &[(8, 60)]);
        assert_eq!(out, vec![69]);
    }

    #[test]
    fn jump_back_rebases_after_last_output() {
        let cfg = StreamConfig::default();
        let mut r = Rebase::default();
        let out = run(&mut r, &cfg, &[(9, 5000), (9, 5040), (9, 3000), (9, 3040)]);
        assert_eq!(out, vec![5000, 5040, 5050, 5090]);
        // a small step back (< 1 s) is not a discontinuity: clamped only
        let out = run(&mut r, &cfg, &[(8, 2100), (9, 3080)]);
        assert_eq!(out, vec![5090, 5130]);
    }

    #[test]
    fn jump_forward_beyond_threshold_rebases() {
        let cfg = StreamConfig::default();
        let mut r = Rebase::default();
        let out = run(
            &mut r,
            &cfg,
            &[(9, 100), (9, 9_100), (9, 60_000), (9, 60_040)],
        );
        assert_eq!(out, vec![100, 9_100, 9_110, 9_150]);
    }

    #[test]
    fn new_publisher_restarting_at_zero_continues() {
        let cfg = StreamConfig::default();
        let mut r = Rebase::default();
        run(&mut r, &cfg, &[(9, 0), (9, 4000)]);
        r.new_publisher();
        let out = run(&mut r, &cfg, &[(9, 0), (8, 0), (9, 40)]);
        assert_eq!(out, vec![4010, 4010, 4050]);
    }

    #[test]
    fn wrap_at_2_pow_32_is_progress_not_a_jump() {
        let cfg = StreamConfig::default();
        let mut r = Rebase::default();
        let input = [
            (9, 0xFFFF_FF00),
            (8, 0xFFFF_FFC0),
            (9, 0xFFFF_FFF0),
            (9, 0x0000_0030),
            (8, 0x0000_0020),
            (9, 0x0000_0070),
        ];
        let out = run(&mut r, &cfg, &input);
        assert_eq!(
            out,
            vec![0xFFFF_FF00, 0xFFFF_FFC0, 0xFFFF_FFF0, 0x30, 0x30, 0x70]
        );
        // rebased output wraps as well: a new publisher near the top
        r.new_publisher();
        let out = run(&mut r, &cfg, &[(9, 0), (9, 40)]);
        assert_eq!(out, vec![0x70 + 10, 0x70 + 50]);
    }

    #[test]
    fn crossing_0xffffff_is_ordinary() {
        let cfg = StreamConfig::default();
        let mut r = Rebase::default();
        let out = run(
            &mut r,
            &cfg,
            &[(9, 0xFF_FFC0), (9, 0xFF_FFFF), (9, 0x100_0020)],
        );
        assert_eq!(out, vec![0xFF_FFC0, 0xFF_FFFF, 0x100_0020]);
        // rebased output crossing the 24-bit boundary
        r.new_publisher();
        let out = run(&mut r, &cfg, &[(9, 0), (9, 0x40)]);
        assert_eq!(out, vec![0x100_002A, 0x100_006A]);
    }

    #[test]
    fn output_never_decreases_for_random_inputs() {
        for seed in 0..200u64 {
            let mut rng = StdRng::seed_from_u64(seed);
            let cfg = StreamConfig::default();
            let mut r = Rebase::default();
            let mut ts: u32 = rng.random();
            let mut last: Option<u32> = None;
            for i in 0..500 {
                if rng.random_ratio(1, 100) {
                    r.new_publisher();
                    ts = rng.random();
                } else if rng.random_ratio(1, 50) {
                    ts = rng.random(); // arbitrary jump
                } else {
                    ts = ts.wrapping_add(rng.random_range(0..60)).wrapping_sub(20);
                }
                let t = if rng.random_bool(0.5) { 8 } else { 9 };
                let out = r.map(t, ts, &cfg);
                if let Some(l) = last {
                    let d = out.wrapping_sub(l) as i32;
                    assert!(d >= 0, "seed {seed} step {i}: {l} -> {out}");
                    assert!(
                        d <= cfg.ts_jump_forward_ms as i32,
                        "seed {seed} step {i}: forward jump {d}"
                    );
                }
                last = Some(out);
            }
        }
    }
}
