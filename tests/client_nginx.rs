//! Client library and `rtmp-client` against nginx-rtmp on loopback.
//!
//! Skips (with a printed reason) when nginx or its RTMP module is missing,
//! unless `RTMP_REQUIRE_INTEROP` is set, in which case it fails. Every
//! process started here is killed by its PID; every wait is bounded.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rtmp_edge::client::{ClientError, Player, Publisher, Step};
use rtmp_edge::proto::amf0::{self, Amf0Limits};
use rtmp_edge::proto::client::ClientEvent;
use rtmp_edge::proto::flv::{self, FlvTag, VideoPacket, TAG_AUDIO, TAG_SCRIPT, TAG_VIDEO};
use rtmp_edge::proto::session::MediaKind;

const STEP: Duration = Duration::from_secs(5);

fn skip_or_panic(reason: &str) {
    if std::env::var_os("RTMP_REQUIRE_INTEROP").is_some() {
        panic!("RTMP_REQUIRE_INTEROP is set but {reason}");
    }
    println!("SKIPPED: {reason}");
}

#[path = "common/captures.rs"]
mod captures;
#[path = "common/nginx.rs"]
mod nginx;
use nginx::Nginx;

/// The ffmpeg source capture (`None`: skipped, see `common/captures.rs`).
fn source_flv() -> Option<PathBuf> {
    captures::find_capture("ffmpeg_publish.source.flv")
}

/// Answers nginx's `on_play` HTTP callback, so a test learns the moment nginx
/// adds a player to the stream instead of guessing with a sleep.
struct PlayHook(TcpListener);

impl PlayHook {
    fn new() -> PlayHook {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind play hook");
        l.set_nonblocking(true).expect("nonblocking");
        PlayHook(l)
    }

    fn directive(&self) -> String {
        let addr = self.0.local_addr().expect("hook addr");
        format!("on_play http://{addr}/play;")
    }

    /// Wait up to `max` for one `on_play` request and allow it (200).
    fn allow_one(&self, max: Duration) {
        use std::io::{Read, Write};
        let deadline = Instant::now() + max;
        let mut conn = loop {
            match self.0.accept() {
                Ok((c, _)) => break c,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    assert!(Instant::now() < deadline, "nginx never called on_play");
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => panic!("play hook accept: {e}"),
            }
        };
        conn.set_nonblocking(false).expect("blocking");
        conn.set_read_timeout(Some(STEP)).expect("read timeout");
        let mut req = Vec::new();
        let mut buf = [0u8; 4096];
        // Headers, then the form body nginx announces in Content-Length.
        let complete = |req: &[u8]| {
            let text = String::from_utf8_lossy(req);
            let Some(end) = text.find("\r\n\r\n") else {
                return false;
            };
            let len = text[..end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            req.len() >= end + 4 + len
        };
        while !complete(&req) {
            let n = conn.read(&mut buf).expect("read on_play request");
            assert!(n > 0, "on_play request cut short");
            req.extend_from_slice(&buf[..n]);
        }
        assert!(req.starts_with(b"POST /play"), "on_play request: {req:?}");
        conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .expect("answer on_play");
    }
}

fn load_source() -> Option<Vec<FlvTag>> {
    let path = source_flv()?;
    let data = std::fs::read(&path).expect("read source");
    Some(flv::read_all(Bytes::from(data)).expect("source parses").1)
}

fn metadata_of(tags: &[FlvTag]) -> Vec<amf0::Amf0Value> {
    let t = tags
        .iter()
        .find(|t| t.tag_type == TAG_SCRIPT)
        .expect("onMetaData tag");
    let v = amf0::decode_all(&t.data, &Amf0Limits::default()).expect("metadata decodes");
    assert_eq!(v[0].as_str(), Some("onMetaData"));
    v[1..].to_vec()
}

/// Publish every audio/video tag as fast as the socket takes it.
fn publish_all(url: &str, tags: &[FlvTag]) -> Result<(), ClientError> {
    let mut p = Publisher::connect(url, STEP)?;
    p.send_metadata(&metadata_of(tags))?;
    for t in tags {
        let kind = match t.tag_type {
            TAG_AUDIO => MediaKind::Audio,
            TAG_VIDEO => MediaKind::Video,
            _ => continue,
        };
        p.send_media(kind, t.timestamp, &t.data)?;
    }
    p.flush(Instant::now() + STEP)?;
    // Give the server time to relay before the stream is deleted.
    std::thread::sleep(Duration::from_millis(300));
    p.finish(STEP)
}

fn is_seq_header(kind: MediaKind, payload: &[u8]) -> bool {
    match kind {
        MediaKind::Video => {
            flv::classify_video(payload).map(|i| i.packet) == Some(VideoPacket::SequenceHeader)
        }
        MediaKind::Audio => flv::classify_audio(payload).is_some_and(|i| i.sequence_header),
    }
}

fn kind_of(tag_type: u8) -> Option<MediaKind> {
    match tag_type {
        TAG_AUDIO => Some(MediaKind::Audio),
        TAG_VIDEO => Some(MediaKind::Video),
        _ => None,
    }
}

#[test]
fn player_receives_what_publisher_sent() {
    let Some(tags) = load_source() else { return };
    let Some(nginx) = Nginx::start("lib") else {
        return;
    };
    let url = nginx.url("libtest");
    let mut player = Player::connect(&url, STEP).expect("player connects");
    // Nothing is published yet: a short wait times out with Ok(None) or
    // yields only status/control events.
    while let Some(ev) = player.next_event(Duration::from_millis(100)).expect("idle") {
        assert!(
            !matches!(ev, ClientEvent::Media { .. }),
            "media before publish"
        );
    }
    let pub_url = url.clone();
    let pub_tags = tags.clone();
    let publisher = std::thread::spawn(move || publish_all(&pub_url, &pub_tags));

    let mut got: Vec<(MediaKind, u32, Bytes)> = Vec::new();
    let mut metadata = false;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        assert!(Instant::now() < deadline, "stream did not end in time");
        match player.next_event(Duration::from_millis(200)) {
            Ok(Some(ClientEvent::Media {
                kind,
                timestamp,
                payload,
            })) => got.push((kind, timestamp, payload)),
            Ok(Some(ClientEvent::Metadata { values, .. })) => {
                assert_eq!(values[0].as_str(), Some("onMetaData"));
                assert!(values[1].get("width").and_then(|w| w.as_number()).is_some());
                metadata = true;
            }
            Ok(Some(ClientEvent::StreamEof(_))) => break,
            Ok(Some(ClientEvent::Status { code, .. }))
                if code == "NetStream.Play.UnpublishNotify" =>
            {
                break
            }
            Ok(_) => {}
            Err(e) => panic!("player failed: {e}"),
        }
    }
    publisher
        .join()
        .expect("publisher thread")
        .expect("publish");
    assert!(metadata, "no onMetaData relayed");

    let source: Vec<(MediaKind, u32, &Bytes)> = tags
        .iter()
        .filter_map(|t| kind_of(t.tag_type).map(|k| (k, t.timestamp, &t.data)))
        .collect();
    // Sequence headers: payloads equal the source's (nginx may re-stamp them).
    for kind in [MediaKind::Video, MediaKind::Audio] {
        let want = source
            .iter()
            .find(|(k, _, p)| *k == kind && is_seq_header(kind, p))
            .expect("source seq header");
        let have = got
            .iter()
            .find(|(k, _, p)| *k == kind && is_seq_header(kind, p))
            .unwrap_or_else(|| panic!("no {kind:?} sequence header received"));
        assert_eq!(have.2, want.2, "{kind:?} sequence header payload");
    }
    // Frames: every received frame is a source frame with the same kind,
    // timestamp and payload, in source order, and all of them arrived.
    let want: Vec<_> = source
        .iter()
        .filter(|(k, _, p)| !is_seq_header(*k, p))
        .collect();
    let have: Vec<_> = got
        .iter()
        .filter(|(k, _, p)| !is_seq_header(*k, p))
        .collect();
    let mut i = 0;
    for (k, ts, p) in &have {
        while i < want.len() && !(want[i].0 == *k && want[i].1 == *ts && want[i].2 == p) {
            i += 1;
        }
        assert!(i < want.len(), "received {k:?} ts {ts} not in source order");
        i += 1;
    }
    let videos = have.iter().filter(|f| f.0 == MediaKind::Video).count();
    let audios = have.len() - videos;
    assert_eq!(
        (videos, audios),
        (
            want.iter().filter(|f| f.0 == MediaKind::Video).count(),
            want.iter().filter(|f| f.0 == MediaKind::Audio).count()
        ),
        "frames lost"
    );
}

#[test]
fn cli_play_writes_a_readable_flv() {
    let Some(tags) = load_source() else { return };
    let hook = PlayHook::new();
    let Some(nginx) = Nginx::start_with("cli", &hook.directive()) else {
        return;
    };
    let url = nginx.url("clitest");
    let out = nginx.dir.join("out.flv");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rtmp-client"))
        .args(["play", &url])
        .arg(&out)
        .args(["--duration", "12"])
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rtmp-client");
    // Publish only once nginx has the player, so it gets every tag.
    hook.allow_one(Duration::from_secs(15));
    publish_all(&url, &tags).expect("publish");
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("rtmp-client play did not finish");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr = {
        use std::io::Read;
        let mut s = String::new();
        child
            .stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut s)
            .ok();
        s
    };
    assert!(status.success(), "rtmp-client play failed: {stderr}");
    assert!(stderr.contains("video H.264"), "summary: {stderr}");
    assert!(stderr.contains("audio AAC"), "summary: {stderr}");

    let data = std::fs::read(&out).expect("output exists");
    let (header, got) = flv::read_all(Bytes::from(data)).expect("output is valid FLV");
    assert!(header.has_audio && header.has_video);
    assert_eq!(got[0].tag_type, TAG_SCRIPT, "onMetaData first");
    let first_video = got.iter().find(|t| t.tag_type == TAG_VIDEO).expect("video");
    assert_eq!(
        flv::classify_video(&first_video.data).map(|i| i.packet),
        Some(VideoPacket::SequenceHeader)
    );
    let n_video = got.iter().filter(|t| t.tag_type == TAG_VIDEO).count();
    let n_audio = got.iter().filter(|t| t.tag_type == TAG_AUDIO).count();
    let src_video = tags.iter().filter(|t| t.tag_type == TAG_VIDEO).count();
    let src_audio = tags.iter().filter(|t| t.tag_type == TAG_AUDIO).count();
    assert_eq!((n_video, n_audio), (src_video, src_audio));

    match Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name",
            "-of",
            "csv=p=0",
        ])
        .arg(&out)
        .output()
    {
        Ok(o) => {
            let s = String::from_utf8_lossy(&o.stdout);
            assert!(o.status.success(), "ffprobe failed on {}", out.display());
            assert!(s.contains("h264") && s.contains("aac"), "ffprobe: {s}");
        }
        Err(_) => skip_or_panic(
            "ffprobe is not installed: the FLV was checked with the crate reader only",
        ),
    }
}

#[test]
fn handshake_timeout_is_reported() {
    // A listener that accepts but never answers.
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("rtmp://{}/live/x", l.local_addr().expect("addr"));
    let t0 = Instant::now();
    let r = Publisher::connect(&url, Duration::from_millis(300));
    assert!(
        matches!(r, Err(ClientError::Timeout(Step::Handshake))),
        "{:?}",
        r.err()
    );
    assert!(t0.elapsed() < Duration::from_secs(3));
    drop(l);
}

#[test]
fn refused_connect_is_an_io_error() {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let r = Player::connect(&format!("rtmp://127.0.0.1:{port}/live/x"), STEP);
    match r {
        Err(ClientError::Io { step, kind }) => {
            assert_eq!(step, Step::Connect);
            assert_eq!(kind, std::io::ErrorKind::ConnectionRefused);
        }
        other => panic!("expected refused, got {:?}", other.err()),
    }
}

#[test]
fn bad_url_is_rejected_before_connecting() {
    assert!(matches!(
        Player::connect("http://127.0.0.1/live/x", STEP),
        Err(ClientError::Url(_))
    ));
}

/// Value of a numeric field in the bench's one-line JSON object.
fn json_num(json: &str, key: &str) -> Option<f64> {
    let pat = format!("\"{key}\":");
    let at = json.find(&pat)? + pat.len();
    let rest = &json[at..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].parse().ok()
}

#[test]
fn bench_json_reports_every_subscriber() {
    let Some(path) = source_flv() else { return };
    let Some(nginx) = Nginx::start("bench") else {
        return;
    };
    let out = Command::new(env!("CARGO_BIN_EXE_rtmp-bench"))
        .args(["--url", &nginx.url("bench"), "--flv"])
        .arg(&path)
        .args(["--publishers", "2", "--subscribers", "6", "--duration", "4"])
        .args(["--lead", "0.5", "--json", "--server-pid"])
        .arg(nginx.child.id().to_string())
        .stdin(Stdio::null())
        .output()
        .expect("run rtmp-bench");
    let json = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "rtmp-bench failed: {json} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        json.trim().starts_with('{') && json.trim().ends_with('}'),
        "{json}"
    );
    assert_eq!(json_num(&json, "connected"), Some(6.0), "{json}");
    assert_eq!(json_num(&json, "failed"), Some(0.0), "{json}");
    assert_eq!(json_num(&json, "publishers_failed"), Some(0.0), "{json}");
    assert_eq!(json_num(&json, "messages_missing"), Some(0.0), "{json}");
    let delivered = json_num(&json, "delivered_payload_mbps").expect("delivered");
    let expected = json_num(&json, "expected_payload_mbps").expect("expected");
    // Expected counts, per subscriber, the frames published from the first
    // one it received (nginx starts video at a key frame): with no loss the
    // two agree; 6 subscribers of a ~0.35 Mbit/s source exceed 1 Mbit/s.
    assert!(delivered > 1.0, "{json}");
    assert!(
        delivered >= expected * 0.9 && delivered <= expected * 1.05,
        "{json}"
    );
    assert!(
        json_num(&json, "latency_ms_p50").expect("p50") < 100.0,
        "{json}"
    );
    assert!(json_num(&json, "startup_ms_p99").is_some(), "{json}");
    assert!(json_num(&json, "server_cpu_user_s").is_some(), "{json}");
    assert!(
        json_num(&json, "server_peak_rss_kb").expect("rss") > 100.0,
        "{json}"
    );
}

#[test]
fn second_publisher_on_a_busy_name_is_rejected() {
    let Some(nginx) = Nginx::start("busy") else {
        return;
    };
    let url = nginx.url("busy");
    let first = Publisher::connect(&url, STEP).expect("first publisher");
    match Publisher::connect(&url, STEP) {
        Err(ClientError::Rejected { step, code, .. }) => {
            assert_eq!(step, Step::Start);
            assert_eq!(code, "NetStream.Publish.BadName");
        }
        Err(e) => panic!("expected a refusal, got {e}"),
        Ok(_) => panic!("nginx accepted a second publisher on the same name"),
    }
    first.finish(STEP).expect("finish");
}

#[test]
fn cli_publish_paces_tags_in_real_time() {
    let Some(path) = source_flv() else { return };
    let Some(nginx) = Nginx::start("clipub") else {
        return;
    };
    let url = nginx.url("clipub");
    let mut player = Player::connect(&url, STEP).expect("player");
    let t0 = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_rtmp-client"))
        .args(["publish", &url])
        .arg(&path)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rtmp-client publish");
    let (mut first, mut last) = (None, None);
    let mut frames = 0;
    let deadline = t0 + Duration::from_secs(15);
    loop {
        assert!(Instant::now() < deadline, "publish did not end in time");
        match player.next_event(Duration::from_millis(100)) {
            Ok(Some(ClientEvent::Media { timestamp, .. })) => {
                frames += 1;
                first.get_or_insert((Instant::now(), timestamp));
                last = Some((Instant::now(), timestamp));
            }
            Ok(Some(ClientEvent::StreamEof(_))) => break,
            Ok(_) => {}
            Err(e) => panic!("player: {e}"),
        }
    }
    let status = child.wait().expect("wait rtmp-client");
    assert!(status.success(), "rtmp-client publish failed");
    let ((t_first, ts_first), (t_last, ts_last)) = (first.expect("media"), last.expect("media"));
    // Arrival times follow the tag timestamps (the file spans ~4.1 s).
    let media_span = f64::from(ts_last - ts_first) / 1000.0;
    let wall_span = (t_last - t_first).as_secs_f64();
    assert!(media_span > 3.0, "media span {media_span}");
    assert!(
        (wall_span - media_span).abs() < 0.5,
        "wall {wall_span:.3} s vs media {media_span:.3} s"
    );
    assert!(frames > 200, "{frames} frames");
}

#[test]
fn multi_client_times_out_silent_servers_and_never_reuses_ids() {
    use rtmp_edge::client::multi::{MultiClient, MultiEvent};
    use rtmp_edge::client::RtmpUrl;
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    let url = RtmpUrl::parse(&format!("rtmp://{addr}/live/x")).expect("url");
    let mut mc = MultiClient::new(Duration::from_millis(300)).expect("poll");
    let a = mc.add_subscriber(&url, addr).expect("add");
    let b = mc.add_publisher(&url, addr).expect("add");
    let mut closed = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(3);
    while mc.live() > 0 {
        assert!(Instant::now() < deadline, "setup deadline not enforced");
        mc.poll(Some(Duration::from_millis(50)), &mut |id, ev| {
            if let MultiEvent::Closed(e) = ev {
                closed.push((id, matches!(e, ClientError::Timeout(Step::Handshake))));
            }
        })
        .expect("poll");
    }
    closed.sort_unstable();
    assert_eq!(closed, vec![(a, true), (b, true)]);
    // A new connection gets a fresh id, not a dead one's.
    let c = mc.add_subscriber(&url, addr).expect("add");
    assert!(c != a && c != b);
    assert!(mc
        .send_media(a, MediaKind::Audio, 0, &Bytes::new())
        .is_err());
}
