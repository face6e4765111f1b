//! The input side of [`ServerSession`]: typed messages in, events and
//! automatic answers (pings, acknowledgements) out. Commands are handled in
//! `commands.rs`; this file routes every other message type and strips
//! `@setDataFrame` from metadata.

use bytes::{Bytes, BytesMut};
use log::{debug, trace};

use super::*;

/// The 16 bytes of AMF0 string `@setDataFrame` at the front of a data body.
const SET_DATA_FRAME_PREFIX: &[u8] = b"\x02\x00\x0d@setDataFrame";

impl ServerSession {
    pub(super) fn count_received(&mut self, consumed: usize, out: &mut BytesMut) {
        if let Some(sequence) = self.acks.record(consumed) {
            trace!("ack {sequence}");
            self.write_control(RtmpMessage::Acknowledgement { sequence }, out);
        }
    }

    pub(super) fn handle_raw(
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

    pub(super) fn handle_user_control(
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

    pub(super) fn handle_media(
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

    pub(super) fn handle_data(
        &mut self,
        type_id: u8,
        timestamp: u32,
        stream_id: u32,
        values: Vec<Amf0Value>,
        payload: Bytes,
        events: &mut Vec<ServerEvent>,
    ) {
        let first = values.first().and_then(Amf0Value::as_str);
        if first == Some(DATA_CLEAR_DATA_FRAME) {
            debug!("@clearDataFrame on stream {stream_id} ignored");
            return;
        }
        let (values, body) = if first == Some(DATA_SET_DATA_FRAME) {
            let rest = match command::strip_set_data_frame(&values) {
                Some(rest) => rest.to_vec(),
                None => values[1..].to_vec(),
            };
            // Share the received bytes when the body is plain AMF0 that
            // starts with the @setDataFrame string; re-encode otherwise.
            let body = if type_id == TYPE_DATA_AMF0 && payload.starts_with(SET_DATA_FRAME_PREFIX) {
                payload.slice(SET_DATA_FRAME_PREFIX.len()..)
            } else {
                encode_values(&rest)
            };
            (rest, body)
        } else {
            let body = if type_id == TYPE_DATA_AMF0 {
                payload
            } else {
                encode_values(&values)
            };
            (values, body)
        };
        let Some(name) = values.first().and_then(Amf0Value::as_str) else {
            debug!("data message without a name on stream {stream_id} ignored");
            return;
        };
        if !self.accepts_media(stream_id) {
            debug!("data message {name:?} on stream {stream_id} that is not publishing ignored");
            return;
        }
        if name == DATA_ON_METADATA {
            events.push(ServerEvent::Metadata {
                stream_id,
                timestamp,
                values,
                body,
            });
        } else {
            events.push(ServerEvent::Data {
                stream_id,
                timestamp,
                body,
            });
        }
    }
}

/// The AMF0 encoding of data values (for bodies that arrived as AMF3
/// data, type 15, or with a prefix that is not byte-identical).
fn encode_values(values: &[Amf0Value]) -> Bytes {
    let mut buf = BytesMut::new();
    amf0::encode_all(values, &mut buf);
    buf.freeze()
}
