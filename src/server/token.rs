//! Typed connection ids and their mapping to mio tokens.
//!
//! A [`ConnId`] is a slab index plus a generation that is never reused, so a
//! stale token (an event or a subscriber-list entry naming a connection that
//! has since been closed and whose slot was recycled) never reaches the new
//! occupant of that slot.

use std::fmt;

use mio::Token;

/// The listening socket.
pub const LISTENER: Token = Token(usize::MAX);
/// The signal pipe (SIGINT/SIGTERM).
pub const SIGNALS: Token = Token(usize::MAX - 1);

/// Slab index + generation, packed into a mio token as `generation << 32 | index`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId {
    pub index: u32,
    pub generation: u32,
}

impl ConnId {
    pub fn token(self) -> Token {
        Token(((self.generation as usize) << 32) | self.index as usize)
    }

    /// `None` for reserved tokens.
    pub fn from_token(token: Token) -> Option<ConnId> {
        if token == LISTENER || token == SIGNALS {
            return None;
        }
        Some(ConnId {
            index: (token.0 & 0xFFFF_FFFF) as u32,
            generation: (token.0 >> 32) as u32,
        })
    }
}

impl fmt::Debug for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conn#{}", self.generation)
    }
}

impl fmt::Display for ConnId {
    /// The generation is unique per accepted connection: it is the id in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conn#{}", self.generation)
    }
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
        assert_eq!(ConnId::from_token(id.token()), Some(id));
        let id = ConnId {
            index: u32::MAX - 5,
            generation: u32::MAX - 5,
        };
        assert_eq!(ConnId::from_token(id.token()), Some(id));
    }

    #[test]
    fn reserved_tokens_are_not_connections() {
        assert_eq!(ConnId::from_token(LISTENER), None);
        assert_eq!(ConnId::from_token(SIGNALS), None);
    }

    #[test]
    fn display_names_the_generation() {
        assert_eq!(
            ConnId {
                index: 3,
                generation: 42
            }
            .to_string(),
            "conn#42"
        );
    }
}
