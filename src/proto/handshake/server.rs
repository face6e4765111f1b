//! The server role: reads C0C1, writes S0S1S2, reads C2 (see the module docs
//! of [`super`] for the forms and the driving rules).

use bytes::{Buf, BufMut, BytesMut};
use log::{debug, error};
use rand::RngCore;

use super::digest::{self, DIGEST_LEN, SIGNED_LEN};
use super::{
    fill, make_packet, HandshakeError, HandshakeForm, PeerInfo, Progress, HANDSHAKE_SIZE,
    RTMP_VERSION, SERVER_VERSION,
};

#[derive(Debug)]
enum ServerState {
    ReadC0,
    ReadC1 { have: usize },
    ReadC2 { have: usize },
    Done,
    Failed(HandshakeError),
}

/// Server side: reads C0C1, writes S0S1S2, reads C2.
#[derive(Debug)]
pub struct ServerHandshake {
    epoch_ms: u32,
    state: ServerState,
    /// The peer's C1 while it arrives, then its C2.
    buf: Box<[u8; HANDSHAKE_SIZE]>,
    /// Our S1 once written (C2 is compared against it, for logging only).
    s1: Option<Box<[u8; HANDSHAKE_SIZE]>>,
    peer: Option<PeerInfo>,
    form: Option<HandshakeForm>,
    /// Digest form: the key a player's C2 signature is checked with.
    c2_key: Option<[u8; DIGEST_LEN]>,
    c2_matches: bool,
    c2_signed: Option<bool>,
}

impl ServerHandshake {
    /// `epoch_ms` is the server time written into S1 (bytes 0-3).
    pub fn new(epoch_ms: u32) -> Self {
        ServerHandshake {
            epoch_ms,
            state: ServerState::ReadC0,
            buf: Box::new([0u8; HANDSHAKE_SIZE]),
            s1: None,
            peer: None,
            form: None,
            c2_key: None,
            c2_matches: true,
            c2_signed: None,
        }
    }

    /// Consume handshake bytes from the front of `input`; see the module
    /// docs. S0S1S2 is appended to `out` by the call that completes C1.
    pub fn feed(
        &mut self,
        input: &mut BytesMut,
        out: &mut BytesMut,
        rng: &mut dyn RngCore,
    ) -> Result<Progress, HandshakeError> {
        loop {
            match &mut self.state {
                ServerState::Failed(e) => return Err(e.clone()),
                ServerState::Done => return Err(HandshakeError::AlreadyDone),
                ServerState::ReadC0 => {
                    let Some(&v) = input.first() else {
                        return Ok(Progress::InProgress);
                    };
                    if v != RTMP_VERSION {
                        debug!("handshake: C0 version {v} rejected");
                        let e = HandshakeError::BadVersion(v);
                        self.state = ServerState::Failed(e.clone());
                        return Err(e);
                    }
                    input.advance(1);
                    self.state = ServerState::ReadC1 { have: 0 };
                }
                ServerState::ReadC1 { have } => {
                    if !fill(&mut self.buf, have, input, None) {
                        return Ok(Progress::InProgress);
                    }
                    self.answer_c1(out, rng);
                    self.state = ServerState::ReadC2 { have: 0 };
                }
                ServerState::ReadC2 { have } => {
                    let Some(s1) = self.s1.as_deref() else {
                        // S1 is always set before ReadC2 is entered.
                        error!("handshake: server in ReadC2 without S1");
                        debug_assert!(false, "server in ReadC2 without S1");
                        return Ok(Progress::InProgress);
                    };
                    let expected = Some((s1, &mut self.c2_matches));
                    if !fill(&mut self.buf, have, input, expected) {
                        return Ok(Progress::InProgress);
                    }
                    self.c2_signed = self
                        .c2_key
                        .map(|key| digest::response_signed(&self.buf, &key));
                    debug!(
                        "handshake: C2 read ({}), done; {} bytes left for chunks",
                        self.summary(),
                        input.len()
                    );
                    self.state = ServerState::Done;
                    return Ok(Progress::Done);
                }
            }
        }
    }

    /// C1 is complete in `buf`: choose the form and write S0S1S2.
    fn answer_c1(&mut self, out: &mut BytesMut, rng: &mut dyn RngCore) {
        let c1 = &*self.buf;
        let peer = PeerInfo::from_packet(c1);
        self.peer = Some(peer);
        let scheme = if peer.is_digest_form() {
            digest::find_digest(c1, digest::CLIENT_PARTIAL_KEY)
        } else {
            None
        };
        out.reserve(1 + 2 * HANDSHAKE_SIZE);
        out.put_u8(RTMP_VERSION);
        let s1 = match scheme {
            Some(scheme) => {
                let mut s1 = make_packet(self.epoch_ms, SERVER_VERSION, rng);
                let s1_digest = digest::imprint(&mut s1, scheme, digest::SERVER_PARTIAL_KEY);
                let c1_digest = digest::digest_at(c1, scheme);
                let mut s2 = [0u8; HANDSHAKE_SIZE];
                rng.fill_bytes(&mut s2[..SIGNED_LEN]);
                let s2_key = digest::response_key(&digest::SERVER_FULL_KEY, &c1_digest);
                digest::sign_response(&mut s2, &s2_key);
                self.c2_key = Some(digest::response_key(&digest::CLIENT_FULL_KEY, &s1_digest));
                out.put_slice(&s1[..]);
                out.put_slice(&s2);
                self.form = Some(HandshakeForm::Digest(scheme));
                s1
            }
            None => {
                let s1 = make_packet(self.epoch_ms, [0; 4], rng);
                out.put_slice(&s1[..]);
                out.put_slice(&c1[..]);
                self.form = Some(HandshakeForm::Simple);
                s1
            }
        };
        debug!(
            "handshake: C1 time {} version {:02x?}, writing S0S1S2 ({} form)",
            peer.time,
            peer.version,
            self.form.unwrap_or(HandshakeForm::Simple)
        );
        self.s1 = Some(s1);
    }

    /// True once C2 has been read.
    pub fn is_done(&self) -> bool {
        matches!(self.state, ServerState::Done)
    }

    /// The peer's C1 time and version bytes, once C1 is complete.
    pub fn peer_info(&self) -> Option<PeerInfo> {
        self.peer
    }

    /// The form of our answer, once C1 is complete.
    pub fn form(&self) -> Option<HandshakeForm> {
        self.form
    }

    /// The digest scheme of C1 and of our S1, when the digest form was used.
    pub fn digest_scheme(&self) -> Option<super::DigestScheme> {
        self.form.and_then(HandshakeForm::digest_scheme)
    }

    /// Whether the C2 bytes read so far equal our S1 (`None` before S1 was
    /// sent). Informational: a differing C2 is accepted.
    pub fn c2_echoed_s1(&self) -> Option<bool> {
        self.s1.as_ref().map(|_| self.c2_matches)
    }

    /// Digest form, once C2 is complete: whether C2 carries a valid
    /// signature for our S1 digest (ffmpeg's player signs, its publisher
    /// echoes). `None` in the simple form or before C2 is complete.
    /// Informational: an unsigned C2 is accepted.
    pub fn c2_signed(&self) -> Option<bool> {
        self.c2_signed
    }

    /// One phrase for logs: the form and what C2 was, e.g. `digest scheme 0,
    /// C2 signed`.
    pub fn summary(&self) -> String {
        let form = self.form.map_or("no C1".to_string(), |f| f.to_string());
        let c2 = match (self.c2_signed, self.c2_echoed_s1()) {
            (Some(true), _) => "C2 signed",
            (_, Some(true)) => "C2 echoes S1",
            (Some(false), _) => "C2 neither signed nor an echo",
            _ => "C2 differs from S1",
        };
        format!("{form}, {c2}")
    }
}
