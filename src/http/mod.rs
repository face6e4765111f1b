//! HTTP on the RTMP loop, sans-IO: request heads, routing, responses, the
//! JSON API and Prometheus metrics over snapshots, HTTP-FLV framing,
//! sequence-header details and the two HTML pages.
//!
//! Nothing here opens a socket or a file, reads a clock or starts a thread:
//! the driver moves bytes and the endpoint decides.
//!
//! # Driving order (one HTTP connection)
//!
//! 1. Append read bytes to the connection's buffer; while idle, call
//!    [`request::parse_request`]. `Partial` → wait (enforce
//!    [`request::HEAD_DEADLINE_MS`]); `Err(e)` → write
//!    [`response::error_response`]`(e.status(), e.allow(), false)` and
//!    close; `Complete`
//!    → drop `head_len` bytes and go on.
//! 2. [`route::route`]`(&req.path, req.query.as_deref())`; if
//!    `!route.allows(req.method)` → 405 with `Allow: route.allow()`; if
//!    `route.is_api()` and the peer is outside `api_allow` → 403.
//! 3. Answer by route:
//!    * `StatusPage` → [`response::full_response`] with
//!      [`pages::STATUS_PAGE`]; `PlayerPage` → [`pages::player_page`];
//!    * `Static(rest)` → [`route::resolve_static`] (any error → 404), then
//!      the driver reads the file, [`route::content_type_for`];
//!    * `Streams`/`Stream`/`Clients`/`Client` (GET/HEAD) → build an
//!      [`api::ServerSnapshot`], [`api::api_response`]; `Client(id)` with
//!      DELETE → close that connection, answer [`response::no_content`]
//!      (404 if unknown);
//!    * `Reconnect{query}` (POST only, no body) → the endpoint's E-RTMP
//!      reconnect request to the publishers in the query's scope, answered
//!      with its counts as JSON;
//!    * `Metrics` → [`metrics::render`] with
//!      [`response::PROMETHEUS_TEXT`];
//!    * `Flv{..}` → the play rules of the app (`?key=`), then
//!      [`response::flv_head`], [`flv::file_header`], and for each frame the
//!      shared [`flv::TagFraming`] beside its payload; the connection closes
//!      when the stream ends;
//!    * `NotFound` → 404.
//! 4. After a non-FLV answer: `keep_alive` → wait for the next request
//!    (idle limit [`request::KEEP_ALIVE_IDLE_MS`]); otherwise close once
//!    written.
//!
//! Stream details for the snapshot come from the cached sequence headers
//! with [`media::video_snapshot`] and [`media::audio_snapshot`] (built on
//! [`media::avc_details`] and [`media::aac_details`]); [`example`] has a
//! filled snapshot for tests. `kbps_in` / `kbps_out` come from one
//! [`rate::RateMeter`] per counter (30 s window, fixed memory).

pub mod api;
pub mod example;
pub mod flv;
pub mod media;
pub mod metrics;
pub mod pages;
pub mod rate;
pub mod request;
pub mod response;
pub mod route;

pub use api::{
    AudioSnapshot, ClientSnapshot, PublisherSnapshot, RecordingSnapshot, RelaySnapshot,
    ServerSnapshot, StreamSnapshot, VideoSnapshot, ViewerCounts,
};
pub use request::{parse_request, Method, Parse, Request, RequestError};
pub use route::{route, Route};
