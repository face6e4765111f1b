//! The HTTP-FLV subscriber of `MultiClient` (what `rtmp-bench --http-flv`
//! uses) against a tiny HTTP server in a test thread: it answers each `GET`
//! by its path with a head and an FLV body made with the crate's own FLV
//! writer, written in pieces. The events and payloads the client reports
//! must be exactly the audio/video tags written, with their timestamps; a
//! refusal, a cut body and a silent server must close the connection with
//! a clear error. No external process; every wait is bounded.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use rtmp_edge::client::http_flv::HttpFlvError;
use rtmp_edge::client::multi::{MultiClient, MultiEvent};
use rtmp_edge::client::{ClientError, HttpFlvUrl, RtmpUrl, Step};
use rtmp_edge::proto::flv::{
    write_header, write_tag, FlvError, FlvHeader, TAG_AUDIO, TAG_SCRIPT, TAG_VIDEO,
};
use rtmp_edge::proto::session::MediaKind;

const LIMIT: Duration = Duration::from_secs(20);

/// What one connection is answered: bytes to write (each piece flushed
/// after a short pause), then close; or say nothing for a while.
enum Answer {
    Pieces(Vec<Vec<u8>>),
    Silent(Duration),
}

/// Accept `n` connections (up to [`LIMIT`]); answer each by its request
/// with `answer`. Returns the request heads received.
fn serve(n: usize, answer: fn(&str) -> Answer) -> (SocketAddr, JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    let handle = thread::spawn(move || {
        let deadline = Instant::now() + LIMIT;
        let mut conns = Vec::new();
        while conns.len() < n && Instant::now() < deadline {
            match listener.accept() {
                Ok((sock, _)) => {
                    conns.push(thread::spawn(move || handle_conn(sock, answer)));
                }
                Err(_) => thread::sleep(Duration::from_millis(5)),
            }
        }
        conns.into_iter().map(|c| c.join().unwrap()).collect()
    });
    (addr, handle)
}

fn handle_conn(mut sock: TcpStream, answer: fn(&str) -> Answer) -> String {
    sock.set_nonblocking(false).unwrap();
    sock.set_read_timeout(Some(LIMIT)).unwrap();
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.ends_with(b"\r\n\r\n") {
        match sock.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let target = head.split(' ').nth(1).unwrap_or("").to_owned();
    match answer(&target) {
        Answer::Pieces(pieces) => {
            for p in pieces {
                if sock.write_all(&p).is_err() {
                    break;
                }
                let _ = sock.flush();
                thread::sleep(Duration::from_millis(2));
            }
        }
        Answer::Silent(d) => thread::sleep(d),
    }
    head
}

const OK_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: video/x-flv\r\n\
    Cache-Control: no-cache\r\nConnection: close\r\n\r\n";

/// The tags of the test stream: metadata, sequence headers, frames of
/// varied sizes (some larger than a socket read), timestamps crossing the
/// 24-bit boundary.
fn tags() -> Vec<(u8, u32, Vec<u8>)> {
    let mut t = vec![
        (TAG_SCRIPT, 0, b"\x02\x00\x0aonMetaData\x05".to_vec()),
        (TAG_VIDEO, 0, vec![0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff]),
        (TAG_AUDIO, 0, vec![0xaf, 0, 0x11, 0x90]),
    ];
    let mut ts = 0x00FF_FF00u32;
    for i in 0..120u32 {
        let len = if i % 30 == 0 {
            300_000
        } else {
            500 + i as usize * 37
        };
        let mut v = vec![if i % 30 == 0 { 0x17 } else { 0x27 }, 1, 0, 0, 0];
        v.extend((0..len).map(|j| (j as u32 ^ i) as u8));
        t.push((TAG_VIDEO, ts, v));
        t.push((TAG_AUDIO, ts + 5, vec![0xaf, 1, i as u8, 3, 4]));
        ts += 33;
    }
    t
}

/// Header + tags, split into pieces at odd places (inside tag headers and
/// bodies).
fn flv_pieces(cut_last: usize) -> Vec<Vec<u8>> {
    let mut out = BytesMut::new();
    write_header(
        FlvHeader {
            has_audio: true,
            has_video: true,
        },
        &mut out,
    );
    for (t, ts, d) in tags() {
        write_tag(t, ts, &d, &mut out);
    }
    let bytes = out[..out.len() - cut_last].to_vec();
    let mut pieces = vec![OK_HEAD[..17].to_vec(), OK_HEAD[17..].to_vec()];
    let mut at = 0;
    let mut step = 7;
    while at < bytes.len() {
        let end = (at + step).min(bytes.len());
        pieces.push(bytes[at..end].to_vec());
        at = end;
        step = step * 3 % 65_521 + 5;
    }
    pieces
}

fn expected() -> Vec<(MediaKind, u32, Bytes)> {
    tags()
        .into_iter()
        .filter_map(|(t, ts, d)| match t {
            TAG_AUDIO => Some((MediaKind::Audio, ts, Bytes::from(d))),
            TAG_VIDEO => Some((MediaKind::Video, ts, Bytes::from(d))),
            _ => None,
        })
        .collect()
}

#[derive(Debug)]
enum Ev {
    Started,
    Media(MediaKind, u32, Bytes),
    Ended,
    Closed(ClientError),
}

/// Poll until every id is closed (bounded); events per id.
fn drive(mc: &mut MultiClient, ids: &[usize]) -> Vec<Vec<Ev>> {
    let mut evs: Vec<Vec<Ev>> = ids.iter().map(|_| Vec::new()).collect();
    let deadline = Instant::now() + LIMIT;
    while mc.live() > 0 {
        assert!(Instant::now() < deadline, "connections still open");
        mc.poll(Some(Duration::from_millis(20)), &mut |id, ev| {
            let i = ids.iter().position(|&x| x == id).expect("known id");
            evs[i].push(match ev {
                MultiEvent::Started => Ev::Started,
                MultiEvent::Media {
                    kind,
                    timestamp,
                    payload,
                } => Ev::Media(kind, timestamp, payload.clone()),
                MultiEvent::Ended => Ev::Ended,
                // Kept as the typed error: re-made from its parts.
                MultiEvent::Closed(e) => Ev::Closed(copy_error(e)),
            });
        })
        .unwrap();
    }
    evs
}

fn copy_error(e: &ClientError) -> ClientError {
    match e {
        ClientError::Closed(s) => ClientError::Closed(*s),
        ClientError::Timeout(s) => ClientError::Timeout(*s),
        ClientError::Http(h) => ClientError::Http(h.clone()),
        other => panic!("unexpected error: {other}"),
    }
}

fn media_of(evs: &[Ev]) -> Vec<(MediaKind, u32, Bytes)> {
    evs.iter()
        .filter_map(|e| match e {
            Ev::Media(k, t, p) => Some((*k, *t, p.clone())),
            _ => None,
        })
        .collect()
}

fn stream(name: &str) -> RtmpUrl {
    // Host and port of the RTMP URL are not used by the HTTP-FLV viewer.
    RtmpUrl::parse(&format!("rtmp://192.0.2.1:1935/live/{name}")).unwrap()
}

#[test]
fn http_flv_subscribers_get_exactly_the_written_tags_or_a_clear_refusal() {
    let (addr, server) = serve(3, |target| match target {
        "/live/a.flv?key=k1" => Answer::Pieces(flv_pieces(0)),
        "/live/b.flv" => Answer::Pieces(vec![
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
        ]),
        "/live/c.flv" => Answer::Pieces(vec![
            b"HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n".to_vec(),
        ]),
        _ => Answer::Pieces(vec![b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec()]),
    });
    let base = HttpFlvUrl::parse(&format!("http://{addr}")).unwrap();
    let mut mc = MultiClient::new(Duration::from_secs(5)).unwrap();
    let ids = [
        mc.add_http_flv_subscriber(&base, &stream("a?key=k1"), addr)
            .unwrap(),
        mc.add_http_flv_subscriber(&base, &stream("b"), addr)
            .unwrap(),
        mc.add_http_flv_subscriber(&base, &stream("c"), addr)
            .unwrap(),
    ];
    let evs = drive(&mut mc, &ids);
    let mut requests = server.join().unwrap();
    requests.sort();

    // The requests: a plain GET per stream with Host and Connection: close.
    let lines: Vec<&str> = requests.iter().map(|r| r.lines().next().unwrap()).collect();
    assert_eq!(
        lines,
        [
            "GET /live/a.flv?key=k1 HTTP/1.1",
            "GET /live/b.flv HTTP/1.1",
            "GET /live/c.flv HTTP/1.1"
        ]
    );
    for r in &requests {
        assert!(r.contains(&format!("\r\nHost: {addr}\r\n")), "{r}");
        assert!(r.contains("\r\nConnection: close\r\n"), "{r}");
    }

    // a: Started, every audio/video tag as written, Ended, Closed.
    let a = &evs[0];
    assert!(matches!(a.first(), Some(Ev::Started)), "{:?}", a.first());
    let got = media_of(a);
    let want = expected();
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!((g.0, g.1), (w.0, w.1), "tag {i}");
        assert!(g.2 == w.2, "tag {i}: payload differs");
    }
    assert!(got.iter().any(|m| m.1 > 0x00FF_FFFF), "extended timestamps");
    let n = a.len();
    assert!(matches!(a[n - 2], Ev::Ended), "{:?}", a[n - 2]);
    assert!(
        matches!(a[n - 1], Ev::Closed(ClientError::Closed(Step::Media))),
        "{:?}",
        a[n - 1]
    );
    let body_len: usize = flv_pieces(0).iter().map(Vec::len).sum();
    assert_eq!(mc.bytes_in(ids[0]), body_len as u64);

    // b, c: refused, named by their status lines, never started.
    for (evs, line) in [
        (&evs[1], "HTTP/1.1 404 Not Found"),
        (&evs[2], "HTTP/1.1 403 Forbidden"),
    ] {
        assert_eq!(evs.len(), 1, "{evs:?}");
        let Ev::Closed(e) = &evs[0] else {
            panic!("{evs:?}")
        };
        assert!(
            matches!(e, ClientError::Http(HttpFlvError::Status(l)) if l == line),
            "{e:?}"
        );
        assert!(e.to_string().contains(line), "{e}");
    }
}

#[test]
fn http_flv_cut_body_and_silent_server_close_with_their_reason() {
    let (addr, server) = serve(2, |target| match target {
        // The last tag loses its last 9 bytes (trailer and body).
        "/live/cut.flv" => Answer::Pieces(flv_pieces(9)),
        _ => Answer::Silent(Duration::from_millis(1500)),
    });
    let base = HttpFlvUrl::parse(&format!("http://{addr}/")).unwrap();
    let mut mc = MultiClient::new(Duration::from_millis(400)).unwrap();
    let ids = [
        mc.add_http_flv_subscriber(&base, &stream("cut"), addr)
            .unwrap(),
        mc.add_http_flv_subscriber(&base, &stream("silent"), addr)
            .unwrap(),
    ];
    let evs = drive(&mut mc, &ids);
    server.join().unwrap();

    let cut = &evs[0];
    assert!(matches!(cut.first(), Some(Ev::Started)));
    let want = expected();
    assert_eq!(media_of(cut), want[..want.len() - 1]);
    assert!(!cut.iter().any(|e| matches!(e, Ev::Ended)));
    // The last (audio) tag is 11 + 5 + 4 bytes: 9 cut leave its 11-byte
    // header, waiting for a body that never comes.
    let last = cut.last().unwrap();
    assert!(
        matches!(
            last,
            Ev::Closed(ClientError::Http(HttpFlvError::Flv(FlvError::Truncated(
                11
            ))))
        ),
        "{last:?}"
    );

    let silent = &evs[1];
    assert!(
        matches!(
            silent[..],
            [Ev::Closed(ClientError::Timeout(Step::HttpResponse))]
        ),
        "{silent:?}"
    );
    assert_eq!(
        ClientError::Timeout(Step::HttpResponse).to_string(),
        "HTTP response timed out"
    );
}
