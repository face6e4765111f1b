//! Cutting one recording into segments, each a complete FLV file.
//!
//! A [`Segmenter`] owns the current segment's [`FlvRecording`] and opens
//! the next one through a callback, on the recorder thread.
//!
//! # Rules
//!
//! * Cut points: with a `segment_ms` limit, the first video keyframe whose
//!   timestamp is `segment_ms` or more past the segment's first timestamp;
//!   with a `segment_bytes` limit, the first keyframe once the segment holds
//!   that many bytes. A recording that has shown no picture yet (audio
//!   only) cuts at the first audio frame past the limit instead. 0 means no
//!   limit; with both at 0 the recording is one file.
//! * At a cut the next file opens first; it gets the stream's latest
//!   `onMetaData` (ts 0), every cached sequence header (the latest one per
//!   media type, packet kind and set of tracks, legacy or Enhanced RTMP,
//!   at ts 0) and then the cutting frame, which becomes its timestamp 0.
//!   Only then is the previous file finalized, with `duration` = the cutting
//!   frame's timestamp minus its own first one (so its last frame's
//!   duration is included) and its `filesize`. Every frame goes to exactly
//!   one segment.
//! * The last segment ([`Segmenter::finish`]) gets `duration` = its last
//!   timestamp, as an unsegmented recording always did.
//! * If the next file cannot be opened, the current one goes on (one
//!   `warn!` per failure streak) and the next cut point tries again.

use bytes::Bytes;
use log::warn;
use std::io::{self, Seek, Write};
use std::path::{Path, PathBuf};

use super::template::DEFAULT_TEMPLATE;
use super::writer::{rebase, FlvRecording};
use super::FrameKind;
use crate::proto::flv;
use crate::proto::flv::tracks::{self, AvKind, Packet};

/// Sequence headers cached for the next segments (multitrack needs > 2).
const MAX_HEADERS: usize = 16;

/// How one recording is named and cut (resolved per application).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordPlan {
    /// Cut at the first keyframe this many ms into a segment (0: never).
    pub segment_ms: u64,
    /// Cut at the first keyframe once a segment holds this many bytes (0: never).
    pub segment_bytes: u64,
    /// The path template (see [`super::template`]).
    pub path: String,
}

impl Default for RecordPlan {
    fn default() -> Self {
        RecordPlan {
            segment_ms: 0,
            segment_bytes: 0,
            path: DEFAULT_TEMPLATE.to_owned(),
        }
    }
}

/// Opens segment `seq` starting `offset_ms` of media time after the
/// recording's first frame: its path and sink.
pub type OpenSegment<W> = Box<dyn FnMut(u64, u32) -> io::Result<(PathBuf, W)> + Send>;

/// A finalized segment.
#[derive(Debug)]
pub struct SegmentDone<W> {
    pub path: PathBuf,
    pub bytes: u64,
    pub duration_ms: u32,
    /// The closed file's sink (for an fsync).
    pub sink: W,
}

/// One recording as a series of FLV files. See the module rules.
pub struct Segmenter<W: Write + Seek> {
    plan_ms: u64,
    plan_bytes: u64,
    open: OpenSegment<W>,
    cur: FlvRecording<W>,
    path: PathBuf,
    seq: u64,
    meta: Option<Bytes>,
    /// (key, type id, payload) of the latest header per key, in arrival order.
    headers: Vec<(Vec<u8>, u8, Bytes)>,
    seen_picture: bool,
    /// Timestamp of the recording's first frame.
    first: Option<u32>,
    /// Bytes of the finished segments.
    done_bytes: u64,
    open_failed: bool,
}

impl<W: Write + Seek> Segmenter<W> {
    /// Opens segment 0.
    pub fn new(plan: &RecordPlan, mut open: OpenSegment<W>) -> io::Result<Self> {
        let (path, sink) = open(0, 0)?;
        Ok(Segmenter {
            plan_ms: plan.segment_ms,
            plan_bytes: plan.segment_bytes,
            open,
            cur: FlvRecording::new(sink),
            path,
            seq: 0,
            meta: None,
            headers: Vec::new(),
            seen_picture: false,
            first: None,
            done_bytes: 0,
            open_failed: false,
        })
    }

    /// The publisher's `onMetaData` body (the latest opens later segments).
    pub fn metadata(&mut self, timestamp: u32, body: Bytes) -> io::Result<()> {
        self.meta = Some(body.clone());
        self.cur.metadata(timestamp, body)
    }

    /// One audio, video or data message; returns the segment it finalized,
    /// if it started a new one.
    pub fn frame(
        &mut self,
        type_id: u8,
        kind: FrameKind,
        timestamp: u32,
        payload: &Bytes,
    ) -> io::Result<Option<SegmentDone<W>>> {
        match kind {
            FrameKind::SequenceHeader => self.remember_header(type_id, payload),
            FrameKind::Keyframe | FrameKind::Video => self.seen_picture = true,
            _ => {}
        }
        if !self.cut_due(type_id, kind, timestamp) {
            self.cur.frame(type_id, kind, timestamp, payload)?;
            if self.first.is_none() {
                self.first = self.cur.base();
            }
            return Ok(None);
        }
        let offset = rebase(timestamp, self.first.unwrap_or(timestamp));
        let (path, sink) = match (self.open)(self.seq + 1, offset) {
            Ok(opened) => opened,
            Err(e) => {
                if !self.open_failed {
                    warn!(
                        "recorder: next segment after {} not opened ({e}); the current one goes on",
                        self.path.display()
                    );
                }
                self.open_failed = true;
                self.cur.frame(type_id, kind, timestamp, payload)?;
                return Ok(None);
            }
        };
        self.open_failed = false;
        let mut next = FlvRecording::new(sink);
        if let Some(meta) = &self.meta {
            next.metadata(timestamp, meta.clone())?;
        }
        for (_, t, p) in &self.headers {
            next.frame(*t, FrameKind::SequenceHeader, timestamp, p)?;
        }
        next.frame(type_id, kind, timestamp, payload)?;
        let old = std::mem::replace(&mut self.cur, next);
        let old_path = std::mem::replace(&mut self.path, path);
        self.seq += 1;
        let duration_ms = rebase(timestamp, old.base().unwrap_or(timestamp));
        let done = close(old, old_path, duration_ms)?;
        self.done_bytes += done.bytes;
        Ok(Some(done))
    }

    /// Finalizes the current (last) segment.
    pub fn finish(self) -> io::Result<SegmentDone<W>> {
        let duration_ms = self.cur.last_timestamp();
        close(self.cur, self.path, duration_ms)
    }

    /// Hands every buffered byte of the current segment to its sink.
    pub fn flush(&mut self) -> io::Result<()> {
        self.cur.flush()
    }

    /// The current segment's sink.
    pub fn sink_mut(&mut self) -> &mut W {
        self.cur.sink_mut()
    }

    /// The current segment's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The current segment's number (from 0).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Bytes of the current segment so far.
    pub fn segment_bytes(&self) -> u64 {
        self.cur.bytes_written()
    }

    /// Bytes of every segment so far.
    pub fn total_bytes(&self) -> u64 {
        self.done_bytes + self.cur.bytes_written()
    }

    fn cut_due(&self, type_id: u8, kind: FrameKind, timestamp: u32) -> bool {
        let Some(base) = self.cur.base() else {
            return false;
        };
        let point = if self.seen_picture {
            kind == FrameKind::Keyframe
        } else {
            type_id == flv::TAG_AUDIO && kind == FrameKind::Audio
        };
        point
            && ((self.plan_ms > 0 && u64::from(rebase(timestamp, base)) >= self.plan_ms)
                || (self.plan_bytes > 0 && self.cur.bytes_written() >= self.plan_bytes))
    }

    fn remember_header(&mut self, type_id: u8, payload: &Bytes) {
        let key = header_key(type_id, payload);
        if let Some(i) = self.headers.iter().position(|(k, _, _)| *k == key) {
            self.headers.remove(i);
        } else if self.headers.len() == MAX_HEADERS {
            self.headers.remove(0);
        }
        self.headers.push((key, type_id, payload.clone()));
    }
}

/// Finalizes `rec` with its `duration_ms` into the record of the file at
/// `path`; its length is read after finalizing (a file without pictures
/// gets its preamble only then).
fn close<W: Write + Seek>(
    rec: FlvRecording<W>,
    path: PathBuf,
    duration_ms: u32,
) -> io::Result<SegmentDone<W>> {
    let mut sink = rec.finalize_with(Some(duration_ms))?;
    let bytes = sink.stream_position()?;
    Ok(SegmentDone {
        path,
        bytes,
        duration_ms,
        sink,
    })
}

/// What a sequence header configures: media type, packet kind (sequence
/// start or per-track config) and the tracks with their FourCCs. A newer
/// header with the same key supersedes the older one.
fn header_key(type_id: u8, payload: &[u8]) -> Vec<u8> {
    let kind = if type_id == flv::TAG_VIDEO {
        AvKind::Video
    } else {
        AvKind::Audio
    };
    let mut key = vec![type_id];
    if let Some(h) = tracks::parse(kind, payload) {
        key.push(u8::from(h.packet == Packet::Config));
        for part in h.tracks(payload).flatten() {
            key.push(part.track);
            key.extend_from_slice(&part.fourcc.unwrap_or_default());
        }
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;
    use std::sync::{Arc, Mutex};

    type Files = Arc<Mutex<Vec<(u64, u32)>>>;

    /// A segmenter over in-memory files; `opened` logs (seq, offset_ms).
    fn segmenter(plan: RecordPlan) -> (Segmenter<Cursor<Vec<u8>>>, Files) {
        let opened: Files = Arc::default();
        let log = Arc::clone(&opened);
        let open: OpenSegment<Cursor<Vec<u8>>> = Box::new(move |seq, offset| {
            log.lock().unwrap().push((seq, offset));
            Ok((
                PathBuf::from(format!("seg-{seq}.flv")),
                Cursor::new(Vec::new()),
            ))
        });
        (Segmenter::new(&plan, open).unwrap(), opened)
    }

    fn plan(ms: u64, bytes: u64) -> RecordPlan {
        RecordPlan {
            segment_ms: ms,
            segment_bytes: bytes,
            ..RecordPlan::default()
        }
    }

    const AVC_SEQ: &[u8] = &[0x17, 0x00, 0, 0, 0, 1, 0x64];
    const AVC_SEQ2: &[u8] = &[0x17, 0x00, 0, 0, 0, 2, 0x64];
    const AAC_SEQ: &[u8] = &[0xAF, 0x00, 0x12, 0x10];
    /// Enhanced RTMP v2: a track-1 OneTrack HEVC SequenceStart.
    const TRACK1_SEQ: &[u8] = b"\x96\x00hvc1\x01cfg";

    /// A media frame: key/inter picture numbered `n`, or an audio frame.
    fn picture(key: bool, n: u32) -> Bytes {
        let mut v = vec![if key { 0x17 } else { 0x27 }, 0x01, 0, 0, 0];
        v.extend_from_slice(&n.to_be_bytes());
        v.resize(200, 0xAB);
        Bytes::from(v)
    }

    fn sound(n: u32) -> Bytes {
        let mut v = vec![0xAF, 0x01];
        v.extend_from_slice(&n.to_be_bytes());
        Bytes::from(v)
    }

    fn classify(type_id: u8, p: &Bytes) -> FrameKind {
        FrameKind::classify(type_id, p).unwrap()
    }

    /// Feeds (type, ts, payload) and collects each finished file's tags.
    fn run(
        s: &mut Segmenter<Cursor<Vec<u8>>>,
        frames: &[(u8, u32, Bytes)],
    ) -> Vec<(SegmentDone<()>, Vec<flv::FlvTag>)> {
        let mut out = Vec::new();
        let mut take = |d: SegmentDone<Cursor<Vec<u8>>>| {
            let (_, tags) = flv::read_all(Bytes::from(d.sink.into_inner())).unwrap();
            let d = SegmentDone {
                path: d.path,
                bytes: d.bytes,
                duration_ms: d.duration_ms,
                sink: (),
            };
            out.push((d, tags));
        };
        for (t, ts, p) in frames {
            if let Some(done) = s.frame(*t, classify(*t, p), *ts, p).unwrap() {
                take(done);
            }
        }
        out
    }

    fn duration_of(script: &flv::FlvTag) -> f64 {
        let off = flv::find_number_property(&script.data, "duration").unwrap();
        f64::from_be_bytes(script.data[off..off + 8].try_into().unwrap())
    }

    /// 10 s of 25 fps video (1 s GOP) and audio every 20 ms from ts 1000;
    /// the headers arrive first, a second AVC header at 3 s.
    fn av_stream() -> Vec<(u8, u32, Bytes)> {
        let mut f = vec![
            (9, 1000, Bytes::from_static(AVC_SEQ)),
            (8, 1000, Bytes::from_static(AAC_SEQ)),
            (9, 1000, Bytes::from_static(TRACK1_SEQ)),
        ];
        for i in 0..250u32 {
            let ts = 1000 + i * 40;
            if i == 75 {
                f.push((9, ts, Bytes::from_static(AVC_SEQ2)));
            }
            f.push((9, ts, picture(i % 25 == 0, i)));
            f.push((8, ts, sound(2 * i)));
            f.push((8, ts + 20, sound(2 * i + 1)));
        }
        f
    }

    #[test]
    fn cuts_at_keyframes_with_rebased_timestamps_and_repeated_headers() {
        let (mut s, opened) = segmenter(plan(4000, 0));
        s.metadata(
            1000,
            Bytes::from_static(b"\x02\x00\x0aonMetaData\x08\0\0\0\0\0\0\x09"),
        )
        .unwrap();
        let sent = av_stream();
        let mut files = run(&mut s, &sent);
        let last = s.finish().unwrap();
        let (_, tags) = flv::read_all(Bytes::from(last.sink.into_inner())).unwrap();
        files.push((
            SegmentDone {
                path: last.path,
                bytes: last.bytes,
                duration_ms: last.duration_ms,
                sink: (),
            },
            tags,
        ));
        // Cut at the keyframes at 4 s and 8 s of media time.
        assert_eq!(*opened.lock().unwrap(), [(0, 0), (1, 4000), (2, 8000)]);
        let durations: Vec<u32> = files.iter().map(|(d, _)| d.duration_ms).collect();
        assert_eq!(durations, [4000, 4000, 1980]);
        let mut media = Vec::new();
        for (n, (done, tags)) in files.iter().enumerate() {
            assert_eq!(done.path, PathBuf::from(format!("seg-{n}.flv")));
            assert_eq!(tags[0].tag_type, flv::TAG_SCRIPT);
            assert_eq!(duration_of(&tags[0]), f64::from(done.duration_ms) / 1000.0);
            // The headers (latest per track) at ts 0, then a keyframe at 0.
            let want: Vec<&[u8]> = match n {
                0 => vec![AVC_SEQ, AAC_SEQ, TRACK1_SEQ],
                _ => vec![AAC_SEQ, TRACK1_SEQ, AVC_SEQ2],
            };
            let heads: Vec<&[u8]> = tags[1..4].iter().map(|t| &t.data[..]).collect();
            assert_eq!(heads, want, "segment {n}");
            assert!(tags[1..4].iter().all(|t| t.timestamp == 0));
            assert_eq!(tags[4].timestamp, 0);
            assert_eq!(classify(9, &tags[4].data), FrameKind::Keyframe);
            let offset = 1000 + 4000 * n as u32;
            media.extend(
                tags[4..]
                    .iter()
                    .map(|t| (t.tag_type, t.timestamp + offset, t.data.clone())),
            );
        }
        // Every frame exactly once, in order (the mid-stream header too).
        let sent_media: Vec<_> = sent.into_iter().skip(3).collect();
        assert_eq!(media, sent_media);
    }

    #[test]
    fn size_limit_cuts_at_the_next_keyframe() {
        let (mut s, opened) = segmenter(plan(0, 5_000));
        let files = run(&mut s, &av_stream());
        // ~6.4 KB of video+audio per second: 5 KB is passed within a GOP, so
        // every segment is one GOP (cut at each keyframe from the 2nd on).
        assert_eq!(files.len(), 9);
        assert_eq!(opened.lock().unwrap().len(), 10);
        for (done, tags) in &files {
            assert_eq!(done.duration_ms, 1000);
            assert!((5_000..8_000).contains(&done.bytes), "{}", done.bytes);
            assert_eq!(classify(9, &tags[4].data), FrameKind::Keyframe);
        }
    }

    #[test]
    fn audio_only_cuts_at_the_first_audio_frame_past_the_limit() {
        let (mut s, opened) = segmenter(plan(1000, 0));
        let mut sent = vec![(8, 500, Bytes::from_static(AAC_SEQ))];
        sent.extend((0..200u32).map(|i| (8, 500 + i * 23, sound(i))));
        let files = run(&mut s, &sent);
        // 1000 / 23 = 43.5: frame 44 (1012 ms) opens segment 1.
        assert_eq!(opened.lock().unwrap()[1], (1, 1012));
        assert_eq!(files[0].0.duration_ms, 1012);
        let tags = &files[1].1;
        assert_eq!(&tags[1].data[..], AAC_SEQ);
        assert_eq!((tags[2].timestamp, &tags[2].data), (0, &sound(44)));
        // 44 frames per finished segment (script tag and header aside).
        assert!(files.iter().all(|(_, t)| t.len() - 2 == 44));
    }

    #[test]
    fn no_limits_make_one_file() {
        let (mut s, opened) = segmenter(RecordPlan::default());
        assert!(run(&mut s, &av_stream()).is_empty());
        assert_eq!(opened.lock().unwrap().len(), 1);
        assert_eq!(s.seq(), 0);
    }
}
