//! The typed hook calls and their form bodies, field for field what
//! nginx-rtmp's notify module sends (`ngx_rtmp_notify_module.c` and
//! `ngx_rtmp_netcall_http_format_session`).
//!
//! Every body starts with the session fields, then the call's own fields,
//! then every query argument the client sent ([`QueryArgs`], in order):
//!
//! ```text
//! connect        app flashver swfurl tcurl pageurl addr epoch call=connect ARGS
//! publish        app flashver swfurl tcurl pageurl addr clientid call=publish name type ARGS
//! play           ... clientid call=play name start duration reset ARGS
//! publish_done   ... clientid call=publish_done name ARGS   (name only when not empty)
//! play_done      ... clientid call=play_done name ARGS      (name only when not empty)
//! record_done    ... clientid call=record_done recorder name path ARGS
//! ```
//!
//! As in nginx-rtmp, `connect` has `epoch` and no `clientid`, and puts
//! `call` after the session fields; `start` and `duration` are the play
//! command's numbers cast to `u32` the way nginx does it (`-2` is sent as
//! `4294967294`, `-1` as `4294967295`); `reset` is `0` or `1`. The connect
//! args are the connect app's query, the others the stream name's query.
//!
//! [`HookRequest::body`] is what is POSTed; [`HookRequest::body_redacted`]
//! (and `Debug`) hide secret query values (`key`, `token`, `pass`,
//! `password`, `secret`, also inside `tcurl`, `swfurl` and `pageurl`) for
//! logs. Plain data, built on the event loop, rendered on a worker.

use super::form::{redact_url, FormWriter, QueryArgs};
use std::fmt;
use std::net::IpAddr;

/// Which hook a request is (the config key is `on_` + [`HookKind::call`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HookKind {
    Connect,
    Publish,
    Play,
    PublishDone,
    PlayDone,
    RecordDone,
}

impl HookKind {
    /// Every kind, in config order.
    pub const ALL: [HookKind; 6] = [
        HookKind::Connect,
        HookKind::Publish,
        HookKind::Play,
        HookKind::PublishDone,
        HookKind::PlayDone,
        HookKind::RecordDone,
    ];

    /// The `call=` value: `connect`, `publish`, `play`, `publish_done`,
    /// `play_done`, `record_done`.
    pub fn call(self) -> &'static str {
        match self {
            HookKind::Connect => "connect",
            HookKind::Publish => "publish",
            HookKind::Play => "play",
            HookKind::PublishDone => "publish_done",
            HookKind::PlayDone => "play_done",
            HookKind::RecordDone => "record_done",
        }
    }

    /// The `_done` hooks only inform; their answer decides nothing.
    pub fn is_informational(self) -> bool {
        matches!(
            self,
            HookKind::PublishDone | HookKind::PlayDone | HookKind::RecordDone
        )
    }
}

impl fmt::Display for HookKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "on_{}", self.call())
    }
}

/// What the connection told us at `connect`, sent with every hook.
///
/// Strings the client did not send are empty (nginx sends `flashver=` with
/// no value then). `Debug` hides secrets in the URL fields.
#[derive(Clone, PartialEq)]
pub struct SessionInfo {
    /// The connect app without its query (`live`).
    pub app: String,
    pub flashver: String,
    pub swfurl: String,
    pub tcurl: String,
    pub pageurl: String,
    /// The peer's address (no port), sent as `addr`.
    pub addr: IpAddr,
    /// The connection's id, sent as `clientid` (not with `connect`).
    pub clientid: u64,
}

impl SessionInfo {
    /// A session with the given app, peer and id and empty strings elsewhere.
    pub fn new(app: impl Into<String>, addr: IpAddr, clientid: u64) -> Self {
        SessionInfo {
            app: app.into(),
            flashver: String::new(),
            swfurl: String::new(),
            tcurl: String::new(),
            pageurl: String::new(),
            addr,
            clientid,
        }
    }
}

impl fmt::Debug for SessionInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionInfo")
            .field("app", &self.app)
            .field("flashver", &self.flashver)
            .field("swfurl", &redact_url(&self.swfurl))
            .field("tcurl", &redact_url(&self.tcurl))
            .field("pageurl", &redact_url(&self.pageurl))
            .field("addr", &self.addr)
            .field("clientid", &self.clientid)
            .finish()
    }
}

/// The call-specific part of a hook request.
#[derive(Debug, Clone, PartialEq)]
pub enum HookCall {
    /// `epoch`: the server's millisecond clock when the connection began
    /// (nginx sends its `u32` msec clock; hook services rarely read it).
    Connect {
        epoch: u32,
    },
    /// `kind` is the publish type as the client sent it (`live`, `record`,
    /// `append`), sent as `type`.
    Publish {
        name: String,
        kind: String,
    },
    /// The play command's arguments as received (start -2 = live or
    /// recorded, duration -1 = to the end).
    Play {
        name: String,
        start: f64,
        duration: f64,
        reset: bool,
    },
    PublishDone {
        name: String,
    },
    PlayDone {
        name: String,
    },
    /// `recorder` is the recorder's name (empty for the default one) and
    /// `path` the finished file.
    RecordDone {
        recorder: String,
        name: String,
        path: String,
    },
}

impl HookCall {
    pub fn kind(&self) -> HookKind {
        match self {
            HookCall::Connect { .. } => HookKind::Connect,
            HookCall::Publish { .. } => HookKind::Publish,
            HookCall::Play { .. } => HookKind::Play,
            HookCall::PublishDone { .. } => HookKind::PublishDone,
            HookCall::PlayDone { .. } => HookKind::PlayDone,
            HookCall::RecordDone { .. } => HookKind::RecordDone,
        }
    }

    /// The stream name, for every call but `connect`.
    pub fn name(&self) -> Option<&str> {
        match self {
            HookCall::Connect { .. } => None,
            HookCall::Publish { name, .. }
            | HookCall::Play { name, .. }
            | HookCall::PublishDone { name }
            | HookCall::PlayDone { name }
            | HookCall::RecordDone { name, .. } => Some(name),
        }
    }
}

/// One hook call: session, call and the client's query arguments.
#[derive(Clone, PartialEq)]
pub struct HookRequest {
    pub session: SessionInfo,
    pub call: HookCall,
    /// The client's query arguments, appended to the body in order.
    pub args: QueryArgs,
}

/// nginx-rtmp prints play's `double` start/duration through a `uint32_t`
/// cast: truncate toward zero, then wrap (`-2.0` -> `4294967294`).
fn nginx_u32(x: f64) -> u32 {
    (x as i64) as u32
}

impl HookRequest {
    pub fn new(session: SessionInfo, call: HookCall, args: QueryArgs) -> Self {
        HookRequest {
            session,
            call,
            args,
        }
    }

    pub fn kind(&self) -> HookKind {
        self.call.kind()
    }

    /// The form body to POST.
    pub fn body(&self) -> String {
        self.render(false)
    }

    /// The body with secret values replaced by `***`, for logs.
    pub fn body_redacted(&self) -> String {
        self.render(true)
    }

    fn render(&self, redact: bool) -> String {
        let s = &self.session;
        let mut w = FormWriter::new(redact);
        w.field("app", &s.app)
            .field("flashver", &s.flashver)
            .url_field("swfurl", &s.swfurl)
            .url_field("tcurl", &s.tcurl)
            .url_field("pageurl", &s.pageurl)
            .field("addr", &s.addr.to_string());
        if let HookCall::Connect { epoch } = self.call {
            w.num_field("epoch", epoch);
        } else {
            w.num_field("clientid", s.clientid);
        }
        w.field("call", self.kind().call());
        self.call_fields(&mut w);
        w.args(&self.args);
        w.finish()
    }

    fn call_fields(&self, w: &mut FormWriter) {
        match &self.call {
            HookCall::Connect { .. } => {}
            HookCall::Publish { name, kind } => {
                w.field("name", name).field("type", kind);
            }
            HookCall::Play {
                name,
                start,
                duration,
                reset,
            } => {
                w.field("name", name)
                    .num_field("start", nginx_u32(*start))
                    .num_field("duration", nginx_u32(*duration))
                    .num_field("reset", u8::from(*reset));
            }
            HookCall::PublishDone { name } | HookCall::PlayDone { name } => {
                if !name.is_empty() {
                    w.field("name", name);
                }
            }
            HookCall::RecordDone {
                recorder,
                name,
                path,
            } => {
                w.field("recorder", recorder)
                    .field("name", name)
                    .field("path", path);
            }
        }
    }
}

impl fmt::Debug for HookRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HookRequest")
            .field("kind", &self.kind())
            .field("body", &self.body_redacted())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    fn session() -> SessionInfo {
        SessionInfo {
            app: "live".into(),
            flashver: "FMLE/3.0 (compatible; FMSc/1.0)".into(),
            swfurl: String::new(),
            tcurl: "rtmp://127.0.0.1:1935/live?key=S1".into(),
            pageurl: String::new(),
            addr: "127.0.0.1".parse().unwrap(),
            clientid: 42,
        }
    }

    fn req(call: HookCall, args: &str) -> HookRequest {
        HookRequest::new(session(), call, QueryArgs::parse(args))
    }

    const SESSION: &str = "app=live&flashver=FMLE%2F3.0%20%28compatible%3B%20FMSc%2F1.0%29\
        &swfurl=&tcurl=rtmp%3A%2F%2F127.0.0.1%3A1935%2Flive%3Fkey%3DS1&pageurl=&addr=127.0.0.1";

    #[test]
    fn connect_has_epoch_no_clientid_and_call_after_session() {
        let r = req(HookCall::Connect { epoch: 123 }, "key=S1&u=x");
        assert_eq!(
            r.body(),
            format!("{SESSION}&epoch=123&call=connect&key=S1&u=x")
        );
    }

    #[test]
    fn publish_fields() {
        let call = HookCall::Publish {
            name: "cam 1".into(),
            kind: "live".into(),
        };
        assert_eq!(
            req(call, "key=S2").body(),
            format!("{SESSION}&clientid=42&call=publish&name=cam%201&type=live&key=S2")
        );
    }

    #[test]
    fn play_fields_use_nginx_casts() {
        let call = |start, duration, reset| HookCall::Play {
            name: "cam".into(),
            start,
            duration,
            reset,
        };
        let tail = |c| req(c, "").body()[SESSION.len()..].to_owned();
        assert_eq!(
            tail(call(-2.0, -1.0, false)),
            "&clientid=42&call=play&name=cam&start=4294967294&duration=4294967295&reset=0"
        );
        assert_eq!(
            tail(call(1500.7, 0.0, true)),
            "&clientid=42&call=play&name=cam&start=1500&duration=0&reset=1"
        );
    }

    #[test]
    fn done_fields_skip_an_empty_name() {
        let done = |name: &str| HookCall::PublishDone { name: name.into() };
        assert_eq!(
            req(done("cam"), "a=1").body()[SESSION.len()..],
            *"&clientid=42&call=publish_done&name=cam&a=1"
        );
        assert_eq!(
            req(done(""), "").body()[SESSION.len()..],
            *"&clientid=42&call=publish_done"
        );
        let play = HookCall::PlayDone { name: "cam".into() };
        assert_eq!(
            req(play, "").body()[SESSION.len()..],
            *"&clientid=42&call=play_done&name=cam"
        );
    }

    #[test]
    fn record_done_fields() {
        let call = HookCall::RecordDone {
            recorder: String::new(),
            name: "cam".into(),
            path: "/var/rec/live/cam-1.flv".into(),
        };
        assert_eq!(
            req(call, "").body()[SESSION.len()..],
            *"&clientid=42&call=record_done&recorder=&name=cam&path=%2Fvar%2Frec%2Flive%2Fcam-1.flv"
        );
    }

    #[test]
    fn ipv6_addr_has_no_brackets() {
        let mut r = req(HookCall::Connect { epoch: 0 }, "");
        r.session.addr = IpAddr::V6(Ipv6Addr::LOCALHOST);
        assert!(r.body().contains("&addr=%3A%3A1&"), "{}", r.body());
    }

    #[test]
    fn redacted_body_and_debug_hide_secrets() {
        let call = HookCall::Publish {
            name: "cam".into(),
            kind: "live".into(),
        };
        let r = req(call, "key=S2&token=T&user=bob");
        let red = r.body_redacted();
        assert!(
            !red.contains("S1") && !red.contains("S2") && !red.contains("=T"),
            "{red}"
        );
        assert!(red.ends_with("&key=***&token=***&user=bob"), "{red}");
        assert!(red.contains("%3Fkey%3D***"), "{red}");
        let dbg = format!("{r:?} {:?}", r.session);
        assert!(!dbg.contains("S1") && !dbg.contains("S2"), "{dbg}");
    }

    #[test]
    fn kinds_name_their_hooks() {
        let names: Vec<String> = HookKind::ALL.iter().map(|k| k.to_string()).collect();
        assert_eq!(
            names,
            [
                "on_connect",
                "on_publish",
                "on_play",
                "on_publish_done",
                "on_play_done",
                "on_record_done"
            ]
        );
        assert!(HookKind::RecordDone.is_informational());
        assert!(!HookKind::Play.is_informational());
    }
}
