//! Shared helpers for integration tests: tool gating, spawning the server
//! binary on a free loopback port, bounded waits.
#![allow(dead_code)]

pub mod hostile;
pub mod rtmp;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// True when `tool` can run. When it cannot: panics if RTMP_REQUIRE_INTEROP
/// is set (CI), otherwise prints why the test is skipped and returns false.
pub fn have_tool(tool: &str) -> bool {
    // Spawning is the test: some tools (rtmpdump) exit non-zero for any
    // informational flag.
    let ok = Command::new(tool)
        .arg("-h")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !ok {
        if std::env::var_os("RTMP_REQUIRE_INTEROP").is_some() {
            panic!("{tool} is required (RTMP_REQUIRE_INTEROP is set) but cannot be run");
        }
        eprintln!("SKIPPED: {tool} not found (install it, or set RTMP_REQUIRE_INTEROP=1 to make this a failure)");
    }
    ok
}

/// A fresh temporary directory under the target dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = base.join(format!("{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The server binary running on 127.0.0.1 with an OS-chosen port. Its stderr
/// (the log) is collected; the process is killed on drop.
pub struct ServerProcess {
    pub child: Child,
    pub addr: SocketAddr,
    pub log: Arc<Mutex<String>>,
}

impl ServerProcess {
    pub fn start(extra_args: &[&str]) -> ServerProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rtmp-server"))
            .args(["--listen", "127.0.0.1:0", "--log-level", "debug"])
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn rtmp-server");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let log2 = log.clone();
        thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(pos) = line.find("listening on ") {
                    let rest = &line[pos + "listening on ".len()..];
                    let addr = rest.split_whitespace().next().unwrap_or("").to_string();
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(addr);
                    }
                }
                let mut l = log2.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(a) => a.parse().expect("listen address"),
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "server did not report its address; log:\n{}",
                    log.lock().unwrap()
                );
            }
        };
        ServerProcess { child, addr, log }
    }

    pub fn url(&self, path: &str) -> String {
        format!("rtmp://{}/{}", self.addr, path)
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Send SIGTERM (by PID, to the process we started) and wait up to `max`.
    pub fn terminate(&mut self, max: Duration) -> Option<ExitStatus> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        wait_child(&mut self.child, max)
    }

    /// Resident set size in KiB (from /proc).
    pub fn rss_kib(&self) -> u64 {
        proc_status_kib(self.child.id(), "VmRSS:")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Wait for a child up to `max`; kill it (and return None) if it is still running.
pub fn wait_child(child: &mut Child, max: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + max;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Poll `cond` every 10 ms until it holds or `max` passes.
pub fn wait_until(max: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + max;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        thread::sleep(Duration::from_millis(10));
    }
    cond()
}
