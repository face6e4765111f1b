//! HTTP-FLV framing and sequence-header details against real encoder output:
//! ffmpeg (libx264 + aac) writes an FLV file, the crate's FLV reader takes it
//! apart, `rtmp_edge::http::media` reads width/height/profile/fps and the
//! audio config, and `rtmp_edge::http::flv` frames every tag again the way
//! an HTTP-FLV viewer gets it; the concatenation must read back as the same
//! tags.

mod common;

use std::process::{Command, Stdio};

use bytes::Bytes;
use rtmp_edge::http::flv::{file_header, TagFraming};
use rtmp_edge::http::media::{aac_details, audio_snapshot, avc_details, video_snapshot};
use rtmp_edge::proto::flv::{self, FlvTag, VideoPacket, TAG_AUDIO, TAG_VIDEO};

/// Encodes with ffmpeg (`args`: inputs and codec options) into an FLV
/// file and reads its tags back; `None` (test skipped) without ffmpeg.
fn encode(args: &[&str]) -> Option<(flv::FlvHeader, Vec<FlvTag>)> {
    if !common::have_tool("ffmpeg") {
        return None;
    }
    let dir = common::TempDir::new("http-flv");
    let out = dir.path().join("out.flv");
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .args(["-f", "flv"])
        .arg(&out)
        .stdin(Stdio::null())
        .status()
        .expect("run ffmpeg");
    assert!(status.success(), "ffmpeg failed: {args:?}");
    let file = Bytes::from(std::fs::read(&out).unwrap());
    Some(flv::read_all(file).expect("ffmpeg's FLV reads back"))
}

fn video_sequence_header(tags: &[FlvTag]) -> &FlvTag {
    tags.iter()
        .find(|t| {
            t.tag_type == TAG_VIDEO
                && flv::classify_video(&t.data)
                    .is_some_and(|i| i.packet == VideoPacket::SequenceHeader)
        })
        .expect("an AVC sequence header tag")
}

fn audio_sequence_header(tags: &[FlvTag]) -> &FlvTag {
    tags.iter()
        .find(|t| {
            t.tag_type == TAG_AUDIO
                && flv::classify_audio(&t.data).is_some_and(|i| i.sequence_header)
        })
        .expect("an AAC sequence header tag")
}

#[test]
fn details_of_a_640x360_h264_aac_stream() {
    let Some((_, tags)) = encode(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=640x360:rate=25",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=44100",
        "-t",
        "1",
        "-c:v",
        "libx264",
        "-c:a",
        "aac",
        "-ac",
        "2",
    ]) else {
        return;
    };
    let v = avc_details(&video_sequence_header(&tags).data).expect("SPS parses");
    // 360 is not a multiple of 16: the SPS codes 368 lines and crops 8.
    assert_eq!((v.width, v.height), (640, 360));
    assert_eq!(v.fps, Some(25.0));
    assert_eq!(v.profile_idc, 100);
    assert!(
        v.profile_label().starts_with("High "),
        "{}",
        v.profile_label()
    );
    let a = aac_details(&audio_sequence_header(&tags).data).expect("ASC parses");
    assert_eq!((a.sample_rate, a.channels), (44100, 2));
    assert_eq!(a.profile_name(), "LC");
    // The API's parts, as the endpoint will fill them.
    let vs = video_snapshot(&video_sequence_header(&tags).data, None).unwrap();
    assert_eq!(
        (vs.codec.as_str(), vs.width, vs.height, vs.fps),
        ("H.264", Some(640), Some(360), Some(25.0))
    );
    let aus = audio_snapshot(&audio_sequence_header(&tags).data).unwrap();
    assert_eq!((aus.codec.as_str(), aus.sample_rate), ("AAC", Some(44100)));
}

#[test]
fn details_of_an_interlaced_4_2_2_stream() {
    let Some((_, tags)) = encode(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=1920x1080:rate=30000/1001",
        "-t",
        "0.3",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv422p",
        "-flags",
        "+ildct+ilme",
        "-x264-params",
        "interlaced=1",
    ]) else {
        return;
    };
    let v = avc_details(&video_sequence_header(&tags).data).expect("SPS parses");
    assert_eq!((v.width, v.height), (1920, 1080));
    assert_eq!(v.chroma_format_idc, 2);
    assert_eq!(v.profile_idc, 122);
    let fps = v.fps.expect("x264 writes VUI timing");
    assert!((fps - 29.97).abs() < 0.01, "fps {fps}");
}

#[test]
fn reframed_tags_read_back_unchanged() {
    let Some((header, tags)) = encode(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=25",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000",
        "-t",
        "2",
        "-c:v",
        "libx264",
        "-g",
        "25",
        "-c:a",
        "aac",
    ]) else {
        return;
    };
    // What an HTTP-FLV viewer receives: header, then per frame the shared
    // framing with the payload between (as a vectored write would send it).
    let mut body = file_header(header.has_audio, header.has_video).to_vec();
    for t in &tags {
        let framing = TagFraming::new(t.tag_type, t.timestamp, t.data.len()).unwrap();
        assert_eq!(framing.header()[0], t.tag_type);
        assert_eq!(
            framing.trailer(),
            (framing.tag_len(t.data.len()) as u32 - 4).to_be_bytes()
        );
        let [head, data, trailer] = framing.slices(&t.data);
        assert_eq!(data.as_ptr(), t.data.as_ptr(), "payload written in place");
        for slice in [head, data, trailer] {
            body.extend_from_slice(slice);
        }
    }
    let (again_header, again) = flv::read_all(Bytes::from(body)).expect("reframed FLV reads");
    assert_eq!(again_header, header);
    assert_eq!(again.len(), tags.len());
    for (a, b) in again.iter().zip(&tags) {
        assert_eq!(
            (a.tag_type, a.timestamp, &a.data),
            (b.tag_type, b.timestamp, &b.data)
        );
    }
    assert!(tags.len() > 50, "only {} tags", tags.len());
}
