//! The input side of [`ClientSession`]: decoded messages in, events and
//! the protocol's automatic answers out (see the driving order in the
//! parent module's docs).

use super::*;

impl ClientSession {
    pub(super) fn count_received(&mut self, consumed: usize, out: &mut BytesMut) {
        if let Some(sequence) = self.acks.record(consumed) {
            self.write_control(RtmpMessage::Acknowledgement { sequence }, out);
        }
    }

    pub(super) fn handle_raw(
        &mut self,
        raw: &RawMessage,
        events: &mut Vec<ClientEvent>,
        out: &mut BytesMut,
    ) -> Result<(), ClientError> {
        match decode_message(raw, &self.config.amf_limits, Strings::Lossy)? {
            RtmpMessage::WindowAckSize(w) => {
                debug!("server window ack size {w}");
                self.acks.set_window(w);
            }
            RtmpMessage::UserControl(uc) => match uc {
                UserControl::PingRequest(ts) => {
                    self.write_control(RtmpMessage::UserControl(UserControl::PingResponse(ts)), out)
                }
                UserControl::PingResponse(timestamp) => {
                    events.push(ClientEvent::PingResponse { timestamp })
                }
                UserControl::StreamBegin(id) => events.push(ClientEvent::StreamBegin(id)),
                UserControl::StreamEof(id) => events.push(ClientEvent::StreamEof(id)),
                other => debug!("user control {other:?} ignored"),
            },
            RtmpMessage::Audio {
                timestamp,
                stream_id,
                payload,
            } => self.on_media(MediaKind::Audio, stream_id, timestamp, payload, events),
            RtmpMessage::Video {
                timestamp,
                stream_id,
                payload,
            } => self.on_media(MediaKind::Video, stream_id, timestamp, payload, events),
            RtmpMessage::Command { values, .. } => {
                let cmd = Command::parse(&values)?;
                self.on_command(cmd, &values, events, out);
            }
            RtmpMessage::Data {
                values, payload, ..
            } => self.on_data(raw.type_id, raw.timestamp, values, payload, events),
            other => trace!("message {other:?} ignored"),
        }
        Ok(())
    }

    fn on_media(
        &mut self,
        kind: MediaKind,
        stream_id: u32,
        timestamp: u32,
        payload: Bytes,
        events: &mut Vec<ClientEvent>,
    ) {
        if self.config.mode == ClientMode::Play && stream_id == self.stream_id {
            events.push(ClientEvent::Media {
                kind,
                timestamp,
                payload,
            });
        } else {
            debug!("media on stream {stream_id} ignored");
        }
    }

    fn on_data(
        &mut self,
        type_id: u8,
        timestamp: u32,
        values: Vec<Amf0Value>,
        payload: Bytes,
        events: &mut Vec<ClientEvent>,
    ) {
        let first = values.first().and_then(Amf0Value::as_str);
        let plain = first.is_some() && first != Some(DATA_SET_DATA_FRAME);
        let values = match first {
            Some(DATA_SET_DATA_FRAME) => values[1..].to_vec(),
            Some(_) => values,
            None => {
                debug!("data message without a name ignored");
                return;
            }
        };
        let Some(name) = values.first().and_then(Amf0Value::as_str) else {
            return;
        };
        let metadata = name == DATA_ON_METADATA;
        let body = if type_id == TYPE_DATA_AMF0 && plain {
            payload
        } else {
            let mut buf = BytesMut::new();
            amf0::encode_all(&values, &mut buf);
            buf.freeze()
        };
        if metadata {
            events.push(ClientEvent::Metadata { values, body });
        } else {
            events.push(ClientEvent::Data {
                timestamp,
                values,
                body,
            });
        }
    }

    fn on_command(
        &mut self,
        cmd: Command,
        values: &[Amf0Value],
        events: &mut Vec<ClientEvent>,
        out: &mut BytesMut,
    ) {
        match cmd {
            Command::Result { tx, args } if tx == self.connect_tx && tx != 0.0 => {
                if self.state != State::Connecting {
                    return;
                }
                if let Some(props) = args.first() {
                    self.server_caps = EnhancedCaps::parse(props);
                }
                debug!("connected");
                events.push(ClientEvent::Connected);
                self.after_connect(out);
            }
            Command::Result { tx, .. } if tx == self.create_tx && tx != 0.0 => {
                self.on_stream_created(values, events, out)
            }
            Command::Result { tx, .. } => trace!("_result {tx}"),
            Command::Error { tx, .. } => {
                let (code, description) = info_of(values);
                debug!("_error {tx}: {code}");
                events.push(ClientEvent::Error {
                    tx,
                    code,
                    description,
                });
            }
            Command::OnStatus {
                level,
                code,
                description,
            } if code == CODE_CONNECT_RECONNECT_REQUEST && level != LEVEL_ERROR => {
                let tc_url = values
                    .iter()
                    .skip(2)
                    .find_map(|v| v.get("tcUrl"))
                    .and_then(Amf0Value::as_str)
                    .map(str::to_owned);
                debug!("server asks to reconnect (tcUrl {tc_url:?}): {description}");
                events.push(ClientEvent::ReconnectRequest {
                    description,
                    tc_url,
                });
            }
            Command::OnStatus {
                level,
                code,
                description,
            } => self.on_status(level, code, description, events),
            other => debug!("command {other:?} ignored"),
        }
    }

    /// createStream answered: its stream id, then publish or play.
    fn on_stream_created(
        &mut self,
        values: &[Amf0Value],
        events: &mut Vec<ClientEvent>,
        out: &mut BytesMut,
    ) {
        if self.state != State::CreatingStream {
            return;
        }
        // The stream id is the last number of the answer.
        let id = values
            .iter()
            .skip(2)
            .rev()
            .find_map(Amf0Value::as_number)
            .unwrap_or(0.0);
        self.stream_id = if id >= 1.0 && id <= f64::from(u32::MAX) {
            id as u32
        } else {
            debug!("createStream answered with {id}; using 1");
            1
        };
        events.push(ClientEvent::StreamCreated(self.stream_id));
        self.request_stream(out);
    }

    fn on_status(
        &mut self,
        level: String,
        code: String,
        description: String,
        events: &mut Vec<ClientEvent>,
    ) {
        debug!("onStatus {level} {code}");
        if level == LEVEL_ERROR {
            events.push(ClientEvent::Error {
                tx: 0.0,
                code,
                description,
            });
            return;
        }
        let started = match (self.config.mode, code.as_str()) {
            (ClientMode::Publish, CODE_PUBLISH_START) => Some(ClientEvent::PublishStarted),
            (ClientMode::Play, CODE_PLAY_START) => Some(ClientEvent::PlayStarted),
            _ => None,
        };
        events.push(ClientEvent::Status {
            level,
            code,
            description,
        });
        if let Some(ev) = started {
            if self.state == State::Requested {
                self.state = State::Active;
            }
            events.push(ev);
        }
    }
}

/// Where a reconnect request sends us: `reference` (the request's `tcUrl`)
/// resolved against our `current` tcUrl as the E-RTMP spec says: an
/// absolute URL as is, `//host/app` with our scheme, `/app` on our host,
/// anything else in place of our last path segment; no reference = `current`.
pub fn resolve_tc_url(current: &str, reference: Option<&str>) -> String {
    let Some(r) = reference.filter(|r| !r.is_empty()) else {
        return current.to_owned();
    };
    if r.contains("://") {
        return r.to_owned();
    }
    let (scheme, rest) = current.split_once("://").unwrap_or(("rtmp", current));
    if let Some(net) = r.strip_prefix("//") {
        return format!("{scheme}://{net}");
    }
    let authority = rest.split('/').next().unwrap_or("");
    if r.starts_with('/') {
        return format!("{scheme}://{authority}{r}");
    }
    match rest.rsplit_once('/') {
        Some((dir, _)) => format!("{scheme}://{dir}/{r}"),
        None => format!("{scheme}://{authority}/{r}"),
    }
}

/// `code` and `description` of the first info object in a command's values.
fn info_of(values: &[Amf0Value]) -> (String, String) {
    for v in values.iter().skip(2) {
        if let Some(code) = v.get("code").and_then(Amf0Value::as_str) {
            let description = v
                .get("description")
                .and_then(Amf0Value::as_str)
                .unwrap_or("");
            return (code.to_owned(), description.to_owned());
        }
    }
    (String::new(), String::new())
}
