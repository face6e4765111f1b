//! Blocking-style single-connection API over a non-blocking socket:
//! [`Publisher`] and [`Player`]. Each owns its own `mio::Poll`.

use std::collections::VecDeque;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use bytes::Bytes;
use log::debug;
use mio::{Events, Poll, Token};

use crate::proto::amf0::Amf0Value;
use crate::proto::client::{resolve_tc_url, ClientConfig, ClientEvent, ClientMode, ClientSession};
use crate::proto::command::EnhancedCaps;
use crate::proto::handshake::HandshakeForm;
use crate::proto::session::MediaKind;

use super::error::{ClientError, Step};
use super::transport::{Transport, READ_CHUNK};
use super::url::{RtmpUrl, UrlError};

const TOKEN: Token = Token(0);

/// Events a publisher keeps for [`Publisher::poll_events`].
pub const PUBLISHER_EVENT_BACKLOG: usize = 256;

/// Resolve a URL's host to its first socket address.
pub fn resolve(url: &RtmpUrl) -> Result<SocketAddr, ClientError> {
    resolve_authority(&url.authority())
}

/// The first address `host:port` resolves to.
pub(crate) fn resolve_authority(authority: &str) -> Result<SocketAddr, ClientError> {
    authority
        .to_socket_addrs()
        .map_err(|e| ClientError::Io {
            step: Step::Resolve,
            kind: e.kind(),
        })?
        .next()
        .ok_or(ClientError::NoAddress)
}

/// A server's E-RTMP `NetConnection.Connect.ReconnectRequest`, kept by
/// [`Publisher::reconnect_request`] / [`Player::reconnect_request`]. The
/// server keeps serving the connection: finish at a convenient point (a
/// keyframe), then connect to `tc_url` (with the same app path and stream
/// name unless the new tcUrl names another app).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconnectRequest {
    pub description: String,
    /// The `tcUrl` the server sent, as sent (`None`: reconnect to the same).
    pub requested_tc_url: Option<String>,
    /// Where to reconnect: the request's `tcUrl` resolved against ours
    /// ([`crate::proto::client::resolve_tc_url`]).
    pub tc_url: String,
}

impl ReconnectRequest {
    /// The URL to connect to instead of `current`: the request's tcUrl with
    /// `current`'s stream name and query; for `rtmps://` to `rtmps://`,
    /// `current`'s certificate verification is kept.
    pub fn target(&self, current: &RtmpUrl) -> Result<RtmpUrl, UrlError> {
        let tc_url = self.tc_url.trim_end_matches('/');
        let url = RtmpUrl::parse(&format!("{tc_url}/{}", current.stream))?;
        Ok(match (&url.tls, &current.tls) {
            (Some(_), Some(verify)) => RtmpUrl {
                tls: Some(verify.clone()),
                ..url
            },
            _ => url,
        })
    }
}

/// One connection and its session, driven by a private poll.
struct Conn {
    poll: Poll,
    events: Events,
    t: Transport,
    session: ClientSession,
    scratch: Vec<ClientEvent>,
    pending: VecDeque<ClientEvent>,
    /// The last read stopped on the budget: read again without waiting.
    more: bool,
    scratch_read: Vec<u8>,
    /// `session.start` was called (input goes to the session from then on).
    session_started: bool,
    mode: ClientMode,
    /// Our tcUrl (what a reconnect request's tcUrl is relative to).
    tc_url: String,
    /// The last reconnect request received.
    reconnect: Option<ReconnectRequest>,
}

impl Conn {
    /// Connect, handshake, `connect`, `createStream` and `publish`/`play`,
    /// each step with its own `timeout`.
    fn open(
        url: &RtmpUrl,
        mode: ClientMode,
        caps: Option<EnhancedCaps>,
        timeout: Duration,
    ) -> Result<Conn, ClientError> {
        let addr = resolve(url)?;
        let poll = Poll::new().map_err(|e| ClientError::Io {
            step: Step::Connect,
            kind: e.kind(),
        })?;
        let tls = url.tls.as_ref().map(|v| (url.host.as_str(), v));
        let t = Transport::connect(addr, poll.registry(), TOKEN, tls)?;
        let mut config = ClientConfig::new(&url.app, &url.tc_url(), &url.stream, mode);
        if let Some(caps) = caps {
            config.caps = caps;
        }
        let mut c = Conn {
            poll,
            events: Events::with_capacity(16),
            t,
            session: ClientSession::new(config),
            scratch: Vec::new(),
            pending: VecDeque::new(),
            more: false,
            scratch_read: vec![0; READ_CHUNK],
            session_started: false,
            mode,
            tc_url: url.tc_url(),
            reconnect: None,
        };
        let deadline = Instant::now() + timeout;
        while !c.t.connected {
            c.turn(Step::Connect, Some(deadline))?;
        }
        let deadline = Instant::now() + timeout;
        while !c.t.hs_done {
            c.turn(Step::Handshake, Some(deadline))?;
        }
        debug!(
            "{url}: handshake done ({} form)",
            c.t.hs.form().unwrap_or(HandshakeForm::Simple)
        );
        c.session.start(&mut c.t.out);
        c.session_started = true;
        // Bytes that followed S2 in the same read.
        c.process(Step::ConnectCommand)?;
        c.wait_for(Step::ConnectCommand, timeout, |e| {
            matches!(e, ClientEvent::Connected)
        })?;
        c.wait_for(Step::CreateStream, timeout, |e| {
            matches!(e, ClientEvent::StreamCreated(_))
        })?;
        c.wait_for(Step::Start, timeout, |e| {
            matches!(e, ClientEvent::PublishStarted | ClientEvent::PlayStarted)
        })?;
        debug!("{url}: started");
        Ok(c)
    }

    /// One poll round: wait until `deadline` (none: don't block), read,
    /// advance the handshake or the session, flush.
    fn turn(&mut self, step: Step, deadline: Option<Instant>) -> Result<(), ClientError> {
        self.t.flush(step)?;
        let timeout = match deadline {
            Some(d) => {
                let now = Instant::now();
                if now >= d {
                    return Err(ClientError::Timeout(step));
                }
                Some(d - now)
            }
            None => Some(Duration::ZERO),
        };
        // After end of stream no new edge will come: don't wait for one.
        let timeout = if self.more || self.t.eof {
            Some(Duration::ZERO)
        } else {
            timeout
        };
        if let Err(e) = self.poll.poll(&mut self.events, timeout) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(ClientError::Io {
                    step,
                    kind: e.kind(),
                });
            }
        }
        let mut readable = false;
        for ev in self.events.iter() {
            if ev.is_writable() || ev.is_error() {
                self.t.writable = true;
            }
            if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                readable = true;
            }
        }
        if !self.t.connected && self.t.writable {
            self.t.check_connected()?;
        }
        if (readable || self.more) && self.t.connected {
            let n = self.t.read(step, &mut self.scratch_read)?;
            self.more = Transport::read_budget_hit(n);
        }
        self.process(step)?;
        self.t.flush(step)
    }

    fn process(&mut self, step: Step) -> Result<(), ClientError> {
        if !self.t.drive_handshake()? {
            if self.t.eof {
                return Err(ClientError::Closed(step));
            }
            return Ok(());
        }
        if !self.session_started {
            // `start` comes right after the handshake; the session must not
            // see input before it.
            return Ok(());
        }
        self.session
            .handle_input(&mut self.t.inbuf, &mut self.scratch, &mut self.t.out)?;
        for e in &self.scratch {
            if let ClientEvent::ReconnectRequest {
                description,
                tc_url,
            } = e
            {
                self.reconnect = Some(ReconnectRequest {
                    description: description.clone(),
                    requested_tc_url: tc_url.clone(),
                    tc_url: resolve_tc_url(&self.tc_url, tc_url.as_deref()),
                });
            }
        }
        self.pending.extend(self.scratch.drain(..));
        // A player still returns the events received before the close; a
        // publisher learns of the close at once.
        if self.t.eof && (self.mode == ClientMode::Publish || self.pending.is_empty()) {
            // A refusal the server sent just before closing names its code.
            if let Some(ClientEvent::Error {
                code, description, ..
            }) = self
                .pending
                .iter()
                .find(|e| matches!(e, ClientEvent::Error { .. }))
            {
                return Err(ClientError::Rejected {
                    step,
                    code: code.clone(),
                    description: description.clone(),
                });
            }
            return Err(ClientError::Closed(step));
        }
        Ok(())
    }

    /// Wait for the first event matching `want`, keeping other events queued.
    /// An error event fails the step.
    fn wait_for(
        &mut self,
        step: Step,
        timeout: Duration,
        want: impl Fn(&ClientEvent) -> bool,
    ) -> Result<ClientEvent, ClientError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(i) = self.pending.iter().position(&want) {
                return Ok(self.pending.remove(i).expect("index from position"));
            }
            if let Some(ClientEvent::Error {
                code, description, ..
            }) = self
                .pending
                .iter()
                .find(|e| matches!(e, ClientEvent::Error { .. }))
            {
                return Err(ClientError::Rejected {
                    step,
                    code: code.clone(),
                    description: description.clone(),
                });
            }
            self.turn(step, Some(deadline))?;
        }
    }

    fn flush_until(&mut self, deadline: Instant) -> Result<(), ClientError> {
        while !self.t.out.is_empty() {
            self.turn(Step::Flush, Some(deadline))?;
        }
        Ok(())
    }
}

/// A publishing connection.
///
/// `connect` returns once the server answered `publish` with
/// `NetStream.Publish.Start`. `send_*` only buffer (and write what the socket
/// takes without blocking); [`Publisher::flush`] waits for the buffer to
/// drain up to a deadline; [`Publisher::finish`] ends the stream.
pub struct Publisher {
    conn: Conn,
}

impl Publisher {
    /// Connect to `rtmp://host[:port]/app/name` and start publishing; every
    /// step (TCP connect, handshake, each command answer) gets `timeout`.
    pub fn connect(url: &str, timeout: Duration) -> Result<Publisher, ClientError> {
        Publisher::connect_url(&RtmpUrl::parse(url)?, timeout)
    }

    pub fn connect_url(url: &RtmpUrl, timeout: Duration) -> Result<Publisher, ClientError> {
        Ok(Publisher {
            conn: Conn::open(url, ClientMode::Publish, None, timeout)?,
        })
    }

    /// [`Publisher::connect_url`] announcing `caps` in connect instead of
    /// the default E-RTMP capabilities (`EnhancedCaps::default()`: a legacy
    /// connect).
    pub fn connect_url_with(
        url: &RtmpUrl,
        caps: EnhancedCaps,
        timeout: Duration,
    ) -> Result<Publisher, ClientError> {
        Ok(Publisher {
            conn: Conn::open(url, ClientMode::Publish, Some(caps), timeout)?,
        })
    }

    /// The handshake form the server answered with (see
    /// [`crate::proto::handshake`]).
    pub fn handshake_form(&self) -> Option<HandshakeForm> {
        self.conn.t.hs.form()
    }

    /// Queue `@setDataFrame onMetaData <values>`.
    pub fn send_metadata(&mut self, values: &[Amf0Value]) -> Result<(), ClientError> {
        self.conn
            .session
            .send_metadata(values, &mut self.conn.t.out)?;
        self.conn.turn(Step::Media, None)
    }

    /// Queue a data message other than onMetaData (`onCuePoint`,
    /// `onTextData`, ...; `values` start with the handler name) at
    /// `timestamp`.
    pub fn send_data(&mut self, timestamp: u32, values: &[Amf0Value]) -> Result<(), ClientError> {
        self.conn
            .session
            .send_data(timestamp, values, &mut self.conn.t.out)?;
        self.conn.turn(Step::Media, None)
    }

    /// Queue one audio/video message and write what the socket accepts now.
    pub fn send_media(
        &mut self,
        kind: MediaKind,
        timestamp: u32,
        payload: &Bytes,
    ) -> Result<(), ClientError> {
        self.conn
            .session
            .send_media(kind, timestamp, payload, &mut self.conn.t.out)?;
        self.conn.turn(Step::Media, None)?;
        self.take_error()
    }

    /// A server error status received while publishing fails the publisher.
    /// Other events wait for [`Publisher::poll_events`]; only the newest
    /// [`PUBLISHER_EVENT_BACKLOG`] are kept.
    fn take_error(&mut self) -> Result<(), ClientError> {
        while self.conn.pending.len() > PUBLISHER_EVENT_BACKLOG {
            self.conn.pending.pop_front();
        }
        if let Some(i) = self
            .conn
            .pending
            .iter()
            .position(|e| matches!(e, ClientEvent::Error { .. }))
        {
            if let Some(ClientEvent::Error {
                code, description, ..
            }) = self.conn.pending.remove(i)
            {
                return Err(ClientError::Rejected {
                    step: Step::Media,
                    code,
                    description,
                });
            }
        }
        Ok(())
    }

    /// The server's reconnect request, once one arrived (it is also a
    /// [`ClientEvent::ReconnectRequest`] from [`Publisher::poll_events`]).
    /// Input is read by `send_*`, `flush` and `poll_events`.
    pub fn reconnect_request(&self) -> Option<&ReconnectRequest> {
        self.conn.reconnect.as_ref()
    }

    /// The E-RTMP capabilities the server stated in its connect answer.
    pub fn server_caps(&self) -> &EnhancedCaps {
        self.conn.session.server_caps()
    }

    /// Bytes queued but not yet written to the socket.
    pub fn pending_bytes(&self) -> usize {
        self.conn.t.out.len()
    }

    /// Total bytes written to the socket.
    pub fn bytes_sent(&self) -> u64 {
        self.conn.t.bytes_out
    }

    /// Wait until everything queued is written, or fail at `deadline`.
    pub fn flush(&mut self, deadline: Instant) -> Result<(), ClientError> {
        self.conn.flush_until(deadline)
    }

    /// Process input without blocking (acks, pings, status messages) and
    /// return any events that arrived (e.g. an error status).
    pub fn poll_events(&mut self) -> Result<Vec<ClientEvent>, ClientError> {
        self.conn.turn(Step::Media, None)?;
        Ok(self.conn.pending.drain(..).collect())
    }

    /// Send `FCUnpublish` + `deleteStream`, flush within `timeout`, close.
    pub fn finish(mut self, timeout: Duration) -> Result<(), ClientError> {
        self.conn.session.finish(&mut self.conn.t.out)?;
        let deadline = Instant::now() + timeout;
        self.conn.flush_until(deadline).map_err(|e| match e {
            ClientError::Timeout(_) => ClientError::Timeout(Step::Finish),
            e => e,
        })?;
        let _ = self.conn.t.sock.shutdown(std::net::Shutdown::Write);
        Ok(())
    }
}

/// A playing connection.
///
/// `connect` returns once the server answered `play` with
/// `NetStream.Play.Start`; events that arrived before it (StreamBegin,
/// statuses) are returned first by [`Player::next_event`].
pub struct Player {
    conn: Conn,
}

impl Player {
    /// Connect to `rtmp://host[:port]/app/name` and start playing; every step
    /// gets `timeout`.
    pub fn connect(url: &str, timeout: Duration) -> Result<Player, ClientError> {
        Player::connect_url(&RtmpUrl::parse(url)?, timeout)
    }

    pub fn connect_url(url: &RtmpUrl, timeout: Duration) -> Result<Player, ClientError> {
        Ok(Player {
            conn: Conn::open(url, ClientMode::Play, None, timeout)?,
        })
    }

    /// [`Player::connect_url`] announcing `caps` in connect (see
    /// [`Publisher::connect_url_with`]).
    pub fn connect_url_with(
        url: &RtmpUrl,
        caps: EnhancedCaps,
        timeout: Duration,
    ) -> Result<Player, ClientError> {
        Ok(Player {
            conn: Conn::open(url, ClientMode::Play, Some(caps), timeout)?,
        })
    }

    /// The next event, waiting at most `timeout`: `Ok(None)` if none came in
    /// time, `Err(ClientError::Closed(_))` once the server closed the
    /// connection and every event before the close was returned.
    pub fn next_event(&mut self, timeout: Duration) -> Result<Option<ClientEvent>, ClientError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(e) = self.conn.pending.pop_front() {
                return Ok(Some(e));
            }
            match self.conn.turn(Step::Media, Some(deadline)) {
                Ok(()) => {}
                Err(ClientError::Timeout(_)) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    }

    /// The handshake form the server answered with (see
    /// [`crate::proto::handshake`]).
    pub fn handshake_form(&self) -> Option<HandshakeForm> {
        self.conn.t.hs.form()
    }

    /// Total bytes read from the socket.
    pub fn bytes_received(&self) -> u64 {
        self.conn.t.bytes_in
    }

    /// The server's reconnect request, once one arrived (it is also a
    /// [`ClientEvent::ReconnectRequest`] from [`Player::next_event`]).
    pub fn reconnect_request(&self) -> Option<&ReconnectRequest> {
        self.conn.reconnect.as_ref()
    }

    /// Send `deleteStream`, flush within `timeout`, close.
    pub fn close(mut self, timeout: Duration) -> Result<(), ClientError> {
        self.conn.session.finish(&mut self.conn.t.out)?;
        self.conn.flush_until(Instant::now() + timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(tc_url: &str) -> ReconnectRequest {
        ReconnectRequest {
            description: String::new(),
            requested_tc_url: None,
            tc_url: tc_url.to_owned(),
        }
    }

    #[test]
    fn reconnect_target_keeps_the_stream_and_its_query() {
        let cur = RtmpUrl::parse("rtmp://a:1935/live/cam?key=s").unwrap();
        let t = request("rtmp://b:1936/other").target(&cur).unwrap();
        assert_eq!((t.host.as_str(), t.port), ("b", 1936));
        assert_eq!((t.app.as_str(), t.stream.as_str()), ("other", "cam?key=s"));
        assert!(request("http://b/x").target(&cur).is_err());
        let tls = RtmpUrl::parse("rtmps://a/live/cam")
            .unwrap()
            .with_verify(true, None);
        let t = request("rtmps://b/live/").target(&tls).unwrap();
        assert_eq!(t.tls, Some(crate::client::TlsVerify::Insecure));
        assert_eq!(t.stream, "cam");
    }
}
