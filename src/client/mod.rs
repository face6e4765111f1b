//! Client side: URL parsing and mio drivers for client connections.

pub mod url;

pub use url::{RtmpUrl, UrlError};
