//! Typed connection ids and their mapping to mio tokens.
//!
//! A [`ConnId`] is a slab index plus a generation that is never reused, so a
//! stale token (an event or a subscriber-list entry naming a connection that
//! has since been closed and whose slot was recycled) never reaches the new
//! occupant of that slot.

use mio::Token;

pub use crate::endpoint::ConnId;

/// The listening socket.
pub const LISTENER: Token = Token(usize::MAX);
/// The signal pipe (SIGINT/SIGTERM/SIGHUP).
pub const SIGNALS: Token = Token(usize::MAX - 1);
/// The RTMPS listening socket.
pub const TLS_LISTENER: Token = Token(usize::MAX - 2);
/// The hook workers' waker.
pub const HOOKS: Token = Token(usize::MAX - 3);

/// The HTTP listening socket.
pub const HTTP_LISTENER: Token = Token(usize::MAX - 4);
/// The HTTPS listening socket.
pub const HTTPS_LISTENER: Token = Token(usize::MAX - 5);
/// The resolver thread's waker.
pub const RESOLVER: Token = Token(usize::MAX - 6);
/// The `exec_record_done` runner's waker.
pub const EXEC: Token = Token(usize::MAX - 7);

/// The poll token of a connection: `generation << 32 | index`.
pub fn token(id: ConnId) -> Token {
    Token(((id.generation as usize) << 32) | id.index as usize)
}

/// The connection a token names; `None` for reserved tokens.
pub fn conn_id(token: Token) -> Option<ConnId> {
    if [
        LISTENER,
        SIGNALS,
        TLS_LISTENER,
        HOOKS,
        HTTP_LISTENER,
        HTTPS_LISTENER,
        RESOLVER,
        EXEC,
    ]
    .contains(&token)
    {
        return None;
    }
    Some(ConnId {
        index: (token.0 & 0xFFFF_FFFF) as u32,
        generation: (token.0 >> 32) as u32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_round_trip() {
        let id = ConnId {
            index: 7,
            generation: 123_456,
        };
        assert_eq!(conn_id(token(id)), Some(id));
        let id = ConnId {
            index: u32::MAX - 5,
            generation: u32::MAX - 5,
        };
        assert_eq!(conn_id(token(id)), Some(id));
    }

    #[test]
    fn reserved_tokens_are_not_connections() {
        assert_eq!(conn_id(LISTENER), None);
        assert_eq!(conn_id(SIGNALS), None);
        assert_eq!(conn_id(TLS_LISTENER), None);
        assert_eq!(conn_id(HTTP_LISTENER), None);
    }
}
