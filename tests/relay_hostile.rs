//! Hostile upstreams for pull on demand (issue #12): the edge's origin is a
//! raw listener of the test that closes at once, never answers, answers the
//! C0C1 with garbage, or one of ours whose stream has a publisher that never
//! sends media. In every case a waiting player gets
//! `NetStream.Play.StreamNotFound` within `pull_wait_ms` + 1 s and is closed,
//! each upstream attempt ends in exactly one log line, and a healthy
//! publisher/player pair on another application of the same edge receives
//! every frame meanwhile (the loop never waits on an upstream).
//!
//! An upstream attempt that does not start streaming is given up after
//! half of `pull_wait_ms` (at most `command_timeout_ms`), so a hung first
//! origin still leaves time for the next one (the last test).

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

use common::rtmp::{avc_frame, avc_seq_header, frame_number, TestClient};
use common::{ServerProcess, TempDir};
use rtmp_edge::proto::client::ClientEvent;
use rtmp_edge::proto::session::MediaKind;

/// `pull_wait_ms` of the edges here.
const WAIT_MS: u64 = 2000;

/// What the raw origin does with each connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Upstream {
    /// Accept and close at once.
    CloseAtOnce,
    /// Accept and never send a byte (the edge hangs in its handshake).
    Hang,
    /// Read C0C1, answer with random bytes (not starting with version 3).
    Garbage,
    /// Read C0C1, answer version 3 and random bytes: S1/S2 are accepted
    /// (their content is not checked), the rest goes to the chunk parser.
    GarbageAfterS0,
}

/// A raw TCP origin on a free loopback port, served by a thread of the
/// test; counts the connections it accepted; stopped on drop.
struct RawOrigin {
    addr: SocketAddr,
    accepts: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl RawOrigin {
    fn start(kind: Upstream) -> RawOrigin {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the raw origin");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let accepts = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (accepts2, stop2) = (accepts.clone(), stop.clone());
        let thread = thread::spawn(move || {
            let mut held: Vec<TcpStream> = Vec::new();
            let mut rng = StdRng::seed_from_u64(0x5eed);
            while !stop2.load(Ordering::Relaxed) {
                let mut s = match listener.accept() {
                    Ok((s, _)) => s,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(5));
                        continue;
                    }
                    Err(_) => break,
                };
                accepts2.fetch_add(1, Ordering::SeqCst);
                s.set_nonblocking(false).unwrap();
                match kind {
                    Upstream::CloseAtOnce => drop(s),
                    Upstream::Hang => held.push(s),
                    Upstream::Garbage | Upstream::GarbageAfterS0 => {
                        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                        let mut c0c1 = [0u8; 1537];
                        let _ = s.read_exact(&mut c0c1);
                        let mut junk = vec![0u8; 1 + 2 * 1536 + 4096];
                        rng.fill_bytes(&mut junk);
                        if kind == Upstream::GarbageAfterS0 {
                            junk[0] = 3;
                        } else if junk[0] == 3 {
                            junk[0] = 0x5a;
                        }
                        let _ = s.write_all(&junk);
                        // Kept open: the edge must give up on the bytes, not on EOF.
                        held.push(s);
                    }
                }
            }
        });
        RawOrigin {
            addr,
            accepts,
            stop,
            thread: Some(thread),
        }
    }

    fn accepted(&self) -> usize {
        self.accepts.load(Ordering::SeqCst)
    }
}

impl Drop for RawOrigin {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// An edge whose `live` application pulls from `origins` with
/// `pull_wait_ms = wait_ms`.
fn edge_of(dir: &TempDir, origins: &[SocketAddr], wait_ms: u64) -> ServerProcess {
    let list: Vec<String> = origins
        .iter()
        .map(|o| format!("\"rtmp://{o}/live\""))
        .collect();
    let file = dir.path().join("edge.toml");
    std::fs::write(
        &file,
        format!(
            "[apps.live]\npull = [{}]\npull_wait_ms = {wait_ms}\n",
            list.join(", ")
        ),
    )
    .unwrap();
    ServerProcess::start(&["--config", file.to_str().unwrap()])
}

/// An edge whose `live` application pulls from `origin` with
/// `pull_wait_ms = WAIT_MS`.
fn edge(dir: &TempDir, origin: SocketAddr) -> ServerProcess {
    edge_of(dir, &[origin], WAIT_MS)
}

/// A publisher and a player of `other/healthy` on the edge, each in its own
/// thread: numbered frames at 25 fps until [`HealthyPair::finish`].
struct HealthyPair {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU32>,
    publisher: JoinHandle<()>,
    player: JoinHandle<Vec<(u32, Instant)>>,
}

impl HealthyPair {
    fn start(edge: SocketAddr) -> HealthyPair {
        let mut publisher = TestClient::publish(edge, "other", "healthy");
        let mut player = TestClient::play(edge, "other", "healthy");
        publisher.send_media(MediaKind::Video, 0, &avc_seq_header());
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU32::new(0));
        let (stop2, sent2) = (stop.clone(), sent.clone());
        let publisher = thread::spawn(move || {
            let start = Instant::now();
            let mut n = 0u32;
            while !stop2.load(Ordering::SeqCst) {
                publisher.send_media(
                    MediaKind::Video,
                    n * 40,
                    &avc_frame(n.is_multiple_of(25), n, 800),
                );
                n += 1;
                sent2.store(n, Ordering::SeqCst);
                let next = start + Duration::from_millis(40 * u64::from(n));
                thread::sleep(next.saturating_duration_since(Instant::now()));
            }
        });
        let (stop3, sent3) = (stop.clone(), sent.clone());
        let player = thread::spawn(move || {
            let mut got = Vec::new();
            let mut stopped_at = None;
            loop {
                if stop3.load(Ordering::SeqCst) {
                    let at = *stopped_at.get_or_insert_with(Instant::now);
                    let all = got.len() >= sent3.load(Ordering::SeqCst) as usize;
                    if all || at.elapsed() > Duration::from_secs(5) {
                        break;
                    }
                }
                match player.next_event(Duration::from_millis(50)) {
                    Some(ClientEvent::Media {
                        kind: MediaKind::Video,
                        payload,
                        ..
                    }) if payload.get(1) == Some(&1) => {
                        if let Some(n) = frame_number(MediaKind::Video, &payload) {
                            got.push((n, Instant::now()));
                        }
                    }
                    _ if player.closed => break,
                    _ => {}
                }
            }
            got
        });
        HealthyPair {
            stop,
            sent,
            publisher,
            player,
        }
    }

    /// Stop publishing; assert the player got every frame in order with no
    /// gap over 1 s between two arrivals (25 fps are sent).
    fn finish(self, what: &str) {
        self.stop.store(true, Ordering::SeqCst);
        self.publisher.join().expect("publisher thread");
        let got = self.player.join().expect("player thread");
        let sent = self.sent.load(Ordering::SeqCst);
        let numbers: Vec<u32> = got.iter().map(|g| g.0).collect();
        assert_eq!(
            numbers,
            (0..sent).collect::<Vec<u32>>(),
            "{what}: the healthy player lost or reordered frames"
        );
        let max_gap = got
            .windows(2)
            .map(|w| w[1].1 - w[0].1)
            .max()
            .unwrap_or_default();
        assert!(
            max_gap < Duration::from_secs(1),
            "{what}: the healthy player waited {max_gap:?} between two frames"
        );
        println!("{what}: healthy pair got {sent} frames, largest gap {max_gap:?}");
    }
}

/// Play `live/x` on the edge; assert StreamNotFound comes after about
/// `WAIT_MS` and before `WAIT_MS` + 1 s, and that the edge then closes the
/// player.
fn assert_not_found_in_time(edge: &ServerProcess, what: &str) {
    let started = Instant::now();
    let mut player = TestClient::play(edge.addr, "live", "x");
    let not_found = player.wait_for(
        Duration::from_millis(WAIT_MS + 2000),
        |e| matches!(e, ClientEvent::Error { code, .. } if code == "NetStream.Play.StreamNotFound"),
    );
    let waited = started.elapsed();
    assert!(
        not_found.is_some(),
        "{what}: no StreamNotFound after {waited:?}:\n{}",
        edge.log_text()
    );
    assert!(
        waited >= Duration::from_millis(WAIT_MS - 100)
            && waited < Duration::from_millis(WAIT_MS + 1000),
        "{what}: StreamNotFound after {waited:?}"
    );
    assert!(
        player.wait_closed(Duration::from_secs(2)),
        "{what}: the player was not closed"
    );
    println!("{what}: StreamNotFound after {waited:?}");
}

/// The lines of the edge's log about pulling `live/x`: attempts
/// (`connecting to`) and how each ended.
fn attempts_and_endings(log: &str) -> (Vec<String>, Vec<String>) {
    let lines = log.lines().filter(|l| l.contains("pull live/x: "));
    let attempts = lines
        .clone()
        .filter(|l| l.contains("connecting to"))
        .map(str::to_string)
        .collect();
    let endings = lines
        .filter(|l| {
            l.contains("upstream closed: ")
                || l.contains("upstream ended: ")
                || l.contains("cannot connect")
        })
        .map(str::to_string)
        .collect();
    (attempts, endings)
}

/// Run one failing upstream: the player's StreamNotFound, the healthy pair,
/// then (once the edge stopped pulling) one ending line per attempt, each
/// containing `why`, and as many attempts as the origin accepted.
fn failing_upstream(kind: Upstream, why: &str, settle: Duration) {
    let what = format!("{kind:?}");
    let dir = TempDir::new(&format!("hostile-up-{what}"));
    let origin = RawOrigin::start(kind);
    let edge = edge(&dir, origin.addr);
    let pair = HealthyPair::start(edge.addr);
    assert_not_found_in_time(&edge, &what);
    pair.finish(&what);
    // With the player gone the edge stops after the attempt in flight ends.
    assert!(
        edge.wait_log(settle, |l| l.contains("pull live/x: stopped (no viewers)")
            || l.contains("pull live/x: no viewers for a while")),
        "{what}: the edge did not stop pulling:\n{}",
        edge.log_text()
    );
    let (attempts, endings) = attempts_and_endings(&edge.log_text());
    assert!(!attempts.is_empty());
    assert_eq!(
        attempts.len(),
        endings.len(),
        "{what}: one line per failed attempt:\n{}",
        edge.log_text()
    );
    for line in &endings {
        assert!(line.contains(why), "{what}: {line:?} lacks {why:?}");
    }
    assert_eq!(
        origin.accepted(),
        attempts.len(),
        "{what}: the origin accepted one connection per attempt"
    );
    println!("{what}: {} attempts: {endings:#?}", attempts.len());
}

#[test]
fn an_origin_that_closes_at_once() {
    failing_upstream(
        Upstream::CloseAtOnce,
        "upstream closed: ",
        Duration::from_secs(5),
    );
}

#[test]
fn an_origin_that_never_answers_the_handshake() {
    failing_upstream(Upstream::Hang, "upstream closed: ", Duration::from_secs(15));
}

#[test]
fn an_origin_that_answers_c0c1_with_garbage() {
    failing_upstream(
        Upstream::Garbage,
        "upstream ended: handshake",
        Duration::from_secs(5),
    );
}

#[test]
fn an_origin_that_answers_version_3_then_garbage() {
    failing_upstream(
        Upstream::GarbageAfterS0,
        "upstream ",
        Duration::from_secs(15),
    );
}

#[test]
fn an_origin_whose_publisher_never_sends_media() {
    let dir = TempDir::new("hostile-up-silent");
    let origin = ServerProcess::start(&[]);
    let _silent = TestClient::publish(origin.addr, "live", "x");
    let edge = edge(&dir, origin.addr);
    let pair = HealthyPair::start(edge.addr);
    assert_not_found_in_time(&edge, "silent publisher");
    pair.finish("silent publisher");
    assert!(origin.wait_log(Duration::from_secs(5), |l| l.contains("play start live/x")));
    assert!(
        edge.wait_log(Duration::from_secs(15), |l| l
            .contains("pull live/x: stopped (no viewers)")
            || l.contains("pull live/x: no viewers for a while")),
        "the edge did not stop pulling:\n{}",
        edge.log_text()
    );
    let log = edge.log_text();
    let (attempts, endings) = attempts_and_endings(&log);
    // The upstream plays at the origin but never becomes the key's
    // publisher (that takes a media message): the deadline turns the player
    // away, and the upstream itself ends on the edge's command timeout.
    assert!(!log.contains("publish start live/x"), "{log}");
    assert!(!attempts.is_empty());
    assert_eq!(
        attempts.len(),
        endings.len(),
        "one line per attempt:\n{log}"
    );
    let plays = origin
        .log_text()
        .lines()
        .filter(|l| l.contains("play start live/x"))
        .count();
    assert_eq!(plays, attempts.len(), "{}", origin.log_text());
    println!(
        "silent publisher: {} attempts: {endings:#?}",
        attempts.len()
    );
}

#[test]
fn a_hung_first_origin_does_not_keep_players_from_the_second() {
    let dir = TempDir::new("hostile-up-failover");
    let hung = RawOrigin::start(Upstream::Hang);
    let good = ServerProcess::start(&[]);
    let mut publisher = TestClient::publish(good.addr, "live", "x");
    publisher.send_media(MediaKind::Video, 0, &avc_seq_header());
    for n in 0..25u32 {
        publisher.send_media(MediaKind::Video, n * 40, &avc_frame(n == 0, n, 500));
    }
    let edge = edge_of(&dir, &[hung.addr, good.addr], 5000);
    let started = Instant::now();
    let mut player = TestClient::play(edge.addr, "live", "x");
    let events = player.collect_events(1, Duration::from_secs(7));
    assert!(
        events
            .iter()
            .any(|e| matches!(e, ClientEvent::Media { .. })),
        "no media from the second origin after {:?}: {events:?}\n{}",
        started.elapsed(),
        edge.log_text()
    );
}
