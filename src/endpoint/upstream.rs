//! The session of an outgoing relay connection (a pull's upstream or a
//! push target): the client handshake and session are stepped over what
//! arrived, and a pull's events become publisher input of its key, as a
//! local publisher's would be (see [`super::relay`] and [`super::push`]).

use std::rc::Rc;

use bytes::BytesMut;
use log::{debug, info};

use crate::error::CloseReason;
use crate::proto::client::ClientEvent;
use crate::proto::command::StreamName;
use crate::proto::handshake::Progress;
use crate::proto::status::DATA_SAMPLE_ACCESS;

use super::conn::{Protocol, Role};
use super::hooks::{Pending, Request};
use super::policy::Inbound;
use super::relay::RelayClient;
use super::{conn_mut, ConnId, Endpoint, Input};

impl Endpoint {
    /// Step an upstream connection over its input.
    pub(super) fn process_relay(&mut self, id: ConnId, now: u64) -> Input {
        let Endpoint {
            conns,
            relay_events,
            scratch_out,
            ..
        } = self;
        let Some(conn) = conn_mut(conns, id).filter(|c| c.is_open()) else {
            return Input::Closed;
        };
        let Protocol::Relay(relay) = &mut conn.proto else {
            return Input::Done;
        };
        // The buffers are reused: a pulled stream's media comes through here.
        let mut events = std::mem::take(relay_events);
        let mut out = std::mem::take(scratch_out);
        let result = step_relay(relay, &mut conn.inbound, &mut events, &mut out);
        self.finish_relay(id, result, events, out, now)
    }

    /// [`Endpoint::receive`] for an upstream: past its handshake with
    /// nothing buffered, `bytes` are decoded where they lie and only what
    /// is left (a chunk cut by the read) is kept in `inbound`, so a pulled
    /// stream's media is copied once on its way in, as a local publisher's
    /// is; otherwise they are appended for [`Endpoint::process`].
    pub(super) fn relay_receive(&mut self, id: ConnId, bytes: &[u8], now: u64) {
        let Endpoint {
            conns,
            relay_events,
            scratch_out,
            ..
        } = self;
        let Some(conn) = conn_mut(conns, id) else {
            return;
        };
        let open = conn.is_open();
        let Protocol::Relay(relay) = &mut conn.proto else {
            return;
        };
        if relay.handshake.is_some() || !conn.inbound.is_empty() || !open {
            conn.inbound.extend_from_slice(bytes);
            return;
        }
        let mut events = std::mem::take(relay_events);
        let mut out = std::mem::take(scratch_out);
        let mut input = bytes;
        let result = relay
            .session
            .handle_input(&mut input, &mut events, &mut out)
            .map_err(|e| format!("protocol: {e}"));
        conn.inbound.extend_from_slice(input);
        self.finish_relay(id, result, events, out, now);
    }

    /// After a step: send what the session wrote, end the upstream on an
    /// error, and act on its events.
    fn finish_relay(
        &mut self,
        id: ConnId,
        result: Result<(), String>,
        mut events: Vec<ClientEvent>,
        mut out: BytesMut,
        now: u64,
    ) -> Input {
        self.push_control(id, &mut out, now);
        self.scratch_out = out;
        if let Err(why) = result {
            self.relay_end(id, &why);
        }
        for event in events.drain(..) {
            self.on_relay_event(id, event, now);
        }
        self.relay_events = events;
        match self.get(id) {
            Some(c) if c.is_open() => Input::Done,
            _ => Input::Closed,
        }
    }

    fn relay_key(&self, id: ConnId) -> Option<Rc<str>> {
        match &self.get(id)?.proto {
            Protocol::Relay(r) => Some(r.key.clone()),
            _ => None,
        }
    }

    /// Close an upstream with one log line naming why.
    pub(super) fn relay_end(&mut self, id: ConnId, why: &str) {
        if let Some(Protocol::Relay(r)) = self.get(id).map(|c| &c.proto) {
            match r.push {
                None => info!("{id} pull {}: upstream ended: {why}", r.key),
                Some(n) => info!("{id} push {} #{n}: target ended: {why}", r.key),
            }
        }
        self.close(id, CloseReason::RelayEnded);
    }

    fn on_relay_event(&mut self, id: ConnId, event: ClientEvent, now: u64) {
        match event {
            ClientEvent::Media {
                kind,
                timestamp,
                payload,
            } => {
                let type_id = super::policy::media_type(kind);
                if let Some(sid) = self.relay_publishing(id, now) {
                    self.on_media(id, sid, Inbound::Media(type_id), timestamp, payload, now);
                }
            }
            ClientEvent::Metadata { body, .. } => {
                if let Some(sid) = self.relay_publishing(id, now) {
                    self.on_media(id, sid, Inbound::Metadata, 0, body, now);
                }
            }
            // Stream data (cue points, captions) once the upstream publishes
            // the key; a data message does not make it the publisher, and
            // the origin's own |RtmpSampleAccess is not stream content.
            ClientEvent::Data {
                timestamp,
                values,
                body,
            } => {
                let sample_access = values[0].as_str() == Some(DATA_SAMPLE_ACCESS);
                let sid = match &self.get(id).map(|c| &c.role) {
                    Some(Role::Publisher(p)) if !sample_access => Some(p.stream_id),
                    _ => None,
                };
                if let Some(sid) = sid {
                    self.on_media(id, sid, Inbound::Data, timestamp, body, now);
                }
            }
            ClientEvent::Error {
                code, description, ..
            } => {
                self.relay_end(id, &format!("it answered {code}: {description}"));
            }
            ClientEvent::StreamEof(_) => self.relay_end(id, "origin's stream ended"),
            ClientEvent::Status { code, .. } if code.ends_with("UnpublishNotify") => {
                self.relay_end(id, "origin's publisher left")
            }
            ClientEvent::PublishStarted => self.push_started(id, now),
            ClientEvent::PlayStarted => {
                if let Some(key) = self.relay_key(id) {
                    debug!("{id} pull {key}: playing at the origin");
                }
            }
            _ => {}
        }
    }

    /// The upstream's message stream id once it publishes the key locally;
    /// the first media message makes it the publisher.
    fn relay_publishing(&mut self, id: ConnId, now: u64) -> Option<u32> {
        let conn = self.get(id)?;
        if let Role::Publisher(p) = &conn.role {
            return Some(p.stream_id);
        }
        if !matches!(conn.role, Role::New) || !conn.is_open() {
            return None;
        }
        let Protocol::Relay(relay) = &conn.proto else {
            return None;
        };
        let sid = relay.session.stream_id();
        let key = relay.key.clone();
        let pull = self.pulls.get_mut(&key)?;
        pull.retry.connected_ms = Some(now);
        let pending = Pending {
            id,
            stream_id: sid,
            app: pull.app.clone(),
            name: StreamName::parse(&pull.name),
            request: Request::Publish {
                kind: "live".to_string(),
            },
            settings: pull.settings.clone(),
            deadline: 0,
        };
        self.start(pending, now);
        match &self.get(id)?.role {
            Role::Publisher(p) => Some(p.stream_id),
            _ => None,
        }
    }
}

/// Handshake, then the client session, over what arrived.
fn step_relay(
    relay: &mut RelayClient,
    inbound: &mut BytesMut,
    events: &mut Vec<ClientEvent>,
    out: &mut BytesMut,
) -> Result<(), String> {
    if let Some(hs) = relay.handshake.as_mut() {
        match hs.feed(inbound, out) {
            Ok(Progress::InProgress) => return Ok(()),
            Ok(Progress::Done) => {
                if let Some(form) = hs.form() {
                    debug!("relay {}: handshake done ({form} form)", relay.key);
                }
                relay.handshake = None;
                relay.session.start(out);
            }
            Err(e) => return Err(format!("handshake: {e:?}")),
        }
    }
    relay
        .session
        .handle_input(inbound, events, out)
        .map_err(|e| format!("protocol: {e}"))
}
