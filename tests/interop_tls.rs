//! RTMPS on the server: ffmpeg publishes over TLS and plays back over TLS and
//! plain RTMP; ffmpeg 9 (OpenSSL) publishes to a Debian ffmpeg (GnuTLS)
//! player and GStreamer's rtmp2src (GIO TLS) plays over RTMPS; garbage on
//! the TLS port is closed with one log line while a healthy pair keeps
//! streaming; SIGHUP swaps the certificate for new connections. Certificates
//! are generated in the test (rcgen).

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::rtmp::{avc_frame, avc_seq_header, TestClient};
use common::{
    decode_errors, ffmpeg_play, ffmpeg_publish, frames_of, have_tool, probe_streams, wait_child,
    wait_until, ServerProcess, TempDir,
};
use rtmp_edge::proto::session::MediaKind;

/// A self-signed certificate for `names`, written as PEM; returns (cert, key).
fn write_cert(dir: &Path, tag: &str, names: &[&str]) -> (PathBuf, PathBuf) {
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let certified = rcgen::generate_simple_self_signed(names).expect("generate certificate");
    let cert = dir.join(format!("{tag}.crt"));
    let key = dir.join(format!("{tag}.key"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.key_pair.serialize_pem()).unwrap();
    (cert, key)
}

fn tls_server(dir: &TempDir) -> (ServerProcess, SocketAddr, PathBuf) {
    let (cert, key) = write_cert(dir.path(), "a", &["localhost", "127.0.0.1"]);
    let (server, addr) = ServerProcess::start_tls(&cert, &key, &[]);
    (server, addr, cert)
}

/// SHA-256 fingerprint of the certificate the server presents at `addr`.
fn served_fingerprint(addr: SocketAddr) -> String {
    let mut s_client = Command::new("openssl")
        .args(["s_client", "-connect", &addr.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_client");
    let mut pem = String::new();
    s_client
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut pem)
        .unwrap();
    let _ = s_client.wait();
    fingerprint_of(&pem)
}

fn fingerprint_of(pem: &str) -> String {
    let mut x509 = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl x509");
    x509.stdin
        .take()
        .unwrap()
        .write_all(pem.as_bytes())
        .unwrap();
    let out = x509.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn ffmpeg_publishes_over_rtmps_and_plays_back_over_both() {
    if !have_tool("ffmpeg") || !have_tool("ffprobe") {
        return;
    }
    let dir = TempDir::new("tls-ffmpeg");
    let (server, tls_addr, _) = tls_server(&dir);
    let tls_url = format!("rtmps://{tls_addr}/live/x");
    let plain_url = server.url("live/x");
    let over_tls = dir.path().join("tls.flv");
    let over_tcp = dir.path().join("tcp.flv");
    let mut player_tls = ffmpeg_play(&tls_url, &over_tls);
    let mut player_tcp = ffmpeg_play(&plain_url, &over_tcp);
    assert!(
        wait_until(Duration::from_secs(10), || server
            .log_text()
            .matches("play start live/x")
            .count()
            == 2),
        "players did not start:\n{}",
        server.log_text()
    );
    let mut publisher = ffmpeg_publish(&tls_url, 4);
    for (child, what) in [
        (&mut publisher, "publisher"),
        (&mut player_tls, "TLS player"),
        (&mut player_tcp, "plain player"),
    ] {
        let status = wait_child(child, Duration::from_secs(40));
        assert!(
            status.is_some_and(|s| s.success()),
            "{what} failed: {status:?}\n{}",
            server.log_text()
        );
    }
    for file in [&over_tls, &over_tcp] {
        let streams = probe_streams(file);
        assert!(frames_of(&streams, "h264") >= 90, "{file:?}: {streams:?}");
        assert!(frames_of(&streams, "aac") > 0, "{file:?}: {streams:?}");
        assert_eq!(decode_errors(file), "", "{file:?} decodes with errors");
    }
}

#[test]
fn garbage_on_the_tls_port_is_closed_while_a_healthy_pair_streams() {
    let dir = TempDir::new("tls-hostile");
    let (server, tls_addr, _) = tls_server(&dir);
    let mut publisher = TestClient::publish(server.addr, "live", "h");
    let mut player = TestClient::play(server.addr, "live", "h");
    publisher.send_media(MediaKind::Video, 0, &avc_seq_header());
    // A plain RTMP handshake (C0 + C1) and random bytes on the TLS port.
    let mut closed = 0;
    for garbage in [
        vec![3u8; 1537],
        (0..2000u32).map(|i| (i * 7919) as u8).collect(),
    ] {
        let mut s = TcpStream::connect(tls_addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(&garbage).unwrap();
        let mut buf = [0u8; 256];
        loop {
            match s.read(&mut buf) {
                Ok(0) => {
                    closed += 1;
                    break;
                }
                Ok(_) => continue, // a TLS alert
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                    closed += 1;
                    break;
                }
                Err(e) => panic!("not closed: {e}"),
            }
        }
    }
    assert_eq!(closed, 2);
    for n in 0..20 {
        publisher.send_media(MediaKind::Video, n * 40, &avc_frame(n == 0, n, 500));
    }
    assert_eq!(player.collect_media(21, Duration::from_secs(5)).len(), 21);
    assert!(
        wait_until(Duration::from_secs(5), || server
            .log_text()
            .matches("closed: tls error")
            .count()
            == 2),
        "{}",
        server.log_text()
    );
}

#[test]
fn sighup_serves_a_new_certificate_to_new_connections() {
    if !have_tool("openssl") {
        return;
    }
    let dir = TempDir::new("tls-reload");
    let (mut server, tls_addr, cert) = tls_server(&dir);
    let before = served_fingerprint(tls_addr);
    assert_eq!(
        before,
        fingerprint_of(&std::fs::read_to_string(&cert).unwrap())
    );
    // A connection made before the reload keeps working after it.
    let mut publisher = TestClient::publish(server.addr, "live", "r");
    let (new_cert, new_key) = write_cert(dir.path(), "b", &["localhost"]);
    std::fs::copy(&new_cert, &cert).unwrap();
    std::fs::copy(&new_key, dir.path().join("a.key")).unwrap();
    let pid = server.child.id().to_string();
    Command::new("kill").args(["-HUP", &pid]).status().unwrap();
    assert!(
        wait_until(Duration::from_secs(5), || server
            .log_text()
            .contains("TLS certificates reloaded")),
        "{}",
        server.log_text()
    );
    let after = served_fingerprint(tls_addr);
    assert_eq!(
        after,
        fingerprint_of(&std::fs::read_to_string(&new_cert).unwrap())
    );
    assert_ne!(before, after);
    // A bad file on reload keeps the current certificate.
    std::fs::write(&cert, "not a certificate").unwrap();
    Command::new("kill").args(["-HUP", &pid]).status().unwrap();
    assert!(wait_until(Duration::from_secs(5), || server
        .log_text()
        .contains("keeping the old TLS certificates")));
    assert_eq!(served_fingerprint(tls_addr), after);
    let mut player = TestClient::play(server.addr, "live", "r");
    publisher.send_media(MediaKind::Video, 0, &avc_seq_header());
    assert_eq!(player.collect_media(1, Duration::from_secs(5)).len(), 1);
    assert!(server.terminate(Duration::from_secs(5)).is_some());
}

/// A 4 s H.264 + AAC FLV (100 video frames at 25 fps) made with Debian's ffmpeg.
fn h264_aac_source(dir: &TempDir) -> PathBuf {
    let source = dir.path().join("source.flv");
    let made = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"])
        .args([
            "-t", "4", "-c:v", "libx264", "-g", "25", "-c:a", "aac", "-f", "flv",
        ])
        .arg(&source)
        .status()
        .unwrap();
    assert!(made.success());
    source
}

/// The server with the test PKI's certificate; returns it, its TLS address and the CA.
fn pki_server(dir: &TempDir, extra: &[&str]) -> (ServerProcess, SocketAddr, PathBuf) {
    let (ca, cert, key) = common::pki::test_pki(dir.path());
    let (server, addr) = ServerProcess::start_tls(&cert, &key, extra);
    (server, addr, ca)
}

#[test]
fn ffmpeg9_verifies_the_certificate_and_streams_over_rtmps() {
    if !have_tool("ffmpeg") || !have_tool("ffprobe") {
        return;
    }
    let Some(ffmpeg9) = common::ffmpeg9() else {
        return;
    };
    let dir = TempDir::new("tls-ffmpeg9");
    let (server, tls_addr, ca) = pki_server(&dir, &[]);
    let source = h264_aac_source(&dir);
    let url = format!("rtmps://localhost:{}/live/v9", tls_addr.port());
    let verify = ["-tls_verify", "1", "-ca_file", ca.to_str().unwrap()];
    let out = dir.path().join("played.mkv");
    let mut player = Command::new(&ffmpeg9)
        .args(["-hide_banner", "-nostdin", "-loglevel", "error"])
        .args(verify)
        .args(["-i", &url, "-c", "copy", "-f", "matroska", "-y"])
        .arg(&out)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        server.wait_log(Duration::from_secs(10), |l| l
            .contains("play start live/v9")),
        "ffmpeg 9 did not start playing over verified RTMPS:\n{}",
        server.log_text()
    );
    let mut publisher = Command::new(&ffmpeg9)
        .args([
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-re",
            "-i",
        ])
        .arg(&source)
        .args(verify)
        .args(["-c", "copy", "-f", "flv", &url])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    for (child, what) in [(&mut publisher, "publisher"), (&mut player, "player")] {
        let status = wait_child(child, Duration::from_secs(40));
        assert!(
            status.is_some_and(|s| s.success()),
            "ffmpeg 9 {what}: {status:?}\n{}",
            server.log_text()
        );
    }
    let streams = probe_streams(&out);
    assert!(frames_of(&streams, "h264") >= 90, "{streams:?}");
    assert!(frames_of(&streams, "aac") > 0, "{streams:?}");
}

#[test]
fn five_hundred_unfinished_tls_handshakes_close_at_the_deadline_and_a_healthy_pair_streams() {
    let dir = TempDir::new("tls-500");
    let (server, tls_addr, _) = pki_server(&dir, &["--handshake-timeout-ms", "2000"]);
    // Half send the start of a ClientHello record, half nothing at all.
    let started = std::time::Instant::now();
    let mut stalled: Vec<TcpStream> = (0..500)
        .map(|i| {
            let mut s = TcpStream::connect(tls_addr).unwrap();
            if i % 2 == 0 {
                s.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]).unwrap();
            }
            s
        })
        .collect();
    let mut publisher = TestClient::publish(server.addr, "live", "h5");
    let mut player = TestClient::play(server.addr, "live", "h5");
    publisher.send_media(MediaKind::Video, 0, &avc_seq_header());
    for n in 0..25 {
        publisher.send_media(MediaKind::Video, n * 40, &avc_frame(n == 0, n, 800));
    }
    assert_eq!(player.collect_media(26, Duration::from_secs(5)).len(), 26);
    let mut closed = 0;
    for s in stalled.iter_mut() {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = [0u8; 64];
        loop {
            match s.read(&mut buf) {
                Ok(0) => {
                    closed += 1;
                    break;
                }
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                    closed += 1;
                    break;
                }
                Err(e) => panic!("a stalled TLS handshake was not closed: {e}"),
            }
        }
    }
    let took = started.elapsed();
    assert_eq!(closed, 500);
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(8),
        "closed after {took:?}"
    );
    assert!(server.wait_log(Duration::from_secs(5), |l| l
        .matches("timeout in phase handshake")
        .count()
        >= 500));
    // The pair still streams after the flood.
    publisher.send_media(MediaKind::Video, 1000, &avc_frame(true, 99, 800));
    assert_eq!(player.collect_media(1, Duration::from_secs(5)).len(), 1);
}

#[test]
fn https_serves_the_api_and_http_flv_with_the_rtmps_certificate() {
    if !have_tool("ffmpeg") || !have_tool("ffprobe") || !have_tool("curl") {
        return;
    }
    let dir = TempDir::new("https");
    let (server, _, ca) = pki_server(&dir, &["--https-listen", "127.0.0.1:0"]);
    const LINE: &str = "HTTPS (API, metrics, pages, HTTP-FLV over TLS) accepting at ";
    assert!(server.wait_log(Duration::from_secs(5), |l| l.contains(LINE)));
    let https: SocketAddr = server
        .log_text()
        .split(LINE)
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|a| a.parse().ok())
        .expect("HTTPS address");
    let mut publisher = common::ffmpeg_publish(&server.url("live/s"), 20);
    let api = format!("https://localhost:{}/api/v1/streams/live/s", https.port());
    // curl verifies the certificate against the test CA, by name.
    let curl = |url: &str| {
        Command::new("curl")
            .args(["-s", "--cacert", ca.to_str().unwrap()])
            .args([
                "--resolve",
                &format!("localhost:{}:127.0.0.1", https.port()),
            ])
            .arg(url)
            .output()
            .unwrap()
    };
    assert!(
        wait_until(Duration::from_secs(20), || String::from_utf8_lossy(
            &curl(&api).stdout
        )
        .contains("\"codec\":\"H.264\"")),
        "no stream over HTTPS:\n{}",
        server.log_text()
    );
    // Plain HTTP on the HTTPS port is refused with a TLS error, not answered.
    let plain = curl(&format!("http://127.0.0.1:{}/api/v1/streams", https.port()));
    assert!(!String::from_utf8_lossy(&plain.stdout).contains("streams"));
    let out = dir.path().join("https.flv");
    let got = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error"])
        .args(["-tls_verify", "1", "-ca_file", ca.to_str().unwrap()])
        .arg("-i")
        .arg(format!("https://localhost:{}/live/s.flv", https.port()))
        .args(["-t", "3", "-c", "copy", "-f", "flv", "-y"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(
        got.success(),
        "ffmpeg over HTTPS failed:\n{}",
        server.log_text()
    );
    let streams = common::probe_streams(&out);
    let video = common::frames_of(&streams, "h264");
    assert!(video >= 50, "{streams:?}");
    let _ = publisher.kill();
    let _ = publisher.wait();
}

#[test]
fn debian_ffmpeg_without_verification_plays_what_ffmpeg9_publishes_over_rtmps() {
    if !have_tool("ffmpeg") || !have_tool("ffprobe") {
        return;
    }
    let Some(ffmpeg9) = common::ffmpeg9() else {
        return;
    };
    let dir = TempDir::new("tls-gnutls");
    let (server, tls_addr, ca) = pki_server(&dir, &[]);
    let source = h264_aac_source(&dir);
    // Debian's ffmpeg is built with GnuTLS; it plays by address, without
    // verifying the certificate.
    let out = dir.path().join("gnutls.flv");
    let mut player = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error"])
        .args(["-tls_verify", "0", "-i"])
        .arg(format!("rtmps://{tls_addr}/live/gnutls"))
        .args(["-c", "copy", "-f", "flv", "-y"])
        .arg(&out)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        server.wait_log(Duration::from_secs(10), |l| l
            .contains("play start live/gnutls")),
        "Debian's ffmpeg did not start playing over RTMPS:\n{}",
        server.log_text()
    );
    // ffmpeg 9 (OpenSSL) publishes over RTMPS, verifying the certificate by name.
    let mut publisher = Command::new(&ffmpeg9)
        .args([
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-re",
            "-i",
        ])
        .arg(&source)
        .args(["-tls_verify", "1", "-ca_file", ca.to_str().unwrap()])
        .args(["-c", "copy", "-f", "flv"])
        .arg(format!("rtmps://localhost:{}/live/gnutls", tls_addr.port()))
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    for (child, what) in [
        (&mut publisher, "ffmpeg 9 publisher"),
        (&mut player, "Debian ffmpeg player"),
    ] {
        let status = wait_child(child, Duration::from_secs(40));
        assert!(
            status.is_some_and(|s| s.success()),
            "{what}: {status:?}\n{}",
            server.log_text()
        );
    }
    let streams = probe_streams(&out);
    assert!(frames_of(&streams, "h264") >= 90, "{streams:?}");
    assert!(frames_of(&streams, "aac") > 0, "{streams:?}");
    assert_eq!(
        decode_errors(&out),
        "",
        "what Debian's ffmpeg wrote decodes with errors"
    );
}

/// GStreamer's rtmp2src and the parsers and muxer the RTMPS test runs.
fn gst_available() -> bool {
    let missing: Vec<&str> = [
        "rtmp2src",
        "flvdemux",
        "h264parse",
        "aacparse",
        "matroskamux",
    ]
    .into_iter()
    .filter(|element| {
        !Command::new("gst-inspect-1.0")
            .arg(element)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
    .collect();
    if missing.is_empty() {
        return true;
    }
    let why = format!("GStreamer elements {missing:?} not found (install gstreamer1.0-tools and gstreamer1.0-plugins-good/-bad)");
    if std::env::var_os("RTMP_REQUIRE_INTEROP").is_some() {
        panic!("{why}; RTMP_REQUIRE_INTEROP is set");
    }
    eprintln!("SKIPPED: {why}");
    false
}

#[test]
fn gstreamer_rtmp2src_plays_over_rtmps() {
    if !have_tool("ffmpeg") || !have_tool("ffprobe") || !gst_available() {
        return;
    }
    let dir = TempDir::new("tls-gst");
    let (server, tls_addr, _) = pki_server(&dir, &[]);
    // Published over plain RTMP, played over RTMPS.
    let mut publisher = ffmpeg_publish(&server.url("live/gst"), 6);
    assert!(
        server.wait_log(Duration::from_secs(30), |l| l
            .contains("publish start live/gst")),
        "no publisher:\n{}",
        server.log_text()
    );
    // rtmp2src's TLS is GIO's (glib-networking); tls-validation-flags=0
    // accepts the test certificate. Its FLV is demuxed, parsed and muxed
    // into Matroska, which ffprobe then decodes.
    let out = dir.path().join("gst.mkv");
    let pipeline = format!(
        "rtmp2src location=rtmps://{tls_addr}/live/gst tls-validation-flags=0 ! flvdemux name=d \
         d.video ! queue ! h264parse ! matroskamux name=m ! filesink location={} \
         d.audio ! queue ! aacparse ! m.",
        out.display()
    );
    let mut player = Command::new("gst-launch-1.0")
        .args(["-q", "-e"])
        .args(pipeline.split_whitespace())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn gst-launch");
    assert!(
        wait_child(&mut publisher, Duration::from_secs(40)).is_some_and(|s| s.success()),
        "publisher failed:\n{}",
        server.log_text()
    );
    // rtmp2src ends with EOS when the stream is unpublished; -e lets
    // matroskamux finish the file on an interrupt too.
    if !wait_until(Duration::from_secs(10), || {
        matches!(player.try_wait(), Ok(Some(_)))
    }) {
        let _ = Command::new("kill")
            .args(["-INT", &player.id().to_string()])
            .status();
        let _ = wait_child(&mut player, Duration::from_secs(5));
    }
    let mut gst_err = String::new();
    let _ = player.stderr.take().unwrap().read_to_string(&mut gst_err);
    if gst_err.contains("TLS support is not available") {
        let why = "GStreamer has no TLS backend (install glib-networking)";
        if std::env::var_os("RTMP_REQUIRE_INTEROP").is_some() {
            panic!("{why}; RTMP_REQUIRE_INTEROP is set\n{gst_err}");
        }
        eprintln!("SKIPPED: {why}");
        return;
    }
    assert!(
        server.log_text().contains("play start live/gst"),
        "rtmp2src did not play over RTMPS:\n{gst_err}\n{}",
        server.log_text()
    );
    let streams = probe_streams(&out);
    assert!(frames_of(&streams, "h264") >= 50, "{streams:?}\n{gst_err}");
    assert!(frames_of(&streams, "aac") > 0, "{streams:?}");
    assert_eq!(
        decode_errors(&out),
        "",
        "what rtmp2src wrote decodes with errors"
    );
}
