//! Many client connections on one `mio::Poll`, for the benchmark harness.
//!
//! Rules a caller must keep:
//! * Add connections with [`MultiClient::add_publisher`] /
//!   [`MultiClient::add_subscriber`] (RTMP play) /
//!   [`MultiClient::add_http_flv_subscriber`] (HTTP-FLV `GET`); each gets an
//!   id (its slab index).
//!   Ids are never reused during the client's life (a closed connection's
//!   socket is dropped and its slot becomes a tombstone holding its byte
//!   count), so an id or a stale event can never reach another connection.
//! * Call [`MultiClient::poll`] in a loop; it reports [`MultiEvent`]s through
//!   the callback. Publishers may [`MultiClient::send_media`] only after
//!   their `Started` event.
//! * Every setup step (TCP connect, handshake, each command answer) must
//!   finish within the step timeout given to [`MultiClient::new`], or the
//!   connection is closed with [`ClientError::Timeout`].
//! * Both kinds of subscriber report the same events: `Started` (RTMP:
//!   Play.Start; HTTP-FLV: the `200` head), `Media` per non-empty audio/video
//!   message or tag with the server's timestamp, `Ended` (RTMP: StreamEOF or
//!   UnpublishNotify; HTTP-FLV: the server closed the body at a tag
//!   boundary, followed by `Closed`), `Closed`. An HTTP-FLV refusal (403,
//!   404, ...) is `Closed(ClientError::Http(HttpFlvError::Status(line)))`.
//!
//! Media payloads reach the callback as the `Bytes` the chunk decoder
//! reassembled (RTMP) or split off the read buffer (HTTP-FLV): no further
//! copy.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use log::debug;
use mio::{Events, Poll, Token};
use slab::Slab;

use crate::proto::amf0::Amf0Value;
use crate::proto::client::{ClientConfig, ClientEvent, ClientMode, ClientSession, CLIENT_CAPS_EX};
use crate::proto::command::CAPS_EX_RECONNECT;
use crate::proto::session::MediaKind;

use super::error::{ClientError, Step};
use super::http_flv::{HttpFlvEvent, HttpFlvSubscriber, HttpFlvUrl};
use super::light::{LightEvent, LightSubscriber};
use super::transport::{Transport, READ_CHUNK};
use super::url::RtmpUrl;

/// What happened on a connection.
#[derive(Debug)]
pub enum MultiEvent<'a> {
    /// Publish.Start / Play.Start arrived.
    Started,
    /// A subscriber received audio or video.
    Media {
        kind: MediaKind,
        timestamp: u32,
        payload: &'a Bytes,
    },
    /// The stream ended (subscriber).
    Ended,
    /// The connection failed or was closed; the id is dead from now on.
    Closed(&'a ClientError),
}

enum Role {
    Publisher(Box<ClientSession>),
    Subscriber(Box<LightSubscriber>),
    HttpFlv(Box<HttpFlvSubscriber>),
}

/// A slab entry: a live connection, or the tombstone of a closed one.
enum Entry {
    Live(Box<Slot>),
    Dead { bytes_in: u64 },
}

struct Slot {
    t: Transport,
    role: Role,
    started: bool,
    session_begun: bool,
    step: Step,
    deadline: Instant,
    /// Read stopped on the budget: read again before the next poll.
    more: bool,
}

/// See the module docs.
pub struct MultiClient {
    poll: Poll,
    events: Events,
    slots: Slab<Entry>,
    step_timeout: Duration,
    scratch: Vec<ClientEvent>,
    ready: Vec<usize>,
    live: usize,
    read_buf: Vec<u8>,
}

fn io_err(step: Step) -> impl Fn(io::Error) -> ClientError {
    move |e| ClientError::Io {
        step,
        kind: e.kind(),
    }
}

impl MultiClient {
    pub fn new(step_timeout: Duration) -> Result<Self, ClientError> {
        Ok(MultiClient {
            poll: Poll::new().map_err(io_err(Step::Connect))?,
            events: Events::with_capacity(1024),
            slots: Slab::new(),
            step_timeout,
            scratch: Vec::new(),
            ready: Vec::new(),
            live: 0,
            read_buf: vec![0; READ_CHUNK],
        })
    }

    fn add(
        &mut self,
        url: Option<&RtmpUrl>,
        addr: SocketAddr,
        role: Role,
    ) -> Result<usize, ClientError> {
        let entry = self.slots.vacant_entry();
        let id = entry.key();
        // `None`: HTTP, plain TCP without the RTMP handshake.
        let tls = url.and_then(|u| u.tls.as_ref().map(|v| (u.host.as_str(), v)));
        let t = Transport::connect(addr, self.poll.registry(), Token(id), tls)?;
        let t = if url.is_none() {
            t.without_handshake()
        } else {
            t
        };
        entry.insert(Entry::Live(Box::new(Slot {
            t,
            role,
            started: false,
            session_begun: false,
            step: Step::Connect,
            deadline: Instant::now() + self.step_timeout,
            more: false,
        })));
        self.live += 1;
        Ok(id)
    }

    /// Start a publisher for `url` at `addr`.
    pub fn add_publisher(&mut self, url: &RtmpUrl, addr: SocketAddr) -> Result<usize, ClientError> {
        let mut cfg = ClientConfig::new(&url.app, &url.tc_url(), &url.stream, ClientMode::Publish);
        // The harness ignores reconnect requests: do not announce them.
        cfg.caps.caps_ex = Some(CLIENT_CAPS_EX & !CAPS_EX_RECONNECT);
        self.add(
            Some(url),
            addr,
            Role::Publisher(Box::new(ClientSession::new(cfg))),
        )
    }

    /// Start a (lightweight) player for `url` at `addr`.
    pub fn add_subscriber(
        &mut self,
        url: &RtmpUrl,
        addr: SocketAddr,
    ) -> Result<usize, ClientError> {
        let sub = LightSubscriber::new(&url.app, &url.tc_url(), &url.stream);
        self.add(Some(url), addr, Role::Subscriber(Box::new(sub)))
    }

    /// Start an HTTP-FLV viewer of `stream`'s app and name at `base`
    /// (`GET {base}/{app}/{name}.flv[?query]`), connecting to `addr`.
    /// `stream`'s host, port and scheme are not used.
    pub fn add_http_flv_subscriber(
        &mut self,
        base: &HttpFlvUrl,
        stream: &RtmpUrl,
        addr: SocketAddr,
    ) -> Result<usize, ClientError> {
        let sub = HttpFlvSubscriber::for_stream(base, stream);
        self.add(None, addr, Role::HttpFlv(Box::new(sub)))
    }

    /// Connections not closed yet.
    pub fn live(&self) -> usize {
        self.live
    }

    /// Bytes read on connection `id` so far.
    pub fn bytes_in(&self, id: usize) -> u64 {
        match self.slots.get(id) {
            Some(Entry::Live(s)) => s.t.bytes_in,
            Some(Entry::Dead { bytes_in }) => *bytes_in,
            None => 0,
        }
    }

    /// Bytes queued on `id` but not yet written.
    pub fn pending_out(&self, id: usize) -> usize {
        match self.slots.get(id) {
            Some(Entry::Live(s)) => s.t.out.len(),
            _ => 0,
        }
    }

    fn live_mut(&mut self, id: usize) -> Option<&mut Slot> {
        match self.slots.get_mut(id) {
            Some(Entry::Live(s)) => Some(s),
            _ => None,
        }
    }

    fn publisher(
        &mut self,
        id: usize,
    ) -> Result<(&mut ClientSession, &mut Transport), ClientError> {
        match self.live_mut(id) {
            Some(Slot {
                role: Role::Publisher(s),
                t,
                started: true,
                ..
            }) => Ok((s, t)),
            _ => Err(ClientError::WrongRole(
                "send on a connection that is not a live publisher",
            )),
        }
    }

    /// Queue `@setDataFrame onMetaData` on publisher `id`.
    pub fn send_metadata(&mut self, id: usize, values: &[Amf0Value]) -> Result<(), ClientError> {
        let (s, t) = self.publisher(id)?;
        s.send_metadata(values, &mut t.out)?;
        self.mark_ready(id);
        Ok(())
    }

    /// Queue one media message on publisher `id` (payload shared).
    pub fn send_media(
        &mut self,
        id: usize,
        kind: MediaKind,
        timestamp: u32,
        payload: &Bytes,
    ) -> Result<(), ClientError> {
        let (s, t) = self.publisher(id)?;
        s.send_media(kind, timestamp, payload, &mut t.out)?;
        self.mark_ready(id);
        Ok(())
    }

    /// Send `FCUnpublish`/`deleteStream` (publisher only).
    pub fn finish(&mut self, id: usize) -> Result<(), ClientError> {
        let (s, t) = self.publisher(id)?;
        s.finish(&mut t.out)?;
        self.mark_ready(id);
        Ok(())
    }

    fn mark_ready(&mut self, id: usize) {
        self.ready.push(id);
    }

    /// Wait up to `timeout` for socket events, process them and report.
    pub fn poll(
        &mut self,
        timeout: Option<Duration>,
        on: &mut dyn FnMut(usize, MultiEvent<'_>),
    ) -> Result<(), ClientError> {
        // Output queued since the last poll: a socket that is already
        // writable gives no new edge, so write now.
        let mut ready = std::mem::take(&mut self.ready);
        for id in ready.drain(..) {
            self.service(id, false, false, on);
        }
        let more: Vec<usize> = self
            .slots
            .iter()
            .filter(|(_, e)| matches!(e, Entry::Live(s) if s.more))
            .map(|(i, _)| i)
            .collect();
        let timeout = if more.is_empty() {
            timeout
        } else {
            Some(Duration::ZERO)
        };
        for id in more {
            self.service(id, true, false, on);
        }
        self.ready = ready;
        if let Err(e) = self.poll.poll(&mut self.events, timeout) {
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(io_err(Step::Media)(e));
            }
        }
        let batch: Vec<(usize, bool, bool)> = self
            .events
            .iter()
            .map(|ev| {
                (
                    ev.token().0,
                    ev.is_readable() || ev.is_read_closed() || ev.is_error(),
                    ev.is_writable() || ev.is_error(),
                )
            })
            .collect();
        for (id, r, w) in batch {
            self.service(id, r, w, on);
        }
        // Setup deadlines.
        let now = Instant::now();
        let late: Vec<(usize, Step)> = self
            .slots
            .iter()
            .filter_map(|(i, e)| match e {
                Entry::Live(s) if !s.started && now >= s.deadline => Some((i, s.step)),
                _ => None,
            })
            .collect();
        for (id, step) in late {
            self.kill(id, ClientError::Timeout(step), on);
        }
        Ok(())
    }

    fn kill(&mut self, id: usize, e: ClientError, on: &mut dyn FnMut(usize, MultiEvent<'_>)) {
        let Some(entry) = self.slots.get_mut(id) else {
            return;
        };
        let bytes_in = match entry {
            Entry::Live(s) => s.t.bytes_in,
            Entry::Dead { .. } => return,
        };
        let Entry::Live(mut slot) = std::mem::replace(entry, Entry::Dead { bytes_in }) else {
            return;
        };
        let peer = slot.t.sock.peer_addr().ok();
        debug!(
            "conn#{id} {peer:?} closed in {}: {e} ({} B in, {} B out)",
            slot.step.name(),
            slot.t.bytes_in,
            slot.t.bytes_out
        );
        let _ = self.poll.registry().deregister(&mut slot.t.sock);
        // Dropping the slot closes the socket.
        drop(slot);
        self.live -= 1;
        on(id, MultiEvent::Closed(&e));
    }

    fn service(
        &mut self,
        id: usize,
        readable: bool,
        writable: bool,
        on: &mut dyn FnMut(usize, MultiEvent<'_>),
    ) {
        if let Err(e) = self.service_inner(id, readable, writable, on) {
            self.kill(id, e, on);
        }
    }

    fn service_inner(
        &mut self,
        id: usize,
        readable: bool,
        writable: bool,
        on: &mut dyn FnMut(usize, MultiEvent<'_>),
    ) -> Result<(), ClientError> {
        let timeout = self.step_timeout;
        let scratch = &mut self.scratch;
        let read_buf = &mut self.read_buf;
        let Some(Entry::Live(slot)) = self.slots.get_mut(id) else {
            return Ok(());
        };
        if writable {
            slot.t.writable = true;
        }
        if !slot.t.connected {
            if !slot.t.writable || !slot.t.check_connected()? {
                return Ok(());
            }
            slot.step = Step::Handshake;
            slot.deadline = Instant::now() + timeout;
        }
        if readable || slot.more {
            let n = slot.t.read(slot.step, read_buf)?;
            slot.more = Transport::read_budget_hit(n);
        }
        if !slot.session_begun && slot.t.drive_handshake()? {
            slot.session_begun = true;
            slot.step = Step::ConnectCommand;
            slot.deadline = Instant::now() + timeout;
            match &mut slot.role {
                Role::Publisher(s) => s.start(&mut slot.t.out),
                Role::Subscriber(s) => s.start(&mut slot.t.out),
                Role::HttpFlv(s) => {
                    slot.step = Step::HttpResponse;
                    s.start(&mut slot.t.out);
                }
            }
        }
        if slot.session_begun && !slot.t.inbuf.is_empty() {
            match &mut slot.role {
                Role::Publisher(_) => feed_publisher(id, slot, scratch, timeout, on)?,
                Role::Subscriber(_) => feed_subscriber(id, slot, on)?,
                Role::HttpFlv(_) => feed_http_flv(id, slot, on)?,
            }
        }
        slot.t.flush(slot.step)?;
        if slot.t.eof {
            if let Role::HttpFlv(s) = &slot.role {
                // The body ends with the connection: cleanly at a tag
                // boundary (the stream ended), or cut.
                s.finish(&slot.t.inbuf)?;
                on(id, MultiEvent::Ended);
            }
            return Err(ClientError::Closed(slot.step));
        }
        Ok(())
    }
}

/// Hand a publisher's input to its session and follow its steps.
fn feed_publisher(
    id: usize,
    slot: &mut Slot,
    scratch: &mut Vec<ClientEvent>,
    timeout: Duration,
    on: &mut dyn FnMut(usize, MultiEvent<'_>),
) -> Result<(), ClientError> {
    let Role::Publisher(s) = &mut slot.role else {
        return Ok(());
    };
    s.handle_input(&mut slot.t.inbuf, scratch, &mut slot.t.out)?;
    for ev in scratch.drain(..) {
        match ev {
            ClientEvent::Connected => {
                slot.step = Step::CreateStream;
                slot.deadline = Instant::now() + timeout;
            }
            ClientEvent::StreamCreated(_) => {
                slot.step = Step::Start;
                slot.deadline = Instant::now() + timeout;
            }
            ClientEvent::PublishStarted => {
                debug!("conn#{id} publishing");
                slot.started = true;
                slot.step = Step::Media;
                on(id, MultiEvent::Started);
            }
            ClientEvent::Error {
                code, description, ..
            } => {
                return Err(ClientError::Rejected {
                    step: slot.step,
                    code,
                    description,
                });
            }
            _ => {}
        }
    }
    Ok(())
}

/// Hand a subscriber's input to its light session; media goes to `on`.
fn feed_subscriber(
    id: usize,
    slot: &mut Slot,
    on: &mut dyn FnMut(usize, MultiEvent<'_>),
) -> Result<(), ClientError> {
    let Role::Subscriber(s) = &mut slot.role else {
        return Ok(());
    };
    let mut rejected = None;
    let mut started = false;
    s.handle_input(&mut slot.t.inbuf, &mut slot.t.out, &mut |ev| match ev {
        LightEvent::Media {
            kind,
            timestamp,
            payload,
        } => on(
            id,
            MultiEvent::Media {
                kind,
                timestamp,
                payload: &payload,
            },
        ),
        LightEvent::Started => started = true,
        LightEvent::Ended => on(id, MultiEvent::Ended),
        LightEvent::Rejected(code) => rejected = Some(code),
    })?;
    if started && !slot.started {
        debug!("conn#{id} playing");
        slot.started = true;
        slot.step = Step::Media;
        on(id, MultiEvent::Started);
    }
    match rejected {
        Some(code) => Err(ClientError::Rejected {
            step: slot.step,
            code,
            description: String::new(),
        }),
        None => Ok(()),
    }
}

/// Hand an HTTP-FLV viewer's input to its parser; media goes to `on`.
fn feed_http_flv(
    id: usize,
    slot: &mut Slot,
    on: &mut dyn FnMut(usize, MultiEvent<'_>),
) -> Result<(), ClientError> {
    let Role::HttpFlv(s) = &mut slot.role else {
        return Ok(());
    };
    // Events before a failure still reach `on`; then the error closes it.
    s.handle_input(&mut slot.t.inbuf, &mut |ev| match ev {
        HttpFlvEvent::Started => {
            debug!("conn#{id} HTTP-FLV 200");
            slot.started = true;
            slot.step = Step::Media;
            on(id, MultiEvent::Started);
        }
        HttpFlvEvent::Media {
            kind,
            timestamp,
            payload,
        } => on(
            id,
            MultiEvent::Media {
                kind,
                timestamp,
                payload: &payload,
            },
        ),
    })?;
    Ok(())
}
