//! Shared helpers for integration tests: tool gating, spawning the server
//! binary on a free loopback port, bounded waits.
#![allow(dead_code)]

pub mod captures;
pub mod hook_server;
pub mod hostile;
pub mod nginx;
pub mod pki;
pub mod relay;
pub mod rtmp;
pub mod sim;

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

/// ffmpeg 9 (PyPI `imageio-ffmpeg`, with OpenSSL and Enhanced RTMP):
/// `RTMP_FFMPEG9`, or the copy in the virtual environment `.ci/run` makes
/// (`target/ffmpeg9-venv`). When missing: panics if RTMP_REQUIRE_INTEROP is
/// set, otherwise prints why the test is skipped and returns None.
pub fn ffmpeg9() -> Option<PathBuf> {
    let from_env = std::env::var_os("RTMP_FFMPEG9").map(PathBuf::from);
    let from_venv = || {
        let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ffmpeg9-venv/bin/python");
        let out = Command::new(python)
            .args([
                "-c",
                "import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())",
            ])
            .output()
            .ok()?;
        let path = String::from_utf8(out.stdout).ok()?;
        Some(PathBuf::from(path.trim()))
    };
    let found = from_env.or_else(from_venv).filter(|p| p.is_file());
    if found.is_none() {
        let why = "ffmpeg 9 not found (set RTMP_FFMPEG9, or let .ci/run install imageio-ffmpeg)";
        if std::env::var_os("RTMP_REQUIRE_INTEROP").is_some() {
            panic!("{why}; RTMP_REQUIRE_INTEROP is set");
        }
        eprintln!("SKIPPED: {why}");
    }
    found
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

/// What the server logs before its HTTP address.
pub const HTTP_LINE: &str = "HTTP (API, metrics, pages, HTTP-FLV) accepting at ";

/// One HTTP/1.1 request on a new loopback connection (`Connection: close`),
/// read to the end (at most `max` seconds): (status, head, body).
pub fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    max: Duration,
) -> (u16, String, Vec<u8>) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect to the HTTP listener");
    s.set_read_timeout(Some(max)).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut all = Vec::new();
    let deadline = Instant::now() + max;
    let mut buf = [0u8; 64 * 1024];
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => all.extend_from_slice(&buf[..n]),
        }
    }
    let end = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| {
            panic!(
                "no response head from {method} {path}: {:?}",
                String::from_utf8_lossy(&all)
            )
        });
    let head = String::from_utf8_lossy(&all[..end]).into_owned();
    let status = head
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    (status, head, all[end + 4..].to_vec())
}

/// The server binary running on 127.0.0.1 with an OS-chosen port. Its stderr
/// (the log) is collected; the process is killed on drop.
pub struct ServerProcess {
    pub child: Child,
    pub addr: SocketAddr,
    pub log: Arc<Mutex<String>>,
}

impl ServerProcess {
    /// Starts with `--http-listen off` unless `extra_args` set `--http-listen`
    /// (the HTTP listener's default port would clash between parallel tests).
    pub fn start(extra_args: &[&str]) -> ServerProcess {
        ServerProcess::start_at("127.0.0.1:0", extra_args)
    }

    /// Like [`ServerProcess::start`], listening for RTMP on `listen`.
    pub fn start_at(listen: &str, extra_args: &[&str]) -> ServerProcess {
        let http_off: &[&str] = if extra_args.contains(&"--http-listen") {
            &[]
        } else {
            &["--http-listen", "off"]
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_rtmp-server"))
            .args(["--listen", listen, "--log-level", "debug"])
            .args(http_off)
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

    /// Like [`ServerProcess::start`], with an RTMPS listener on a free port
    /// serving `cert`/`key`; returns the server and its TLS address.
    pub fn start_tls(cert: &Path, key: &Path, extra_args: &[&str]) -> (ServerProcess, SocketAddr) {
        let mut args = vec![
            "--tls-listen",
            "127.0.0.1:0",
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ];
        args.extend_from_slice(extra_args);
        let server = ServerProcess::start(&args);
        let addr = server.logged_addr("RTMPS (TLS) accepting at ");
        (server, addr)
    }

    /// Like [`ServerProcess::start`], with the HTTP listener on a free
    /// loopback port; returns the server and its HTTP address.
    pub fn start_http(extra_args: &[&str]) -> (ServerProcess, SocketAddr) {
        let mut args = vec!["--http-listen", "127.0.0.1:0"];
        args.extend_from_slice(extra_args);
        let server = ServerProcess::start(&args);
        let addr = server.logged_addr(HTTP_LINE);
        (server, addr)
    }

    /// The address logged after `line` (waiting up to 5 s for it).
    fn logged_addr(&self, line: &str) -> SocketAddr {
        assert!(
            self.wait_log(Duration::from_secs(5), |l| l.contains(line)),
            "no {line:?} line:\n{}",
            self.log_text()
        );
        self.log_text()
            .split(line)
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|a| a.parse().ok())
            .expect("address in the log")
    }

    pub fn url(&self, path: &str) -> String {
        format!("rtmp://{}/{}", self.addr, path)
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Wait up to `max` until the collected log satisfies `pred` (the log
    /// arrives through a pipe and a reader thread, so a line the server has
    /// written may not be here yet); true if it did.
    pub fn wait_log(&self, max: Duration, mut pred: impl FnMut(&str) -> bool) -> bool {
        wait_until(max, || pred(&self.log_text()))
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

/// `promtool check metrics` over `text`: (passed, what it said).
pub fn promtool(text: &str) -> (bool, String) {
    use std::io::Write;
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn promtool");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let mut said = String::from_utf8_lossy(&out.stdout).into_owned();
    said.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), said)
}

/// Writes a synthetic stream of `ms` milliseconds to `path`: AVC/AAC-shaped
/// tags (sequence headers, a keyframe every second at 30 fps, audio every
/// 23 ms), timestamps from 0.
pub fn write_synthetic_flv(path: &Path, ms: u32) {
    use rtmp_edge::proto::flv::{write_header, write_tag, FlvHeader, TAG_AUDIO, TAG_VIDEO};
    let mut out = bytes::BytesMut::new();
    let header = FlvHeader {
        has_audio: true,
        has_video: true,
    };
    write_header(header, &mut out);
    let avc_config = [0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff, 0xe1];
    write_tag(TAG_VIDEO, 0, &avc_config, &mut out);
    write_tag(TAG_AUDIO, 0, &[0xaf, 0, 0x12, 0x10], &mut out);
    let (mut v, mut a) = (0u32, 0u32);
    while v < ms || a < ms {
        if v <= a {
            let n = v / 33;
            let key = n % 30 == 0;
            let mut body = vec![if key { 0x17 } else { 0x27 }, 1, 0, 0, 0];
            body.extend((0..if key { 6000 } else { 900 }).map(|i| (i ^ n) as u8));
            write_tag(TAG_VIDEO, v, &body, &mut out);
            v += 33;
        } else {
            write_tag(TAG_AUDIO, a, &[0xaf, 1, a as u8, 2, 3, 4, 5, 6], &mut out);
            a += 23;
        }
    }
    std::fs::write(path, &out).unwrap();
}

/// Frame rate of the generated test stream.
pub const TEST_FPS: u32 = 25;

/// ffmpeg publishing `seconds` of generated 320×240 H.264 (1 s GOP) + AAC in real time.
pub fn ffmpeg_publish(url: &str, seconds: u32) -> Child {
    ffmpeg_publish_sized(url, seconds, "320x240")
}

/// Like [`ffmpeg_publish`], with the picture size `size` (`WxH`).
pub fn ffmpeg_publish_sized(url: &str, seconds: u32, size: &str) -> Child {
    ffmpeg_publish_with(url, seconds, size, &[])
}

/// Like [`ffmpeg_publish_sized`], with `extra` output options (e.g.
/// `-frames:v N` for an exact frame count).
pub fn ffmpeg_publish_with(url: &str, seconds: u32, size: &str, extra: &[&str]) -> Child {
    Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-re"])
        .args([
            "-f",
            "lavfi",
            "-i",
            &format!("testsrc2=size={size}:rate={TEST_FPS}"),
        ])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-tune",
            "zerolatency",
            "-pix_fmt",
            "yuv420p",
        ])
        .args(["-g", &TEST_FPS.to_string(), "-c:a", "aac", "-b:a", "64k"])
        .args(extra)
        .args(["-t", &seconds.to_string(), "-f", "flv", url])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ffmpeg publisher")
}

/// ffmpeg playing `url` into an FLV file (ends on UnpublishNotify).
pub fn ffmpeg_play(url: &str, out: &Path) -> Child {
    Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-i", url])
        .args(["-c", "copy", "-f", "flv", "-y"])
        .arg(out)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ffmpeg player")
}

/// One stream of a media file as ffprobe decodes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbedStream {
    pub codec: String,
    pub kind: String,
    pub frames: u64,
}

/// The server's "handshake done: ..." summaries in `log`, in order.
pub fn handshake_lines(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|l| l.split_once("handshake done: ").map(|(_, s)| s.to_string()))
        .collect()
}

/// ffprobe -count_frames over `file`.
pub fn probe_streams(file: &Path) -> Vec<ProbedStream> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-show_entries",
            "stream=codec_name,codec_type,nb_read_frames",
        ])
        .args(["-of", "csv=p=0"])
        .arg(file)
        .output()
        .expect("run ffprobe");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f.len() >= 3).then(|| ProbedStream {
                codec: f[0].to_string(),
                kind: f[1].to_string(),
                frames: f[2].trim().parse().unwrap_or(0),
            })
        })
        .collect()
}

/// Decoded frames of the stream with codec `codec` (0 if absent).
pub fn frames_of(streams: &[ProbedStream], codec: &str) -> u64 {
    streams
        .iter()
        .find(|s| s.codec == codec)
        .map(|s| s.frames)
        .unwrap_or(0)
}

/// Errors printed by a full decode of `file` (empty when it decodes cleanly).
pub fn decode_errors(file: &Path) -> String {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-v", "error", "-i"])
        .arg(file)
        .args(["-f", "null", "-"])
        .output()
        .expect("run ffmpeg decode");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every file below `root`, recursively, sorted (none if it is missing).
pub fn files_below(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Seconds of video in a (possibly growing) FLV recording, read with the
/// crate's FLV reader up to the last complete tag.
pub fn recorded_video_secs(file: &Path) -> f64 {
    let mut buf = bytes::BytesMut::from(&std::fs::read(file).unwrap_or_default()[..]);
    let mut reader = rtmp_edge::proto::flv::FlvReader::new();
    let mut last_ms = 0;
    while let Ok(Some(tag)) = reader.next_tag(&mut buf) {
        if tag.tag_type == rtmp_edge::proto::flv::TAG_VIDEO {
            last_ms = tag.timestamp;
        }
    }
    f64::from(last_ms) / 1000.0
}

/// `cvlc` as a non-root user (VLC refuses to run as root), when it exists.
pub fn vlc_command() -> Option<Command> {
    if !have_tool("cvlc") {
        return None;
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"));
    Some(if root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "cvlc"]);
        c
    } else {
        Command::new("cvlc")
    })
}

/// Run VLC (see [`vlc_command`]) on `url` for 6 s, saving what it plays as
/// MPEG-TS in `dir` (made writable for the unprivileged user), and wait for
/// it (killed after 30 s). Returns the file, or None without `cvlc`.
pub fn vlc_save(url: &str, dir: &Path) -> Option<PathBuf> {
    let mut vlc = vlc_command()?;
    let _ = Command::new("chmod").arg("777").arg(dir).status();
    let out = dir.join("vlc.ts");
    let sout = format!("#std{{access=file,mux=ts,dst={}}}", out.display());
    let mut child = vlc
        .args(["-I", "dummy", "--no-video-title-show", "--run-time", "6"])
        .arg(url)
        .args(["--sout", &sout, "vlc://quit"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn cvlc");
    if wait_child(&mut child, Duration::from_secs(30)).is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    Some(out)
}
