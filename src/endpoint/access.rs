//! Access rules applied at publish and play: stream keys, allow/deny by
//! address, and the per-address connection limits applied at accept.
//!
//! * A key is the `key` query parameter of the stream name
//!   (`rtmp://host/app/name?key=SECRET`) or of the connect URL
//!   (`rtmp://host/app?key=SECRET/name`); it is compared in constant time
//!   against every configured key. The query never becomes part of the
//!   stream key.
//! * Address rules: deny wins; a non-empty allow list refuses everyone else.
//! * Secrets (`key`, `token`, `pass`, `password`, `secret` values) are never
//!   logged: [`redact_query`] masks them.

use core::net::IpAddr;
use std::collections::HashMap;
use std::fmt;

use crate::config::{address_allowed, AppSettings};

/// Query parameters whose values are secrets.
const SECRET_PARAMS: [&str; 5] = ["key", "token", "pass", "password", "secret"];

/// Why a publish or play was refused (shown to the client and logged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No key, or a key that matches none of the application's keys.
    Unauthorized,
    /// The peer's address is denied (or not allowed).
    DeniedAddress,
    /// The hook answered with a refusing status.
    HookRefused,
    /// The hook did not answer in time.
    HookTimedOut,
    /// The hook could not be called (connection refused, bad answer).
    HookFailed,
    /// Too many hook calls were waiting.
    HookQueueFull,
    /// The hook redirected to an `rtmp://` URL (a relay target, not built yet).
    HookRelayUnsupported,
    /// A relay connection that has already crossed `hop_limit` relays.
    HopLimit,
}

impl Refusal {
    /// The reason as the client's onStatus description and the log say it.
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::Unauthorized => "unauthorized (missing or wrong key)",
            Refusal::DeniedAddress => "denied address",
            Refusal::HookRefused => "hook refused",
            Refusal::HookTimedOut => "hook timed out",
            Refusal::HookFailed => "hook failed",
            Refusal::HookQueueFull => "hook queue full",
            Refusal::HookRelayUnsupported => "hook redirect to an rtmp:// URL is not supported",
            Refusal::HopLimit => "relay hop limit reached",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

/// Publish or play.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Publish,
    Play,
}

/// Check `action` by `ip` with the stream name's query and the connect
/// URL's query against the application's rules.
pub fn check(
    settings: &AppSettings,
    action: Action,
    ip: IpAddr,
    name_query: Option<&str>,
    connect_query: Option<&str>,
) -> Result<(), Refusal> {
    let (allow, deny, keys) = match action {
        Action::Publish => (
            &settings.publish_allow,
            &settings.publish_deny,
            &settings.publish_keys,
        ),
        Action::Play => (
            &settings.play_allow,
            &settings.play_deny,
            &settings.play_keys,
        ),
    };
    if !address_allowed(allow, deny, ip) {
        return Err(Refusal::DeniedAddress);
    }
    if keys.is_empty() {
        return Ok(());
    }
    let given = [name_query, connect_query]
        .into_iter()
        .flatten()
        .filter_map(|q| query_param(q, "key"));
    let mut ok = false;
    for g in given {
        for k in keys {
            ok |= ct_eq(g.as_bytes(), k.as_bytes());
        }
    }
    if ok {
        Ok(())
    } else {
        Err(Refusal::Unauthorized)
    }
}

/// The first value of `name` in a `a=1&b=2` query (not percent-decoded:
/// keys are compared as the client sent them).
pub fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then_some(v)
    })
}

/// Equality whose time depends only on the lengths, not on where the
/// bytes differ.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The query part of a URL or an `app?query` string.
pub fn query_of(s: &str) -> Option<&str> {
    s.split_once('?').map(|(_, q)| q).filter(|q| !q.is_empty())
}

/// `s` with the values of secret query parameters replaced by `***`.
pub fn redact_query(s: &str) -> String {
    let Some((head, query)) = s.split_once('?') else {
        return s.to_string();
    };
    let parts: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if SECRET_PARAMS.contains(&k.to_ascii_lowercase().as_str()) => {
                format!("{k}=***")
            }
            _ => pair.to_string(),
        })
        .collect();
    format!("{head}?{}", parts.join("&"))
}

/// Connections per address, for `max_connections_per_ip` and
/// `max_handshakes_per_ip` (connections that have not yet published or
/// played).
#[derive(Debug, Default)]
pub struct PerIp {
    counts: HashMap<IpAddr, (usize, usize)>,
}

impl PerIp {
    /// A connection from `ip` was accepted; true if it stays within both
    /// limits (0 = no limit). It is counted either way.
    pub fn accept(&mut self, ip: IpAddr, max_conns: usize, max_handshakes: usize) -> bool {
        let c = self.counts.entry(ip).or_default();
        c.0 += 1;
        c.1 += 1;
        (max_conns == 0 || c.0 <= max_conns) && (max_handshakes == 0 || c.1 <= max_handshakes)
    }

    /// A connection from `ip` started to publish or play.
    pub fn started(&mut self, ip: IpAddr) {
        if let Some(c) = self.counts.get_mut(&ip) {
            c.1 = c.1.saturating_sub(1);
        }
    }

    /// A connection from `ip` closed (`started`: it had published or played).
    pub fn closed(&mut self, ip: IpAddr, started: bool) {
        if let Some(c) = self.counts.get_mut(&ip) {
            c.0 = c.0.saturating_sub(1);
            if !started {
                c.1 = c.1.saturating_sub(1);
            }
            if c.0 == 0 {
                self.counts.remove(&ip);
            }
        }
    }

    /// No address has an open connection.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn settings(f: impl FnOnce(&mut AppSettings)) -> AppSettings {
        let mut s = Config::default().app_settings("live");
        f(&mut s);
        s
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn keys_from_the_name_or_the_connect_url() {
        let s = settings(|s| s.publish_keys = vec!["s3cret".into(), "other".into()]);
        let lo = ip("127.0.0.1");
        let check = |nq, cq| check(&s, Action::Publish, lo, nq, cq);
        assert_eq!(check(Some("key=s3cret"), None), Ok(()));
        assert_eq!(check(Some("a=1&key=other"), None), Ok(()));
        assert_eq!(check(None, Some("key=s3cret")), Ok(()));
        assert_eq!(check(None, None), Err(Refusal::Unauthorized));
        assert_eq!(check(Some("key=s3cre"), None), Err(Refusal::Unauthorized));
        assert_eq!(check(Some("key="), None), Err(Refusal::Unauthorized));
        assert_eq!(
            check(Some("token=s3cret"), None),
            Err(Refusal::Unauthorized)
        );
        // Play has its own list (none here: open).
        assert_eq!(
            super::check(&s, Action::Play, lo, None, None),
            Ok(()),
            "play keys are separate"
        );
    }

    #[test]
    fn address_rules_apply_per_action() {
        let s = settings(|s| s.play_deny = vec!["127.0.0.2".parse().unwrap()]);
        assert_eq!(
            check(&s, Action::Play, ip("127.0.0.2"), None, None),
            Err(Refusal::DeniedAddress)
        );
        assert_eq!(check(&s, Action::Play, ip("127.0.0.1"), None, None), Ok(()));
        assert_eq!(
            check(&s, Action::Publish, ip("127.0.0.2"), None, None),
            Ok(())
        );
    }

    #[test]
    fn secrets_are_redacted() {
        assert_eq!(
            redact_query("rtmp://h/live?key=abc&x=1&Token=t"),
            "rtmp://h/live?key=***&x=1&Token=***"
        );
        assert_eq!(redact_query("rtmp://h/live"), "rtmp://h/live");
        assert_eq!(query_of("live?key=1"), Some("key=1"));
        assert_eq!(query_of("live?"), None);
    }

    #[test]
    fn per_ip_limits_count_connections_and_handshakes() {
        let mut p = PerIp::default();
        let a = ip("127.0.0.1");
        let b = ip("127.0.0.2");
        for _ in 0..5 {
            assert!(p.accept(a, 5, 0));
        }
        assert!(!p.accept(a, 5, 0), "sixth from one address");
        assert!(p.accept(b, 5, 0), "another address is not affected");
        p.closed(a, false);
        p.closed(a, false);
        assert!(p.accept(a, 5, 0));
        // Handshakes: two pending allowed, a third refused until one starts.
        let mut p = PerIp::default();
        assert!(p.accept(a, 0, 2));
        assert!(p.accept(a, 0, 2));
        assert!(!p.accept(a, 0, 2));
        p.closed(a, false);
        p.started(a);
        assert!(p.accept(a, 0, 2));
        for _ in 0..2 {
            p.closed(a, false);
        }
        p.closed(a, true);
        assert!(p.is_empty());
    }
}
