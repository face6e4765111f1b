//! Why a server session gives up on a connection: one enum over the chunk,
//! message and command layers plus the session's own rules. Every variant
//! is a peer violation; the driver closes the connection.

use std::fmt;

use crate::proto::chunk::ChunkError;
use crate::proto::command::CommandError;
use crate::proto::message::MessageError;

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionError {
    Chunk(ChunkError),
    Message(MessageError),
    /// A command that could not be decoded (bad AMF, name not a string).
    BadCommand(CommandError),
    /// publish/play/createStream before connect.
    NotConnected {
        command: &'static str,
    },
    TooManyStreams {
        limit: u32,
    },
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::Chunk(e) => write!(f, "chunk layer: {e}"),
            SessionError::Message(e) => write!(f, "bad message: {e}"),
            SessionError::BadCommand(e) => write!(f, "undecodable command: {e}"),
            SessionError::NotConnected { command } => {
                write!(f, "{command} before connect")
            }
            SessionError::TooManyStreams { limit } => {
                write!(f, "more than {limit} createStream calls")
            }
        }
    }
}

impl std::error::Error for SessionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SessionError::Chunk(e) => Some(e),
            SessionError::Message(e) => Some(e),
            SessionError::BadCommand(e) => Some(e),
            SessionError::NotConnected { .. } | SessionError::TooManyStreams { .. } => None,
        }
    }
}

impl From<ChunkError> for SessionError {
    fn from(e: ChunkError) -> Self {
        SessionError::Chunk(e)
    }
}

impl From<MessageError> for SessionError {
    fn from(e: MessageError) -> Self {
        SessionError::Message(e)
    }
}

impl From<CommandError> for SessionError {
    fn from(e: CommandError) -> Self {
        SessionError::BadCommand(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_not_connected() {
        let e = SessionError::NotConnected { command: "publish" };
        assert_eq!(e.to_string(), "publish before connect");
    }

    #[test]
    fn display_too_many_streams() {
        let e = SessionError::TooManyStreams { limit: 16 };
        assert_eq!(e.to_string(), "more than 16 createStream calls");
    }

    #[test]
    fn display_layer_errors_name_the_layer() {
        let e = SessionError::Chunk(ChunkError::BadChunkSize(0));
        assert_eq!(e.to_string(), "chunk layer: bad chunk size 0");
        let e = SessionError::Message(MessageError::BadAggregate);
        assert_eq!(e.to_string(), "bad message: malformed aggregate message");
        let e = SessionError::BadCommand(CommandError::NoName);
        assert_eq!(
            e.to_string(),
            "undecodable command: command message without a name string"
        );
        assert!(std::error::Error::source(&e).is_some());
    }

    #[test]
    fn from_conversions_keep_the_layer() {
        assert_eq!(
            SessionError::from(ChunkError::BadChunkSize(0)),
            SessionError::Chunk(ChunkError::BadChunkSize(0))
        );
        assert_eq!(
            SessionError::from(MessageError::BadAggregate),
            SessionError::Message(MessageError::BadAggregate)
        );
        assert_eq!(
            SessionError::from(CommandError::NoTransactionId),
            SessionError::BadCommand(CommandError::NoTransactionId)
        );
    }
}
