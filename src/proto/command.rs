//! Typed RTMP commands and the answers a server or client builds (SKELETON —
//! contract only).
//!
//! Contract: [`Command::parse`] takes the AMF0 values of a command message
//! (name, transaction id, command object, arguments...) and returns a typed
//! command; a well-formed unknown command is `Command::Unknown`; missing or
//! wrong-typed arguments of a known command are `CommandError::BadArgument`.
//! The builder functions return the AMF0 values of a message to send (wrap
//! them in `RtmpMessage::Command`).

use super::amf0::Amf0Value;

/// `connect` command object fields sessions care about.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConnectParams {
    /// `app`, e.g. `live` or `live/instance`, with any query string removed.
    pub app: String,
    pub tc_url: Option<String>,
    pub flash_ver: Option<String>,
    pub object_encoding: Option<f64>,
    /// The whole command object as received.
    pub object: Vec<(String, Amf0Value)>,
}

/// A stream name split from its query string: `name?key=v` -> `name`, `key=v`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamName {
    pub name: String,
    pub query: Option<String>,
}

/// What `deleteStream`/`closeStream`/`FCUnpublish` name: a number or a name.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamRef {
    Id(f64),
    Name(String),
    None,
}

#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Command {
    Connect {
        tx: f64,
        params: ConnectParams,
    },
    CreateStream {
        tx: f64,
    },
    ReleaseStream {
        tx: f64,
        name: StreamName,
    },
    FcPublish {
        tx: f64,
        name: StreamName,
    },
    FcUnpublish {
        tx: f64,
        name: StreamName,
    },
    /// `kind` is "live", "record" or "append" (default "live").
    Publish {
        tx: f64,
        name: StreamName,
        kind: String,
    },
    /// start: -2 live or recorded, -1 live only, >= 0 recorded from ms.
    /// duration: -1 until end. reset: flush playlist.
    Play {
        tx: f64,
        name: StreamName,
        start: f64,
        duration: f64,
        reset: bool,
    },
    DeleteStream {
        tx: f64,
        stream: StreamRef,
    },
    CloseStream {
        tx: f64,
        stream: StreamRef,
    },
    GetStreamLength {
        tx: f64,
        name: StreamName,
    },
    Pause {
        tx: f64,
        pause: bool,
        position_ms: f64,
    },
    ReceiveAudio {
        tx: f64,
        enable: bool,
    },
    ReceiveVideo {
        tx: f64,
        enable: bool,
    },
    CheckBw {
        tx: f64,
    },
    /// `_result` from the peer (client side).
    Result {
        tx: f64,
        args: Vec<Amf0Value>,
    },
    /// `_error` from the peer (client side).
    Error {
        tx: f64,
        args: Vec<Amf0Value>,
    },
    /// `onStatus` with the info object's `level`, `code`, `description`.
    OnStatus {
        level: String,
        code: String,
        description: String,
    },
    /// Any other well-formed command (name is a string, tx a number).
    Unknown {
        name: String,
        tx: f64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommandError {
    /// No values, or the first value is not a string.
    NoName,
    /// The transaction id is missing or not a number.
    NoTransactionId,
    /// A known command whose argument `arg` is missing or of the wrong type.
    BadArgument {
        command: &'static str,
        arg: &'static str,
    },
}

impl Command {
    pub fn parse(_values: &[Amf0Value]) -> Result<Command, CommandError> {
        unimplemented!()
    }
}

/// `_result` for connect: properties (fmsVer, capabilities, mode) and info
/// (level status, code NetConnection.Connect.Success, objectEncoding).
pub fn connect_result(_tx: f64, _object_encoding: f64) -> Vec<Amf0Value> {
    unimplemented!()
}
/// `_error` for connect with NetConnection.Connect.Rejected.
pub fn connect_rejected(_tx: f64, _description: &str) -> Vec<Amf0Value> {
    unimplemented!()
}
/// `_result` with a null command object and one number (createStream).
pub fn result_number(_tx: f64, _value: f64) -> Vec<Amf0Value> {
    unimplemented!()
}
/// `_result` with null command object and null (generic acknowledgement).
pub fn result_null(_tx: f64) -> Vec<Amf0Value> {
    unimplemented!()
}
/// `_error` with a status object (level error, given code/description).
pub fn error(_tx: f64, _code: &str, _description: &str) -> Vec<Amf0Value> {
    unimplemented!()
}
/// `onStatus` (tx 0, null, info object {level, code, description, details?}).
pub fn on_status(_level: &str, _code: &str, _description: &str) -> Vec<Amf0Value> {
    unimplemented!()
}
/// `onFCPublish` / `onFCUnpublish` (tx 0, null, {code, description}).
pub fn on_fc_publish(_code: &str, _description: &str) -> Vec<Amf0Value> {
    unimplemented!()
}
pub fn on_fc_unpublish(_code: &str, _description: &str) -> Vec<Amf0Value> {
    unimplemented!()
}
/// `|RtmpSampleAccess` data message values (true, true).
pub fn sample_access() -> Vec<Amf0Value> {
    unimplemented!()
}
/// Client-side builders: connect, createStream, publish, play, etc.
pub fn connect(_tx: f64, _app: &str, _tc_url: &str, _publisher: bool) -> Vec<Amf0Value> {
    unimplemented!()
}
pub fn simple(_name: &str, _tx: f64, _args: Vec<Amf0Value>) -> Vec<Amf0Value> {
    unimplemented!()
}
/// For a Data message starting with `@setDataFrame`, the values with that
/// first string removed (what is relayed and recorded as onMetaData).
pub fn strip_set_data_frame(_values: &[Amf0Value]) -> Option<&[Amf0Value]> {
    unimplemented!()
}
