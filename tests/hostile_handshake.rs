//! Hostile handshakes: wrong version, C0 then silence, slowloris C0C1, and a
//! flood of connections that never finish. A healthy pair runs throughout.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use common::hostile::{assert_live, Case, RawConn};

const HS_TIMEOUT: &[&str] = &["--handshake-timeout-ms", "1000"];
/// What the 1 s timeout may take on a loaded 2-core machine, beyond 1 s.
/// The timeout logic itself is for the simulated-clock tests of the server
/// core; these loopback tests only check it is wired up.
const MARGIN: Duration = Duration::from_secs(4);

#[test]
fn wrong_version_byte_closes_at_once() {
    // A 20 s handshake timeout: "at once" is then far from any timeout.
    let case = Case::start(
        "handshake: version byte 6",
        &["--handshake-timeout-ms", "20000"],
    );
    for version in [0u8, 6, 0xff] {
        let mut c = RawConn::tcp(case.addr());
        let mut bytes = vec![version];
        bytes.extend_from_slice(&[0u8; 1536]);
        c.send(&bytes);
        let took = case.expect_closed(&mut c, Duration::from_secs(15), "handshake error");
        assert!(took < Duration::from_secs(5), "closed after {took:?}");
    }
    case.finish("closed at once: `handshake error: BadVersion`");
}

#[test]
fn c0_then_silence_closed_by_handshake_timeout() {
    let case = Case::start("handshake: C0 only, then silence", HS_TIMEOUT);
    let mut c = RawConn::tcp(case.addr());
    let opened = Instant::now();
    c.send(&[3]);
    case.expect_closed(
        &mut c,
        Duration::from_secs(10),
        "timeout in phase handshake",
    );
    let took = opened.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(1) + MARGIN,
        "closed after {took:?}, want ~1 s"
    );
    case.finish("closed by the 1 s handshake timeout");
}

#[test]
fn slowloris_c0c1_deadline_runs_from_accept() {
    let case = Case::start("handshake: C0C1 one byte per 100 ms", HS_TIMEOUT);
    let mut c = RawConn::tcp(case.addr());
    let opened = Instant::now();
    let mut writer = c.socket.try_clone().unwrap();
    let dribble = thread::spawn(move || {
        let mut sent = 0;
        // 12 s worth of bytes: a deadline re-armed per byte would keep the
        // socket open well past 1 s + MARGIN.
        for i in 0..120u8 {
            let b = if i == 0 { 3 } else { i };
            if writer.write_all(&[b]).is_err() {
                break;
            }
            sent += 1;
            thread::sleep(Duration::from_millis(100));
        }
        sent
    });
    case.expect_closed(
        &mut c,
        Duration::from_secs(15),
        "timeout in phase handshake",
    );
    let took = opened.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(1) + MARGIN,
        "slowloris closed after {took:?}: the deadline must not be re-armed per byte"
    );
    let sent = dribble.join().unwrap();
    assert!(
        sent < 60,
        "dribbler wrote {sent} bytes: the socket stayed open too long"
    );
    case.finish("closed at ~1 s (deadline from accept, not per byte)");
}

#[test]
fn thousand_unfinished_handshakes_time_out_while_others_are_served() {
    rlimit::increase_nofile_limit(4096).unwrap();
    let mut case = Case::start("handshake: 1000 connections never finish", HS_TIMEOUT);
    let fds_before = common::hostile::fd_count(case.pid());
    let start = Instant::now();
    let mut socks: Vec<TcpStream> = Vec::with_capacity(1000);
    for i in 0..1000 {
        let mut s = TcpStream::connect(case.addr()).expect("connect");
        // A third say nothing, a third send C0, a third send C0 and half of C1.
        match i % 3 {
            0 => {}
            1 => {
                let _ = s.write_all(&[3]);
            }
            _ => {
                let _ = s.write_all(&[3; 769]);
            }
        }
        socks.push(s);
    }
    let opened = start.elapsed();
    // While they hang, a healthy client is served.
    assert_live(&case.server, &case.name);
    case.sample();
    // All of them are closed by the handshake timeout, promptly.
    let deadline = start + opened + Duration::from_secs(1) + MARGIN;
    let mut closed = 0;
    for s in &mut socks {
        let left = deadline.saturating_duration_since(Instant::now());
        s.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf) {
                Ok(0) => {
                    closed += 1;
                    break;
                }
                Ok(_) => continue, // S0S1S2 for the ones that sent C0C1 (none here)
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                    closed += 1;
                    break;
                }
                Err(_) => break,
            }
        }
    }
    assert_eq!(
        closed, 1000,
        "only {closed} of 1000 closed within 1 s + {MARGIN:?}"
    );
    let timeouts = || {
        case.server
            .log_text()
            .lines()
            .filter(|l| l.contains(" closed: timeout in phase handshake"))
            .count()
    };
    common::wait_until(Duration::from_secs(10), || timeouts() >= 1000);
    assert_eq!(timeouts(), 1000, "handshake-timeout close lines");
    drop(socks);
    assert!(
        common::wait_until(Duration::from_secs(10), || common::hostile::fd_count(
            case.pid()
        ) <= fds_before + 2),
        "server fds {} vs {} before",
        common::hostile::fd_count(case.pid()),
        fds_before
    );
    case.finish("all 1000 closed by the handshake timeout; healthy client served meanwhile");
}
