//! The publish/play rules: what a session event does to the stream table,
//! the connection's role and the viewers.
//!
//! * The stream key is `app/name` (the query string is not part of it).
//! * Publish: refused (`Publish.BadName`) if the connection already has a
//!   role; `Busy` key → refused and the connection closed once the answer is
//!   written; a key whose publisher was silent for `stale_publisher_ms` is
//!   taken over (the old publisher is closed), and so is one that was sent
//!   an E-RTMP reconnect request (see `reconnect`); waiting players are told
//!   (`Publish.Notify`).
//! * Play: always accepted; a player of a live key gets the start frames
//!   (metadata, sequence headers, GOP) at once, otherwise it waits.
//! * A publisher leaving (unpublish or close) tells its players
//!   (`UnpublishNotify` + StreamEOF); they stay for the next publisher.

use std::rc::Rc;

use bytes::Bytes;
use log::{debug, info, warn};

use crate::config::AppSettings;
use crate::error::CloseReason;
use crate::hooks::HookCall;
use crate::proto::amf0::Amf0Value;
use crate::proto::command::{ConnectParams, StreamName};
use crate::proto::message::{TYPE_AUDIO, TYPE_VIDEO};
use crate::proto::session::{MediaKind, ServerEvent};
use crate::proto::status::{CODE_PLAY_FAILED, CODE_PUBLISH_BAD_NAME, CODE_PUBLISH_DENIED};
use crate::relay::frame::{Frame, FrameClass};
use crate::relay::queue::Offer;
use crate::relay::stream::PublishClaim;

use super::access::{self, query_of, redact_query, Action, Refusal};
use super::conn::{ConnectInfo, Lifecycle, Playing, Publishing, Role};
use super::hooks::{Pending, Request};
use super::outbox::Pushed;
use super::timers::log_codec;
use super::{ConnId, Endpoint};

/// Who asked for what, for a refusal.
#[derive(Debug, Clone, Copy)]
pub struct Ask<'a> {
    pub id: ConnId,
    pub stream_id: u32,
    pub action: Action,
    pub key: &'a str,
}

/// The stream key of `app` and `name`: `app/name`, with any `/` inside the
/// app written `%2F` (names arrive percent-escaped, a literal `%` as `%25`),
/// so app `a/b` + name `c` and app `a` + name `b/c` never share a key.
pub fn stream_key(app: &str, name: &str) -> Rc<str> {
    if app.contains('/') {
        Rc::from(format!("{}/{name}", app.replace('/', "%2F")))
    } else {
        Rc::from(format!("{app}/{name}"))
    }
}

/// What a publisher sent, for [`Endpoint::on_media`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Inbound {
    /// Audio (8) or video (9).
    Media(u8),
    /// onMetaData (cached for late joiners).
    Metadata,
    /// Any other data message (forwarded and recorded only).
    Data,
}

/// The RTMP message type of a media kind.
pub fn media_type(kind: MediaKind) -> u8 {
    match kind {
        MediaKind::Audio => TYPE_AUDIO,
        MediaKind::Video => TYPE_VIDEO,
    }
}

/// The stream name part of a key (`app/name` → `name`).
pub fn stream_name(key: &str) -> &str {
    key.split_once('/').map_or(key, |(_, n)| n)
}

impl Endpoint {
    fn peer(&self, id: ConnId) -> String {
        self.get(id).map(|c| c.peer.to_string()).unwrap_or_default()
    }

    pub(super) fn on_session_event(&mut self, id: ConnId, event: ServerEvent, now: u64) {
        match event {
            ServerEvent::ConnectRequested { params } => {
                self.on_connect(id, &params);
                self.decide_connect(id, &params.app, now);
            }
            ServerEvent::Connected { params } => self.on_connect(id, &params),
            ServerEvent::PublishRequested {
                stream_id,
                app,
                name,
                kind,
            } => {
                let request = Request::Publish { kind };
                self.on_request(id, stream_id, &app, name, request, now)
            }
            ServerEvent::PlayRequested {
                stream_id,
                app,
                name,
                start,
                duration,
                reset,
            } => {
                let request = Request::Play {
                    start,
                    duration,
                    reset,
                };
                self.on_request(id, stream_id, &app, name, request, now)
            }
            ServerEvent::Media {
                kind,
                stream_id,
                timestamp,
                payload,
            } => {
                let inbound = Inbound::Media(media_type(kind));
                self.on_media(id, stream_id, inbound, timestamp, payload, now);
            }
            ServerEvent::Metadata {
                stream_id,
                body,
                timestamp,
                ..
            } => self.on_media(id, stream_id, Inbound::Metadata, timestamp, body, now),
            ServerEvent::Data {
                stream_id,
                timestamp,
                body,
            } => self.on_media(id, stream_id, Inbound::Data, timestamp, body, now),
            ServerEvent::Unpublished { stream_id } | ServerEvent::PlayStopped { stream_id } => {
                if self.get(id).and_then(|c| c.role_stream_id()) == Some(stream_id) {
                    self.end_role(id, now);
                }
            }
            ServerEvent::Pause { pause, .. } => {
                debug!("{} {} pause={}", id, self.peer(id), pause);
            }
            ServerEvent::PingResponse { .. } => {
                if let Some(conn) = self.lookup(id) {
                    conn.ping_sent_ms = None;
                }
            }
        }
    }

    /// Remember what `connect` said (keys in its URL, hook fields).
    fn on_connect(&mut self, id: ConnId, params: &ConnectParams) {
        let tc_url = params.tc_url.as_deref().unwrap_or("");
        debug!(
            "{} {} connect app={:?} tcUrl={:?} E-RTMP capsEx={:?} fourCcList={:?}",
            id,
            self.peer(id),
            params.app,
            redact_query(tc_url),
            params.caps.caps_ex,
            params.caps.four_cc_list
        );
        let raw_app = params.object.iter().find_map(|(k, v)| match v {
            Amf0Value::String(s) if k == "app" => Some(s.as_str()),
            _ => None,
        });
        let query = raw_app
            .and_then(query_of)
            .or_else(|| query_of(tc_url))
            .map(str::to_owned);
        let field = |name: &str| {
            params
                .object
                .iter()
                .find_map(|(k, v)| match v {
                    Amf0Value::String(s) if k == name => Some(s.clone()),
                    _ => None,
                })
                .unwrap_or_default()
        };
        let info = ConnectInfo {
            app: params.app.clone(),
            flashver: params.flash_ver.clone().unwrap_or_default(),
            swfurl: field("swfUrl"),
            tcurl: tc_url.to_string(),
            pageurl: field("pageUrl"),
            caps: params.caps.clone(),
        };
        if let Some(conn) = self.lookup(id) {
            conn.connect_query = query;
            conn.connect = Some(Box::new(info));
        }
    }

    fn refuse_publish(&mut self, id: ConnId, stream_id: u32, description: &str, now: u64) {
        self.with_session(id, now, |s, out| {
            s.reject_publish(stream_id, CODE_PUBLISH_BAD_NAME, description, out)
        });
    }

    /// Check the access rules of `app` for a publish or play.
    fn check_access(
        &self,
        id: ConnId,
        settings: &AppSettings,
        action: Action,
        name: &StreamName,
    ) -> Result<(), Refusal> {
        let Some(conn) = self.get(id) else {
            return Err(Refusal::Unauthorized);
        };
        access::check(
            settings,
            action,
            conn.peer.ip(),
            name.query.as_deref(),
            conn.connect_query.as_deref(),
        )
    }

    /// Refuse a publish or play: answer with Publish.Denied / Play.Failed
    /// (level error, the reason as description), log one line, and close
    /// once the answer is written.
    pub(super) fn refuse(&mut self, ask: Ask<'_>, refusal: Refusal, detail: &str, now: u64) {
        let Ask {
            id,
            stream_id,
            action,
            key,
        } = ask;
        let peer = self.peer(id);
        let (verb, code) = match action {
            Action::Publish => ("publish", CODE_PUBLISH_DENIED),
            Action::Play => ("play", CODE_PLAY_FAILED),
        };
        info!("{id} {peer} {verb} {key} refused: {refusal}{detail}");
        if self.get(id).is_some_and(|c| c.is_http()) {
            self.refuse_http(id, now);
            return;
        }
        self.count_rejected("denied");
        let description = refusal.to_string();
        self.with_session(id, now, |s, out| {
            s.reject_publish(stream_id, code, &description, out)
        });
        if let Some(conn) = self.lookup(id) {
            conn.life = Lifecycle::CloseAfterFlush(CloseReason::Refused(refusal.reason()));
        }
    }

    /// The connection leaves `Role::New` (the per-address handshake count).
    pub(super) fn role_started(&mut self, id: ConnId) {
        if let Some(conn) = self.get(id) {
            if matches!(conn.role, Role::New | Role::Waiting) && !conn.is_relay() {
                let ip = conn.peer.ip();
                self.per_ip.started(ip);
            }
        }
    }

    /// A publish or play request: role and access checks, then the
    /// application's deciding hook (the answer waits for it), then start.
    fn on_request(
        &mut self,
        id: ConnId,
        stream_id: u32,
        app: &str,
        name: StreamName,
        request: Request,
        now: u64,
    ) {
        let action = request.action();
        let key = stream_key(app, &name.name);
        let peer = self.peer(id);
        let Some(conn) = self.get(id) else { return };
        if matches!(
            conn.role,
            Role::Publisher(_) | Role::Player(_) | Role::Waiting
        ) {
            if action == Action::Publish {
                info!("{id} {peer} publish {key} refused: connection already has a role");
                self.refuse_publish(id, stream_id, "already publishing or playing", now);
            } else {
                info!("{id} {peer} play {key} ignored: connection already has a role");
            }
            return;
        }
        let settings = self.apps.get(app);
        let connect_pending = matches!(
            &conn.proto,
            super::conn::Protocol::Rtmp(s) if s.connect_pending()
        );
        let checked = if connect_pending {
            Err(Refusal::Unauthorized)
        } else if self.hops_of(id) > settings.hop_limit {
            Err(Refusal::HopLimit)
        } else {
            self.check_access(id, &settings, action, &name)
        };
        if let Err(refusal) = checked {
            let ask = Ask {
                id,
                stream_id,
                action,
                key: &key,
            };
            self.refuse(ask, refusal, "", now);
            return;
        }
        let hook = match action {
            Action::Publish => settings.on_publish.clone(),
            Action::Play => settings.on_play.clone(),
        };
        let pending = Pending {
            id,
            stream_id,
            app: app.to_string(),
            name,
            request,
            settings,
            deadline: 0,
        };
        match hook {
            Some(url) => self.ask_hook(url, pending, now),
            None => self.start(pending, now),
        }
    }

    /// Start what was asked (after the checks and the hook).
    pub(super) fn start(&mut self, p: Pending, now: u64) {
        let key = p.key();
        let peer = self.peer(p.id);
        match p.request.action() {
            Action::Publish => self.start_publish(p, key, &peer, now),
            Action::Play if self.get(p.id).is_some_and(|c| c.is_http()) => {
                self.start_flv(p, key, now)
            }
            Action::Play => self.start_play(p, key, &peer, now),
        }
    }

    fn start_publish(&mut self, p: Pending, key: Rc<str>, peer: &str, now: u64) {
        let (id, stream_id, settings) = (p.id, p.stream_id, p.settings);
        let name = p.name.name.clone();
        self.replace_asked_publisher(&key, id, peer, now);
        match self.streams.claim_publisher(&key, id, now) {
            PublishClaim::Busy { current } => {
                info!("{id} {peer} publish {key} refused: {current} is publishing it");
                self.refuse_publish(id, stream_id, "stream already publishing", now);
                if let Some(conn) = self.lookup(id) {
                    conn.life = Lifecycle::CloseAfterFlush(CloseReason::DuplicatePublisher);
                }
                return;
            }
            PublishClaim::TakeOver { old } => {
                info!("{id} {peer} publish {key}: taking over from silent publisher {old}");
                // Its claim is already replaced: ending its role only stops
                // its recording and logs it; the viewers stay.
                self.end_role(old, now);
                self.close(old, CloseReason::TakenOver);
            }
            PublishClaim::Granted => {}
        }
        self.streams.set_gop_cache(&key, settings.gop_cache);
        let recording = match self.recorder.as_mut() {
            Some(r) if settings.record => Some(r.start(&p.app, &name, settings.record_plan())),
            _ => None,
        };
        if let Some(rec) = recording {
            self.remember_recording(id, rec, &p.app, &settings, &p.name);
        }
        self.role_started(id);
        if let Some(conn) = self.lookup(id) {
            conn.role = Role::Publisher(Publishing {
                key: key.clone(),
                stream_id,
                name: p.name,
                app: settings,
                last_media_ms: now,
                recording,
            });
        }
        self.stream_started(&key, id, now);
        if self.get(id).is_some_and(|c| !c.is_relay()) {
            let hops = self.hops_of(id);
            self.start_pushes(&key, &p.app, &name, hops);
        }
        match recording {
            Some(rec) => info!("{id} {peer} publish start {key} (recording {rec})"),
            None => info!("{id} {peer} publish start {key}"),
        }
        self.with_session(id, now, |s, out| s.accept_publish(stream_id, &name, out));
        let waiting: Vec<ConnId> = self.streams.viewers(&key).to_vec();
        for viewer in waiting {
            let sid = self
                .get(viewer)
                .and_then(|c| c.play_stream_id())
                .unwrap_or(1);
            self.with_session(viewer, now, |s, out| s.notify_publish(sid, &name, out));
        }
    }

    fn start_play(&mut self, p: Pending, key: Rc<str>, peer: &str, now: u64) {
        let (id, stream_id) = (p.id, p.stream_id);
        let name = p.name.name.clone();
        let queue_config = self.queue_config.clone();
        self.role_started(id);
        let Some(conn) = self.lookup(id) else { return };
        conn.role = Role::Player(Playing {
            key: key.clone(),
            stream_id,
            name: p.name,
            app: p.settings,
            bytes_out_before: conn.stats.bytes_out,
        });
        conn.out.media_mut(&queue_config);
        self.with_session(id, now, |s, out| s.accept_play(stream_id, &name, out));
        let Some(frames) = self.streams.add_viewer(&key, id) else {
            let (app, name, settings) = match &self.get(id).map(|c| &c.role) {
                Some(Role::Player(pl)) => (p.app.clone(), pl.name.clone(), pl.app.clone()),
                _ => return,
            };
            let hops = self.hops_of(id);
            if self.want_pull(&key, &app, &name, &settings, hops) {
                info!("{id} {peer} play start {key} (waiting for the origin)");
                if let Some(conn) = self.lookup(id) {
                    conn.wait_deadline = Some(now + settings.pull_wait_ms);
                }
            } else {
                info!("{id} {peer} play start {key} (waiting for a publisher)");
            }
            return;
        };
        info!(
            "{id} {peer} play start {key} ({} start frames)",
            frames.len()
        );
        self.offer_start_frames(id, frames, stream_id, now);
    }

    /// Queue a joining viewer's start frames (re-chunked for a message
    /// stream id other than 1): close it if even they do not fit.
    pub(super) fn offer_start_frames(
        &mut self,
        id: ConnId,
        frames: Vec<Frame>,
        stream_id: u32,
        now: u64,
    ) {
        let queue_config = self.queue_config.clone();
        let chunk_size = self.config.chunk_size;
        let frames: Vec<Frame> = if stream_id == 1 {
            frames
        } else {
            frames
                .iter()
                .map(|f| f.on_stream(stream_id, chunk_size))
                .collect()
        };
        let Some(conn) = self.lookup(id) else { return };
        conn.lists.urgent = true;
        if conn.out.media_mut(&queue_config).offer_start(&frames, now) == Offer::Overflow {
            self.close(id, CloseReason::SlowSubscriber);
            return;
        }
        self.mark_dirty(id);
    }

    /// Relay a publisher's media, metadata or other data message.
    pub(super) fn on_media(
        &mut self,
        id: ConnId,
        stream_id: u32,
        inbound: Inbound,
        timestamp: u32,
        payload: Bytes,
        now: u64,
    ) {
        let Some(conn) = self.lookup(id) else { return };
        let (key, recording) = match &mut conn.role {
            Role::Publisher(p) if p.stream_id == stream_id => {
                p.last_media_ms = now;
                conn.stats.media_in += 1;
                (p.key.clone(), p.recording)
            }
            _ => return,
        };
        let Endpoint {
            streams,
            conns,
            dirty,
            closing,
            config,
            overload_warn,
            recorder,
            ..
        } = self;
        let relayed = match inbound {
            Inbound::Media(t) => streams.on_media(&key, id, t, timestamp, payload, now),
            Inbound::Metadata => streams.on_metadata(&key, id, payload, now),
            Inbound::Data => streams.on_data(&key, id, timestamp, payload, now),
        };
        let Some((frame, viewers)) = relayed else {
            return;
        };
        if frame.class == FrameClass::SequenceHeader {
            log_codec(id, &key, &frame);
        }
        if let (Some(recorder), Some(rec)) = (recorder.as_mut(), recording) {
            match inbound {
                Inbound::Metadata => recorder.metadata(rec, frame.timestamp, frame.payload.clone()),
                Inbound::Media(_) | Inbound::Data => {
                    recorder.frame(rec, frame.type_id, frame.timestamp, frame.payload.clone())
                }
            }
        }
        for &viewer in viewers {
            let Some(conn) = super::conn_mut(conns, viewer).filter(|c| c.is_open()) else {
                continue;
            };
            let pushed = match conn.play_stream_id() {
                Some(sid) if sid != 1 && frame.type_id != 0 => {
                    conn.stats.slow_path_frames += 1;
                    conn.out.offer(frame.on_stream(sid, config.chunk_size), now)
                }
                _ => conn.out.offer(frame.clone(), now),
            };
            if pushed == Pushed::MediaOverflow {
                if let Some(suppressed) = overload_warn.allow(now) {
                    warn!(
                        "{} {} closing slow subscriber on {} ({} similar suppressed)",
                        viewer, conn.peer, key, suppressed
                    );
                }
                conn.life = Lifecycle::Closing(CloseReason::SlowSubscriber);
                closing.push(viewer);
                continue;
            }
            if !conn.lists.dirty {
                conn.lists.dirty = true;
                dirty.push(viewer);
            }
        }
    }

    /// The connection stops publishing or playing (unpublish, stop, close, take-over).
    pub(super) fn end_role(&mut self, id: ConnId, now: u64) {
        let peer = self.peer(id);
        let Some(conn) = self.lookup(id) else { return };
        if matches!(conn.role, Role::New | Role::Waiting) {
            return;
        }
        let role = std::mem::replace(&mut conn.role, Role::Idle);
        match role {
            Role::Publisher(p) => {
                if let Some(url) = p.app.on_publish_done.clone() {
                    let call = HookCall::PublishDone {
                        name: p.name.name.clone(),
                    };
                    self.notify_hook(id, url, call, p.name.query.as_deref());
                }
                let key = p.key;
                match (self.recorder.as_mut(), p.recording) {
                    (Some(recorder), Some(rec)) => {
                        let dropped = recorder.stop(rec);
                        info!(
                            "{id} {peer} publish stop {key} (recording {rec} finalizing, {dropped} frames dropped)"
                        );
                    }
                    _ => info!("{id} {peer} publish stop {key}"),
                }
                let viewers = self.streams.release_publisher(&key, id);
                self.stream_ended(&key, id);
                if self.get(id).is_some_and(|c| !c.is_relay()) {
                    self.stop_pushes(&key);
                }
                let name = stream_name(&key).to_string();
                for viewer in viewers {
                    if self.get(viewer).is_some_and(|c| c.is_http()) {
                        self.end_flv_viewer(viewer, now);
                        continue;
                    }
                    let sid = self
                        .get(viewer)
                        .and_then(|c| c.play_stream_id())
                        .unwrap_or(1);
                    self.with_session(viewer, now, |s, out| s.notify_unpublish(sid, &name, out));
                }
            }
            Role::Player(p) => {
                info!("{id} {peer} play stop {}", p.key);
                self.streams.remove_viewer(&p.key, id);
                self.viewer_left(&p.key, id, p.bytes_out_before);
                if let Some(url) = p.app.on_play_done.clone() {
                    let call = HookCall::PlayDone {
                        name: p.name.name.clone(),
                    };
                    self.notify_hook(id, url, call, p.name.query.as_deref());
                }
            }
            Role::New | Role::Idle | Role::Waiting => {}
        }
    }
}
