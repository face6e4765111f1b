//! Replays the committed fuzz regression corpus (`fuzz/regressions/TARGET/*`)
//! through the same checks as the cargo-fuzz targets (`fuzz/checks.rs`), so a
//! regression found by fuzzing stays fixed without running the fuzzer.

use std::path::{Path, PathBuf};

#[path = "../fuzz/checks.rs"]
mod checks;

/// Every file in `fuzz/regressions/<target>/`, sorted.
fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Feeds each regression of `target` to `check`; names the file that fails.
fn replay(target: &str, check: fn(&[u8])) {
    let files = corpus(target);
    assert!(!files.is_empty(), "no regressions for {target}");
    for path in files {
        let data = std::fs::read(&path).expect("read regression");
        let r = std::panic::catch_unwind(|| check(&data));
        assert!(r.is_ok(), "{target}: {} fails its check", path.display());
    }
}

#[test]
fn handshake_regressions_pass_the_handshake_target() {
    replay("handshake", checks::handshake::check);
}

#[test]
fn chunk_regressions_pass_the_chunk_target() {
    replay("chunk", checks::chunk::check);
}

#[test]
fn amf0_regressions_pass_the_amf0_target() {
    replay("amf0", checks::amf0::check);
}

#[test]
fn session_regressions_pass_the_session_target() {
    replay("session", checks::session::check);
}

#[test]
fn tracks_regressions_pass_the_tracks_target() {
    replay("tracks", checks::tracks::check);
}

/// Every corpus folder has its replay test above.
#[test]
fn every_regression_folder_is_replayed() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("fuzz/regressions")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    assert_eq!(names, ["amf0", "chunk", "handshake", "session", "tracks"]);
}
