//! An RTMP live-streaming edge server, client and benchmark harness.
//!
//! # Architecture
//!
//! * [`proto`] is the sans-IO protocol core: handshake, chunk streams, control
//!   messages, AMF0, commands, FLV framing and the server/client sessions. It
//!   takes bytes and returns events and bytes; it never touches a socket, a
//!   clock or an RNG of its own.
//! * [`relay`] (sans-IO as well) turns published media into shared frames,
//!   keeps each stream's late-join cache and runs the per-subscriber queues.
//! * `server` is the single-threaded mio event loop that owns every socket in
//!   a slab and drives the above; `record` is the recorder thread that writes
//!   FLV files; `client` is a small mio loop driving client sessions.
//!
//! `proto/` and `relay/` never import `mio` or `std::net` (CI greps for it).
#![forbid(unsafe_code)]

pub mod client;
pub mod config;
pub mod endpoint;
pub mod error;
pub mod proto;
pub mod record;
pub mod relay;
pub mod server;
