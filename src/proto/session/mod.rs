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
//! 5. Notifications to a player (`notify_unpublish`, `notify_publish`, ...),
//!    pings (`send_ping`) and the E-RTMP reconnect request
//!    (`send_reconnect_request`) are driver-initiated.
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
//! AMF bodies are decoded with `amf_limits`. Work per call:
//! [`ServerSession::handle_input_limited`] counts every sub-message of an
//! aggregate toward its cap and keeps the rest of the aggregate for the next
//! call ([`ServerSession::has_pending_messages`]), so one call's events stay
//! bounded however the peer packs its messages.
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

mod acks;
mod commands;
mod error;
mod input;
mod output;

use bytes::{Buf, Bytes, BytesMut};
use log::debug;

use super::amf0::{self, Amf0Limits, Amf0Value, Strings};
use super::chunk::{ChunkDecoder, ChunkEncoder, ChunkLimits, InputBuf, RawMessage};
use super::command::{self, Command, ConnectParams, StreamName, StreamRef};
use super::message::{
    AggregateIter, MessageError, RtmpMessage, UserControl, CSID_COMMAND, CSID_CONTROL,
    CSID_STREAM_COMMAND, TYPE_COMMAND_AMF0, TYPE_COMMAND_AMF3, TYPE_DATA_AMF0, TYPE_DATA_AMF3,
};
use super::status::*;

pub(crate) use acks::AckWindow;
pub use error::SessionError;
use output::amf_with_name;
pub(crate) use output::{decode_message, write_amf, write_control};

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
    /// Report `connect` as [`ServerEvent::ConnectRequested`] and answer it
    /// only when the driver calls [`ServerSession::accept_connect`] or
    /// [`ServerSession::reject_connect`] (an `on_connect` hook decides).
    pub defer_connect: bool,
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
            defer_connect: false,
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
    /// connect received with `defer_connect`: answer with
    /// [`ServerSession::accept_connect`] or [`ServerSession::reject_connect`].
    ConnectRequested {
        params: ConnectParams,
    },
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
    /// Any other data message from a publisher (onCuePoint, onTextData,
    /// onCaptionInfo, `@setDataFrame` of something else than onMetaData):
    /// the AMF0 body (starting with the handler name) to relay in order.
    Data {
        stream_id: u32,
        timestamp: u32,
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
    /// A deferred connect's transaction id and object encoding.
    pending_connect: Option<(f64, f64)>,
    /// The client announced E-RTMP capabilities in connect: the connect
    /// `_result` states ours ([`command::EnhancedCaps::server`]).
    enhanced: bool,
}

impl ServerSession {
    pub fn new(config: ServerConfig) -> Self {
        let decoder = ChunkDecoder::new(config.chunk_limits);
        ServerSession {
            config,
            decoder,
            encoder: ChunkEncoder::new(),
            app: None,
            pending_connect: None,
            enhanced: false,
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
    pub fn handle_input_limited<B: InputBuf>(
        &mut self,
        input: &mut B,
        events: &mut Vec<ServerEvent>,
        out: &mut BytesMut,
        max_messages: usize,
    ) -> Result<bool, SessionError> {
        let mut budget = max_messages;
        self.handle_input_budget(input, events, out, &mut budget)
    }

    /// [`ServerSession::handle_input_limited`] drawing on a budget the caller
    /// keeps across calls (one loop turn's, spread over several reads):
    /// each message handled takes one from it.
    pub fn handle_input_budget<B: InputBuf>(
        &mut self,
        input: &mut B,
        events: &mut Vec<ServerEvent>,
        out: &mut BytesMut,
        budget: &mut usize,
    ) -> Result<bool, SessionError> {
        loop {
            if *budget == 0 {
                return Ok(true);
            }
            *budget -= 1;
            if let Some(sub) = self.aggregate.as_mut().and_then(Iterator::next) {
                self.handle_raw(&sub, events, out, false)?;
                continue;
            }
            self.aggregate = None;
            let before = input.remaining();
            let decoded = self.decoder.decode(input);
            let consumed = before - input.remaining();
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
}
