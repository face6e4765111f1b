//! One connection as the endpoint sees it: its protocol state, its role on a
//! stream key, its pending output and its clocks. No socket: the driver keeps
//! that, under the same [`ConnId`].

use core::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;

use bytes::BytesMut;

use crate::config::AppSettings;
use crate::error::CloseReason;
use crate::proto::command::{EnhancedCaps, StreamName};
use crate::proto::handshake::ServerHandshake;
use crate::proto::session::ServerSession;
use crate::record::RecordingId;

use super::id::ConnId;
use super::outbox::Outbox;

/// The protocol the connection speaks. An accepted RTMP connection moves
/// from `Handshake` to `Rtmp`; a connection from the HTTP listener is
/// `Http` for its whole life.
#[derive(Debug)]
pub enum Protocol {
    Handshake(Box<ServerHandshake>),
    Rtmp(Box<ServerSession>),
    Http(HttpConn),
    /// An outgoing relay connection (pull), ours as the client.
    Relay(Box<super::relay::RelayClient>),
}

/// Where an HTTP connection is between requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpPhase {
    /// Reading a request head that started at this time (or, before any
    /// byte arrived, the time of accept): the head deadline runs.
    Head { since_ms: u64 },
    /// Kept alive after an answer given at this time: the idle limit runs.
    Idle { since_ms: u64 },
    /// An HTTP-FLV request waits for its `on_play` hook.
    Waiting,
    /// Streaming HTTP-FLV: later input is ignored.
    Streaming,
}

/// An HTTP connection's state.
#[derive(Debug, Clone, Copy)]
pub struct HttpConn {
    pub phase: HttpPhase,
    /// Requests answered on this connection.
    pub requests: u32,
}

/// What the connection does on a stream key.
#[derive(Debug, Clone)]
pub enum Role {
    /// Connected, neither publishing nor playing yet: the command deadline runs.
    New,
    /// Published or played before and stopped; no deadline but the pings.
    Idle,
    /// Asked to publish or play; waiting for a hook's answer (the command
    /// deadline still runs).
    Waiting,
    Publisher(Publishing),
    Player(Playing),
}

#[derive(Debug, Clone)]
pub struct Publishing {
    pub key: Rc<str>,
    pub stream_id: u32,
    /// The stream name and its query (hook arguments).
    pub name: StreamName,
    pub app: Arc<AppSettings>,
    pub last_media_ms: u64,
    pub recording: Option<RecordingId>,
}

#[derive(Debug, Clone)]
pub struct Playing {
    pub key: Rc<str>,
    pub name: StreamName,
    pub app: Arc<AppSettings>,
    pub stream_id: u32,
    /// The connection's `bytes_out` when it started playing (what was sent
    /// before, e.g. an HTTP answer on the same keep-alive connection, is not
    /// the stream's).
    pub bytes_out_before: u64,
}

/// The connect command's fields that hooks send, and its E-RTMP
/// capabilities (the API shows them; `capsEx` Reconnect decides whether a
/// reconnect request may be sent).
#[derive(Debug, Clone, Default)]
pub struct ConnectInfo {
    pub app: String,
    pub flashver: String,
    pub swfurl: String,
    pub tcurl: String,
    pub pageurl: String,
    pub caps: EnhancedCaps,
}

/// Where the connection is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lifecycle {
    Open,
    /// Close once the output is written (e.g. after Publish.BadName).
    CloseAfterFlush(CloseReason),
    /// Being removed at the end of the batch.
    Closing(CloseReason),
}

/// Counters logged when the connection closes.
#[derive(Debug, Default, Clone, Copy)]
pub struct ConnStats {
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Frames re-chunked for a player on a message stream id other than 1.
    pub slow_path_frames: u64,
    pub media_in: u64,
}

/// Membership in the endpoint's work lists (each id is on a list at most once).
#[derive(Debug, Default, Clone, Copy)]
pub struct Lists {
    /// On the flush list.
    pub dirty: bool,
    /// Waiting for write coalescing.
    pub deferred: bool,
    /// Holds output that must not wait for write coalescing.
    pub urgent: bool,
    /// Complete input left unprocessed by the per-turn message limit.
    pub pending_input: bool,
}

#[derive(Debug)]
pub struct Conn {
    pub id: ConnId,
    pub peer: SocketAddr,
    pub proto: Protocol,
    pub role: Role,
    pub life: Lifecycle,
    pub inbound: BytesMut,
    pub out: Outbox,
    pub lists: Lists,
    pub accepted_ms: u64,
    pub last_recv_ms: u64,
    pub ping_sent_ms: Option<u64>,
    /// The query of the connect URL (`tcUrl` or `app`), for keys.
    pub connect_query: Option<String>,
    /// What `connect` said, for hooks.
    pub connect: Option<Box<ConnectInfo>>,
    pub stats: ConnStats,
    /// A player of a pulled stream waits until this time for it.
    pub wait_deadline: Option<u64>,
    /// An E-RTMP reconnect request was sent (once per connection).
    pub reconnect_requested: bool,
    /// Messages this connection may still have handled in this loop turn
    /// (reads decoded in place draw on it; `process` ends the turn).
    pub turn_budget: usize,
}

impl Conn {
    pub fn new(id: ConnId, peer: SocketAddr, now_ms: u64) -> Conn {
        let proto = Protocol::Handshake(Box::new(ServerHandshake::new(now_ms as u32)));
        Conn::with_protocol(id, peer, proto, now_ms)
    }

    pub fn with_protocol(id: ConnId, peer: SocketAddr, proto: Protocol, now_ms: u64) -> Conn {
        Conn {
            id,
            peer,
            proto,
            role: Role::New,
            life: Lifecycle::Open,
            inbound: BytesMut::new(),
            out: Outbox::default(),
            lists: Lists::default(),
            accepted_ms: now_ms,
            last_recv_ms: now_ms,
            ping_sent_ms: None,
            connect_query: None,
            connect: None,
            stats: ConnStats::default(),
            wait_deadline: None,
            reconnect_requested: false,
            turn_budget: super::MESSAGES_PER_TURN,
        }
    }

    pub fn is_open(&self) -> bool {
        !matches!(self.life, Lifecycle::Closing(_))
    }

    /// An outgoing relay connection.
    pub fn is_relay(&self) -> bool {
        matches!(self.proto, Protocol::Relay(_))
    }

    /// A connection from the HTTP listener.
    pub fn is_http(&self) -> bool {
        matches!(self.proto, Protocol::Http(_))
    }

    pub fn is_publisher(&self) -> bool {
        matches!(self.role, Role::Publisher(_))
    }

    /// The message stream id this connection plays on, if it plays.
    pub fn play_stream_id(&self) -> Option<u32> {
        match &self.role {
            Role::Player(p) => Some(p.stream_id),
            _ => None,
        }
    }

    /// The message stream id of the current role, if any.
    pub fn role_stream_id(&self) -> Option<u32> {
        match &self.role {
            Role::Publisher(p) => Some(p.stream_id),
            Role::Player(p) => Some(p.stream_id),
            Role::New | Role::Idle | Role::Waiting => None,
        }
    }
}
