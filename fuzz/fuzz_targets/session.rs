//! Fuzz the server session: a fixed valid handshake (C0 = 3, zero C1 and C2),
//! then arbitrary bytes into `ServerSession::handle_input`. The first byte
//! chooses the piece sizes. Errors end the connection and are ignored; only
//! panics, hangs and runaway allocations are findings.
//!
//! The body lives in `../checks.rs`, shared with `tests/fuzz_regressions.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::session::check(data));
