//! The `exec_record_done` runner with real processes (bounded in time):
//! a script gets its arguments literally (no shell), its end wakes a
//! `mio::Poll`, a hanging script is killed with its children after its
//! timeout without delaying the next job, and a missing program or a
//! failing one is reported.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{wait_until, TempDir};
use mio::{Events, Poll, Token, Waker};
use rtmp_edge::exec::{ExecDone, ExecJob, ExecOutcome, ExecRunner};

const WAKE: Token = Token(7);

/// A runner whose waker is registered with `poll`.
fn runner() -> (Poll, ExecRunner) {
    let poll = Poll::new().unwrap();
    let waker = Waker::new(poll.registry(), WAKE).unwrap();
    (poll, ExecRunner::new(Arc::new(waker)))
}

/// Wait on the poll (as the server's loop does) until a report arrives.
fn next_done(poll: &mut Poll, runner: &mut ExecRunner, max: Duration) -> Option<ExecDone> {
    let end = Instant::now() + max;
    let mut events = Events::with_capacity(8);
    let mut out = Vec::new();
    loop {
        runner.try_results(&mut out);
        if let Some(done) = out.pop() {
            assert!(out.is_empty(), "one report at a time here");
            return Some(done);
        }
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        poll.poll(&mut events, Some(left)).unwrap();
    }
}

/// An executable `#!/bin/sh` script `name` in `dir`.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn job(id: u64, program: &Path, args: &[&str], timeout_s: u64) -> ExecJob {
    ExecJob {
        id,
        program: program.display().to_string(),
        args: args.iter().map(|a| a.to_string()).collect(),
        path: args.first().unwrap_or(&"").to_string(),
        timeout: Duration::from_secs(timeout_s),
    }
}

#[test]
fn arguments_are_passed_literally_without_a_shell() {
    let dir = TempDir::new("exec-literal");
    let out = dir.path().join("args.txt");
    let prog = script(
        dir.path(),
        "record-done.sh",
        &format!(
            "for a in \"$@\"; do printf '%s\\n' \"$a\" >> '{}'; done\necho done on stdout",
            out.display()
        ),
    );
    let pwned = dir.path().join("pwned");
    let hostile = format!("x; touch {}", pwned.display());
    let subst = format!("$(touch {})", pwned.display());
    let args = [
        "rec/live_cam_1.flv",
        hostile.as_str(),
        subst.as_str(),
        "`id`",
    ];
    let (mut poll, mut runner) = runner();
    runner.submit(job(1, &prog, &args, 10));
    let done = next_done(&mut poll, &mut runner, Duration::from_secs(10)).expect("a report");
    assert_eq!(done.id, 1);
    assert_eq!(
        done.outcome,
        ExecOutcome::Exited {
            success: true,
            status: "exit status 0".into()
        }
    );
    let got = fs::read_to_string(&out).unwrap();
    assert_eq!(got.lines().collect::<Vec<_>>(), args);
    assert!(!pwned.exists(), "an argument was run by a shell");
    assert_eq!(runner.running(), 0);
}

#[test]
fn a_hanging_job_is_killed_at_its_timeout_and_does_not_delay_the_next() {
    let dir = TempDir::new("exec-hang");
    let pid_file = dir.path().join("sleep.pid");
    // The shell waits for a child of its own: killing only the shell would
    // leave `sleep` holding the output pipes.
    let hang = script(
        dir.path(),
        "hang.sh",
        &format!("sleep 1000 &\necho $! > '{}'\nwait", pid_file.display()),
    );
    let out = dir.path().join("second.txt");
    let quick = script(
        dir.path(),
        "quick.sh",
        &format!("echo \"$1\" >> '{}'", out.display()),
    );
    let (mut poll, mut runner) = runner();
    let start = Instant::now();
    runner.submit(job(1, &hang, &["rec/a.flv"], 1));
    assert!(wait_until(Duration::from_secs(5), || pid_file.exists()));
    runner.submit(job(2, &quick, &["rec/b.flv"], 10));
    let second = next_done(&mut poll, &mut runner, Duration::from_secs(5)).expect("a report");
    assert_eq!(second.id, 2, "the quick job ends first");
    assert!(
        start.elapsed() < Duration::from_millis(900),
        "the quick job waited for the hanging one: {:?}",
        start.elapsed()
    );
    assert_eq!(fs::read_to_string(&out).unwrap(), "rec/b.flv\n");
    let first = next_done(&mut poll, &mut runner, Duration::from_secs(5)).expect("a report");
    assert_eq!((first.id, &first.outcome), (1, &ExecOutcome::Killed));
    let took = start.elapsed();
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(3),
        "killed after {took:?}, timeout 1 s"
    );
    // Its own child was killed with it (same process group).
    let pid = fs::read_to_string(&pid_file).unwrap().trim().to_string();
    let stat = format!("/proc/{pid}/stat");
    let gone = || {
        fs::read_to_string(&stat)
            .map(|s| s.split(' ').nth(2) == Some("Z"))
            .unwrap_or(true)
    };
    assert!(
        wait_until(Duration::from_secs(3), gone),
        "sleep {pid} survives"
    );
}

#[test]
fn a_missing_program_and_a_failing_one_are_reported() {
    let dir = TempDir::new("exec-fail");
    let fail = script(dir.path(), "fail.sh", "echo oops >&2\nexit 3");
    let (mut poll, mut runner) = runner();
    runner.submit(job(1, &dir.path().join("missing"), &["rec/a.flv"], 5));
    let done = next_done(&mut poll, &mut runner, Duration::from_secs(5)).expect("a report");
    assert!(
        matches!(done.outcome, ExecOutcome::NotStarted(_)),
        "{done:?}"
    );
    runner.submit(job(2, &fail, &["rec/a.flv"], 5));
    let done = next_done(&mut poll, &mut runner, Duration::from_secs(5)).expect("a report");
    assert_eq!(
        done.outcome,
        ExecOutcome::Exited {
            success: false,
            status: "exit status 3".into()
        }
    );
}

#[test]
fn shutdown_kills_running_jobs_after_its_wait() {
    let dir = TempDir::new("exec-shutdown");
    let hang = script(dir.path(), "hang.sh", "exec sleep 1000");
    let (_poll, runner) = runner();
    runner.submit(job(1, &hang, &["rec/a.flv"], 600));
    std::thread::sleep(Duration::from_millis(100));
    let start = Instant::now();
    assert_eq!(runner.shutdown(Duration::from_millis(300)), 1);
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(2),
        "{took:?}"
    );
}
