//! Startup errors of the server binary and the reasons a connection closes.

use std::fmt;
use std::io;

use crate::config::ConfigError;
use crate::proto::handshake::HandshakeError;
use crate::proto::session::SessionError;

/// Why the server could not start or keep running.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    Config(ConfigError),
    /// Binding a listen address failed: the key that names it, the address.
    Bind(&'static str, std::net::SocketAddr, io::Error),
    /// Creating the poll instance, registering or polling failed.
    Poll(io::Error),
    /// Installing the signal handlers failed.
    Signals(io::Error),
    /// The recording directory could not be created.
    RecordDir(io::Error),
    /// The RTMPS certificates could not be loaded.
    Tls(crate::tls::TlsError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(e) => write!(f, "configuration: {e}"),
            Error::Bind(key, addr, e) => write!(
                f,
                "cannot listen on {addr} ({key}): {e}; give {key} (--{}) another address{}",
                key.replace('_', "-"),
                if *key == "http_listen" {
                    " or \"off\""
                } else {
                    ""
                }
            ),
            Error::Poll(e) => write!(f, "event loop: {e}"),
            Error::Signals(e) => write!(f, "cannot install signal handlers: {e}"),
            Error::RecordDir(e) => write!(f, "cannot create the recording directory: {e}"),
            Error::Tls(e) => write!(f, "cannot load the TLS certificates: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Config(e) => Some(e),
            Error::Tls(e) => Some(e),
            Error::Bind(_, _, e) | Error::Poll(e) | Error::Signals(e) | Error::RecordDir(e) => {
                Some(e)
            }
        }
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Error::Config(e)
    }
}

/// The phase whose deadline passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Handshake,
    /// connect + publish/play not done in time.
    Commands,
    /// A publisher sent no media.
    PublisherIdle,
    /// No answer to our PingRequest.
    Ping,
    /// An HTTP request head not complete in time.
    HttpHead,
    /// A kept-alive HTTP connection sent no new request in time.
    HttpIdle,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Handshake => "handshake",
            Phase::Commands => "connect/publish/play",
            Phase::PublisherIdle => "publisher idle",
            Phase::Ping => "ping",
            Phase::HttpHead => "HTTP request head",
            Phase::HttpIdle => "HTTP keep-alive idle",
        })
    }
}

/// Why the server closed (or saw the close of) a connection; logged once.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    PeerClosed,
    Io(io::ErrorKind),
    Handshake(HandshakeError),
    Protocol(SessionError),
    Timeout(Phase),
    /// Stayed over its output budget too long, or a must-send frame did not fit.
    SlowSubscriber,
    /// A second publisher on a live key (refused with Publish.BadName).
    DuplicatePublisher,
    /// A new publisher took the key over from this silent one.
    TakenOver,
    /// A publisher asked to reconnect (E-RTMP) gave way to a new publisher
    /// of its key (its own new connection, usually).
    Reconnected,
    /// Over --max-connections.
    TooManyConnections,
    /// The TLS layer failed (bad ClientHello, plaintext on the TLS port, ...).
    Tls(String),
    /// More connections from the peer's address than the per-address limits allow.
    PerIpLimit,
    /// A publish or play refused by the access rules (then closed).
    Refused(&'static str),
    /// The peer let its control output (acknowledgements, pings, status)
    /// pile up past its budget without reading it.
    ControlOverflow,
    /// The HTTP-FLV stream's publisher left.
    StreamEnded,
    /// A pull upstream failed or its stream ended (the reason is logged).
    RelayEnded,
    /// A pull upstream had no viewers for `pull_idle_ms`.
    RelayIdle,
    /// Closed by `DELETE /api/v1/clients/{id}`.
    Kicked,
    /// An HTTP request answered with an error status, then closed.
    HttpRefused(u16),
    /// An HTTP answer given with `Connection: close` was written.
    HttpDone,
    Shutdown,
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::PeerClosed => f.write_str("peer closed"),
            CloseReason::Io(kind) => write!(f, "i/o error: {kind}"),
            CloseReason::Handshake(e) => write!(f, "handshake error: {e:?}"),
            CloseReason::Protocol(e) => write!(f, "protocol error: {e:?}"),
            CloseReason::Timeout(p) => write!(f, "timeout in phase {p}"),
            CloseReason::SlowSubscriber => f.write_str("slow subscriber (output budget exceeded)"),
            CloseReason::DuplicatePublisher => f.write_str("duplicate publisher refused"),
            CloseReason::TakenOver => f.write_str("stale publisher taken over by a new one"),
            CloseReason::Reconnected => {
                f.write_str("asked to reconnect, replaced by a new publisher of its key")
            }
            CloseReason::TooManyConnections => f.write_str("max-connections reached"),
            CloseReason::Tls(e) => write!(f, "tls error: {e}"),
            CloseReason::PerIpLimit => f.write_str("per-address connection limit reached"),
            CloseReason::Refused(why) => write!(f, "refused: {why}"),
            CloseReason::ControlOverflow => {
                f.write_str("control output not read (control budget exceeded)")
            }
            CloseReason::StreamEnded => f.write_str("stream ended"),
            CloseReason::RelayEnded => f.write_str("upstream ended"),
            CloseReason::RelayIdle => f.write_str("upstream idle (no viewers)"),
            CloseReason::Kicked => f.write_str("closed by an API request"),
            CloseReason::HttpRefused(status) => write!(f, "HTTP request refused with {status}"),
            CloseReason::HttpDone => f.write_str("HTTP response written"),
            CloseReason::Shutdown => f.write_str("server shutdown"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_reason_display() {
        assert_eq!(CloseReason::PeerClosed.to_string(), "peer closed");
        assert_eq!(
            CloseReason::Io(io::ErrorKind::ConnectionReset).to_string(),
            "i/o error: connection reset"
        );
        assert_eq!(
            CloseReason::Timeout(Phase::Handshake).to_string(),
            "timeout in phase handshake"
        );
        assert_eq!(
            CloseReason::SlowSubscriber.to_string(),
            "slow subscriber (output budget exceeded)"
        );
        assert_eq!(
            CloseReason::DuplicatePublisher.to_string(),
            "duplicate publisher refused"
        );
        assert_eq!(
            CloseReason::TakenOver.to_string(),
            "stale publisher taken over by a new one"
        );
        assert_eq!(
            CloseReason::Reconnected.to_string(),
            "asked to reconnect, replaced by a new publisher of its key"
        );
        assert_eq!(
            CloseReason::TooManyConnections.to_string(),
            "max-connections reached"
        );
        assert_eq!(CloseReason::Shutdown.to_string(), "server shutdown");
        assert_eq!(
            CloseReason::Timeout(Phase::Commands).to_string(),
            "timeout in phase connect/publish/play"
        );
    }

    #[test]
    fn error_display() {
        let addr = std::net::SocketAddr::from(([0, 0, 0, 0], 8080));
        let e = Error::Bind(
            "http_listen",
            addr,
            io::Error::from(io::ErrorKind::AddrInUse),
        );
        let text = e.to_string();
        assert!(
            text.starts_with("cannot listen on 0.0.0.0:8080 (http_listen): "),
            "{text}"
        );
        assert!(text.ends_with("give http_listen (--http-listen) another address or \"off\""));
        let e: Error = ConfigError::new("chunk_size", 1, "too small").into();
        assert_eq!(
            e.to_string(),
            "configuration: invalid chunk_size = 1: too small"
        );
    }
}
