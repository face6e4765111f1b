//! Server-side RTMP session (SKELETON — contract only).
//!
//! Driving order (the server's event loop keeps it):
//! 1. Complete the handshake with [`super::handshake::ServerHandshake`]; the
//!    bytes left in the input buffer after `Done` are the first chunks.
//! 2. Call [`ServerSession::handle_input`] with the connection's inbound
//!    buffer whenever bytes arrive. It decodes every complete message,
//!    answers what it can answer alone (connect, createStream, releaseStream,
//!    FCPublish, acknowledgements, pings, unknown commands) into `out`, and
//!    appends [`ServerEvent`]s for what needs the relay.
//! 3. For `PublishRequested` / `PlayRequested` the driver decides and calls
//!    `accept_publish` / `reject_publish` / `accept_play` (bytes into `out`).
//! 4. Media for a player is written by the driver from shared canonical frames
//!    (csids 4, 6, 7, message stream id 1); the session itself only writes on
//!    csids 2, 3 and 5, so both can share the socket.
//! 5. Notifications to a player (`notify_unpublish`, `notify_publish`, ...)
//!    and pings (`send_ping`) are driver-initiated.

use bytes::{Bytes, BytesMut};

use super::amf0::{Amf0Limits, Amf0Value};
use super::chunk::{ChunkError, ChunkLimits};
use super::command::{CommandError, ConnectParams, StreamName};
use super::message::MessageError;

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
    /// Audio/video from an accepted publisher (payload shared, not copied).
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

/// Server side of one RTMP connection after the handshake.
#[derive(Debug)]
pub struct ServerSession {
    _private: (),
}

impl ServerSession {
    pub fn new(_config: ServerConfig) -> Self {
        unimplemented!()
    }
    /// Decode everything complete in `input`; see the module docs.
    pub fn handle_input(
        &mut self,
        _input: &mut BytesMut,
        _events: &mut Vec<ServerEvent>,
        _out: &mut BytesMut,
    ) -> Result<(), SessionError> {
        unimplemented!()
    }
    pub fn accept_publish(&mut self, _stream_id: u32, _name: &str, _out: &mut BytesMut) {
        unimplemented!()
    }
    /// Publish.BadName (or another code) onStatus; the driver then closes.
    pub fn reject_publish(
        &mut self,
        _stream_id: u32,
        _code: &str,
        _description: &str,
        _out: &mut BytesMut,
    ) {
        unimplemented!()
    }
    /// StreamBegin, Play.Reset, Play.Start, |RtmpSampleAccess.
    pub fn accept_play(&mut self, _stream_id: u32, _name: &str, _out: &mut BytesMut) {
        unimplemented!()
    }
    /// Play.UnpublishNotify and StreamEOF to a player.
    pub fn notify_unpublish(&mut self, _stream_id: u32, _name: &str, _out: &mut BytesMut) {
        unimplemented!()
    }
    /// Play.PublishNotify (and StreamBegin) to a waiting player.
    pub fn notify_publish(&mut self, _stream_id: u32, _name: &str, _out: &mut BytesMut) {
        unimplemented!()
    }
    pub fn send_ping(&mut self, _timestamp: u32, _out: &mut BytesMut) {
        unimplemented!()
    }
    /// Total bytes received (what acknowledgements count).
    pub fn bytes_received(&self) -> u64 {
        unimplemented!()
    }
}
