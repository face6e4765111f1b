//! An RTMP live-streaming edge server, client and benchmark harness.
//!
//! # Architecture
//!
//! ```text
//!  sockets ─► server (mio driver: Poll, Slab of transports, clock read once per turn)
//!               │ bytes, readiness, now            ▲ outboxes to write, ids to close
//!               ▼                                  │
//!             endpoint (sans-IO policy: connections, roles, deadlines, fan-out)
//!               │ uses                             │ Recorder trait
//!               ▼                                  ▼
//!             proto (handshake, chunks, AMF0,    record (recorder thread, FLV files)
//!             sessions) + relay (frames, rings,
//!             stream table, GOP cache)
//! ```
//!
//! * [`proto`] is the sans-IO protocol core: handshake, chunk streams, control
//!   messages, AMF0, commands, FLV framing and the server/client sessions.
//! * [`relay`] (sans-IO as well) turns published media into shared frames,
//!   keeps each stream's late-join cache and runs the per-subscriber queues.
//! * [`endpoint`] owns every policy decision: the connection table, each
//!   connection's protocol state and role, the publish/play rules, deadlines,
//!   pings and slow viewers. It is driven by `handle_*` calls with `now` and
//!   answers through `poll_flush` / `poll_close` / `poll_timeout`.
//! * [`server`] is the single-threaded mio driver that owns every socket in a
//!   slab and moves bytes between them and the endpoint; [`record`] is the
//!   recorder thread that writes FLV files; [`client`] is a small mio loop
//!   driving client sessions; [`config`] holds every default once.
//! * [`http`] (sans-IO) parses HTTP request heads, routes them, builds
//!   responses, the JSON API, Prometheus metrics, HTTP-FLV framing and the
//!   status and player pages.
//!
//! `proto/`, `relay/` and `endpoint/` never import `mio` or `std::net`, never
//! read a clock and never create an RNG (CI greps for it).
#![forbid(unsafe_code)]

pub mod client;
pub mod config;
pub mod endpoint;
pub mod error;
pub mod exec;
pub mod hooks;
pub mod http;
pub mod proto;
pub mod record;
pub mod relay;
pub mod server;
pub mod tls;
