//! HTTP connections: request heads, the API, metrics, pages, static files
//! and HTTP-FLV viewers, on the same connection table as RTMP.
//!
//! * A connection accepted from the HTTP listener ([`Endpoint::handle_accept_http`])
//!   reads one request head at a time ([`crate::http::parse_request`]); the
//!   head must be complete [`HEAD_DEADLINE_MS`] after its first byte (or after
//!   accept), and a kept-alive connection must start its next request within
//!   [`KEEP_ALIVE_IDLE_MS`] (both enforced by the timer sweep).
//! * Answers go out in request order through the connection's control
//!   queue; a bad head or a refused request is answered with its status and
//!   closes that connection only.
//! * API, metrics and the status page answer only addresses in `api_allow`
//!   (403 otherwise). `DELETE /api/v1/clients/{id}` closes that connection.
//!   `POST /api/v1/reconnect[?app=&name=&tc_url=]` asks the publishers (all,
//!   or those of `app` / `name`) to reconnect (E-RTMP, see
//!   `endpoint::reconnect`) and answers `{"asked", "not_capable",
//!   "asked_before"}` counts.
//! * `/{app}/{name}.flv` is a play of `app/name` under the application's
//!   rules (keys as `?key=`, allow/deny, the `on_play` hook). A live stream
//!   gets the response head and the FLV file header, then the same start
//!   frames and live frames as an RTMP player through a media ring in FLV
//!   form, with the same slow-viewer policy; a stream that is not live is a
//!   404. The connection closes when the stream's publisher leaves.

use core::net::SocketAddr;

use bytes::Bytes;
use log::{debug, info};

use crate::config::address_allowed;
use crate::error::CloseReason;
use crate::http::request::{HEAD_DEADLINE_MS, KEEP_ALIVE_IDLE_MS};
use crate::http::response::{
    error_response, flv_head, full_response, no_content, APPLICATION_JSON, PROMETHEUS_TEXT,
    TEXT_HTML,
};
use crate::http::route::{content_type_for, resolve_static};
use crate::http::{api, flv, metrics, pages, parse_request, route, Method, Parse, Request, Route};
use crate::proto::command::StreamName;
use crate::relay::frame::Frame;
use crate::relay::queue::{Offer, OutputForm, QueueConfig};

use super::access::{self, Action};
use super::conn::{Conn, ConnectInfo, HttpConn, HttpPhase, Lifecycle, Protocol, Role};
use super::hooks::{Pending, Request as HookAsk};
use super::outbox::Pushed;
use super::policy::stream_key;
use super::{ConnId, Endpoint, Input};

/// Requests one connection may have answered per loop turn (pipelining).
const REQUESTS_PER_TURN: usize = 16;

/// Files served under `/static/`, supplied by the driver (it reads the
/// disk; the endpoint never does).
pub trait StaticFiles {
    /// The file at `path` (already checked to stay inside the directory by
    /// [`resolve_static`]); `None` when it cannot be served.
    fn read(&mut self, path: &std::path::Path) -> Option<Bytes>;
}

/// Why a connection is refused, as `rtmp_connections_rejected_total{reason}`.
pub const REJECT_REASONS: [&str; 5] = [
    "max_connections",
    "per_ip",
    "denied",
    "bad_request",
    "not_found",
];

impl Endpoint {
    /// A new connection from the HTTP listener.
    pub fn handle_accept_http(&mut self, id: ConnId, peer: SocketAddr, now: u64) {
        let http = HttpConn {
            phase: HttpPhase::Head { since_ms: now },
            requests: 0,
        };
        self.accept(
            Conn::with_protocol(id, peer, Protocol::Http(http), now),
            now,
        );
    }

    /// Give the endpoint the `/static/` files (the driver's reader).
    pub fn set_static_files(&mut self, files: Box<dyn StaticFiles>) {
        self.static_files = Some(files);
    }

    /// Answer the complete requests buffered on HTTP connection `id`.
    pub(super) fn process_http(&mut self, id: ConnId, now: u64) -> Input {
        if let Some(conn) = self.lookup(id) {
            conn.lists.pending_input = false;
        }
        let mut limited = true;
        for _ in 0..REQUESTS_PER_TURN {
            limited = false;
            let Some(conn) = self.lookup(id) else {
                return Input::Closed;
            };
            if !conn.is_open() || matches!(conn.life, Lifecycle::CloseAfterFlush(_)) {
                conn.inbound.clear();
                break;
            }
            let Protocol::Http(http) = &mut conn.proto else {
                return Input::Done;
            };
            match http.phase {
                HttpPhase::Waiting | HttpPhase::Streaming => {
                    // One request in flight: what follows an HTTP-FLV request is ignored.
                    conn.inbound.clear();
                    break;
                }
                _ if conn.inbound.is_empty() => break,
                HttpPhase::Idle { .. } => http.phase = HttpPhase::Head { since_ms: now },
                HttpPhase::Head { .. } => {}
            }
            match parse_request(&conn.inbound) {
                Ok(Parse::Partial) => break,
                Err(e) => {
                    let peer = conn.peer;
                    info!("{id} {peer} HTTP request refused with {}: {e}", e.status());
                    self.count_rejected("bad_request");
                    let answer = error_response(e.status(), e.allow(), false);
                    self.answer_and_close(id, answer, e.status(), now);
                    break;
                }
                Ok(Parse::Complete(req)) => {
                    let _ = conn.inbound.split_to(req.head_len);
                    http.requests += 1;
                    self.answer(id, req, now);
                    limited = true;
                }
            }
        }
        match self.get(id) {
            Some(c) if !c.is_open() => Input::Closed,
            Some(c) if limited && c.is_http_with_input() => {
                // More pipelined requests wait for the next turn.
                if let Some(conn) = self.lookup(id) {
                    conn.lists.pending_input = true;
                }
                Input::Pending
            }
            Some(_) => Input::Done,
            None => Input::Closed,
        }
    }

    /// Queue an HTTP answer on the connection.
    fn push_http(&mut self, id: ConnId, bytes: Bytes, now: u64) {
        let Some(conn) = self.lookup(id) else { return };
        conn.lists.urgent = true;
        match conn.out.push_response(bytes, now) {
            Pushed::Queued | Pushed::Dropped => self.mark_dirty(id),
            Pushed::ControlOverflow => self.close(id, CloseReason::ControlOverflow),
            Pushed::MediaOverflow => self.close(id, CloseReason::SlowSubscriber),
        }
    }

    /// Queue an error answer and close once it is written.
    fn answer_and_close(&mut self, id: ConnId, bytes: Bytes, status: u16, now: u64) {
        self.push_http(id, bytes, now);
        if let Some(conn) = self.lookup(id) {
            if conn.is_open() {
                conn.life = Lifecycle::CloseAfterFlush(CloseReason::HttpRefused(status));
            }
        }
    }

    /// Queue a complete answer: keep the connection for the next request, or
    /// close once written.
    fn answer_done(&mut self, id: ConnId, bytes: Bytes, keep_alive: bool, now: u64) {
        self.push_http(id, bytes, now);
        let Some(conn) = self.lookup(id) else { return };
        if !conn.is_open() {
            return;
        }
        if keep_alive {
            if let Protocol::Http(http) = &mut conn.proto {
                http.phase = HttpPhase::Idle { since_ms: now };
            }
        } else {
            conn.life = Lifecycle::CloseAfterFlush(CloseReason::HttpDone);
        }
    }

    fn answer(&mut self, id: ConnId, req: Request, now: u64) {
        let Some(conn) = self.get(id) else { return };
        let peer = conn.peer;
        let route = route(&req.path, req.query.as_deref());
        let head_only = req.method == Method::Head;
        let keep_alive = req.keep_alive;
        debug!("{id} {peer} HTTP {} {}", req.method.as_str(), req.path);
        if !route.allows(req.method) {
            info!(
                "{id} {peer} HTTP {} {} refused with 405",
                req.method.as_str(),
                req.path
            );
            self.count_rejected("bad_request");
            let answer = error_response(405, Some(route.allow()), head_only);
            self.answer_and_close(id, answer, 405, now);
            return;
        }
        if route.is_api() && !address_allowed(&self.config.api_allow, &[], peer.ip()) {
            info!(
                "{id} {peer} HTTP {} refused with 403: address not in api_allow",
                req.path
            );
            self.count_rejected("denied");
            self.answer_and_close(id, error_response(403, None, head_only), 403, now);
            return;
        }
        let answer = match &route {
            Route::StatusPage => full_response(
                200,
                TEXT_HTML,
                pages::STATUS_PAGE.as_bytes(),
                keep_alive,
                head_only,
            ),
            Route::PlayerPage { app, name } => {
                let page = pages::player_page(app, name, &self.config.player_js_url);
                full_response(200, TEXT_HTML, page.as_bytes(), keep_alive, head_only)
            }
            Route::Static(rest) => match self.static_file(rest) {
                Some((body, content_type)) => {
                    full_response(200, content_type, &body, keep_alive, head_only)
                }
                None => return self.not_found(id, &req, head_only, now),
            },
            Route::Client(client) if req.method == Method::Delete => match self.kick(*client, id) {
                true => no_content(keep_alive),
                false => return self.not_found(id, &req, head_only, now),
            },
            Route::Reconnect { query } => {
                let scope = super::ReconnectScope::from_query(query.as_deref());
                let origin = format!("POST /api/v1/reconnect from {id}");
                let summary = self.request_reconnect(&scope, &origin, now);
                let body = api::to_json(&summary);
                full_response(200, APPLICATION_JSON, &body, keep_alive, head_only)
            }
            Route::Metrics => {
                let text = metrics::render(&self.snapshot(now));
                full_response(200, PROMETHEUS_TEXT, text.as_bytes(), keep_alive, head_only)
            }
            Route::Streams | Route::Stream { .. } | Route::Clients | Route::Client(_) => {
                let snap = self.snapshot(now);
                match api::api_response(&route, &snap, keep_alive, head_only) {
                    Some(answer) if answer.starts_with(b"HTTP/1.1 200") => answer,
                    _ => return self.not_found(id, &req, head_only, now),
                }
            }
            // A HEAD of a stream gets the head a GET would start with.
            Route::Flv { .. } if head_only => {
                self.answer_done(id, flv_head(), false, now);
                return;
            }
            Route::Flv { app, name, query } => {
                let name = StreamName {
                    name: name.clone(),
                    query: query.clone(),
                };
                return self.request_flv(id, app.clone(), name, &req, now);
            }
            Route::NotFound => return self.not_found(id, &req, head_only, now),
        };
        self.answer_done(id, answer, keep_alive, now);
    }

    fn not_found(&mut self, id: ConnId, req: &Request, head_only: bool, now: u64) {
        let peer = self.get(id).map(|c| c.peer);
        if let Some(peer) = peer {
            info!("{id} {peer} HTTP {} refused with 404", req.path);
        }
        self.count_rejected("not_found");
        self.answer_and_close(id, error_response(404, None, head_only), 404, now);
    }

    fn static_file(&mut self, rest: &str) -> Option<(Bytes, &'static str)> {
        let dir = self.config.http_static.clone()?;
        let path = resolve_static(&dir, rest).ok()?;
        let body = self.static_files.as_mut()?.read(&path)?;
        Some((body, content_type_for(&path)))
    }

    /// Close the connection whose log id is `conn#generation`; not the
    /// asking connection itself.
    fn kick(&mut self, generation: u64, asker: ConnId) -> bool {
        let target = self
            .conns
            .iter()
            .flatten()
            .find(|c| u64::from(c.id.generation) == generation && c.is_open() && c.id != asker)
            .map(|c| (c.id, c.peer));
        match target {
            Some((target, peer)) => {
                info!("{target} {peer} closed by DELETE /api/v1/clients/{generation} from {asker}");
                self.close(target, CloseReason::Kicked);
                true
            }
            None => false,
        }
    }

    /// An HTTP-FLV request: the play rules of the application, then its
    /// `on_play` hook, then [`Endpoint::start_flv`].
    fn request_flv(&mut self, id: ConnId, app: String, name: StreamName, req: &Request, now: u64) {
        let key = stream_key(&app, &name.name);
        let settings = self.apps.get(&app);
        let Some(conn) = self.lookup(id) else { return };
        let peer = conn.peer;
        conn.connect = Some(Box::new(ConnectInfo {
            app: app.clone(),
            flashver: String::new(),
            swfurl: String::new(),
            tcurl: match &req.host {
                Some(host) => format!("http://{host}/{app}"),
                None => String::new(),
            },
            pageurl: String::new(),
            caps: Default::default(),
        }));
        let checked = access::check(
            &settings,
            Action::Play,
            peer.ip(),
            name.query.as_deref(),
            None,
        );
        if let Err(refusal) = checked {
            info!("{id} {peer} play {key} refused: {refusal} (HTTP-FLV)");
            self.count_rejected("denied");
            let head_only = req.method == Method::Head;
            self.answer_and_close(id, error_response(403, None, head_only), 403, now);
            return;
        }
        let pending = Pending {
            id,
            stream_id: 1,
            app,
            name,
            request: HookAsk::Play {
                start: -2.0,
                duration: -1.0,
                reset: false,
            },
            settings: settings.clone(),
            deadline: 0,
        };
        match settings.on_play.clone() {
            Some(url) => {
                self.set_http_phase(id, HttpPhase::Waiting);
                self.ask_hook(url, pending, now);
            }
            None => self.start(pending, now),
        }
    }

    fn set_http_phase(&mut self, id: ConnId, phase: HttpPhase) {
        if let Some(Conn {
            proto: Protocol::Http(http),
            ..
        }) = self.lookup(id)
        {
            http.phase = phase;
        }
    }

    /// Refuse an HTTP-FLV request after its checks or hook: 403, then close.
    pub(super) fn refuse_http(&mut self, id: ConnId, now: u64) {
        self.count_rejected("denied");
        self.answer_and_close(id, error_response(403, None, false), 403, now);
    }

    /// Start an HTTP-FLV viewer of `key` (after the checks and the hook):
    /// 404 unless the stream is live; else the head, the FLV header and the
    /// start frames, then live frames as they come.
    pub(super) fn start_flv(&mut self, p: Pending, key: std::rc::Rc<str>, now: u64) {
        let id = p.id;
        let peer = self.peer_addr(id);
        if self.streams.publisher(&key).is_none() {
            info!("{id} {peer} play {key} refused with 404: stream not live (HTTP-FLV)");
            self.count_rejected("not_found");
            self.answer_and_close(id, error_response(404, None, false), 404, now);
            return;
        }
        self.role_started(id);
        let Some(frames) = self.streams.add_viewer(&key, id) else {
            return;
        };
        let has_audio = frames.iter().any(Frame::is_audio);
        let has_video = frames.iter().any(Frame::is_video);
        let (has_audio, has_video) = if has_audio || has_video {
            (has_audio, has_video)
        } else {
            (true, true)
        };
        let queue_config = QueueConfig {
            form: OutputForm::Flv,
            ..self.queue_config.clone()
        };
        let Some(conn) = self.lookup(id) else { return };
        conn.role = Role::Player(super::conn::Playing {
            key: key.clone(),
            stream_id: 1,
            name: p.name,
            app: p.settings,
            bytes_out_before: conn.stats.bytes_out,
        });
        if let Protocol::Http(http) = &mut conn.proto {
            http.phase = HttpPhase::Streaming;
        }
        let mut head = bytes::BytesMut::from(&flv_head()[..]);
        head.extend_from_slice(&flv::file_header(has_audio, has_video));
        let ring = conn.out.media_mut(&queue_config);
        let started = ring.offer(Frame::control(head.freeze()), now) != Offer::Overflow
            && ring.offer_start(&frames, now) != Offer::Overflow;
        conn.lists.urgent = true;
        info!(
            "{id} {peer} play start {key} (HTTP-FLV, {} start frames)",
            frames.len()
        );
        if !started {
            self.close(id, CloseReason::SlowSubscriber);
            return;
        }
        self.mark_dirty(id);
    }

    /// The publisher of an HTTP-FLV viewer's stream left: end its play and
    /// close once what it was sent is written.
    pub(super) fn end_flv_viewer(&mut self, id: ConnId, now: u64) {
        self.end_role(id, now);
        let Some(conn) = self.lookup(id) else { return };
        if !conn.is_open() {
            return;
        }
        if conn.out.is_empty() {
            self.close(id, CloseReason::StreamEnded);
        } else {
            conn.life = Lifecycle::CloseAfterFlush(CloseReason::StreamEnded);
            self.mark_dirty(id);
        }
    }

    /// The HTTP deadlines for the timer sweep: a head not complete in time,
    /// a kept-alive connection idle too long.
    pub(super) fn http_deadline(http: &HttpConn, now: u64) -> Option<crate::error::Phase> {
        match http.phase {
            HttpPhase::Head { since_ms } if now.saturating_sub(since_ms) > HEAD_DEADLINE_MS => {
                Some(crate::error::Phase::HttpHead)
            }
            HttpPhase::Idle { since_ms } if now.saturating_sub(since_ms) > KEEP_ALIVE_IDLE_MS => {
                Some(crate::error::Phase::HttpIdle)
            }
            _ => None,
        }
    }

    /// Count a refused connection or request under `reason`.
    pub(super) fn count_rejected(&mut self, reason: &'static str) {
        *self.counters.rejected.entry(reason).or_insert(0) += 1;
    }

    /// The driver refused a connection over `max_connections` before the
    /// endpoint saw it.
    pub fn handle_refused_over_max(&mut self) {
        self.count_rejected("max_connections");
    }

    fn peer_addr(&self, id: ConnId) -> String {
        self.get(id).map(|c| c.peer.to_string()).unwrap_or_default()
    }
}

impl Conn {
    /// An HTTP connection with unanswered input it may still answer.
    fn is_http_with_input(&self) -> bool {
        matches!(
            &self.proto,
            Protocol::Http(HttpConn {
                phase: HttpPhase::Head { .. } | HttpPhase::Idle { .. },
                ..
            })
        ) && !self.inbound.is_empty()
            && matches!(self.life, Lifecycle::Open)
    }
}
