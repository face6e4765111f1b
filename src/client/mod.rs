//! Client side: URL parsing, a single-connection API ([`Publisher`],
//! [`Player`]) and a multi-connection driver ([`multi::MultiClient`]) for the
//! benchmark harness. This is the I/O layer over [`crate::proto::client`]:
//! it owns sockets and reads the clock; protocol decisions stay in `proto`.
//!
//! Rules a caller must keep:
//! * Every connecting call takes a timeout that applies to each step
//!   separately (TCP connect, handshake, each command answer); a step that
//!   overruns fails with [`ClientError::Timeout`] naming it.
//! * [`Publisher::send_media`] never blocks: output is buffered and written
//!   as the socket accepts it. Call [`Publisher::flush`] with a deadline to
//!   wait for the buffer to drain, and watch [`Publisher::pending_bytes`] to
//!   bound memory when the server is slower than the source.
//! * [`Player::next_event`] returns `Ok(None)` on a timeout with nothing
//!   received, and `Err(ClientError::Closed(_))` once the server closed the
//!   connection.
//! * Both announce E-RTMP v2 capabilities in `connect` (every FourCC we
//!   know, `capsEx` Reconnect | Multitrack | ModEx). A server's reconnect
//!   request does not end anything: it is kept for
//!   [`Publisher::reconnect_request`] / [`Player::reconnect_request`] (and
//!   queued as an event); acting on it is the caller's choice.
//!
//! ```text
//! connect ─► TCP connect ─► handshake ─► connect cmd ─► createStream ─► publish/play ─► media ─► finish
//!   (each arrow: its own deadline; a refusal is ClientError::Rejected { step, code, description })
//! ```

pub mod error;
pub mod http_flv;
pub mod light;
pub mod multi;
pub mod simple;
mod transport;
pub mod url;

pub use error::{exit_code, ClientError, Step};
pub use http_flv::{HttpFlvError, HttpFlvUrl};
pub use simple::{resolve, Player, Publisher, ReconnectRequest};
pub use url::{RtmpUrl, TlsVerify, UrlError};
