//! Replays the real client byte streams in `shared/captures/*.c2s.bin` into
//! `ServerHandshake` + `ServerSession` (all at once, and split into pieces of
//! seeded random size) and checks the server's answers by decoding its
//! output with a `ChunkDecoder`. See `shared/captures/README.md` for the
//! rules followed here (no C2 check, commands queued in order, stream id 1).
//!
//! The captures are found by `tests/common/captures.rs` (`RTMP_CAPTURES` or
//! `shared/` beside the checkout); missing ones skip, or fail with
//! `RTMP_REQUIRE_INTEROP`.

use bytes::{Bytes, BytesMut};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use rtmp_edge::proto::amf0::Amf0Value;
use rtmp_edge::proto::chunk::{ChunkDecoder, ChunkLimits, RawMessage};
use rtmp_edge::proto::command::{self, Command};
use rtmp_edge::proto::flv::{FlvReader, TAG_AUDIO, TAG_VIDEO};
use rtmp_edge::proto::handshake::{Progress, ServerHandshake};
use rtmp_edge::proto::message::{RtmpMessage, UserControl, TYPE_AUDIO, TYPE_VIDEO};
use rtmp_edge::proto::session::{MediaKind, ServerConfig, ServerEvent, ServerSession};

const HANDSHAKE_LEN: usize = 1537 + 1536;

#[path = "common/captures.rs"]
mod captures;
use captures::read_capture;

/// What one replay produced.
#[derive(Debug)]
struct Replay {
    events: Vec<ServerEvent>,
    /// Everything the session wrote after the handshake, decoded.
    answers: Vec<RawMessage>,
    ignored_media: u64,
}

/// Feed `bytes` in pieces (all at once when `seed` is None), emulating the
/// driver: every publish and play request is accepted in event order.
fn replay(bytes: &[u8], seed: Option<u64>) -> Replay {
    let mut rng = StdRng::seed_from_u64(seed.unwrap_or(0));
    let mut hs = ServerHandshake::new(0);
    let mut session = ServerSession::new(ServerConfig::default());
    let mut input = BytesMut::new();
    let mut hs_out = BytesMut::new();
    let mut out = BytesMut::new();
    let mut events = Vec::new();
    let mut done = false;
    let mut pos = 0;
    while pos < bytes.len() {
        let n = match seed {
            Some(_) => rng.random_range(1..=4096).min(bytes.len() - pos),
            None => bytes.len(),
        };
        input.extend_from_slice(&bytes[pos..pos + n]);
        pos += n;
        if !done {
            match hs.feed(&mut input, &mut hs_out, &mut rng) {
                Ok(Progress::Done) => done = true,
                Ok(Progress::InProgress) => continue,
                Err(e) => panic!("handshake failed: {e} (seed {seed:?})"),
            }
        }
        let first_new = events.len();
        session
            .handle_input(&mut input, &mut events, &mut out)
            .unwrap_or_else(|e| panic!("session error: {e} (seed {seed:?})"));
        let new: Vec<ServerEvent> = events[first_new..].to_vec();
        for event in new {
            match event {
                ServerEvent::PublishRequested {
                    stream_id, name, ..
                } => session.accept_publish(stream_id, &name.name, &mut out),
                ServerEvent::PlayRequested {
                    stream_id, name, ..
                } => session.accept_play(stream_id, &name.name, &mut out),
                _ => {}
            }
        }
    }
    assert!(done, "handshake did not complete (seed {seed:?})");
    assert_eq!(hs_out.len(), 1 + 2 * 1536, "S0S1S2 length");
    assert!(input.is_empty(), "{} bytes left undecoded", input.len());
    let mut dec = ChunkDecoder::new(ChunkLimits::default());
    let mut answers = Vec::new();
    while let Some(m) = dec.decode(&mut out).expect("server output decodes") {
        answers.push(m);
    }
    assert!(out.is_empty(), "server output ends mid-chunk");
    Replay {
        events,
        answers,
        ignored_media: session.ignored_media(),
    }
}

/// The commands in the server's answers: (msid, values).
fn commands(r: &Replay) -> Vec<(u32, Vec<Amf0Value>)> {
    r.answers
        .iter()
        .filter_map(|m| match RtmpMessage::decode(m).expect("answer decodes") {
            RtmpMessage::Command { stream_id, values } => Some((stream_id, values)),
            _ => None,
        })
        .collect()
}

fn has_status(r: &Replay, msid: u32, code: &str) -> bool {
    commands(r).iter().any(|(sid, v)| {
        *sid == msid
            && matches!(Command::parse(v), Ok(Command::OnStatus { code: c, .. }) if c == code)
    })
}

/// connect -> _result Connect.Success; createStream -> _result 1.
fn check_connect_and_create(r: &Replay, create_tx: f64) {
    let types: Vec<u8> = r.answers.iter().take(3).map(|m| m.type_id).collect();
    assert_eq!(types, [5, 6, 1], "control burst first");
    let cmds = commands(r);
    let (_, connect) = &cmds[0];
    assert_eq!(connect[0].as_str(), Some("_result"));
    assert_eq!(connect[1].as_number(), Some(1.0));
    assert_eq!(
        command::info_code(&connect[2..]),
        Some(command::CODE_CONNECT_SUCCESS)
    );
    let create = cmds
        .iter()
        .find(|(_, v)| v[0].as_str() == Some("_result") && v[1].as_number() == Some(create_tx))
        .expect("createStream answered");
    assert_eq!(create.1.last().and_then(Amf0Value::as_number), Some(1.0));
    // The session writes only on csids 2, 3 and 5.
    assert!(r.answers.iter().all(|m| [2, 3, 5].contains(&m.csid)));
}

fn media_events(r: &Replay) -> Vec<(u8, u32, Bytes)> {
    r.events
        .iter()
        .filter_map(|e| match e {
            ServerEvent::Media {
                kind,
                stream_id: 1,
                timestamp,
                payload,
            } => {
                let t = match kind {
                    MediaKind::Audio => TYPE_AUDIO,
                    MediaKind::Video => TYPE_VIDEO,
                };
                Some((t, *timestamp, payload.clone()))
            }
            ServerEvent::Media { stream_id, .. } => panic!("media on stream {stream_id}"),
            _ => None,
        })
        .collect()
}

fn count<F: Fn(&ServerEvent) -> bool>(r: &Replay, f: F) -> usize {
    r.events.iter().filter(|e| f(e)).count()
}

fn publish_requested(r: &Replay) -> (u32, String, String) {
    let reqs: Vec<_> = r
        .events
        .iter()
        .filter_map(|e| match e {
            ServerEvent::PublishRequested {
                stream_id,
                app,
                name,
                kind,
            } => Some((*stream_id, app.clone(), name.name.clone(), kind.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(reqs.len(), 1, "one publish");
    assert_eq!(reqs[0].1, "live");
    (reqs[0].0, reqs[0].2.clone(), reqs[0].3.clone())
}

#[test]
fn ffmpeg_publish_yields_the_source_media_and_metadata() {
    let Some(bytes) = read_capture("ffmpeg_publish.c2s.bin") else {
        return;
    };
    let r = replay(&bytes, None);
    check_connect_and_create(&r, 4.0);
    assert!(matches!(&r.events[0], ServerEvent::Connected { params } if params.app == "live"));
    assert_eq!(
        publish_requested(&r),
        (1, "cap".to_owned(), "live".to_owned())
    );
    assert!(has_status(&r, 1, command::CODE_PUBLISH_START));

    // Media equal (type, timestamp, payload) to the source file's tags.
    let Some(source) = read_capture("ffmpeg_publish.source.flv") else {
        return;
    };
    let mut flv = BytesMut::from(&source[..]);
    let mut reader = FlvReader::new();
    let mut tags = Vec::new();
    while let Some(tag) = reader.next_tag(&mut flv).expect("flv parses") {
        if tag.tag_type == TAG_AUDIO || tag.tag_type == TAG_VIDEO {
            tags.push((tag.tag_type, tag.timestamp, tag.data));
        }
    }
    assert_eq!(tags.len(), 237);
    let media = media_events(&r);
    assert_eq!(media.len(), 237);
    for (i, (got, want)) in media.iter().zip(&tags).enumerate() {
        assert_eq!(got, want, "media message {i}");
    }
    assert_eq!(r.ignored_media, 0);

    let metas: Vec<_> = r
        .events
        .iter()
        .filter_map(|e| match e {
            ServerEvent::Metadata { values, body, .. } => Some((values.clone(), body.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(metas.len(), 1);
    let (values, body) = &metas[0];
    assert_eq!(values[0].as_str(), Some("onMetaData"));
    assert_eq!(
        values[1].get("width").and_then(Amf0Value::as_number),
        Some(320.0)
    );
    assert!(body.starts_with(b"\x02\x00\x0aonMetaData"));

    // FCUnpublish ends the publish; deleteStream 1 does not repeat it.
    assert_eq!(
        count(&r, |e| matches!(
            e,
            ServerEvent::Unpublished { stream_id: 1 }
        )),
        1
    );
    // releaseStream/FCPublish (tx 2, 3) and FCUnpublish (tx 6) got _result.
    let result_txs: Vec<f64> = commands(&r)
        .iter()
        .filter(|(_, v)| v[0].as_str() == Some("_result"))
        .filter_map(|(_, v)| v[1].as_number())
        .collect();
    assert_eq!(result_txs, [1.0, 2.0, 3.0, 4.0, 6.0]);
}

#[test]
fn gst_publish_with_fmt2_chunks_and_string_delete_stream() {
    let Some(bytes) = read_capture("gst_publish.c2s.bin") else {
        return;
    };
    let r = replay(&bytes, None);
    check_connect_and_create(&r, 2.0);
    assert_eq!(
        publish_requested(&r),
        (1, "capg".to_owned(), "live".to_owned())
    );
    assert!(has_status(&r, 1, command::CODE_PUBLISH_START));
    // tx 0 releaseStream/FCPublish/publish get no _result.
    let result_txs: Vec<f64> = commands(&r)
        .iter()
        .filter(|(_, v)| v[0].as_str() == Some("_result"))
        .filter_map(|(_, v)| v[1].as_number())
        .collect();
    assert_eq!(result_txs, [1.0, 2.0]);
    assert_eq!(count(&r, |e| matches!(e, ServerEvent::Metadata { .. })), 15);

    // Media equal to an independent dechunking of the capture.
    let mut dec = ChunkDecoder::new(ChunkLimits::default());
    let mut buf = BytesMut::from(&bytes[HANDSHAKE_LEN..]);
    let mut want = Vec::new();
    while let Some(m) = dec.decode(&mut buf).unwrap() {
        if m.type_id == TYPE_AUDIO || m.type_id == TYPE_VIDEO {
            want.push((m.type_id, m.timestamp, m.payload));
        }
    }
    assert_eq!(want.len(), 213);
    assert_eq!(media_events(&r), want);
    assert_eq!(
        count(&r, |e| matches!(
            e,
            ServerEvent::Unpublished { stream_id: 1 }
        )),
        1
    );

    // Without the FCUnpublish, deleteStream('capg') alone ends the publish.
    let fc_unpublish = 227_530;
    let delete_stream = 227_573;
    let mut cut = bytes[..fc_unpublish].to_vec();
    cut.extend_from_slice(&bytes[delete_stream..]);
    let r = replay(&cut, None);
    assert_eq!(
        r.events.last(),
        Some(&ServerEvent::Unpublished { stream_id: 1 })
    );
}

fn check_play(name: &str, create_tx: f64, ends_with_delete: bool) -> Option<Replay> {
    let r = replay(&read_capture(name)?, None);
    check_connect_and_create(&r, create_tx);
    let reqs: Vec<_> = r
        .events
        .iter()
        .filter_map(|e| match e {
            ServerEvent::PlayRequested {
                stream_id,
                app,
                name,
                ..
            } => Some((*stream_id, app.clone(), name.name.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(reqs, [(1, "live".to_owned(), "cap".to_owned())], "{name}");
    let begin = r.answers.iter().position(|m| {
        matches!(
            RtmpMessage::decode(m),
            Ok(RtmpMessage::UserControl(UserControl::StreamBegin(1)))
        )
    });
    assert!(begin.is_some(), "{name}: StreamBegin 1");
    assert!(has_status(&r, 1, command::CODE_PLAY_RESET), "{name}");
    assert!(has_status(&r, 1, command::CODE_PLAY_START), "{name}");
    let stopped = count(&r, |e| {
        matches!(e, ServerEvent::PlayStopped { stream_id: 1 })
    });
    assert_eq!(stopped, usize::from(ends_with_delete), "{name}");
    Some(r)
}

#[test]
fn ffmpeg_play_gets_stream_begin_and_play_start() {
    let Some(r) = check_play("ffmpeg_play.c2s.bin", 2.0, true) else {
        return;
    };
    // getStreamLength (tx 3) is answered with 0.
    let len = commands(&r)
        .into_iter()
        .find(|(_, v)| v[0].as_str() == Some("_result") && v[1].as_number() == Some(3.0))
        .expect("getStreamLength answered");
    assert_eq!(len.1.last().and_then(Amf0Value::as_number), Some(0.0));
}

#[test]
fn rtmpdump_play_gets_stream_begin_and_play_start() {
    check_play("rtmpdump_play.c2s.bin", 2.0, true);
}

#[test]
fn gst_play_gets_stream_begin_and_play_start() {
    check_play("gst_play.c2s.bin", 2.0, false);
}

#[test]
fn replay_split_at_random_points_gives_the_same_answers() {
    const SEEDS: u64 = 6;
    for name in [
        "ffmpeg_publish.c2s.bin",
        "gst_publish.c2s.bin",
        "ffmpeg_play.c2s.bin",
        "rtmpdump_play.c2s.bin",
        "gst_play.c2s.bin",
    ] {
        let Some(bytes) = read_capture(name) else {
            return;
        };
        let whole = replay(&bytes, None);
        for seed in 0..SEEDS {
            let split = replay(&bytes, Some(seed));
            assert!(
                split.events == whole.events,
                "{name}: events of the replay split with seed {seed} differ"
            );
            assert_eq!(
                split.ignored_media, whole.ignored_media,
                "{name} seed {seed}"
            );
            // accept_publish/accept_play run after each read, so their
            // statuses may come earlier in a split replay; the set of
            // answers is the same.
            assert!(
                sorted(&split.answers) == sorted(&whole.answers),
                "{name}: answers of the replay split with seed {seed} differ"
            );
            if name.contains("play") {
                // Play captures have no media: same order as well.
                assert!(split.answers == whole.answers, "{name} seed {seed}");
            }
        }
    }
}

fn sorted(msgs: &[RawMessage]) -> Vec<(u32, u8, u32, u32, Bytes)> {
    let mut v: Vec<_> = msgs
        .iter()
        .map(|m| {
            (
                m.csid,
                m.type_id,
                m.stream_id,
                m.timestamp,
                m.payload.clone(),
            )
        })
        .collect();
    v.sort();
    v
}
