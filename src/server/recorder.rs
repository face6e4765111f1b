//! The recorder thread's handle as the endpoint's [`Recorder`]: the driver's
//! side reads the wall clock (file names) and waits for the thread at exit.

use std::time::{Duration, SystemTime};

use bytes::Bytes;

use crate::endpoint::Recorder;
use crate::record::{RecorderHandle, RecordingId};

pub struct ThreadRecorder(pub RecorderHandle);

impl Recorder for ThreadRecorder {
    fn start(&mut self, app: &str, name: &str) -> RecordingId {
        self.0.start(app, name, SystemTime::now())
    }

    fn metadata(&mut self, id: RecordingId, timestamp: u32, body: Bytes) {
        self.0.metadata(id, timestamp, body);
    }

    fn frame(&mut self, id: RecordingId, type_id: u8, timestamp: u32, payload: Bytes) {
        self.0.frame(id, type_id, timestamp, payload);
    }

    fn stop(&mut self, id: RecordingId) -> u64 {
        self.0.stop(id);
        self.0.dropped(id)
    }

    fn tick(&mut self) {
        self.0.poll();
    }

    fn finish(self: Box<Self>, max_wait_ms: u64) {
        self.0.shutdown(Duration::from_millis(max_wait_ms));
    }
}
