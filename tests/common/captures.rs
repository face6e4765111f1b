//! The one capture-finding rule, shared by every test that reads
//! `shared/captures` (the integration tests through `#[path]`, and the unit
//! tests in `src/client/light.rs`). It depends on nothing but std.
//!
//! Where it looks, in order: `$RTMP_CAPTURES`; `shared/captures` beside the
//! checkout (`CARGO_MANIFEST_DIR/../shared`, CI's layout); and, when the
//! checkout is a git worktree (`.git` is a file), `shared/captures` one level
//! above that. Nothing else.
//!
//! When the file is in none of them: panics if `RTMP_REQUIRE_INTEROP` is set
//! (CI), otherwise prints `SKIPPED: reason` and returns `None`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The folders searched, in order.
pub fn capture_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut dirs = Vec::new();
    if let Some(d) = std::env::var_os("RTMP_CAPTURES") {
        dirs.push(PathBuf::from(d));
    }
    dirs.push(root.join("../shared/captures"));
    if root.join(".git").is_file() {
        dirs.push(root.join("../../shared/captures"));
    }
    dirs
}

/// Path of capture `name`, or `None` after printing why the test is skipped.
/// Panics instead of skipping when `RTMP_REQUIRE_INTEROP` is set.
pub fn find_capture(name: &str) -> Option<PathBuf> {
    let dirs = capture_dirs();
    if let Some(p) = dirs.iter().map(|d| d.join(name)).find(|p| p.is_file()) {
        return Some(p);
    }
    let reason = format!("capture {name} not found in {dirs:?} (set RTMP_CAPTURES)");
    if std::env::var_os("RTMP_REQUIRE_INTEROP").is_some() {
        panic!("RTMP_REQUIRE_INTEROP is set but {reason}");
    }
    println!("SKIPPED: {reason}");
    None
}

/// The bytes of capture `name` (see [`find_capture`] for `None`).
pub fn read_capture(name: &str) -> Option<Vec<u8>> {
    let path = find_capture(name)?;
    Some(std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}
