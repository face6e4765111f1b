//! Typed connection ids.
//!
//! A [`ConnId`] is a table index plus a generation that is never reused, so a
//! stale id (an event or a subscriber-list entry naming a connection that has
//! since been closed and whose slot was recycled) never reaches the new
//! occupant of that slot. The driver allocates ids (its slab index and a
//! fresh generation) and maps them to poll tokens; the endpoint keys its
//! connection table by the same index and checks the generation on every
//! lookup.

use std::fmt;

/// Table index + generation (the generation alone is unique: it is the id in logs).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId {
    pub index: u32,
    pub generation: u32,
}

impl fmt::Debug for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conn#{}", self.generation)
    }
}

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conn#{}", self.generation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_generation() {
        let id = ConnId {
            index: 3,
            generation: 42,
        };
        assert_eq!(id.to_string(), "conn#42");
        assert_eq!(format!("{id:?}"), "conn#42");
    }
}
