//! A blocking RTMP test client over a real loopback socket, driving the
//! protocol core's `ClientHandshake` + `ClientSession`, and synthetic media.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use rand::rngs::StdRng;
use rand::SeedableRng;

use rtmp_edge::proto::amf0::Amf0Value;
use rtmp_edge::proto::chunk::{ChunkEncoder, RawMessage};
use rtmp_edge::proto::client::{ClientConfig, ClientEvent, ClientMode, ClientSession};
use rtmp_edge::proto::command;
use rtmp_edge::proto::handshake::{ClientHandshake, Progress};
use rtmp_edge::proto::session::MediaKind;

pub struct TestClient {
    pub socket: TcpStream,
    pub session: ClientSession,
    inbound: BytesMut,
    out: BytesMut,
    events: VecDeque<ClientEvent>,
    pub closed: bool,
}

impl TestClient {
    /// TCP connect, handshake, and `connect` sent (not yet answered).
    pub fn connect(addr: SocketAddr, app: &str, stream: &str, mode: ClientMode) -> TestClient {
        let socket =
            TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("tcp connect");
        TestClient::over(socket, addr, app, stream, mode)
    }

    /// Like [`TestClient::connect`], from local address `local` (e.g.
    /// 127.0.0.2, a second client address on loopback).
    pub fn connect_from(
        local: std::net::IpAddr,
        addr: SocketAddr,
        app: &str,
        stream: &str,
        mode: ClientMode,
    ) -> TestClient {
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .expect("socket");
        socket
            .bind(&SocketAddr::new(local, 0).into())
            .expect("bind the local address");
        socket
            .connect_timeout(&addr.into(), Duration::from_secs(5))
            .expect("tcp connect");
        TestClient::over(socket.into(), addr, app, stream, mode)
    }

    /// Handshake and `connect` over an already connected socket.
    fn over(
        socket: TcpStream,
        addr: SocketAddr,
        app: &str,
        stream: &str,
        mode: ClientMode,
    ) -> TestClient {
        socket.set_nodelay(true).unwrap();
        let mut client = TestClient {
            socket,
            session: ClientSession::new(ClientConfig::new(
                app,
                &format!("rtmp://{addr}/{app}"),
                stream,
                mode,
            )),
            inbound: BytesMut::new(),
            out: BytesMut::new(),
            events: VecDeque::new(),
            closed: false,
        };
        let mut hs = ClientHandshake::new(0);
        let mut rng = StdRng::seed_from_u64(7);
        hs.start(&mut client.out, &mut rng);
        client.flush();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            assert!(Instant::now() < deadline, "handshake timed out");
            client.read_some(Duration::from_millis(200));
            assert!(!client.closed, "server closed during handshake");
            match hs
                .feed(&mut client.inbound, &mut client.out)
                .expect("handshake")
            {
                Progress::Done => break,
                Progress::InProgress => {}
            }
        }
        client.session.start(&mut client.out);
        client.flush();
        client
    }

    /// Connect and publish `app/stream`; waits for Publish.Start.
    pub fn publish(addr: SocketAddr, app: &str, stream: &str) -> TestClient {
        let mut c = TestClient::connect(addr, app, stream, ClientMode::Publish);
        c.wait_for(Duration::from_secs(5), |e| {
            matches!(e, ClientEvent::PublishStarted)
        })
        .unwrap_or_else(|| panic!("no Publish.Start for {app}/{stream}"));
        c
    }

    /// Connect and play `app/stream`; waits for Play.Start.
    pub fn play(addr: SocketAddr, app: &str, stream: &str) -> TestClient {
        let mut c = TestClient::connect(addr, app, stream, ClientMode::Play);
        c.wait_for(Duration::from_secs(5), |e| {
            matches!(e, ClientEvent::PlayStarted)
        })
        .unwrap_or_else(|| panic!("no Play.Start for {app}/{stream}"));
        c
    }

    pub fn flush(&mut self) {
        while !self.out.is_empty() {
            match self.socket.write(&self.out) {
                Ok(0) => {
                    self.closed = true;
                    return;
                }
                Ok(n) => {
                    let _ = self.out.split_to(n);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => {
                    self.closed = true;
                    self.out.clear();
                    return;
                }
            }
        }
    }

    /// One read (up to `wait`) into the inbound buffer.
    fn read_some(&mut self, wait: Duration) {
        if self.closed {
            return;
        }
        self.socket
            .set_read_timeout(Some(wait.max(Duration::from_millis(1))))
            .unwrap();
        let mut buf = [0u8; 65536];
        match self.socket.read(&mut buf) {
            Ok(0) => self.closed = true,
            Ok(n) => self.inbound.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            Err(_) => self.closed = true,
        }
    }

    /// Next event within `timeout`, or None (timeout or connection closed).
    pub fn next_event(&mut self, timeout: Duration) -> Option<ClientEvent> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(e) = self.events.pop_front() {
                return Some(e);
            }
            if self.closed {
                return None;
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            self.read_some(deadline - now);
            if !self.inbound.is_empty() {
                let mut evs = Vec::new();
                if let Err(e) =
                    self.session
                        .handle_input(&mut self.inbound, &mut evs, &mut self.out)
                {
                    panic!("client session error: {e}");
                }
                self.events.extend(evs);
                self.flush();
            }
        }
    }

    /// Skip events until one matches `pred` (returned) or the timeout passes.
    pub fn wait_for(
        &mut self,
        timeout: Duration,
        mut pred: impl FnMut(&ClientEvent) -> bool,
    ) -> Option<ClientEvent> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let e = self.next_event(left)?;
            if pred(&e) {
                return Some(e);
            }
        }
    }

    /// Collect media events until `n` media arrived or `timeout` passed.
    pub fn collect_media(&mut self, n: usize, timeout: Duration) -> Vec<(MediaKind, u32, Bytes)> {
        let deadline = Instant::now() + timeout;
        let mut got = Vec::new();
        while got.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_event(left) {
                Some(ClientEvent::Media {
                    kind,
                    timestamp,
                    payload,
                }) => got.push((kind, timestamp, payload)),
                Some(_) => {}
                None => break,
            }
        }
        got
    }

    pub fn send_media(&mut self, kind: MediaKind, timestamp: u32, payload: &Bytes) {
        self.session
            .send_media(kind, timestamp, payload, &mut self.out)
            .expect("send_media");
        self.flush();
    }

    pub fn send_metadata(&mut self, props: Vec<(String, Amf0Value)>) {
        self.session
            .send_metadata(&[Amf0Value::EcmaArray(props)], &mut self.out)
            .expect("send_metadata");
        self.flush();
    }

    /// A data message other than onMetaData (`values` start with its name).
    pub fn send_data(&mut self, timestamp: u32, values: &[Amf0Value]) {
        self.session
            .send_data(timestamp, values, &mut self.out)
            .expect("send_data");
        self.flush();
    }

    pub fn finish(&mut self) {
        let _ = self.session.finish(&mut self.out);
        self.flush();
    }

    /// Send a command of our own on stream 0 (`values` = name, tx, object,
    /// args); for calls the session does not make by itself.
    pub fn send_command(&mut self, values: &[Amf0Value]) {
        self.session.send_command(values, &mut self.out);
        self.flush();
    }

    /// Connect and play `app/stream` on a message stream id other than 1:
    /// `extra` createStream calls of our own (transactions 100, 101, ...)
    /// go out right behind `connect`, before the session's own createStream,
    /// so the server hands the session stream id `extra + 1`. Waits for
    /// Play.Start.
    pub fn play_on_later_stream(
        addr: SocketAddr,
        app: &str,
        stream: &str,
        extra: u32,
    ) -> TestClient {
        let mut c = TestClient::connect(addr, app, stream, ClientMode::Play);
        for i in 0..extra {
            c.send_command(&command::create_stream(100.0 + f64::from(i)));
        }
        c.wait_for(Duration::from_secs(5), |e| {
            matches!(e, ClientEvent::PlayStarted)
        })
        .unwrap_or_else(|| panic!("no Play.Start for {app}/{stream}"));
        c
    }

    /// Encode `msgs` with a caller-owned encoder and write them in one go,
    /// bypassing the session's state checks (e.g. media from a publisher the
    /// server is about to refuse). The encoder must use the chunk size this
    /// client announced (4096 for [`ClientConfig::new`]) and csids the
    /// session never used. A write error (the server may already have closed
    /// the connection) is returned but does not mark the client closed, so
    /// what the server sent before closing can still be read.
    pub fn send_raw(
        &mut self,
        encoder: &mut ChunkEncoder,
        msgs: &[RawMessage],
    ) -> std::io::Result<()> {
        let mut buf = BytesMut::new();
        for raw in msgs {
            encoder.encode(raw, &mut buf);
        }
        self.socket.write_all(&buf)
    }

    /// Drive the session until createStream is answered, then send the
    /// publish/play request the session writes at that moment in one write
    /// together with `extra(stream_id)` encoded by `encoder` (see
    /// [`TestClient::send_raw`] for its rules): the server gets the request
    /// and the pipelined messages in the same read. Returns the stream id.
    pub fn pipeline_after_request(
        &mut self,
        encoder: &mut ChunkEncoder,
        timeout: Duration,
        extra: impl FnOnce(u32) -> Vec<RawMessage>,
    ) -> u32 {
        let mut extra = Some(extra);
        let deadline = Instant::now() + timeout;
        loop {
            assert!(Instant::now() < deadline, "createStream not answered");
            assert!(!self.closed, "closed before createStream was answered");
            self.read_some(deadline.saturating_duration_since(Instant::now()));
            if self.inbound.is_empty() {
                continue;
            }
            let mut evs = Vec::new();
            if let Err(e) = self
                .session
                .handle_input(&mut self.inbound, &mut evs, &mut self.out)
            {
                panic!("client session error: {e}");
            }
            let created = evs.iter().find_map(|e| match e {
                ClientEvent::StreamCreated(sid) => Some(*sid),
                _ => None,
            });
            if let (Some(sid), Some(extra)) = (created, extra.take()) {
                for raw in extra(sid) {
                    encoder.encode(&raw, &mut self.out);
                }
            }
            self.events.extend(evs);
            self.flush();
            if let Some(sid) = created {
                return sid;
            }
        }
    }

    /// Every event until `media` media messages arrived, the connection
    /// closed, or `timeout` passed.
    pub fn collect_events(&mut self, media: usize, timeout: Duration) -> Vec<ClientEvent> {
        let deadline = Instant::now() + timeout;
        let mut got = Vec::new();
        let mut n = 0;
        while n < media {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_event(left) {
                Some(e) => {
                    if matches!(e, ClientEvent::Media { .. }) {
                        n += 1;
                    }
                    got.push(e);
                }
                None => break,
            }
        }
        got
    }

    /// The address the server sees for this client (as in its log lines).
    pub fn local_addr(&self) -> SocketAddr {
        self.socket.local_addr().expect("local addr")
    }

    /// True once the server closed the connection (reads 0) within `timeout`.
    pub fn wait_closed(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while !self.closed && Instant::now() < deadline {
            let _ = self.next_event(Duration::from_millis(50));
        }
        self.closed
    }
}

/// AVC sequence header (FLV video tag body): keyframe, AVC, packet type 0.
pub fn avc_seq_header() -> Bytes {
    Bytes::from_static(&[
        0x17, 0x00, 0, 0, 0, 0x01, 0x64, 0x00, 0x1f, 0xff, 0xe1, 0x00, 0x04, 0x67, 0x64, 0x00,
        0x1f, 0x01, 0x00, 0x04, 0x68, 0xee, 0x3c, 0xb0,
    ])
}

/// AVC coded frame carrying `n` (big-endian) so tests can check order.
pub fn avc_frame(key: bool, n: u32, size: usize) -> Bytes {
    let mut v = vec![if key { 0x17 } else { 0x27 }, 0x01, 0, 0, 0];
    v.extend_from_slice(&n.to_be_bytes());
    v.resize(size.max(9), (n & 0xff) as u8);
    Bytes::from(v)
}

/// AAC sequence header: AAC-LC 44.1 kHz stereo.
pub fn aac_seq_header() -> Bytes {
    Bytes::from_static(&[0xaf, 0x00, 0x12, 0x10])
}

/// AAC raw frame carrying `n`.
pub fn aac_frame(n: u32) -> Bytes {
    let mut v = vec![0xaf, 0x01];
    v.extend_from_slice(&n.to_be_bytes());
    v.resize(40, 0x21);
    Bytes::from(v)
}

/// True for an onStatus (non-error) event with this code.
pub fn is_status(e: &ClientEvent, want: &str) -> bool {
    matches!(e, ClientEvent::Status { code, .. } if code == want)
}

/// Media events only, as (kind, timestamp, payload).
pub fn media_of(events: &[ClientEvent]) -> Vec<(MediaKind, u32, Bytes)> {
    events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Media {
                kind,
                timestamp,
                payload,
            } => Some((*kind, *timestamp, payload.clone())),
            _ => None,
        })
        .collect()
}

/// The counter a synthetic frame carries.
pub fn frame_number(kind: MediaKind, payload: &[u8]) -> Option<u32> {
    let at = match kind {
        MediaKind::Video => 5,
        MediaKind::Audio => 2,
    };
    payload
        .get(at..at + 4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}
