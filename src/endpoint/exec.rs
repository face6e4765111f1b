//! `exec_record_done` as the endpoint sees it: when a recording's file is
//! finished, the command of the application it was published on (resolved
//! at publish time) is expanded into an [`ExecJob`].
//!
//! The endpoint is the one place that bounds the jobs: [`Endpoint::poll_exec`]
//! hands out a job only while fewer than [`MAX_RUNNING`] are out (handed out
//! and not yet reported with [`Endpoint::handle_exec_done`]); up to
//! [`MAX_QUEUED`] more wait in order, and a job beyond that is dropped with
//! one warn line naming the recording's path (and counted). The runner runs
//! whatever it is given.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use log::warn;

use crate::config::AppSettings;
use crate::exec::template::{self, RecordVars};
use crate::exec::{ExecJob, MAX_QUEUED, MAX_RUNNING};

use super::Endpoint;

/// The command an application runs when its recording is finished.
#[derive(Debug, Clone)]
pub struct ExecSpec {
    command: Vec<String>,
    timeout_s: u64,
    app: String,
    name: String,
}

impl ExecSpec {
    /// `None` when application `app` runs nothing.
    pub fn new(settings: &AppSettings, app: &str, name: &str) -> Option<ExecSpec> {
        (!settings.exec_record_done.is_empty()).then(|| ExecSpec {
            command: settings.exec_record_done.clone(),
            timeout_s: settings.exec_timeout_s,
            app: app.to_string(),
            name: name.to_string(),
        })
    }
}

/// Counters of the exec jobs (tests, logs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExecStats {
    /// Handed out and not yet reported.
    pub running: usize,
    /// Waiting for a slot.
    pub queued: usize,
    /// Handed out since start.
    pub started: u64,
    /// Dropped because the queue was full.
    pub dropped: u64,
}

/// Jobs waiting and running.
#[derive(Debug, Default)]
pub(super) struct ExecQueue {
    waiting: VecDeque<ExecJob>,
    running: HashSet<u64>,
    next_id: u64,
    started: u64,
    dropped: u64,
}

impl Endpoint {
    /// Queue the job `spec` runs for the finished file at `path`.
    pub(super) fn exec_record_done(&mut self, spec: Option<&ExecSpec>, path: &str) {
        let Some(spec) = spec else { return };
        let Some((program, args)) = spec.command.split_first() else {
            return;
        };
        let queue = &mut self.exec;
        if queue.waiting.len() >= MAX_QUEUED {
            queue.dropped += 1;
            warn!(
                "exec_record_done {program} for {path} dropped: {MAX_RUNNING} running and {MAX_QUEUED} waiting ({} dropped so far)",
                queue.dropped
            );
            return;
        }
        let vars = RecordVars::new(path, &spec.app, &spec.name);
        queue.next_id += 1;
        queue.waiting.push_back(ExecJob {
            id: queue.next_id,
            program: program.clone(),
            args: args.iter().map(|a| template::expand(a, &vars)).collect(),
            path: path.to_string(),
            timeout: Duration::from_secs(spec.timeout_s),
        });
    }

    /// The next job for the runner, while fewer than [`MAX_RUNNING`] are out.
    pub fn poll_exec(&mut self) -> Option<ExecJob> {
        let queue = &mut self.exec;
        if queue.running.len() >= MAX_RUNNING {
            return None;
        }
        let job = queue.waiting.pop_front()?;
        queue.running.insert(job.id);
        queue.started += 1;
        Some(job)
    }

    /// Job `id` has ended (however it ended); an unknown id is ignored.
    pub fn handle_exec_done(&mut self, id: u64) {
        self.exec.running.remove(&id);
    }

    pub fn exec_stats(&self) -> ExecStats {
        let queue = &self.exec;
        ExecStats {
            running: queue.running.len(),
            queued: queue.waiting.len(),
            started: queue.started,
            dropped: queue.dropped,
        }
    }
}
