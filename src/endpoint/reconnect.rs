//! E-RTMP v2 reconnect requests: ask publishers to reconnect (before a
//! restart or to move them elsewhere) without dropping them.
//!
//! # Policy
//!
//! * [`Endpoint::request_reconnect`] (the driver calls it on SIGUSR1; the API
//!   on `POST /api/v1/reconnect`) sends `onStatus`
//!   `NetConnection.Connect.ReconnectRequest` (level `status`, on message
//!   stream 0, with `tcUrl` when the scope names one) to every RTMP
//!   publisher in the scope whose `connect` announced `capsEx` Reconnect,
//!   at most once per connection. A publisher without it is not sent
//!   anything (a legacy client would not know the code) and is counted as
//!   "could not be asked". Relay connections (ours) and players are never
//!   asked.
//! * Nothing is closed: an asked publisher keeps publishing until it leaves
//!   on its own (the spec has the old server serve it until it
//!   disconnects), or until a new publisher of its key arrives: a client
//!   that reconnects to this same server before leaving (make before break)
//!   replaces its old connection, which is closed (`Reconnected`) instead of
//!   the new one being refused as a duplicate. Its players get
//!   UnpublishNotify, then PublishNotify, and stay.
//! * One `info` log line per request says how many publishers were asked,
//!   how many could not be asked and how many were asked before.

use log::info;

use crate::hooks::form::QueryArgs;

use crate::error::CloseReason;

use super::conn::{Protocol, Role};
use super::snapshot::split_key;
use super::{ConnId, Endpoint};

/// Description sent with the request.
pub const RECONNECT_DESCRIPTION: &str = "The server asks publishers to reconnect.";

/// Which publishers a reconnect request is for, and where they should go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReconnectScope {
    /// Only publishers of this application (all when `None`).
    pub app: Option<String>,
    /// Only publishers of this stream name (all when `None`).
    pub name: Option<String>,
    /// Sent as the info object's `tcUrl` (the client reconnects there);
    /// without it the client reconnects to its current tcUrl.
    pub tc_url: Option<String>,
}

/// What one [`Endpoint::request_reconnect`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReconnectSummary {
    /// Publishers sent the request now.
    pub asked: usize,
    /// Publishers in scope without `capsEx` Reconnect (sent nothing).
    pub not_capable: usize,
    /// Publishers in scope that were asked by an earlier request.
    pub asked_before: usize,
}

impl ReconnectScope {
    /// From the raw query of `POST /api/v1/reconnect`: `app`, `name`,
    /// `tc_url` (percent-decoded; empty values count as absent).
    pub fn from_query(query: Option<&str>) -> ReconnectScope {
        let args = QueryArgs::parse(query.unwrap_or(""));
        let get = |k: &str| args.get(k).filter(|v| !v.is_empty()).map(str::to_owned);
        ReconnectScope {
            app: get("app"),
            name: get("name"),
            tc_url: get("tc_url"),
        }
    }
}

impl Endpoint {
    /// Before `id` claims `key`: a publisher of `key` that was asked to
    /// reconnect gives way (see the module docs).
    pub(super) fn replace_asked_publisher(&mut self, key: &str, id: ConnId, peer: &str, now: u64) {
        let Some(old) = self.streams.publisher(key) else {
            return;
        };
        if old == id || !self.get(old).is_some_and(|c| c.reconnect_requested) {
            return;
        }
        info!("{id} {peer} publish {key}: replaces {old}, which was asked to reconnect");
        self.end_role(old, now);
        self.close(old, CloseReason::Reconnected);
    }

    /// Ask the publishers in `scope` to reconnect; `origin` names the
    /// trigger in the log line (`SIGUSR1`, `API from conn#3`). See the
    /// module docs.
    pub fn request_reconnect(
        &mut self,
        scope: &ReconnectScope,
        origin: &str,
        now: u64,
    ) -> ReconnectSummary {
        let mut summary = ReconnectSummary::default();
        let mut to_ask: Vec<ConnId> = Vec::new();
        for conn in self.conns.iter().flatten().filter(|c| c.is_open()) {
            let (Protocol::Rtmp(_), Role::Publisher(p)) = (&conn.proto, &conn.role) else {
                continue;
            };
            let (app, name) = split_key(&p.key);
            if scope.app.is_some() && scope.app != app || scope.name.is_some() && scope.name != name
            {
                continue;
            }
            let can = conn
                .connect
                .as_ref()
                .is_some_and(|c| c.caps.can_reconnect());
            if !can {
                summary.not_capable += 1;
            } else if conn.reconnect_requested {
                summary.asked_before += 1;
            } else {
                to_ask.push(conn.id);
            }
        }
        let tc_url = scope.tc_url.as_deref();
        for id in to_ask {
            if let Some(conn) = self.lookup(id) {
                conn.reconnect_requested = true;
            }
            self.with_session(id, now, |s, out| {
                s.send_reconnect_request(RECONNECT_DESCRIPTION, tc_url, out)
            });
            summary.asked += 1;
        }
        let place = match (&scope.app, &scope.name) {
            (None, None) => String::new(),
            (app, name) => format!(
                " of {}/{}",
                app.as_deref().unwrap_or("*"),
                name.as_deref().unwrap_or("*")
            ),
        };
        let target = tc_url.map_or(String::new(), |u| {
            format!(" to {}", super::access::redact_query(u))
        });
        info!(
            "reconnect request ({origin}): asked {} publishers{place}{target}, {} could not be asked (no capsEx Reconnect), {} asked before",
            summary.asked, summary.not_capable, summary.asked_before
        );
        summary
    }
}
