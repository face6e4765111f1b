//! Recorder settings and where files go: the [`RecordSink`] trait (a
//! seekable writer that can be synced to disk) and the [`SinkOpener`] that
//! creates one per file.

use std::any::Any;
use std::fmt;
use std::fs::OpenOptions;
use std::io::{self, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where the recorder writes: anything seekable. Blanket-implemented.
pub trait RecordSink: Write + Seek + Send {
    /// Push written data to the disk: `File::sync_data` for a file, a no-op
    /// for any other sink.
    fn sync(&mut self) -> io::Result<()>;
}

impl<T: Write + Seek + Send + 'static> RecordSink for T {
    fn sync(&mut self) -> io::Result<()> {
        match (self as &mut dyn Any).downcast_mut::<std::fs::File>() {
            Some(f) => f.sync_data(),
            None => Ok(()),
        }
    }
}

/// Opens the sink for a path. It must refuse an existing file with
/// `ErrorKind::AlreadyExists` (like `create_new`), so that two recordings
/// never share a file; the recorder then tries the next `_n` name.
pub type SinkOpener = Arc<dyn Fn(&Path) -> io::Result<Box<dyn RecordSink>> + Send + Sync>;

/// The default [`SinkOpener`]: a new real file (`create_new`).
pub fn open_file_sink(path: &Path) -> io::Result<Box<dyn RecordSink>> {
    let f = OpenOptions::new().write(true).create_new(true).open(path)?;
    Ok(Box::new(f))
}

/// Recorder settings.
#[derive(Clone)]
pub struct RecorderConfig {
    /// Directory for the files (created if missing).
    pub dir: PathBuf,
    /// Bytes of frame payload in flight (queued, not yet written) allowed per
    /// recording; default 8 MiB.
    pub budget_bytes: usize,
    /// Commands the channel holds; default 4096.
    pub channel_capacity: usize,
    /// The thread flushes every open file at least this often; default 1000.
    pub flush_interval_ms: u64,
    /// fsync each file at every flush interval and when it is closed
    /// (`record_fsync`); default off.
    pub fsync: bool,
    /// How files are opened; default [`open_file_sink`]. Tests inject
    /// failing or slow writers here.
    pub opener: SinkOpener,
}

impl RecorderConfig {
    /// Defaults with the given directory.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        RecorderConfig {
            dir: dir.into(),
            budget_bytes: 8 * 1024 * 1024,
            channel_capacity: 4096,
            flush_interval_ms: 1000,
            fsync: false,
            opener: Arc::new(open_file_sink),
        }
    }
}

impl Default for RecorderConfig {
    /// Defaults, writing into `./recordings`.
    fn default() -> Self {
        RecorderConfig::new("recordings")
    }
}

impl fmt::Debug for RecorderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecorderConfig")
            .field("dir", &self.dir)
            .field("budget_bytes", &self.budget_bytes)
            .field("channel_capacity", &self.channel_capacity)
            .field("flush_interval_ms", &self.flush_interval_ms)
            .field("fsync", &self.fsync)
            .finish_non_exhaustive()
    }
}
