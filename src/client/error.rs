//! Errors of the client drivers.

use std::fmt;
use std::io;

use crate::proto::client::ClientError as SessionError;
use crate::proto::handshake::HandshakeError;

use super::http_flv::HttpFlvError;
use super::url::UrlError;

/// The step a client connection was in when something failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Step {
    /// Name resolution.
    Resolve,
    /// TCP connect.
    Connect,
    /// C0C1 / S0S1S2 / C2.
    Handshake,
    /// `connect` command and its `_result`.
    ConnectCommand,
    /// `createStream` and its `_result`.
    CreateStream,
    /// `publish`/`play` and its Start status.
    Start,
    /// Sending or receiving media.
    Media,
    /// Flushing buffered output.
    Flush,
    /// `FCUnpublish`/`deleteStream` and close.
    Finish,
    /// HTTP-FLV: the request and the response head.
    HttpResponse,
}

impl Step {
    pub fn name(self) -> &'static str {
        match self {
            Step::Resolve => "resolve",
            Step::Connect => "tcp connect",
            Step::Handshake => "handshake",
            Step::ConnectCommand => "connect command",
            Step::CreateStream => "createStream",
            Step::Start => "publish/play start",
            Step::Media => "media",
            Step::Flush => "flush",
            Step::Finish => "finish",
            Step::HttpResponse => "HTTP response",
        }
    }
}

/// A failed client operation.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientError {
    /// The URL does not parse.
    Url(UrlError),
    /// The host resolved to no address.
    NoAddress,
    /// A socket call failed during `step`.
    Io { step: Step, kind: io::ErrorKind },
    /// `step` did not complete before its deadline.
    Timeout(Step),
    /// The server closed the connection during `step`.
    Closed(Step),
    /// The server broke the handshake.
    Handshake(HandshakeError),
    /// The server broke the RTMP protocol (chunks, messages, commands).
    Protocol(SessionError),
    /// The server refused `step` (`_error` or an onStatus of level error);
    /// `code` and `description` are the status code and text it gave (the
    /// description may be empty).
    Rejected {
        step: Step,
        code: String,
        description: String,
    },
    /// The operation is not valid on this connection (e.g. media on a player).
    WrongRole(&'static str),
    /// TLS failed (`rtmps://`): unknown CA, wrong host name, bad record...
    Tls { step: Step, reason: String },
    /// HTTP-FLV: a refusal (non-200 status), a bad head or a bad FLV body.
    Http(HttpFlvError),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Url(e) => write!(f, "bad URL: {e}"),
            ClientError::NoAddress => f.write_str("host resolved to no address"),
            ClientError::Io { step, kind } => write!(f, "{} failed: {kind}", step.name()),
            ClientError::Timeout(step) => write!(f, "{} timed out", step.name()),
            ClientError::Closed(step) => {
                write!(f, "server closed the connection during {}", step.name())
            }
            ClientError::Handshake(e) => write!(f, "handshake: {e}"),
            ClientError::Protocol(e) => write!(f, "protocol error: {e}"),
            ClientError::Rejected {
                step,
                code,
                description,
            } => {
                write!(f, "server refused {}: {code}", step.name())?;
                if !description.is_empty() {
                    write!(f, ": {description}")?;
                }
                Ok(())
            }
            ClientError::WrongRole(what) => write!(f, "{what} is not valid on this connection"),
            ClientError::Tls { step, reason } => {
                write!(f, "TLS failed during {}: {reason}", step.name())
            }
            ClientError::Http(e) => write!(f, "HTTP-FLV: {e}"),
        }
    }
}

/// Exit codes of `rtmp-client` and `rtmp-bench`, one per failure class.
pub mod exit_code {
    /// Bad command line or URL.
    pub const USAGE: u8 = 2;
    /// Host unreachable: no address, TCP connect failed, connection lost.
    pub const UNREACHABLE: u8 = 3;
    /// TLS failed (certificate, host name, record).
    pub const TLS: u8 = 4;
    /// A step did not complete before its deadline.
    pub const TIMEOUT: u8 = 5;
    /// The server refused (onStatus/`_error`, HTTP status other than 200).
    pub const REFUSED: u8 = 6;
    /// The server broke the protocol (handshake, chunks, commands, FLV).
    pub const PROTOCOL: u8 = 7;
    /// The `--help` note listing the codes.
    pub const HELP: &str = "Exit codes: 0 ok, 1 other error (file, I/O), 2 usage, \
3 unreachable (resolve or TCP connect failed, connection lost), 4 TLS, 5 timeout, \
6 refused by the server (busy stream, bad key, hook), 7 protocol error.";
}

impl ClientError {
    /// The step that failed, when the error names one.
    pub fn step(&self) -> Option<Step> {
        match self {
            ClientError::NoAddress => Some(Step::Resolve),
            ClientError::Io { step, .. }
            | ClientError::Timeout(step)
            | ClientError::Closed(step)
            | ClientError::Rejected { step, .. }
            | ClientError::Tls { step, .. } => Some(*step),
            ClientError::Handshake(_) => Some(Step::Handshake),
            ClientError::Http(_) => Some(Step::HttpResponse),
            _ => None,
        }
    }

    /// The process exit code of this failure's class (see [`exit_code`]).
    pub fn exit_code(&self) -> u8 {
        match self {
            ClientError::Url(_) => exit_code::USAGE,
            ClientError::NoAddress | ClientError::Io { .. } | ClientError::Closed(_) => {
                exit_code::UNREACHABLE
            }
            ClientError::Tls { .. } => exit_code::TLS,
            ClientError::Timeout(_) => exit_code::TIMEOUT,
            ClientError::Rejected { .. } | ClientError::Http(HttpFlvError::Status(_)) => {
                exit_code::REFUSED
            }
            ClientError::Handshake(_)
            | ClientError::Protocol(_)
            | ClientError::WrongRole(_)
            | ClientError::Http(_) => exit_code::PROTOCOL,
        }
    }
}

impl std::error::Error for ClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ClientError::Url(e) => Some(e),
            ClientError::Handshake(e) => Some(e),
            ClientError::Protocol(e) => Some(e),
            ClientError::Http(e) => Some(e),
            _ => None,
        }
    }
}

impl From<UrlError> for ClientError {
    fn from(e: UrlError) -> Self {
        ClientError::Url(e)
    }
}

impl From<HandshakeError> for ClientError {
    fn from(e: HandshakeError) -> Self {
        ClientError::Handshake(e)
    }
}

impl From<HttpFlvError> for ClientError {
    fn from(e: HttpFlvError) -> Self {
        ClientError::Http(e)
    }
}

impl From<SessionError> for ClientError {
    fn from(e: SessionError) -> Self {
        ClientError::Protocol(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_error_display() {
        let cases: Vec<(ClientError, &str)> = vec![
            (
                ClientError::Url(UrlError::BadScheme),
                "bad URL: URL must start with rtmp:// or rtmps://",
            ),
            (ClientError::NoAddress, "host resolved to no address"),
            (
                ClientError::Io {
                    step: Step::Connect,
                    kind: io::ErrorKind::ConnectionRefused,
                },
                "tcp connect failed: connection refused",
            ),
            (ClientError::Timeout(Step::Handshake), "handshake timed out"),
            (
                ClientError::Closed(Step::CreateStream),
                "server closed the connection during createStream",
            ),
            (
                ClientError::Handshake(HandshakeError::BadVersion(6)),
                "handshake: unsupported RTMP handshake version 6 (expected 3)",
            ),
            (
                ClientError::Protocol(SessionError::NotReady { action: "x" }),
                "protocol error: x called before it is allowed",
            ),
            (
                ClientError::Rejected {
                    step: Step::Start,
                    code: "NetStream.Publish.BadName".to_owned(),
                    description: String::new(),
                },
                "server refused publish/play start: NetStream.Publish.BadName",
            ),
            (
                ClientError::Rejected {
                    step: Step::Start,
                    code: "NetStream.Publish.Denied".to_owned(),
                    description: "bad key".to_owned(),
                },
                "server refused publish/play start: NetStream.Publish.Denied: bad key",
            ),
            (
                ClientError::WrongRole("send_media"),
                "send_media is not valid on this connection",
            ),
            (
                ClientError::Http(HttpFlvError::Status("HTTP/1.1 403 Forbidden".to_owned())),
                "HTTP-FLV: server answered \"HTTP/1.1 403 Forbidden\" (expected 200)",
            ),
        ];
        for (e, s) in cases {
            assert_eq!(e.to_string(), s);
        }
        let steps = [
            (Step::Resolve, "resolve"),
            (Step::ConnectCommand, "connect command"),
            (Step::Media, "media"),
            (Step::Flush, "flush"),
            (Step::Finish, "finish"),
            (Step::HttpResponse, "HTTP response"),
        ];
        for (s, n) in steps {
            assert_eq!(s.name(), n);
        }
    }

    #[test]
    fn client_error_classes() {
        let cases: Vec<(ClientError, u8, Option<Step>)> = vec![
            (ClientError::Url(UrlError::BadScheme), 2, None),
            (
                ClientError::Io {
                    step: Step::Connect,
                    kind: io::ErrorKind::ConnectionRefused,
                },
                3,
                Some(Step::Connect),
            ),
            (
                ClientError::Tls {
                    step: Step::Handshake,
                    reason: "x".into(),
                },
                4,
                Some(Step::Handshake),
            ),
            (
                ClientError::Timeout(Step::Handshake),
                5,
                Some(Step::Handshake),
            ),
            (
                ClientError::Rejected {
                    step: Step::Start,
                    code: "NetStream.Publish.Denied".into(),
                    description: String::new(),
                },
                6,
                Some(Step::Start),
            ),
            (
                ClientError::Http(HttpFlvError::Status("HTTP/1.1 404".into())),
                6,
                Some(Step::HttpResponse),
            ),
            (
                ClientError::Handshake(HandshakeError::BadVersion(6)),
                7,
                Some(Step::Handshake),
            ),
        ];
        for (e, code, step) in cases {
            assert_eq!(e.exit_code(), code, "{e}");
            assert_eq!(e.step(), step, "{e}");
        }
    }
}
