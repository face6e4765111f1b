//! FLV recording on a dedicated recorder thread.
//!
//! The event loop owns a [`RecorderHandle`]; all file I/O happens on one
//! recorder thread ([`thread`]), which cuts each recording into segments
//! ([`segment`]) named by a path template ([`template`]) and writes each as
//! an FLV file ([`writer`]). The loop hands the thread shared frames
//! (`bytes::Bytes`, a refcount bump, no copy) through a bounded
//! `std::sync::mpsc::sync_channel` with `try_send`, so it never blocks on
//! disk.
//!
//! # Rules for the caller (driving order)
//!
//! ```text
//!  spawn ─► start(app, stream, t) ─► metadata? ─► frame* ─► stop ─┐
//!             ▲ (one id per publish; a reconnect is a new start)  │
//!             └───────────────────────────────────────────────────┘
//!  ... ─► poll() once per loop tick (retries queued control commands)
//!  ... ─► shutdown(max_wait) (finalizes every open recording, joins)
//! ```
//!
//! * Call [`RecorderHandle::start`] (or [`RecorderHandle::start_with`] with
//!   a [`RecordPlan`]: segments, path template) once per publish and use the returned
//!   [`RecordingId`] for every later call; ids are never reused. A refused
//!   duplicate publisher must not call `start`.
//! * [`RecorderHandle::metadata`] takes the `onMetaData` body (AMF0 values
//!   starting with the string `"onMetaData"`, i.e. `@setDataFrame`
//!   stripped). Only the first one is recorded, and only if it arrives
//!   before the first picture (the file's script tag is written then; later
//!   or repeated metadata is ignored).
//! * [`RecorderHandle::frame`] takes audio (8) and video (9) payloads as
//!   received (legacy or Enhanced RTMP). It never blocks. Frames over the
//!   recording's byte budget, or that meet a full channel, are dropped
//!   together with every following frame of that recording up to the next
//!   video keyframe (audio-only recordings resume as soon as they fit).
//!   Codec sequence headers bypass the budget; if even they (or a
//!   start/metadata/stop command) meet a full channel they wait in a small
//!   per-recording backlog that every later call and [`RecorderHandle::poll`]
//!   retry, in order. The backlog is bounded: besides the start and stop it
//!   holds at most [`MAX_BACKLOG`] entries; past that a new sequence header
//!   replaces the oldest queued one of its media type and repeated metadata
//!   is dropped. Drops are counted ([`RecorderHandle::dropped`]) and warned
//!   about at most once per second per recording.
//! * Each finalized file (segment) is handed over once by
//!   [`RecorderHandle::take_files`]; [`RecorderHandle::finished`] turns true
//!   after the last one was queued there.
//! * After [`RecorderHandle::stop`] the thread finalizes the file at once
//!   (flush, then `duration`/`filesize` and the header flags patched in
//!   place). Calls with a stopped or unknown id are ignored.
//! * [`RecorderHandle::shutdown`] finalizes every open recording and joins the
//!   thread, waiting at most `max_wait`. Dropping the handle without it
//!   also makes the thread finalize everything and exit, unjoined.
//! * A disk error stops only the recording it hit (one `warn!` line); later
//!   frames for it are discarded cheaply on the caller's side.

mod config;
pub mod names;
pub mod segment;
pub mod template;
pub mod thread;
pub mod writer;

use bytes::Bytes;
use log::{debug, warn};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crate::proto::flv;
use crate::proto::flv::tracks::{self, AvKind};
pub use config::{open_file_sink, RecordSink, RecorderConfig, SinkOpener};
pub use segment::RecordPlan;
use thread::Totals;

/// One recording (one publish).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RecordingId(pub u64);

impl fmt::Display for RecordingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rec#{}", self.0)
    }
}

/// What a frame is, as far as recording cares (classified once, by the
/// handle).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameKind {
    /// Decoder configuration of any track: AVC/HEVC/E-RTMP video sequence
    /// start, AAC/E-RTMP audio one, E-RTMP per-track Metadata or
    /// MultichannelConfig.
    SequenceHeader,
    /// A video key frame carrying a picture (of any track).
    Keyframe,
    /// Any other video message.
    Video,
    /// Any other audio message.
    Audio,
    /// A data message (onCuePoint, onTextData, a later onMetaData, ...).
    Data,
}

impl FrameKind {
    /// Classifies an audio (8), video (9) or data (18) payload; `None` for
    /// other types.
    pub fn classify(type_id: u8, payload: &[u8]) -> Option<FrameKind> {
        let kind = match type_id {
            flv::TAG_VIDEO => AvKind::Video,
            flv::TAG_AUDIO => AvKind::Audio,
            flv::TAG_SCRIPT => return Some(FrameKind::Data),
            _ => return None,
        };
        let header = tracks::parse(kind, payload);
        Some(match (kind, header) {
            (_, Some(h)) if h.is_header() => FrameKind::SequenceHeader,
            (AvKind::Video, Some(h)) if h.is_keyframe() => FrameKind::Keyframe,
            (AvKind::Video, _) => FrameKind::Video,
            (AvKind::Audio, _) => FrameKind::Audio,
        })
    }
}

/// A command to the recorder thread.
#[derive(Debug)]
pub enum RecordCmd {
    /// Open the first file of a new recording (named and cut by `plan`).
    Start {
        id: RecordingId,
        app: String,
        stream: String,
        started: SystemTime,
        plan: RecordPlan,
        shared: Arc<RecordingShared>,
    },
    /// The publisher's `onMetaData` body.
    Metadata {
        id: RecordingId,
        timestamp: u32,
        body: Bytes,
    },
    /// An audio/video message; `payload.len()` is counted in the budget
    /// until the thread has written it.
    Frame {
        id: RecordingId,
        type_id: u8,
        kind: FrameKind,
        timestamp: u32,
        payload: Bytes,
    },
    /// Finalize and close the file.
    Stop { id: RecordingId },
}

/// State shared between the handle and the thread for one recording.
#[derive(Debug, Default)]
pub struct RecordingShared {
    /// Payload bytes sent to the thread and not yet written.
    pub in_flight: AtomicUsize,
    /// Frames dropped by the handle.
    pub dropped: AtomicU64,
    /// Set by the thread when a disk error stopped the recording.
    pub failed: AtomicBool,
    /// Set by the thread once the last file is finalized and closed.
    pub finished: AtomicBool,
    /// The current file's path, once opened.
    pub path: Mutex<Option<PathBuf>>,
    /// Bytes written to every file so far (as of the last flush).
    pub written: AtomicU64,
    /// Bytes written to the current file so far (as of the last flush).
    pub segment_written: AtomicU64,
    /// Files finalized and not yet taken by the handle, oldest first.
    pub files: Mutex<Vec<PathBuf>>,
}

/// Per-recording state on the handle's side.
struct Slot {
    shared: Arc<RecordingShared>,
    /// Control commands and sequence headers that met a full channel.
    backlog: VecDeque<RecordCmd>,
    waiting_keyframe: bool,
    seen_video: bool,
    stopped: bool,
    last_warn: Option<Instant>,
    warned_dropped: u64,
}

/// Sequence headers and metadata one recording's backlog holds at most.
pub const MAX_BACKLOG: usize = 16;

/// How many finished recordings [`RecorderHandle::dropped`] still knows.
const KEEP_FINISHED: usize = 256;

/// The loop's side of the recorder. See the module docs for the rules.
pub struct RecorderHandle {
    tx: SyncSender<RecordCmd>,
    thread: JoinHandle<()>,
    hurry: Arc<AtomicBool>,
    budget: usize,
    next_id: u64,
    slots: HashMap<RecordingId, Slot>,
    /// Recordings whose slot has a non-empty backlog.
    backlogged: usize,
    finished: VecDeque<(RecordingId, Arc<RecordingShared>)>,
    /// Bytes written and fsyncs by every recording (the thread adds to them).
    totals: Arc<Totals>,
}

impl fmt::Debug for RecorderHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecorderHandle")
            .field("recordings", &self.slots.len())
            .field("backlogged", &self.backlogged)
            .finish_non_exhaustive()
    }
}

impl RecorderHandle {
    /// Create the directory if missing (error if impossible) and start the thread.
    pub fn spawn(cfg: RecorderConfig) -> io::Result<RecorderHandle> {
        std::fs::create_dir_all(&cfg.dir)?;
        if !cfg.dir.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                "recording path is not a directory",
            ));
        }
        let (tx, rx) = sync_channel(cfg.channel_capacity.max(1));
        let hurry = Arc::new(AtomicBool::new(false));
        let budget = cfg.budget_bytes;
        let totals = Arc::new(Totals::default());
        let thread = thread::spawn_thread(cfg, rx, Arc::clone(&hurry), Arc::clone(&totals))?;
        Ok(RecorderHandle {
            tx,
            thread,
            hurry,
            budget,
            next_id: 1,
            slots: HashMap::new(),
            backlogged: 0,
            finished: VecDeque::new(),
            totals,
        })
    }

    /// A publish started: the thread creates `{app}_{stream}_{YYYYMMDD}_{HHMMSS}.flv` (UTC of `started`).
    pub fn start(&mut self, app: &str, stream: &str, started: SystemTime) -> RecordingId {
        self.start_with(app, stream, started, RecordPlan::default())
    }

    /// A publish started, recorded as `plan` says (segments, path template).
    pub fn start_with(
        &mut self,
        app: &str,
        stream: &str,
        started: SystemTime,
        plan: RecordPlan,
    ) -> RecordingId {
        let id = RecordingId(self.next_id);
        self.next_id += 1;
        let shared = Arc::new(RecordingShared::default());
        self.slots.insert(
            id,
            Slot {
                shared: Arc::clone(&shared),
                backlog: VecDeque::new(),
                waiting_keyframe: false,
                seen_video: false,
                stopped: false,
                last_warn: None,
                warned_dropped: 0,
            },
        );
        debug!("{id} start {app}/{stream}");
        self.send_control(
            id,
            RecordCmd::Start {
                id,
                app: app.to_owned(),
                stream: stream.to_owned(),
                started,
                plan,
                shared,
            },
        );
        id
    }

    /// onMetaData body (AMF0 values starting with "onMetaData") from the publisher.
    pub fn metadata(&mut self, id: RecordingId, timestamp: u32, body: Bytes) {
        if !self.live(id) {
            return;
        }
        self.send_control(
            id,
            RecordCmd::Metadata {
                id,
                timestamp,
                body,
            },
        );
    }

    /// An audio (8) / video (9) message; never blocks. See the module docs
    /// for the drop policy.
    pub fn frame(&mut self, id: RecordingId, type_id: u8, timestamp: u32, payload: Bytes) {
        if self.backlogged > 0 {
            self.poll();
        }
        let budget = self.budget;
        let Some(slot) = self.slots.get_mut(&id) else {
            return;
        };
        if slot.stopped || slot.shared.failed.load(Ordering::Relaxed) {
            return;
        }
        let Some(kind) = FrameKind::classify(type_id, &payload) else {
            return;
        };
        if type_id == flv::TAG_VIDEO {
            slot.seen_video = true;
        }
        let len = payload.len();
        let cmd = RecordCmd::Frame {
            id,
            type_id,
            kind,
            timestamp,
            payload,
        };
        if kind == FrameKind::SequenceHeader {
            // Never dropped for the budget; queued behind any backlog.
            slot.shared.in_flight.fetch_add(len, Ordering::Relaxed);
            if !slot.backlog.is_empty() {
                queue_bounded(id, slot, cmd);
                return;
            }
            match self.tx.try_send(cmd) {
                Ok(()) => {}
                Err(TrySendError::Full(cmd)) => {
                    slot.backlog.push_back(cmd);
                    self.backlogged += 1;
                }
                Err(TrySendError::Disconnected(_)) => {
                    slot.shared.in_flight.fetch_sub(len, Ordering::Relaxed);
                    count_drop(id, slot, RESUME_AT_KEYFRAME);
                }
            }
            return;
        }
        let resumes = match kind {
            FrameKind::Keyframe => true,
            FrameKind::Audio => !slot.seen_video,
            _ => false,
        };
        if slot.waiting_keyframe && !resumes {
            count_drop(id, slot, RESUME_AT_KEYFRAME);
            return;
        }
        let in_flight = slot.shared.in_flight.load(Ordering::Relaxed);
        if !slot.backlog.is_empty() || in_flight.saturating_add(len) > budget {
            slot.waiting_keyframe = true;
            count_drop(id, slot, RESUME_AT_KEYFRAME);
            return;
        }
        slot.shared.in_flight.fetch_add(len, Ordering::Relaxed);
        match self.tx.try_send(cmd) {
            Ok(()) => slot.waiting_keyframe = false,
            Err(e) => {
                slot.shared.in_flight.fetch_sub(len, Ordering::Relaxed);
                if matches!(e, TrySendError::Full(_)) {
                    slot.waiting_keyframe = true;
                }
                count_drop(id, slot, RESUME_AT_KEYFRAME);
            }
        }
    }

    /// Unpublish / publisher gone: the thread finalizes the file (within 1 s).
    pub fn stop(&mut self, id: RecordingId) {
        if !self.live(id) {
            return;
        }
        debug!("{id} stop");
        if let Some(slot) = self.slots.get_mut(&id) {
            slot.stopped = true;
        }
        self.send_control(id, RecordCmd::Stop { id });
        self.retire_if_done(id);
    }

    /// Retries control commands and sequence headers that met a full
    /// channel. Cheap when nothing waits; call it once per loop tick.
    pub fn poll(&mut self) {
        if self.backlogged == 0 {
            return;
        }
        let ids: Vec<RecordingId> = self
            .slots
            .iter()
            .filter(|(_, s)| !s.backlog.is_empty())
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            if self.drain_backlog(id) {
                self.retire_if_done(id);
            } else {
                // Channel full again: the rest waits for the next call.
                break;
            }
        }
    }

    /// Frames dropped so far for a recording (for the loop's log line).
    /// Known for open recordings and the last 256 stopped ones; 0 otherwise.
    pub fn dropped(&self, id: RecordingId) -> u64 {
        self.shared(id)
            .map_or(0, |s| s.dropped.load(Ordering::Relaxed))
    }

    /// Commands of this recording waiting in its backlog for room in the
    /// channel (at most [`MAX_BACKLOG`] plus its start and stop).
    pub fn backlog_len(&self, id: RecordingId) -> usize {
        self.slots.get(&id).map_or(0, |s| s.backlog.len())
    }

    /// Payload bytes of this recording queued for the thread and not yet
    /// written.
    pub fn in_flight(&self, id: RecordingId) -> usize {
        self.shared(id)
            .map_or(0, |s| s.in_flight.load(Ordering::Relaxed))
    }

    /// True once a disk error stopped this recording.
    pub fn failed(&self, id: RecordingId) -> bool {
        self.shared(id)
            .is_some_and(|s| s.failed.load(Ordering::Relaxed))
    }

    /// True once the thread has finalized and closed this recording's file
    /// (after `stop`).
    pub fn finished(&self, id: RecordingId) -> bool {
        self.shared(id)
            .is_some_and(|s| s.finished.load(Ordering::Acquire))
    }

    /// Bytes written to this recording's file so far (as of its last flush).
    pub fn written(&self, id: RecordingId) -> u64 {
        self.shared(id)
            .map_or(0, |s| s.written.load(Ordering::Relaxed))
    }

    /// Bytes written to this recording's current file (segment) so far.
    pub fn segment_written(&self, id: RecordingId) -> u64 {
        self.shared(id)
            .map_or(0, |s| s.segment_written.load(Ordering::Relaxed))
    }

    /// Files of this recording finalized since the last call, oldest first.
    pub fn take_files(&self, id: RecordingId) -> Vec<PathBuf> {
        self.shared(id)
            .and_then(|s| s.files.lock().ok().map(|mut f| std::mem::take(&mut *f)))
            .unwrap_or_default()
    }

    /// Bytes written by every recording since start.
    pub fn total_written(&self) -> u64 {
        self.totals.written.load(Ordering::Relaxed)
    }

    /// fsync calls made so far (`fsync` on).
    pub fn syncs(&self) -> u64 {
        self.totals.syncs.load(Ordering::Relaxed)
    }

    /// The current file the thread opened for this recording, once it has.
    pub fn file_path(&self, id: RecordingId) -> Option<PathBuf> {
        self.shared(id)
            .and_then(|s| s.path.lock().ok().and_then(|p| p.clone()))
    }

    /// Server shutdown: finalize every open recording and join the thread, waiting at most `max_wait`.
    pub fn shutdown(mut self, max_wait: Duration) {
        let deadline = Instant::now() + max_wait;
        // Queue the remaining control commands (stops of stopped recordings
        // among them) while there is time; everything else is finalized by
        // the thread when the channel disconnects.
        while self.backlogged > 0 && Instant::now() < deadline {
            self.poll();
            if self.backlogged > 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        let RecorderHandle {
            tx, thread, hurry, ..
        } = self;
        drop(tx);
        // Past half the wait the thread skips queued media and finalizes.
        let hurry_at = deadline - max_wait / 2;
        while !thread.is_finished() {
            let now = Instant::now();
            if now >= deadline {
                warn!("recorder: thread did not finish within {max_wait:?}; leaving it");
                return;
            }
            if now >= hurry_at {
                hurry.store(true, Ordering::Relaxed);
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        if thread.join().is_err() {
            log::error!("recorder: thread panicked");
        }
    }

    fn shared(&self, id: RecordingId) -> Option<&Arc<RecordingShared>> {
        self.slots.get(&id).map(|s| &s.shared).or_else(|| {
            self.finished
                .iter()
                .find(|(fid, _)| *fid == id)
                .map(|(_, s)| s)
        })
    }

    fn live(&self, id: RecordingId) -> bool {
        self.slots.get(&id).is_some_and(|s| !s.stopped)
    }

    /// Sends a command that must not be lost, keeping per-recording order.
    fn send_control(&mut self, id: RecordingId, cmd: RecordCmd) {
        let Some(slot) = self.slots.get_mut(&id) else {
            return;
        };
        if !slot.backlog.is_empty() {
            queue_bounded(id, slot, cmd);
            return;
        }
        match self.tx.try_send(cmd) {
            Ok(()) => {}
            Err(TrySendError::Full(cmd)) => {
                debug!("{id} recorder channel full; command waits");
                slot.backlog.push_back(cmd);
                self.backlogged += 1;
            }
            Err(TrySendError::Disconnected(_)) => {
                warn!("{id} recorder thread is gone; command discarded");
            }
        }
    }

    /// Sends as much of the backlog as fits. False if the channel is full.
    fn drain_backlog(&mut self, id: RecordingId) -> bool {
        let Some(slot) = self.slots.get_mut(&id) else {
            return true;
        };
        while let Some(cmd) = slot.backlog.pop_front() {
            match self.tx.try_send(cmd) {
                Ok(()) => {}
                Err(TrySendError::Full(cmd)) => {
                    slot.backlog.push_front(cmd);
                    return false;
                }
                Err(TrySendError::Disconnected(_)) => {
                    slot.backlog.clear();
                    break;
                }
            }
        }
        self.backlogged -= 1;
        true
    }

    /// Moves a stopped recording with nothing left to send to `finished`.
    fn retire_if_done(&mut self, id: RecordingId) {
        let done = self
            .slots
            .get(&id)
            .is_some_and(|s| s.stopped && s.backlog.is_empty());
        if !done {
            return;
        }
        if let Some(slot) = self.slots.remove(&id) {
            if self.finished.len() == KEEP_FINISHED {
                self.finished.pop_front();
            }
            self.finished.push_back((id, slot.shared));
        }
    }
}

/// What follows a media drop.
const RESUME_AT_KEYFRAME: &str = "resuming at the next keyframe";
/// What a backlog drop loses.
const BACKLOG_FULL: &str = "backlog full: older sequence header or repeated metadata dropped";

/// Queue `cmd` behind a non-empty backlog, keeping it bounded: start and
/// stop are always queued (one each per recording); beyond
/// [`MAX_BACKLOG`] other entries, a sequence header replaces the oldest
/// queued one of the same media type (no frame of the recording sits
/// between them, the backlog holds none, so the older one is superseded),
/// and anything else (metadata: only the first is recorded anyway) is
/// dropped. Every drop is counted in `dropped` and warned about.
fn queue_bounded(id: RecordingId, slot: &mut Slot, cmd: RecordCmd) {
    let always = matches!(cmd, RecordCmd::Start { .. } | RecordCmd::Stop { .. });
    let others = slot
        .backlog
        .iter()
        .filter(|c| !matches!(c, RecordCmd::Start { .. } | RecordCmd::Stop { .. }))
        .count();
    if always || others < MAX_BACKLOG {
        slot.backlog.push_back(cmd);
        return;
    }
    let seq_type = match &cmd {
        RecordCmd::Frame { type_id, .. } => Some(*type_id),
        _ => None,
    };
    let older = seq_type.and_then(|t| {
        slot.backlog
            .iter()
            .position(|c| matches!(c, RecordCmd::Frame { type_id, .. } if *type_id == t))
    });
    let dropped = match older {
        Some(i) => {
            let old = slot.backlog.remove(i);
            slot.backlog.push_back(cmd);
            old
        }
        None => Some(cmd),
    };
    if let Some(RecordCmd::Frame { payload, .. }) = &dropped {
        slot.shared
            .in_flight
            .fetch_sub(payload.len(), Ordering::Relaxed);
    }
    count_drop(id, slot, BACKLOG_FULL);
}

/// Counts one dropped frame (or backlog entry) and warns at most once per
/// second.
fn count_drop(id: RecordingId, slot: &mut Slot, what_next: &str) {
    let total = slot.shared.dropped.fetch_add(1, Ordering::Relaxed) + 1;
    let now = Instant::now();
    let due = slot
        .last_warn
        .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1));
    if due {
        warn!(
            "{id} recorder behind: dropped {} frame(s) ({} total), {what_next}",
            total - slot.warned_dropped,
            total
        );
        slot.last_warn = Some(now);
        slot.warned_dropped = total;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn recording_id_display() {
        assert_eq!(RecordingId(42).to_string(), "rec#42");
    }

    #[test]
    fn classify_frames() {
        use FrameKind::*;
        let c = FrameKind::classify;
        // Legacy AVC: key/inter frame type, AVCPacketType 0 = sequence header.
        assert_eq!(c(9, &[0x17, 0x00, 0, 0, 0]), Some(SequenceHeader));
        assert_eq!(c(9, &[0x17, 0x01, 0, 0, 0]), Some(Keyframe));
        assert_eq!(c(9, &[0x27, 0x01, 0, 0, 0]), Some(Video));
        assert_eq!(c(9, &[0x17, 0x02, 0, 0, 0]), Some(Video), "end of sequence");
        assert_eq!(c(9, &[]), Some(Video));
        // Enhanced RTMP: SequenceStart, CodedFrames key and inter.
        assert_eq!(c(9, b"\x90hvc1"), Some(SequenceHeader));
        assert_eq!(c(9, b"\x91hvc1\0\0\0"), Some(Keyframe));
        assert_eq!(c(9, b"\xA3hvc1"), Some(Video));
        // AAC: AACPacketType 0 = AudioSpecificConfig.
        assert_eq!(c(8, &[0xAF, 0x00, 0x12, 0x10]), Some(SequenceHeader));
        assert_eq!(c(8, &[0xAF, 0x01, 0x21]), Some(Audio));
        assert_eq!(
            c(8, &[0x2F, 0x00]),
            Some(Audio),
            "MP3 has no sequence header"
        );
        assert_eq!(c(18, &[0x02]), Some(Data));
        assert_eq!(c(20, &[0x02]), None);
        // Enhanced RTMP v2: a track-1 OneTrack SequenceStart and keyframe,
        // and an unwrapped colorInfo Metadata, as ffmpeg 9 sends them.
        assert_eq!(c(9, b"\x96\x00hvc1\x01cfg"), Some(SequenceHeader));
        assert_eq!(c(9, b"\x96\x01hvc1\x01\0\0\0x"), Some(Keyframe));
        assert_eq!(c(9, b"\xd4hvc1\x02"), Some(SequenceHeader));
        assert_eq!(c(8, b"\x95\x04mp4a\x01\x01"), Some(SequenceHeader));
    }

    /// An opener that blocks until released, so the channel stays full.
    fn gated_opener(gate: Arc<(Mutex<bool>, std::sync::Condvar)>) -> SinkOpener {
        Arc::new(move |p: &Path| -> io::Result<Box<dyn RecordSink>> {
            let mut open = gate.0.lock().unwrap();
            while !*open {
                open = gate.1.wait(open).unwrap();
            }
            open_file_sink(p)
        })
    }

    #[test]
    fn backlog_is_bounded_and_drops_are_counted() {
        let dir = std::env::temp_dir().join(format!("rtmp-edge-backlog-{}", std::process::id()));
        let gate = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
        let mut cfg = RecorderConfig::new(&dir);
        cfg.channel_capacity = 1;
        cfg.opener = gated_opener(Arc::clone(&gate));
        let mut h = RecorderHandle::spawn(cfg).unwrap();
        let id = h.start("live", "backlog", SystemTime::UNIX_EPOCH);
        h.metadata(id, 0, Bytes::from_static(b"\x02\x00\x0aonMetaData\x05"));
        for i in 0..10_000u32 {
            let seq = Bytes::from(vec![0x17, 0, 0, 0, 0, i as u8]);
            h.frame(id, flv::TAG_VIDEO, i, seq);
            h.frame(
                id,
                flv::TAG_AUDIO,
                i,
                Bytes::from_static(&[0xAF, 0, 0x12, 0x10]),
            );
            h.metadata(id, i, Bytes::from_static(b"\x02\x00\x0aonMetaData\x05"));
        }
        let queued = h.backlog_len(id);
        assert!(queued <= MAX_BACKLOG + 1, "{queued} commands queued");
        assert!(h.dropped(id) >= 3 * 10_000 - MAX_BACKLOG as u64 - 2);
        assert!(
            h.in_flight(id) <= (MAX_BACKLOG + 1) * 6,
            "dropped headers leave in_flight"
        );
        h.stop(id);
        assert!(
            h.backlog_len(id) <= MAX_BACKLOG + 2,
            "stop is never dropped"
        );
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
        let t = Instant::now();
        while !h.finished(id) {
            assert!(t.elapsed() < Duration::from_secs(5), "stop delivered");
            h.poll();
            std::thread::sleep(Duration::from_millis(1));
        }
        h.shutdown(Duration::from_secs(5));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn config_defaults() {
        let c = RecorderConfig::new("/tmp/x");
        assert_eq!(c.budget_bytes, 8 * 1024 * 1024);
        assert_eq!(c.channel_capacity, 4096);
        assert_eq!(c.flush_interval_ms, 1000);
        assert!(format!("{c:?}").contains("budget_bytes: 8388608"));
    }
}
