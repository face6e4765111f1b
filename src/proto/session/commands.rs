//! The commands a [`ServerSession`] answers or reports: connect,
//! createStream, publish/play (reported as requests for the driver),
//! FCPublish/FCUnpublish, deleteStream/closeStream, pause and the rest.

use bytes::BytesMut;
use log::debug;

use super::*;

impl ServerSession {
    pub(super) fn handle_command(
        &mut self,
        cmd: Command,
        msid: u32,
        events: &mut Vec<ServerEvent>,
        out: &mut BytesMut,
    ) -> Result<(), SessionError> {
        match cmd {
            Command::Connect { tx, .. } if self.app.is_some() => {
                debug!("second connect rejected");
                if tx != 0.0 {
                    let v = command::connect_rejected(tx, "already connected");
                    self.write_command(CSID_COMMAND, msid, &v, out);
                }
            }
            Command::Connect { tx, params } => self.on_connect(tx, params, events, out),
            Command::CreateStream { tx } => self.on_create_stream(tx, msid, out)?,
            Command::ReleaseStream { tx, name } => {
                debug!("releaseStream {:?}", name.name);
                self.answer_null(tx, msid, out);
            }
            Command::FcPublish { tx, name } => self.on_fc_publish(tx, &name, msid, out),
            Command::FcUnpublish { tx, name } => self.on_fc_unpublish(tx, &name, msid, events, out),
            Command::Publish { tx: _, name, kind } => self.on_publish(name, kind, msid, events)?,
            Command::Play {
                tx: _,
                name,
                start,
                duration,
                reset,
            } => self.on_play(name, (start, duration, reset), msid, events)?,
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
            } => self.on_pause(pause, position_ms, msid, events, out),
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
            Command::Unknown { name, tx } if tx != 0.0 => {
                debug!("unknown command {name:?} tx {tx}: _error");
                let v = command::error(tx, CODE_CALL_FAILED, "Method not found.");
                self.write_command(CSID_COMMAND, msid, &v, out);
            }
            Command::Unknown { name, .. } => debug!("unknown command {name:?} with tx 0 ignored"),
            // Variants a teammate may add to the non-exhaustive enum later.
            #[allow(unreachable_patterns)]
            other => debug!("command {other:?} ignored"),
        }
        Ok(())
    }

    fn on_create_stream(
        &mut self,
        tx: f64,
        msid: u32,
        out: &mut BytesMut,
    ) -> Result<(), SessionError> {
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
        Ok(())
    }

    fn on_fc_publish(&mut self, tx: f64, name: &StreamName, msid: u32, out: &mut BytesMut) {
        debug!("FCPublish {:?}", name.name);
        let description = format!("FCPublish to stream {}.", name.name);
        let v = command::on_fc_publish(CODE_PUBLISH_START, &description);
        self.write_command(CSID_COMMAND, msid, &v, out);
        self.answer_null(tx, msid, out);
    }

    fn on_fc_unpublish(
        &mut self,
        tx: f64,
        name: &StreamName,
        msid: u32,
        events: &mut Vec<ServerEvent>,
        out: &mut BytesMut,
    ) {
        debug!("FCUnpublish {:?}", name.name);
        if let Some(id) = self.find_by_name(&name.name) {
            self.end_stream(id, events);
        }
        let description = format!("FCUnpublish to stream {}.", name.name);
        let v = command::on_fc_unpublish(CODE_UNPUBLISH_SUCCESS, &description);
        self.write_command(CSID_COMMAND, msid, &v, out);
        self.answer_null(tx, msid, out);
    }

    fn on_publish(
        &mut self,
        name: StreamName,
        kind: String,
        msid: u32,
        events: &mut Vec<ServerEvent>,
    ) -> Result<(), SessionError> {
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
        Ok(())
    }

    /// The tuple: play's start, duration and reset arguments.
    fn on_play(
        &mut self,
        name: StreamName,
        (start, duration, reset): (f64, f64, bool),
        msid: u32,
        events: &mut Vec<ServerEvent>,
    ) -> Result<(), SessionError> {
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
        Ok(())
    }

    fn on_pause(
        &mut self,
        pause: bool,
        position_ms: f64,
        msid: u32,
        events: &mut Vec<ServerEvent>,
        out: &mut BytesMut,
    ) {
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

    pub(super) fn on_connect(
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
        self.enhanced = params.caps.is_announced();
        let encoding = params.object_encoding.unwrap_or(0.0);
        if self.config.defer_connect {
            self.pending_connect = Some((tx, encoding));
            events.push(ServerEvent::ConnectRequested { params });
            return;
        }
        self.answer_connect(tx, encoding, out);
        events.push(ServerEvent::Connected { params });
    }

    /// Accept a deferred connect (`app` renames the application, as an
    /// `on_connect` hook's redirect does). No-op without one.
    pub fn accept_connect(&mut self, app: Option<&str>, out: &mut BytesMut) {
        let Some((tx, encoding)) = self.pending_connect.take() else {
            return;
        };
        if let Some(app) = app {
            self.app = Some(app.to_owned());
        }
        self.answer_connect(tx, encoding, out);
    }

    /// Refuse a deferred connect with `_error` NetConnection.Connect.Rejected;
    /// the driver then closes.
    pub fn reject_connect(&mut self, description: &str, out: &mut BytesMut) {
        let Some((tx, _)) = self.pending_connect.take() else {
            return;
        };
        let v = command::connect_rejected(tx, description);
        self.write_command(CSID_COMMAND, 0, &v, out);
    }

    /// Whether a deferred connect waits for its answer.
    pub fn connect_pending(&self) -> bool {
        self.pending_connect.is_some()
    }

    fn answer_connect(&mut self, tx: f64, encoding: f64, out: &mut BytesMut) {
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
        // Our E-RTMP capabilities go only to a client that announced its
        // own: a legacy client gets the legacy answer byte for byte.
        let v = if self.enhanced {
            command::connect_result_with(tx, encoding, &command::EnhancedCaps::server())
        } else {
            command::connect_result(tx, encoding)
        };
        self.write_command(CSID_COMMAND, 0, &v, out);
    }

    /// E-RTMP `onStatus` NetConnection.Connect.ReconnectRequest on the
    /// NetConnection (message stream 0), with `tc_url` where to reconnect
    /// if given. The driver sends it only to a client whose connect
    /// announced `capsEx` Reconnect, and keeps serving it until it leaves.
    pub fn send_reconnect_request(
        &mut self,
        description: &str,
        tc_url: Option<&str>,
        out: &mut BytesMut,
    ) {
        let v = command::reconnect_request(description, tc_url);
        self.write_command(CSID_COMMAND, 0, &v, out);
    }

    /// publish/play on a stream id that createStream never returned still
    /// works (some clients count ids themselves), but such ids count
    /// against `max_streams` too.
    pub(super) fn check_stream_slot(&self, msid: u32) -> Result<(), SessionError> {
        let limit = self.config.max_streams;
        if self.slot(msid).is_none() && self.streams.len() >= limit as usize {
            return Err(SessionError::TooManyStreams { limit });
        }
        Ok(())
    }

    pub(super) fn require_connected(&self, command: &'static str) -> Result<String, SessionError> {
        self.app
            .clone()
            .ok_or(SessionError::NotConnected { command })
    }

    /// Which stream a deleteStream/closeStream names.
    pub(super) fn resolve(&self, stream: &StreamRef, msid: u32) -> Option<u32> {
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

    pub(super) fn find_by_name(&self, wanted: &str) -> Option<u32> {
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
    pub(super) fn end_stream(&mut self, id: u32, events: &mut Vec<ServerEvent>) {
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
}
