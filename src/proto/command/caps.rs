//! Enhanced RTMP (v2) capabilities of the `connect` exchange: what a client
//! announces in its command object and what a server answers in the connect
//! `_result` properties (veovera enhanced-rtmp v2, "Enhancing NetConnection
//! connect Command").
//!
//! # Rules
//!
//! * [`EnhancedCaps::parse`] is tolerant: a property of the wrong type, a
//!   flag that is not a whole number in `0..=u32::MAX`, a list entry that is
//!   not a string, or an over-long list or name is skipped with a debug log,
//!   never an error (a client that gets these wrong still connects, as a
//!   legacy client). At most [`MAX_FOURCCS`] entries per list or map are
//!   kept, names of at most [`MAX_FOURCC_LEN`] bytes.
//! * Property names and flag values are those of the spec:
//!   `fourCcList` (strict array of FourCC strings, `"*"` = any),
//!   `videoFourCcInfoMap` / `audioFourCcInfoMap` (object FourCC or `"*"` →
//!   [`FOURCC_CAN_DECODE`] | [`FOURCC_CAN_ENCODE`] | [`FOURCC_CAN_FORWARD`]),
//!   `capsEx` ([`CAPS_EX_RECONNECT`] | [`CAPS_EX_MULTITRACK`] |
//!   [`CAPS_EX_MOD_EX`] | [`CAPS_EX_TIMESTAMP_NANO_OFFSET`]). A reader takes
//!   an ECMA array wherever the spec says object.
//! * [`EnhancedCaps::properties`] writes only what is set, in the order
//!   `fourCcList`, `videoFourCcInfoMap`, `audioFourCcInfoMap`, `capsEx`, so
//!   an empty value adds nothing to a command (legacy form).

use log::debug;

use super::Amf0Value;

/// `capsEx`: the peer handles `NetConnection.Connect.ReconnectRequest`.
pub const CAPS_EX_RECONNECT: u32 = 0x01;
/// `capsEx`: multitrack audio/video packets.
pub const CAPS_EX_MULTITRACK: u32 = 0x02;
/// `capsEx`: the peer can parse the ModEx signal.
pub const CAPS_EX_MOD_EX: u32 = 0x04;
/// `capsEx`: timestamp nano offsets.
pub const CAPS_EX_TIMESTAMP_NANO_OFFSET: u32 = 0x08;

/// FourCC info map flags.
pub const FOURCC_CAN_DECODE: u32 = 0x01;
pub const FOURCC_CAN_ENCODE: u32 = 0x02;
pub const FOURCC_CAN_FORWARD: u32 = 0x04;

/// The wildcard FourCC: any codec.
pub const FOURCC_ANY: &str = "*";

/// Video FourCCs this crate's client names (besides `"*"`): some servers
/// (MediaMTX) look for named codecs and ignore the wildcard.
pub const VIDEO_FOURCCS: [&str; 5] = ["avc1", "hvc1", "av01", "vp09", "vp08"];
/// Audio FourCCs this crate's client names.
pub const AUDIO_FOURCCS: [&str; 6] = ["mp4a", "Opus", "fLaC", "ac-3", "ec-3", ".mp3"];

/// Entries kept per list or map.
pub const MAX_FOURCCS: usize = 32;
/// Longest FourCC name kept (a FourCC is 4 bytes; some send longer tags).
pub const MAX_FOURCC_LEN: usize = 16;

const FOURCC_LIST: &str = "fourCcList";
const VIDEO_MAP: &str = "videoFourCcInfoMap";
const AUDIO_MAP: &str = "audioFourCcInfoMap";
const CAPS_EX: &str = "capsEx";

/// The E-RTMP capabilities of one side of a connection. `None` (or empty
/// for the lists) = not announced.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EnhancedCaps {
    pub four_cc_list: Option<Vec<String>>,
    pub video_four_cc_info_map: Option<Vec<(String, u32)>>,
    pub audio_four_cc_info_map: Option<Vec<(String, u32)>>,
    pub caps_ex: Option<u32>,
}

impl EnhancedCaps {
    /// What this server answers to an E-RTMP client: it forwards any codec
    /// (it never decodes) and handles reconnect requests, multitrack and
    /// ModEx packets.
    pub fn server() -> EnhancedCaps {
        EnhancedCaps {
            four_cc_list: Some(vec![FOURCC_ANY.to_owned()]),
            video_four_cc_info_map: Some(vec![(FOURCC_ANY.to_owned(), FOURCC_CAN_FORWARD)]),
            audio_four_cc_info_map: Some(vec![(FOURCC_ANY.to_owned(), FOURCC_CAN_FORWARD)]),
            caps_ex: Some(CAPS_EX_RECONNECT | CAPS_EX_MULTITRACK | CAPS_EX_MOD_EX),
        }
    }

    /// What this crate's client announces: `"*"` and every FourCC it knows,
    /// each with CanForward only (the client moves FLV tags between a file
    /// and the wire; it decodes nothing), and `caps_ex`.
    pub fn client(caps_ex: u32) -> EnhancedCaps {
        let named = |list: &[&str]| -> Vec<(String, u32)> {
            std::iter::once(FOURCC_ANY)
                .chain(list.iter().copied())
                .map(|f| (f.to_owned(), FOURCC_CAN_FORWARD))
                .collect()
        };
        let list = std::iter::once(FOURCC_ANY)
            .chain(VIDEO_FOURCCS)
            .chain(AUDIO_FOURCCS)
            .map(str::to_owned)
            .collect();
        EnhancedCaps {
            four_cc_list: Some(list),
            video_four_cc_info_map: Some(named(&VIDEO_FOURCCS)),
            audio_four_cc_info_map: Some(named(&AUDIO_FOURCCS)),
            caps_ex: Some(caps_ex),
        }
    }

    /// Read the E-RTMP properties of a command object (connect) or of a
    /// connect `_result` properties object. See the module rules.
    pub fn parse(obj: &Amf0Value) -> EnhancedCaps {
        let mut caps = EnhancedCaps::default();
        if let Some(v) = obj.get(FOURCC_LIST) {
            caps.four_cc_list = parse_list(v);
        }
        if let Some(v) = obj.get(VIDEO_MAP) {
            caps.video_four_cc_info_map = parse_map(VIDEO_MAP, v);
        }
        if let Some(v) = obj.get(AUDIO_MAP) {
            caps.audio_four_cc_info_map = parse_map(AUDIO_MAP, v);
        }
        if let Some(v) = obj.get(CAPS_EX) {
            caps.caps_ex = flags(v);
            if caps.caps_ex.is_none() {
                debug!("connect: {CAPS_EX} {v:?} ignored (not a flag number)");
            }
        }
        caps
    }

    /// Whether any E-RTMP property was announced.
    pub fn is_announced(&self) -> bool {
        self.four_cc_list.is_some()
            || self.video_four_cc_info_map.is_some()
            || self.audio_four_cc_info_map.is_some()
            || self.caps_ex.is_some()
    }

    /// `capsEx` has every bit of `mask`.
    pub fn has_caps_ex(&self, mask: u32) -> bool {
        self.caps_ex.is_some_and(|c| c & mask == mask)
    }

    /// The peer handles `NetConnection.Connect.ReconnectRequest`.
    pub fn can_reconnect(&self) -> bool {
        self.has_caps_ex(CAPS_EX_RECONNECT)
    }

    /// The set properties as `(name, value)` pairs for a command object.
    pub fn properties(&self) -> Vec<(String, Amf0Value)> {
        let mut props = Vec::with_capacity(4);
        if let Some(list) = &self.four_cc_list {
            let items = list.iter().map(|s| Amf0Value::string(s.as_str())).collect();
            props.push((FOURCC_LIST.to_owned(), Amf0Value::StrictArray(items)));
        }
        for (name, map) in [
            (VIDEO_MAP, &self.video_four_cc_info_map),
            (AUDIO_MAP, &self.audio_four_cc_info_map),
        ] {
            if let Some(map) = map {
                let entries = map
                    .iter()
                    .map(|(k, f)| (k.clone(), Amf0Value::Number(f64::from(*f))));
                props.push((name.to_owned(), Amf0Value::Object(entries.collect())));
            }
        }
        if let Some(c) = self.caps_ex {
            props.push((CAPS_EX.to_owned(), Amf0Value::Number(f64::from(c))));
        }
        props
    }
}

/// A whole number in `0..=u32::MAX`.
fn flags(v: &Amf0Value) -> Option<u32> {
    let n = v.as_number()?;
    (n.is_finite() && n >= 0.0 && n <= f64::from(u32::MAX) && n.fract() == 0.0).then_some(n as u32)
}

fn fourcc_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_FOURCC_LEN
}

fn parse_list(v: &Amf0Value) -> Option<Vec<String>> {
    let Amf0Value::StrictArray(items) = v else {
        debug!("connect: {FOURCC_LIST} ignored (not a strict array)");
        return None;
    };
    let mut list = Vec::new();
    for item in items {
        match item.as_str() {
            Some(s) if fourcc_name(s) && list.len() < MAX_FOURCCS => list.push(s.to_owned()),
            _ => debug!("connect: {FOURCC_LIST} entry {item:?} ignored"),
        }
    }
    Some(list)
}

fn parse_map(name: &str, v: &Amf0Value) -> Option<Vec<(String, u32)>> {
    let (Amf0Value::Object(props) | Amf0Value::EcmaArray(props)) = v else {
        debug!("connect: {name} ignored (not an object)");
        return None;
    };
    let mut map = Vec::new();
    for (k, v) in props {
        match flags(v) {
            Some(f) if fourcc_name(k) && map.len() < MAX_FOURCCS => map.push((k.clone(), f)),
            _ => debug!("connect: {name} entry {k:?} = {v:?} ignored"),
        }
    }
    Some(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_lists_the_wildcard_and_every_known_fourcc() {
        let c = EnhancedCaps::client(CAPS_EX_RECONNECT);
        let list = c.four_cc_list.as_ref().unwrap();
        assert_eq!(list[0], "*");
        assert_eq!(list.len(), 1 + VIDEO_FOURCCS.len() + AUDIO_FOURCCS.len());
        assert!(c.can_reconnect());
        let back = EnhancedCaps::parse(&Amf0Value::Object(c.properties()));
        assert_eq!(back, c);
    }

    #[test]
    fn flags_must_be_whole_u32() {
        for bad in [-1.0, 0.5, f64::NAN, f64::INFINITY, 4_294_967_296.0] {
            assert_eq!(flags(&Amf0Value::Number(bad)), None, "{bad}");
        }
        assert_eq!(flags(&Amf0Value::Number(7.0)), Some(7));
        assert_eq!(flags(&Amf0Value::string("7")), None);
    }
}
