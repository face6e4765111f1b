//! What the endpoint asks of a recorder.
//!
//! The endpoint decides *what* is recorded (per application, resolved at
//! publish time) and hands each relayed frame over; the driver supplies the
//! implementation (the recorder thread's handle, which also reads the wall
//! clock for file names). Tests supply a fake that records the calls. Every
//! method must return at once: the real one only `try_send`s to its thread.

use bytes::Bytes;

use crate::record::{RecordPlan, RecordingId};

/// What became of a recording's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordEvent {
    /// A file (one segment, or the whole recording) is finalized.
    File { id: RecordingId, path: String },
    /// The recording is over: every file of it was reported before.
    Ended(RecordingId),
}

pub trait Recorder {
    /// A publish on `app`/`name` starts a recording, named and cut as
    /// `plan` says.
    fn start(&mut self, app: &str, name: &str, plan: RecordPlan) -> RecordingId;
    /// onMetaData body of the recorded stream.
    fn metadata(&mut self, id: RecordingId, timestamp: u32, body: Bytes);
    /// An audio (8) / video (9) message of the recorded stream.
    fn frame(&mut self, id: RecordingId, type_id: u8, timestamp: u32, payload: Bytes);
    /// The publish ended: finalize. Returns the frames dropped so far.
    fn stop(&mut self, id: RecordingId) -> u64;
    /// Called on the endpoint's timer tick (retry backlogs).
    fn tick(&mut self) {}
    /// The next finalized file or ended recording, in order per recording.
    fn poll_finished(&mut self) -> Option<RecordEvent> {
        None
    }
    /// Bytes written to recordings since start.
    fn recorded_bytes(&self) -> u64 {
        0
    }
    /// A running recording's current file (segment) path and its bytes
    /// written so far.
    fn status(&self, id: RecordingId) -> Option<(String, u64)> {
        let _ = id;
        None
    }
    /// The server is done: finalize every file, waiting at most `max_wait_ms`.
    fn finish(self: Box<Self>, max_wait_ms: u64) {
        let _ = max_wait_ms;
    }
}
