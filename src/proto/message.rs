//! Typed RTMP messages (SKELETON — contract only).
//!
//! Contract: [`RtmpMessage::decode`] turns a [`RawMessage`] into a typed
//! message (AMF bodies decoded, control fields parsed, short control messages
//! rejected); [`RtmpMessage::encode`] produces a `RawMessage` (payload built)
//! on the conventional csid for its kind (see the `CSID_*` constants).
//! [`split_aggregate`] turns an aggregate (type 22) into its sub-messages.

use bytes::Bytes;

use super::amf0::{Amf0Error, Amf0Value};
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

/// Chunk stream ids this implementation sends on.
pub const CSID_CONTROL: u32 = 2;
pub const CSID_COMMAND: u32 = 3;
pub const CSID_DATA: u32 = 4;
pub const CSID_STREAM_COMMAND: u32 = 5;
pub const CSID_AUDIO: u32 = 6;
pub const CSID_VIDEO: u32 = 7;

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

impl RtmpMessage {
    pub fn decode(_raw: &RawMessage) -> Result<RtmpMessage, MessageError> {
        unimplemented!()
    }
    /// Encode with the given timestamp (commands/control use 0).
    pub fn encode(&self) -> RawMessage {
        unimplemented!()
    }
}

/// Split an aggregate message's payload into sub-messages, timestamps rebased
/// on the aggregate's own timestamp.
pub fn split_aggregate(
    _timestamp: u32,
    _stream_id: u32,
    _payload: &Bytes,
) -> Result<Vec<RawMessage>, MessageError> {
    unimplemented!()
}
