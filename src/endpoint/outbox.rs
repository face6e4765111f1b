//! A connection's pending output: the session's own messages in a small
//! bounded control queue, and (once it plays) the shared media ring.
//!
//! Order: a connection that has a media ring (a player, or one that played)
//! sends its session output through that ring as control frames, so status
//! messages stay in order with the media around them. Before that (handshake,
//! connect, a publisher's acknowledgements and pings) session output goes to
//! the control queue, which is written first. A publisher therefore never
//! shares the viewer's drop policy: a peer that stops reading its control
//! output is closed for that, not as a "slow subscriber".

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::Bytes;

use crate::relay::frame::Frame;
use crate::relay::queue::{Offer, QueueConfig, SubscriberQueue};

/// Unwritten session output one connection may hold outside a media ring.
pub const CONTROL_BUDGET: usize = 1024 * 1024;

/// What happened to pushed output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    Queued,
    /// Dropped by the media ring's policy (frames only).
    Dropped,
    /// The control queue is over its budget.
    ControlOverflow,
    /// The media ring could not admit a must-send frame.
    MediaOverflow,
}

#[derive(Debug, Default)]
struct ControlQueue {
    chunks: VecDeque<Bytes>,
    /// Bytes of the head chunk already written.
    offset: usize,
    /// Unwritten bytes.
    queued: usize,
}

/// See the module docs.
#[derive(Debug, Default)]
pub struct Outbox {
    control: ControlQueue,
    /// Inline, not boxed: the fan-out touches it for every viewer and frame.
    media: Option<SubscriberQueue>,
}

impl Outbox {
    /// Session output (already chunked).
    pub fn push_control(&mut self, bytes: Bytes, now_ms: u64) -> Pushed {
        if let Some(media) = self.media.as_mut() {
            return match media.offer(Frame::control(bytes), now_ms) {
                Offer::Overflow => Pushed::MediaOverflow,
                _ => Pushed::Queued,
            };
        }
        let c = &mut self.control;
        if c.queued.saturating_add(bytes.len()) > CONTROL_BUDGET {
            return Pushed::ControlOverflow;
        }
        c.queued += bytes.len();
        c.chunks.push_back(bytes);
        Pushed::Queued
    }

    /// An HTTP answer: like session output, except that one answer larger
    /// than the control budget is still taken when nothing else is queued
    /// (a static file).
    pub fn push_response(&mut self, bytes: Bytes, now_ms: u64) -> Pushed {
        if self.media.is_none() && self.control.queued == 0 {
            self.control.queued = bytes.len();
            self.control.chunks.push_back(bytes);
            return Pushed::Queued;
        }
        self.push_control(bytes, now_ms)
    }

    /// The media ring, created on first use (when the connection starts playing).
    pub fn media_mut(&mut self, cfg: &QueueConfig) -> &mut SubscriberQueue {
        self.media
            .get_or_insert_with(|| SubscriberQueue::new(cfg.clone()))
    }

    /// Offer a shared frame to the media ring (which must exist).
    pub fn offer(&mut self, frame: Frame, now_ms: u64) -> Pushed {
        match self.media.as_mut().map(|m| m.offer(frame, now_ms)) {
            Some(Offer::Queued) => Pushed::Queued,
            Some(Offer::Dropped) => Pushed::Dropped,
            Some(Offer::Overflow) | None => Pushed::MediaOverflow,
        }
    }

    /// Fill `dst` with unwritten output in order (control first); returns
    /// the number of slices filled.
    pub fn io_slices<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        let mut offset = self.control.offset;
        for chunk in &self.control.chunks {
            if n == dst.len() {
                return n;
            }
            dst[n] = IoSlice::new(&chunk[offset..]);
            offset = 0;
            n += 1;
        }
        if let Some(media) = self.media.as_ref() {
            n += media.io_slices(&mut dst[n..]);
        }
        n
    }

    /// `n` bytes of what [`Outbox::io_slices`] gave were written.
    pub fn advance(&mut self, mut n: usize) {
        let c = &mut self.control;
        while n > 0 {
            let Some(head) = c.chunks.front() else { break };
            let rest = head.len() - c.offset;
            if n < rest {
                c.offset += n;
                c.queued -= n;
                return;
            }
            n -= rest;
            c.queued -= rest;
            c.offset = 0;
            c.chunks.pop_front();
        }
        if n > 0 {
            if let Some(media) = self.media.as_mut() {
                media.advance(n);
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.control.chunks.is_empty() && self.media.as_ref().is_none_or(|m| m.is_empty())
    }

    /// Unwritten bytes, control and media.
    pub fn queued_bytes(&self) -> usize {
        self.control.queued + self.media.as_ref().map_or(0, |m| m.queued_bytes())
    }

    pub fn dropped_frames(&self) -> u64 {
        self.media.as_ref().map_or(0, |m| m.dropped_frames())
    }

    pub fn congested_since(&self) -> Option<u64> {
        self.media.as_ref().and_then(|m| m.congested_since())
    }

    /// Offer time of the oldest queued media frame (write coalescing).
    pub fn oldest_enqueued_ms(&self) -> Option<u64> {
        self.media.as_ref().and_then(|m| m.oldest_enqueued_ms())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::frame::Frame;

    fn drain(o: &mut Outbox, step: usize) -> Vec<u8> {
        let mut out = Vec::new();
        while !o.is_empty() {
            let mut slices = [IoSlice::new(&[]); 4];
            let n = o.io_slices(&mut slices);
            let mut budget = step;
            let mut took = 0;
            for s in &slices[..n] {
                let k = s.len().min(budget);
                out.extend_from_slice(&s[..k]);
                budget -= k;
                took += k;
                if budget == 0 {
                    break;
                }
            }
            o.advance(took);
        }
        out
    }

    #[test]
    fn control_goes_first_then_media_in_order() {
        let mut o = Outbox::default();
        assert_eq!(o.push_control(Bytes::from_static(b"ab"), 0), Pushed::Queued);
        o.media_mut(&QueueConfig::default());
        // With a ring, control travels through it, after the frames before it.
        o.offer(Frame::control(Bytes::from_static(b"cd")), 0);
        o.push_control(Bytes::from_static(b"ef"), 0);
        assert_eq!(o.queued_bytes(), 6);
        assert_eq!(drain(&mut o, 1), b"abcdef");
        assert_eq!(o.queued_bytes(), 0);
    }

    #[test]
    fn control_queue_is_bounded() {
        let mut o = Outbox::default();
        let big = Bytes::from(vec![0u8; CONTROL_BUDGET]);
        assert_eq!(o.push_control(big, 0), Pushed::Queued);
        assert_eq!(
            o.push_control(Bytes::from_static(b"x"), 0),
            Pushed::ControlOverflow
        );
        assert_eq!(drain(&mut o, 4096).len(), CONTROL_BUDGET);
        assert_eq!(o.push_control(Bytes::from_static(b"x"), 0), Pushed::Queued);
    }

    #[test]
    fn offer_without_ring_is_an_overflow() {
        let mut o = Outbox::default();
        assert_eq!(
            o.offer(Frame::control(Bytes::from_static(b"x")), 0),
            Pushed::MediaOverflow
        );
    }
}
