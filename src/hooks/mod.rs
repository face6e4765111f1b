//! HTTP hooks compatible with nginx-rtmp's notify module (`on_connect`,
//! `on_publish`, `on_play`, `on_publish_done`, `on_play_done`,
//! `on_record_done`), run off the event loop.
//!
//! * [`request`]: the typed calls ([`HookRequest`] = [`SessionInfo`] +
//!   [`HookCall`] + the client's [`QueryArgs`]) and their form bodies, field
//!   for field nginx-rtmp's; [`HookRequest::body_redacted`] for logs.
//! * [`verdict`]: [`HookVerdict`] — 2xx accept, 3xx + `Location` redirect,
//!   other statuses refuse, no answer failed or timed out.
//! * [`pool`]: [`HookPool`], N worker threads behind a bounded queue; results
//!   come back through a channel and a `mio::Waker`.
//! * [`client`]: the blocking `ureq` POST a worker makes (no redirects,
//!   per-job timeout, `http://` only for now).
//! * [`form`]: percent-encoding, query parsing, redaction.
//!
//! # Driving order (for the driver and the endpoint)
//!
//! ```text
//!  startup:   waker = Waker::new(registry, HOOK_TOKEN); pool = HookPool::new(cfg, waker)
//!  a hook is due (connect/publish/play: the connection waits, its answer deferred;
//!                 _done: fire and forget):
//!             pool.submit(HookJob::new(ticket, url, request, timeout))
//!               Err(QueueFull) -> refuse at once, reason "hook queue full"
//!  poll() yields HOOK_TOKEN:
//!             pool.try_results(&mut out); for each result: find the waiting
//!             connection by ticket (it may be gone: ignore) and apply the verdict
//!  exit:      pool.shutdown(max_wait)
//! ```
//!
//! The pool never calls back into the caller: verdicts are values, and what
//! a redirect, a failure or a timeout means (rename, relay, refuse,
//! `hook_fail_open`) is the caller's policy. Only [`pool`] and [`client`]
//! touch threads or sockets; the rest is pure. Secrets in query arguments
//! (`key`, `token`, `pass`, `password`, `secret`) never reach `Debug` or
//! `Display` output of these types.

pub mod client;
pub mod form;
pub mod pool;
pub mod request;
pub mod verdict;

pub use client::{check_url, BadHookUrl, FORM_CONTENT_TYPE};
pub use form::QueryArgs;
pub use pool::{
    HookJob, HookPool, HookPoolConfig, HookResult, QueueFull, ShutdownReport, DEFAULT_HOOK_TIMEOUT,
};
pub use request::{HookCall, HookKind, HookRequest, SessionInfo};
pub use verdict::HookVerdict;
