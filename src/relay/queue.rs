//! Per-subscriber output queue: a bounded ring of shared [`Frame`]s with
//! priority admission (nginx-rtmp style) and a write offset into the head.
//!
//! Rules for callers (the server loop):
//! * live frames go in with [`SubscriberQueue::offer`]; a joining viewer's
//!   start frames (from [`crate::relay::stream::StreamTable::add_viewer`])
//!   go in with [`SubscriberQueue::offer_start`], which admits the cached GOP
//!   whole or not at all, regardless of the per-class thresholds;
//! * [`Offer::Overflow`] means even a must-admit frame did not fit the byte
//!   budget or the frame cap: close the viewer as too slow;
//! * writing: [`SubscriberQueue::io_slices`] → `write_vectored` →
//!   [`SubscriberQueue::advance`]`(n)` with exactly the bytes written (never
//!   more than [`SubscriberQueue::queued_bytes`]);
//! * slow-viewer timeout: close a viewer when `now_ms - congested_since()`
//!   exceeds the server's timeout.
//!
//! Output form ([`QueueConfig::form`], fixed at construction):
//!
//! | form | a frame with FLV framing (8, 9, 18) | a [`Frame::control`] frame | any other frame |
//! |---|---|---|---|
//! | [`OutputForm::Rtmp`] | its chunked form: fmt 0 header, `payload[..cs]`, fmt 3 header, `payload[cs..2cs]`, ... (two slices a chunk; the bodies lent from the shared `Bytes`, never copied) | its `wire`, verbatim | its chunked form (or a slow-path copy, verbatim) |
//! | [`OutputForm::Flv`] | tag header, `payload`, trailer (three slices; the payload is the shared `Bytes`, never copied) | its `wire`, verbatim | skipped: `Offer::Dropped`, not counted as a drop |
//!
//! So a queue holds no bytes of its own: every slice points into a frame's
//! payload, its inline chunk headers or FLV framing, or a pre-encoded
//! buffer (see [`crate::relay::frame`]).
//!
//! A frame's *length* below is the bytes it puts out in the queue's form
//! ([`Frame::wire_len`], the same number the chunked copy the relay used to
//! build had, or `11 + payload.len() + 4` for an FLV tag); every budget,
//! threshold, [`SubscriberQueue::queued_bytes`] and
//! [`SubscriberQueue::advance`] counts in it.
//!
//! Admission (`queued` = unwritten bytes already queued, `len` = the frame's
//! length, `budget` = [`QueueConfig::byte_budget`]):
//!
//! | class | admitted while |
//! |---|---|
//! | Control, Metadata, SequenceHeader | `queued + len <= budget` and frames < `max_frames`, else `Overflow` |
//! | KeyFrame | `queued + len <= key_pct% of budget` (ends wait-for-keyframe) |
//! | Audio | `queued + len <= audio_pct% of budget` |
//! | InterFrame | not waiting for a keyframe and `queued + len <= inter_pct% of budget` |
//!
//! Droppable classes are also dropped when the frame cap is reached. After any
//! dropped video frame the queue waits for a keyframe: it drops inter frames
//! until a keyframe is admitted. A new queue starts in that state too, so a
//! viewer never starts on an inter frame; frames skipped before the first
//! keyframe are not counted as drops. Frames already queued are never
//! evicted, so the head frame, once partly written, is always finished.
//!
//! State of the congestion clock:
//!
//! ```text
//! healthy --(offer: over inter threshold, or a threshold drop)--> congested(since = now)
//! congested --(offer admits and queue <= inter threshold | advance drains to <= threshold
//!              with no drop since)--> healthy
//! ```

use std::collections::VecDeque;
use std::io::IoSlice;

use crate::relay::frame::{Frame, FrameClass};

/// What a queue writes for each frame (see the module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum OutputForm {
    /// The frame's canonical RTMP chunked form (RTMP players): chunk
    /// headers around the shared payload, see [`Frame::rtmp_slices`].
    #[default]
    Rtmp,
    /// FLV tags: header, shared payload, trailer (HTTP-FLV viewers);
    /// pre-encoded control frames pass through as their `wire`.
    Flv,
}

/// Budgets of one subscriber queue.
#[derive(Clone, Debug)]
pub struct QueueConfig {
    /// Hard cap on unwritten queued bytes.
    pub byte_budget: usize,
    /// Hard cap on queued frames.
    pub max_frames: usize,
    /// Keyframes are admitted up to this share of the budget (100).
    pub key_pct: u8,
    /// Audio up to this share (90).
    pub audio_pct: u8,
    /// Inter frames up to this share (75); also the congestion threshold.
    pub inter_pct: u8,
    /// What the queue writes per frame ([`OutputForm::Rtmp`]).
    pub form: OutputForm,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            byte_budget: crate::config::Config::default().subscriber_budget_bytes,
            max_frames: 4096,
            key_pct: 100,
            audio_pct: 90,
            inter_pct: 75,
            form: OutputForm::Rtmp,
        }
    }
}

/// Result of offering a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offer {
    Queued,
    Dropped,
    /// Even a must-admit frame did not fit: disconnect as too slow.
    Overflow,
}

#[derive(Clone, Debug)]
struct Entry {
    frame: Frame,
    at_ms: u64,
    /// The frame's length in the queue's form (computed once, at offer).
    len: usize,
}

/// The per-subscriber ring (see the module docs for the policy).
#[derive(Debug)]
pub struct SubscriberQueue {
    cfg: QueueConfig,
    key_limit: usize,
    audio_limit: usize,
    inter_limit: usize,
    ring: VecDeque<Entry>,
    /// Bytes of the head frame already written.
    head_offset: usize,
    /// Unwritten bytes of all queued frames.
    queued: usize,
    wait_key: bool,
    started: bool,
    congested_since: Option<u64>,
    /// The last threshold-checked offer was dropped (keeps the queue congested).
    last_dropped: bool,
    dropped_frames: u64,
    dropped_bytes: u64,
}

/// Ring slots kept when a queue drains after a burst (a late join's GOP);
/// enough for a few live frames without reallocating.
const RING_KEEP: usize = 64;

/// Bytes `frame` would put out in `form`, or `None` when the form skips it.
#[inline(always)]
fn out_len(form: OutputForm, frame: &Frame) -> Option<usize> {
    match form {
        OutputForm::Rtmp => Some(frame.wire_len()),
        OutputForm::Flv => match &frame.flv {
            Some(tag) => Some(tag.tag_len(frame.payload.len())),
            None if frame.is_pre_encoded() => Some(frame.wire_len()),
            None => None,
        },
    }
}

fn share(budget: usize, pct: u8) -> usize {
    let pct = pct.min(100) as u128;
    (budget as u128 * pct / 100) as usize
}

impl SubscriberQueue {
    pub fn new(cfg: QueueConfig) -> Self {
        // Start small: an idle connection must stay cheap; the ring grows
        // with bursts and is given back when they have drained.
        let ring = VecDeque::new();
        SubscriberQueue {
            key_limit: share(cfg.byte_budget, cfg.key_pct),
            audio_limit: share(cfg.byte_budget, cfg.audio_pct),
            inter_limit: share(cfg.byte_budget, cfg.inter_pct),
            cfg,
            ring,
            head_offset: 0,
            queued: 0,
            wait_key: true,
            started: false,
            congested_since: None,
            last_dropped: false,
            dropped_frames: 0,
            dropped_bytes: 0,
        }
    }

    pub fn config(&self) -> &QueueConfig {
        &self.cfg
    }

    /// Admission by priority (see the module docs). `now_ms` feeds the
    /// congestion clock and [`SubscriberQueue::oldest_enqueued_ms`]. A frame
    /// the queue's form skips is `Dropped` without counting or any other
    /// effect.
    pub fn offer(&mut self, frame: Frame, now_ms: u64) -> Offer {
        let Some(len) = out_len(self.cfg.form, &frame) else {
            return Offer::Dropped;
        };
        let after = self.queued.saturating_add(len);
        let room = self.ring.len() < self.cfg.max_frames;
        let limit = match frame.class {
            FrameClass::Control | FrameClass::Metadata | FrameClass::SequenceHeader => {
                if !room || after > self.cfg.byte_budget {
                    log::trace!(
                        "queue overflow: class {:?} len {} queued {}",
                        frame.class,
                        len,
                        self.queued
                    );
                    self.count_drop(len);
                    self.mark_congested(now_ms);
                    return Offer::Overflow;
                }
                self.push(frame, len, now_ms);
                self.settle(now_ms);
                return Offer::Queued;
            }
            FrameClass::KeyFrame => self.key_limit,
            // Data messages (cue points, captions) are small and, like audio,
            // worth keeping until the queue is well past the inter threshold.
            FrameClass::Audio | FrameClass::Data => self.audio_limit,
            FrameClass::InterFrame => {
                if self.wait_key {
                    if self.started {
                        self.count_drop(len);
                    }
                    return Offer::Dropped;
                }
                self.inter_limit
            }
        };
        if !room || after > limit {
            return self.threshold_drop(&frame, len, now_ms);
        }
        if frame.class == FrameClass::KeyFrame {
            self.wait_key = false;
            self.started = true;
        }
        self.last_dropped = false;
        self.push(frame, len, now_ms);
        self.settle(now_ms);
        Offer::Queued
    }

    /// Admit a joining viewer's start frames (metadata, sequence headers,
    /// then the cached GOP from its keyframe, as returned by
    /// [`crate::relay::stream::StreamTable::add_viewer`]).
    ///
    /// Every frame before the first keyframe is must-admit (`Overflow` if it
    /// does not fit the hard caps). The frames from the first keyframe on (the
    /// GOP) are admitted whole, ignoring the per-class thresholds, if they all
    /// fit the byte budget and frame cap; otherwise none of them is queued and
    /// the viewer starts at the next live keyframe (still `Queued`). Frames
    /// the queue's form skips are left out (and not counted).
    pub fn offer_start(&mut self, frames: &[Frame], now_ms: u64) -> Offer {
        let form = self.cfg.form;
        let split = frames
            .iter()
            .position(|f| f.class == FrameClass::KeyFrame)
            .unwrap_or(frames.len());
        let (head, gop) = frames.split_at(split);
        for f in head {
            let Some(len) = out_len(form, f) else {
                continue;
            };
            if self.ring.len() >= self.cfg.max_frames
                || self.queued.saturating_add(len) > self.cfg.byte_budget
            {
                self.count_drop(len);
                self.mark_congested(now_ms);
                return Offer::Overflow;
            }
            self.push(f.clone(), len, now_ms);
        }
        if !gop.is_empty() {
            let (gop_frames, gop_bytes) = gop
                .iter()
                .filter_map(|f| out_len(form, f))
                .fold((0usize, 0usize), |(n, b), len| (n + 1, b + len));
            let fits = self.ring.len() + gop_frames <= self.cfg.max_frames
                && self.queued.saturating_add(gop_bytes) <= self.cfg.byte_budget;
            if fits {
                for f in gop {
                    if let Some(len) = out_len(form, f) {
                        self.push(f.clone(), len, now_ms);
                    }
                }
                self.wait_key = false;
                self.started = true;
            } else {
                log::debug!(
                    "start GOP of {} frames / {} bytes does not fit; waiting for a keyframe",
                    gop.len(),
                    gop_bytes
                );
            }
        }
        self.settle(now_ms);
        Offer::Queued
    }

    /// `len`: the frame's length in the queue's form.
    fn push(&mut self, frame: Frame, len: usize, at_ms: u64) {
        self.queued += len;
        self.ring.push_back(Entry { frame, at_ms, len });
    }

    fn count_drop(&mut self, len: usize) {
        self.dropped_frames += 1;
        self.dropped_bytes += len as u64;
    }

    fn threshold_drop(&mut self, frame: &Frame, len: usize, now_ms: u64) -> Offer {
        self.count_drop(len);
        if frame.is_video() {
            self.wait_key = true;
        }
        self.last_dropped = true;
        self.mark_congested(now_ms);
        log::trace!(
            "queue drop: class {:?} len {} queued {}",
            frame.class,
            len,
            self.queued
        );
        Offer::Dropped
    }

    fn mark_congested(&mut self, now_ms: u64) {
        if self.congested_since.is_none() {
            self.congested_since = Some(now_ms);
        }
    }

    /// After an admission: congested while over the inter threshold.
    fn settle(&mut self, now_ms: u64) {
        if self.queued > self.inter_limit {
            self.mark_congested(now_ms);
        } else if !self.last_dropped {
            self.congested_since = None;
        }
    }

    /// Like `bytes::Buf::chunks_vectored`: fill `dst` with the unwritten
    /// bytes of the queued frames in the queue's form, in order (head from
    /// its offset); returns the number of slices filled. In the RTMP form a
    /// chunked frame takes two slices per chunk (header, body lent from the
    /// shared payload), its head offset mapped to a chunk arithmetically; in
    /// the FLV form a tag takes up to three slices (header, payload,
    /// trailer), the payload slice lending the frame's shared `Bytes`. Empty
    /// slices are left out. Give it enough slots (the server gives 256).
    pub fn io_slices<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        match self.cfg.form {
            OutputForm::Rtmp => self.wire_slices(dst),
            OutputForm::Flv => self.flv_slices(dst),
        }
    }

    fn wire_slices<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        let mut offset = self.head_offset;
        for entry in &self.ring {
            if n == dst.len() {
                break;
            }
            // A frame gives all its remaining slices unless `dst` fills up.
            n += entry.frame.rtmp_slices(offset, &mut dst[n..]);
            offset = 0;
        }
        n
    }

    #[inline(never)]
    fn flv_slices<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        // Bytes of the head frame already written; skipped part by part.
        let mut offset = self.head_offset;
        for entry in &self.ring {
            let frame = &entry.frame;
            let parts: [&'a [u8]; 3] = match &frame.flv {
                Some(tag) => tag.slices(&frame.payload),
                None => {
                    // a pre-encoded frame (the only other kind an FLV ring
                    // admits): its one buffer
                    if n == dst.len() {
                        return n;
                    }
                    n += frame.rtmp_slices(offset, &mut dst[n..]);
                    offset = 0;
                    continue;
                }
            };
            for part in parts {
                if offset >= part.len() {
                    // written already, or empty
                    offset -= part.len();
                    continue;
                }
                if n == dst.len() {
                    return n;
                }
                dst[n] = IoSlice::new(&part[offset..]);
                offset = 0;
                n += 1;
            }
        }
        n
    }

    /// `n` bytes were written: pop finished frames, move the head offset.
    /// `n` larger than [`SubscriberQueue::queued_bytes`] is a caller bug
    /// (debug assertion); in release the queue is emptied.
    pub fn advance(&mut self, mut n: usize) {
        debug_assert!(n <= self.queued, "advance {} > queued {}", n, self.queued);
        while let Some(head) = self.ring.front() {
            let rest = head.len - self.head_offset;
            if n < rest {
                self.head_offset += n;
                self.queued -= n;
                break;
            }
            n -= rest;
            self.queued -= rest;
            self.head_offset = 0;
            self.ring.pop_front();
        }
        if self.ring.is_empty() && self.ring.capacity() > RING_KEEP {
            self.ring.shrink_to(RING_KEEP);
        }
        if self.queued <= self.inter_limit && !self.last_dropped {
            self.congested_since = None;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// Unwritten bytes (the head counts from its offset).
    pub fn queued_bytes(&self) -> usize {
        self.queued
    }

    /// Queued frames, the partly written head included.
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// Since when (ms) the queue has continuously been over its inter-frame
    /// threshold (or has been dropping); None when healthy.
    pub fn congested_since(&self) -> Option<u64> {
        self.congested_since
    }

    /// Frames refused (threshold drops, wait-for-keyframe drops after the
    /// start, overflows).
    pub fn dropped_frames(&self) -> u64 {
        self.dropped_frames
    }

    pub fn dropped_bytes(&self) -> u64 {
        self.dropped_bytes
    }

    /// True while inter frames are dropped until the next keyframe.
    pub fn waiting_for_keyframe(&self) -> bool {
        self.wait_key
    }

    /// `now_ms` at which the oldest queued frame was offered.
    pub fn oldest_enqueued_ms(&self) -> Option<u64> {
        self.ring.front().map(|e| e.at_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::frame::Wire;
    use bytes::Bytes;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// A frame whose wire is `len` bytes of `tag` (the queue only looks at
    /// class, type and wire length).
    fn mk(class: FrameClass, len: usize, tag: u8) -> Frame {
        let type_id = match class {
            FrameClass::Audio => 8,
            FrameClass::KeyFrame | FrameClass::InterFrame => 9,
            FrameClass::Metadata | FrameClass::Data => 18,
            FrameClass::SequenceHeader => 9,
            FrameClass::Control => 0,
        };
        Frame {
            class,
            timestamp: 0,
            type_id,
            payload: Bytes::new(),
            wire: Wire::Encoded(Bytes::from(vec![tag; len])),
            flv: None,
        }
    }

    fn cfg(budget: usize) -> QueueConfig {
        QueueConfig {
            byte_budget: budget,
            max_frames: 1000,
            key_pct: 100,
            audio_pct: 90,
            inter_pct: 75,
            form: OutputForm::Rtmp,
        }
    }

    fn drain_all(q: &mut SubscriberQueue) -> Vec<u8> {
        let mut out = Vec::new();
        while !q.is_empty() {
            let mut slices = [IoSlice::new(&[]); 16];
            let n = q.io_slices(&mut slices);
            let mut written = 0;
            for s in &slices[..n] {
                out.extend_from_slice(s);
                written += s.len();
            }
            q.advance(written);
        }
        out
    }

    #[test]
    fn admission_thresholds_by_class() {
        use FrameClass::*;
        let mut q = SubscriberQueue::new(cfg(1000));
        assert_eq!(q.offer(mk(KeyFrame, 100, 1), 0), Offer::Queued);
        assert_eq!(q.offer(mk(Control, 600, 2), 0), Offer::Queued);
        // inter frames up to 75% = 750
        assert_eq!(q.offer(mk(InterFrame, 50, 3), 0), Offer::Queued);
        assert_eq!(q.queued_bytes(), 750);
        assert_eq!(q.offer(mk(InterFrame, 1, 4), 0), Offer::Dropped);
        // audio up to 90% = 900
        assert_eq!(q.offer(mk(Audio, 150, 5), 0), Offer::Queued);
        assert_eq!(q.offer(mk(Audio, 1, 6), 0), Offer::Dropped);
        // keyframes up to 100%
        assert_eq!(q.offer(mk(KeyFrame, 101, 7), 0), Offer::Dropped);
        assert_eq!(q.offer(mk(KeyFrame, 100, 7), 0), Offer::Queued);
        assert_eq!(q.queued_bytes(), 1000);
        // must-admit classes overflow past the budget
        assert_eq!(q.offer(mk(Control, 1, 8), 0), Offer::Overflow);
        assert_eq!(q.offer(mk(SequenceHeader, 1, 8), 0), Offer::Overflow);
        assert_eq!(q.offer(mk(Metadata, 1, 8), 0), Offer::Overflow);
        assert_eq!(q.len(), 5);
        assert_eq!(q.dropped_frames(), 6);
        assert_eq!(q.dropped_bytes(), 1 + 1 + 101 + 1 + 1 + 1);
    }

    #[test]
    fn must_admit_classes_pass_the_droppable_thresholds() {
        use FrameClass::*;
        let mut q = SubscriberQueue::new(cfg(1000));
        assert_eq!(q.offer(mk(KeyFrame, 800, 1), 0), Offer::Queued);
        assert_eq!(q.offer(mk(InterFrame, 10, 1), 0), Offer::Dropped);
        assert_eq!(q.offer(mk(Audio, 150, 1), 0), Offer::Dropped);
        assert_eq!(q.offer(mk(Metadata, 100, 1), 0), Offer::Queued);
        assert_eq!(q.offer(mk(SequenceHeader, 50, 1), 0), Offer::Queued);
        assert_eq!(q.offer(mk(Control, 50, 1), 0), Offer::Queued);
        assert_eq!(q.queued_bytes(), 1000);
    }

    #[test]
    fn frame_cap_applies_to_every_class() {
        use FrameClass::*;
        let mut q = SubscriberQueue::new(QueueConfig {
            max_frames: 3,
            ..cfg(1_000_000)
        });
        assert_eq!(q.offer(mk(KeyFrame, 1, 1), 0), Offer::Queued);
        assert_eq!(q.offer(mk(Audio, 1, 1), 0), Offer::Queued);
        assert_eq!(q.offer(mk(InterFrame, 1, 1), 0), Offer::Queued);
        assert_eq!(q.offer(mk(Audio, 1, 1), 0), Offer::Dropped);
        assert_eq!(q.offer(mk(KeyFrame, 1, 1), 0), Offer::Dropped);
        assert_eq!(q.offer(mk(Control, 1, 1), 0), Offer::Overflow);
        q.advance(1);
        assert_eq!(q.offer(mk(Control, 1, 1), 0), Offer::Queued);
    }

    #[test]
    fn new_queue_waits_for_first_keyframe_without_counting_drops() {
        use FrameClass::*;
        let mut q = SubscriberQueue::new(cfg(1000));
        assert!(q.waiting_for_keyframe());
        assert_eq!(q.offer(mk(InterFrame, 10, 1), 0), Offer::Dropped);
        assert_eq!(q.offer(mk(Audio, 10, 2), 0), Offer::Queued);
        assert_eq!(q.offer(mk(KeyFrame, 10, 3), 0), Offer::Queued);
        assert_eq!(q.offer(mk(InterFrame, 10, 4), 0), Offer::Queued);
        assert_eq!(q.dropped_frames(), 0);
        assert_eq!(drain_all(&mut q), [[2u8; 10], [3; 10], [4; 10]].concat());
    }

    #[test]
    fn wait_for_keyframe_after_a_dropped_video_frame() {
        use FrameClass::*;
        let mut q = SubscriberQueue::new(cfg(1000));
        assert_eq!(q.offer(mk(KeyFrame, 700, 1), 0), Offer::Queued);
        assert_eq!(q.offer(mk(InterFrame, 100, 2), 0), Offer::Dropped);
        assert!(q.waiting_for_keyframe());
        drain_all(&mut q);
        // plenty of room now, but inter frames wait for a keyframe
        assert_eq!(q.offer(mk(InterFrame, 10, 3), 0), Offer::Dropped);
        assert_eq!(q.offer(mk(Audio, 10, 4), 0), Offer::Queued);
        assert_eq!(q.offer(mk(SequenceHeader, 10, 5), 0), Offer::Queued);
        assert!(
            q.waiting_for_keyframe(),
            "a sequence header is not a keyframe"
        );
        assert_eq!(q.offer(mk(InterFrame, 10, 6), 0), Offer::Dropped);
        assert_eq!(q.offer(mk(KeyFrame, 10, 7), 0), Offer::Queued);
        assert!(!q.waiting_for_keyframe());
        assert_eq!(q.offer(mk(InterFrame, 10, 8), 0), Offer::Queued);
        assert_eq!(q.dropped_frames(), 3);
        assert_eq!(
            drain_all(&mut q),
            [[4u8; 10], [5; 10], [7; 10], [8; 10]].concat()
        );
    }

    #[test]
    fn dropped_keyframe_also_waits_but_dropped_audio_does_not() {
        use FrameClass::*;
        let mut q = SubscriberQueue::new(cfg(1000));
        assert_eq!(q.offer(mk(KeyFrame, 10, 1), 0), Offer::Queued);
        assert_eq!(q.offer(mk(Control, 880, 1), 0), Offer::Queued);
        assert_eq!(q.offer(mk(Audio, 20, 2), 0), Offer::Dropped);
        assert!(!q.waiting_for_keyframe());
        assert_eq!(q.offer(mk(KeyFrame, 200, 3), 0), Offer::Dropped);
        assert!(q.waiting_for_keyframe());
        drain_all(&mut q);
        assert_eq!(q.offer(mk(InterFrame, 10, 4), 0), Offer::Dropped);
    }

    #[test]
    fn partly_written_head_is_never_dropped() {
        use FrameClass::*;
        let mut q = SubscriberQueue::new(cfg(1000));
        let head: Vec<u8> = (0..=255u8).cycle().take(600).collect();
        let mut key = mk(KeyFrame, 0, 0);
        key.wire = Wire::Encoded(Bytes::from(head.clone()));
        assert_eq!(q.offer(key, 0), Offer::Queued);
        q.advance(250);
        assert_eq!(q.queued_bytes(), 350);
        // under pressure: droppable frames are refused, an overflow happens,
        // and the head stays intact
        assert_eq!(q.offer(mk(InterFrame, 500, 1), 0), Offer::Dropped);
        assert_eq!(q.offer(mk(Control, 600, 2), 0), Offer::Queued);
        assert_eq!(q.offer(mk(KeyFrame, 100, 3), 0), Offer::Dropped);
        assert_eq!(q.offer(mk(Control, 100, 4), 0), Offer::Overflow);
        assert_eq!(q.len(), 2);
        let mut expect = head[250..].to_vec();
        expect.extend_from_slice(&[2u8; 600]);
        assert_eq!(drain_all(&mut q), expect);
        assert_eq!(q.queued_bytes(), 0);
    }

    #[test]
    fn io_slices_respects_dst_len_and_head_offset() {
        use FrameClass::*;
        let mut q = SubscriberQueue::new(cfg(1000));
        q.offer(mk(KeyFrame, 10, 1), 0);
        q.offer(mk(Control, 0, 9), 0);
        q.offer(mk(Audio, 5, 2), 0);
        q.offer(mk(InterFrame, 7, 3), 0);
        q.advance(4);
        let mut one = [IoSlice::new(&[])];
        assert_eq!(q.io_slices(&mut one), 1);
        assert_eq!(&*one[0], &[1u8; 6]);
        {
            let mut many = [IoSlice::new(&[]); 8];
            assert_eq!(q.io_slices(&mut many), 3, "empty wires are skipped");
            assert_eq!(&*many[1], &[2u8; 5]);
            assert_eq!(&*many[2], &[3u8; 7]);
        }
        q.advance(6);
        assert_eq!(q.len(), 2, "finished head and the empty frame popped");
        q.advance(12);
        assert!(q.is_empty());
        let mut many = [IoSlice::new(&[]); 8];
        assert_eq!(q.io_slices(&mut many), 0);
    }

    #[test]
    fn random_writes_reassemble_the_admitted_wire_bytes() {
        use FrameClass::*;
        let classes = [
            Control,
            Metadata,
            SequenceHeader,
            KeyFrame,
            Audio,
            InterFrame,
        ];
        for seed in 0..300u64 {
            let mut rng = StdRng::seed_from_u64(seed);
            let budget = rng.random_range(500..20_000);
            let mut q = SubscriberQueue::new(QueueConfig {
                max_frames: rng.random_range(2..64),
                ..cfg(budget)
            });
            let mut expected = Vec::new();
            let mut got = Vec::new();
            let mut counter = 0u8;
            for step in 0..400u64 {
                if rng.random_bool(0.5) {
                    let class = classes[rng.random_range(0..classes.len())];
                    let len = rng.random_range(0..2000);
                    let wire: Vec<u8> = (0..len).map(|_| rng.random()).collect();
                    let mut f = mk(class, 0, 0);
                    f.wire = Wire::Encoded(Bytes::from(wire.clone()));
                    counter = counter.wrapping_add(1);
                    let before = q.queued_bytes();
                    match q.offer(f, step) {
                        Offer::Queued => expected.extend_from_slice(&wire),
                        _ => assert_eq!(q.queued_bytes(), before, "seed {seed}"),
                    }
                    assert!(q.queued_bytes() <= budget, "seed {seed}");
                } else {
                    let mut slices = [IoSlice::new(&[]); 8];
                    let k = rng.random_range(1..=8);
                    let n = q.io_slices(&mut slices[..k]);
                    let avail: usize = slices[..n].iter().map(|s| s.len()).sum();
                    let write = rng.random_range(0..=avail);
                    let mut left = write;
                    for s in &slices[..n] {
                        let take = left.min(s.len());
                        got.extend_from_slice(&s[..take]);
                        left -= take;
                    }
                    q.advance(write);
                }
                let total: usize = expected.len() - got.len();
                assert_eq!(q.queued_bytes(), total, "seed {seed} step {step}");
            }
            got.extend(drain_all(&mut q));
            assert!(got == expected, "seed {seed}: reassembled bytes differ");
        }
    }

    #[test]
    fn chunked_frames_write_from_any_offset() {
        // Frames of several 128-byte chunks (fmt 3 headers of 1 byte, and of
        // 5 with an extended timestamp) between pre-encoded ones: every cut
        // point gives exactly the rest of the wire bytes, a few slices at a
        // time, and the queue counts what `encode_canonical` would have.
        use FrameClass::*;
        let frames = [
            Frame::media_as(KeyFrame, 9, 40, Bytes::from(vec![0x17; 300]), 128),
            Frame::control(Bytes::from_static(b"\x02\x00\x00")),
            Frame::media_as(Audio, 8, 0x0100_0000, Bytes::from(vec![0xaf; 257]), 128),
            Frame::media_as(InterFrame, 9, 7, Bytes::from(vec![0x27; 128]), 128),
            Frame::media_as(Audio, 8, 9, Bytes::new(), 128),
        ];
        for f in frames.iter().filter(|f| !f.is_pre_encoded()) {
            // `rechunk` is `encode_canonical`: the bytes of before
            assert_eq!(f.wire_bytes(), f.rechunk(1, 128));
        }
        let all: Vec<u8> = frames.iter().flat_map(|f| f.wire_bytes()).collect();
        let total: usize = frames.iter().map(Frame::wire_len).sum();
        assert_eq!(all.len(), total);
        let mut q = SubscriberQueue::new(cfg(10_000));
        for f in &frames {
            assert_eq!(q.offer(f.clone(), 0), Offer::Queued);
        }
        // 2 + 2 x 3 slices, the control frame, 2 + 2 x 2 with 5-byte fmt 3,
        // 2, and a lone header
        assert_eq!(slice_lens(&q, 16).len(), 6 + 1 + 6 + 2 + 1);
        for cut in 0..=total {
            for k in [1, 2, 5, 16] {
                let mut q = SubscriberQueue::new(cfg(10_000));
                for f in &frames {
                    q.offer(f.clone(), 0);
                }
                q.advance(cut);
                assert_eq!(q.queued_bytes(), total - cut);
                let mut out = Vec::new();
                while !q.is_empty() {
                    let mut slices = [IoSlice::new(&[]); 16];
                    let n = q.io_slices(&mut slices[..k]);
                    assert!(n > 0, "cut {cut}");
                    let w: usize = slices[..n].iter().map(|s| s.len()).sum();
                    for s in &slices[..n] {
                        out.extend_from_slice(s);
                    }
                    q.advance(w);
                }
                assert_eq!(out, &all[cut..], "cut {cut} k {k}");
            }
        }
    }

    #[test]
    fn congested_since_tracks_threshold_and_drops() {
        use FrameClass::*;
        let mut q = SubscriberQueue::new(cfg(1000));
        assert_eq!(q.congested_since(), None);
        q.offer(mk(KeyFrame, 700, 1), 10);
        assert_eq!(q.congested_since(), None, "750 is the threshold");
        q.offer(mk(Audio, 100, 1), 20);
        assert_eq!(q.congested_since(), Some(20));
        q.offer(mk(Audio, 50, 1), 30);
        assert_eq!(q.congested_since(), Some(20), "keeps the first instant");
        q.advance(100);
        assert_eq!(q.congested_since(), None, "750 left: healthy again");
        // a threshold drop while under the threshold still counts
        assert_eq!(q.offer(mk(KeyFrame, 300, 1), 40), Offer::Dropped);
        assert_eq!(q.congested_since(), Some(40));
        q.advance(700);
        assert_eq!(q.congested_since(), Some(40), "no admission since the drop");
        assert_eq!(q.offer(mk(InterFrame, 10, 1), 50), Offer::Dropped);
        assert_eq!(
            q.congested_since(),
            Some(40),
            "wait-for-keyframe drops neither set nor clear"
        );
        assert_eq!(q.offer(mk(Audio, 10, 1), 60), Offer::Queued);
        assert_eq!(q.congested_since(), None);
        // overflow marks congestion too
        q.offer(mk(Control, 900, 1), 70);
        assert_eq!(q.congested_since(), Some(70));
        assert_eq!(q.offer(mk(Control, 200, 1), 80), Offer::Overflow);
        assert_eq!(q.congested_since(), Some(70));
    }

    #[test]
    fn offer_start_admits_whole_gop_or_nothing() {
        use FrameClass::*;
        let start = vec![
            mk(Metadata, 50, 1),
            mk(SequenceHeader, 50, 2),
            mk(KeyFrame, 500, 3),
            mk(InterFrame, 200, 4),
            mk(Audio, 100, 5),
        ];
        let mut q = SubscriberQueue::new(cfg(1000));
        assert_eq!(q.offer_start(&start, 5), Offer::Queued);
        assert_eq!(q.queued_bytes(), 900, "GOP past the inter threshold");
        assert!(!q.waiting_for_keyframe());
        assert_eq!(q.oldest_enqueued_ms(), Some(5));
        assert_eq!(q.congested_since(), Some(5));

        let mut small = SubscriberQueue::new(cfg(800));
        assert_eq!(small.offer_start(&start, 5), Offer::Queued);
        assert_eq!(small.len(), 2, "GOP skipped, headers kept");
        assert!(small.waiting_for_keyframe());
        assert_eq!(small.offer(mk(InterFrame, 10, 6), 6), Offer::Dropped);
        assert_eq!(small.offer(mk(KeyFrame, 10, 7), 6), Offer::Queued);
        assert_eq!(
            drain_all(&mut small),
            [vec![1u8; 50], vec![2; 50], vec![7; 10]].concat()
        );

        let mut tiny = SubscriberQueue::new(cfg(80));
        assert_eq!(tiny.offer_start(&start, 5), Offer::Overflow);
    }

    #[test]
    fn oldest_enqueued_follows_the_head() {
        use FrameClass::*;
        let mut q = SubscriberQueue::new(cfg(1000));
        assert_eq!(q.oldest_enqueued_ms(), None);
        q.offer(mk(KeyFrame, 10, 1), 100);
        q.offer(mk(Audio, 10, 1), 150);
        assert_eq!(q.oldest_enqueued_ms(), Some(100));
        q.advance(9);
        assert_eq!(q.oldest_enqueued_ms(), Some(100));
        q.advance(1);
        assert_eq!(q.oldest_enqueued_ms(), Some(150));
    }

    // ---- FLV form ----

    fn flv_cfg(budget: usize) -> QueueConfig {
        QueueConfig {
            form: OutputForm::Flv,
            ..cfg(budget)
        }
    }

    /// A real frame of `class` (built by the `Frame` constructors, so it has
    /// its FLV framing) with a payload of `len` bytes of `fill` after the
    /// codec bytes; Control is a pre-encoded frame of `len` bytes.
    fn real(class: FrameClass, len: usize, ts: u32, fill: u8) -> Frame {
        use FrameClass::*;
        let (type_id, head): (u8, &[u8]) = match class {
            KeyFrame => (9, &[0x17, 1]),
            InterFrame => (9, &[0x27, 1]),
            SequenceHeader => (9, &[0x17, 0]),
            Audio => (8, &[0xaf, 1]),
            Metadata => return Frame::metadata(ts, Bytes::from(vec![fill; len]), 4096),
            Data => return Frame::data(ts, Bytes::from(vec![fill; len]), 4096),
            Control => return Frame::control(Bytes::from(vec![fill; len])),
        };
        let mut p = vec![fill; len.max(2)];
        p[..2].copy_from_slice(head);
        let f = Frame::media(type_id, ts, Bytes::from(p), 4096);
        assert_eq!(f.class, class);
        f
    }

    /// A message type the FLV form has no tag for (AMF0 command, 20).
    fn other() -> Frame {
        let f = Frame::media(20, 0, Bytes::from_static(b"\x02\x00\x04test"), 4096);
        assert!(f.flv.is_none() && !f.is_pre_encoded());
        f
    }

    /// What an FLV queue must write for `f`, built by the FLV file writer
    /// (independent of `TagFraming`).
    fn flv_bytes(f: &Frame) -> Vec<u8> {
        if f.is_pre_encoded() {
            return f.wire_bytes().to_vec();
        }
        let mut out = bytes::BytesMut::new();
        crate::proto::flv::write_tag(f.type_id, f.timestamp, &f.payload, &mut out);
        out.to_vec()
    }

    /// Parse FLV tags (no file header): (type, timestamp, data); checks the
    /// stream id and every PreviousTagSize.
    fn parse_tags(mut b: &[u8]) -> Vec<(u8, u32, Vec<u8>)> {
        let mut tags = Vec::new();
        while !b.is_empty() {
            assert!(b.len() >= 15, "truncated tag: {} bytes left", b.len());
            let size = u32::from_be_bytes([0, b[1], b[2], b[3]]) as usize;
            let ts = u32::from_be_bytes([b[7], b[4], b[5], b[6]]);
            assert_eq!(b[8..11], [0, 0, 0], "stream id");
            assert!(b.len() >= 15 + size, "truncated tag data");
            let prev = u32::from_be_bytes(b[11 + size..15 + size].try_into().unwrap());
            assert_eq!(prev as usize, 11 + size, "PreviousTagSize");
            tags.push((b[0], ts, b[11..11 + size].to_vec()));
            b = &b[15 + size..];
        }
        tags
    }

    /// Write everything out in random small writes over random slice counts.
    fn drain_random(q: &mut SubscriberQueue, rng: &mut StdRng) -> Vec<u8> {
        let mut out = Vec::new();
        while !q.is_empty() {
            let mut slices = [IoSlice::new(&[]); 8];
            let k = rng.random_range(1..=8);
            let n = q.io_slices(&mut slices[..k]);
            let avail: usize = slices[..n].iter().map(|s| s.len()).sum();
            let write = if avail == 0 {
                0
            } else {
                rng.random_range(1..=avail.min(40))
            };
            let mut left = write;
            for s in &slices[..n] {
                let take = left.min(s.len());
                out.extend_from_slice(&s[..take]);
                left -= take;
            }
            q.advance(write);
        }
        out
    }

    fn slice_lens(q: &SubscriberQueue, k: usize) -> Vec<usize> {
        let mut slices = [IoSlice::new(&[]); 16];
        let n = q.io_slices(&mut slices[..k]);
        slices[..n].iter().map(|s| s.len()).collect()
    }

    #[test]
    fn flv_form_writes_tags_that_parse_back() {
        use FrameClass::*;
        let http_head = Frame::control(Bytes::from_static(b"HTTP/1.1 200 OK\r\n\r\n"));
        let file_head = Frame::control(crate::http::flv::file_header(true, true));
        let tags = vec![
            real(Metadata, 30, 0, 0x33),
            real(SequenceHeader, 40, 0, 0x44),
            real(KeyFrame, 3000, 40, 0x55),
            real(Audio, 200, 0x00FF_FFFF, 0x66),
            real(InterFrame, 2, 0x0123_4567, 0x77),
            real(Metadata, 0, 0xFFFF_FFFF, 0),
        ];
        for seed in 0..50u64 {
            let mut rng = StdRng::seed_from_u64(seed);
            let mut q = SubscriberQueue::new(flv_cfg(100_000));
            assert_eq!(q.offer(http_head.clone(), 0), Offer::Queued);
            assert_eq!(q.offer(file_head.clone(), 0), Offer::Queued);
            let mut expect_len = http_head.wire_len() + 13;
            for f in &tags {
                assert_eq!(q.offer(f.clone(), 0), Offer::Queued);
                expect_len += 11 + f.payload.len() + 4;
                assert_eq!(q.queued_bytes(), expect_len);
            }
            let out = drain_random(&mut q, &mut rng);
            assert_eq!(out.len(), expect_len);
            assert_eq!(q.queued_bytes(), 0);
            let body = out
                .strip_prefix(&http_head.wire_bytes()[..])
                .expect("head first");
            assert_eq!(
                body[..13],
                file_head.wire_bytes()[..],
                "file header verbatim"
            );
            let parsed = parse_tags(&body[13..]);
            assert_eq!(parsed.len(), tags.len());
            for (p, f) in parsed.iter().zip(&tags) {
                assert_eq!((p.0, p.1), (f.type_id, f.timestamp), "seed {seed}");
                assert!(p.2 == f.payload[..], "seed {seed}: payload differs");
            }
            // and the crate's FLV reader agrees
            let (_, read) = crate::proto::flv::read_all(Bytes::copy_from_slice(body)).unwrap();
            assert_eq!(read.len(), tags.len());
            assert_eq!(read[4].timestamp, 0x0123_4567);
        }
    }

    #[test]
    fn flv_budgets_count_the_tag_length() {
        use FrameClass::*;
        // 100-byte payload: 112 bytes on the RTMP wire (one chunk, 12-byte
        // header), 115 as an FLV tag.
        let key = real(KeyFrame, 100, 0, 1);
        assert_eq!(key.wire_len(), 112);
        let mut rtmp = SubscriberQueue::new(cfg(113));
        let mut flv = SubscriberQueue::new(flv_cfg(113));
        assert_eq!(rtmp.offer(key.clone(), 0), Offer::Queued);
        assert_eq!(flv.offer(key.clone(), 7), Offer::Dropped);
        assert_eq!((flv.dropped_frames(), flv.dropped_bytes()), (1, 115));
        assert!(flv.waiting_for_keyframe());
        assert_eq!(flv.congested_since(), Some(7));
        // a must-admit frame overflows instead
        let seq = real(SequenceHeader, 100, 0, 2);
        assert_eq!(
            SubscriberQueue::new(cfg(113)).offer(seq.clone(), 0),
            Offer::Queued
        );
        assert_eq!(flv.offer(seq, 8), Offer::Overflow);
        assert_eq!(flv.dropped_bytes(), 230);
        // exactly the tag length fits
        let mut flv = SubscriberQueue::new(flv_cfg(115));
        assert_eq!(flv.offer(key.clone(), 0), Offer::Queued);
        assert_eq!(flv.queued_bytes(), 115);
        assert_eq!(flv.congested_since(), Some(0), "over the 75% threshold");
        flv.advance(115);
        assert!(flv.is_empty());
        assert_eq!(flv.congested_since(), None);

        // the per-class thresholds too: audio up to 90% of 1000
        let audio = real(Audio, 886, 0, 3);
        assert_eq!(audio.wire_len(), 898);
        let mut rtmp = SubscriberQueue::new(cfg(1000));
        let mut flv = SubscriberQueue::new(flv_cfg(1000));
        assert_eq!(rtmp.offer(audio.clone(), 0), Offer::Queued);
        assert_eq!(flv.offer(audio.clone(), 0), Offer::Dropped);
        assert_eq!((flv.dropped_frames(), flv.dropped_bytes()), (1, 901));
        assert_eq!(flv.offer(real(Audio, 885, 0, 3), 0), Offer::Queued);
        assert_eq!(flv.queued_bytes(), 900);
    }

    #[test]
    fn flv_offer_start_counts_the_tag_length() {
        use FrameClass::*;
        let start = vec![
            real(Metadata, 50, 0, 1),
            other(),
            real(SequenceHeader, 50, 0, 2),
            real(KeyFrame, 500, 0, 3),
            other(),
            real(InterFrame, 200, 40, 4),
        ];
        let head_bytes = 65 + 65;
        let gop_bytes = 515 + 215;
        // exactly enough: everything but the two skipped frames
        let mut q = SubscriberQueue::new(flv_cfg(head_bytes + gop_bytes));
        assert_eq!(q.offer_start(&start, 0), Offer::Queued);
        assert_eq!(q.len(), 4);
        assert_eq!(q.queued_bytes(), head_bytes + gop_bytes);
        assert_eq!(q.dropped_frames(), 0);
        let tags = parse_tags(&drain_all(&mut q));
        let types: Vec<u8> = tags.iter().map(|t| t.0).collect();
        assert_eq!(types, [18, 9, 9, 9]);
        // one byte short: the GOP waits for the next keyframe
        let mut q = SubscriberQueue::new(flv_cfg(head_bytes + gop_bytes - 1));
        assert_eq!(q.offer_start(&start, 0), Offer::Queued);
        assert_eq!(q.len(), 2);
        assert!(q.waiting_for_keyframe());
        // the RTMP form counts wire bytes and queues the command frames too
        let rtmp_bytes: usize = start.iter().map(|f| f.wire_len()).sum();
        assert_ne!(rtmp_bytes, head_bytes + gop_bytes);
        let mut q = SubscriberQueue::new(cfg(rtmp_bytes));
        assert_eq!(q.offer_start(&start, 0), Offer::Queued);
        assert_eq!(q.len(), 6);
        // a header that does not fit overflows
        let mut q = SubscriberQueue::new(flv_cfg(100));
        assert_eq!(q.offer_start(&start, 0), Offer::Overflow);
    }

    #[test]
    fn flv_control_frames_pass_verbatim_and_other_types_are_skipped() {
        let mut q = SubscriberQueue::new(flv_cfg(1000));
        assert_eq!(q.offer(other(), 0), Offer::Dropped);
        assert_eq!(
            (
                q.len(),
                q.queued_bytes(),
                q.dropped_frames(),
                q.dropped_bytes()
            ),
            (0, 0, 0, 0),
            "skipped, not counted"
        );
        assert_eq!(q.congested_since(), None);
        // the RTMP form queues it (class Control)
        let mut r = SubscriberQueue::new(cfg(1000));
        assert_eq!(r.offer(other(), 0), Offer::Queued);

        let wire = Bytes::from_static(b"HTTP/1.1 200 OK\r\nContent-Type: video/x-flv\r\n\r\n");
        let ctl = Frame::control(wire.clone());
        assert_eq!(q.offer(ctl, 0), Offer::Queued);
        assert_eq!(q.queued_bytes(), wire.len());
        let key = real(FrameClass::KeyFrame, 20, 0, 9);
        assert_eq!(q.offer(key.clone(), 0), Offer::Queued);
        assert_eq!(q.offer(other(), 0), Offer::Dropped);
        let end = Frame::control(Bytes::from_static(b"0\r\n\r\n"));
        assert_eq!(q.offer(end.clone(), 0), Offer::Queued);
        {
            let mut slices = [IoSlice::new(&[]); 8];
            assert_eq!(q.io_slices(&mut slices), 5);
            assert_eq!(slices[0].as_ptr(), wire.as_ptr(), "the wire itself");
            assert_eq!(&*slices[0], &wire[..]);
            assert_eq!(&*slices[4], &end.wire_bytes()[..]);
        }
        let out = drain_all(&mut q);
        let expect = [wire.to_vec(), flv_bytes(&key), end.wire_bytes().to_vec()].concat();
        assert_eq!(out, expect);
        assert_eq!(q.dropped_frames(), 0);
    }

    #[test]
    fn flv_partial_writes_across_header_payload_and_trailer() {
        use FrameClass::*;
        let key = real(KeyFrame, 10, 0x0A0B_0C0D, 7);
        let audio = real(Audio, 3, 5, 8);
        let mut q = SubscriberQueue::new(flv_cfg(1000));
        q.offer(key.clone(), 0);
        q.offer(audio.clone(), 0);
        assert_eq!(q.queued_bytes(), 25 + 18);
        assert_eq!(slice_lens(&q, 16), [11, 10, 4, 11, 3, 4]);
        assert_eq!(slice_lens(&q, 2), [11, 10], "dst length respected");
        q.advance(5); // inside the header
        assert_eq!(slice_lens(&q, 16), [6, 10, 4, 11, 3, 4]);
        q.advance(6); // header done
        assert_eq!(slice_lens(&q, 16), [10, 4, 11, 3, 4]);
        q.advance(3); // inside the payload
        {
            let mut slices = [IoSlice::new(&[]); 16];
            let n = q.io_slices(&mut slices);
            assert_eq!(n, 5);
            assert_eq!(slices[0].as_ptr(), key.payload[3..].as_ptr());
            assert_eq!(&*slices[0], &key.payload[3..]);
        }
        q.advance(7); // payload done
        assert_eq!(slice_lens(&q, 16), [4, 11, 3, 4]);
        q.advance(2); // inside the trailer
        assert_eq!(slice_lens(&q, 1), [2]);
        assert_eq!(q.len(), 2);
        q.advance(2); // first tag done
        assert_eq!(q.len(), 1);
        assert_eq!(q.queued_bytes(), 18);
        q.advance(12); // across the second header into its payload
        assert_eq!(slice_lens(&q, 16), [2, 4]);
        q.advance(6);
        assert!(q.is_empty());

        // every cut point gives exactly the rest of the bytes
        let all = [flv_bytes(&key), flv_bytes(&audio)].concat();
        for cut in 0..=all.len() {
            let mut q = SubscriberQueue::new(flv_cfg(1000));
            q.offer(key.clone(), 0);
            q.offer(audio.clone(), 0);
            q.advance(cut);
            assert_eq!(q.queued_bytes(), all.len() - cut);
            assert_eq!(drain_all(&mut q), &all[cut..], "cut {cut}");
        }

        // an empty payload: header and trailer only
        let mut q = SubscriberQueue::new(flv_cfg(1000));
        q.offer(real(Metadata, 0, 0, 0), 0);
        assert_eq!(slice_lens(&q, 16), [11, 4]);
        q.advance(11);
        assert_eq!(slice_lens(&q, 16), [4]);
    }

    #[test]
    fn flv_payload_is_lent_not_copied() {
        let frame = real(FrameClass::KeyFrame, 4000, 80, 0x5a);
        let mut queues: Vec<SubscriberQueue> = (0..3)
            .map(|_| SubscriberQueue::new(flv_cfg(10_000)))
            .collect();
        for q in &mut queues {
            assert_eq!(q.offer(frame.clone(), 0), Offer::Queued);
        }
        for q in &queues {
            let mut slices = [IoSlice::new(&[]); 4];
            assert_eq!(q.io_slices(&mut slices), 3);
            assert_eq!(slices[1].as_ptr(), frame.payload.as_ptr());
            assert_eq!(slices[1].len(), frame.payload.len());
            assert_eq!(&*slices[0], frame.flv.unwrap().header());
            assert_eq!(&*slices[2], frame.flv.unwrap().trailer());
        }
    }

    #[test]
    fn flv_random_frames_and_writes_reassemble_the_admitted_tags() {
        use FrameClass::*;
        let classes = [
            Control,
            Metadata,
            SequenceHeader,
            KeyFrame,
            Audio,
            InterFrame,
        ];
        for seed in 0..200u64 {
            let mut rng = StdRng::seed_from_u64(seed);
            let budget = rng.random_range(500..20_000);
            let qcfg = QueueConfig {
                max_frames: rng.random_range(2..64),
                ..cfg(budget)
            };
            // both forms fed the same frames
            let mut flv = SubscriberQueue::new(QueueConfig {
                form: OutputForm::Flv,
                ..qcfg.clone()
            });
            let mut rtmp = SubscriberQueue::new(qcfg);
            let (mut expect_flv, mut got_flv) = (Vec::new(), Vec::new());
            let (mut expect_rtmp, mut got_rtmp) = (Vec::new(), Vec::new());
            for step in 0..400u64 {
                if rng.random_bool(0.5) {
                    let frame = if rng.random_ratio(1, 10) {
                        other()
                    } else {
                        let class = classes[rng.random_range(0..classes.len())];
                        let len = rng.random_range(0..2000);
                        let ts = if rng.random_bool(0.2) {
                            rng.random()
                        } else {
                            rng.random_range(0..0x0100_0000)
                        };
                        real(class, len, ts, rng.random())
                    };
                    let skipped = frame.flv.is_none() && !frame.is_pre_encoded();
                    let dropped_before = flv.dropped_frames();
                    let before = flv.queued_bytes();
                    match flv.offer(frame.clone(), step) {
                        Offer::Queued => {
                            assert!(!skipped, "seed {seed}");
                            expect_flv.extend(flv_bytes(&frame));
                        }
                        _ => assert_eq!(flv.queued_bytes(), before, "seed {seed}"),
                    }
                    if skipped {
                        assert_eq!(flv.dropped_frames(), dropped_before, "seed {seed}");
                    }
                    if rtmp.offer(frame.clone(), step) == Offer::Queued {
                        expect_rtmp.extend_from_slice(&frame.wire_bytes());
                    }
                } else {
                    for (q, got) in [(&mut flv, &mut got_flv), (&mut rtmp, &mut got_rtmp)] {
                        let mut slices = [IoSlice::new(&[]); 8];
                        let k = rng.random_range(1..=8);
                        let n = q.io_slices(&mut slices[..k]);
                        let avail: usize = slices[..n].iter().map(|s| s.len()).sum();
                        let write = rng.random_range(0..=avail);
                        let mut left = write;
                        for s in &slices[..n] {
                            let take = left.min(s.len());
                            got.extend_from_slice(&s[..take]);
                            left -= take;
                        }
                        q.advance(write);
                    }
                }
                assert!(flv.queued_bytes() <= budget, "seed {seed}");
                assert_eq!(
                    flv.queued_bytes(),
                    expect_flv.len() - got_flv.len(),
                    "seed {seed} step {step}"
                );
                assert_eq!(
                    rtmp.queued_bytes(),
                    expect_rtmp.len() - got_rtmp.len(),
                    "seed {seed} step {step}"
                );
            }
            got_flv.extend(drain_all(&mut flv));
            got_rtmp.extend(drain_all(&mut rtmp));
            assert!(got_flv == expect_flv, "seed {seed}: FLV bytes differ");
            assert!(got_rtmp == expect_rtmp, "seed {seed}: RTMP bytes differ");
        }
    }
}
