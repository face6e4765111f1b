//! The driver's side of `exec_record_done`: hand the endpoint's jobs to the
//! [`ExecRunner`] and report their ends back (see `crate::exec`).

use std::sync::Arc;
use std::time::Duration;

use log::{debug, info, warn};
use mio::Registry;

use crate::exec::{ExecDone, ExecRunner};

use super::token::EXEC;
use super::Server;

/// How long shutdown lets running `exec_record_done` jobs finish before
/// killing them.
const EXEC_SHUTDOWN_MS: u64 = 2_000;

/// A runner when any application runs `exec_record_done`.
pub(super) fn runner(
    config: &crate::config::Config,
    registry: &Registry,
) -> std::io::Result<Option<ExecRunner>> {
    if !config.any_exec() {
        return Ok(None);
    }
    let waker = mio::Waker::new(registry, EXEC)?;
    Ok(Some(ExecRunner::new(Arc::new(waker))))
}

impl Server {
    /// Hand the jobs the endpoint releases to the runner.
    pub(super) fn submit_execs(&mut self) {
        while let Some(job) = self.endpoint.poll_exec() {
            match self.exec.as_ref() {
                Some(runner) => runner.submit(job),
                None => {
                    warn!("exec {} {}: no runner", job.id, job.program);
                    self.endpoint.handle_exec_done(job.id);
                }
            }
        }
    }

    /// The waker fired: free the slots of the jobs that ended.
    pub(super) fn on_exec_results(&mut self) {
        let Some(runner) = self.exec.as_mut() else {
            return;
        };
        let mut done: Vec<ExecDone> = Vec::new();
        runner.try_results(&mut done);
        for d in done {
            debug!("exec {} ended after {:?}: {:?}", d.id, d.elapsed, d.outcome);
            self.endpoint.handle_exec_done(d.id);
        }
        self.submit_execs();
    }

    /// At exit: queued jobs are dropped, running ones get
    /// [`EXEC_SHUTDOWN_MS`] and are then killed.
    pub(super) fn stop_execs(&mut self) {
        let Some(runner) = self.exec.take() else {
            return;
        };
        let stats = self.endpoint.exec_stats();
        if stats.queued > 0 {
            warn!(
                "{} exec_record_done jobs not started at exit were dropped",
                stats.queued
            );
        }
        if runner.running() > 0 {
            info!(
                "waiting up to {EXEC_SHUTDOWN_MS} ms for {} exec_record_done jobs",
                runner.running()
            );
        }
        let killed = runner.shutdown(Duration::from_millis(EXEC_SHUTDOWN_MS));
        if killed > 0 {
            warn!("{killed} exec_record_done jobs still running at exit were killed");
        }
    }
}
