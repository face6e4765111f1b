//! What a hook answered, as [`HookVerdict`].
//!
//! 2xx accepts; a 3xx with a non-empty `Location` header redirects (the
//! string is kept as sent: a plain name or an `rtmp://` URL, the caller
//! decides); every other status refuses, including a 3xx without
//! `Location` (nginx-rtmp accepts that one; issue 10 asks for a refusal).
//! No answer at all is [`HookVerdict::Failed`] (connection refused, DNS,
//! broken HTTP) or [`HookVerdict::TimedOut`] (the job's time ran out).
//! Whether a failure or timeout then refuses or accepts (`hook_fail_open`)
//! is the caller's policy. Pure values, no I/O.

use super::form::redact_url;
use std::fmt;

/// The answer to one hook call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookVerdict {
    /// 2xx.
    Accept,
    /// 3xx with this `Location` (trimmed, never empty).
    Redirect(String),
    /// Any other status (4xx, 5xx, 1xx, a 3xx without `Location`).
    Refuse(u16),
    /// No HTTP answer: connection refused, name not found, bad URL, broken
    /// response. The reason is for the log.
    Failed(String),
    /// No full answer within the job's timeout (DNS, connect and the
    /// exchange together).
    TimedOut,
}

impl HookVerdict {
    /// The verdict for an HTTP status and its `Location` header, if any.
    pub fn from_status(status: u16, location: Option<&str>) -> Self {
        match status {
            200..=299 => HookVerdict::Accept,
            300..=399 => match location.map(str::trim) {
                Some(loc) if !loc.is_empty() => HookVerdict::Redirect(loc.to_owned()),
                _ => HookVerdict::Refuse(status),
            },
            _ => HookVerdict::Refuse(status),
        }
    }

    pub fn is_accept(&self) -> bool {
        *self == HookVerdict::Accept
    }

    /// Whether the hook service gave an HTTP answer (accept, redirect,
    /// refuse) rather than failing or timing out.
    pub fn is_answer(&self) -> bool {
        !matches!(self, HookVerdict::Failed(_) | HookVerdict::TimedOut)
    }
}

/// One line for logs and refusal descriptions; a redirect URL's secret query
/// values are hidden.
impl fmt::Display for HookVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HookVerdict::Accept => f.write_str("accepted"),
            HookVerdict::Redirect(to) => write!(f, "redirected to {}", redact_url(to)),
            HookVerdict::Refuse(status) => write!(f, "hook refused (HTTP {status})"),
            HookVerdict::Failed(reason) => write!(f, "hook failed: {reason}"),
            HookVerdict::TimedOut => f.write_str("hook timed out"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_verdicts() {
        assert_eq!(HookVerdict::from_status(200, None), HookVerdict::Accept);
        assert_eq!(
            HookVerdict::from_status(204, Some("x")),
            HookVerdict::Accept
        );
        assert_eq!(
            HookVerdict::from_status(302, Some(" newname ")),
            HookVerdict::Redirect("newname".into())
        );
        assert_eq!(
            HookVerdict::from_status(301, Some("rtmp://h/app/s")),
            HookVerdict::Redirect("rtmp://h/app/s".into())
        );
        assert_eq!(
            HookVerdict::from_status(302, None),
            HookVerdict::Refuse(302)
        );
        assert_eq!(
            HookVerdict::from_status(307, Some("  ")),
            HookVerdict::Refuse(307)
        );
        assert_eq!(
            HookVerdict::from_status(403, None),
            HookVerdict::Refuse(403)
        );
        assert_eq!(
            HookVerdict::from_status(500, None),
            HookVerdict::Refuse(500)
        );
        assert_eq!(
            HookVerdict::from_status(101, None),
            HookVerdict::Refuse(101)
        );
    }

    #[test]
    fn display_hides_secrets_in_redirects() {
        let v = HookVerdict::Redirect("rtmp://h/app/s?token=T".into());
        assert_eq!(v.to_string(), "redirected to rtmp://h/app/s?token=***");
        assert_eq!(
            HookVerdict::Refuse(403).to_string(),
            "hook refused (HTTP 403)"
        );
        assert_eq!(HookVerdict::TimedOut.to_string(), "hook timed out");
        assert!(!HookVerdict::TimedOut.is_answer());
        assert!(HookVerdict::Refuse(403).is_answer());
    }
}
