//! Helpers for the hostile-input suites (raw bytes after a handshake, health checks).
