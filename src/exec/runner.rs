//! [`ExecRunner`]: runs [`ExecJob`]s on their own threads, never on the
//! event loop.
//!
//! * [`ExecRunner::submit`] never blocks: it starts one thread for the job.
//!   The runner does not limit how many run; the endpoint hands out at most
//!   [`super::MAX_RUNNING`] at a time.
//! * The thread spawns the program with `std::process::Command` (no shell:
//!   `;` or `$(...)` in an argument is passed literally), stdin from
//!   `/dev/null`, in a process group of its own. stdout and stderr are read
//!   by two reader threads (the child never blocks on a full pipe), at most
//!   [`MAX_LINES`] lines of at most [`MAX_LINE_BYTES`] bytes kept.
//! * When the child exits, its output goes to the log, one line per output
//!   line prefixed `exec N PROGRAM (PATH):`, at info level for exit 0 and
//!   warn otherwise, then one line with the exit status and the time taken.
//! * After the job's timeout the whole process group is killed (SIGKILL via
//!   `kill -KILL -- -PGID`, since the crate forbids `unsafe`; then the child
//!   itself through `Child::kill`), with one warn line.
//! * Exactly one [`ExecDone`] comes back per submitted job, after which the
//!   thread calls `mio::Waker::wake`; drain with [`ExecRunner::try_results`].
//! * [`ExecRunner::shutdown`] gives running jobs `max_wait`, then kills them
//!   (one warn line each) and returns after at most one more second.

use std::io::{self, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use log::{info, log, warn, Level};
use mio::Waker;

use super::ExecJob;

/// Output lines kept per job; the rest are counted.
pub const MAX_LINES: usize = 200;
/// Longest output line kept (longer ones are cut).
pub const MAX_LINE_BYTES: usize = 1000;
/// How often a job thread looks at its child.
const POLL_STEP: Duration = Duration::from_millis(20);
/// How long output is still read after the child exited (a grandchild may
/// hold the pipes).
const OUTPUT_GRACE: Duration = Duration::from_millis(500);

/// How a job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecOutcome {
    /// The program exited (its status as displayed, e.g. `exit status: 0`).
    Exited { success: bool, status: String },
    /// Killed after the timeout (or at shutdown).
    Killed,
    /// The program could not be started.
    NotStarted(String),
}

/// The report of one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecDone {
    pub id: u64,
    pub outcome: ExecOutcome,
    pub elapsed: Duration,
}

/// State the job threads share.
struct Shared {
    waker: Arc<Waker>,
    results: Sender<ExecDone>,
    running: AtomicUsize,
    /// Set by shutdown: every job is killed once this has passed.
    kill_at: OnceLock<Instant>,
}

/// See the module doc.
pub struct ExecRunner {
    shared: Arc<Shared>,
    results: Receiver<ExecDone>,
}

impl ExecRunner {
    /// `waker` is woken after each job.
    pub fn new(waker: Arc<Waker>) -> ExecRunner {
        let (tx, results) = mpsc::channel();
        let shared = Arc::new(Shared {
            waker,
            results: tx,
            running: AtomicUsize::new(0),
            kill_at: OnceLock::new(),
        });
        ExecRunner { shared, results }
    }

    /// Jobs submitted and not yet reported.
    pub fn running(&self) -> usize {
        self.shared.running.load(Ordering::SeqCst)
    }

    /// Start `job` on its own thread.
    pub fn submit(&self, job: ExecJob) {
        self.shared.running.fetch_add(1, Ordering::SeqCst);
        let shared = Arc::clone(&self.shared);
        let id = job.id;
        let spawned = thread::Builder::new()
            .name(format!("exec-{id}"))
            .spawn(move || {
                let started = Instant::now();
                let outcome = run(&job, &shared);
                shared.report(ExecDone {
                    id: job.id,
                    outcome,
                    elapsed: started.elapsed(),
                });
            });
        if let Err(e) = spawned {
            warn!("exec {id}: no thread to run it: {e}");
            self.shared.report(ExecDone {
                id,
                outcome: ExecOutcome::NotStarted(e.to_string()),
                elapsed: Duration::ZERO,
            });
        }
    }

    /// Move every report that came back into `out`, without blocking.
    pub fn try_results(&mut self, out: &mut Vec<ExecDone>) {
        out.extend(self.results.try_iter());
    }

    /// Give running jobs `max_wait`, then kill them; returns the jobs that
    /// were killed this way (their threads report within a second).
    pub fn shutdown(self, max_wait: Duration) -> usize {
        let kill_at = Instant::now() + max_wait;
        let _ = self.shared.kill_at.set(kill_at);
        let give_up = kill_at + Duration::from_secs(1);
        let mut killed = 0;
        while self.running() > 0 && Instant::now() < give_up {
            if let Ok(done) = self.results.recv_timeout(POLL_STEP) {
                killed += usize::from(done.outcome == ExecOutcome::Killed);
            }
        }
        killed
    }
}

impl Shared {
    fn report(&self, done: ExecDone) {
        let _ = self.results.send(done);
        self.running.fetch_sub(1, Ordering::SeqCst);
        if let Err(e) = self.waker.wake() {
            warn!("exec: cannot wake the loop: {e}");
        }
    }
}

/// Output collected from the child's two pipes.
#[derive(Default)]
struct Output {
    lines: Vec<String>,
    more: usize,
}

impl Output {
    fn add(&mut self, line: String) {
        if self.lines.len() < MAX_LINES {
            self.lines.push(line);
        } else {
            self.more += 1;
        }
    }
}

/// Run one job to its end; every log line of the job is written here.
fn run(job: &ExecJob, shared: &Shared) -> ExecOutcome {
    let label = format!("exec {} {} ({})", job.id, job.program, job.path);
    let mut child = match spawn(job) {
        Ok(child) => child,
        Err(e) => {
            warn!("{label}: cannot start: {e}");
            return ExecOutcome::NotStarted(e.to_string());
        }
    };
    info!(
        "{label}: started, pid {}, args {:?}, timeout {} s",
        child.id(),
        job.args,
        job.timeout.as_secs()
    );
    let (line_tx, lines) = mpsc::channel();
    if let Some(out) = child.stdout.take() {
        read_lines(out, line_tx.clone());
    }
    if let Some(err) = child.stderr.take() {
        read_lines(err, line_tx);
    }
    let deadline = Instant::now() + job.timeout;
    let mut output = Output::default();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) => {}
            Err(e) => break Err(e),
        }
        let shutdown = shared.kill_at.get().is_some_and(|&t| Instant::now() >= t);
        if Instant::now() >= deadline || shutdown {
            kill_group(&mut child);
            let why = if shutdown {
                "at shutdown".to_string()
            } else {
                format!("after exec_timeout_s = {}", job.timeout.as_secs())
            };
            warn!("{label}: killed {why} (pid {})", child.id());
            let _ = child.wait();
            drain(&lines, &mut output, Instant::now() + OUTPUT_GRACE);
            log_output(&label, &output, Level::Warn);
            return ExecOutcome::Killed;
        }
        match lines.recv_timeout(POLL_STEP) {
            Ok(line) => {
                output.add(line);
                lines.try_iter().for_each(|l| output.add(l));
            }
            Err(RecvTimeoutError::Timeout) => {}
            // Both pipes closed: only the exit is left to see.
            Err(RecvTimeoutError::Disconnected) => thread::sleep(POLL_STEP),
        }
    };
    drain(&lines, &mut output, Instant::now() + OUTPUT_GRACE);
    match status {
        Ok(status) => {
            let level = if status.success() {
                Level::Info
            } else {
                Level::Warn
            };
            log_output(&label, &output, level);
            log!(level, "{label}: {}", describe(&status));
            ExecOutcome::Exited {
                success: status.success(),
                status: describe(&status),
            }
        }
        Err(e) => {
            warn!("{label}: lost the child: {e}");
            ExecOutcome::NotStarted(e.to_string())
        }
    }
}

fn spawn(job: &ExecJob) -> io::Result<Child> {
    use std::os::unix::process::CommandExt;
    Command::new(&job.program)
        .args(&job.args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
}

fn describe(status: &ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("exit status {code}"),
        None => status.to_string(),
    }
}

/// Kill the child's process group (its own children too), then the child.
fn kill_group(child: &mut Child) {
    let group = format!("-{}", child.id());
    let _ = Command::new("kill")
        .args(["-KILL", "--", &group])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
}

/// Receive lines until both pipes are closed or `until` has passed.
fn drain(lines: &Receiver<String>, output: &mut Output, until: Instant) {
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => output.add(line),
            Err(_) => return,
        }
    }
}

fn log_output(label: &str, output: &Output, level: Level) {
    for line in &output.lines {
        log!(level, "{label}: {line}");
    }
    if output.more > 0 {
        log!(
            level,
            "{label}: ... {} more output lines not logged",
            output.more
        );
    }
}

/// Read `pipe` on a thread of its own, sending each line (cut at
/// [`MAX_LINE_BYTES`], lossy UTF-8, no line ending) until end of file.
fn read_lines(mut pipe: impl Read + Send + 'static, sink: Sender<String>) {
    let spawned = thread::Builder::new()
        .name("exec-output".into())
        .spawn(move || {
            let mut buf = [0u8; 8192];
            let mut line = Vec::new();
            let send = |line: &mut Vec<u8>| {
                let text = String::from_utf8_lossy(line)
                    .trim_end_matches('\r')
                    .to_string();
                line.clear();
                sink.send(text).is_ok()
            };
            loop {
                let n = match pipe.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                };
                for chunk in buf[..n].split_inclusive(|&b| b == b'\n') {
                    let (text, ends) = match chunk.strip_suffix(b"\n") {
                        Some(text) => (text, true),
                        None => (chunk, false),
                    };
                    let room = MAX_LINE_BYTES.saturating_sub(line.len());
                    line.extend_from_slice(&text[..text.len().min(room)]);
                    if ends && !send(&mut line) {
                        return;
                    }
                }
            }
            if !line.is_empty() {
                send(&mut line);
            }
        });
    if let Err(e) = spawned {
        warn!("exec: no thread to read the output: {e}");
    }
}
