//! The client role: `start` writes C0C1, `feed` reads S0S1S2 and writes C2
//! (see the module docs of [`super`] for the forms and the driving rules).

use bytes::{Buf, BufMut, BytesMut};
use log::{debug, error};
use rand::RngCore;

use super::digest::{self, DigestScheme, DIGEST_LEN, SIGNED_LEN};
use super::{
    fill, make_packet, HandshakeError, HandshakeForm, PeerInfo, Progress, CLIENT_VERSION,
    HANDSHAKE_SIZE, RTMP_VERSION,
};

#[derive(Debug)]
enum ClientState {
    Idle,
    ReadS0,
    ReadS1 { have: usize },
    ReadS2 { have: usize },
    Done,
    Failed(HandshakeError),
}

/// Client side: `start` writes C0C1, then `feed` reads S0S1S2 and writes C2.
#[derive(Debug)]
pub struct ClientHandshake {
    epoch_ms: u32,
    /// The form our C1 offers.
    offer: HandshakeForm,
    state: ClientState,
    /// Our C1 once written (S2 is compared against it).
    c1: Option<Box<[u8; HANDSHAKE_SIZE]>>,
    /// Digest offer: our C1 digest and a C2 whose first 1504 bytes are
    /// random, signed once S1 is known.
    c1_digest: [u8; DIGEST_LEN],
    c2: Option<Box<[u8; HANDSHAKE_SIZE]>>,
    /// The peer's S1 while it arrives, then its S2.
    buf: Box<[u8; HANDSHAKE_SIZE]>,
    peer: Option<PeerInfo>,
    /// The server's form, read from S1.
    form: Option<HandshakeForm>,
    s2_matches: bool,
    s2_signed: Option<bool>,
}

impl ClientHandshake {
    /// `epoch_ms` is the client time written into C1 (bytes 0-3). C1 offers
    /// the digest form in scheme 0, as ffmpeg does for plain RTMP.
    pub fn new(epoch_ms: u32) -> Self {
        ClientHandshake::with_form(epoch_ms, HandshakeForm::Digest(DigestScheme::Scheme0))
    }

    /// Like [`new`](Self::new), offering `offer`: the digest form in either
    /// scheme, or the simple form (C1 bytes 4-7 zero; C2 always echoes S1).
    pub fn with_form(epoch_ms: u32, offer: HandshakeForm) -> Self {
        ClientHandshake {
            epoch_ms,
            offer,
            state: ClientState::Idle,
            c1: None,
            c1_digest: [0; DIGEST_LEN],
            c2: None,
            buf: Box::new([0u8; HANDSHAKE_SIZE]),
            peer: None,
            form: None,
            s2_matches: true,
            s2_signed: None,
        }
    }

    /// Write C0 and C1 to `out`. Only the first call writes; later calls are
    /// logged as a driver bug and ignored.
    pub fn start(&mut self, out: &mut BytesMut, rng: &mut dyn RngCore) {
        if !matches!(self.state, ClientState::Idle) {
            error!("handshake: client start called twice; ignored");
            return;
        }
        let c1 = match self.offer {
            HandshakeForm::Simple => make_packet(self.epoch_ms, [0; 4], rng),
            HandshakeForm::Digest(scheme) => {
                let mut c1 = make_packet(self.epoch_ms, CLIENT_VERSION, rng);
                self.c1_digest = digest::imprint(&mut c1, scheme, digest::CLIENT_PARTIAL_KEY);
                let mut c2 = Box::new([0u8; HANDSHAKE_SIZE]);
                rng.fill_bytes(&mut c2[..SIGNED_LEN]);
                self.c2 = Some(c2);
                c1
            }
        };
        out.reserve(1 + HANDSHAKE_SIZE);
        out.put_u8(RTMP_VERSION);
        out.put_slice(&c1[..]);
        self.c1 = Some(c1);
        self.state = ClientState::ReadS0;
        debug!("handshake: client wrote C0C1 ({} form)", self.offer);
    }

    /// Consume handshake bytes from the front of `input`; see the module
    /// docs. C2 is appended to `out` by the call that completes S1.
    pub fn feed(
        &mut self,
        input: &mut BytesMut,
        out: &mut BytesMut,
    ) -> Result<Progress, HandshakeError> {
        loop {
            match &mut self.state {
                ClientState::Idle => return Err(HandshakeError::NotStarted),
                ClientState::Failed(e) => return Err(e.clone()),
                ClientState::Done => return Err(HandshakeError::AlreadyDone),
                ClientState::ReadS0 => {
                    let Some(&v) = input.first() else {
                        return Ok(Progress::InProgress);
                    };
                    if v != RTMP_VERSION {
                        debug!("handshake: S0 version {v} rejected");
                        let e = HandshakeError::BadVersion(v);
                        self.state = ClientState::Failed(e.clone());
                        return Err(e);
                    }
                    input.advance(1);
                    self.state = ClientState::ReadS1 { have: 0 };
                }
                ClientState::ReadS1 { have } => {
                    if !fill(&mut self.buf, have, input, None) {
                        return Ok(Progress::InProgress);
                    }
                    self.answer_s1(out);
                    self.state = ClientState::ReadS2 { have: 0 };
                }
                ClientState::ReadS2 { have } => {
                    let Some(c1) = self.c1.as_deref() else {
                        error!("handshake: client in ReadS2 without C1");
                        debug_assert!(false, "client in ReadS2 without C1");
                        return Ok(Progress::InProgress);
                    };
                    let expected = Some((c1, &mut self.s2_matches));
                    if !fill(&mut self.buf, have, input, expected) {
                        return Ok(Progress::InProgress);
                    }
                    if let Some(HandshakeForm::Digest(_)) = self.form {
                        let key = digest::response_key(&digest::SERVER_FULL_KEY, &self.c1_digest);
                        let signed = digest::response_signed(&self.buf, &key);
                        self.s2_signed = Some(signed);
                        if !signed && !self.s2_matches {
                            debug!("handshake: S2 signature mismatch after a digest S1");
                            let e = HandshakeError::BadS2Signature;
                            self.state = ClientState::Failed(e.clone());
                            return Err(e);
                        }
                    }
                    debug!(
                        "handshake: client done ({} form, S2 {}); {} bytes left for chunks",
                        self.form.unwrap_or(HandshakeForm::Simple),
                        match (self.s2_signed, self.s2_matches) {
                            (Some(true), _) => "signed",
                            (_, true) => "echoes C1",
                            _ => "differs from C1",
                        },
                        input.len()
                    );
                    self.state = ClientState::Done;
                    return Ok(Progress::Done);
                }
            }
        }
    }

    /// S1 is complete in `buf`: find the server's form and write C2.
    fn answer_s1(&mut self, out: &mut BytesMut) {
        let s1 = &*self.buf;
        let peer = PeerInfo::from_packet(s1);
        self.peer = Some(peer);
        let scheme = if self.c2.is_some() && peer.is_digest_form() {
            digest::find_digest(s1, digest::SERVER_PARTIAL_KEY)
        } else {
            None
        };
        match (scheme, self.c2.as_deref_mut()) {
            (Some(scheme), Some(c2)) => {
                let s1_digest = digest::digest_at(s1, scheme);
                let key = digest::response_key(&digest::CLIENT_FULL_KEY, &s1_digest);
                digest::sign_response(c2, &key);
                out.put_slice(&c2[..]);
                self.form = Some(HandshakeForm::Digest(scheme));
            }
            _ => {
                out.put_slice(&s1[..]);
                self.form = Some(HandshakeForm::Simple);
            }
        }
        // The C2 draft is spent either way.
        self.c2 = None;
        debug!(
            "handshake: S1 time {} version {:02x?}, writing C2 ({} form)",
            peer.time,
            peer.version,
            self.form.unwrap_or(HandshakeForm::Simple)
        );
    }

    /// True once S2 has been read.
    pub fn is_done(&self) -> bool {
        matches!(self.state, ClientState::Done)
    }

    /// The peer's S1 time and version bytes, once S1 is complete.
    pub fn peer_info(&self) -> Option<PeerInfo> {
        self.peer
    }

    /// The form our C1 offers (set at construction).
    pub fn offered_form(&self) -> HandshakeForm {
        self.offer
    }

    /// The form the server answered with, once S1 is complete: `Digest` when
    /// S1 carried a valid server digest (and we offered one), else `Simple`.
    pub fn form(&self) -> Option<HandshakeForm> {
        self.form
    }

    /// The scheme of the server's S1 digest, when the digest form was used.
    pub fn digest_scheme(&self) -> Option<DigestScheme> {
        self.form.and_then(HandshakeForm::digest_scheme)
    }

    /// Whether the S2 bytes read so far equal our C1 (`None` before `start`).
    /// Informational in the simple form.
    pub fn s2_echoed_c1(&self) -> Option<bool> {
        self.c1.as_ref().map(|_| self.s2_matches)
    }

    /// Digest form, once S2 is complete: whether S2 carried a valid
    /// signature for our C1 digest. `None` in the simple form.
    pub fn s2_signed(&self) -> Option<bool> {
        self.s2_signed
    }
}
