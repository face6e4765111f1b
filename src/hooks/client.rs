//! The HTTP side of a hook: one blocking POST with `ureq`, on a worker
//! thread, never on the event loop.
//!
//! * The agent follows no redirect (a 3xx is the answer), returns every
//!   status as a value, keeps no idle connection (one connection per call,
//!   as nginx-rtmp does), ignores proxy environment variables and sends
//!   `User-Agent: rtmp-edge/VERSION`.
//! * The job's timeout is ureq's global timeout for the call: name
//!   resolution (on the worker), connect, sending and the response head
//!   together. The response body is not read.
//! * Only `http://` URLs: the crate is built without TLS for now, so an
//!   `https://` hook fails at once with a clear reason ([`check_url`] lets
//!   the configuration refuse it at load time).

use super::form::redact_url;
use super::verdict::HookVerdict;
use std::fmt;
use std::io;
use std::time::Duration;
use ureq::http::Uri;
use ureq::Agent;

/// The `Content-Type` of every hook request.
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// A hook URL the client cannot call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadHookUrl {
    /// The URL, secret query values hidden.
    pub url: String,
    pub reason: &'static str,
}

impl fmt::Display for BadHookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad hook URL {:?}: {}", self.url, self.reason)
    }
}

impl std::error::Error for BadHookUrl {}

/// Whether `url` is a hook URL this build can call: `http://host[:port]/...`.
pub fn check_url(url: &str) -> Result<(), BadHookUrl> {
    let bad = |reason| BadHookUrl {
        url: redact_url(url).into_owned(),
        reason,
    };
    let uri: Uri = url.parse().map_err(|_| bad("not a valid URL"))?;
    match uri.scheme_str() {
        Some(s) if s.eq_ignore_ascii_case("http") => {}
        Some(s) if s.eq_ignore_ascii_case("https") => {
            return Err(bad("https hooks are not supported yet (built without TLS)"))
        }
        _ => return Err(bad("the scheme must be http://")),
    }
    match uri.host() {
        Some(h) if !h.is_empty() => Ok(()),
        _ => Err(bad("no host")),
    }
}

/// The agent every worker shares (see the module doc).
pub(crate) fn agent() -> Agent {
    let config = Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .max_idle_connections(0)
        .max_idle_connections_per_host(0)
        .user_agent(concat!("rtmp-edge/", env!("CARGO_PKG_VERSION")))
        .build();
    Agent::new_with_config(config)
}

/// POSTs `body` to `url` and reads the verdict, within `timeout`.
pub(crate) fn post(agent: &Agent, url: &str, body: &str, timeout: Duration) -> HookVerdict {
    if let Err(e) = check_url(url) {
        return HookVerdict::Failed(e.reason.to_owned());
    }
    let sent = agent
        .post(url)
        .header("Content-Type", FORM_CONTENT_TYPE)
        .config()
        .timeout_global(Some(timeout))
        .build()
        .send(body);
    match sent {
        Ok(response) => {
            let location = response
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok());
            HookVerdict::from_status(response.status().as_u16(), location)
        }
        Err(e) => from_error(e),
    }
}

fn from_error(e: ureq::Error) -> HookVerdict {
    match e {
        ureq::Error::Timeout(_) => HookVerdict::TimedOut,
        ureq::Error::Io(e)
            if matches!(
                e.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            ) =>
        {
            HookVerdict::TimedOut
        }
        ureq::Error::Io(e) => HookVerdict::Failed(e.to_string()),
        other => HookVerdict::Failed(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_url_accepts_http_only() {
        assert!(check_url("http://127.0.0.1:8080/on_publish").is_ok());
        assert!(check_url("HTTP://hooks.local/x?y=1").is_ok());
        let err = check_url("https://h/x?key=S").unwrap_err();
        assert!(err.reason.contains("https"), "{err}");
        assert!(!err.to_string().contains("=S"), "{err}");
        assert!(check_url("ftp://h/x").is_err());
        assert!(check_url("/relative").is_err());
        assert!(check_url("not a url").is_err());
    }

    #[test]
    fn post_refuses_https_without_io() {
        let v = post(&agent(), "https://127.0.0.1:1/", "", Duration::from_secs(1));
        assert!(
            matches!(v, HookVerdict::Failed(ref r) if r.contains("https")),
            "{v:?}"
        );
    }
}
