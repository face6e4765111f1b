//! A lightweight player protocol for the benchmark harness.
//!
//! [`LightSubscriber`] speaks just enough RTMP to play one stream
//! (`connect`, `createStream`, `play`, acknowledgements, ping responses) and
//! parses the chunk stream itself with a [`ChunkDecoder`]. Audio and video
//! messages are handed out as the reassembled `Bytes` without decoding them
//! into typed messages; only control and command messages are decoded.
//!
//! Driving order: after the handshake call [`LightSubscriber::start`] once,
//! then [`LightSubscriber::handle_input`] whenever bytes arrive, sending what
//! it writes into `out`. Sans-IO: no socket, no clock.

use bytes::{Bytes, BytesMut};
use log::{debug, trace};

use crate::proto::amf0::Amf0Value;
use crate::proto::chunk::{ChunkDecoder, ChunkEncoder, ChunkLimits, RawMessage};
use crate::proto::client::ClientError as SessionError;
use crate::proto::command::{self, Command, LEVEL_ERROR};
use crate::proto::message::{RtmpMessage, UserControl, TYPE_AUDIO, TYPE_VIDEO};
use crate::proto::session::MediaKind;

/// What a [`LightSubscriber`] reports.
#[derive(Debug, Clone, PartialEq)]
pub enum LightEvent {
    /// onStatus NetStream.Play.Start.
    Started,
    /// An audio/video message on our stream.
    Media {
        kind: MediaKind,
        timestamp: u32,
        payload: Bytes,
    },
    /// `_error` or an error-level onStatus, with its code.
    Rejected(String),
    /// StreamEOF or Play.UnpublishNotify.
    Ended,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    New,
    Connecting,
    Creating,
    Playing,
}

/// Minimal RTMP player; see the module docs.
pub struct LightSubscriber {
    app: String,
    tc_url: String,
    stream: String,
    decoder: ChunkDecoder,
    encoder: ChunkEncoder,
    state: State,
    stream_id: u32,
    received: u64,
    last_ack: u64,
    window: u32,
}

const TX_CONNECT: f64 = 1.0;
const TX_CREATE: f64 = 2.0;
const TX_PLAY: f64 = 3.0;

impl LightSubscriber {
    pub fn new(app: &str, tc_url: &str, stream: &str) -> Self {
        LightSubscriber {
            app: app.to_owned(),
            tc_url: tc_url.to_owned(),
            stream: stream.to_owned(),
            decoder: ChunkDecoder::new(ChunkLimits::default()),
            encoder: ChunkEncoder::new(),
            state: State::New,
            stream_id: 0,
            received: 0,
            last_ack: 0,
            window: 0,
        }
    }

    /// Write `connect`.
    pub fn start(&mut self, out: &mut BytesMut) {
        let v = command::connect(TX_CONNECT, &self.app, &self.tc_url, false);
        self.command(0, &v, out);
        self.state = State::Connecting;
    }

    /// True once Play.Start arrived.
    pub fn is_playing(&self) -> bool {
        self.state == State::Playing
    }

    /// Decode everything complete in `input`.
    pub fn handle_input(
        &mut self,
        input: &mut BytesMut,
        out: &mut BytesMut,
        on: &mut dyn FnMut(LightEvent),
    ) -> Result<(), SessionError> {
        loop {
            let before = input.len();
            let r = self.decoder.decode(input);
            self.received += (before - input.len()) as u64;
            if self.window > 0 && self.received - self.last_ack >= u64::from(self.window) {
                self.last_ack = self.received;
                let ack = RtmpMessage::Acknowledgement {
                    sequence: self.received as u32,
                };
                self.encoder.encode(&ack.encode(), out);
            }
            let Some(raw) = r? else { return Ok(()) };
            match raw.type_id {
                TYPE_AUDIO | TYPE_VIDEO => {
                    if raw.stream_id == self.stream_id && !raw.payload.is_empty() {
                        on(LightEvent::Media {
                            kind: if raw.type_id == TYPE_AUDIO {
                                MediaKind::Audio
                            } else {
                                MediaKind::Video
                            },
                            timestamp: raw.timestamp,
                            payload: raw.payload,
                        });
                    }
                }
                _ => self.control(&raw, out, on)?,
            }
        }
    }

    fn control(
        &mut self,
        raw: &RawMessage,
        out: &mut BytesMut,
        on: &mut dyn FnMut(LightEvent),
    ) -> Result<(), SessionError> {
        match RtmpMessage::decode(raw)? {
            RtmpMessage::WindowAckSize(w) => self.window = w,
            RtmpMessage::UserControl(UserControl::PingRequest(t)) => {
                let m = RtmpMessage::UserControl(UserControl::PingResponse(t));
                self.encoder.encode(&m.encode(), out);
            }
            RtmpMessage::UserControl(UserControl::StreamEof(_)) => on(LightEvent::Ended),
            RtmpMessage::Command { values, .. } => self.on_command(&values, out, on)?,
            other => trace!("light subscriber ignores {other:?}"),
        }
        Ok(())
    }

    fn on_command(
        &mut self,
        values: &[Amf0Value],
        out: &mut BytesMut,
        on: &mut dyn FnMut(LightEvent),
    ) -> Result<(), SessionError> {
        match Command::parse(values)? {
            Command::Result { tx, args } => {
                if tx == TX_CONNECT && self.state == State::Connecting {
                    self.command(0, &command::create_stream(TX_CREATE), out);
                    self.state = State::Creating;
                } else if tx == TX_CREATE && self.state == State::Creating {
                    let id = args.iter().rev().find_map(Amf0Value::as_number);
                    self.stream_id = match id {
                        Some(n) if n >= 1.0 && n <= f64::from(u32::MAX) => n as u32,
                        _ => 1,
                    };
                    let v = command::play(TX_PLAY, &self.stream, -2.0);
                    self.command(self.stream_id, &v, out);
                    let buf = RtmpMessage::UserControl(UserControl::SetBufferLength {
                        stream_id: self.stream_id,
                        buffer_ms: 1000,
                    });
                    self.encoder.encode(&buf.encode(), out);
                }
            }
            Command::Error { args, .. } => {
                on(LightEvent::Rejected(
                    command::info_code(&args).unwrap_or("_error").to_owned(),
                ));
            }
            Command::OnStatus { level, code, .. } => {
                debug!("light subscriber status {code}");
                if level == LEVEL_ERROR {
                    on(LightEvent::Rejected(code));
                } else if code == command::CODE_PLAY_START {
                    self.state = State::Playing;
                    on(LightEvent::Started);
                } else if code == command::CODE_PLAY_UNPUBLISH_NOTIFY {
                    on(LightEvent::Ended);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn command(&mut self, stream_id: u32, values: &[Amf0Value], out: &mut BytesMut) {
        let msg = RtmpMessage::Command {
            stream_id,
            values: values.to_vec(),
        };
        self.encoder.encode(&msg.encode(), out);
    }
}
