//! Golden `NAME.bin` + `NAME.txt` pairs (chunk and message suites, included
//! with `#[path]`). The tests compare; only a suite's ignored `regen_*` test
//! switches its own thread to writing, so no environment variable can turn a
//! comparison into a write.
#![allow(dead_code)]

use std::cell::Cell;
use std::path::Path;

thread_local! {
    static REGEN: Cell<bool> = const { Cell::new(false) };
}

/// Called first by a `regen_*` test: on this thread, [`golden_pair`] writes.
pub fn regenerate_on_this_thread() {
    REGEN.with(|r| r.set(true));
}

/// Compare `bytes`/`text` with `dir/NAME.{bin,txt}` (or, under a `regen_*`
/// test, write them); returns the bytes now on disk.
pub fn golden_pair(dir: &Path, name: &str, bytes: &[u8], text: &str) -> Vec<u8> {
    let bin = dir.join(format!("{name}.bin"));
    let txt = dir.join(format!("{name}.txt"));
    if REGEN.with(Cell::get) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(&bin, bytes).unwrap();
        std::fs::write(&txt, text).unwrap();
        return bytes.to_vec();
    }
    let want = std::fs::read(&bin).unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
    assert_eq!(
        want, bytes,
        "golden {name}.bin differs from the spec layout"
    );
    let want_txt =
        std::fs::read_to_string(&txt).unwrap_or_else(|e| panic!("{}: {e}", txt.display()));
    assert_eq!(want_txt, text, "golden {name}.txt");
    want
}
