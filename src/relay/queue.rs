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
//! Admission (`queued` = unwritten bytes already queued, `len` = the frame's
//! wire length, `budget` = [`QueueConfig::byte_budget`]):
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
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            byte_budget: crate::config::Config::default().subscriber_budget_bytes,
            max_frames: 4096,
            key_pct: 100,
            audio_pct: 90,
            inter_pct: 75,
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
    /// congestion clock and [`SubscriberQueue::oldest_enqueued_ms`].
    pub fn offer(&mut self, frame: Frame, now_ms: u64) -> Offer {
        let len = frame.wire.len();
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
                self.push(frame, now_ms);
                self.settle(now_ms);
                return Offer::Queued;
            }
            FrameClass::KeyFrame => self.key_limit,
            FrameClass::Audio => self.audio_limit,
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
            return self.threshold_drop(&frame, now_ms);
        }
        if frame.class == FrameClass::KeyFrame {
            self.wait_key = false;
            self.started = true;
        }
        self.last_dropped = false;
        self.push(frame, now_ms);
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
    /// the viewer starts at the next live keyframe (still `Queued`).
    pub fn offer_start(&mut self, frames: &[Frame], now_ms: u64) -> Offer {
        let split = frames
            .iter()
            .position(|f| f.class == FrameClass::KeyFrame)
            .unwrap_or(frames.len());
        let (head, gop) = frames.split_at(split);
        for f in head {
            let len = f.wire.len();
            if self.ring.len() >= self.cfg.max_frames
                || self.queued.saturating_add(len) > self.cfg.byte_budget
            {
                self.count_drop(len);
                self.mark_congested(now_ms);
                return Offer::Overflow;
            }
            self.push(f.clone(), now_ms);
        }
        if !gop.is_empty() {
            let gop_bytes: usize = gop.iter().map(|f| f.wire.len()).sum();
            let fits = self.ring.len() + gop.len() <= self.cfg.max_frames
                && self.queued.saturating_add(gop_bytes) <= self.cfg.byte_budget;
            if fits {
                for f in gop {
                    self.push(f.clone(), now_ms);
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

    fn push(&mut self, frame: Frame, at_ms: u64) {
        self.queued += frame.wire.len();
        self.ring.push_back(Entry { frame, at_ms });
    }

    fn count_drop(&mut self, len: usize) {
        self.dropped_frames += 1;
        self.dropped_bytes += len as u64;
    }

    fn threshold_drop(&mut self, frame: &Frame, now_ms: u64) -> Offer {
        self.count_drop(frame.wire.len());
        if frame.is_video() {
            self.wait_key = true;
        }
        self.last_dropped = true;
        self.mark_congested(now_ms);
        log::trace!(
            "queue drop: class {:?} len {} queued {}",
            frame.class,
            frame.wire.len(),
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

    /// Like `bytes::Buf::chunks_vectored`: fill `dst` with the unwritten wire
    /// bytes of the queued frames in order (head from its offset); returns the
    /// number of slices filled.
    pub fn io_slices<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        let mut offset = self.head_offset;
        for entry in &self.ring {
            if n == dst.len() {
                break;
            }
            let rest = &entry.frame.wire[offset..];
            offset = 0;
            if rest.is_empty() {
                continue;
            }
            dst[n] = IoSlice::new(rest);
            n += 1;
        }
        n
    }

    /// `n` bytes were written: pop finished frames, move the head offset.
    /// `n` larger than [`SubscriberQueue::queued_bytes`] is a caller bug
    /// (debug assertion); in release the queue is emptied.
    pub fn advance(&mut self, mut n: usize) {
        debug_assert!(n <= self.queued, "advance {} > queued {}", n, self.queued);
        while let Some(head) = self.ring.front() {
            let rest = head.frame.wire.len() - self.head_offset;
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
    use bytes::Bytes;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// A frame whose wire is `len` bytes of `tag` (the queue only looks at
    /// class, type and wire length).
    fn mk(class: FrameClass, len: usize, tag: u8) -> Frame {
        let type_id = match class {
            FrameClass::Audio => 8,
            FrameClass::KeyFrame | FrameClass::InterFrame => 9,
            FrameClass::Metadata => 18,
            FrameClass::SequenceHeader => 9,
            FrameClass::Control => 0,
        };
        Frame {
            class,
            timestamp: 0,
            type_id,
            payload: Bytes::new(),
            wire: Bytes::from(vec![tag; len]),
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
        key.wire = Bytes::from(head.clone());
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
                    f.wire = Bytes::from(wire.clone());
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
}
