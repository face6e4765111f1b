//! `exec_record_done`: a program run for each finished recording, off the
//! event loop and off the recorder thread (nginx-rtmp's `exec_record_done`).
//!
//! * [`template`]: the command's placeholders (`{path}`, `{dirname}`,
//!   `{filename}`, `{basename}`, `{app}`, `{name}`), checked at load and
//!   expanded per recording. Pure.
//! * [`ExecJob`]: what the endpoint emits when a recording's file is
//!   finished (program, expanded arguments, id, timeout). The endpoint holds
//!   the policy: at most [`MAX_RUNNING`] jobs handed out at a time, up to
//!   [`MAX_QUEUED`] more waiting, later ones dropped with a log line.
//! * [`runner`]: [`ExecRunner`], the driver's side: one thread per handed
//!   out job (so at most [`MAX_RUNNING`]) that spawns the program without a
//!   shell, logs its output and exit, kills its process group at the
//!   timeout, and reports back through a `mio::Waker`.
//!
//! # Driving order
//!
//! ```text
//!  startup:   waker = Waker::new(registry, EXEC_TOKEN); runner = ExecRunner::new(waker)
//!  each turn: while let Some(job) = endpoint.poll_exec() { runner.submit(job) }
//!  poll() yields EXEC_TOKEN:
//!             runner.try_results(&mut out); endpoint.handle_exec_done(id) for each
//!  exit:      runner.shutdown(max_wait)   (running jobs killed after max_wait)
//! ```

pub mod runner;
pub mod template;

use std::time::Duration;

pub use runner::{ExecDone, ExecOutcome, ExecRunner};
pub use template::{RecordVars, PLACEHOLDERS};

/// Jobs running at once; further jobs wait in the endpoint.
pub const MAX_RUNNING: usize = 4;
/// Jobs that may wait for a free slot; more are dropped with a log line.
pub const MAX_QUEUED: usize = 64;
/// `exec_timeout_s`'s default.
pub const DEFAULT_EXEC_TIMEOUT_S: u64 = 60;
/// Largest accepted `exec_timeout_s`: one day.
pub const MAX_EXEC_TIMEOUT_S: u64 = 24 * 60 * 60;

/// One program to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecJob {
    /// Opaque to the runner; returned in its [`ExecDone`].
    pub id: u64,
    /// Run as is (a bare name is looked up in `PATH`), never through a shell.
    pub program: String,
    /// Expanded arguments, each passed as one argument.
    pub args: Vec<String>,
    /// The recording the job is for (log lines name it).
    pub path: String,
    /// The child is killed when it runs longer.
    pub timeout: Duration,
}
