//! `/static/` files from disk, for the endpoint's HTTP answers.

use std::fs;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use log::debug;

use crate::endpoint::StaticFiles;

/// Largest file served under `/static/`.
const MAX_STATIC_BYTES: u64 = 32 * 1024 * 1024;

/// Reads files under one directory. The path the endpoint gives has been
/// checked by text already; here it is also canonicalised, so a symbolic
/// link that leads out of the directory is refused too.
pub struct DiskFiles {
    root: Option<PathBuf>,
}

impl DiskFiles {
    pub fn new(dir: &Path) -> DiskFiles {
        DiskFiles {
            root: fs::canonicalize(dir).ok(),
        }
    }
}

impl StaticFiles for DiskFiles {
    fn read(&mut self, path: &Path) -> Option<Bytes> {
        let root = self.root.as_ref()?;
        let real = fs::canonicalize(path).ok()?;
        if !real.starts_with(root) {
            debug!("static {}: leaves the static directory", path.display());
            return None;
        }
        let meta = fs::metadata(&real).ok()?;
        if !meta.is_file() || meta.len() > MAX_STATIC_BYTES {
            return None;
        }
        fs::read(&real).ok().map(Bytes::from)
    }
}
