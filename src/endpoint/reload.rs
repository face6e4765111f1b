//! Configuration reload (the driver's SIGHUP): [`Endpoint::reload`] swaps
//! in a new, validated configuration and says what changed.
//!
//! * Per-application settings (keys, allow/deny rules, hooks, pull and push
//!   targets, recording) are resolved again; a session resolves its
//!   application's settings when it publishes or plays, so new sessions get
//!   the new ones and running publishers and players keep theirs (they are
//!   not checked again or closed).
//! * The push targets of live publishes follow the new `push` lists at once
//!   (see `push`); `static_pull` streams added start, removed ones end when
//!   unwatched.
//! * Limits read when they are used (timeouts, per-address limits, GOP caps,
//!   the subscriber budget of new viewers, API access, write coalescing)
//!   apply from the next use.
//! * Keys read only at start-up ([`crate::config::RESTART_ONLY`]) keep their
//!   running value and are reported as needing a restart; `record_dir` and
//!   `record_fsync` may still change while no recorder runs (the driver starts one with it
//!   when recording is switched on: [`Endpoint::needs_recorder`]).

use crate::config::{Config, ConfigChange};
use crate::relay::stream::StreamConfig;

use super::{Endpoint, Recorder};

/// What [`Endpoint::reload`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadReport {
    /// Changed keys now in force, and restart-only keys left as they were.
    pub change: ConfigChange,
    /// Push targets opened and closed for live streams.
    pub pushes_started: usize,
    pub pushes_stopped: usize,
}

impl ReloadReport {
    /// `changed a, b; needs a restart (kept): c; pushes: 1 started, 0 stopped`,
    /// or `no changes`.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if !self.change.changed.is_empty() {
            parts.push(format!("changed {}", self.change.changed.join(", ")));
        }
        if !self.change.needs_restart.is_empty() {
            parts.push(format!(
                "needs a restart (running value kept): {}",
                self.change.needs_restart.join(", ")
            ));
        }
        if self.pushes_started + self.pushes_stopped > 0 {
            parts.push(format!(
                "pushes {} started, {} stopped",
                self.pushes_started, self.pushes_stopped
            ));
        }
        if parts.is_empty() {
            return "no changes".to_string();
        }
        parts.join("; ")
    }
}

impl Endpoint {
    /// Apply `new` (validated) from now on; see the module docs.
    pub fn reload(&mut self, mut new: Config, _now: u64) -> ReloadReport {
        let applies_now: &[&str] = match self.recorder {
            Some(_) => &[],
            None => &["record_dir", "record_fsync"],
        };
        let change = self.config.reload_change(&mut new, applies_now);
        self.config = new;
        self.apps = self.config.app_map();
        self.session_config.defer_connect = self.config.any_connect_hook();
        self.queue_config.byte_budget = self.config.subscriber_budget_bytes;
        self.streams
            .set_config(StreamConfig::from_config(&self.config));
        let (pushes_started, pushes_stopped) = self.reload_pushes();
        self.reload_static_pulls();
        ReloadReport {
            change,
            pushes_started,
            pushes_stopped,
        }
    }

    /// Recording is configured but no recorder was given (recording was off
    /// at start): the driver should start one and [`Endpoint::set_recorder`].
    pub fn needs_recorder(&self) -> bool {
        self.recorder.is_none() && self.config.any_recording()
    }

    /// The recorder for publishes from now on (none was running).
    pub fn set_recorder(&mut self, recorder: Box<dyn Recorder>) {
        debug_assert!(self.recorder.is_none(), "a recorder is running");
        self.recorder = Some(recorder);
    }
}
