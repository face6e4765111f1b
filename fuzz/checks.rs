//! The checks of the fuzz targets, as plain functions: each
//! `fuzz_targets/NAME.rs` calls `checks::NAME::check(data)`, and
//! `tests/fuzz_regressions.rs` (a normal `cargo test` of the main crate)
//! replays every file in `regressions/NAME/` through the same function.
//! Both include this file with `#[path]`; it uses only `bytes`, `rand` and
//! `rtmp_edge`, which both crates depend on. Each includer uses only part.
#![allow(dead_code)]

/// Fuzz the handshake: arbitrary bytes, split at arbitrary points, into a
/// `ServerHandshake` and (as a server answer) into a started
/// `ClientHandshake`. Checks the contract, not just "no panic": on `Done`
/// exactly 3073 bytes were consumed and the echo (simple form) or the
/// signature (digest form, e.g. for a real ffmpeg C1 in the corpus) is right;
/// a bad first byte is `BadVersion` of that byte.
pub mod handshake {
    use bytes::BytesMut;
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use rtmp_edge::proto::handshake::digest;
    use rtmp_edge::proto::handshake::{
        ClientHandshake, HandshakeError, Progress, ServerHandshake, HANDSHAKE_SIZE, RTMP_VERSION,
    };

    const FULL: usize = 1 + 2 * HANDSHAKE_SIZE;

    /// Piece sizes from a one-byte seed: 0 = everything at once, otherwise a
    /// xorshift sequence of sizes in 1..=seed*13.
    struct Splits {
        state: u32,
        max: usize,
    }

    impl Splits {
        fn new(seed: u8) -> Self {
            Splits {
                state: u32::from(seed).wrapping_mul(0x9E37_79B9) | 1,
                max: usize::from(seed) * 13,
            }
        }
        fn next(&mut self, left: usize) -> usize {
            if self.max == 0 {
                return left;
            }
            self.state ^= self.state << 13;
            self.state ^= self.state >> 17;
            self.state ^= self.state << 5;
            (1 + self.state as usize % self.max).min(left)
        }
    }

    /// Feed `stream` in pieces to `step`; returns (result, bytes consumed).
    fn drive(
        stream: &[u8],
        seed: u8,
        mut step: impl FnMut(&mut BytesMut) -> Result<Progress, HandshakeError>,
    ) -> (Result<Progress, HandshakeError>, usize) {
        let mut splits = Splits::new(seed);
        let mut input = BytesMut::new();
        let mut pos = 0;
        let mut result = Ok(Progress::InProgress);
        while pos < stream.len() {
            let n = splits.next(stream.len() - pos);
            input.extend_from_slice(&stream[pos..pos + n]);
            pos += n;
            result = step(&mut input);
            if result != Ok(Progress::InProgress) {
                break;
            }
        }
        (result, pos - input.len())
    }

    /// The `handshake` fuzz target: panics on a finding.
    pub fn check(data: &[u8]) {
        let Some((&seed, stream)) = data.split_first() else {
            return;
        };
        let expect = |consumed: usize, r: &Result<Progress, HandshakeError>| match stream.first() {
            None => assert_eq!(*r, Ok(Progress::InProgress)),
            Some(&v) if v != RTMP_VERSION => {
                assert_eq!(*r, Err(HandshakeError::BadVersion(v)));
                assert_eq!(consumed, 0);
            }
            Some(_) if stream.len() >= FULL => {
                assert_eq!(*r, Ok(Progress::Done));
                assert_eq!(consumed, FULL);
            }
            Some(_) => {
                assert_eq!(*r, Ok(Progress::InProgress));
                assert_eq!(consumed, stream.len());
            }
        };

        // Server.
        let mut server = ServerHandshake::new(7);
        let mut rng = StdRng::seed_from_u64(u64::from(seed));
        let mut out = BytesMut::new();
        let (r, consumed) = drive(stream, seed, |input| server.feed(input, &mut out, &mut rng));
        expect(consumed, &r);
        if stream.len() > HANDSHAKE_SIZE && stream[0] == RTMP_VERSION {
            assert_eq!(out.len(), FULL);
            let s2 = &out[1 + HANDSHAKE_SIZE..];
            match server.digest_scheme() {
                None => assert_eq!(s2, &stream[1..1 + HANDSHAKE_SIZE]),
                Some(scheme) => {
                    let c1: &[u8; HANDSHAKE_SIZE] =
                        stream[1..1 + HANDSHAKE_SIZE].try_into().expect("C1 length");
                    assert!(digest::has_digest(c1, scheme, digest::CLIENT_PARTIAL_KEY));
                    let key = digest::response_key(
                        &digest::SERVER_FULL_KEY,
                        &digest::digest_at(c1, scheme),
                    );
                    assert!(digest::response_signed(s2.try_into().expect("S2"), &key));
                }
            }
        } else {
            assert!(out.is_empty());
        }

        // Client, reading the same bytes as a server answer.
        // A random S1 carries no valid server digest, so C2 echoes it and
        // S2 is not checked, even though this client offers the digest form.
        let mut client = ClientHandshake::new(9);
        let mut c0c1 = BytesMut::new();
        client.start(&mut c0c1, &mut StdRng::seed_from_u64(1));
        let mut c2 = BytesMut::new();
        let (r, consumed) = drive(stream, seed, |input| client.feed(input, &mut c2));
        expect(consumed, &r);
        if stream.len() > HANDSHAKE_SIZE && stream[0] == RTMP_VERSION {
            assert_eq!(&c2[..], &stream[1..1 + HANDSHAKE_SIZE]);
        } else {
            assert!(c2.is_empty());
        }
    }
}

/// Fuzz the dechunker with small limits. The first byte chooses the piece
/// sizes; the rest is the chunk stream. The messages (and the error, if any)
/// must be the same whether the stream arrives whole or in pieces.
pub mod chunk {
    use bytes::BytesMut;
    use rtmp_edge::proto::chunk::{ChunkDecoder, ChunkError, ChunkLimits, RawMessage};

    fn limits() -> ChunkLimits {
        ChunkLimits {
            max_message_len: 64 * 1024,
            max_partial_bytes: 128 * 1024,
            max_chunk_streams: 8,
            max_chunk_size: 64 * 1024,
        }
    }

    /// Decode `stream` delivered in pieces of `piece(left)` bytes; stop at the
    /// first error.
    fn decode_all(
        stream: &[u8],
        mut piece: impl FnMut(usize) -> usize,
    ) -> (Vec<RawMessage>, Option<ChunkError>) {
        let mut dec = ChunkDecoder::new(limits());
        let mut buf = BytesMut::new();
        let mut msgs = Vec::new();
        let mut pos = 0;
        while pos < stream.len() {
            let n = piece(stream.len() - pos).clamp(1, stream.len() - pos);
            buf.extend_from_slice(&stream[pos..pos + n]);
            pos += n;
            // Each message consumes at least one header byte, so this bounds the loop.
            for _ in 0..=stream.len() {
                let before = buf.len();
                match dec.decode(&mut buf) {
                    Ok(Some(m)) => msgs.push(m),
                    Ok(None) => break,
                    Err(e) => return (msgs, Some(e)),
                }
                assert!(buf.len() <= before, "decode grew the input buffer");
            }
            assert!(dec.chunk_size() >= 1 && dec.chunk_size() <= limits().max_chunk_size);
        }
        (msgs, None)
    }

    /// The `chunk` fuzz target: panics on a finding.
    pub fn check(data: &[u8]) {
        let Some((&split, stream)) = data.split_first() else {
            return;
        };
        let whole = decode_all(stream, |left| left);
        let mut state = u32::from(split) | 1;
        let max = usize::from(split % 64) + 1;
        let pieces = decode_all(stream, |_| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            1 + (state >> 16) as usize % max
        });
        assert_eq!(whole, pieces, "split delivery changed the decoded messages");
    }
}

/// Fuzz AMF0: `decode_value` and `decode_all` over arbitrary bytes; whatever
/// decodes is re-encoded and decoded again and must be equal (NaN-tolerant:
/// NaN equals NaN with the same bits). Values whose short strings grew past
/// 65535 bytes through lossy UTF-8 decoding are not round-tripped.
pub mod amf0 {
    use bytes::BytesMut;
    use rtmp_edge::proto::amf0::{
        decode_all, decode_value, encode_all, encode_value, Amf0Limits, Amf0Value,
        DEFAULT_MAX_VALUES,
    };

    const LIMITS: Amf0Limits = Amf0Limits {
        max_depth: 16,
        max_values: DEFAULT_MAX_VALUES,
    };

    fn num_eq(a: f64, b: f64) -> bool {
        a == b || a.to_bits() == b.to_bits()
    }

    fn props_eq(a: &[(String, Amf0Value)], b: &[(String, Amf0Value)]) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|((ka, va), (kb, vb))| ka == kb && value_eq(va, vb))
    }

    fn value_eq(a: &Amf0Value, b: &Amf0Value) -> bool {
        use Amf0Value::*;
        match (a, b) {
            (Number(x), Number(y)) => num_eq(*x, *y),
            (Date { millis: x, tz: tx }, Date { millis: y, tz: ty }) => num_eq(*x, *y) && tx == ty,
            (Object(x), Object(y)) | (EcmaArray(x), EcmaArray(y)) => props_eq(x, y),
            (StrictArray(x), StrictArray(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(p, q)| value_eq(p, q))
            }
            (
                TypedObject {
                    class: ca,
                    props: pa,
                },
                TypedObject {
                    class: cb,
                    props: pb,
                },
            ) => ca == cb && props_eq(pa, pb),
            _ => a == b,
        }
    }

    /// True when every u16-length string still fits its length field.
    fn encodable(v: &Amf0Value) -> bool {
        let short = |s: &str| s.len() <= usize::from(u16::MAX);
        let props = |p: &[(String, Amf0Value)]| p.iter().all(|(k, v)| short(k) && encodable(v));
        match v {
            Amf0Value::String(s) => short(s),
            Amf0Value::Object(p) | Amf0Value::EcmaArray(p) => props(p),
            Amf0Value::StrictArray(items) => items.iter().all(encodable),
            Amf0Value::TypedObject { class, props: p } => short(class) && props(p),
            _ => true,
        }
    }

    /// The `amf0` fuzz target: panics on a finding.
    pub fn check(data: &[u8]) {
        if let Ok((v, used)) = decode_value(data, &LIMITS) {
            assert!(used > 0 && used <= data.len());
            if encodable(&v) {
                let mut out = BytesMut::new();
                encode_value(&v, &mut out);
                let (v2, used2) = decode_value(&out, &LIMITS).expect("re-encoded value decodes");
                assert_eq!(used2, out.len());
                assert!(value_eq(&v, &v2), "round trip changed {v:?} into {v2:?}");
            }
        }
        if let Ok(values) = decode_all(data, &LIMITS) {
            if values.iter().all(encodable) {
                let mut out = BytesMut::new();
                encode_all(&values, &mut out);
                let again = decode_all(&out, &LIMITS).expect("re-encoded values decode");
                assert_eq!(values.len(), again.len());
                for (a, b) in values.iter().zip(&again) {
                    assert!(value_eq(a, b), "round trip changed {a:?} into {b:?}");
                }
            }
        }
    }
}

/// Fuzz the server session: a fixed valid handshake (C0 = 3, zero C1 and C2),
/// then arbitrary bytes into `ServerSession::handle_input`. The first byte
/// chooses the piece sizes. Errors end the connection and are ignored; only
/// panics, hangs and runaway allocations are findings.
pub mod session {
    use bytes::BytesMut;
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use rtmp_edge::proto::handshake::{Progress, ServerHandshake, HANDSHAKE_SIZE, RTMP_VERSION};
    use rtmp_edge::proto::session::{ServerConfig, ServerSession};

    /// The `session` fuzz target: panics on a finding.
    pub fn check(data: &[u8]) {
        let Some((&split, body)) = data.split_first() else {
            return;
        };
        let mut stream = Vec::with_capacity(1 + 2 * HANDSHAKE_SIZE + body.len());
        stream.push(RTMP_VERSION);
        stream.resize(1 + 2 * HANDSHAKE_SIZE, 0);
        stream.extend_from_slice(body);

        let mut handshake = ServerHandshake::new(0);
        let mut rng = StdRng::seed_from_u64(0);
        let mut session: Option<ServerSession> = None;
        let mut input = BytesMut::new();
        let mut out = BytesMut::new();
        let mut events = Vec::new();
        let max = usize::from(split) * 7 + 1;
        let mut state = u32::from(split) | 1;
        let mut pos = 0;
        while pos < stream.len() {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let n = (1 + (state >> 16) as usize % max).min(stream.len() - pos);
            input.extend_from_slice(&stream[pos..pos + n]);
            pos += n;
            if session.is_none() {
                match handshake.feed(&mut input, &mut out, &mut rng) {
                    Ok(Progress::Done) => {
                        session = Some(ServerSession::new(ServerConfig::default()))
                    }
                    Ok(Progress::InProgress) => continue,
                    Err(_) => return,
                }
            }
            if let Some(s) = session.as_mut() {
                if s.handle_input(&mut input, &mut events, &mut out).is_err() {
                    return;
                }
            }
            events.clear();
            out.clear();
        }
    }
}

/// Fuzz the Enhanced RTMP track parser and the per-track header cache.
/// Byte 0: bit 0 picks audio or video for the first message. The rest is
/// cut into messages at each `0xFE 0xFE` (the byte after a cut picks that
/// message's kind the same way), fed to `tracks::parse_checked` and, as one
/// publisher's messages, through a `StreamTable`. Checks: every track part
/// lies inside its message, in order, without overlap; a rebuilt OneTrack
/// message of a multitrack part parses back to exactly that track; the
/// parser agrees with `classify_video` on whether a video payload can be
/// read at all; a late joiner gets at most one header per (kind, track,
/// slot) within the track and byte caps, and the frames the table relays
/// are byte-identical to their input.
pub mod tracks {
    use bytes::Bytes;
    use rtmp_edge::proto::flv::{self, tracks, tracks::AvKind};
    use rtmp_edge::relay::headers::{MAX_HEADER_BYTES, MAX_TRACKS};
    use rtmp_edge::relay::{FrameClass, PublishClaim, StreamConfig, StreamTable};

    fn messages(data: &[u8]) -> Vec<(AvKind, &[u8])> {
        let Some((&first, mut rest)) = data.split_first() else {
            return Vec::new();
        };
        let kind = |b: u8| {
            if b & 1 == 0 {
                AvKind::Video
            } else {
                AvKind::Audio
            }
        };
        let mut out = Vec::new();
        let mut k = kind(first);
        loop {
            match rest.windows(2).position(|w| w == [0xFE, 0xFE]) {
                Some(i) => {
                    out.push((k, &rest[..i]));
                    let after = &rest[i + 2..];
                    let Some((&b, tail)) = after.split_first() else {
                        return out;
                    };
                    k = kind(b);
                    rest = tail;
                }
                None => {
                    out.push((k, rest));
                    return out;
                }
            }
        }
    }

    fn check_message(kind: AvKind, p: &[u8]) {
        if kind == AvKind::Video {
            assert_eq!(
                tracks::parse(kind, p).is_some(),
                flv::classify_video(p).is_some(),
                "parse and classify_video disagree on {p:x?}"
            );
        }
        let Ok(Some(h)) = tracks::parse_checked(kind, p) else {
            return;
        };
        let mut end = 0;
        for part in h.tracks(p) {
            let part = part.expect("parse_checked walked every track");
            assert!(part.body.start >= end && part.body.end <= p.len());
            assert!(part.body.start <= part.body.end);
            end = part.body.end;
            if h.multitrack.is_some() {
                if let Some(one) = tracks::one_track(&h, p, &part) {
                    let h1 = tracks::parse(kind, &one).expect("rebuilt message parses");
                    assert_eq!(h1.packet, h.packet);
                    let parts = h1.track_list(&one).expect("rebuilt message walks");
                    assert_eq!(parts.len(), 1);
                    assert_eq!(parts[0].track, part.track);
                    assert_eq!(parts[0].fourcc, part.fourcc);
                    assert_eq!(&one[parts[0].body.clone()], &p[part.body.clone()]);
                }
            }
        }
    }

    pub fn check(data: &[u8]) {
        let msgs = messages(data);
        let mut table: StreamTable<u32> = StreamTable::new(StreamConfig::default());
        assert_eq!(table.claim_publisher("k", 1, 0), PublishClaim::Granted);
        for (i, (kind, p)) in msgs.iter().enumerate() {
            check_message(*kind, p);
            let type_id = match kind {
                AvKind::Video => 9,
                AvKind::Audio => 8,
            };
            let payload = Bytes::copy_from_slice(p);
            let refused = tracks::parse_checked(*kind, p).is_err();
            match table.on_media("k", 1, type_id, i as u32 * 10, payload, 0) {
                Some((frame, _)) => {
                    assert!(!refused, "an overrun was relayed");
                    assert_eq!(&frame.payload[..], *p);
                }
                None => assert!(refused, "a readable message was refused"),
            }
        }
        let start = table.add_viewer("k", 2).expect("publisher live");
        let headers: Vec<_> = start
            .iter()
            .take_while(|f| f.class == FrameClass::SequenceHeader)
            .collect();
        assert!(headers.len() <= 2 * MAX_TRACKS);
        let bytes: usize = headers.iter().map(|f| f.payload.len()).sum();
        assert!(bytes <= MAX_HEADER_BYTES);
    }
}
