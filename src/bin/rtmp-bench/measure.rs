//! What a run measures against: the published messages, each publisher's
//! and subscriber's counters, and how media is matched.

use std::time::{Duration, Instant};

use bytes::Bytes;
use rtmp_edge::proto::flv::{self, FlvTag, VideoPacket, TAG_AUDIO, TAG_VIDEO};
use rtmp_edge::proto::session::MediaKind;

/// Where steady-state latency starts, counted from a subscriber's connect.
pub const STEADY_AFTER: Duration = Duration::from_secs(3);

/// One message published: when and at which position in its stream.
#[derive(Clone, Copy)]
pub struct Sent {
    pub at: Instant,
    pub seq: u64,
    pub len: usize,
}

pub struct Pub {
    pub id: Option<usize>,
    pub stream: usize,
    pub started: bool,
    pub failed: bool,
    pub meta_sent: bool,
    pub next: usize,
    pub offset_ms: u64,
    /// Messages published so far, per kind (audio, video).
    pub published: [u64; 2],
    /// Per kind: payload bytes of all frames published before frame `seq`.
    pub bytes_before: [Vec<u64>; 2],
    pub bytes_total: [u64; 2],
}

#[derive(Default)]
pub struct Sub {
    pub stream: usize,
    /// Index of the server it plays from (`--sub-url`, or `--url`).
    pub target: usize,
    pub connect_at: Option<Instant>,
    pub started: bool,
    pub failed: bool,
    /// Per kind (audio, video): position of the first message received
    /// that was matched to a published one, and how many were matched.
    pub first_seq: [Option<u64>; 2],
    /// Per kind: frames its stream had published when it connected.
    pub connect_seq: [u64; 2],
    pub matched: [u64; 2],
    pub messages: u64,
    pub payload_bytes: u64,
    pub startup: Option<Duration>,
}

impl Sub {
    /// Frames its stream published that it did not get, counted from the
    /// first frame of each kind it got (servers start video at a key
    /// frame), or from its connect if none came, to the end of publishing.
    pub fn missing(&self, pubs: &[Pub]) -> u64 {
        (0..2)
            .map(|k| {
                let first = self.first_seq[k].unwrap_or(self.connect_seq[k]);
                let expected = pubs[self.stream].published[k].saturating_sub(first);
                expected.saturating_sub(self.matched[k])
            })
            .sum()
    }

    /// Frame payload it should have got over the same span.
    pub fn expected_bytes(&self, pubs: &[Pub]) -> u64 {
        let p = &pubs[self.stream];
        (0..2)
            .map(|k| {
                let first = self.first_seq[k].unwrap_or(self.connect_seq[k]) as usize;
                let before = p.bytes_before[k].get(first).copied();
                p.bytes_total[k] - before.unwrap_or(p.bytes_total[k])
            })
            .sum()
    }
}

/// The file's audio/video tags, without end-of-sequence packets (the file
/// is looped: the stream must not end at each wrap).
pub fn media_of(tags: &[FlvTag]) -> Vec<(MediaKind, u32, Bytes)> {
    tags.iter()
        .filter(|t| {
            t.tag_type != TAG_VIDEO
                || flv::classify_video(&t.data).map(|i| i.packet) != Some(VideoPacket::SequenceEnd)
        })
        .filter_map(|t| match t.tag_type {
            TAG_AUDIO => Some((MediaKind::Audio, t.timestamp, t.data.clone())),
            TAG_VIDEO => Some((MediaKind::Video, t.timestamp, t.data.clone())),
            _ => None,
        })
        .collect()
}

pub fn kind_code(k: MediaKind) -> u8 {
    match k {
        MediaKind::Audio => 0,
        MediaKind::Video => 1,
    }
}

pub fn is_keyframe(payload: &[u8]) -> bool {
    flv::classify_video(payload).is_some_and(|i| i.keyframe && i.packet == VideoPacket::Frame)
}

/// A coded audio/video frame (not a sequence header or end of sequence).
pub fn is_frame(kind: MediaKind, payload: &[u8]) -> bool {
    match kind {
        MediaKind::Video => {
            flv::classify_video(payload).is_some_and(|i| i.packet == VideoPacket::Frame)
        }
        MediaKind::Audio => flv::classify_audio(payload).is_some_and(|i| !i.sequence_header),
    }
}

/// Bytes received by all subscribers, sampled once a second over the
/// measurement window (and at its end): the delivered bitrate per second.
pub struct Rate {
    /// (time into the window, bytes received so far).
    samples: Vec<(Duration, u64)>,
    done: bool,
}

impl Rate {
    pub fn new() -> Rate {
        Rate {
            samples: vec![(Duration::ZERO, 0)],
            done: false,
        }
    }

    /// Whether a sample is due `t` into the window (`last`: it ends now).
    pub fn due(&self, t: Duration, last: bool) -> bool {
        !self.done && (last || t >= Duration::from_secs(self.samples.len() as u64))
    }

    /// Record `bytes` received so far, `t` into the window. The last
    /// sample (at its end) is kept unless it comes within 200 ms of the one before.
    pub fn record(&mut self, t: Duration, bytes: u64, last: bool) {
        self.done |= last;
        let prev = self.samples.last().map_or(Duration::ZERO, |s| s.0);
        if !last || t.saturating_sub(prev) >= Duration::from_millis(200) {
            self.samples.push((t, bytes));
        }
    }

    /// Mbit/s over each interval between samples, at the interval's end (s).
    pub fn mbps(&self) -> Vec<(f64, f64)> {
        self.samples
            .windows(2)
            .map(|w| {
                let secs = (w[1].0 - w[0].0).as_secs_f64().max(1e-3);
                let bits = w[1].1.saturating_sub(w[0].1) as f64 * 8.0;
                (w[1].0.as_secs_f64(), bits / 1e6 / secs)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_is_sampled_each_second_and_at_the_end() {
        let mut r = Rate::new();
        let ms = Duration::from_millis;
        assert!(!r.due(ms(999), false));
        assert!(r.due(ms(1005), false));
        r.record(ms(1000), 1_000_000, false);
        assert!(!r.due(ms(1500), false));
        r.record(ms(2000), 3_000_000, false);
        // The window ends 2.5 s in: a last, shorter interval.
        assert!(r.due(ms(2500), true));
        r.record(ms(2500), 3_500_000, true);
        assert!(!r.due(ms(3000), false) && !r.due(ms(3000), true));
        assert_eq!(r.mbps(), [(1.0, 8.0), (2.0, 16.0), (2.5, 8.0)]);
        // An end right after a second's sample adds nothing.
        let mut r = Rate::new();
        r.record(ms(1000), 1_000_000, false);
        r.record(ms(1100), 1_200_000, true);
        assert_eq!(r.mbps(), [(1.0, 8.0)]);
    }
}
