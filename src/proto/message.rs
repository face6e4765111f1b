//! Typed RTMP messages.
//!
//! Contract: [`RtmpMessage::decode`] turns a [`RawMessage`] into a typed
//! message (AMF bodies decoded, control fields parsed, short control messages
//! rejected); [`RtmpMessage::encode`] produces a `RawMessage` (payload built)
//! on the conventional csid for its kind (see the `CSID_*` constants).
//! [`split_aggregate`] turns an aggregate (type 22) into its sub-messages.
//!
//! Rules a caller must keep:
//! * Call [`RtmpMessage::decode`] on every message the chunk reader returns;
//!   an `Err` is a peer violation (close the connection). Unknown message
//!   types and unknown User Control events decode to `Unknown` variants,
//!   never an error or a panic. Trailing bytes after a control message's
//!   fields are ignored.
//! * Types 17 (AMF3 command) and 15 (AMF3 data) are decoded like 20 and 18
//!   after skipping their single leading `0x00` format byte (when present);
//!   re-encoding them yields types 20 and 18.
//! * [`RtmpMessage::encode`] puts protocol control and user control messages
//!   on csid 2 / stream 0 / timestamp 0, commands on csid 3 (csid 5 when the
//!   stream id is not 0) with timestamp 0, data on csid 4, audio on 6, video
//!   and aggregates on 7 (with their own timestamp and stream id). A `Data`
//!   whose `payload` is non-empty is sent as that payload unchanged (the
//!   relay path); with an empty payload `values` are encoded.
//!   `SharedObject` and `Unknown` carry no body and encode to an empty payload
//!   of their type on csid 3.
//! * Media payloads are shared `Bytes` (no copy) in both directions.

use bytes::{BufMut, Bytes, BytesMut};

use super::amf0::{self, Amf0Error, Amf0Limits, Amf0Value};
use super::chunk::RawMessage;

pub const TYPE_SET_CHUNK_SIZE: u8 = 1;
pub const TYPE_ABORT: u8 = 2;
pub const TYPE_ACK: u8 = 3;
pub const TYPE_USER_CONTROL: u8 = 4;
pub const TYPE_WINDOW_ACK_SIZE: u8 = 5;
pub const TYPE_SET_PEER_BANDWIDTH: u8 = 6;
pub const TYPE_AUDIO: u8 = 8;
pub const TYPE_VIDEO: u8 = 9;
pub const TYPE_DATA_AMF3: u8 = 15;
pub const TYPE_SHARED_OBJECT_AMF3: u8 = 16;
pub const TYPE_COMMAND_AMF3: u8 = 17;
pub const TYPE_DATA_AMF0: u8 = 18;
pub const TYPE_SHARED_OBJECT_AMF0: u8 = 19;
pub const TYPE_COMMAND_AMF0: u8 = 20;
pub const TYPE_AGGREGATE: u8 = 22;

/// Chunk stream ids this implementation sends on (defined in the chunk
/// layer, re-exported here where they have always been).
pub use super::chunk::{
    CSID_AUDIO, CSID_COMMAND, CSID_CONTROL, CSID_DATA, CSID_STREAM_COMMAND, CSID_VIDEO,
};

/// User Control event (message type 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserControl {
    StreamBegin(u32),
    StreamEof(u32),
    StreamDry(u32),
    SetBufferLength {
        stream_id: u32,
        buffer_ms: u32,
    },
    StreamIsRecorded(u32),
    PingRequest(u32),
    PingResponse(u32),
    /// An event type we do not know; ignored by sessions.
    Unknown {
        event_type: u16,
    },
}

/// A decoded RTMP message. Media payloads are the shared `Bytes` of the
/// reassembled message (no copy).
#[derive(Debug, Clone, PartialEq)]
pub enum RtmpMessage {
    SetChunkSize(u32),
    Abort {
        csid: u32,
    },
    Acknowledgement {
        sequence: u32,
    },
    UserControl(UserControl),
    WindowAckSize(u32),
    SetPeerBandwidth {
        size: u32,
        limit_type: u8,
    },
    Audio {
        timestamp: u32,
        stream_id: u32,
        payload: Bytes,
    },
    Video {
        timestamp: u32,
        stream_id: u32,
        payload: Bytes,
    },
    /// Command (type 20, or 17 with its leading 0x00 marker skipped).
    Command {
        stream_id: u32,
        values: Vec<Amf0Value>,
    },
    /// Data (type 18, or 15), e.g. @setDataFrame / onMetaData. `payload` is
    /// the AMF0 body as received (for relaying without re-encoding).
    Data {
        timestamp: u32,
        stream_id: u32,
        values: Vec<Amf0Value>,
        payload: Bytes,
    },
    Aggregate {
        timestamp: u32,
        stream_id: u32,
        payload: Bytes,
    },
    /// Shared-object messages (16, 19): ignored by sessions.
    SharedObject {
        type_id: u8,
    },
    Unknown {
        type_id: u8,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MessageError {
    /// A control message shorter than its fields.
    ShortControl { type_id: u8, len: usize },
    /// The AMF body of a command or data message did not decode.
    Amf0 { type_id: u8, error: Amf0Error },
    /// A malformed aggregate message.
    BadAggregate,
}

impl std::fmt::Display for MessageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MessageError::ShortControl { type_id, len } => {
                write!(f, "control message type {type_id} too short ({len} bytes)")
            }
            MessageError::Amf0 { type_id, error } => {
                write!(f, "bad AMF0 body in message type {type_id}: {error}")
            }
            MessageError::BadAggregate => f.write_str("malformed aggregate message"),
        }
    }
}

impl std::error::Error for MessageError {}

#[inline]
fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

#[inline]
fn be24(b: &[u8]) -> u32 {
    (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2])
}

/// The first `n` bytes of a control message's payload, or `ShortControl`.
#[inline]
fn fields(raw: &RawMessage, n: usize) -> Result<&[u8], MessageError> {
    raw.payload.get(..n).ok_or(MessageError::ShortControl {
        type_id: raw.type_id,
        len: raw.payload.len(),
    })
}

/// Body of an AMF0 or AMF3-wrapped command/data message.
#[inline]
fn amf_body(raw: &RawMessage) -> Bytes {
    let amf3 = raw.type_id == TYPE_COMMAND_AMF3 || raw.type_id == TYPE_DATA_AMF3;
    if amf3 && raw.payload.first() == Some(&0) {
        raw.payload.slice(1..)
    } else {
        raw.payload.clone()
    }
}

fn decode_user_control(raw: &RawMessage) -> Result<UserControl, MessageError> {
    let event_type = u16::from_be_bytes(fields(raw, 2)?.try_into().expect("2 bytes"));
    let arg =
        |n: usize| -> Result<u32, MessageError> { Ok(be32(&fields(raw, 6 + 4 * n)?[2 + 4 * n..])) };
    Ok(match event_type {
        0 => UserControl::StreamBegin(arg(0)?),
        1 => UserControl::StreamEof(arg(0)?),
        2 => UserControl::StreamDry(arg(0)?),
        3 => UserControl::SetBufferLength {
            stream_id: arg(0)?,
            buffer_ms: arg(1)?,
        },
        4 => UserControl::StreamIsRecorded(arg(0)?),
        6 => UserControl::PingRequest(arg(0)?),
        7 => UserControl::PingResponse(arg(0)?),
        event_type => UserControl::Unknown { event_type },
    })
}

impl UserControl {
    /// The event type number on the wire.
    pub fn event_type(&self) -> u16 {
        match self {
            UserControl::StreamBegin(_) => 0,
            UserControl::StreamEof(_) => 1,
            UserControl::StreamDry(_) => 2,
            UserControl::SetBufferLength { .. } => 3,
            UserControl::StreamIsRecorded(_) => 4,
            UserControl::PingRequest(_) => 6,
            UserControl::PingResponse(_) => 7,
            UserControl::Unknown { event_type } => *event_type,
        }
    }
}

impl RtmpMessage {
    pub fn decode(raw: &RawMessage) -> Result<RtmpMessage, MessageError> {
        let t = raw.type_id;
        Ok(match t {
            TYPE_SET_CHUNK_SIZE => RtmpMessage::SetChunkSize(be32(fields(raw, 4)?)),
            TYPE_ABORT => RtmpMessage::Abort {
                csid: be32(fields(raw, 4)?),
            },
            TYPE_ACK => RtmpMessage::Acknowledgement {
                sequence: be32(fields(raw, 4)?),
            },
            TYPE_USER_CONTROL => RtmpMessage::UserControl(decode_user_control(raw)?),
            TYPE_WINDOW_ACK_SIZE => RtmpMessage::WindowAckSize(be32(fields(raw, 4)?)),
            TYPE_SET_PEER_BANDWIDTH => {
                let f = fields(raw, 5)?;
                RtmpMessage::SetPeerBandwidth {
                    size: be32(f),
                    limit_type: f[4],
                }
            }
            TYPE_AUDIO => RtmpMessage::Audio {
                timestamp: raw.timestamp,
                stream_id: raw.stream_id,
                payload: raw.payload.clone(),
            },
            TYPE_VIDEO => RtmpMessage::Video {
                timestamp: raw.timestamp,
                stream_id: raw.stream_id,
                payload: raw.payload.clone(),
            },
            TYPE_COMMAND_AMF0 | TYPE_COMMAND_AMF3 => {
                let body = amf_body(raw);
                let values = amf0::decode_all(&body, &Amf0Limits::default())
                    .map_err(|error| MessageError::Amf0 { type_id: t, error })?;
                RtmpMessage::Command {
                    stream_id: raw.stream_id,
                    values,
                }
            }
            TYPE_DATA_AMF0 | TYPE_DATA_AMF3 => {
                let payload = amf_body(raw);
                let values = amf0::decode_all(&payload, &Amf0Limits::default())
                    .map_err(|error| MessageError::Amf0 { type_id: t, error })?;
                RtmpMessage::Data {
                    timestamp: raw.timestamp,
                    stream_id: raw.stream_id,
                    values,
                    payload,
                }
            }
            TYPE_AGGREGATE => RtmpMessage::Aggregate {
                timestamp: raw.timestamp,
                stream_id: raw.stream_id,
                payload: raw.payload.clone(),
            },
            TYPE_SHARED_OBJECT_AMF0 | TYPE_SHARED_OBJECT_AMF3 => {
                RtmpMessage::SharedObject { type_id: t }
            }
            type_id => RtmpMessage::Unknown { type_id },
        })
    }

    /// The message type id this message is encoded with.
    pub fn type_id(&self) -> u8 {
        match self {
            RtmpMessage::SetChunkSize(_) => TYPE_SET_CHUNK_SIZE,
            RtmpMessage::Abort { .. } => TYPE_ABORT,
            RtmpMessage::Acknowledgement { .. } => TYPE_ACK,
            RtmpMessage::UserControl(_) => TYPE_USER_CONTROL,
            RtmpMessage::WindowAckSize(_) => TYPE_WINDOW_ACK_SIZE,
            RtmpMessage::SetPeerBandwidth { .. } => TYPE_SET_PEER_BANDWIDTH,
            RtmpMessage::Audio { .. } => TYPE_AUDIO,
            RtmpMessage::Video { .. } => TYPE_VIDEO,
            RtmpMessage::Command { .. } => TYPE_COMMAND_AMF0,
            RtmpMessage::Data { .. } => TYPE_DATA_AMF0,
            RtmpMessage::Aggregate { .. } => TYPE_AGGREGATE,
            RtmpMessage::SharedObject { type_id } | RtmpMessage::Unknown { type_id } => *type_id,
        }
    }

    /// Encode with the given timestamp (commands/control use 0).
    pub fn encode(&self) -> RawMessage {
        let raw = |csid, timestamp, stream_id, payload| RawMessage {
            csid,
            timestamp,
            type_id: self.type_id(),
            stream_id,
            payload,
        };
        match self {
            RtmpMessage::Audio {
                timestamp,
                stream_id,
                payload,
            } => raw(CSID_AUDIO, *timestamp, *stream_id, payload.clone()),
            RtmpMessage::Video {
                timestamp,
                stream_id,
                payload,
            }
            | RtmpMessage::Aggregate {
                timestamp,
                stream_id,
                payload,
            } => raw(CSID_VIDEO, *timestamp, *stream_id, payload.clone()),
            RtmpMessage::Command { stream_id, values } => {
                let csid = if *stream_id == 0 {
                    CSID_COMMAND
                } else {
                    CSID_STREAM_COMMAND
                };
                raw(csid, 0, *stream_id, amf_payload(values))
            }
            RtmpMessage::Data {
                timestamp,
                stream_id,
                values,
                payload,
            } => {
                let payload = if payload.is_empty() {
                    amf_payload(values)
                } else {
                    payload.clone()
                };
                raw(CSID_DATA, *timestamp, *stream_id, payload)
            }
            RtmpMessage::SharedObject { .. } | RtmpMessage::Unknown { .. } => {
                raw(CSID_COMMAND, 0, 0, Bytes::new())
            }
            control => raw(CSID_CONTROL, 0, 0, control_payload(control)),
        }
    }
}

/// AMF0 encoding of `values`.
fn amf_payload(values: &[Amf0Value]) -> Bytes {
    let mut b = BytesMut::new();
    amf0::encode_all(values, &mut b);
    b.freeze()
}

/// Payload of a protocol control or user control message (empty for any
/// other message).
fn control_payload(msg: &RtmpMessage) -> Bytes {
    let mut b = BytesMut::with_capacity(10);
    match msg {
        RtmpMessage::SetChunkSize(v)
        | RtmpMessage::WindowAckSize(v)
        | RtmpMessage::Abort { csid: v }
        | RtmpMessage::Acknowledgement { sequence: v } => b.put_u32(*v),
        RtmpMessage::SetPeerBandwidth { size, limit_type } => {
            b.put_u32(*size);
            b.put_u8(*limit_type);
        }
        RtmpMessage::UserControl(uc) => {
            b.put_u16(uc.event_type());
            match *uc {
                UserControl::StreamBegin(v)
                | UserControl::StreamEof(v)
                | UserControl::StreamDry(v)
                | UserControl::StreamIsRecorded(v)
                | UserControl::PingRequest(v)
                | UserControl::PingResponse(v) => b.put_u32(v),
                UserControl::SetBufferLength {
                    stream_id,
                    buffer_ms,
                } => {
                    b.put_u32(stream_id);
                    b.put_u32(buffer_ms);
                }
                UserControl::Unknown { .. } => {}
            }
        }
        _ => {}
    }
    b.freeze()
}

/// Conventional csid for a sub-message type of an aggregate.
fn csid_for_type(type_id: u8) -> u32 {
    match type_id {
        TYPE_AUDIO => CSID_AUDIO,
        TYPE_VIDEO | TYPE_AGGREGATE => CSID_VIDEO,
        TYPE_DATA_AMF0 | TYPE_DATA_AMF3 => CSID_DATA,
        TYPE_COMMAND_AMF0 | TYPE_COMMAND_AMF3 => CSID_COMMAND,
        _ => CSID_CONTROL,
    }
}

/// Split an aggregate message's payload into sub-messages, timestamps rebased
/// on the aggregate's own timestamp.
///
/// Layout of each sub-message (FLV-tag-like): type (1), body size (3, BE),
/// timestamp (3, BE) + timestamp high byte (1), stream id (3, ignored: the
/// aggregate's `stream_id` is used), body, back pointer (4, not checked; may
/// be missing after the last sub-message). Sub-message `i` gets timestamp
/// `timestamp + (ts_i - ts_0)` (wrapping). Bodies are slices of `payload`
/// (no copy). A truncated header or body is [`MessageError::BadAggregate`].
pub fn split_aggregate(
    timestamp: u32,
    stream_id: u32,
    payload: &Bytes,
) -> Result<Vec<RawMessage>, MessageError> {
    Ok(AggregateIter::new(timestamp, stream_id, payload.clone())?.collect())
}

/// The sub-messages of an aggregate, one at a time (see
/// [`split_aggregate`] for the layout). [`AggregateIter::new`] checks the
/// whole layout first (a walk over the headers, no allocation), so a
/// malformed aggregate yields no sub-message at all and iterating cannot
/// fail. A session keeps a partly consumed iterator to bound the work of one
/// call however many sub-messages an aggregate holds.
#[derive(Debug, Clone)]
pub struct AggregateIter {
    timestamp: u32,
    stream_id: u32,
    payload: Bytes,
    pos: usize,
    first_ts: Option<u32>,
}

/// The next sub-message header at `pos`: (type, body range, timestamp) and
/// where the following one starts (`None` after the last).
type SubHeader = (u8, std::ops::Range<usize>, u32, Option<usize>);

fn sub_header(payload: &[u8], pos: usize) -> Result<SubHeader, MessageError> {
    let h = payload
        .get(pos..pos + 11)
        .ok_or(MessageError::BadAggregate)?;
    let size = be24(&h[1..4]) as usize;
    let ts = be24(&h[4..7]) | (u32::from(h[7]) << 24);
    let body = pos + 11..pos + 11 + size;
    let rest = payload
        .len()
        .checked_sub(body.end)
        .ok_or(MessageError::BadAggregate)?;
    let next = match rest {
        0 => None,
        1..=3 => return Err(MessageError::BadAggregate),
        _ => Some(body.end + 4),
    };
    Ok((h[0], body, ts, next))
}

impl AggregateIter {
    /// Check the layout of `payload`; `BadAggregate` if it is malformed.
    pub fn new(timestamp: u32, stream_id: u32, payload: Bytes) -> Result<Self, MessageError> {
        let mut pos = Some(0);
        while let Some(p) = pos.filter(|&p| p < payload.len()) {
            pos = sub_header(&payload, p)?.3;
        }
        Ok(AggregateIter {
            timestamp,
            stream_id,
            payload,
            pos: 0,
            first_ts: None,
        })
    }

    /// True when every sub-message has been returned.
    pub fn is_done(&self) -> bool {
        self.pos >= self.payload.len()
    }
}

impl Iterator for AggregateIter {
    type Item = RawMessage;

    fn next(&mut self) -> Option<RawMessage> {
        if self.is_done() {
            return None;
        }
        // Checked by `new`.
        let (type_id, body, ts, next) = sub_header(&self.payload, self.pos).ok()?;
        self.pos = next.unwrap_or(self.payload.len());
        let t0 = *self.first_ts.get_or_insert(ts);
        Some(RawMessage {
            csid: csid_for_type(type_id),
            timestamp: self.timestamp.wrapping_add(ts.wrapping_sub(t0)),
            type_id,
            stream_id: self.stream_id,
            payload: self.payload.slice(body),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_of_every_error() {
        assert_eq!(
            MessageError::ShortControl { type_id: 5, len: 2 }.to_string(),
            "control message type 5 too short (2 bytes)"
        );
        assert_eq!(
            MessageError::Amf0 {
                type_id: 20,
                error: Amf0Error::UnknownMarker(0x42)
            }
            .to_string(),
            "bad AMF0 body in message type 20: unknown or unsupported AMF0 marker 0x42"
        );
        assert_eq!(
            MessageError::BadAggregate.to_string(),
            "malformed aggregate message"
        );
        let _: &dyn std::error::Error = &MessageError::BadAggregate;
    }
}
