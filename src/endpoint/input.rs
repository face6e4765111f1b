//! Input: bytes read from a connection, decoded in place or buffered,
//! stepped through the handshake and the session (see "Copies on the way
//! in" in the parent module).

use bytes::BytesMut;
use log::debug;

use super::*;
use crate::proto::session::ServerEvent;

impl Endpoint {
    /// Bytes read from the connection. An RTMP session with nothing
    /// buffered before them decodes them where they lie, within the turn's
    /// [`MESSAGES_PER_TURN`] (shared by every read of the turn and the
    /// `process` that ends it), and only what is left (a chunk cut by
    /// the read, or input past that limit) is kept in `inbound`; otherwise
    /// they are appended there for [`Endpoint::process`]. Either way input
    /// is handled in the order it arrived, and a complete message is copied
    /// once on its way in (see the module docs). An upstream relay session
    /// is stepped the same way, without the turn's limit
    /// ([`Endpoint::relay_receive`]).
    pub fn receive(&mut self, id: ConnId, bytes: &[u8], now: u64) {
        let mut events = std::mem::take(&mut self.events);
        let mut out = std::mem::take(&mut self.scratch_out);
        if let Some(conn) = self.lookup(id) {
            conn.stats.bytes_in += bytes.len() as u64;
            conn.last_recv_ms = now;
            if matches!(conn.proto, Protocol::Relay(_)) {
                self.events = events;
                self.scratch_out = out;
                self.relay_receive(id, bytes, now);
                return;
            }
            if let Some(result) = step_in_place(conn, bytes, &mut events, &mut out) {
                self.finish_step(id, result, &mut events, &mut out, now);
            }
        }
        self.events = events;
        self.scratch_out = out;
    }

    /// `receive` then `process`.
    pub fn handle_input(&mut self, id: ConnId, bytes: &[u8], now: u64) -> Input {
        self.receive(id, bytes, now);
        self.process(id, now)
    }

    /// True while complete input waits for the next turn.
    pub fn has_pending_input(&self, id: ConnId) -> bool {
        self.get(id).is_some_and(|c| c.lists.pending_input)
    }

    /// Step the handshake and the session over the buffered input, at most
    /// [`MESSAGES_PER_TURN`] messages.
    pub fn process(&mut self, id: ConnId, now: u64) -> Input {
        self.process_limited(id, now, MESSAGES_PER_TURN)
    }

    fn process_limited(&mut self, id: ConnId, now: u64, limit: usize) -> Input {
        match self.get(id).map(|c| &c.proto) {
            Some(Protocol::Http(_)) => return self.process_http(id, now),
            Some(Protocol::Relay(_)) => return self.process_relay(id, now),
            _ => {}
        }
        let mut events = std::mem::take(&mut self.events);
        let mut out = std::mem::take(&mut self.scratch_out);
        let result = self.step_protocol(id, &mut events, &mut out, limit);
        self.finish_step(id, result, &mut events, &mut out, now);
        self.events = events;
        self.scratch_out = out;
        match self.get(id) {
            Some(c) if !c.is_open() => Input::Closed,
            Some(c) if c.lists.pending_input => Input::Pending,
            Some(_) => Input::Done,
            None => Input::Closed,
        }
    }

    /// After a protocol step: queue its output, act on its events, and
    /// close the connection if the step failed.
    fn finish_step(
        &mut self,
        id: ConnId,
        result: Result<(), CloseReason>,
        events: &mut Vec<ServerEvent>,
        out: &mut BytesMut,
        now: u64,
    ) {
        self.push_control(id, out, now);
        for event in events.drain(..) {
            self.on_session_event(id, event, now);
        }
        if let Err(reason) = result {
            self.close(id, reason);
        }
    }

    /// The part of `process` that borrows the connection: handshake, then session.
    fn step_protocol(
        &mut self,
        id: ConnId,
        events: &mut Vec<ServerEvent>,
        out: &mut BytesMut,
        limit: usize,
    ) -> Result<(), CloseReason> {
        let Endpoint {
            conns,
            rng,
            session_config,
            ..
        } = self;
        let Some(conn) = conn_mut(conns, id).filter(|c| c.is_open()) else {
            return Ok(());
        };
        conn.lists.pending_input = false;
        // Messages the turn's reads decoded in place count against the
        // limit; this call ends the turn.
        let used = MESSAGES_PER_TURN - conn.turn_budget;
        let mut budget = limit.saturating_sub(used);
        conn.turn_budget = MESSAGES_PER_TURN;
        if let Protocol::Handshake(hs) = &mut conn.proto {
            match hs.feed(&mut conn.inbound, out, rng) {
                Ok(Progress::InProgress) => {}
                Ok(Progress::Done) => {
                    // e.g. "handshake done: digest scheme 0, C2 signed".
                    debug!("{} {} handshake done: {}", id, conn.peer, hs.summary());
                    conn.proto =
                        Protocol::Rtmp(Box::new(ServerSession::new(session_config.clone())));
                }
                Err(e) => return Err(CloseReason::Handshake(e)),
            }
        }
        if let Protocol::Rtmp(session) = &mut conn.proto {
            if !conn.inbound.is_empty() || session.has_pending_messages() {
                let more = session
                    .handle_input_budget(&mut conn.inbound, events, out, &mut budget)
                    .map_err(CloseReason::Protocol)?;
                conn.lists.pending_input = work_left(more, &conn.inbound, session);
            }
        }
        // Players send little: give back a large idle read buffer.
        if conn.inbound.is_empty() && !conn.is_publisher() && conn.inbound.capacity() > 16 * 1024 {
            conn.inbound = BytesMut::new();
        }
        Ok(())
    }

    /// The peer ended its side: handle everything it sent before (a final
    /// deleteStream is not lost), then close.
    pub fn handle_eof(&mut self, id: ConnId, now: u64) {
        // Bounded by what is buffered: each pass consumes input or stops.
        while self.process_limited(id, now, usize::MAX) == Input::Pending {}
        self.close(id, CloseReason::PeerClosed);
    }
}

/// The session step of [`Endpoint::receive`]: when nothing of `conn` waits
/// before `bytes`, decode them where they lie and keep only what is left of
/// them in `inbound` (the step's result returned); otherwise append them
/// for `process` (None).
fn step_in_place(
    conn: &mut Conn,
    bytes: &[u8],
    events: &mut Vec<ServerEvent>,
    out: &mut BytesMut,
) -> Option<Result<(), CloseReason>> {
    let session = match &mut conn.proto {
        Protocol::Rtmp(s)
            if conn.inbound.is_empty()
                && !conn.lists.pending_input
                && !s.has_pending_messages()
                && !matches!(conn.life, Lifecycle::Closing(_)) =>
        {
            s
        }
        _ => {
            conn.inbound.extend_from_slice(bytes);
            return None;
        }
    };
    let mut input = bytes;
    let result = session.handle_input_budget(&mut input, events, out, &mut conn.turn_budget);
    conn.inbound.extend_from_slice(input);
    Some(result.map_err(CloseReason::Protocol).map(|more| {
        conn.lists.pending_input = work_left(more, &conn.inbound, session);
    }))
}

/// Whether a session step that stopped on its budget (`more`) left work for
/// the next turn: input, or the rest of an aggregate kept in the session.
fn work_left(more: bool, inbound: &BytesMut, session: &ServerSession) -> bool {
    more && (!inbound.is_empty() || session.has_pending_messages())
}
