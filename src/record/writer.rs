//! FLV file writing.
//!
//! [`FlvRecording`] turns one publish (or one segment of it) into one FLV
//! file over any `Write + Seek` sink; the recorder thread
//! ([`super::thread`]) owns them through a [`super::segment::Segmenter`].
//!
//! # Rules for a caller of [`FlvRecording`]
//!
//! * [`FlvRecording::metadata`] any number of times (the first body, when
//!   it comes before the first picture, becomes the file's `onMetaData`;
//!   later ones are written in place as script tags),
//!   [`FlvRecording::frame`] per audio/video/data message, then
//!   [`FlvRecording::finalize`] once. [`FlvRecording::flush`] whenever the
//!   bytes so far should reach the sink (the thread does so at every video
//!   keyframe and every `flush_interval_ms`).
//! * After an `Err` the recording is broken; drop it.
//!
//! # File layout
//!
//! Nothing is written until the first audio/video message that is not a
//! codec sequence header (or until finalize). Then: the FLV header, the
//! `onMetaData` script tag (ts 0), the sequence headers seen so far, then
//! every message in arrival order. Timestamps are rebased so that this
//! first message is at 0 (`ts.wrapping_sub(first)`, which also works across
//! the 24-bit extended-timestamp boundary and the 32-bit wrap; a message
//! stamped earlier than the first is written at 0).
//!
//! The `onMetaData` tag holds the publisher's properties with `duration`
//! and `filesize` moved to the front as numbers (inserted if missing), so
//! that [`flv::find_number_property`] finds them; finalize patches them in
//! place. A publisher body that is not `onMetaData` + object/ECMA array is
//! replaced by one with just those two properties.
//!
//! Header flags: written at the start from what is known then (the media
//! seen so far plus the metadata's `hasAudio`/`hasVideo`/`audiocodecid`/
//! `videocodecid` hints), and patched at finalize to exactly what was
//! recorded. A crashed file (no finalize) keeps the early flags, `duration`
//! and `filesize` 0, and every tag up to the last flush, ending on a tag
//! boundary unless the crash hit a flush midway.

use bytes::{Bytes, BytesMut};
use log::{debug, trace, warn};
use std::io::{self, BufWriter, Seek, SeekFrom, Write};

use super::FrameKind;
use crate::proto::amf0::{self, Amf0Limits, Amf0Value};
use crate::proto::flv::{self, FlvHeader};
use crate::proto::status::DATA_ON_METADATA;

/// BufWriter capacity per open file.
const WRITE_BUFFER: usize = 64 * 1024;
/// Sequence headers kept before the first picture (multitrack needs > 2).
const MAX_PENDING_SEQ: usize = 16;

/// One FLV file being written. See the module docs.
pub struct FlvRecording<W: Write + Seek> {
    out: BufWriter<W>,
    scratch: BytesMut,
    /// Bytes handed to `out` so far (= file length, since we only append).
    written: u64,
    meta: Option<Bytes>,
    pending_seq: Vec<(u8, u32, Bytes)>,
    /// Timestamp of the first recorded message; `Some` once the preamble
    /// (header + metadata + sequence headers) is written.
    base: Option<u32>,
    last_ts: u32,
    has_audio: bool,
    has_video: bool,
    duration_off: Option<u64>,
    filesize_off: Option<u64>,
    tags: u64,
}

impl<W: Write + Seek> FlvRecording<W> {
    pub fn new(sink: W) -> Self {
        FlvRecording {
            out: BufWriter::with_capacity(WRITE_BUFFER, sink),
            scratch: BytesMut::with_capacity(1024),
            written: 0,
            meta: None,
            pending_seq: Vec::new(),
            base: None,
            last_ts: 0,
            has_audio: false,
            has_video: false,
            duration_off: None,
            filesize_off: None,
            tags: 0,
        }
    }

    /// The publisher's `onMetaData` body; only the first is recorded.
    pub fn metadata(&mut self, timestamp: u32, body: Bytes) -> io::Result<()> {
        if self.meta.is_some() || self.base.is_some() {
            // A mid-stream update: recorded in place, as received.
            return self.frame(flv::TAG_SCRIPT, FrameKind::Data, timestamp, &body);
        }
        self.meta = Some(body);
        Ok(())
    }

    /// One audio (8) or video (9) message.
    pub fn frame(
        &mut self,
        type_id: u8,
        kind: FrameKind,
        timestamp: u32,
        payload: &Bytes,
    ) -> io::Result<()> {
        match type_id {
            flv::TAG_AUDIO => self.has_audio = true,
            flv::TAG_VIDEO => self.has_video = true,
            flv::TAG_SCRIPT => {}
            _ => return Ok(()),
        }
        let Some(base) = self.base else {
            if matches!(kind, FrameKind::SequenceHeader | FrameKind::Data) {
                if self.pending_seq.len() == MAX_PENDING_SEQ {
                    self.pending_seq.remove(0);
                }
                self.pending_seq.push((type_id, timestamp, payload.clone()));
                return Ok(());
            }
            self.write_preamble(timestamp)?;
            return self.frame(type_id, kind, timestamp, payload);
        };
        let ts = rebase(timestamp, base);
        self.write_tag(type_id, ts, payload)?;
        if kind == FrameKind::Keyframe {
            self.flush()?;
        }
        Ok(())
    }

    /// Hands every buffered byte to the sink.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Bytes written so far (the file length after a flush).
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    /// Tags written so far (script tag included).
    pub fn tags_written(&self) -> u64 {
        self.tags
    }

    /// Largest rebased timestamp written, in ms.
    pub fn last_timestamp(&self) -> u32 {
        self.last_ts
    }

    /// Timestamp (as received) of the first recorded picture or audio
    /// frame; `None` before it (nothing written yet).
    pub fn base(&self) -> Option<u32> {
        self.base
    }

    /// The sink (bytes still in the write buffer are not in it yet).
    pub fn sink_mut(&mut self) -> &mut W {
        self.out.get_mut()
    }

    /// Flushes, patches the header flags, `duration` (the last timestamp)
    /// and `filesize`, and returns the sink positioned at the end of the
    /// file.
    pub fn finalize(self) -> io::Result<W> {
        self.finalize_with(None)
    }

    /// [`FlvRecording::finalize`] with the `duration` in ms given (a
    /// segment's: up to the next segment's first frame), or the last
    /// timestamp when `None`.
    pub fn finalize_with(mut self, duration_ms: Option<u32>) -> io::Result<W> {
        if self.base.is_none() {
            let first = self.pending_seq.first().map_or(0, |p| p.1);
            self.write_preamble(first)?;
        }
        self.out.flush()?;
        let end = self.written;
        let mut flags = 0u8;
        if self.has_audio {
            flags |= 0x04;
        }
        if self.has_video {
            flags |= 0x01;
        }
        let duration = f64::from(duration_ms.unwrap_or(self.last_ts)) / 1000.0;
        let sink = self.out.get_mut();
        sink.seek(SeekFrom::Start(4))?;
        sink.write_all(&[flags])?;
        if let Some(off) = self.duration_off {
            sink.seek(SeekFrom::Start(off))?;
            sink.write_all(&duration.to_be_bytes())?;
        }
        if let Some(off) = self.filesize_off {
            sink.seek(SeekFrom::Start(off))?;
            sink.write_all(&(end as f64).to_be_bytes())?;
        }
        sink.seek(SeekFrom::Start(end))?;
        sink.flush()?;
        self.out.into_inner().map_err(|e| e.into_error())
    }

    fn write_preamble(&mut self, base: u32) -> io::Result<()> {
        self.base = Some(base);
        let (body, hint_audio, hint_video) = build_metadata(self.meta.take().as_deref());
        let header = FlvHeader {
            has_audio: self.has_audio || hint_audio,
            has_video: self.has_video || hint_video,
        };
        self.scratch.clear();
        flv::write_header(header, &mut self.scratch);
        self.out.write_all(&self.scratch)?;
        self.written += self.scratch.len() as u64;
        let body_start = self.written + flv::TAG_HEADER_LEN as u64;
        self.duration_off =
            flv::find_number_property(&body, "duration").map(|o| body_start + o as u64);
        self.filesize_off =
            flv::find_number_property(&body, "filesize").map(|o| body_start + o as u64);
        self.write_tag(flv::TAG_SCRIPT, 0, &body)?;
        for (type_id, ts, payload) in std::mem::take(&mut self.pending_seq) {
            self.write_tag(type_id, rebase(ts, base), &payload)?;
        }
        Ok(())
    }

    fn write_tag(&mut self, type_id: u8, ts: u32, data: &[u8]) -> io::Result<()> {
        self.scratch.clear();
        if let Err(e) = flv::try_write_tag(type_id, ts, data, &mut self.scratch) {
            warn!("recorder: tag not written: {e}");
            return Ok(());
        }
        self.out.write_all(&self.scratch)?;
        self.written += self.scratch.len() as u64;
        self.tags += 1;
        if type_id != flv::TAG_SCRIPT {
            self.last_ts = self.last_ts.max(ts);
        }
        trace!("recorder: tag type {type_id} ts {ts} len {}", data.len());
        Ok(())
    }
}

/// `ts - base` with wrapping arithmetic; earlier than `base` gives 0.
pub fn rebase(ts: u32, base: u32) -> u32 {
    let d = ts.wrapping_sub(base);
    if (d as i32) < 0 {
        0
    } else {
        d
    }
}

/// The `onMetaData` body to write, and the hints (has audio, has video).
/// `duration` and `filesize` come first, as numbers.
pub fn build_metadata(body: Option<&[u8]>) -> (BytesMut, bool, bool) {
    let decoded = body.and_then(|b| match amf0::decode_all(b, &Amf0Limits::default()) {
        Ok(v) => Some(v),
        Err(e) => {
            debug!("recorder: onMetaData does not decode ({e:?}); writing a fresh one");
            None
        }
    });
    let (mut props, ecma) = match decoded.as_deref() {
        Some([Amf0Value::String(name), Amf0Value::EcmaArray(p), ..])
            if name == DATA_ON_METADATA =>
        {
            (p.clone(), true)
        }
        Some([Amf0Value::String(name), Amf0Value::Object(p), ..]) if name == DATA_ON_METADATA => {
            (p.clone(), false)
        }
        _ => (Vec::new(), true),
    };
    let flag = |props: &[(String, Amf0Value)], has: &str, codec: &str| {
        props.iter().any(|(k, v)| match v {
            Amf0Value::Boolean(b) if k == has => *b,
            Amf0Value::Number(_) if k == codec => true,
            Amf0Value::String(_) if k == codec => true,
            _ => false,
        })
    };
    let hint_audio = flag(&props, "hasAudio", "audiocodecid");
    let hint_video = flag(&props, "hasVideo", "videocodecid");
    props.retain(|(k, _)| k != "duration" && k != "filesize");
    props.insert(0, ("filesize".to_owned(), Amf0Value::Number(0.0)));
    props.insert(0, ("duration".to_owned(), Amf0Value::Number(0.0)));
    let obj = if ecma {
        Amf0Value::EcmaArray(props)
    } else {
        Amf0Value::Object(props)
    };
    let mut out = BytesMut::new();
    amf0::encode_all(&[Amf0Value::string(DATA_ON_METADATA), obj], &mut out);
    (out, hint_audio, hint_video)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn avc(key: bool, seq: bool, n: usize) -> Bytes {
        let mut v = vec![if key { 0x17 } else { 0x27 }, u8::from(!seq), 0, 0, 0];
        v.resize(5 + n, 0xAB);
        Bytes::from(v)
    }

    #[test]
    fn rebase_wraps_and_clamps() {
        assert_eq!(rebase(5000, 5000), 0);
        assert_eq!(rebase(0x0100_0010, 0x00FF_FFF0), 0x20);
        assert_eq!(rebase(10, u32::MAX - 9), 20);
        assert_eq!(rebase(4990, 5000), 0);
    }

    /// Header, script tag, sequence header and frames come out in the
    /// documented order with rebased timestamps; no amf0 needed for the
    /// frame path (metadata absent is handled by `build_metadata`).
    #[test]
    fn layout_without_publisher_metadata() {
        let mut r = FlvRecording::new(Cursor::new(Vec::new()));
        let seq = avc(true, true, 4);
        let key = avc(true, false, 100);
        let inter = avc(false, false, 50);
        r.frame(9, FrameKind::SequenceHeader, 1000, &seq).unwrap();
        assert_eq!(r.bytes_written(), 0, "nothing before the first picture");
        r.frame(9, FrameKind::Keyframe, 1000, &key).unwrap();
        r.frame(9, FrameKind::Video, 1040, &inter).unwrap();
        let file = r.finalize().unwrap().into_inner();
        let (hdr, tags) = flv::read_all(Bytes::from(file.clone())).unwrap();
        assert!(hdr.has_video && !hdr.has_audio);
        let got: Vec<(u8, u32, usize)> = tags
            .iter()
            .map(|t| (t.tag_type, t.timestamp, t.data.len()))
            .collect();
        assert_eq!(got[1..], [(9, 0, 9), (9, 0, 105), (9, 40, 55)]);
        assert_eq!(got[0].0, 18);
        let body = &tags[0].data;
        let d = flv::find_number_property(body, "duration").unwrap();
        assert_eq!(f64::from_be_bytes(body[d..d + 8].try_into().unwrap()), 0.04);
        let f = flv::find_number_property(body, "filesize").unwrap();
        assert_eq!(
            f64::from_be_bytes(body[f..f + 8].try_into().unwrap()),
            file.len() as f64
        );
    }
}
