//! HTTP hooks as the endpoint sees them: a deciding hook (`on_publish`,
//! `on_play`) holds the request in [`Role::Waiting`] until its verdict; the
//! informational ones (`*_done`) are fired and forgotten.
//!
//! The endpoint only makes [`HookJob`]s and applies verdicts; the driver
//! hands the jobs to the worker pool ([`Endpoint::poll_hook`]) and brings
//! the results back ([`Endpoint::handle_hook_result`],
//! [`Endpoint::handle_hook_queue_full`]). Verdicts: 2xx starts what was
//! asked; a 3xx with a plain name starts it under that name (nginx-rtmp's
//! rename); a 3xx to an `rtmp://` URL is refused (no relay yet); any other
//! status refuses; a failure or a timeout refuses unless the application
//! has `hook_fail_open`. The endpoint also holds its own deadline
//! (`hook_timeout_ms` + 1 s) in case a result never comes back. A result
//! for a connection that has gone is ignored.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use log::{debug, info};

use crate::config::AppSettings;
use crate::error::CloseReason;
use crate::hooks::{HookCall, HookJob, HookRequest, HookVerdict, QueryArgs, SessionInfo};
use crate::proto::command::StreamName;
use crate::record::RecordingId;

use super::access::{Action, Refusal};
use super::conn::{Lifecycle, Role};
use super::exec::ExecSpec;
use super::policy::{stream_key, Ask};
use super::{ConnId, Endpoint, RecordEvent};

/// Margin on top of `hook_timeout_ms` before the endpoint gives up itself.
const HOOK_DEADLINE_MARGIN_MS: u64 = 1_000;

/// What was asked, with its own arguments.
#[derive(Debug, Clone)]
pub enum Request {
    Publish {
        kind: String,
    },
    Play {
        start: f64,
        duration: f64,
        reset: bool,
    },
}

impl Pending {
    /// The stream key asked for.
    pub fn key(&self) -> Rc<str> {
        stream_key(&self.app, &self.name.name)
    }
}

impl Request {
    pub fn action(&self) -> Action {
        match self {
            Request::Publish { .. } => Action::Publish,
            Request::Play { .. } => Action::Play,
        }
    }
}

/// A publish or play that passed the checks and may wait for a hook.
#[derive(Debug, Clone)]
pub struct Pending {
    pub id: ConnId,
    pub stream_id: u32,
    pub app: String,
    pub name: StreamName,
    pub request: Request,
    pub settings: Arc<AppSettings>,
    /// When the endpoint stops waiting (ms).
    pub deadline: u64,
}

/// What waits for a deciding hook.
#[derive(Debug, Clone)]
pub enum Waiter {
    /// A publish or play.
    Request(Pending),
    /// A connect (`on_connect`), answered by the session once decided.
    Connect {
        id: ConnId,
        app: String,
        fail_open: bool,
        deadline: u64,
    },
}

impl Waiter {
    fn deadline(&self) -> u64 {
        match self {
            Waiter::Request(p) => p.deadline,
            Waiter::Connect { deadline, .. } => *deadline,
        }
    }
}

/// What `on_record_done` and `exec_record_done` need when a recording's
/// file is finished.
#[derive(Debug, Clone)]
pub struct RecordDone {
    session: SessionInfo,
    url: Option<String>,
    name: StreamName,
    exec: Option<ExecSpec>,
}

impl Endpoint {
    /// The session fields every hook sends, for connection `id`.
    fn session_info(&self, id: ConnId) -> Option<SessionInfo> {
        let conn = self.get(id)?;
        let connect = conn.connect.as_deref().cloned().unwrap_or_default();
        let mut info = SessionInfo::new(connect.app, conn.peer.ip(), u64::from(id.generation));
        info.flashver = connect.flashver;
        info.swfurl = connect.swfurl;
        info.tcurl = connect.tcurl;
        info.pageurl = connect.pageurl;
        Some(info)
    }

    fn next_ticket(&mut self) -> u64 {
        self.hook_tickets += 1;
        self.hook_tickets
    }

    fn job(&mut self, url: String, request: HookRequest, timeout_ms: u64) -> u64 {
        let ticket = self.next_ticket();
        debug!(
            "hook {ticket}: {} {}",
            request.kind(),
            request.body_redacted()
        );
        let timeout = Duration::from_millis(timeout_ms);
        self.hook_jobs
            .push_back(HookJob::new(ticket, url, request, timeout));
        ticket
    }

    /// Ask the deciding hook at `url`; the connection waits.
    pub(super) fn ask_hook(&mut self, url: String, mut pending: Pending, now: u64) {
        let Some(session) = self.session_info(pending.id) else {
            return;
        };
        let name = pending.name.name.clone();
        let call = match &pending.request {
            Request::Publish { kind } => HookCall::Publish {
                name,
                kind: kind.clone(),
            },
            Request::Play {
                start,
                duration,
                reset,
            } => HookCall::Play {
                name,
                start: *start,
                duration: *duration,
                reset: *reset,
            },
        };
        let args = QueryArgs::parse(pending.name.query.as_deref().unwrap_or(""));
        let timeout_ms = pending.settings.hook_timeout_ms;
        let ticket = self.job(url, HookRequest::new(session, call, args), timeout_ms);
        pending.deadline = now + timeout_ms + HOOK_DEADLINE_MARGIN_MS;
        if let Some(conn) = self.lookup(pending.id) {
            conn.role = Role::Waiting;
        }
        self.waiting_hooks.insert(ticket, Waiter::Request(pending));
    }

    /// A deferred connect to `app`: ask its `on_connect` hook, or accept now.
    pub(super) fn decide_connect(&mut self, id: ConnId, app: &str, now: u64) {
        let settings = self.apps.get(app);
        let Some(url) = settings.on_connect.clone() else {
            self.with_session(id, now, |s, out| s.accept_connect(None, out));
            return;
        };
        let Some(conn) = self.get(id) else { return };
        let epoch = conn.accepted_ms as u32;
        let args = QueryArgs::parse(conn.connect_query.as_deref().unwrap_or(""));
        let Some(mut session) = self.session_info(id) else {
            return;
        };
        session.clientid = 0;
        let request = HookRequest::new(session, HookCall::Connect { epoch }, args);
        let timeout_ms = settings.hook_timeout_ms;
        let ticket = self.job(url, request, timeout_ms);
        let waiter = Waiter::Connect {
            id,
            app: app.to_string(),
            fail_open: settings.hook_fail_open,
            deadline: now + timeout_ms + HOOK_DEADLINE_MARGIN_MS,
        };
        self.waiting_hooks.insert(ticket, waiter);
    }

    /// Apply an `on_connect` verdict.
    fn connect_verdict(
        &mut self,
        id: ConnId,
        app: &str,
        fail_open: bool,
        verdict: HookVerdict,
        now: u64,
    ) {
        let refusal = match verdict {
            HookVerdict::Accept => None,
            HookVerdict::Redirect(to) if to.contains("://") => {
                Some((Refusal::HookRelayUnsupported, String::new()))
            }
            HookVerdict::Redirect(to) => {
                let to = to.trim_start_matches('/').to_string();
                info!("{id} hook renames app {app} to {to}");
                if let Some(info) = self.lookup(id).and_then(|c| c.connect.as_mut()) {
                    info.app = to.clone();
                }
                self.with_session(id, now, |s, out| s.accept_connect(Some(&to), out));
                return;
            }
            HookVerdict::Refuse(status) => {
                Some((Refusal::HookRefused, format!(" (HTTP {status})")))
            }
            HookVerdict::TimedOut | HookVerdict::Failed(_) if fail_open => None,
            HookVerdict::TimedOut => Some((Refusal::HookTimedOut, String::new())),
            HookVerdict::Failed(why) => Some((Refusal::HookFailed, format!(" ({why})"))),
        };
        match refusal {
            None => self.with_session(id, now, |s, out| s.accept_connect(None, out)),
            Some((refusal, detail)) => {
                let peer = self.get(id).map(|c| c.peer.to_string()).unwrap_or_default();
                info!("{id} {peer} connect {app} refused: {refusal}{detail}");
                let description = refusal.to_string();
                self.with_session(id, now, |s, out| s.reject_connect(&description, out));
                if let Some(conn) = self.lookup(id) {
                    conn.life = Lifecycle::CloseAfterFlush(CloseReason::Refused(refusal.reason()));
                }
            }
        }
    }

    /// Fire an informational hook for connection `id`.
    pub(super) fn notify_hook(
        &mut self,
        id: ConnId,
        url: String,
        call: HookCall,
        query: Option<&str>,
    ) {
        let Some(session) = self.session_info(id) else {
            return;
        };
        let args = QueryArgs::parse(query.unwrap_or(""));
        let timeout_ms = crate::config::DEFAULT_HOOK_TIMEOUT_MS;
        self.job(url, HookRequest::new(session, call, args), timeout_ms);
    }

    /// Remember what `on_record_done` and `exec_record_done` need for
    /// recording `rec` of `app`/`name` (nothing when the app has neither).
    pub(super) fn remember_recording(
        &mut self,
        id: ConnId,
        rec: RecordingId,
        app: &str,
        settings: &AppSettings,
        name: &StreamName,
    ) {
        let url = settings.on_record_done.clone();
        let exec = ExecSpec::new(settings, app, &name.name);
        if url.is_none() && exec.is_none() {
            return;
        }
        if let Some(session) = self.session_info(id) {
            let done = RecordDone {
                session,
                url,
                name: name.clone(),
                exec,
            };
            self.record_done.insert(rec, done);
        }
    }

    /// For every finalized file (segment) of a recording, fire
    /// `on_record_done` and queue `exec_record_done`; forget the recording
    /// once it is over (the timer sweep calls this).
    pub(super) fn poll_recordings(&mut self) {
        let Some(recorder) = self.recorder.as_mut() else {
            return;
        };
        let mut events = Vec::new();
        while let Some(event) = recorder.poll_finished() {
            events.push(event);
        }
        for event in events {
            match event {
                RecordEvent::File { id, path } => self.record_file_done(id, path),
                RecordEvent::Ended(id) => {
                    self.record_done.remove(&id);
                }
            }
        }
    }

    /// One file of recording `rec` is finalized at `path`: everything that
    /// reacts to a finished recording file is dispatched from here.
    fn record_file_done(&mut self, rec: RecordingId, path: String) {
        let Some(done) = self.record_done.get(&rec) else {
            return;
        };
        let exec = done.exec.clone();
        let hook = done.url.clone().map(|url| {
            let call = HookCall::RecordDone {
                recorder: String::new(),
                name: done.name.name.clone(),
                path: path.clone(),
            };
            let args = QueryArgs::parse(done.name.query.as_deref().unwrap_or(""));
            (url, HookRequest::new(done.session.clone(), call, args))
        });
        self.exec_record_done(exec.as_ref(), &path);
        if let Some((url, request)) = hook {
            self.job(url, request, crate::config::DEFAULT_HOOK_TIMEOUT_MS);
        }
    }

    /// The next hook call for the worker pool.
    pub fn poll_hook(&mut self) -> Option<HookJob> {
        self.hook_jobs.pop_front()
    }

    /// The pool refused job `ticket`: its queue is full.
    pub fn handle_hook_queue_full(&mut self, ticket: u64, now: u64) {
        match self.waiting_hooks.remove(&ticket) {
            Some(Waiter::Request(p)) => {
                self.hook_refused(p, Refusal::HookQueueFull, String::new(), now)
            }
            Some(Waiter::Connect { id, app, .. }) => {
                let verdict = HookVerdict::Failed("hook queue full".into());
                self.connect_verdict(id, &app, false, verdict, now);
            }
            None => {}
        }
    }

    /// The verdict of hook call `ticket`.
    pub fn handle_hook_result(&mut self, ticket: u64, verdict: HookVerdict, now: u64) {
        let mut p = match self.waiting_hooks.remove(&ticket) {
            Some(Waiter::Request(p)) => p,
            Some(Waiter::Connect {
                id, app, fail_open, ..
            }) => {
                if self.is_open(id) {
                    self.connect_verdict(id, &app, fail_open, verdict, now);
                }
                return;
            }
            None => {
                if !verdict.is_accept() {
                    info!("hook {ticket} (informational): {verdict}");
                }
                return;
            }
        };
        if !self.is_open(p.id) {
            return;
        }
        let fail_open = p.settings.hook_fail_open;
        match verdict {
            HookVerdict::Accept => self.start(p, now),
            HookVerdict::Redirect(to)
                if to.starts_with("rtmp://") || to.starts_with("rtmps://") =>
            {
                self.hook_refused(p, Refusal::HookRelayUnsupported, String::new(), now)
            }
            HookVerdict::Redirect(to) => {
                let old = p.key();
                let new = to.trim_start_matches('/').to_string();
                info!(
                    "{} hook renames {old} to {}",
                    p.id,
                    stream_key(&p.app, &new)
                );
                p.name.name = new;
                self.start(p, now);
            }
            HookVerdict::Refuse(status) => {
                self.hook_refused(p, Refusal::HookRefused, format!(" (HTTP {status})"), now)
            }
            HookVerdict::TimedOut if fail_open => self.start(p, now),
            HookVerdict::TimedOut => {
                self.hook_refused(p, Refusal::HookTimedOut, String::new(), now)
            }
            HookVerdict::Failed(_) if fail_open => self.start(p, now),
            HookVerdict::Failed(why) => {
                self.hook_refused(p, Refusal::HookFailed, format!(" ({why})"), now)
            }
        }
    }

    fn hook_refused(&mut self, p: Pending, refusal: Refusal, detail: String, now: u64) {
        let key = p.key();
        let ask = Ask {
            id: p.id,
            stream_id: p.stream_id,
            action: p.request.action(),
            key: &key,
        };
        self.refuse(ask, refusal, &detail, now);
    }

    /// Give up on hooks whose answer is overdue (the sweep calls this).
    pub(super) fn expire_hooks(&mut self, now: u64) {
        let overdue: Vec<u64> = self
            .waiting_hooks
            .iter()
            .filter(|(_, w)| now >= w.deadline())
            .map(|(&t, _)| t)
            .collect();
        for ticket in overdue {
            self.handle_hook_result(ticket, HookVerdict::TimedOut, now);
        }
    }
}
