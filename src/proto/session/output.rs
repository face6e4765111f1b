//! The output side shared by the server and client sessions: AMF0
//! commands/data and control messages through a `ChunkEncoder`, and message
//! decoding with the session's AMF limits.

use bytes::BytesMut;

use super::*;

impl ServerSession {
    pub(super) fn answer_null(&mut self, tx: f64, msid: u32, out: &mut BytesMut) {
        if tx != 0.0 {
            let v = command::result_null(tx);
            self.write_command(CSID_COMMAND, msid, &v, out);
        }
    }

    pub(super) fn write_status(
        &mut self,
        stream_id: u32,
        level: &str,
        code: &str,
        description: &str,
        out: &mut BytesMut,
    ) {
        let v = command::on_status(level, code, description);
        self.write_command(CSID_STREAM_COMMAND, stream_id, &v, out);
    }

    pub(super) fn write_command(
        &mut self,
        csid: u32,
        msid: u32,
        values: &[Amf0Value],
        out: &mut BytesMut,
    ) {
        self.write_amf(csid, TYPE_COMMAND_AMF0, msid, values, out);
    }

    pub(super) fn write_amf(
        &mut self,
        csid: u32,
        type_id: u8,
        msid: u32,
        values: &[Amf0Value],
        out: &mut BytesMut,
    ) {
        write_amf(&mut self.encoder, csid, type_id, msid, values, out);
    }

    pub(super) fn write_user_control(&mut self, uc: UserControl, out: &mut BytesMut) {
        self.write_control(RtmpMessage::UserControl(uc), out);
    }

    /// Protocol control and user control messages: csid 2, stream 0, ts 0.
    pub(super) fn write_control(&mut self, msg: RtmpMessage, out: &mut BytesMut) {
        write_control(&mut self.encoder, msg, out);
    }
}

/// Encode AMF0 `values` as one command/data message (timestamp 0) through
/// `encoder`. Shared by the server and client sessions.
pub(crate) fn write_amf(
    encoder: &mut ChunkEncoder,
    csid: u32,
    type_id: u8,
    msid: u32,
    values: &[Amf0Value],
    out: &mut BytesMut,
) {
    let mut body = BytesMut::new();
    amf0::encode_all(values, &mut body);
    let raw = RawMessage {
        csid,
        timestamp: 0,
        type_id,
        stream_id: msid,
        payload: body.freeze(),
    };
    encoder.encode(&raw, out);
}

/// Encode a protocol control or user control message on csid 2, stream 0,
/// timestamp 0 through `encoder`. Shared by the server and client sessions.
pub(crate) fn write_control(encoder: &mut ChunkEncoder, msg: RtmpMessage, out: &mut BytesMut) {
    let mut raw = msg.encode();
    raw.csid = CSID_CONTROL;
    raw.stream_id = 0;
    raw.timestamp = 0;
    encoder.encode(&raw, out);
}

/// [`RtmpMessage::decode`], but command and data bodies are decoded with
/// the session's AMF limits (the message layer uses the defaults), and the
/// strings of commands as `command_strings` says (data is always lossy: its
/// values may be re-encoded and relayed).
pub(crate) fn decode_message(
    raw: &RawMessage,
    limits: &Amf0Limits,
    command_strings: Strings,
) -> Result<RtmpMessage, MessageError> {
    let amf3 = match raw.type_id {
        TYPE_COMMAND_AMF0 | TYPE_DATA_AMF0 => false,
        TYPE_COMMAND_AMF3 | TYPE_DATA_AMF3 => true,
        _ => return RtmpMessage::decode(raw),
    };
    // AMF3 command/data messages carry AMF0 after a leading 0x00 marker.
    let body = if amf3 && raw.payload.first() == Some(&0) {
        raw.payload.slice(1..)
    } else {
        raw.payload.clone()
    };
    let command = matches!(raw.type_id, TYPE_COMMAND_AMF0 | TYPE_COMMAND_AMF3);
    let strings = if command {
        command_strings
    } else {
        Strings::Lossy
    };
    let values =
        amf0::decode_all_with(&body, limits, strings).map_err(|error| MessageError::Amf0 {
            type_id: raw.type_id,
            error,
        })?;
    Ok(match raw.type_id {
        TYPE_COMMAND_AMF0 | TYPE_COMMAND_AMF3 => RtmpMessage::Command {
            stream_id: raw.stream_id,
            values,
        },
        _ => RtmpMessage::Data {
            timestamp: raw.timestamp,
            stream_id: raw.stream_id,
            values,
            payload: body,
        },
    })
}

/// `[name, values...]` (for data messages such as `|RtmpSampleAccess` when
/// the builder returns only the arguments).
pub(super) fn amf_with_name(name: &str, values: Vec<Amf0Value>) -> Vec<Amf0Value> {
    if values.first().and_then(Amf0Value::as_str) == Some(name) {
        return values;
    }
    let mut v = Vec::with_capacity(values.len() + 1);
    v.push(Amf0Value::String(name.to_owned()));
    v.extend(values);
    v
}
