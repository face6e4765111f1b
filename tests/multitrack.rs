//! Enhanced RTMP v2 multitrack through the stream table, without sockets:
//! per-track decoder configuration for late joiners (in the order and wire
//! form received), ManyTracks headers split per track, SequenceEnd, the
//! caps, keyframes on the key track only, refused overruns, unknown
//! packets forwarded byte for byte, and data messages.
//!
//! The byte shapes are those ffmpeg 9 sends for H.264 on track 0, HEVC on
//! track 1 and two AAC tracks (`-c:v:0 libx264 -c:v:1 libx265`, read from
//! its FLV output).

use bytes::Bytes;
use rtmp_edge::proto::flv::tracks::{self, AvKind};
use rtmp_edge::relay::headers::{MAX_HEADER_BYTES, MAX_TRACKS};
use rtmp_edge::relay::{Frame, FrameClass, PublishClaim, StreamConfig, StreamTable};

const V: u8 = 9;
const A: u8 = 8;

fn table() -> StreamTable<u32> {
    let mut t = StreamTable::new(StreamConfig::default());
    assert_eq!(t.claim_publisher("k", 1, 0), PublishClaim::Granted);
    t
}

fn send(t: &mut StreamTable<u32>, type_id: u8, ts: u32, payload: &[u8]) -> Option<Frame> {
    t.on_media("k", 1, type_id, ts, Bytes::copy_from_slice(payload), 0)
        .map(|(f, _)| f)
}

fn class(t: &mut StreamTable<u32>, type_id: u8, ts: u32, payload: &[u8]) -> FrameClass {
    send(t, type_id, ts, payload).expect("relayed").class
}

// ffmpeg 9's four-track shapes (bodies shortened).
const AVC_SEQ: &[u8] = b"\x17\x00\x00\x00\x00\x01\x64\x00\x1e";
const HEVC1_SEQ: &[u8] = b"\x96\x00hvc1\x01\x01\x01\x60";
const AAC_SEQ: &[u8] = b"\xaf\x00\x11\x88";
const AAC1_SEQ: &[u8] = b"\x95\x00mp4a\x01\x12\x08";
const AAC1_CHANNELS: &[u8] = b"\x95\x04mp4a\x01\x01\x01\x00\x00\x00\x04";
const AVC_KEY: &[u8] = b"\x17\x01\x00\x00\x50nal0";
const HEVC1_COLOR: &[u8] = b"\xd4hvc1\x02\x00\x09colorInfo\x03";
const HEVC1_KEY: &[u8] = b"\x96\x01hvc1\x01\x00\x00\x50nal1";
const AVC_INTER: &[u8] = b"\x27\x01\x00\x00\x78nal2";
const HEVC1_INTER: &[u8] = b"\xa6\x01hvc1\x01\x00\x00\x78nal3";
const AAC_RAW: &[u8] = b"\xaf\x01\x01\x62";
const AAC1_RAW: &[u8] = b"\x95\x01mp4a\x01\x01\x40";

/// The start of an ffmpeg 9 four-track publish, up to the first GOP.
fn publish_four_tracks(t: &mut StreamTable<u32>) {
    t.on_metadata(
        "k",
        1,
        Bytes::from_static(b"\x02\x00\x0aonMetaData\x03\x00\x00\x09"),
        0,
    );
    for (ty, p) in [
        (V, AVC_SEQ),
        (V, HEVC1_SEQ),
        (A, AAC_SEQ),
        (A, AAC1_SEQ),
        (A, AAC1_CHANNELS),
    ] {
        assert_eq!(class(t, ty, 0, p), FrameClass::SequenceHeader, "{p:x?}");
    }
    assert_eq!(class(t, V, 0, AVC_KEY), FrameClass::KeyFrame);
    assert_eq!(class(t, V, 0, HEVC1_COLOR), FrameClass::SequenceHeader);
    assert_eq!(
        class(t, V, 0, HEVC1_KEY),
        FrameClass::InterFrame,
        "track 1's keyframe does not start a GOP"
    );
    assert_eq!(class(t, V, 40, AVC_INTER), FrameClass::InterFrame);
    assert_eq!(class(t, V, 40, HEVC1_INTER), FrameClass::InterFrame);
    assert_eq!(class(t, A, 57, AAC1_RAW), FrameClass::Audio);
    assert_eq!(class(t, A, 59, AAC_RAW), FrameClass::Audio);
}

fn payloads(frames: &[Frame]) -> Vec<&[u8]> {
    frames.iter().map(|f| &f.payload[..]).collect()
}

#[test]
fn late_joiner_gets_every_track_configuration_then_the_gop() {
    let mut t = table();
    publish_four_tracks(&mut t);
    let start = t.add_viewer("k", 9).expect("live");
    assert_eq!(start[0].class, FrameClass::Metadata);
    assert_eq!(start[0].timestamp, 0, "onMetaData at 0");
    // Track 0 first, SequenceStart before the per-track configuration,
    // video before audio; each in the wire form received (ffmpeg's
    // unwrapped colorInfo belongs to track 1, the track carrying hvc1).
    assert_eq!(
        payloads(&start[1..7]),
        vec![
            AVC_SEQ,
            AAC_SEQ,
            HEVC1_SEQ,
            HEVC1_COLOR,
            AAC1_SEQ,
            AAC1_CHANNELS
        ]
    );
    assert!(start[1..7]
        .iter()
        .all(|f| f.class == FrameClass::SequenceHeader && f.timestamp == 0));
    // then the GOP from track 0's keyframe, every track's frames in order
    // (configuration that arrives inside the GOP is sent with the headers)
    assert_eq!(
        payloads(&start[7..]),
        vec![
            AVC_KEY,
            HEVC1_KEY,
            AVC_INTER,
            HEVC1_INTER,
            AAC1_RAW,
            AAC_RAW
        ]
    );
    // the API reads track 0's codecs
    let stats = t.stats_of("k").unwrap();
    assert_eq!(
        stats.video_codec,
        Some(rtmp_edge::proto::flv::VideoCodec::Legacy(7))
    );
    assert_eq!(stats.audio_format, Some(10));
    assert_eq!(t.headers("k").unwrap().tracks, 4);
}

#[test]
fn only_a_key_track_keyframe_restarts_the_gop() {
    let mut t = table();
    publish_four_tracks(&mut t);
    // another track-1 keyframe: the GOP goes on
    send(&mut t, V, 80, HEVC1_KEY).unwrap();
    let gop: Vec<_> = t.add_viewer("k", 9).unwrap()[7..].to_vec();
    assert_eq!(gop.len(), 7);
    assert_eq!(&gop[0].payload[..], AVC_KEY);
    // a track-0 keyframe starts a new one
    send(&mut t, V, 1000, AVC_KEY).unwrap();
    let start = t.add_viewer("k", 10).unwrap();
    assert_eq!(payloads(&start[7..]), vec![AVC_KEY]);
    assert_eq!(start[1].timestamp, 1000, "headers at the join point");
}

#[test]
fn a_stream_without_track_zero_video_keys_on_its_lowest_track() {
    let mut t = table();
    assert_eq!(class(&mut t, V, 0, HEVC1_SEQ), FrameClass::SequenceHeader);
    assert_eq!(class(&mut t, V, 0, HEVC1_KEY), FrameClass::KeyFrame);
    assert_eq!(class(&mut t, V, 40, HEVC1_INTER), FrameClass::InterFrame);
    let start = t.add_viewer("k", 9).unwrap();
    assert_eq!(payloads(&start), vec![HEVC1_SEQ, HEVC1_KEY, HEVC1_INTER]);
}

#[test]
fn a_changed_track_configuration_drops_the_gop_and_replaces_the_cache() {
    let mut t = table();
    publish_four_tracks(&mut t);
    let new_seq = b"\x96\x00hvc1\x01\x01\x01\x61";
    send(&mut t, V, 100, new_seq).unwrap();
    let start = t.add_viewer("k", 9).unwrap();
    assert_eq!(
        payloads(&start[1..]),
        vec![
            AVC_SEQ,
            AAC_SEQ,
            &new_seq[..],
            HEVC1_COLOR,
            AAC1_SEQ,
            AAC1_CHANNELS
        ],
        "the GOP belonged to the old configuration"
    );
    // the same configuration again changes nothing
    send(&mut t, V, 120, AVC_KEY).unwrap();
    send(&mut t, V, 120, new_seq).unwrap();
    assert_eq!(t.add_viewer("k", 10).unwrap().len(), 8);
}

#[test]
fn an_unwrapped_sequence_start_stays_on_track_zero() {
    let mut t = table();
    publish_four_tracks(&mut t);
    // track 0 switches to HEVC (unwrapped), while track 1 carries hvc1 too
    let hevc0 = b"\x90hvc1\x01\x02\x03";
    send(&mut t, V, 100, hevc0).unwrap();
    let start = t.add_viewer("k", 9).unwrap();
    assert_eq!(
        payloads(&start[1..4]),
        vec![&hevc0[..], AAC_SEQ, HEVC1_SEQ],
        "track 0's configuration replaced, track 1's kept"
    );
}

#[test]
fn sequence_end_clears_that_track_and_is_still_forwarded() {
    let mut t = table();
    publish_four_tracks(&mut t);
    // OneTrack SequenceEnd of video track 1
    let end = b"\x96\x02hvc1\x01";
    let f = send(&mut t, V, 200, end).expect("forwarded");
    assert_eq!(&f.payload[..], end);
    let start = t.add_viewer("k", 9).unwrap();
    assert_eq!(
        payloads(&start[1..5]),
        vec![AVC_SEQ, AAC_SEQ, AAC1_SEQ, AAC1_CHANNELS]
    );
}

#[test]
fn a_many_tracks_header_is_split_per_track() {
    let mut t = table();
    // audio ManyTracks SequenceStart, Opus: track 0 and track 2
    let many = b"\x95\x10Opus\x00\x00\x00\x03abc\x02\x00\x00\x02de";
    assert_eq!(class(&mut t, A, 0, many), FrameClass::SequenceHeader);
    // video ManyTracksManyCodecs SequenceStart: avc1 track 0, av01 track 1
    let mixed = b"\x96\x20avc1\x00\x00\x00\x01xav01\x01\x00\x00\x02yz";
    assert_eq!(class(&mut t, V, 0, mixed), FrameClass::SequenceHeader);
    let start = t.add_viewer("k", 9).unwrap();
    assert_eq!(
        payloads(&start),
        vec![
            &b"\x96\x00avc1\x00x"[..],
            b"\x95\x00Opus\x00abc",
            b"\x96\x00av01\x01yz",
            b"\x95\x00Opus\x02de",
        ]
    );
    // each split message parses as the one track it holds
    for f in &start {
        let kind = if f.is_video() {
            AvKind::Video
        } else {
            AvKind::Audio
        };
        let h = tracks::parse(kind, &f.payload).unwrap();
        assert_eq!(h.track_list(&f.payload).unwrap().len(), 1);
    }
}

#[test]
fn tracks_and_cached_bytes_are_capped() {
    let mut t = table();
    // MAX_TRACKS + 4 audio tracks announce a configuration
    for id in 0..(MAX_TRACKS as u8 + 4) {
        let p = [b"\x95\x00Opus".as_slice(), &[id, 0xAA]].concat();
        assert!(send(&mut t, A, 0, &p).is_some(), "forwarded beyond the cap");
    }
    let start = t.add_viewer("k", 9).unwrap();
    assert_eq!(start.len(), MAX_TRACKS);
    assert_eq!(start.last().unwrap().payload[6], MAX_TRACKS as u8 - 1);

    let mut t = table();
    let big = |id: u8| {
        let mut p = b"\x96\x00hvc1".to_vec();
        p.push(id);
        p.resize(MAX_HEADER_BYTES / 2 + 10, 0x55);
        p
    };
    send(&mut t, V, 0, &big(0)).unwrap();
    assert!(send(&mut t, V, 0, &big(1)).is_some(), "forwarded");
    assert_eq!(t.add_viewer("k", 9).unwrap().len(), 1, "over the byte cap");
}

#[test]
fn an_overrunning_track_is_refused_and_the_stream_goes_on() {
    let mut t = table();
    publish_four_tracks(&mut t);
    // ManyTracks CodedFrames whose track claims 9 bytes, 3 present
    assert!(send(&mut t, V, 100, b"\xa6\x11hvc1\x01\x00\x00\x09abc").is_none());
    assert!(send(&mut t, V, 100, AVC_INTER).is_some());
    assert_eq!(
        t.stats_of("k").unwrap().frames_in,
        14,
        "the refused one not counted"
    );
}

#[test]
fn unknown_fourccs_and_packet_types_pass_byte_for_byte() {
    let mut t = table();
    let odd = [
        (V, &b"\x90zzzzcfg"[..], FrameClass::SequenceHeader),
        (V, b"\x9e\x01\x02\x03\x04\x05", FrameClass::InterFrame),
        (V, b"\x96\x3fzzzz\x01\x02", FrameClass::InterFrame),
        (A, b"\x9dqqqq\x01", FrameClass::Audio),
        (V, b"\x9f", FrameClass::InterFrame),
        (A, b"", FrameClass::Audio),
    ];
    for (ty, p, want) in odd {
        let f = send(&mut t, ty, 0, p).expect("forwarded");
        assert_eq!(&f.payload[..], p);
        assert_eq!(f.class, want, "{p:x?}");
    }
}

#[test]
fn data_messages_are_forwarded_in_order_and_not_cached() {
    let mut t = table();
    publish_four_tracks(&mut t);
    let cue = Bytes::from_static(b"\x02\x00\x0aonCuePoint\x03\x00\x00\x09");
    let (f, viewers) = t.on_data("k", 1, 90, cue.clone(), 0).unwrap();
    assert!(viewers.is_empty());
    assert_eq!(
        (f.class, f.type_id, f.timestamp),
        (FrameClass::Data, 18, 90)
    );
    assert_eq!(f.payload, cue);
    // data messages are events, not state: a late joiner does not get it
    let start = t.add_viewer("k", 9).unwrap();
    assert!(start.iter().all(|f| f.class != FrameClass::Data));
    // a mid-stream onMetaData replaces the cached one
    let meta2 = Bytes::from_static(
        b"\x02\x00\x0aonMetaData\x03\x00\x01w\x00\x40\x00\x00\x00\x00\x00\x00\x00\x00\x00\x09",
    );
    t.on_metadata("k", 1, meta2.clone(), 0).unwrap();
    let start = t.add_viewer("k", 10).unwrap();
    assert_eq!(start[0].payload, meta2);
    assert_eq!(start[0].timestamp, 0);
}
