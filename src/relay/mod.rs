//! The sans-IO relay: shared frames, per-key stream state and per-subscriber
//! queues.
//!
//! Rules every module here keeps (as in [`crate::proto`]):
//! * no sockets, no files, no clock: the caller passes `now_ms` (a monotonic
//!   millisecond clock of its choice) into every function that needs time;
//! * every published media message is turned into one [`frame::Frame`] whose
//!   payload is shared (a `Bytes` refcount) by every subscriber queue, the
//!   GOP cache and the recorder; beside it the frame keeps its canonical
//!   RTMP chunk headers inline (24 bytes), never a chunked copy of the
//!   payload. The per-subscriber fan-out cost is a `Frame` clone and a ring
//!   push, with no allocation and no copy;
//! * the caller owns the connections; the relay only stores their ids;
//! * a subscriber queue writes either the RTMP form of each frame (its chunk
//!   headers between chunk-sized slices of the payload) or, for an HTTP-FLV
//!   viewer ([`queue::OutputForm::Flv`]), the frame's FLV tag header and
//!   trailer (built once with the frame) around its shared payload: the
//!   same frames serve both, no per-viewer bytes are made, and the payload
//!   is in memory once.
//!
//! Driving order for one published message (the server loop):
//! 1. [`stream::StreamTable::on_media`] (or `on_metadata`) with the
//!    publisher's id: it rebases the timestamp, builds the frame once, updates
//!    the late-join caches and returns the frame with the viewer ids;
//! 2. for each viewer id: [`queue::SubscriberQueue::offer`]`(frame.clone(), now_ms)`;
//!    `Offer::Overflow` means "close this viewer as too slow";
//! 3. when a viewer socket is writable: [`queue::SubscriberQueue::io_slices`],
//!    `write_vectored`, then [`queue::SubscriberQueue::advance`] by the bytes
//!    written;
//! 4. on a timer: close viewers whose [`queue::SubscriberQueue::congested_since`]
//!    is older than the slow-subscriber timeout.
//!
//! A joining viewer: [`stream::StreamTable::add_viewer`] returns its start
//! frames, which go through [`queue::SubscriberQueue::offer_start`] (not
//! `offer`), so the cached GOP is admitted whole or not at all.

pub mod frame;
pub mod headers;
pub mod queue;
mod rebase;
pub mod stream;

pub use frame::{Frame, FrameClass};
pub use queue::{Offer, OutputForm, QueueConfig, SubscriberQueue};
pub use stream::{PublishClaim, StreamConfig, StreamStats, StreamTable};
