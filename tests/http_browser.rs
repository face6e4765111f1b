//! The browser scripts of `tests/browser/` against the real pages, before the
//! server speaks HTTP: the player page (`http::pages::player_page`, with
//! mpegts.js from npm under `/static/`) and the status page
//! (`http::pages::STATUS_PAGE`, reading `example_snapshot()` as
//! `/api/v1/streams`) are written to a directory with an ffmpeg-made
//! 640×360 H.264 + AAC FLV at `/live/cam.flv`, served by
//! `tests/browser/serve.py` (a static server that sends `.flv` files as
//! HTTP-FLV does — no length, close — paced by their timestamps, so the
//! player sees a live stream), and driven in headless Chromium by `play.js`
//! and `status.js`. Needs chromium, node and `.ci/install-browser`'s
//! node_modules; skipped with a `SKIPPED:` line when they are missing
//! (a failure when RTMP_REQUIRE_INTEROP is set).

mod common;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use rtmp_edge::http::api::streams_json;
use rtmp_edge::http::example::example_snapshot;
use rtmp_edge::http::pages::{player_page, STATUS_PAGE};

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// True when chromium, node, ffmpeg, python3 and the npm modules are there.
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
    ["node", "ffmpeg", "python3"]
        .into_iter()
        .all(common::have_tool)
}

/// A static web root with both pages, the API answer, mpegts.js and a
/// stream file, served by serve.py on a free loopback port.
struct Site {
    _dir: common::TempDir,
    server: Child,
    addr: SocketAddr,
}

impl Site {
    fn start() -> Site {
        let dir = common::TempDir::new("http-browser");
        let root = dir.path();
        let write = |rel: &str, bytes: &[u8]| {
            let path = root.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        };
        write("index.html", STATUS_PAGE.as_bytes());
        write("api/v1/streams", &streams_json(&example_snapshot()));
        let page = player_page("live", "cam", "/static/mpegts.js");
        // Files are typed by extension: the page gets one.
        write("play/live/cam.html", page.as_bytes());
        let js = std::fs::read(browser_dir().join("node_modules/mpegts.js/dist/mpegts.js"));
        write("static/mpegts.js", &js.unwrap());
        std::fs::create_dir_all(root.join("live")).unwrap();
        encode_flv(&root.join("live/cam.flv"));
        let addr = free_addr();
        let server = Command::new("python3")
            .arg(browser_dir().join("serve.py"))
            .arg(root)
            .arg(addr.port().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn python3 serve.py");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "serve.py did not start");
            thread::sleep(Duration::from_millis(50));
        }
        Site {
            _dir: dir,
            server,
            addr,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// 8 s of 640×360 H.264 + AAC, one keyframe a second.
fn encode_flv(out: &Path) {
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"])
        .args([
            "-t", "8", "-c:v", "libx264", "-g", "25", "-pix_fmt", "yuv420p",
        ])
        .args(["-c:a", "aac", "-f", "flv"])
        .arg(out)
        .stdin(Stdio::null())
        .status()
        .expect("run ffmpeg");
    assert!(status.success());
}

/// Runs `node SCRIPT args...` in tests/browser; returns its output and the
/// parsed JSON line.
fn node(script: &str, args: &[&str]) -> (Output, serde_json::Value) {
    let out = Command::new("node")
        .arg(browser_dir().join(script))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run node");
    eprintln!(
        "{script} {args:?}: {}",
        String::from_utf8_lossy(&out.stdout).trim()
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or("");
    let json = serde_json::from_str(line).unwrap_or_else(|e| {
        panic!(
            "{script}: no JSON line ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out, json)
}

#[test]
fn player_page_plays_flv_with_mpegts_js_and_status_page_lists_streams() {
    if !browser_ready() {
        return;
    }
    let site = Site::start();

    let play = site.url("/play/live/cam.html");
    let (out, json) = node("play.js", &[&play, "--width", "640", "--timeout", "30000"]);
    assert!(out.status.success(), "play.js failed: {json}");
    assert_eq!(json["videoWidth"], 640, "{json}");
    assert_eq!(json["videoHeight"], 360, "{json}");
    assert!(json["currentTime"].as_f64().unwrap() > 3.0, "{json}");
    // Paced like a live stream: it took real time to get there.
    assert!(json["elapsedMs"].as_u64().unwrap() > 2500, "{json}");
    assert_eq!(json["muted"], true, "{json}");

    // Not vacuous: a wrong expected width times out and fails.
    let (out, json) = node("play.js", &[&play, "--width", "1280", "--timeout", "6000"]);
    assert!(
        !out.status.success(),
        "play.js accepted a wrong width: {json}"
    );
    // A stream that does not exist is an error, not a pass.
    let missing = site
        .url("/play/live/cam.html")
        .replace("cam.html", "none.html");
    let (out, json) = node("play.js", &[&missing, "--timeout", "6000"]);
    assert!(!out.status.success(), "play.js passed a 404 page: {json}");

    // Kept after the test (a known path) so a person can look at it.
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser/status-page-static.png");
    std::fs::create_dir_all(shot.parent().unwrap()).unwrap();
    let shot_s = shot.to_str().unwrap();
    let args = [
        &site.url("/")[..],
        "live/cam",
        shot_s,
        "--expect",
        "H.264 640×360",
    ];
    let (out, json) = node("status.js", &args);
    assert!(out.status.success(), "status.js failed: {json}");
    let cells = json["cells"].as_array().unwrap();
    let text: Vec<&str> = cells.iter().map(|c| c.as_str().unwrap()).collect();
    assert_eq!(text[0], "live/cam");
    assert!(text[5].starts_with("3 (RTMP 2, HTTP-FLV 1)"), "{text:?}");
    assert!(text[7].starts_with('●'), "recording shown: {text:?}");
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000);
    let scratch = common::TempDir::new("http-browser-shot");
    let other = scratch.path().join("none.png");
    let other = other.to_str().unwrap();
    let (out, json) = node(
        "status.js",
        &[&site.url("/"), "live/none", other, "--timeout", "3000"],
    );
    assert!(
        !out.status.success(),
        "status.js found a stream that is not there: {json}"
    );
}
