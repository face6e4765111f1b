//! The sans-IO RTMP protocol core.
//!
//! Rules every module here keeps:
//! * no sockets, no files, no clock (`now` is passed in as milliseconds), no
//!   hidden RNG (callers supply one);
//! * push parsers: "need more bytes" is `Ok(None)`, never an error;
//! * every size a peer controls is capped and a cap yields a typed error;
//! * wire constants have one home: message type ids in [`message`]
//!   (`TYPE_*`), chunk stream ids in [`chunk`] (`CSID_*`), status codes and
//!   well-known command/data names in [`status`].

pub mod amf0;
pub mod chunk;
pub mod client;
pub mod command;
pub mod flv;
pub mod handshake;
pub mod message;
pub mod session;
pub mod status;
