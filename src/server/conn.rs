//! One client connection as the loop sees it: socket, protocol state, role,
//! output queue and readiness flags.

use std::net::SocketAddr;
use std::rc::Rc;

use bytes::BytesMut;
use mio::net::TcpStream;

use crate::error::CloseReason;
use crate::proto::handshake::ServerHandshake;
use crate::proto::session::ServerSession;
use crate::record::RecordingId;
use crate::relay::frame::Frame;
use crate::relay::queue::{Offer, QueueConfig, SubscriberQueue};

use super::token::ConnId;

/// Protocol phase.
#[derive(Debug)]
pub enum State {
    Handshake(ServerHandshake),
    Active(Box<ServerSession>),
}

/// What the connection does on a stream key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// Connected, neither publishing nor playing (yet).
    Idle,
    Publisher {
        key: Rc<str>,
        stream_id: u32,
    },
    Player {
        key: Rc<str>,
        stream_id: u32,
    },
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

#[derive(Debug)]
pub struct Conn {
    pub id: ConnId,
    pub socket: TcpStream,
    pub peer: SocketAddr,
    pub state: State,
    pub inbound: BytesMut,
    /// Everything this connection will be sent, in order: session output as
    /// control frames, and shared media frames.
    pub out: SubscriberQueue,
    pub role: Role,
    /// Has published or played at some point (the command deadline no longer applies).
    pub had_role: bool,
    pub app: Option<String>,
    /// Readiness as last reported by an edge, cleared only by WouldBlock.
    pub readable: bool,
    pub writable: bool,
    /// Complete input left unprocessed by the per-turn message limit.
    pub pending_input: bool,
    /// On the loop's still-readable list.
    pub in_still_readable: bool,
    /// Already on the loop's dirty list this batch.
    pub in_dirty: bool,
    /// Waiting on the loop's coalescing list.
    pub deferred: bool,
    /// Holds output that must not wait for write coalescing.
    pub urgent: bool,
    /// Set once; the connection is removed at the end of the batch.
    pub closing: Option<CloseReason>,
    /// Close once the output queue is flushed (e.g. after Publish.BadName).
    pub close_after_flush: Option<CloseReason>,
    pub accepted_ms: u64,
    pub last_recv_ms: u64,
    pub last_media_ms: u64,
    pub ping_sent_ms: Option<u64>,
    /// The recording of this publisher's stream (with --record-all).
    pub recording: Option<RecordingId>,
    pub stats: ConnStats,
}

impl Conn {
    pub fn new(
        id: ConnId,
        socket: TcpStream,
        peer: SocketAddr,
        queue: QueueConfig,
        now_ms: u64,
    ) -> Conn {
        Conn {
            id,
            socket,
            peer,
            state: State::Handshake(ServerHandshake::new(now_ms as u32)),
            inbound: BytesMut::new(),
            out: SubscriberQueue::new(queue),
            role: Role::Idle,
            had_role: false,
            app: None,
            readable: false,
            writable: false,
            pending_input: false,
            in_still_readable: false,
            in_dirty: false,
            deferred: false,
            urgent: false,
            closing: None,
            close_after_flush: None,
            accepted_ms: now_ms,
            last_recv_ms: now_ms,
            last_media_ms: now_ms,
            ping_sent_ms: None,
            recording: None,
            stats: ConnStats::default(),
        }
    }

    pub fn is_publisher(&self) -> bool {
        matches!(self.role, Role::Publisher { .. })
    }

    /// The message stream id this connection plays on, if it plays.
    pub fn play_stream_id(&self) -> Option<u32> {
        match self.role {
            Role::Player { stream_id, .. } => Some(stream_id),
            _ => None,
        }
    }

    /// Queue a shared frame for this player: the shared wire bytes when it
    /// plays on stream id 1, a counted re-chunked copy otherwise.
    pub fn offer_frame(&mut self, frame: &Frame, chunk_size: u32, now_ms: u64) -> Offer {
        match self.play_stream_id() {
            Some(sid) if sid != 1 && frame.type_id != 0 => {
                self.stats.slow_path_frames += 1;
                let mut copy = frame.clone();
                copy.wire = frame.rechunk(sid, chunk_size);
                self.out.offer(copy, now_ms)
            }
            _ => self.out.offer(frame.clone(), now_ms),
        }
    }
}
