//! Push / restream: every stream published to an application with `push`
//! targets is re-published to each of them.
//!
//! * A target is an outgoing connection (the client handshake and a
//!   publishing client session, `proto::client`) that, once the target says
//!   `NetStream.Publish.Start`, becomes a viewer of the key: its own media
//!   ring, the subscriber byte budget and the slow-viewer policy, and the
//!   same start as a late joiner (metadata, headers, the GOP from its
//!   keyframe). A slow or dead target never slows local viewers or other
//!   targets.
//! * A target that refuses (bad key), drops or is too slow is retried with
//!   the pull backoff (0.5 s doubling to 5 s, reset after 30 s connected),
//!   one log line per attempt, while the key is published here.
//! * When the local publisher stops, the targets are closed.
//! * A reload ([`Endpoint::reload`]) compares each live publish's targets
//!   with its application's new `push` list: a target no longer listed is
//!   closed and not retried (its slot stays, so the other targets keep
//!   their numbers), a new one is opened; a target listed in both goes on.

use core::net::SocketAddr;
use std::rc::Rc;

use log::{debug, info, warn};

use crate::client::RtmpUrl;
use crate::error::CloseReason;
use crate::proto::client::ClientMode;

use super::conn::{Playing, Protocol, Role};
use super::relay::{Retry, Target};
use super::{ConnId, Endpoint};

/// One push target of a published key.
#[derive(Debug)]
pub(super) struct Push {
    /// The target URL with `{app}` and `{name}` expanded.
    url: String,
    settings: std::sync::Arc<crate::config::AppSettings>,
    name: String,
    conn: Option<ConnId>,
    ticket: Option<u64>,
    retry: Retry,
    /// Hops the target connection announces (the publisher's + 1).
    hops: u32,
    /// Taken out of the configuration by a reload: closed, never retried.
    removed: bool,
}

/// `template` with `{app}` and `{name}` replaced.
pub fn expand_target(template: &str, app: &str, name: &str) -> String {
    template.replace("{app}", app).replace("{name}", name)
}

impl Endpoint {
    /// A local publish of `key` started: open its application's targets.
    pub(super) fn start_pushes(&mut self, key: &Rc<str>, app: &str, name: &str, hops: u32) {
        let settings = self.apps.get(app);
        if settings.push.is_empty() {
            return;
        }
        let pushes = settings
            .push
            .iter()
            .map(|t| new_push(&expand_target(t, app, name), &settings, name, hops + 1))
            .collect::<Vec<_>>();
        let n = pushes.len();
        self.pushes.insert(key.clone(), pushes);
        for i in 0..n {
            self.push_connect(key, i);
        }
    }

    /// The publish of `key` ended: close its targets.
    pub(super) fn stop_pushes(&mut self, key: &str) {
        let Some(pushes) = self.pushes.remove(key) else {
            return;
        };
        for (n, push) in pushes.into_iter().enumerate() {
            info!("push {key} #{n}: stopped (the publish ended)");
            if let Some(conn) = push.conn {
                self.close(conn, CloseReason::RelayEnded);
            }
        }
    }

    pub(super) fn push_conn(&self, key: &str, n: usize) -> Option<ConnId> {
        self.pushes.get(key)?.get(n)?.conn
    }

    fn push_connect(&mut self, key: &Rc<str>, n: usize) {
        let Some(push) = self.pushes.get_mut(key).and_then(|p| p.get_mut(n)) else {
            return;
        };
        push.retry.at = None;
        if push.removed {
            return;
        }
        let Ok(parsed) = RtmpUrl::parse(&push.url) else {
            warn!("push {key} #{n}: {} is not a usable URL", push.url);
            return;
        };
        info!(
            "push {key} #{n}: connecting to {}",
            super::redact_query(&push.url)
        );
        let tls = super::relay::relay_tls(&parsed, &push.settings);
        let ticket = self.queue_connect(Target::Push(key.clone(), n), &parsed, tls);
        if let Some(push) = self.pushes.get_mut(key).and_then(|p| p.get_mut(n)) {
            push.ticket = Some(ticket);
        }
    }

    pub(super) fn push_connected(
        &mut self,
        ticket: u64,
        key: &Rc<str>,
        n: usize,
        id: ConnId,
        peer: SocketAddr,
        now: u64,
    ) -> bool {
        let Some(push) = self.pushes.get_mut(key).and_then(|p| p.get_mut(n)) else {
            return false;
        };
        if push.ticket != Some(ticket) {
            return false;
        }
        push.ticket = None;
        push.conn = Some(id);
        let url = push.url.clone();
        let hops = push.hops;
        let Ok(parsed) = RtmpUrl::parse(&url) else {
            return false;
        };
        info!(
            "{id} {peer} push {key} #{n}: connection opened to {}",
            super::redact_query(&url)
        );
        self.open_relay(
            id,
            peer,
            key,
            Some(n),
            hops,
            url,
            &parsed,
            ClientMode::Publish,
            now,
        );
        true
    }

    /// The target accepted the publish: the connection becomes a viewer.
    pub(super) fn push_started(&mut self, id: ConnId, now: u64) {
        let Some(conn) = self.get(id) else { return };
        let Protocol::Relay(relay) = &conn.proto else {
            return;
        };
        let (Some(n), key) = (relay.push, relay.key.clone()) else {
            return;
        };
        let stream_id = relay.session.stream_id();
        let Some(push) = self.pushes.get_mut(&key).and_then(|p| p.get_mut(n)) else {
            return;
        };
        push.retry.connected_ms = Some(now);
        let (name, settings) = (push.name.clone(), push.settings.clone());
        let queue_config = self.queue_config.clone();
        let Some(conn) = self.lookup(id) else { return };
        conn.role = Role::Player(Playing {
            key: key.clone(),
            stream_id,
            name: crate::proto::command::StreamName::parse(&name),
            app: settings,
            bytes_out_before: conn.stats.bytes_out,
        });
        conn.out.media_mut(&queue_config);
        let Some(frames) = self.streams.add_viewer(&key, id) else {
            return;
        };
        info!(
            "{id} push {key} #{n}: publishing ({} start frames)",
            frames.len()
        );
        self.offer_start_frames(id, frames, stream_id, now);
    }

    /// Target `n` of `key` is gone: retry later while the key is published.
    pub(super) fn push_retry(&mut self, key: &Rc<str>, n: usize, now: u64) {
        let Some(push) = self.pushes.get_mut(key).and_then(|p| p.get_mut(n)) else {
            return;
        };
        push.conn = None;
        push.ticket = None;
        if push.removed {
            return;
        }
        let delay = push.retry.failed(now);
        self.counters.relay_reconnects += 1;
        debug!("push {key} #{n}: retry in {delay} ms");
    }

    /// The push targets of `key` as the API shows them.
    pub(super) fn push_snapshots(&self, key: &str) -> Vec<crate::http::RelaySnapshot> {
        let Some(pushes) = self.pushes.get(key) else {
            return Vec::new();
        };
        pushes
            .iter()
            .enumerate()
            .filter(|(_, p)| !p.removed)
            .map(|(n, p)| {
                let conn = p.conn.and_then(|c| self.get(c));
                crate::http::RelaySnapshot {
                    direction: "push".into(),
                    target: n as u32,
                    url: super::redact_query(&p.url),
                    up: conn.is_some_and(|c| matches!(c.role, Role::Player(_))),
                    connected_since_s: p.retry.connected_ms.map(|t| t / 1000),
                    reconnects: p.retry.reconnects,
                    bytes: conn.map_or(0, |c| c.stats.bytes_out),
                }
            })
            .collect()
    }

    /// Timer work: push retries that are due.
    pub(super) fn sweep_pushes(&mut self, now: u64) {
        let due: Vec<(Rc<str>, usize)> = self
            .pushes
            .iter()
            .flat_map(|(k, v)| {
                v.iter()
                    .enumerate()
                    .filter(|(_, p)| !p.removed && p.retry.due(now))
                    .map(move |(n, _)| (k.clone(), n))
            })
            .collect();
        for (key, n) in due {
            self.push_connect(&key, n);
        }
    }
}

impl Endpoint {
    /// After a reload: bring the targets of every live local publish in
    /// line with its application's `push` list. Returns (started, stopped).
    pub(super) fn reload_pushes(&mut self) -> (usize, usize) {
        let live: Vec<(Rc<str>, ConnId)> = self
            .conns
            .iter()
            .flatten()
            .filter(|c| c.is_open() && !c.is_relay())
            .filter_map(|c| match &c.role {
                Role::Publisher(p) => Some((p.key.clone(), c.id)),
                _ => None,
            })
            .collect();
        let (mut started, mut stopped) = (0, 0);
        for (key, id) in live {
            let (app, name) = super::snapshot::split_key(&key);
            let (app, name) = (app.unwrap_or_default(), name.unwrap_or_default());
            let settings = self.apps.get(&app);
            let wanted: Vec<String> = settings
                .push
                .iter()
                .map(|t| expand_target(t, &app, &name))
                .collect();
            let hops = self.hops_of(id) + 1;
            let pushes = self.pushes.entry(key.clone()).or_default();
            let mut to_close = Vec::new();
            let mut to_open = Vec::new();
            for (n, push) in pushes.iter_mut().enumerate() {
                let listed = wanted.contains(&push.url);
                if !listed && !push.removed {
                    push.removed = true;
                    push.retry.at = None;
                    to_close.push((n, push.conn.take(), push.ticket.take()));
                } else if listed && push.removed {
                    *push = new_push(&push.url, &settings, &name, hops);
                    to_open.push(n);
                }
            }
            for url in wanted {
                if !pushes.iter().any(|p| p.url == url) {
                    pushes.push(new_push(&url, &settings, &name, hops));
                    to_open.push(pushes.len() - 1);
                }
            }
            for (n, conn, ticket) in to_close {
                info!("push {key} #{n}: stopped (removed by a reload)");
                if let Some(ticket) = ticket {
                    self.pending_connects.remove(&ticket);
                }
                if let Some(conn) = conn {
                    self.close(conn, CloseReason::RelayEnded);
                }
                stopped += 1;
            }
            for n in to_open {
                info!("push {key} #{n}: added by a reload");
                self.push_connect(&key, n);
                started += 1;
            }
            if self.pushes.get(&key).is_some_and(|p| p.is_empty()) {
                self.pushes.remove(&key);
            }
        }
        (started, stopped)
    }
}

fn new_push(
    url: &str,
    settings: &std::sync::Arc<crate::config::AppSettings>,
    name: &str,
    hops: u32,
) -> Push {
    Push {
        url: url.to_string(),
        settings: settings.clone(),
        name: name.to_string(),
        conn: None,
        ticket: None,
        retry: Retry::default(),
        hops,
        removed: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_expand_app_and_name() {
        assert_eq!(
            expand_target("rtmp://ingest/{app}/{name}?k=1", "live", "cam"),
            "rtmp://ingest/live/cam?k=1"
        );
    }
}
