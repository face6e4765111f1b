//! Server-side RTMP session.
//!
//! Driving order (the server's event loop keeps it):
//! 1. Complete the handshake with [`super::handshake::ServerHandshake`]; the
//!    bytes left in the input buffer after `Done` are the first chunks.
//! 2. Call [`ServerSession::handle_input`] with the connection's inbound
//!    buffer whenever bytes arrive. It decodes every complete message (in
//!    arrival order, however many arrived in one read), answers what it can
//!    answer alone (connect, createStream, releaseStream, FCPublish,
//!    FCUnpublish, getStreamLength, _checkbw, acknowledgements, pings, unknown
//!    commands) into `out`, and appends [`ServerEvent`]s for what needs the
//!    relay. Bytes of an incomplete chunk stay in (or are buffered from) the
//!    input; call again when more arrive.
//! 3. Handle the events **in order**. For `PublishRequested` /
//!    `PlayRequested` the driver decides and calls `accept_publish` /
//!    `reject_publish` / `accept_play` (bytes into `out`) before it looks at
//!    the next event. Media, metadata and `Unpublished` that arrived in the
//!    same read as their `publish` are already in the event list, after the
//!    `PublishRequested`: the session reports media for a stream whose
//!    publish is pending a decision as well as for an accepted one, so a
//!    driver that rejects a publish must ignore the rest of that stream's
//!    events (after `reject_publish` the session stops reporting them).
//! 4. Media for a player is written by the driver from shared canonical frames
//!    (csids 4, 6, 7, message stream id 1); the session itself only writes on
//!    csids 2, 3 and 5, so both can share the socket.
//! 5. Notifications to a player (`notify_unpublish`, `notify_publish`, ...)
//!    and pings (`send_ping`) are driver-initiated.
//! 6. Any `Err` from `handle_input` is a peer protocol violation: close the
//!    connection. Well-formed but unknown commands never produce an `Err`
//!    (they get `_error` when their transaction id is non-zero).
//!
//! Stream state per message stream id:
//!
//! ```text
//!  createStream ──► Idle ──publish──► PublishPending ──accept_publish──► Publishing
//!                    ▲ │                     │ reject_publish                │
//!                    │ │                     ▼                               │
//!                    │ └──play──► PlayPending ──accept_play──► Playing       │
//!                    └──────── FCUnpublish / deleteStream / closeStream ◄────┘
//! ```
//!
//! Limits: at most [`ServerConfig::max_streams`] `createStream` calls per
//! connection; one more is answered with `Err(SessionError::TooManyStreams)`
//! (the driver closes: no real client needs more than a couple of streams, so
//! a peer that asks for more is misbehaving). `publish`/`play` on an id that
//! createStream never returned is accepted, but the number of stream ids in
//! use is capped by `max_streams` as well. Chunk limits come from the config;
//! AMF bodies are decoded with `amf_limits`.
//!
//! Names: every string of a command the server receives is percent-escaped
//! ([`super::amf0::escape`]: `%` -> `%25`, each byte of invalid UTF-8 ->
//! `%XX`, everything else unchanged), so app and stream names, which the
//! driver keys streams by, are an injective image of the peer's bytes: two
//! different names never share a key. [`super::amf0::unescape`] gives the
//! bytes back (for a query string, say).
//!
//! Acknowledgements: once the peer has sent Window Acknowledgement Size `W`,
//! the session writes an Acknowledgement (sequence = bytes received modulo
//! 2^32) every time the bytes consumed from the input since the last
//! acknowledgement reach `W`. Only bytes given to `handle_input` count (not
//! the handshake).

use std::fmt;

use bytes::{Bytes, BytesMut};
use log::{debug, trace};

use super::amf0::{self, Amf0Limits, Amf0Value, Strings};
use super::chunk::{ChunkDecoder, ChunkEncoder, ChunkError, ChunkLimits, RawMessage};
use super::command::{self, Command, CommandError, ConnectParams, StreamName, StreamRef};
use super::message::{
    AggregateIter, MessageError, RtmpMessage, UserControl, CSID_COMMAND, CSID_CONTROL,
    CSID_STREAM_COMMAND, TYPE_COMMAND_AMF0, TYPE_COMMAND_AMF3, TYPE_DATA_AMF0, TYPE_DATA_AMF3,
};
use super::status::*;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Chunk size announced right after connect and used for all output.
    pub out_chunk_size: u32,
    /// Window Acknowledgement Size announced to the peer.
    pub window_ack_size: u32,
    /// Set Peer Bandwidth announced to the peer (dynamic limit type 2).
    pub peer_bandwidth: u32,
    pub chunk_limits: ChunkLimits,
    pub amf_limits: Amf0Limits,
    /// Cap on createStream calls per connection.
    pub max_streams: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            out_chunk_size: 4096,
            window_ack_size: 2_500_000,
            peer_bandwidth: 2_500_000,
            chunk_limits: ChunkLimits::default(),
            amf_limits: Amf0Limits::default(),
            max_streams: 16,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    Audio,
    Video,
}

#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ServerEvent {
    /// connect accepted (already answered with Connect.Success).
    Connected {
        params: ConnectParams,
    },
    /// publish on message stream `stream_id`; answer with accept/reject.
    PublishRequested {
        stream_id: u32,
        app: String,
        name: StreamName,
        kind: String,
    },
    /// play on message stream `stream_id`; answer with accept_play.
    PlayRequested {
        stream_id: u32,
        app: String,
        name: StreamName,
        start: f64,
        duration: f64,
        reset: bool,
    },
    /// Audio/video from an accepted publisher, or from one whose publish is
    /// still pending the driver's decision (payload shared, not copied).
    Media {
        kind: MediaKind,
        stream_id: u32,
        timestamp: u32,
        payload: Bytes,
    },
    /// Metadata from a publisher (`@setDataFrame` stripped): the AMF0 body to
    /// relay as an `onMetaData` data message, and its decoded values.
    Metadata {
        stream_id: u32,
        timestamp: u32,
        values: Vec<Amf0Value>,
        body: Bytes,
    },
    /// The publisher ended (FCUnpublish, deleteStream or closeStream).
    Unpublished {
        stream_id: u32,
    },
    /// The player stopped (deleteStream/closeStream) on a playing stream.
    PlayStopped {
        stream_id: u32,
    },
    Pause {
        stream_id: u32,
        pause: bool,
    },
    /// Answer to our PingRequest.
    PingResponse {
        timestamp: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionError {
    Chunk(ChunkError),
    Message(MessageError),
    /// A command that could not be decoded (bad AMF, name not a string).
    BadCommand(CommandError),
    /// publish/play/createStream before connect.
    NotConnected {
        command: &'static str,
    },
    TooManyStreams {
        limit: u32,
    },
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::Chunk(e) => write!(f, "chunk layer: {e}"),
            SessionError::Message(e) => write!(f, "bad message: {e}"),
            SessionError::BadCommand(e) => write!(f, "undecodable command: {e}"),
            SessionError::NotConnected { command } => {
                write!(f, "{command} before connect")
            }
            SessionError::TooManyStreams { limit } => {
                write!(f, "more than {limit} createStream calls")
            }
        }
    }
}

impl std::error::Error for SessionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SessionError::Chunk(e) => Some(e),
            SessionError::Message(e) => Some(e),
            SessionError::BadCommand(e) => Some(e),
            SessionError::NotConnected { .. } | SessionError::TooManyStreams { .. } => None,
        }
    }
}

impl From<ChunkError> for SessionError {
    fn from(e: ChunkError) -> Self {
        SessionError::Chunk(e)
    }
}

impl From<MessageError> for SessionError {
    fn from(e: MessageError) -> Self {
        SessionError::Message(e)
    }
}

impl From<CommandError> for SessionError {
    fn from(e: CommandError) -> Self {
        SessionError::BadCommand(e)
    }
}

/// What a message stream is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
enum StreamState {
    Idle,
    PublishPending { name: String },
    Publishing { name: String },
    PlayPending { name: String },
    Playing { name: String },
}

#[derive(Debug)]
struct StreamSlot {
    id: u32,
    state: StreamState,
}

/// The 16 bytes of AMF0 string `@setDataFrame` at the front of a data body.
const SET_DATA_FRAME_PREFIX: &[u8] = b"\x02\x00\x0d@setDataFrame";

/// Acknowledgement bookkeeping of one receiving side: counts the bytes
/// received and says when the peer's announced window has been crossed.
/// Shared by the server and client sessions.
#[derive(Debug, Default, Clone)]
pub(crate) struct AckWindow {
    received: u64,
    last_ack_at: u64,
    window: Option<u32>,
    sent: u64,
}

impl AckWindow {
    /// The peer announced its Window Acknowledgement Size.
    pub(crate) fn set_window(&mut self, window: u32) {
        self.window = Some(window);
    }

    /// `consumed` more bytes arrived; `Some(sequence)` when an
    /// Acknowledgement is due (the sequence wraps at 2^32 on the wire).
    pub(crate) fn record(&mut self, consumed: usize) -> Option<u32> {
        self.received = self.received.wrapping_add(consumed as u64);
        let window = u64::from(self.window.filter(|&w| w > 0)?);
        if self.received - self.last_ack_at < window {
            return None;
        }
        self.last_ack_at = self.received;
        self.sent += 1;
        Some(self.received as u32)
    }

    pub(crate) fn received(&self) -> u64 {
        self.received
    }

    pub(crate) fn sent(&self) -> u64 {
        self.sent
    }
}

/// Server side of one RTMP connection after the handshake.
#[derive(Debug)]
pub struct ServerSession {
    config: ServerConfig,
    decoder: ChunkDecoder,
    encoder: ChunkEncoder,
    /// The connect app (query removed) once connected.
    app: Option<String>,
    streams: Vec<StreamSlot>,
    streams_created: u32,
    next_stream_id: u32,
    acks: AckWindow,
    ignored_media: u64,
    /// The rest of an aggregate being handled (bounded work per call).
    aggregate: Option<AggregateIter>,
}

impl ServerSession {
    pub fn new(config: ServerConfig) -> Self {
        let decoder = ChunkDecoder::new(config.chunk_limits);
        ServerSession {
            config,
            decoder,
            encoder: ChunkEncoder::new(),
            app: None,
            streams: Vec::new(),
            streams_created: 0,
            next_stream_id: 1,
            acks: AckWindow::default(),
            ignored_media: 0,
            aggregate: None,
        }
    }

    /// Decode everything complete in `input`; see the module docs.
    pub fn handle_input(
        &mut self,
        input: &mut BytesMut,
        events: &mut Vec<ServerEvent>,
        out: &mut BytesMut,
    ) -> Result<(), SessionError> {
        self.handle_input_limited(input, events, out, usize::MAX)
            .map(|_| ())
    }

    /// Like [`ServerSession::handle_input`], but handles at most
    /// `max_messages` messages, each sub-message of an aggregate counting as
    /// one (an 8 MiB aggregate of empty sub-messages is half a million of
    /// them). Returns `Ok(true)` when it stopped on that limit with work
    /// possibly left (input, or the rest of an aggregate kept in the
    /// session: see [`ServerSession::has_pending_messages`]), so a driver can
    /// serve other connections and come back — and must come back even if no
    /// new bytes arrive. `Ok(false)`: everything complete was handled.
    pub fn handle_input_limited(
        &mut self,
        input: &mut BytesMut,
        events: &mut Vec<ServerEvent>,
        out: &mut BytesMut,
        max_messages: usize,
    ) -> Result<bool, SessionError> {
        let mut handled = 0;
        loop {
            if handled >= max_messages {
                return Ok(true);
            }
            handled += 1;
            if let Some(sub) = self.aggregate.as_mut().and_then(Iterator::next) {
                self.handle_raw(&sub, events, out, false)?;
                continue;
            }
            self.aggregate = None;
            let before = input.len();
            let decoded = self.decoder.decode(input);
            let consumed = before - input.len();
            self.count_received(consumed, out);
            match decoded? {
                Some(raw) => self.handle_raw(&raw, events, out, true)?,
                None => return Ok(false),
            }
        }
    }

    /// True while sub-messages of an aggregate wait for the next
    /// [`ServerSession::handle_input_limited`] call.
    pub fn has_pending_messages(&self) -> bool {
        self.aggregate.as_ref().is_some_and(|a| !a.is_done())
    }

    /// Mark `stream_id` as publishing and answer NetStream.Publish.Start.
    pub fn accept_publish(&mut self, stream_id: u32, name: &str, out: &mut BytesMut) {
        self.slot_mut(stream_id).state = StreamState::Publishing {
            name: name.to_owned(),
        };
        debug!("publish accepted on stream {stream_id}");
        let description = format!("{name} is now published.");
        self.write_status(
            stream_id,
            LEVEL_STATUS,
            CODE_PUBLISH_START,
            &description,
            out,
        );
    }

    /// Publish.BadName (or another code) onStatus; the driver then closes.
    pub fn reject_publish(
        &mut self,
        stream_id: u32,
        code: &str,
        description: &str,
        out: &mut BytesMut,
    ) {
        self.slot_mut(stream_id).state = StreamState::Idle;
        debug!("publish rejected on stream {stream_id}: {code}");
        self.write_status(stream_id, LEVEL_ERROR, code, description, out);
    }

    /// StreamBegin, Play.Reset, Play.Start, |RtmpSampleAccess.
    pub fn accept_play(&mut self, stream_id: u32, name: &str, out: &mut BytesMut) {
        self.slot_mut(stream_id).state = StreamState::Playing {
            name: name.to_owned(),
        };
        debug!("play accepted on stream {stream_id}");
        self.write_user_control(UserControl::StreamBegin(stream_id), out);
        let reset = format!("Playing and resetting {name}.");
        self.write_status(stream_id, LEVEL_STATUS, CODE_PLAY_RESET, &reset, out);
        let start = format!("Started playing {name}.");
        self.write_status(stream_id, LEVEL_STATUS, CODE_PLAY_START, &start, out);
        self.write_amf(
            CSID_STREAM_COMMAND,
            TYPE_DATA_AMF0,
            stream_id,
            &amf_with_name(DATA_SAMPLE_ACCESS, command::sample_access()),
            out,
        );
    }

    /// StreamEOF and Play.UnpublishNotify to a player (nginx-rtmp's order).
    pub fn notify_unpublish(&mut self, stream_id: u32, name: &str, out: &mut BytesMut) {
        self.write_user_control(UserControl::StreamEof(stream_id), out);
        let description = format!("{name} is now unpublished.");
        self.write_status(
            stream_id,
            LEVEL_STATUS,
            CODE_PLAY_UNPUBLISH_NOTIFY,
            &description,
            out,
        );
    }

    /// Play.PublishNotify (and StreamBegin) to a waiting player.
    pub fn notify_publish(&mut self, stream_id: u32, name: &str, out: &mut BytesMut) {
        self.write_user_control(UserControl::StreamBegin(stream_id), out);
        let description = format!("{name} is now published.");
        self.write_status(
            stream_id,
            LEVEL_STATUS,
            CODE_PLAY_PUBLISH_NOTIFY,
            &description,
            out,
        );
    }

    pub fn send_ping(&mut self, timestamp: u32, out: &mut BytesMut) {
        self.write_user_control(UserControl::PingRequest(timestamp), out);
    }

    /// Total bytes received (what acknowledgements count).
    pub fn bytes_received(&self) -> u64 {
        self.acks.received()
    }

    /// Acknowledgements written so far.
    pub fn acks_sent(&self) -> u64 {
        self.acks.sent()
    }

    /// Audio/video messages dropped because their stream was not publishing.
    pub fn ignored_media(&self) -> u64 {
        self.ignored_media
    }

    /// True once `connect` has been answered.
    pub fn is_connected(&self) -> bool {
        self.app.is_some()
    }

    /// True if `stream_id` is an accepted publisher.
    pub fn is_publishing(&self, stream_id: u32) -> bool {
        matches!(
            self.slot(stream_id).map(|s| &s.state),
            Some(StreamState::Publishing { .. })
        )
    }

    /// True if `stream_id` is an accepted player.
    pub fn is_playing(&self, stream_id: u32) -> bool {
        matches!(
            self.slot(stream_id).map(|s| &s.state),
            Some(StreamState::Playing { .. })
        )
    }

    // ---- input side -------------------------------------------------------

    fn count_received(&mut self, consumed: usize, out: &mut BytesMut) {
        if let Some(sequence) = self.acks.record(consumed) {
            trace!("ack {sequence}");
            self.write_control(RtmpMessage::Acknowledgement { sequence }, out);
        }
    }

    fn handle_raw(
        &mut self,
        raw: &RawMessage,
        events: &mut Vec<ServerEvent>,
        out: &mut BytesMut,
        allow_aggregate: bool,
    ) -> Result<(), SessionError> {
        let msg = decode_message(raw, &self.config.amf_limits, Strings::Escaped)?;
        trace!(
            "msg type {} csid {} msid {} ts {} len {}",
            raw.type_id,
            raw.csid,
            raw.stream_id,
            raw.timestamp,
            raw.payload.len()
        );
        match msg {
            RtmpMessage::SetChunkSize(size) => debug!("peer chunk size {size}"),
            RtmpMessage::Abort { csid } => debug!("peer aborted csid {csid}"),
            RtmpMessage::Acknowledgement { sequence } => trace!("peer ack {sequence}"),
            RtmpMessage::WindowAckSize(size) => {
                debug!("peer window ack size {size}");
                self.acks.set_window(size);
            }
            RtmpMessage::SetPeerBandwidth { size, limit_type } => {
                debug!("peer bandwidth {size} type {limit_type} ignored")
            }
            RtmpMessage::UserControl(uc) => self.handle_user_control(uc, events, out),
            RtmpMessage::Audio {
                timestamp,
                stream_id,
                payload,
            } => self.handle_media(MediaKind::Audio, stream_id, timestamp, payload, events),
            RtmpMessage::Video {
                timestamp,
                stream_id,
                payload,
            } => self.handle_media(MediaKind::Video, stream_id, timestamp, payload, events),
            RtmpMessage::Command { stream_id, values } => {
                let cmd = Command::parse(&values)?;
                self.handle_command(cmd, stream_id, events, out)?;
            }
            RtmpMessage::Data {
                timestamp,
                stream_id,
                values,
                payload,
            } => self.handle_data(raw.type_id, timestamp, stream_id, values, payload, events),
            RtmpMessage::Aggregate {
                timestamp,
                stream_id,
                payload,
            } => {
                if !allow_aggregate {
                    debug!("aggregate inside an aggregate ignored");
                    return Ok(());
                }
                // Handled one sub-message at a time by the input loop.
                self.aggregate = Some(AggregateIter::new(timestamp, stream_id, payload)?);
            }
            RtmpMessage::SharedObject { type_id } => {
                debug!("shared object message (type {type_id}) ignored")
            }
            RtmpMessage::Unknown { type_id } => debug!("message type {type_id} ignored"),
        }
        Ok(())
    }

    fn handle_user_control(
        &mut self,
        uc: UserControl,
        events: &mut Vec<ServerEvent>,
        out: &mut BytesMut,
    ) {
        match uc {
            UserControl::PingRequest(ts) => {
                trace!("ping request {ts}");
                self.write_user_control(UserControl::PingResponse(ts), out);
            }
            UserControl::PingResponse(timestamp) => {
                events.push(ServerEvent::PingResponse { timestamp })
            }
            UserControl::SetBufferLength {
                stream_id,
                buffer_ms,
            } => debug!("peer buffer length {buffer_ms} ms on stream {stream_id}"),
            other => debug!("user control {other:?} ignored"),
        }
    }

    fn handle_media(
        &mut self,
        kind: MediaKind,
        stream_id: u32,
        timestamp: u32,
        payload: Bytes,
        events: &mut Vec<ServerEvent>,
    ) {
        if self.accepts_media(stream_id) {
            events.push(ServerEvent::Media {
                kind,
                stream_id,
                timestamp,
                payload,
            });
        } else {
            self.ignored_media += 1;
            debug!(
                "media on stream {stream_id} that is not publishing ignored ({} so far)",
                self.ignored_media
            );
        }
    }

    fn handle_data(
        &mut self,
        type_id: u8,
        timestamp: u32,
        stream_id: u32,
        values: Vec<Amf0Value>,
        payload: Bytes,
        events: &mut Vec<ServerEvent>,
    ) {
        let first = values.first().and_then(Amf0Value::as_str);
        let (meta_values, body) = if first == Some(DATA_SET_DATA_FRAME) {
            let rest = match command::strip_set_data_frame(&values) {
                Some(rest) => rest.to_vec(),
                None => values[1..].to_vec(),
            };
            // Share the received bytes when the body is plain AMF0 that
            // starts with the @setDataFrame string; re-encode otherwise.
            let body = if type_id == TYPE_DATA_AMF0 && payload.starts_with(SET_DATA_FRAME_PREFIX) {
                payload.slice(SET_DATA_FRAME_PREFIX.len()..)
            } else {
                let mut buf = BytesMut::new();
                amf0::encode_all(&rest, &mut buf);
                buf.freeze()
            };
            (rest, body)
        } else if first == Some(DATA_ON_METADATA) {
            let body = if type_id == TYPE_DATA_AMF0 {
                payload
            } else {
                let mut buf = BytesMut::new();
                amf0::encode_all(&values, &mut buf);
                buf.freeze()
            };
            (values, body)
        } else {
            debug!("data message {first:?} on stream {stream_id} ignored");
            return;
        };
        if meta_values.first().and_then(Amf0Value::as_str) != Some(DATA_ON_METADATA) {
            debug!("@setDataFrame without onMetaData on stream {stream_id} ignored");
            return;
        }
        if !self.accepts_media(stream_id) {
            debug!("metadata on stream {stream_id} that is not publishing ignored");
            return;
        }
        events.push(ServerEvent::Metadata {
            stream_id,
            timestamp,
            values: meta_values,
            body,
        });
    }

    fn handle_command(
        &mut self,
        cmd: Command,
        msid: u32,
        events: &mut Vec<ServerEvent>,
        out: &mut BytesMut,
    ) -> Result<(), SessionError> {
        match cmd {
            Command::Connect { tx, params } => {
                if self.app.is_some() {
                    debug!("second connect rejected");
                    if tx != 0.0 {
                        let v = command::connect_rejected(tx, "already connected");
                        self.write_command(CSID_COMMAND, msid, &v, out);
                    }
                    return Ok(());
                }
                self.on_connect(tx, params, events, out);
            }
            Command::CreateStream { tx } => {
                self.require_connected("createStream")?;
                if self.streams_created >= self.config.max_streams {
                    return Err(SessionError::TooManyStreams {
                        limit: self.config.max_streams,
                    });
                }
                self.streams_created += 1;
                let id = self.next_stream_id;
                self.next_stream_id = self.next_stream_id.wrapping_add(1).max(1);
                self.slot_mut(id).state = StreamState::Idle;
                debug!("createStream -> {id}");
                let v = command::result_number(tx, f64::from(id));
                self.write_command(CSID_COMMAND, msid, &v, out);
            }
            Command::ReleaseStream { tx, name } => {
                debug!("releaseStream {:?}", name.name);
                self.answer_null(tx, msid, out);
            }
            Command::FcPublish { tx, name } => {
                debug!("FCPublish {:?}", name.name);
                let description = format!("FCPublish to stream {}.", name.name);
                let v = command::on_fc_publish(CODE_PUBLISH_START, &description);
                self.write_command(CSID_COMMAND, msid, &v, out);
                self.answer_null(tx, msid, out);
            }
            Command::FcUnpublish { tx, name } => {
                debug!("FCUnpublish {:?}", name.name);
                if let Some(id) = self.find_by_name(&name.name) {
                    self.end_stream(id, events);
                }
                let description = format!("FCUnpublish to stream {}.", name.name);
                let v = command::on_fc_unpublish(CODE_UNPUBLISH_SUCCESS, &description);
                self.write_command(CSID_COMMAND, msid, &v, out);
                self.answer_null(tx, msid, out);
            }
            Command::Publish { tx: _, name, kind } => {
                let app = self.require_connected("publish")?;
                self.check_stream_slot(msid)?;
                debug!("publish {:?} ({kind}) on stream {msid}", name.name);
                self.slot_mut(msid).state = StreamState::PublishPending {
                    name: name.name.clone(),
                };
                events.push(ServerEvent::PublishRequested {
                    stream_id: msid,
                    app,
                    name,
                    kind,
                });
            }
            Command::Play {
                tx: _,
                name,
                start,
                duration,
                reset,
            } => {
                let app = self.require_connected("play")?;
                self.check_stream_slot(msid)?;
                debug!("play {:?} on stream {msid}", name.name);
                self.slot_mut(msid).state = StreamState::PlayPending {
                    name: name.name.clone(),
                };
                events.push(ServerEvent::PlayRequested {
                    stream_id: msid,
                    app,
                    name,
                    start,
                    duration,
                    reset,
                });
            }
            Command::DeleteStream { tx: _, stream } => {
                if let Some(id) = self.resolve(&stream, msid) {
                    debug!("deleteStream {id}");
                    self.end_stream(id, events);
                    self.streams.retain(|s| s.id != id);
                }
            }
            Command::CloseStream { tx: _, stream } => {
                if let Some(id) = self.resolve(&stream, msid) {
                    debug!("closeStream {id}");
                    self.end_stream(id, events);
                }
            }
            Command::GetStreamLength { tx, name } => {
                debug!("getStreamLength {:?}", name.name);
                if tx != 0.0 {
                    let v = command::result_number(tx, 0.0);
                    self.write_command(CSID_COMMAND, msid, &v, out);
                }
            }
            Command::Pause {
                tx: _,
                pause,
                position_ms,
            } => {
                debug!("pause {pause} at {position_ms} on stream {msid}");
                let (code, description) = if pause {
                    (CODE_PAUSE_NOTIFY, "Paused.")
                } else {
                    (CODE_UNPAUSE_NOTIFY, "Unpaused.")
                };
                self.write_status(msid, LEVEL_STATUS, code, description, out);
                events.push(ServerEvent::Pause {
                    stream_id: msid,
                    pause,
                });
            }
            Command::ReceiveAudio { tx: _, enable } => {
                debug!("receiveAudio {enable} on stream {msid} (not filtered)")
            }
            Command::ReceiveVideo { tx: _, enable } => {
                debug!("receiveVideo {enable} on stream {msid} (not filtered)")
            }
            Command::CheckBw { tx } => self.answer_null(tx, msid, out),
            Command::Result { tx, .. } => debug!("_result {tx} from client ignored"),
            Command::Error { tx, .. } => debug!("_error {tx} from client ignored"),
            Command::OnStatus { code, .. } => debug!("onStatus {code} from client ignored"),
            Command::Unknown { name, tx } => {
                if tx != 0.0 {
                    debug!("unknown command {name:?} tx {tx}: _error");
                    let v = command::error(tx, CODE_CALL_FAILED, "Method not found.");
                    self.write_command(CSID_COMMAND, msid, &v, out);
                } else {
                    debug!("unknown command {name:?} with tx 0 ignored");
                }
            }
            // Variants a teammate may add to the non-exhaustive enum later.
            #[allow(unreachable_patterns)]
            other => debug!("command {other:?} ignored"),
        }
        Ok(())
    }

    fn on_connect(
        &mut self,
        tx: f64,
        mut params: ConnectParams,
        events: &mut Vec<ServerEvent>,
        out: &mut BytesMut,
    ) {
        if let Some(q) = params.app.find('?') {
            params.app.truncate(q);
        }
        debug!("connect app {:?}", params.app);
        self.app = Some(params.app.clone());
        self.write_control(RtmpMessage::WindowAckSize(self.config.window_ack_size), out);
        self.write_control(
            RtmpMessage::SetPeerBandwidth {
                size: self.config.peer_bandwidth,
                limit_type: 2,
            },
            out,
        );
        self.write_control(RtmpMessage::SetChunkSize(self.config.out_chunk_size), out);
        self.encoder.set_chunk_size(self.config.out_chunk_size);
        let encoding = params.object_encoding.unwrap_or(0.0);
        let v = command::connect_result(tx, encoding);
        self.write_command(CSID_COMMAND, 0, &v, out);
        events.push(ServerEvent::Connected { params });
    }

    /// publish/play on a stream id that createStream never returned still
    /// works (some clients count ids themselves), but such ids count
    /// against `max_streams` too.
    fn check_stream_slot(&self, msid: u32) -> Result<(), SessionError> {
        let limit = self.config.max_streams;
        if self.slot(msid).is_none() && self.streams.len() >= limit as usize {
            return Err(SessionError::TooManyStreams { limit });
        }
        Ok(())
    }

    fn require_connected(&self, command: &'static str) -> Result<String, SessionError> {
        self.app
            .clone()
            .ok_or(SessionError::NotConnected { command })
    }

    /// Which stream a deleteStream/closeStream names.
    fn resolve(&self, stream: &StreamRef, msid: u32) -> Option<u32> {
        match stream {
            StreamRef::Id(id) if *id >= 0.0 && *id <= f64::from(u32::MAX) => {
                let id = *id as u32;
                self.slot(id).map(|s| s.id)
            }
            StreamRef::Id(_) => None,
            StreamRef::Name(name) => self.find_by_name(name),
            StreamRef::None => self.slot(msid).map(|s| s.id),
        }
    }

    fn find_by_name(&self, wanted: &str) -> Option<u32> {
        // A name may come with its query string; compare the bare names.
        let wanted = wanted.split('?').next().unwrap_or(wanted);
        self.streams.iter().find_map(|s| match &s.state {
            StreamState::PublishPending { name }
            | StreamState::Publishing { name }
            | StreamState::PlayPending { name }
            | StreamState::Playing { name }
                if name == wanted =>
            {
                Some(s.id)
            }
            _ => None,
        })
    }

    /// Report the end of whatever `id` was doing and make it idle.
    fn end_stream(&mut self, id: u32, events: &mut Vec<ServerEvent>) {
        let Some(slot) = self.streams.iter_mut().find(|s| s.id == id) else {
            return;
        };
        match std::mem::replace(&mut slot.state, StreamState::Idle) {
            StreamState::PublishPending { .. } | StreamState::Publishing { .. } => {
                events.push(ServerEvent::Unpublished { stream_id: id })
            }
            StreamState::PlayPending { .. } | StreamState::Playing { .. } => {
                events.push(ServerEvent::PlayStopped { stream_id: id })
            }
            StreamState::Idle => {}
        }
    }

    fn accepts_media(&self, stream_id: u32) -> bool {
        matches!(
            self.slot(stream_id).map(|s| &s.state),
            Some(StreamState::Publishing { .. } | StreamState::PublishPending { .. })
        )
    }

    fn slot(&self, id: u32) -> Option<&StreamSlot> {
        self.streams.iter().find(|s| s.id == id)
    }

    fn slot_mut(&mut self, id: u32) -> &mut StreamSlot {
        if let Some(pos) = self.streams.iter().position(|s| s.id == id) {
            return &mut self.streams[pos];
        }
        if id != 0 {
            debug!("stream {id} used without createStream");
        }
        self.streams.push(StreamSlot {
            id,
            state: StreamState::Idle,
        });
        let last = self.streams.len() - 1;
        &mut self.streams[last]
    }

    // ---- output side ------------------------------------------------------

    fn answer_null(&mut self, tx: f64, msid: u32, out: &mut BytesMut) {
        if tx != 0.0 {
            let v = command::result_null(tx);
            self.write_command(CSID_COMMAND, msid, &v, out);
        }
    }

    fn write_status(
        &mut self,
        stream_id: u32,
        level: &str,
        code: &str,
        description: &str,
        out: &mut BytesMut,
    ) {
        let v = command::on_status(level, code, description);
        self.write_command(CSID_STREAM_COMMAND, stream_id, &v, out);
    }

    fn write_command(&mut self, csid: u32, msid: u32, values: &[Amf0Value], out: &mut BytesMut) {
        self.write_amf(csid, TYPE_COMMAND_AMF0, msid, values, out);
    }

    fn write_amf(
        &mut self,
        csid: u32,
        type_id: u8,
        msid: u32,
        values: &[Amf0Value],
        out: &mut BytesMut,
    ) {
        write_amf(&mut self.encoder, csid, type_id, msid, values, out);
    }

    fn write_user_control(&mut self, uc: UserControl, out: &mut BytesMut) {
        self.write_control(RtmpMessage::UserControl(uc), out);
    }

    /// Protocol control and user control messages: csid 2, stream 0, ts 0.
    fn write_control(&mut self, msg: RtmpMessage, out: &mut BytesMut) {
        write_control(&mut self.encoder, msg, out);
    }
}

/// Encode AMF0 `values` as one command/data message (timestamp 0) through
/// `encoder`. Shared by the server and client sessions.
pub(crate) fn write_amf(
    encoder: &mut ChunkEncoder,
    csid: u32,
    type_id: u8,
    msid: u32,
    values: &[Amf0Value],
    out: &mut BytesMut,
) {
    let mut body = BytesMut::new();
    amf0::encode_all(values, &mut body);
    let raw = RawMessage {
        csid,
        timestamp: 0,
        type_id,
        stream_id: msid,
        payload: body.freeze(),
    };
    encoder.encode(&raw, out);
}

/// Encode a protocol control or user control message on csid 2, stream 0,
/// timestamp 0 through `encoder`. Shared by the server and client sessions.
pub(crate) fn write_control(encoder: &mut ChunkEncoder, msg: RtmpMessage, out: &mut BytesMut) {
    let mut raw = msg.encode();
    raw.csid = CSID_CONTROL;
    raw.stream_id = 0;
    raw.timestamp = 0;
    encoder.encode(&raw, out);
}

/// [`RtmpMessage::decode`], but command and data bodies are decoded with
/// the session's AMF limits (the message layer uses the defaults), and the
/// strings of commands as `command_strings` says (data is always lossy: its
/// values may be re-encoded and relayed).
pub(crate) fn decode_message(
    raw: &RawMessage,
    limits: &Amf0Limits,
    command_strings: Strings,
) -> Result<RtmpMessage, MessageError> {
    let amf3 = match raw.type_id {
        TYPE_COMMAND_AMF0 | TYPE_DATA_AMF0 => false,
        TYPE_COMMAND_AMF3 | TYPE_DATA_AMF3 => true,
        _ => return RtmpMessage::decode(raw),
    };
    // AMF3 command/data messages carry AMF0 after a leading 0x00 marker.
    let body = if amf3 && raw.payload.first() == Some(&0) {
        raw.payload.slice(1..)
    } else {
        raw.payload.clone()
    };
    let command = matches!(raw.type_id, TYPE_COMMAND_AMF0 | TYPE_COMMAND_AMF3);
    let strings = if command {
        command_strings
    } else {
        Strings::Lossy
    };
    let values =
        amf0::decode_all_with(&body, limits, strings).map_err(|error| MessageError::Amf0 {
            type_id: raw.type_id,
            error,
        })?;
    Ok(match raw.type_id {
        TYPE_COMMAND_AMF0 | TYPE_COMMAND_AMF3 => RtmpMessage::Command {
            stream_id: raw.stream_id,
            values,
        },
        _ => RtmpMessage::Data {
            timestamp: raw.timestamp,
            stream_id: raw.stream_id,
            values,
            payload: body,
        },
    })
}

/// `[name, values...]` (for data messages such as `|RtmpSampleAccess` when
/// the builder returns only the arguments).
fn amf_with_name(name: &str, values: Vec<Amf0Value>) -> Vec<Amf0Value> {
    if values.first().and_then(Amf0Value::as_str) == Some(name) {
        return values;
    }
    let mut v = Vec::with_capacity(values.len() + 1);
    v.push(Amf0Value::String(name.to_owned()));
    v.extend(values);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_not_connected() {
        let e = SessionError::NotConnected { command: "publish" };
        assert_eq!(e.to_string(), "publish before connect");
    }

    #[test]
    fn display_too_many_streams() {
        let e = SessionError::TooManyStreams { limit: 16 };
        assert_eq!(e.to_string(), "more than 16 createStream calls");
    }

    #[test]
    fn display_layer_errors_name_the_layer() {
        let e = SessionError::Chunk(ChunkError::BadChunkSize(0));
        assert_eq!(e.to_string(), "chunk layer: bad chunk size 0");
        let e = SessionError::Message(MessageError::BadAggregate);
        assert_eq!(e.to_string(), "bad message: malformed aggregate message");
        let e = SessionError::BadCommand(CommandError::NoName);
        assert_eq!(
            e.to_string(),
            "undecodable command: command message without a name string"
        );
        assert!(std::error::Error::source(&e).is_some());
    }

    #[test]
    fn from_conversions_keep_the_layer() {
        assert_eq!(
            SessionError::from(ChunkError::BadChunkSize(0)),
            SessionError::Chunk(ChunkError::BadChunkSize(0))
        );
        assert_eq!(
            SessionError::from(MessageError::BadAggregate),
            SessionError::Message(MessageError::BadAggregate)
        );
        assert_eq!(
            SessionError::from(CommandError::NoTransactionId),
            SessionError::BadCommand(CommandError::NoTransactionId)
        );
    }
}
