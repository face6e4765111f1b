//! Builders of the commands and answers a server or client sends: each
//! returns the AMF0 values of one message (wrap them in
//! `RtmpMessage::Command`, or `Data` for [`sample_access`]).

use super::*;

fn s(v: &str) -> Amf0Value {
    Amf0Value::string(v)
}

fn status_object(level: &str, code: &str, description: &str) -> Vec<(String, Amf0Value)> {
    vec![
        ("level".to_owned(), s(level)),
        ("code".to_owned(), s(code)),
        ("description".to_owned(), s(description)),
    ]
}

/// `_result` for connect: properties (fmsVer, capabilities, mode) and info
/// (level status, code NetConnection.Connect.Success, objectEncoding).
pub fn connect_result(tx: f64, object_encoding: f64) -> Vec<Amf0Value> {
    connect_result_with(tx, object_encoding, &EnhancedCaps::default())
}

/// [`connect_result`] whose properties object also carries `caps` (the
/// E-RTMP v2 spec has the server state its support there, beside fmsVer;
/// nothing is added for empty caps).
pub fn connect_result_with(tx: f64, object_encoding: f64, caps: &EnhancedCaps) -> Vec<Amf0Value> {
    let mut props = vec![
        ("fmsVer".to_owned(), s(FMS_VERSION)),
        ("capabilities".to_owned(), Amf0Value::Number(31.0)),
        ("mode".to_owned(), Amf0Value::Number(1.0)),
    ];
    props.extend(caps.properties());
    let mut info = status_object(LEVEL_STATUS, CODE_CONNECT_SUCCESS, "Connection succeeded.");
    info.push((
        "objectEncoding".to_owned(),
        Amf0Value::Number(object_encoding),
    ));
    vec![
        s(CMD_RESULT),
        Amf0Value::Number(tx),
        Amf0Value::Object(props),
        Amf0Value::Object(info),
    ]
}

/// `_error` for connect with NetConnection.Connect.Rejected.
pub fn connect_rejected(tx: f64, description: &str) -> Vec<Amf0Value> {
    error(tx, CODE_CONNECT_REJECTED, description)
}

/// `_result` with a null command object and one number (createStream).
pub fn result_number(tx: f64, value: f64) -> Vec<Amf0Value> {
    vec![
        s(CMD_RESULT),
        Amf0Value::Number(tx),
        Amf0Value::Null,
        Amf0Value::Number(value),
    ]
}

/// `_result` with null command object and null (generic acknowledgement).
pub fn result_null(tx: f64) -> Vec<Amf0Value> {
    vec![
        s(CMD_RESULT),
        Amf0Value::Number(tx),
        Amf0Value::Null,
        Amf0Value::Null,
    ]
}

/// `_error` with a status object (level error, given code/description).
pub fn error(tx: f64, code: &str, description: &str) -> Vec<Amf0Value> {
    vec![
        s(CMD_ERROR),
        Amf0Value::Number(tx),
        Amf0Value::Null,
        Amf0Value::Object(status_object(LEVEL_ERROR, code, description)),
    ]
}

/// `onStatus` (tx 0, null, info object {level, code, description}).
pub fn on_status(level: &str, code: &str, description: &str) -> Vec<Amf0Value> {
    vec![
        s(CMD_ON_STATUS),
        Amf0Value::Number(0.0),
        Amf0Value::Null,
        Amf0Value::Object(status_object(level, code, description)),
    ]
}

/// `onStatus` whose info object also carries `details` (FMS puts the stream
/// name there for Play.Reset / Play.Start) and, if given, `clientid`.
pub fn on_status_details(
    level: &str,
    code: &str,
    description: &str,
    details: &str,
    clientid: Option<&str>,
) -> Vec<Amf0Value> {
    let mut info = status_object(level, code, description);
    info.push(("details".to_owned(), s(details)));
    if let Some(id) = clientid {
        info.push(("clientid".to_owned(), s(id)));
    }
    vec![
        s(CMD_ON_STATUS),
        Amf0Value::Number(0.0),
        Amf0Value::Null,
        Amf0Value::Object(info),
    ]
}

/// E-RTMP v2 `onStatus` NetConnection.Connect.ReconnectRequest (tx 0, null,
/// info {level status, code, description, tcUrl if given}); sent on message
/// stream 0, only to a client that announced `capsEx` Reconnect.
pub fn reconnect_request(description: &str, tc_url: Option<&str>) -> Vec<Amf0Value> {
    let mut info = status_object(LEVEL_STATUS, CODE_CONNECT_RECONNECT_REQUEST, description);
    if let Some(url) = tc_url {
        info.push(("tcUrl".to_owned(), s(url)));
    }
    vec![
        s(CMD_ON_STATUS),
        Amf0Value::Number(0.0),
        Amf0Value::Null,
        Amf0Value::Object(info),
    ]
}

fn fc_answer(name: &str, code: &str, description: &str) -> Vec<Amf0Value> {
    vec![
        s(name),
        Amf0Value::Number(0.0),
        Amf0Value::Null,
        Amf0Value::object([("code", s(code)), ("description", s(description))]),
    ]
}

/// `onFCPublish` / `onFCUnpublish` (tx 0, null, {code, description}).
pub fn on_fc_publish(code: &str, description: &str) -> Vec<Amf0Value> {
    fc_answer("onFCPublish", code, description)
}
pub fn on_fc_unpublish(code: &str, description: &str) -> Vec<Amf0Value> {
    fc_answer("onFCUnpublish", code, description)
}
/// `|RtmpSampleAccess` data message values (true, true).
pub fn sample_access() -> Vec<Amf0Value> {
    vec![
        s(DATA_SAMPLE_ACCESS),
        Amf0Value::Boolean(true),
        Amf0Value::Boolean(true),
    ]
}

/// Client-side `connect`. A publisher identifies as an FMLE-style encoder
/// (`type: nonprivate`, as ffmpeg and GStreamer publish); a player sends the
/// capability fields ffmpeg and librtmp send (`fpad`, `capabilities`,
/// `audioCodecs`, `videoCodecs`, `videoFunction`).
pub fn connect(tx: f64, app: &str, tc_url: &str, publisher: bool) -> Vec<Amf0Value> {
    connect_as(tx, app, tc_url, publisher, None)
}

/// [`connect`] with `flash_ver` instead of this crate's default flashVer.
pub fn connect_as(
    tx: f64,
    app: &str,
    tc_url: &str,
    publisher: bool,
    flash_ver: Option<&str>,
) -> Vec<Amf0Value> {
    connect_with(
        tx,
        app,
        tc_url,
        publisher,
        flash_ver,
        &EnhancedCaps::default(),
    )
}

/// [`connect_as`] whose command object ends with the E-RTMP properties of
/// `caps` (nothing is added for empty caps).
pub fn connect_with(
    tx: f64,
    app: &str,
    tc_url: &str,
    publisher: bool,
    flash_ver: Option<&str>,
    caps: &EnhancedCaps,
) -> Vec<Amf0Value> {
    let default = if publisher {
        CLIENT_FLASH_VER_PUBLISH
    } else {
        CLIENT_FLASH_VER_PLAY
    };
    let flash_ver = flash_ver.unwrap_or(default);
    let object = if publisher {
        Amf0Value::object([
            ("app", s(app)),
            ("type", s("nonprivate")),
            ("flashVer", s(flash_ver)),
            ("tcUrl", s(tc_url)),
        ])
    } else {
        Amf0Value::object([
            ("app", s(app)),
            ("flashVer", s(flash_ver)),
            ("tcUrl", s(tc_url)),
            ("fpad", Amf0Value::Boolean(false)),
            ("capabilities", Amf0Value::Number(15.0)),
            ("audioCodecs", Amf0Value::Number(4071.0)),
            ("videoCodecs", Amf0Value::Number(252.0)),
            ("videoFunction", Amf0Value::Number(1.0)),
        ])
    };
    let mut object = object;
    if let Amf0Value::Object(props) = &mut object {
        props.extend(caps.properties());
    }
    vec![s("connect"), Amf0Value::Number(tx), object]
}

/// `[name, tx, null, args...]`: createStream, releaseStream, FCPublish,
/// publish, play, deleteStream and friends.
pub fn simple(name: &str, tx: f64, args: Vec<Amf0Value>) -> Vec<Amf0Value> {
    let mut v = Vec::with_capacity(3 + args.len());
    v.push(s(name));
    v.push(Amf0Value::Number(tx));
    v.push(Amf0Value::Null);
    v.extend(args);
    v
}

/// `createStream(tx)`.
pub fn create_stream(tx: f64) -> Vec<Amf0Value> {
    simple("createStream", tx, Vec::new())
}

/// `publish(tx, name, kind)`; `kind` is "live", "record" or "append".
pub fn publish(tx: f64, name: &str, kind: &str) -> Vec<Amf0Value> {
    simple("publish", tx, vec![s(name), s(kind)])
}

/// `play(tx, name, start)`; start -2 plays live or recorded, -1 live only.
pub fn play(tx: f64, name: &str, start: f64) -> Vec<Amf0Value> {
    simple("play", tx, vec![s(name), Amf0Value::Number(start)])
}

/// `deleteStream(tx, stream_id)`.
pub fn delete_stream(tx: f64, stream_id: f64) -> Vec<Amf0Value> {
    simple("deleteStream", tx, vec![Amf0Value::Number(stream_id)])
}
