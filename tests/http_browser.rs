//! The server's own pages in headless Chromium. The server runs with
//! `--http-static` on npm's mpegts.js and a config file setting
//! `player_js_url = "/static/mpegts.js"` (no internet needed); ffmpeg
//! publishes 640×360 H.264 + AAC to `live/cam` in real time. Then
//! `tests/browser/play.js` plays `/play/live/cam` (mpegts.js fetching
//! `/live/cam.flv` from the server) and, while it plays, `status.js` reads
//! `/` until the stream's row shows the codec, at least one HTTP-FLV viewer
//! and a bitrate graph with some non-zero input points, and writes a
//! screenshot to `target/browser/status.png` (printed). Negative runs keep
//! the scripts honest: a wrong expected width, a stream that is not live
//! (its 404 shown on the player page) and a stream the status page does not
//! list all fail.
//!
//! Needs chromium, node, ffmpeg and `.ci/install-browser`'s node_modules;
//! skipped with a `SKIPPED:` line when they are missing (a failure when
//! RTMP_REQUIRE_INTEROP is set). Every process started here is stopped by
//! its PID.

mod common;

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;

use common::{
    ffmpeg_publish_sized, have_tool, http_request, wait_child, wait_until, ServerProcess, TempDir,
};

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// True when chromium, node, ffmpeg and the npm modules are there.
fn browser_ready() -> bool {
    let modules = browser_dir().join("node_modules");
    let missing: Vec<&str> = [
        ("/usr/bin/chromium", Path::new("/usr/bin/chromium").exists()),
        ("puppeteer-core", modules.join("puppeteer-core").is_dir()),
        (
            "mpegts.js",
            modules.join("mpegts.js/dist/mpegts.js").is_file(),
        ),
    ]
    .into_iter()
    .filter(|(_, ok)| !ok)
    .map(|(what, _)| what)
    .collect();
    if !missing.is_empty() {
        if std::env::var_os("RTMP_REQUIRE_INTEROP").is_some() {
            panic!("{missing:?} required (RTMP_REQUIRE_INTEROP is set): run .ci/install-browser");
        }
        eprintln!("SKIPPED: {missing:?} not installed (run .ci/install-browser)");
        return false;
    }
    ["node", "ffmpeg"].into_iter().all(have_tool)
}

/// The last stdout line of a script as JSON (it prints exactly one).
fn result_json(script: &str, stdout: &str, stderr: &str) -> Value {
    eprintln!("{script}: {}", stdout.trim());
    let line = stdout.lines().last().unwrap_or("");
    serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("{script}: no JSON line ({e}): {stdout}\n{stderr}"))
}

/// Runs `node SCRIPT args...` in tests/browser; its output and JSON line.
fn node(script: &str, args: &[&str]) -> (Output, Value) {
    let out = Command::new("node")
        .arg(browser_dir().join(script))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run node");
    let json = result_json(
        script,
        &String::from_utf8_lossy(&out.stdout),
        &String::from_utf8_lossy(&out.stderr),
    );
    (out, json)
}

/// `node play.js URL --hold MS`: plays until its goal, then keeps playing
/// until [`HeldPlayer::finish`] closes its stdin. Killed on drop.
struct HeldPlayer {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Option<JoinHandle<String>>,
}

impl HeldPlayer {
    fn start(args: &[&str]) -> HeldPlayer {
        let mut child = Command::new("node")
            .arg(browser_dir().join("play.js"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("run node play.js");
        let stdin = child.stdin.take();
        let mut out = child.stdout.take().unwrap();
        let stdout = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            s
        });
        HeldPlayer {
            child,
            stdin,
            stdout: Some(stdout),
        }
    }

    /// Ends the hold and waits (bounded) for the result: (exit 0, JSON).
    fn finish(mut self, max: Duration) -> (bool, Value) {
        drop(self.stdin.take());
        let status = wait_child(&mut self.child, max);
        let stdout = self.stdout.take().unwrap().join().unwrap();
        let json = result_json("play.js (held)", &stdout, "");
        (status.is_some_and(|s| s.success()), json)
    }
}

impl Drop for HeldPlayer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A child process killed (by its PID) on drop.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Console errors and uncaught exceptions in a script's page log.
fn page_errors(json: &Value) -> Vec<String> {
    json["log"]
        .as_array()
        .map(|log| {
            log.iter()
                .filter_map(Value::as_str)
                .filter(|l| l.starts_with("console.error") || l.starts_with("pageerror"))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn get_json(addr: SocketAddr, path: &str) -> (u16, Value) {
    let (status, _, body) = http_request(addr, "GET", path, Duration::from_secs(5));
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// Where the status page's screenshot is kept for a person to look at.
fn screenshot_path(name: &str) -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap();
    let path = target.join("browser").join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(&path);
    path
}

#[test]
fn real_server_player_page_plays_and_status_page_lists_the_stream() {
    if !browser_ready() {
        return;
    }
    let dir = TempDir::new("http-browser");
    let config = dir.path().join("player.toml");
    std::fs::write(&config, "player_js_url = \"/static/mpegts.js\"\n").unwrap();
    let dist = browser_dir().join("node_modules/mpegts.js/dist");
    let (server, http) = ServerProcess::start_http(&[
        "--http-static",
        dist.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]);
    let _publisher = Killed(ffmpeg_publish_sized(
        &server.url("live/cam"),
        120,
        "640x360",
    ));
    let mut api = Value::Null;
    let live = wait_until(Duration::from_secs(20), || {
        let (status, v) = get_json(http, "/api/v1/streams/live/cam");
        api = v;
        status == 200
    });
    assert!(live, "live/cam never live: {api}\n{}", server.log_text());
    let base = format!("http://{http}");

    // The player page loads our copy of mpegts.js.
    let (status, _, page) = http_request(http, "GET", "/play/live/cam", Duration::from_secs(5));
    assert_eq!(status, 200);
    let page = String::from_utf8_lossy(&page);
    assert!(
        page.contains("<script src=\"/static/mpegts.js\"></script>"),
        "{page}"
    );

    // The player plays, and keeps playing while the status page is read.
    let player_shot = screenshot_path("player.png");
    let player = HeldPlayer::start(&[
        &format!("{base}/play/live/cam"),
        "--width",
        "640",
        "--timeout",
        "40000",
        "--hold",
        "90000",
        "--screenshot",
        player_shot.to_str().unwrap(),
    ]);
    let shot = screenshot_path("status.png");
    let (out, status_json) = node(
        "status.js",
        &[
            &format!("{base}/"),
            "live/cam",
            shot.to_str().unwrap(),
            "--expect",
            "H.264 640×360",
            "--http-flv",
            "1",
            "--samples",
            "3",
            "--timeout",
            "40000",
        ],
    );
    // The API agrees while the player is still on.
    let (_, api) = get_json(http, "/api/v1/streams/live/cam");
    let (played, play) = player.finish(Duration::from_secs(60));
    println!("status page screenshot: {}", shot.display());
    println!("player page screenshot: {}", player_shot.display());

    assert!(played, "play.js failed: {play}");
    assert_eq!(play["error"], Value::Null, "{play}");
    assert_eq!(play["videoWidth"], 640, "{play}");
    assert_eq!(play["videoHeight"], 360, "{play}");
    assert_eq!(play["muted"], true, "{play}");
    let goal = play["goalTime"].as_f64().expect("goal reached");
    assert!(goal > 3.0, "{play}");
    // Live: it took real time to get there.
    assert!(play["elapsedMs"].as_u64().unwrap() > 2500, "{play}");
    // Still advancing during the hold.
    if play["heldMs"].as_u64().unwrap() > 3000 {
        assert!(
            play["currentTime"].as_f64().unwrap() > goal + 1.0,
            "stalled: {play}"
        );
    }
    assert_eq!(page_errors(&play), Vec::<String>::new(), "{play}");
    assert!(
        server.log_text().contains("play start live/cam (HTTP-FLV"),
        "{}",
        server.log_text()
    );

    assert!(out.status.success(), "status.js failed: {status_json}");
    assert_eq!(page_errors(&status_json), Vec::<String>::new());
    let cells: Vec<&str> = status_json["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(cells[0], "live/cam");
    assert!(cells[1].starts_with("H.264 640×360"), "{cells:?}");
    assert!(cells[2].starts_with("AAC 44.1 kHz"), "{cells:?}");
    assert!(
        cells[3].parse::<u64>().unwrap() > 0,
        "input bitrate {cells:?}"
    );
    assert!(
        cells[5].ends_with(&format!(
            "(RTMP 0, HTTP-FLV {})",
            status_json["httpFlv"].as_u64().unwrap()
        )),
        "{cells:?}"
    );
    assert!(
        status_json["httpFlv"].as_u64().unwrap() >= 1,
        "{status_json}"
    );
    assert!(api["viewers"]["http_flv"].as_u64().unwrap() >= 1, "{api}");
    assert_eq!(cells[7], "off", "not recording: {cells:?}");

    // The bitrate graph: both lines, at least 3 samples, the input above
    // the bottom, really laid out.
    let graph = &status_json["graph"];
    let height = graph["height"].as_f64().unwrap();
    assert!(graph["width"].as_f64().unwrap() > 0.0, "{graph}");
    let lines = graph["lines"].as_array().unwrap();
    let line = |cls: &str| {
        lines
            .iter()
            .find(|l| l["cls"] == cls)
            .unwrap_or_else(|| panic!("no {cls} line: {graph}"))
    };
    for cls in ["in", "out"] {
        let l = line(cls);
        assert!(l["points"].as_u64().unwrap() >= 3, "{graph}");
        assert!(l["bboxWidth"].as_f64().unwrap() > 0.0, "{graph}");
    }
    assert!(
        line("in")["minY"].as_f64().unwrap() < height - 2.0,
        "{graph}"
    );

    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000);

    // Not vacuous: a wrong expected width times out and fails.
    let play_url = format!("{base}/play/live/cam");
    let (out, json) = node(
        "play.js",
        &[&play_url, "--width", "1280", "--timeout", "6000"],
    );
    assert!(
        !out.status.success(),
        "play.js accepted a wrong width: {json}"
    );
    // A stream that is not live: the page shows the server's 404.
    let none = format!("{base}/play/live/none");
    let (out, json) = node("play.js", &[&none, "--timeout", "10000"]);
    assert!(
        !out.status.success(),
        "play.js played a missing stream: {json}"
    );
    let error = json["error"].as_str().unwrap_or("");
    assert!(error.contains("HTTP 404"), "{json}");
    // The status page does not list what is not there.
    let scratch = dir.path().join("none.png");
    let (out, json) = node(
        "status.js",
        &[
            &format!("{base}/"),
            "live/none",
            scratch.to_str().unwrap(),
            "--timeout",
            "3000",
        ],
    );
    assert!(
        !out.status.success(),
        "status.js found a stream that is not there: {json}"
    );
}
