//! Acknowledgement bookkeeping of one receiving side (server or client):
//! count the bytes handed to the session, announce an Acknowledgement each
//! time the peer's Window Acknowledgement Size has been crossed. The
//! sequence number is the byte count modulo 2^32.

/// Acknowledgement bookkeeping of one receiving side: counts the bytes
/// received and says when the peer's announced window has been crossed.
/// Shared by the server and client sessions.
#[derive(Debug, Default, Clone)]
pub(crate) struct AckWindow {
    received: u64,
    last_ack_at: u64,
    window: Option<u32>,
    sent: u64,
}

impl AckWindow {
    /// The peer announced its Window Acknowledgement Size.
    pub(crate) fn set_window(&mut self, window: u32) {
        self.window = Some(window);
    }

    /// `consumed` more bytes arrived; `Some(sequence)` when an
    /// Acknowledgement is due (the sequence wraps at 2^32 on the wire).
    pub(crate) fn record(&mut self, consumed: usize) -> Option<u32> {
        self.received = self.received.wrapping_add(consumed as u64);
        let window = u64::from(self.window.filter(|&w| w > 0)?);
        if self.received - self.last_ack_at < window {
            return None;
        }
        self.last_ack_at = self.received;
        self.sent += 1;
        Some(self.received as u32)
    }

    pub(crate) fn received(&self) -> u64 {
        self.received
    }

    pub(crate) fn sent(&self) -> u64 {
        self.sent
    }
}
