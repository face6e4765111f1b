//! The recorder thread's handle as the endpoint's [`Recorder`]: the driver's
//! side reads the wall clock (file names) and waits for the thread at exit.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use bytes::Bytes;

use crate::endpoint::{RecordEvent, Recorder};
use crate::record::{RecordPlan, RecorderHandle, RecordingId};

pub struct ThreadRecorder {
    pub handle: RecorderHandle,
    /// Recordings whose end is not reported yet, and whether they were stopped.
    open: Vec<(RecordingId, bool)>,
    /// Events found and not yet polled.
    events: VecDeque<RecordEvent>,
}

impl ThreadRecorder {
    pub fn new(handle: RecorderHandle) -> ThreadRecorder {
        ThreadRecorder {
            handle,
            open: Vec::new(),
            events: VecDeque::new(),
        }
    }

    /// Collects the finalized files of every recording, and the end of
    /// every stopped one that is finished (after its files).
    fn collect(&mut self) {
        let handle = &self.handle;
        let events = &mut self.events;
        self.open.retain(|&(id, stopped)| {
            let over = stopped && (handle.finished(id) || handle.failed(id));
            for path in handle.take_files(id) {
                let path = path.display().to_string();
                events.push_back(RecordEvent::File { id, path });
            }
            if over {
                events.push_back(RecordEvent::Ended(id));
            }
            !over
        });
    }
}

impl Recorder for ThreadRecorder {
    fn start(&mut self, app: &str, name: &str, plan: RecordPlan) -> RecordingId {
        let id = self.handle.start_with(app, name, SystemTime::now(), plan);
        self.open.push((id, false));
        id
    }

    fn metadata(&mut self, id: RecordingId, timestamp: u32, body: Bytes) {
        self.handle.metadata(id, timestamp, body);
    }

    fn frame(&mut self, id: RecordingId, type_id: u8, timestamp: u32, payload: Bytes) {
        self.handle.frame(id, type_id, timestamp, payload);
    }

    fn stop(&mut self, id: RecordingId) -> u64 {
        self.handle.stop(id);
        if let Some(entry) = self.open.iter_mut().find(|(o, _)| *o == id) {
            entry.1 = true;
        }
        self.handle.dropped(id)
    }

    fn poll_finished(&mut self) -> Option<RecordEvent> {
        if self.events.is_empty() {
            self.collect();
        }
        self.events.pop_front()
    }

    fn recorded_bytes(&self) -> u64 {
        self.handle.total_written()
    }

    fn status(&self, id: RecordingId) -> Option<(String, u64)> {
        let path = self.handle.file_path(id)?;
        Some((path.display().to_string(), self.handle.segment_written(id)))
    }

    fn tick(&mut self) {
        self.handle.poll();
    }

    fn finish(self: Box<Self>, max_wait_ms: u64) {
        self.handle.shutdown(Duration::from_millis(max_wait_ms));
    }
}
