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
use crate::proto::command::{self, Command, CMD_ERROR, LEVEL_ERROR};
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
                    command::info_code(&args).unwrap_or(CMD_ERROR).to_owned(),
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

/// The capture-finding rule of the integration tests, shared as one file.
#[cfg(test)]
#[path = "../../tests/common/captures.rs"]
mod test_captures;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::client::{ClientConfig, ClientEvent, ClientMode, ClientSession};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// Bytes of nginx's answer to ffmpeg's play session, after S0S1S2
    /// (`None`: skipped, see `tests/common/captures.rs`).
    fn capture() -> Option<Vec<u8>> {
        let all = test_captures::read_capture("ffmpeg_play.s2c.bin")?;
        Some(all[1 + 2 * 1536..].to_vec())
    }

    type Media = Vec<(MediaKind, u32, Bytes)>;

    /// Feed `bytes` in pieces cut at `cuts`; collect what the subscriber reports.
    fn run_light(bytes: &[u8], cuts: &[usize]) -> (bool, Media, bool, BytesMut) {
        let mut sub = LightSubscriber::new("live", "rtmp://127.0.0.1:19351/live", "cap");
        let mut out = BytesMut::new();
        sub.start(&mut out);
        let (mut started, mut ended, mut media) = (false, false, Vec::new());
        let mut input = BytesMut::new();
        let mut at = 0;
        for &cut in cuts.iter().chain(std::iter::once(&bytes.len())) {
            input.extend_from_slice(&bytes[at..cut]);
            at = cut;
            sub.handle_input(&mut input, &mut out, &mut |ev| match ev {
                LightEvent::Started => started = true,
                LightEvent::Ended => ended = true,
                LightEvent::Media {
                    kind,
                    timestamp,
                    payload,
                } => media.push((kind, timestamp, payload)),
                LightEvent::Rejected(code) => panic!("rejected: {code}"),
            })
            .expect("capture decodes");
        }
        assert!(input.is_empty(), "{} bytes left undecoded", input.len());
        (started, media, ended, out)
    }

    #[test]
    fn light_subscriber_matches_client_session_on_nginx_capture() {
        let Some(bytes) = capture() else { return };
        let (started, media, ended, out) = run_light(&bytes, &[]);
        assert!(started, "Play.Start not seen");
        assert!(ended, "nginx's UnpublishNotify/StreamEOF not seen");
        // It answered connect with createStream and createStream with play.
        assert!(out.len() > 200, "commands written: {} bytes", out.len());

        // The full session decodes the same bytes into the same media.
        let cfg = ClientConfig::new(
            "live",
            "rtmp://127.0.0.1:19351/live",
            "cap",
            ClientMode::Play,
        );
        let mut session = ClientSession::new(cfg);
        let mut sout = BytesMut::new();
        session.start(&mut sout);
        let mut events = Vec::new();
        let mut input = BytesMut::from(&bytes[..]);
        session
            .handle_input(&mut input, &mut events, &mut sout)
            .expect("session decodes capture");
        let want: Media = events
            .into_iter()
            .filter_map(|e| match e {
                ClientEvent::Media {
                    kind,
                    timestamp,
                    payload,
                } => Some((kind, timestamp, payload)),
                _ => None,
            })
            .collect();
        // The outline of ffmpeg_play.s2c.bin: 200 messages, ~190 of them media.
        assert!(
            want.len() > 150,
            "session saw {} media messages",
            want.len()
        );
        assert_eq!(media, want);
    }

    #[test]
    fn light_subscriber_random_splits_give_the_same_media() {
        let Some(bytes) = capture() else { return };
        let (_, whole, _, whole_out) = run_light(&bytes, &[]);
        for seed in 0..64u64 {
            let mut rng = StdRng::seed_from_u64(seed);
            let n = rng.random_range(1..200);
            let mut cuts: Vec<usize> = (0..n).map(|_| rng.random_range(0..bytes.len())).collect();
            cuts.sort_unstable();
            let r = std::panic::catch_unwind(|| run_light(&bytes, &cuts));
            let (_, media, _, out) = r.unwrap_or_else(|_| panic!("seed {seed}: panicked"));
            assert_eq!(media, whole, "seed {seed}: media differ");
            assert_eq!(out, whole_out, "seed {seed}: written commands differ");
        }
    }
}
