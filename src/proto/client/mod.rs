//! Client-side RTMP session (publish or play), for the client binary, the
//! benchmark harness and the tests.
//!
//! Driving order (the caller keeps it):
//! 1. Complete the handshake with [`super::handshake::ClientHandshake`]; the
//!    bytes left in the input buffer after `Done` are the first chunks.
//! 2. Call [`ClientSession::start`] once: it writes `connect` (transaction 1),
//!    then Set Chunk Size (if `out_chunk_size` is not 128) and Window
//!    Acknowledgement Size (if configured).
//! 3. Call [`ClientSession::handle_input`] whenever bytes arrive. It decodes
//!    every complete message, appends [`ClientEvent`]s and writes what the
//!    protocol needs into `out`: on connect's `_result` a publisher sends
//!    `releaseStream`, `FCPublish` and `createStream`, a player only
//!    `createStream` (as ffmpeg does); on createStream's `_result` it sends
//!    `publish(name, "live")`, or `play(name, -2)` followed by Set Buffer
//!    Length. Acknowledgements (once the server announced its window) and
//!    ping responses are written here too.
//! 4. A publisher waits for [`ClientEvent::PublishStarted`], then calls
//!    [`ClientSession::send_metadata`] / [`ClientSession::send_media`] as
//!    often as it likes, and [`ClientSession::finish`] at the end
//!    (`FCUnpublish` + `deleteStream`). A player receives
//!    [`ClientEvent::Media`] / [`ClientEvent::Metadata`] after
//!    [`ClientEvent::PlayStarted`]; `finish` sends `deleteStream`.
//! 5. `connect` carries the E-RTMP v2 capabilities of
//!    [`ClientConfig::caps`] (by default `fourCcList` with `"*"` and every
//!    FourCC we know by name, both FourCC info maps with CanForward, and
//!    `capsEx` [`CLIENT_CAPS_EX`]); what the server states back is
//!    [`ClientSession::server_caps`]. A server's
//!    `NetConnection.Connect.ReconnectRequest` is
//!    [`ClientEvent::ReconnectRequest`]; the session does not act on it.
//! 6. `Err` from `handle_input` is a protocol violation by the server (bad
//!    chunks or undecodable AMF): close the connection. A refusal by the
//!    server (`_error`, onStatus with level `error`) is an
//!    [`ClientEvent::Error`], not an `Err`.
//!
//! ```text
//!  start ──► Connecting ──_result(connect)──► CreatingStream ──_result──► Requested
//!                                                                          │ onStatus
//!                                                                          ▼ Publish.Start / Play.Start
//!                                                                        Active ──finish──► Finished
//! ```

mod input;

pub use input::resolve_tc_url;

use std::fmt;

use bytes::{Buf, Bytes, BytesMut};
use log::{debug, trace};

use super::amf0::{self, Amf0Limits, Amf0Value, Strings};
use super::chunk::{
    ChunkDecoder, ChunkEncoder, ChunkError, ChunkLimits, InputBuf, RawMessage, DEFAULT_CHUNK_SIZE,
};
use super::command::{self, Command, CommandError, EnhancedCaps};
use super::message::{
    MessageError, RtmpMessage, UserControl, CSID_AUDIO, CSID_COMMAND, CSID_DATA,
    CSID_STREAM_COMMAND, CSID_VIDEO, TYPE_AUDIO, TYPE_COMMAND_AMF0, TYPE_DATA_AMF0, TYPE_VIDEO,
};
use super::session::{self, decode_message, AckWindow, MediaKind};
use super::status::{
    CODE_CONNECT_RECONNECT_REQUEST, CODE_PLAY_START, CODE_PUBLISH_START, DATA_ON_METADATA,
    DATA_SET_DATA_FRAME, LEVEL_ERROR,
};

/// What the client does once connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientMode {
    Publish,
    Play,
}

#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Application, e.g. `live` (may carry a query string).
    pub app: String,
    /// `tcUrl` sent in connect, e.g. `rtmp://host:1935/live`.
    pub tc_url: String,
    /// Stream name, with its query string if any (`cap?key=v`).
    pub stream: String,
    pub mode: ClientMode,
    /// Chunk size for our output; announced with Set Chunk Size after connect
    /// when it differs from 128.
    pub out_chunk_size: u32,
    /// Window Acknowledgement Size to announce after connect (the server then
    /// acknowledges every that many bytes); `None` sends nothing.
    pub window_ack_size: Option<u32>,
    /// Buffer length (ms) announced with Set Buffer Length when playing.
    pub buffer_ms: u32,
    pub chunk_limits: ChunkLimits,
    pub amf_limits: Amf0Limits,
    /// flashVer sent in `connect` instead of the default (relays add their hop count).
    pub flash_ver: Option<String>,
    /// E-RTMP capabilities announced in `connect`; the default is
    /// [`EnhancedCaps::client`] with [`CLIENT_CAPS_EX`]. Empty caps send a
    /// legacy connect. Announce [`command::CAPS_EX_RECONNECT`] only if the
    /// caller acts on [`ClientEvent::ReconnectRequest`].
    pub caps: EnhancedCaps,
}

/// `capsEx` this crate's client announces by default: Reconnect (a
/// [`ClientEvent::ReconnectRequest`] reaches the caller), Multitrack and
/// ModEx (FLV tags are moved whole, never parsed past their header).
pub const CLIENT_CAPS_EX: u32 =
    command::CAPS_EX_RECONNECT | command::CAPS_EX_MULTITRACK | command::CAPS_EX_MOD_EX;

impl ClientConfig {
    /// A config with the usual defaults: chunk size 4096, no window
    /// announcement, 3000 ms buffer.
    pub fn new(app: &str, tc_url: &str, stream: &str, mode: ClientMode) -> Self {
        ClientConfig {
            app: app.to_owned(),
            tc_url: tc_url.to_owned(),
            stream: stream.to_owned(),
            mode,
            out_chunk_size: 4096,
            window_ack_size: None,
            buffer_ms: 3000,
            chunk_limits: ChunkLimits::default(),
            amf_limits: Amf0Limits::default(),
            flash_ver: None,
            caps: EnhancedCaps::client(CLIENT_CAPS_EX),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// connect answered with `_result`.
    Connected,
    /// createStream answered with this message stream id.
    StreamCreated(u32),
    /// onStatus NetStream.Publish.Start.
    PublishStarted,
    /// onStatus NetStream.Play.Start.
    PlayStarted,
    /// E-RTMP onStatus NetConnection.Connect.ReconnectRequest: the server
    /// asks us to reconnect, to `tc_url` if given (absolute, or relative to
    /// our tcUrl), else to the same tcUrl. It keeps serving this connection
    /// until we leave: finish at a convenient point (a keyframe), then
    /// connect again. Reported instead of a `Status` event.
    ReconnectRequest {
        description: String,
        tc_url: Option<String>,
    },
    /// Every onStatus whose level is not `error` (Start codes included).
    Status {
        level: String,
        code: String,
        description: String,
    },
    /// Audio/video on our stream (payload shared, not copied).
    Media {
        kind: MediaKind,
        timestamp: u32,
        payload: Bytes,
    },
    /// onMetaData (`@setDataFrame` stripped if present): decoded values
    /// starting with "onMetaData", and their AMF0 bytes.
    Metadata {
        values: Vec<Amf0Value>,
        body: Bytes,
    },
    /// Any other data message on our stream (onCuePoint, onTextData, ...):
    /// decoded values (starting with the handler name) and their AMF0 bytes.
    Data {
        timestamp: u32,
        values: Vec<Amf0Value>,
        body: Bytes,
    },
    StreamBegin(u32),
    StreamEof(u32),
    /// `_error` for one of our transactions (`tx` non-zero), or an onStatus
    /// with level `error` (`tx` 0).
    Error {
        tx: f64,
        code: String,
        description: String,
    },
    /// Answer to our PingRequest.
    PingResponse {
        timestamp: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientError {
    Chunk(ChunkError),
    Message(MessageError),
    /// A command from the server that could not be decoded.
    BadCommand(CommandError),
    /// A method called in the wrong state (e.g. `send_media` before the
    /// publish started).
    NotReady {
        action: &'static str,
    },
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Chunk(e) => write!(f, "chunk layer: {e}"),
            ClientError::Message(e) => write!(f, "bad message: {e}"),
            ClientError::BadCommand(e) => write!(f, "undecodable command: {e}"),
            ClientError::NotReady { action } => write!(f, "{action} called before it is allowed"),
        }
    }
}

impl std::error::Error for ClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ClientError::Chunk(e) => Some(e),
            ClientError::Message(e) => Some(e),
            ClientError::BadCommand(e) => Some(e),
            ClientError::NotReady { .. } => None,
        }
    }
}

impl From<ChunkError> for ClientError {
    fn from(e: ChunkError) -> Self {
        ClientError::Chunk(e)
    }
}

impl From<MessageError> for ClientError {
    fn from(e: MessageError) -> Self {
        ClientError::Message(e)
    }
}

impl From<CommandError> for ClientError {
    fn from(e: CommandError) -> Self {
        ClientError::BadCommand(e)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    New,
    Connecting,
    CreatingStream,
    /// publish/play sent, waiting for its Start status.
    Requested,
    Active,
    Finished,
}

/// Client side of one RTMP connection after the handshake.
#[derive(Debug)]
pub struct ClientSession {
    config: ClientConfig,
    decoder: ChunkDecoder,
    encoder: ChunkEncoder,
    state: State,
    next_tx: f64,
    connect_tx: f64,
    create_tx: f64,
    stream_id: u32,
    acks: AckWindow,
    /// What the server stated in the connect `_result` properties.
    server_caps: EnhancedCaps,
}

impl ClientSession {
    pub fn new(config: ClientConfig) -> Self {
        let decoder = ChunkDecoder::new(config.chunk_limits);
        ClientSession {
            config,
            decoder,
            encoder: ChunkEncoder::new(),
            state: State::New,
            next_tx: 1.0,
            connect_tx: 0.0,
            create_tx: 0.0,
            stream_id: 0,
            acks: AckWindow::default(),
            server_caps: EnhancedCaps::default(),
        }
    }

    /// Write `connect` (and our Set Chunk Size / Window Ack Size).
    pub fn start(&mut self, out: &mut BytesMut) {
        if self.state != State::New {
            debug!("client start called twice");
            return;
        }
        self.connect_tx = self.take_tx();
        let publisher = self.config.mode == ClientMode::Publish;
        let values = command::connect_with(
            self.connect_tx,
            &self.config.app,
            &self.config.tc_url,
            publisher,
            self.config.flash_ver.as_deref(),
            &self.config.caps,
        );
        self.write_amf(CSID_COMMAND, TYPE_COMMAND_AMF0, 0, &values, out);
        if self.config.out_chunk_size != DEFAULT_CHUNK_SIZE {
            self.write_control(RtmpMessage::SetChunkSize(self.config.out_chunk_size), out);
            self.encoder.set_chunk_size(self.config.out_chunk_size);
        }
        if let Some(w) = self.config.window_ack_size {
            self.write_control(RtmpMessage::WindowAckSize(w), out);
        }
        self.state = State::Connecting;
    }

    /// Decode everything complete in `input`: a `BytesMut` the caller
    /// appends to, or a read buffer decoded where it lies (what is left of
    /// it, a chunk cut by the read, is the caller's to keep); see the
    /// module docs.
    pub fn handle_input<B: InputBuf>(
        &mut self,
        input: &mut B,
        events: &mut Vec<ClientEvent>,
        out: &mut BytesMut,
    ) -> Result<(), ClientError> {
        loop {
            let before = input.remaining();
            let decoded = self.decoder.decode(input);
            let consumed = before - input.remaining();
            self.count_received(consumed, out);
            match decoded? {
                Some(raw) => self.handle_raw(&raw, events, out)?,
                None => return Ok(()),
            }
        }
    }

    /// Send `@setDataFrame onMetaData <values...>` on our stream. `values`
    /// are the onMetaData arguments (usually one ECMA array).
    pub fn send_metadata(
        &mut self,
        values: &[Amf0Value],
        out: &mut BytesMut,
    ) -> Result<(), ClientError> {
        self.require_publishing("send_metadata")?;
        let mut all = Vec::with_capacity(values.len() + 2);
        all.push(Amf0Value::string(DATA_SET_DATA_FRAME));
        all.push(Amf0Value::string(DATA_ON_METADATA));
        all.extend_from_slice(values);
        self.write_amf(CSID_DATA, TYPE_DATA_AMF0, self.stream_id, &all, out);
        Ok(())
    }

    /// Send a data message other than onMetaData (`onCuePoint`,
    /// `onTextData`, ...) on our stream at `timestamp`: `values` start with
    /// the handler name.
    pub fn send_data(
        &mut self,
        timestamp: u32,
        values: &[Amf0Value],
        out: &mut BytesMut,
    ) -> Result<(), ClientError> {
        self.require_publishing("send_data")?;
        let mut body = BytesMut::new();
        amf0::encode_all(values, &mut body);
        let msg = RawMessage {
            csid: CSID_DATA,
            timestamp,
            type_id: TYPE_DATA_AMF0,
            stream_id: self.stream_id,
            payload: body.freeze(),
        };
        self.encoder.encode(&msg, out);
        Ok(())
    }

    /// Send one audio or video message (the payload is shared, not copied).
    pub fn send_media(
        &mut self,
        kind: MediaKind,
        timestamp: u32,
        payload: &Bytes,
        out: &mut BytesMut,
    ) -> Result<(), ClientError> {
        self.require_publishing("send_media")?;
        let (csid, type_id) = match kind {
            MediaKind::Audio => (CSID_AUDIO, TYPE_AUDIO),
            MediaKind::Video => (CSID_VIDEO, TYPE_VIDEO),
        };
        let raw = RawMessage {
            csid,
            timestamp,
            type_id,
            stream_id: self.stream_id,
            payload: payload.clone(),
        };
        self.encoder.encode(&raw, out);
        Ok(())
    }

    /// Publisher: `FCUnpublish` + `deleteStream`; player: `deleteStream`.
    pub fn finish(&mut self, out: &mut BytesMut) -> Result<(), ClientError> {
        if self.stream_id == 0 || self.state == State::Finished {
            return Err(ClientError::NotReady { action: "finish" });
        }
        if self.config.mode == ClientMode::Publish {
            let tx = self.take_tx();
            let name = Amf0Value::String(self.config.stream.clone());
            let v = command::simple("FCUnpublish", tx, vec![name]);
            self.write_amf(CSID_COMMAND, TYPE_COMMAND_AMF0, 0, &v, out);
        }
        let tx = self.take_tx();
        let v = command::delete_stream(tx, f64::from(self.stream_id));
        self.write_amf(CSID_COMMAND, TYPE_COMMAND_AMF0, 0, &v, out);
        self.state = State::Finished;
        Ok(())
    }

    /// Send a PingRequest; the server's answer is a `PingResponse` event.
    pub fn send_ping(&mut self, timestamp: u32, out: &mut BytesMut) {
        self.write_control(
            RtmpMessage::UserControl(UserControl::PingRequest(timestamp)),
            out,
        );
    }

    /// Send an arbitrary command on the connection (stream 0, csid 3): for
    /// calls this session does not model. `values` = name, tx, object, args.
    pub fn send_command(&mut self, values: &[Amf0Value], out: &mut BytesMut) {
        self.write_amf(CSID_COMMAND, TYPE_COMMAND_AMF0, 0, values, out);
    }

    /// The message stream id from createStream (0 before).
    pub fn stream_id(&self) -> u32 {
        self.stream_id
    }

    /// True between the Start status and `finish`.
    pub fn is_active(&self) -> bool {
        self.state == State::Active
    }

    pub fn bytes_received(&self) -> u64 {
        self.acks.received()
    }

    /// The E-RTMP capabilities the server stated in its connect `_result`
    /// (empty for a legacy server, or before connect is answered).
    pub fn server_caps(&self) -> &EnhancedCaps {
        &self.server_caps
    }

    pub fn acks_sent(&self) -> u64 {
        self.acks.sent()
    }

    // ---- input side -------------------------------------------------------

    fn after_connect(&mut self, out: &mut BytesMut) {
        if self.config.mode == ClientMode::Publish {
            let name = Amf0Value::String(self.config.stream.clone());
            for call in ["releaseStream", "FCPublish"] {
                let tx = self.take_tx();
                let v = command::simple(call, tx, vec![name.clone()]);
                self.write_amf(CSID_COMMAND, TYPE_COMMAND_AMF0, 0, &v, out);
            }
        }
        self.create_tx = self.take_tx();
        let v = command::create_stream(self.create_tx);
        self.write_amf(CSID_COMMAND, TYPE_COMMAND_AMF0, 0, &v, out);
        self.state = State::CreatingStream;
    }

    fn request_stream(&mut self, out: &mut BytesMut) {
        let tx = self.take_tx();
        let name = self.config.stream.clone();
        let sid = self.stream_id;
        match self.config.mode {
            ClientMode::Publish => {
                let v = command::publish(tx, &name, "live");
                self.write_amf(CSID_STREAM_COMMAND, TYPE_COMMAND_AMF0, sid, &v, out);
            }
            ClientMode::Play => {
                let v = command::play(tx, &name, -2.0);
                self.write_amf(CSID_STREAM_COMMAND, TYPE_COMMAND_AMF0, sid, &v, out);
                let buffer = UserControl::SetBufferLength {
                    stream_id: sid,
                    buffer_ms: self.config.buffer_ms,
                };
                self.write_control(RtmpMessage::UserControl(buffer), out);
            }
        }
        self.state = State::Requested;
    }

    fn require_publishing(&self, action: &'static str) -> Result<(), ClientError> {
        if self.config.mode == ClientMode::Publish && self.state == State::Active {
            Ok(())
        } else {
            Err(ClientError::NotReady { action })
        }
    }

    fn take_tx(&mut self) -> f64 {
        let tx = self.next_tx;
        self.next_tx += 1.0;
        tx
    }

    // ---- output side ------------------------------------------------------

    fn write_amf(
        &mut self,
        csid: u32,
        type_id: u8,
        msid: u32,
        values: &[Amf0Value],
        out: &mut BytesMut,
    ) {
        session::write_amf(&mut self.encoder, csid, type_id, msid, values, out);
    }

    fn write_control(&mut self, msg: RtmpMessage, out: &mut BytesMut) {
        session::write_control(&mut self.encoder, msg, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnect_tc_url_resolution() {
        let cur = "rtmp://a.example:1935/live";
        assert_eq!(resolve_tc_url(cur, None), cur);
        assert_eq!(resolve_tc_url(cur, Some("")), cur);
        assert_eq!(resolve_tc_url(cur, Some("rtmps://b/app")), "rtmps://b/app");
        assert_eq!(
            resolve_tc_url(cur, Some("//192.0.2.0/realtimeapp")),
            "rtmp://192.0.2.0/realtimeapp"
        );
        assert_eq!(
            resolve_tc_url(cur, Some("/realtimeapp")),
            "rtmp://a.example:1935/realtimeapp"
        );
        assert_eq!(
            resolve_tc_url(cur, Some("other")),
            "rtmp://a.example:1935/other"
        );
        assert_eq!(resolve_tc_url("rtmp://h", Some("x")), "rtmp://h/x");
    }

    #[test]
    fn display_not_ready() {
        let e = ClientError::NotReady {
            action: "send_media",
        };
        assert_eq!(e.to_string(), "send_media called before it is allowed");
    }

    #[test]
    fn display_layer_errors_name_the_layer() {
        let e = ClientError::Chunk(ChunkError::BadChunkSize(0));
        assert_eq!(e.to_string(), "chunk layer: bad chunk size 0");
        let e = ClientError::Message(MessageError::BadAggregate);
        assert_eq!(e.to_string(), "bad message: malformed aggregate message");
        let e = ClientError::BadCommand(CommandError::NoName);
        assert_eq!(
            e.to_string(),
            "undecodable command: command message without a name string"
        );
        assert!(std::error::Error::source(&e).is_some());
    }

    #[test]
    fn from_conversions_keep_the_layer() {
        assert_eq!(
            ClientError::from(ChunkError::BadChunkSize(0)),
            ClientError::Chunk(ChunkError::BadChunkSize(0))
        );
        assert_eq!(
            ClientError::from(CommandError::NoName),
            ClientError::BadCommand(CommandError::NoName)
        );
    }
}
