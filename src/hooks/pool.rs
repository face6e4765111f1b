//! [`HookPool`]: worker threads that run hook calls off the event loop.
//!
//! ```text
//!  loop thread                          worker threads (N)
//!  submit(job) ──try_send──► bounded queue ──► POST, verdict
//!       │ Err(QueueFull) at once                 │ send(result), waker.wake()
//!  poll() returns the waker's token ◄────────────┘
//!  try_results(&mut out) drains without blocking
//! ```
//!
//! * [`HookPool::submit`] never blocks: a full queue is [`QueueFull`] (the
//!   caller refuses with "hook queue full").
//! * Each job carries an opaque `ticket` (the caller's way back to the
//!   waiting connection) and its own timeout, which bounds the whole call.
//!   Exactly one [`HookResult`] comes back per accepted job, in completion
//!   order, unless the pool is shut down first.
//! * After sending each result a worker calls `mio::Waker::wake`; the loop
//!   then calls [`HookPool::try_results`]. A wake may cover several results
//!   (drain until empty); a result may be drained before its wake arrives.
//! * Informational (`_done`) hooks go through the same queue; the caller only
//!   logs their results.
//! * [`HookPool::shutdown`] stops accepting, lets the workers run what is
//!   queued until `max_wait` is over (later jobs are dropped, and a job
//!   started during shutdown gets at most the time left), then returns,
//!   abandoning (not joining) a worker still in a call. Dropping the pool
//!   does the same with no wait at all. It never hangs the process.
//! * A panic inside a call is caught and reported as
//!   [`HookVerdict::Failed`], so the worker lives on.
//!
//! The pool is owned by the driver thread; `submit` takes `&self`.

use super::client;
use super::form::redact_url;
use super::request::{HookKind, HookRequest};
use super::verdict::HookVerdict;
use log::warn;
use mio::Waker;
use std::fmt;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// `hook_timeout_ms`'s default: 5 s for DNS, connect and the exchange.
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_millis(5000);

/// Sizes of a [`HookPool`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HookPoolConfig {
    /// Worker threads (at least 1; default 4).
    pub workers: usize,
    /// Jobs that may wait for a worker (at least 1; default 1024).
    pub queue: usize,
}

impl Default for HookPoolConfig {
    fn default() -> Self {
        HookPoolConfig {
            workers: 4,
            queue: 1024,
        }
    }
}

/// One hook call to make. `Debug` hides secrets (body and URL query).
#[derive(Clone)]
pub struct HookJob {
    /// Opaque to the pool; returned in the [`HookResult`].
    pub ticket: u64,
    /// The hook's `http://` URL.
    pub url: String,
    pub request: HookRequest,
    /// Bounds the whole call (DNS, connect, request, response head).
    pub timeout: Duration,
}

impl HookJob {
    pub fn new(
        ticket: u64,
        url: impl Into<String>,
        request: HookRequest,
        timeout: Duration,
    ) -> Self {
        HookJob {
            ticket,
            url: url.into(),
            request,
            timeout,
        }
    }
}

impl fmt::Debug for HookJob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HookJob")
            .field("ticket", &self.ticket)
            .field("url", &redact_url(&self.url))
            .field("request", &self.request)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The outcome of one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookResult {
    pub ticket: u64,
    pub kind: HookKind,
    pub verdict: HookVerdict,
    /// From the worker picking the job up to the verdict.
    pub elapsed: Duration,
}

/// [`HookPool::submit`] found the queue full; the job was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueFull {
    pub ticket: u64,
    pub kind: HookKind,
}

impl fmt::Display for QueueFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("hook queue full")
    }
}

impl std::error::Error for QueueFull {}

/// What [`HookPool::shutdown`] ended with.
#[derive(Debug, Default)]
pub struct ShutdownReport {
    /// Results that arrived but were not drained before the shutdown.
    pub results: Vec<HookResult>,
    /// Workers still inside a call at `max_wait`, left to finish alone.
    pub abandoned_workers: usize,
}

/// State the workers share.
struct Shared {
    agent: ureq::Agent,
    waker: Arc<Waker>,
    /// Set once by shutdown or drop: no job starts after it.
    deadline: OnceLock<Instant>,
}

impl Shared {
    /// The time a job may take now, or `None` if it must not start.
    fn budget(&self, timeout: Duration) -> Option<Duration> {
        let Some(deadline) = self.deadline.get() else {
            return Some(timeout);
        };
        let left = deadline.saturating_duration_since(Instant::now());
        (!left.is_zero()).then(|| timeout.min(left))
    }
}

/// The worker pool; see the module doc.
pub struct HookPool {
    jobs: Option<SyncSender<HookJob>>,
    results: Receiver<HookResult>,
    /// Disconnects once every worker has exited.
    alive: Receiver<()>,
    workers: Vec<JoinHandle<()>>,
    shared: Arc<Shared>,
}

impl HookPool {
    /// Starts `config.workers` threads; `waker` is woken after each result.
    pub fn new(config: HookPoolConfig, waker: Arc<Waker>) -> io::Result<HookPool> {
        let (job_tx, job_rx) = mpsc::sync_channel(config.queue.max(1));
        let (result_tx, results) = mpsc::channel();
        let (alive_tx, alive) = mpsc::channel();
        let job_rx = Arc::new(Mutex::new(job_rx));
        let shared = Arc::new(Shared {
            agent: client::agent(),
            waker,
            deadline: OnceLock::new(),
        });
        let mut pool = HookPool {
            jobs: Some(job_tx),
            results,
            alive,
            workers: Vec::new(),
            shared,
        };
        for i in 0..config.workers.max(1) {
            let worker = Worker {
                jobs: Arc::clone(&job_rx),
                results: result_tx.clone(),
                shared: Arc::clone(&pool.shared),
                _alive: alive_tx.clone(),
            };
            let handle = thread::Builder::new()
                .name(format!("hook-worker-{i}"))
                .spawn(move || worker.run())?;
            pool.workers.push(handle);
        }
        Ok(pool)
    }

    /// Queues `job` without blocking; `Err(QueueFull)` if no room.
    pub fn submit(&self, job: HookJob) -> Result<(), QueueFull> {
        let full = QueueFull {
            ticket: job.ticket,
            kind: job.request.kind(),
        };
        match &self.jobs {
            // Disconnected cannot happen while the pool lives (workers
            // never drop the receiver first); it would refuse the same way.
            Some(tx) => tx.try_send(job).map_err(|_| full),
            None => Err(full),
        }
    }

    /// Moves every result that has arrived into `out`, without blocking;
    /// returns how many.
    pub fn try_results(&mut self, out: &mut Vec<HookResult>) -> usize {
        let before = out.len();
        out.extend(self.results.try_iter());
        out.len() - before
    }

    /// Stops accepting jobs and waits at most `max_wait` for the workers;
    /// see the module doc.
    pub fn shutdown(mut self, max_wait: Duration) -> ShutdownReport {
        let now = Instant::now();
        let deadline = now
            .checked_add(max_wait)
            .unwrap_or_else(|| now + Duration::from_secs(365 * 86_400));
        let _ = self.shared.deadline.set(deadline);
        self.jobs = None;
        // Nothing is ever sent on `alive`: this returns when the last worker
        // has left its loop (disconnected; joining is then immediate) or at
        // the deadline.
        let left = deadline.saturating_duration_since(Instant::now());
        let all_out = self.alive.recv_timeout(left) == Err(RecvTimeoutError::Disconnected);
        let mut report = ShutdownReport::default();
        for handle in std::mem::take(&mut self.workers) {
            if all_out || handle.is_finished() {
                let _ = handle.join();
            } else {
                report.abandoned_workers += 1;
            }
        }
        self.try_results(&mut report.results);
        report
    }
}

impl Drop for HookPool {
    fn drop(&mut self) {
        let _ = self.shared.deadline.set(Instant::now());
        self.jobs = None;
    }
}

/// One worker thread's handles.
struct Worker {
    jobs: Arc<Mutex<Receiver<HookJob>>>,
    results: Sender<HookResult>,
    shared: Arc<Shared>,
    /// Dropped when the thread exits (see `HookPool::alive`).
    _alive: Sender<()>,
}

impl Worker {
    fn run(self) {
        while let Some(job) = self.next_job() {
            let Some(timeout) = self.shared.budget(job.timeout) else {
                continue;
            };
            let started = Instant::now();
            let verdict = self.call(&job, timeout);
            let result = HookResult {
                ticket: job.ticket,
                kind: job.request.kind(),
                verdict,
                elapsed: started.elapsed(),
            };
            if self.results.send(result).is_err() {
                return;
            }
            if let Err(e) = self.shared.waker.wake() {
                warn!("hook worker: waking the event loop failed: {e}");
            }
        }
    }

    /// Blocks for the next job; `None` once the pool closed the queue and
    /// it is empty.
    fn next_job(&self) -> Option<HookJob> {
        let jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        jobs.recv().ok()
    }

    fn call(&self, job: &HookJob, timeout: Duration) -> HookVerdict {
        let run = || {
            let body = job.request.body();
            client::post(&self.shared.agent, &job.url, &body, timeout)
        };
        catch_unwind(AssertUnwindSafe(run))
            .unwrap_or_else(|_| HookVerdict::Failed("hook worker panicked".to_owned()))
    }
}
