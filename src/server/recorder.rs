//! The recorder thread's handle as the endpoint's [`Recorder`]: the driver's
//! side reads the wall clock (file names) and waits for the thread at exit.

use std::time::{Duration, SystemTime};

use bytes::Bytes;

use crate::endpoint::Recorder;
use crate::record::{RecorderHandle, RecordingId};

pub struct ThreadRecorder {
    pub handle: RecorderHandle,
    /// Stopped recordings not yet finalized by the thread.
    stopped: Vec<RecordingId>,
}

impl ThreadRecorder {
    pub fn new(handle: RecorderHandle) -> ThreadRecorder {
        ThreadRecorder {
            handle,
            stopped: Vec::new(),
        }
    }
}

impl Recorder for ThreadRecorder {
    fn start(&mut self, app: &str, name: &str) -> RecordingId {
        self.handle.start(app, name, SystemTime::now())
    }

    fn metadata(&mut self, id: RecordingId, timestamp: u32, body: Bytes) {
        self.handle.metadata(id, timestamp, body);
    }

    fn frame(&mut self, id: RecordingId, type_id: u8, timestamp: u32, payload: Bytes) {
        self.handle.frame(id, type_id, timestamp, payload);
    }

    fn stop(&mut self, id: RecordingId) -> u64 {
        self.handle.stop(id);
        self.stopped.push(id);
        self.handle.dropped(id)
    }

    fn poll_finished(&mut self) -> Option<(RecordingId, String)> {
        let pos = self
            .stopped
            .iter()
            .position(|&id| self.handle.finished(id) || self.handle.failed(id))?;
        let id = self.stopped.swap_remove(pos);
        let path = self.handle.file_path(id)?;
        Some((id, path.display().to_string()))
    }

    fn recorded_bytes(&self) -> u64 {
        self.handle.total_written()
    }

    fn status(&self, id: RecordingId) -> Option<(String, u64)> {
        let path = self.handle.file_path(id)?;
        Some((path.display().to_string(), self.handle.written(id)))
    }

    fn tick(&mut self) {
        self.handle.poll();
    }

    fn finish(self: Box<Self>, max_wait_ms: u64) {
        self.handle.shutdown(Duration::from_millis(max_wait_ms));
    }
}
