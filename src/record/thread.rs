//! The recorder thread: owns one [`Segmenter`] per open recording and feeds
//! it the [`RecordCmd`]s from the loop.
//!
//! * Files are named by the recording's [`RecordPlan::path`] template
//!   inside `record_dir` (subdirectories created on demand); a taken name
//!   gets the next `_n` suffix.
//! * Each finalized file (segment or last file) is pushed to the
//!   recording's [`RecordingShared::files`] before `finished` is set, so
//!   the handle reports every file and then the end.
//! * Every open file is flushed every `flush_interval_ms`; with `fsync`
//!   each such flush and each closed file is also synced to disk
//!   (`sync_data`), counted in [`Totals::syncs`].

use log::{debug, info, warn};
use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use super::segment::{OpenSegment, RecordPlan, SegmentDone, Segmenter};
use super::{template, RecordCmd, RecordSink, RecorderConfig, RecordingId, RecordingShared};

/// `_n` suffixes tried before giving up on a name.
const MAX_NAME_TRIES: u32 = 1000;

/// Figures of every recording, shared with the handle.
#[derive(Debug, Default)]
pub struct Totals {
    /// Bytes written by every recording (updated at each flush and when a
    /// file is finished).
    pub written: AtomicU64,
    /// fsync calls made (`fsync` on).
    pub syncs: AtomicU64,
}

type Sink = Box<dyn RecordSink>;

/// One open recording on the thread.
struct Active {
    shared: Arc<RecordingShared>,
    /// `None` once a disk error stopped it.
    rec: Option<Segmenter<Sink>>,
    dirty: bool,
}

/// Starts the recorder thread reading `rx`. It exits (finalizing every open
/// recording) when every sender is gone.
pub fn spawn_thread(
    cfg: RecorderConfig,
    rx: Receiver<RecordCmd>,
    hurry: Arc<AtomicBool>,
    totals: Arc<Totals>,
) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("recorder".to_owned())
        .spawn(move || Thread::new(cfg, hurry, totals).run(rx))
}

struct Thread {
    cfg: RecorderConfig,
    hurry: Arc<AtomicBool>,
    totals: Arc<Totals>,
    recs: HashMap<RecordingId, Active>,
}

/// Publish a recording's written bytes (its own, its segment's and the total).
fn report_written(totals: &Totals, shared: &RecordingShared, rec: &Segmenter<Sink>) {
    let written = rec.total_bytes();
    let before = shared.written.swap(written, Ordering::Relaxed);
    shared
        .segment_written
        .store(rec.segment_bytes(), Ordering::Relaxed);
    totals
        .written
        .fetch_add(written.saturating_sub(before), Ordering::Relaxed);
}

/// fsync the sink (through the trait object: the sink's own impl).
fn sync(totals: &Totals, sink: &mut Sink) -> io::Result<()> {
    let inner: &mut dyn RecordSink = &mut **sink;
    totals.syncs.fetch_add(1, Ordering::Relaxed);
    inner.sync()
}

/// The opener of one recording's files: template expansion, directories,
/// `_n` suffixes.
fn segment_opener(
    cfg: &RecorderConfig,
    plan: &RecordPlan,
    app: &str,
    stream: &str,
    started: SystemTime,
) -> OpenSegment<Sink> {
    let dir = cfg.dir.clone();
    let opener = Arc::clone(&cfg.opener);
    let template = plan.path.clone();
    let (app, stream) = (app.to_owned(), stream.to_owned());
    Box::new(move |seq, offset_ms| {
        let fields = template::Fields {
            app: &app,
            name: &stream,
            started: started + Duration::from_millis(offset_ms.into()),
            seq,
        };
        for n in 1..=MAX_NAME_TRIES {
            let rel = template::expand(&template, &fields, n).ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, "bad record_path template")
            })?;
            let path = dir.join(rel);
            if let Some(parent) = path.parent().filter(|p| *p != dir) {
                std::fs::create_dir_all(parent)?;
            }
            match opener(&path) {
                Ok(sink) => return Ok((path, sink)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!("cannot create {}: {e}", path.display()),
                    ))
                }
            }
        }
        Err(io::Error::other(format!("{MAX_NAME_TRIES} names taken")))
    })
}

impl Thread {
    fn new(cfg: RecorderConfig, hurry: Arc<AtomicBool>, totals: Arc<Totals>) -> Self {
        Thread {
            cfg,
            hurry,
            totals,
            recs: HashMap::new(),
        }
    }

    fn run(mut self, rx: Receiver<RecordCmd>) {
        let interval = Duration::from_millis(self.cfg.flush_interval_ms.max(1));
        let mut next_flush = Instant::now() + interval;
        loop {
            let now = Instant::now();
            if now >= next_flush {
                self.flush_all();
                next_flush = now + interval;
            }
            match rx.recv_timeout(next_flush.saturating_duration_since(now)) {
                Ok(cmd) => self.handle(cmd),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        let ids: Vec<RecordingId> = self.recs.keys().copied().collect();
        for id in ids {
            self.finish(id);
        }
        debug!("recorder: thread exits");
    }

    fn handle(&mut self, cmd: RecordCmd) {
        match cmd {
            RecordCmd::Start {
                id,
                app,
                stream,
                started,
                plan,
                shared,
            } => self.start(id, &app, &stream, started, &plan, shared),
            RecordCmd::Metadata {
                id,
                timestamp,
                body,
            } => {
                let Some(active) = self.recs.get_mut(&id) else {
                    return;
                };
                if let Some(rec) = active.rec.as_mut() {
                    active.dirty = true;
                    if let Err(e) = rec.metadata(timestamp, body) {
                        fail(id, active, &e);
                    }
                }
            }
            RecordCmd::Frame {
                id,
                type_id,
                kind,
                timestamp,
                payload,
            } => {
                let Some(active) = self.recs.get_mut(&id) else {
                    return;
                };
                let res = match active.rec.as_mut() {
                    Some(rec) if !self.hurry.load(Ordering::Relaxed) => {
                        active.dirty = true;
                        rec.frame(type_id, kind, timestamp, &payload)
                    }
                    _ => Ok(None),
                };
                active
                    .shared
                    .in_flight
                    .fetch_sub(payload.len(), Ordering::Relaxed);
                match res {
                    Ok(None) => {}
                    Ok(Some(done)) => {
                        let rec = active.rec.as_ref().expect("a segment was cut");
                        report_written(&self.totals, &active.shared, rec);
                        set_current(&active.shared, rec.path());
                        info!("{id} recording continues in {}", rec.path().display());
                        closed(id, &self.cfg, &self.totals, &active.shared, done);
                    }
                    Err(e) => fail(id, active, &e),
                }
            }
            RecordCmd::Stop { id } => self.finish(id),
        }
    }

    fn start(
        &mut self,
        id: RecordingId,
        app: &str,
        stream: &str,
        started: SystemTime,
        plan: &RecordPlan,
        shared: Arc<RecordingShared>,
    ) {
        let open = segment_opener(&self.cfg, plan, app, stream, started);
        match Segmenter::new(plan, open) {
            Ok(rec) => {
                debug!("{id} recording to {}", rec.path().display());
                set_current(&shared, rec.path());
                let active = Active {
                    shared,
                    rec: Some(rec),
                    dirty: false,
                };
                self.recs.insert(id, active);
            }
            Err(e) => {
                warn!("{id} recording of {app}/{stream} not started: {e}");
                shared.failed.store(true, Ordering::Relaxed);
                shared.finished.store(true, Ordering::Release);
            }
        }
    }

    fn finish(&mut self, id: RecordingId) {
        let Some(mut active) = self.recs.remove(&id) else {
            return;
        };
        if let Some(rec) = active.rec.take() {
            report_written(&self.totals, &active.shared, &rec);
            match rec.finish() {
                Ok(done) => closed(id, &self.cfg, &self.totals, &active.shared, done),
                Err(e) => fail(id, &mut active, &e),
            }
        }
        active.shared.finished.store(true, Ordering::Release);
    }

    fn flush_all(&mut self) {
        for (id, active) in self.recs.iter_mut() {
            if !active.dirty {
                continue;
            }
            active.dirty = false;
            if let Some(rec) = active.rec.as_mut() {
                let mut flushed = rec.flush();
                if flushed.is_ok() && self.cfg.fsync {
                    flushed = sync(&self.totals, rec.sink_mut());
                }
                report_written(&self.totals, &active.shared, rec);
                if let Err(e) = flushed {
                    fail(*id, active, &e);
                }
            }
        }
    }
}

/// A file was finalized: sync it (with `fsync`), log it, and hand its path
/// to the handle.
fn closed(
    id: RecordingId,
    cfg: &RecorderConfig,
    totals: &Totals,
    shared: &RecordingShared,
    mut done: SegmentDone<Sink>,
) {
    if cfg.fsync {
        if let Err(e) = sync(totals, &mut done.sink) {
            warn!("{id} fsync of {} failed: {e}", done.path.display());
        }
    }
    let ms = done.duration_ms;
    info!(
        "{id} recording {} finished: {} bytes, {}.{:03} s",
        done.path.display(),
        done.bytes,
        ms / 1000,
        ms % 1000
    );
    if let Ok(mut files) = shared.files.lock() {
        files.push(done.path);
    }
}

/// A disk error: one line, then the recording discards everything.
/// The file `shared` writes now (what the handle shows, and log lines).
fn set_current(shared: &RecordingShared, path: &Path) {
    if let Ok(mut p) = shared.path.lock() {
        *p = Some(path.to_path_buf());
    }
}

fn fail(id: RecordingId, active: &mut Active, e: &io::Error) {
    let path = active.shared.path.lock().ok().and_then(|p| p.clone());
    warn!(
        "{id} recording {} stopped by a write error: {e}",
        path.unwrap_or_default().display()
    );
    active.rec = None;
    active.shared.failed.store(true, Ordering::Relaxed);
}
