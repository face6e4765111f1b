//! Typed RTMP commands and the answers a server or client builds.
//!
//! # Rules a caller keeps
//!
//! * [`Command::parse`] takes the already decoded AMF0 values of one command
//!   message (type 20, or 17 after its leading 0x00): name, transaction id,
//!   command object, arguments.
//! * A well-formed command we do not know is [`Command::Unknown`] (answer it
//!   or ignore it; do not close the connection). A known command whose
//!   arguments are missing or of the wrong type is
//!   [`CommandError::BadArgument`]. Parsing is lenient where real clients
//!   are: the command object of every command but `connect` may be anything
//!   (usually Null, sometimes Undefined or an object); optional arguments
//!   given as Null/Undefined take their default; flags may be booleans or
//!   numbers.
//! * Stream names and the `connect` app are split from their query string
//!   (`cap?key=v` -> name `cap`, query `key=v`); the relay keys streams by
//!   app and name only.
//! * The E-RTMP capabilities of `connect` (`fourCcList`, the FourCC info
//!   maps, `capsEx`) are read into [`ConnectParams::caps`], tolerantly: a
//!   wrong type is ignored (debug log), never a [`CommandError`].
//! * `_result`/`_error` keep every value after the transaction id (command
//!   object first) in `args`; [`Command::code`] finds the status code.
//! * The builder functions return the AMF0 values of a message to send; wrap
//!   them in `RtmpMessage::Command` (or `Data` for [`sample_access`]). Status
//!   codes the server and client use are the `pub const` strings below.
//!
//! Argument layouts follow the Adobe RTMP 1.0 specification, section 7.2, and
//! what ffmpeg, librtmp (rtmpdump), OBS and GStreamer send (see
//! `golden/amf0/`).

use std::fmt;

use super::amf0::Amf0Value;

mod build;
mod caps;

pub use build::*;
pub use caps::*;
// The status codes and message names, kept at their old paths too.
pub use super::status::*;

/// `fmsVer` in the connect `_result` (what nginx-rtmp and FMS 3 announce).
pub const FMS_VERSION: &str = "FMS/3,0,1,123";
/// flashVer this crate's client sends when publishing (FMLE style, as ffmpeg).
pub const CLIENT_FLASH_VER_PUBLISH: &str = "FMLE/3.0 (compatible; rtmp-edge)";
/// flashVer this crate's client sends when playing (as ffmpeg and librtmp).
pub const CLIENT_FLASH_VER_PLAY: &str = "LNX 9,0,124,2";

/// `connect` command object fields sessions care about.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConnectParams {
    /// `app`, e.g. `live` or `live/instance`, with any query string removed.
    pub app: String,
    pub tc_url: Option<String>,
    pub flash_ver: Option<String>,
    pub object_encoding: Option<f64>,
    /// The E-RTMP capabilities announced (`fourCcList`, the FourCC info
    /// maps, `capsEx`); empty for a legacy client.
    pub caps: EnhancedCaps,
    /// The whole command object as received.
    pub object: Vec<(String, Amf0Value)>,
}

/// A stream name split from its query string: `name?key=v` -> `name`, `key=v`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamName {
    pub name: String,
    pub query: Option<String>,
}

impl StreamName {
    /// Split at the first `?`. An empty query (`name?`) is `None`.
    pub fn parse(s: &str) -> StreamName {
        let (name, query) = split_query(s);
        StreamName {
            name: name.to_owned(),
            query: query.map(str::to_owned),
        }
    }
}

/// `name?query` -> (`name`, Some(`query`)); no `?` or an empty query -> None.
fn split_query(s: &str) -> (&str, Option<&str>) {
    match s.split_once('?') {
        Some((name, q)) if !q.is_empty() => (name, Some(q)),
        Some((name, _)) => (name, None),
        None => (s, None),
    }
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

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::NoName => f.write_str("command message without a name string"),
            CommandError::NoTransactionId => {
                f.write_str("command message without a numeric transaction id")
            }
            CommandError::BadArgument { command, arg } => {
                write!(
                    f,
                    "{command}: argument '{arg}' missing or of the wrong type"
                )
            }
        }
    }
}

impl std::error::Error for CommandError {}

/// Argument `i` (0 = the first after the command object), Null/Undefined
/// counted as absent.
fn opt_arg(values: &[Amf0Value], i: usize) -> Option<&Amf0Value> {
    values.get(3 + i).filter(|v| !v.is_null_or_undefined())
}

fn bad(command: &'static str, arg: &'static str) -> CommandError {
    CommandError::BadArgument { command, arg }
}

fn name_arg(values: &[Amf0Value], command: &'static str) -> Result<StreamName, CommandError> {
    opt_arg(values, 0)
        .and_then(Amf0Value::as_str)
        .map(StreamName::parse)
        .ok_or(bad(command, "stream name"))
}

fn opt_number(
    values: &[Amf0Value],
    i: usize,
    default: f64,
    command: &'static str,
    arg: &'static str,
) -> Result<f64, CommandError> {
    match opt_arg(values, i) {
        None => Ok(default),
        Some(v) => v.as_number().ok_or(bad(command, arg)),
    }
}

/// A boolean argument; a number counts as `!= 0` (the spec allows either
/// for play's reset, and some clients send 0/1 for flags).
fn flag(v: &Amf0Value) -> Option<bool> {
    match v {
        Amf0Value::Boolean(b) => Some(*b),
        Amf0Value::Number(n) => Some(*n != 0.0),
        _ => None,
    }
}

fn stream_ref(v: Option<&Amf0Value>, command: &'static str) -> Result<StreamRef, CommandError> {
    match v {
        None => Ok(StreamRef::None),
        Some(Amf0Value::Number(n)) => Ok(StreamRef::Id(*n)),
        Some(v) => v
            .as_str()
            .map(|s| StreamRef::Name(s.to_owned()))
            .ok_or(bad(command, "stream")),
    }
}

fn info_str(info: &Amf0Value, key: &str) -> String {
    info.get(key)
        .and_then(Amf0Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The `code` of the first info object among `args` (for `_result`,
/// `_error` and `onStatus` arguments).
pub fn info_code(args: &[Amf0Value]) -> Option<&str> {
    args.iter()
        .find_map(|a| a.get("code"))
        .and_then(Amf0Value::as_str)
}

/// `onStatus`: the first object-like argument is the info object.
fn parse_on_status(values: &[Amf0Value]) -> Result<Command, CommandError> {
    let info = values
        .get(2..)
        .unwrap_or_default()
        .iter()
        .find(|v| v.properties().is_some())
        .ok_or(bad(CMD_ON_STATUS, "info object"))?;
    let code = info
        .get("code")
        .and_then(Amf0Value::as_str)
        .ok_or(bad(CMD_ON_STATUS, "code"))?;
    Ok(Command::OnStatus {
        level: info_str(info, "level"),
        code: code.to_owned(),
        description: info_str(info, "description"),
    })
}

/// The typed fields of a connect command object (`object` left empty).
fn connect_fields(obj: &Amf0Value) -> Result<ConnectParams, CommandError> {
    if !matches!(obj, Amf0Value::Object(_) | Amf0Value::EcmaArray(_)) {
        return Err(bad("connect", "command object"));
    }
    let app = obj
        .get("app")
        .and_then(Amf0Value::as_str)
        .ok_or(bad("connect", "app"))?;
    let text = |k: &str| obj.get(k).and_then(Amf0Value::as_str).map(str::to_owned);
    Ok(ConnectParams {
        app: split_query(app).0.to_owned(),
        tc_url: text("tcUrl"),
        flash_ver: text("flashVer"),
        object_encoding: obj.get("objectEncoding").and_then(Amf0Value::as_number),
        caps: EnhancedCaps::parse(obj),
        object: Vec::new(),
    })
}

impl Command {
    /// Like [`Command::parse`], but takes the values by value so that the
    /// connect command object and `_result`/`_error` arguments are moved,
    /// not cloned. Same results as `parse` for every input.
    pub fn parse_owned(mut values: Vec<Amf0Value>) -> Result<Command, CommandError> {
        let name = values
            .first()
            .and_then(Amf0Value::as_str)
            .ok_or(CommandError::NoName)?;
        let kind = match name {
            "connect" => 0,
            CMD_RESULT => 1,
            CMD_ERROR => 2,
            _ => return Command::parse(&values),
        };
        let tx = values
            .get(1)
            .and_then(Amf0Value::as_number)
            .ok_or(CommandError::NoTransactionId)?;
        if kind != 0 {
            let args = values.split_off(2.min(values.len()));
            return Ok(if kind == 1 {
                Command::Result { tx, args }
            } else {
                Command::Error { tx, args }
            });
        }
        let obj = values.get_mut(2).ok_or(bad("connect", "command object"))?;
        let mut params = connect_fields(obj)?;
        if let Amf0Value::Object(p) | Amf0Value::EcmaArray(p) = obj {
            params.object = std::mem::take(p);
        }
        Ok(Command::Connect { tx, params })
    }

    /// Parse the values of one command message. See the module rules.
    pub fn parse(values: &[Amf0Value]) -> Result<Command, CommandError> {
        let name = values
            .first()
            .and_then(Amf0Value::as_str)
            .ok_or(CommandError::NoName)?;
        let tx = values
            .get(1)
            .and_then(Amf0Value::as_number)
            .ok_or(CommandError::NoTransactionId)?;
        if let Some(cmd) = Command::parse_stream_command(name, tx, values)? {
            return Ok(cmd);
        }
        let cmd = match name {
            "connect" => {
                let obj = values.get(2).ok_or(bad("connect", "command object"))?;
                let mut params = connect_fields(obj)?;
                params.object = obj.properties().unwrap_or_default().to_vec();
                Command::Connect { tx, params }
            }
            "createStream" => Command::CreateStream { tx },
            "_checkbw" => Command::CheckBw { tx },
            CMD_RESULT => Command::Result {
                tx,
                args: values.get(2..).unwrap_or_default().to_vec(),
            },
            CMD_ERROR => Command::Error {
                tx,
                args: values.get(2..).unwrap_or_default().to_vec(),
            },
            CMD_ON_STATUS => parse_on_status(values)?,
            other => {
                log::trace!("unknown command '{other}' tx {tx}");
                Command::Unknown {
                    name: other.to_owned(),
                    tx,
                }
            }
        };
        Ok(cmd)
    }

    /// The commands that name or drive a stream; `None` for other names.
    fn parse_stream_command(
        name: &str,
        tx: f64,
        values: &[Amf0Value],
    ) -> Result<Option<Command>, CommandError> {
        let flag_arg = |command, arg| opt_arg(values, 0).and_then(flag).ok_or(bad(command, arg));
        Ok(Some(match name {
            "releaseStream" => Command::ReleaseStream {
                tx,
                name: name_arg(values, "releaseStream")?,
            },
            "FCPublish" => Command::FcPublish {
                tx,
                name: name_arg(values, "FCPublish")?,
            },
            "FCUnpublish" => Command::FcUnpublish {
                tx,
                name: name_arg(values, "FCUnpublish")?,
            },
            "publish" => Command::Publish {
                tx,
                name: name_arg(values, "publish")?,
                kind: match opt_arg(values, 1) {
                    None => "live".to_owned(),
                    Some(v) => v.as_str().ok_or(bad("publish", "type"))?.to_owned(),
                },
            },
            "play" => Command::Play {
                tx,
                name: name_arg(values, "play")?,
                start: opt_number(values, 1, -2.0, "play", "start")?,
                duration: opt_number(values, 2, -1.0, "play", "duration")?,
                reset: match opt_arg(values, 3) {
                    None => true,
                    Some(v) => flag(v).ok_or(bad("play", "reset"))?,
                },
            },
            "deleteStream" => match stream_ref(opt_arg(values, 0), "deleteStream")? {
                StreamRef::None => return Err(bad("deleteStream", "stream")),
                stream => Command::DeleteStream { tx, stream },
            },
            "closeStream" => Command::CloseStream {
                tx,
                stream: stream_ref(opt_arg(values, 0), "closeStream")?,
            },
            "getStreamLength" => Command::GetStreamLength {
                tx,
                name: name_arg(values, "getStreamLength")?,
            },
            "pause" => Command::Pause {
                tx,
                pause: flag_arg("pause", "pause")?,
                position_ms: opt_number(values, 1, 0.0, "pause", "position")?,
            },
            "receiveAudio" => Command::ReceiveAudio {
                tx,
                enable: flag_arg("receiveAudio", "enable")?,
            },
            "receiveVideo" => Command::ReceiveVideo {
                tx,
                enable: flag_arg("receiveVideo", "enable")?,
            },
            _ => return Ok(None),
        }))
    }

    /// The command name as sent on the wire (`"connect"`, `"FCPublish"`...).
    pub fn name(&self) -> &str {
        match self {
            Command::Connect { .. } => "connect",
            Command::CreateStream { .. } => "createStream",
            Command::ReleaseStream { .. } => "releaseStream",
            Command::FcPublish { .. } => "FCPublish",
            Command::FcUnpublish { .. } => "FCUnpublish",
            Command::Publish { .. } => "publish",
            Command::Play { .. } => "play",
            Command::DeleteStream { .. } => "deleteStream",
            Command::CloseStream { .. } => "closeStream",
            Command::GetStreamLength { .. } => "getStreamLength",
            Command::Pause { .. } => "pause",
            Command::ReceiveAudio { .. } => "receiveAudio",
            Command::ReceiveVideo { .. } => "receiveVideo",
            Command::CheckBw { .. } => "_checkbw",
            Command::Result { .. } => CMD_RESULT,
            Command::Error { .. } => CMD_ERROR,
            Command::OnStatus { .. } => CMD_ON_STATUS,
            Command::Unknown { name, .. } => name,
        }
    }

    /// The transaction id (`onStatus` always has 0).
    pub fn tx(&self) -> f64 {
        match self {
            Command::Connect { tx, .. }
            | Command::CreateStream { tx }
            | Command::ReleaseStream { tx, .. }
            | Command::FcPublish { tx, .. }
            | Command::FcUnpublish { tx, .. }
            | Command::Publish { tx, .. }
            | Command::Play { tx, .. }
            | Command::DeleteStream { tx, .. }
            | Command::CloseStream { tx, .. }
            | Command::GetStreamLength { tx, .. }
            | Command::Pause { tx, .. }
            | Command::ReceiveAudio { tx, .. }
            | Command::ReceiveVideo { tx, .. }
            | Command::CheckBw { tx }
            | Command::Result { tx, .. }
            | Command::Error { tx, .. }
            | Command::Unknown { tx, .. } => *tx,
            Command::OnStatus { .. } => 0.0,
        }
    }

    /// The status code carried by `_result`, `_error` or `onStatus`.
    pub fn code(&self) -> Option<&str> {
        match self {
            Command::Result { args, .. } | Command::Error { args, .. } => info_code(args),
            Command::OnStatus { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// For a Data message starting with `@setDataFrame`, the values with that
/// first string removed (what is relayed and recorded as onMetaData).
pub fn strip_set_data_frame(values: &[Amf0Value]) -> Option<&[Amf0Value]> {
    match values.first()?.as_str()? {
        DATA_SET_DATA_FRAME => Some(&values[1..]),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_of_every_error() {
        assert_eq!(
            CommandError::NoName.to_string(),
            "command message without a name string"
        );
        assert_eq!(
            CommandError::NoTransactionId.to_string(),
            "command message without a numeric transaction id"
        );
        assert_eq!(
            CommandError::BadArgument {
                command: "play",
                arg: "stream name"
            }
            .to_string(),
            "play: argument 'stream name' missing or of the wrong type"
        );
        let e: Box<dyn std::error::Error> = Box::new(CommandError::NoName);
        assert!(e.source().is_none());
    }

    #[test]
    fn split_query_cases() {
        assert_eq!(split_query("cap"), ("cap", None));
        assert_eq!(split_query("cap?k=v&a=b"), ("cap", Some("k=v&a=b")));
        assert_eq!(split_query("cap?"), ("cap", None));
        assert_eq!(split_query("?k"), ("", Some("k")));
        assert_eq!(split_query("a?b?c"), ("a", Some("b?c")));
    }
}
