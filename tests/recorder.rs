//! Recorder thread tests: real files in a temp directory, the ffmpeg source
//! capture as the published stream, injected failing and blocking sinks.

use bytes::{Bytes, BytesMut};
use rtmp_edge::proto::amf0::{self, Amf0Limits, Amf0Value};
use rtmp_edge::proto::flv::{self, FlvReader, FlvTag};
use rtmp_edge::record::{
    open_file_sink, RecordSink, RecorderConfig, RecorderHandle, RecordingId, SinkOpener,
};
use std::fs::{self, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const SOURCE: &str = "ffmpeg_publish.source.flv";

#[path = "common/captures.rs"]
mod captures;

/// 2024-02-29 12:34:56 UTC.
const T0: u64 = 1_709_210_096;

fn started() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(T0)
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rtmp-edge-rec-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    d
}

/// The source capture's tags (`None`: skipped, see `common/captures.rs`).
fn source_tags() -> Option<Vec<FlvTag>> {
    let bytes = captures::read_capture(SOURCE)?;
    let (_, tags) = flv::read_all(Bytes::from(bytes)).expect("source parses");
    Some(tags)
}

/// Feeds the source's script tag as metadata and its audio/video tags as
/// frames with `offset` added (wrapping) to their timestamps.
fn feed_source(h: &mut RecorderHandle, id: RecordingId, src: &[FlvTag], offset: u32) {
    for t in src {
        let ts = t.timestamp.wrapping_add(offset);
        match t.tag_type {
            flv::TAG_SCRIPT => h.metadata(id, ts, t.data.clone()),
            _ => h.frame(id, t.tag_type, ts, t.data.clone()),
        }
    }
}

fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn read_f64(body: &[u8], key: &str) -> f64 {
    let off = flv::find_number_property(body, key).unwrap_or_else(|| panic!("{key} present"));
    f64::from_be_bytes(body[off..off + 8].try_into().unwrap())
}

/// Walks the raw file: every PreviousTagSize equals 11 + the tag's size.
/// Returns the number of tags.
fn check_prev_tag_sizes(file: &[u8]) -> usize {
    assert_eq!(&file[..3], b"FLV");
    assert_eq!(u32::from_be_bytes(file[9..13].try_into().unwrap()), 0);
    let mut p = 13;
    let mut n = 0;
    while p < file.len() {
        let size = u32::from_be_bytes([0, file[p + 1], file[p + 2], file[p + 3]]) as usize;
        let end = p + 11 + size;
        let prev = u32::from_be_bytes(file[end..end + 4].try_into().unwrap()) as usize;
        assert_eq!(prev, 11 + size, "PreviousTagSize of tag {n} at {p}");
        p = end + 4;
        n += 1;
    }
    assert_eq!(p, file.len());
    n
}

/// A finalized recording: parses strictly, sizes check, script tag first
/// with `duration` = last ts / 1000 and `filesize` = file length.
/// Returns the header and the media tags.
fn check_finalized(path: &Path) -> (flv::FlvHeader, Vec<FlvTag>) {
    let file = fs::read(path).expect("recording exists");
    let n = check_prev_tag_sizes(&file);
    let (hdr, mut tags) = flv::read_all(Bytes::from(file.clone())).expect("recording parses");
    assert_eq!(tags.len(), n);
    let script = tags.remove(0);
    assert_eq!(script.tag_type, flv::TAG_SCRIPT);
    assert_eq!(script.timestamp, 0);
    let vals = amf0::decode_all(&script.data, &Amf0Limits::default()).expect("meta decodes");
    assert_eq!(vals[0], Amf0Value::String("onMetaData".into()));
    let last = tags.iter().map(|t| t.timestamp).max().unwrap_or(0);
    assert_eq!(read_f64(&script.data, "duration"), f64::from(last) / 1000.0);
    assert_eq!(read_f64(&script.data, "filesize"), file.len() as f64);
    (hdr, tags)
}

fn only_file(dir: &Path) -> PathBuf {
    let files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files.into_iter().next().unwrap()
}

fn record_source_with_offset(name: &str, offset: u32) {
    let dir = temp_dir(name);
    let mut h = RecorderHandle::spawn(RecorderConfig::new(&dir)).unwrap();
    let Some(src) = source_tags() else {
        return;
    };
    let id = h.start("live", "cap", started());
    feed_source(&mut h, id, &src, offset);
    h.stop(id);
    assert_eq!(h.dropped(id), 0);
    h.shutdown(Duration::from_secs(5));

    let path = only_file(&dir);
    assert_eq!(
        path.file_name().unwrap().to_str().unwrap(),
        "live_cap_20240229_123456.flv"
    );
    let (hdr, tags) = check_finalized(&path);
    assert!(hdr.has_audio && hdr.has_video);
    let media: Vec<&FlvTag> = src.iter().filter(|t| t.tag_type != 18).collect();
    assert_eq!(tags.len(), media.len());
    // The source starts at 0, so the rebased recording equals it exactly.
    for (i, (got, want)) in tags.iter().zip(media).enumerate() {
        assert_eq!(got.tag_type, want.tag_type, "tag {i} type");
        assert_eq!(got.timestamp, want.timestamp, "tag {i} ts");
        assert_eq!(got.data, want.data, "tag {i} payload");
    }
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn records_ffmpeg_source_with_offset_5000() {
    record_source_with_offset("src5000", 5000);
}

#[test]
fn records_ffmpeg_source_across_extended_timestamp_boundary() {
    record_source_with_offset("srcext", 0x00FF_FFFF - 1000);
}

#[test]
fn records_ffmpeg_source_across_u32_wrap() {
    record_source_with_offset("srcwrap", u32::MAX - 1000);
}

/// The recorded metadata keeps the publisher's properties.
#[test]
fn publisher_metadata_is_kept_with_patched_fields() {
    let dir = temp_dir("meta");
    let mut h = RecorderHandle::spawn(RecorderConfig::new(&dir)).unwrap();
    let mut body = BytesMut::new();
    amf0::encode_all(
        &[
            Amf0Value::String("onMetaData".into()),
            Amf0Value::Object(vec![
                ("width".into(), Amf0Value::Number(320.0)),
                ("encoder".into(), Amf0Value::String("test".into())),
                ("duration".into(), Amf0Value::String("bogus".into())),
            ]),
        ],
        &mut body,
    );
    let id = h.start("live", "meta", started());
    h.metadata(id, 0, body.freeze());
    h.frame(id, 9, 100, key(200));
    h.frame(id, 9, 2600, inter(100));
    h.stop(id);
    h.shutdown(Duration::from_secs(5));
    let path = only_file(&dir);
    let file = fs::read(&path).unwrap();
    let (_, tags) = flv::read_all(Bytes::from(file)).unwrap();
    let vals = amf0::decode_all(&tags[0].data, &Amf0Limits::default()).unwrap();
    let obj = &vals[1];
    assert!(matches!(obj, Amf0Value::Object(_)), "kind kept: {obj:?}");
    assert_eq!(obj.get("width"), Some(&Amf0Value::Number(320.0)));
    assert_eq!(obj.get("encoder"), Some(&Amf0Value::String("test".into())));
    assert_eq!(obj.get("duration"), Some(&Amf0Value::Number(2.5)));
    check_finalized(&path);
    let _ = fs::remove_dir_all(&dir);
}

fn key(n: usize) -> Bytes {
    avc(0x17, 1, n)
}
fn inter(n: usize) -> Bytes {
    avc(0x27, 1, n)
}
fn vseq(n: usize) -> Bytes {
    avc(0x17, 0, n)
}
fn avc(b0: u8, b1: u8, n: usize) -> Bytes {
    let mut v = vec![b0, b1, 0, 0, 0];
    v.resize(n.max(5), 0x5A);
    Bytes::from(v)
}
fn aac(seq: bool, n: usize) -> Bytes {
    let mut v = vec![0xAF, u8::from(!seq)];
    v.resize(n.max(2), 0x33);
    Bytes::from(v)
}

#[test]
fn audio_only_and_video_only_header_flags() {
    let dir = temp_dir("flags");
    let mut h = RecorderHandle::spawn(RecorderConfig::new(&dir)).unwrap();
    let a = h.start("live", "audio", started());
    h.frame(a, 8, 10, aac(true, 4));
    for i in 0..20 {
        h.frame(a, 8, 10 + i * 23, aac(false, 100));
    }
    let v = h.start("live", "video", started());
    h.frame(v, 9, 0, vseq(30));
    h.frame(v, 9, 0, key(500));
    for i in 1..10 {
        h.frame(v, 9, i * 66, inter(100));
    }
    h.stop(a);
    h.stop(v);
    h.shutdown(Duration::from_secs(5));
    let (ha, ta) = check_finalized(&dir.join("live_audio_20240229_123456.flv"));
    assert!(ha.has_audio && !ha.has_video);
    assert_eq!(ta.len(), 21);
    assert!(ta.iter().all(|t| t.tag_type == 8));
    assert_eq!(ta.last().unwrap().timestamp, 19 * 23);
    let (hv, tv) = check_finalized(&dir.join("live_video_20240229_123456.flv"));
    assert!(!hv.has_audio && hv.has_video);
    assert_eq!(tv.len(), 11);
    assert_eq!(tv[0].data, vseq(30));
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn hostile_names_stay_inside_the_directory() {
    let base = temp_dir("hostile");
    let dir = base.join("rec");
    let mut h = RecorderHandle::spawn(RecorderConfig::new(&dir)).unwrap();
    let long = "a".repeat(4096);
    let long_multi = "é".repeat(2048);
    let cases: Vec<(&str, &str)> = vec![
        ("../../etc", "x"),
        ("live", "../../etc/x"),
        ("/abs", "/abs"),
        ("a\\b", "c\\d"),
        ("nul\0x", "y\0"),
        (&long, &long_multi),
        ("..", ".."),
        ("", ""),
        (".", "\u{FFFD}\u{1}\n"),
    ];
    let mut ids = Vec::new();
    for (app, stream) in &cases {
        let id = h.start(app, stream, started());
        h.frame(id, 9, 0, key(50));
        h.stop(id);
        ids.push(id);
    }
    let paths: Vec<Option<PathBuf>> = {
        wait_until("all finished", Duration::from_secs(5), || {
            ids.iter().all(|id| h.finished(*id))
        });
        ids.iter().map(|id| h.file_path(*id)).collect()
    };
    h.shutdown(Duration::from_secs(5));
    // Nothing was created next to the directory.
    let siblings: Vec<_> = fs::read_dir(&base).unwrap().collect();
    assert_eq!(siblings.len(), 1);
    let files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), cases.len(), "{files:?}");
    for (i, p) in paths.into_iter().enumerate() {
        let p = p.unwrap_or_else(|| panic!("case {i} has a file"));
        assert_eq!(p.parent(), Some(dir.as_path()), "case {i}: {p:?}");
        let name = p.file_name().unwrap().to_str().unwrap();
        assert!(name.len() <= 255, "case {i}: {} bytes", name.len());
        assert!(!name.starts_with('.'), "case {i}: {name}");
        assert!(name.ends_with(".flv"));
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)),
            "case {i}: {name}"
        );
        check_finalized(&p);
    }
    let _ = fs::remove_dir_all(&base);
}

#[test]
fn same_key_same_second_gets_suffix_and_reconnect_gets_new_file() {
    let dir = temp_dir("suffix");
    let mut h = RecorderHandle::spawn(RecorderConfig::new(&dir)).unwrap();
    let mut ids = Vec::new();
    for n in 0..3u32 {
        // Three publishes of one key within one second (sub-second parts differ).
        let t = started() + Duration::from_millis(u64::from(n) * 300);
        let id = h.start("live/app", "cap", t);
        h.frame(id, 9, 0, key(10 + n as usize));
        h.stop(id);
        ids.push(id);
    }
    // A reconnect a second later gets its own plain name.
    let later = h.start("live/app", "cap", started() + Duration::from_secs(1));
    h.frame(later, 9, 0, key(99));
    assert_ne!(later, ids[0]);
    h.shutdown(Duration::from_secs(5));
    let names = [
        "live_app_cap_20240229_123456.flv",
        "live_app_cap_20240229_123456_2.flv",
        "live_app_cap_20240229_123456_3.flv",
        "live_app_cap_20240229_123457.flv",
    ];
    for (i, name) in names.iter().enumerate() {
        let (_, tags) = check_finalized(&dir.join(name));
        // Each file holds its own recording's frame.
        let want = if i < 3 { 10 + i } else { 99 };
        assert_eq!(tags[0].data.len(), want, "{name}");
    }
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 4);
    let _ = fs::remove_dir_all(&dir);
}

/// Fails every write after `left` bytes, like a full disk.
struct FailAfter {
    inner: fs::File,
    left: usize,
}

impl Write for FailAfter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "injected: no space left",
            ));
        }
        let n = buf.len().min(self.left);
        let n = self.inner.write(&buf[..n])?;
        self.left -= n;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl Seek for FailAfter {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}

fn create_new(p: &Path) -> io::Result<fs::File> {
    OpenOptions::new().write(true).create_new(true).open(p)
}

#[test]
fn failing_writer_stops_only_that_recording() {
    let dir = temp_dir("fail");
    let mut cfg = RecorderConfig::new(&dir);
    let opener: SinkOpener = Arc::new(|p: &Path| -> io::Result<Box<dyn RecordSink>> {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("bad_") {
            Ok(Box::new(FailAfter {
                inner: create_new(p)?,
                left: 20_000,
            }))
        } else {
            open_file_sink(p)
        }
    });
    cfg.opener = opener;
    // Flush often so the failure shows up while the stream goes on.
    cfg.flush_interval_ms = 10;
    let mut h = RecorderHandle::spawn(cfg).unwrap();
    let Some(src) = source_tags() else {
        return;
    };
    let bad = h.start("bad", "cap", started());
    let good = h.start("good", "cap", started());
    for t in &src {
        for id in [bad, good] {
            match t.tag_type {
                18 => h.metadata(id, t.timestamp, t.data.clone()),
                _ => h.frame(id, t.tag_type, t.timestamp, t.data.clone()),
            }
        }
    }
    wait_until("bad recording fails", Duration::from_secs(5), || {
        h.failed(bad)
    });
    wait_until(
        "queued frames of bad discarded",
        Duration::from_secs(5),
        || h.in_flight(bad) == 0,
    );
    // Frames for a failed recording are discarded before the channel.
    h.frame(bad, 9, 9999, key(1000));
    assert_eq!(h.in_flight(bad), 0);
    h.stop(bad);
    h.stop(good);
    assert!(!h.failed(good));
    let bad_path = h.file_path(bad).unwrap();
    h.shutdown(Duration::from_secs(5));
    let (_, tags) = check_finalized(&dir.join("good_cap_20240229_123456.flv"));
    assert_eq!(tags.len(), src.len() - 1);
    let bad_len = fs::metadata(&bad_path).unwrap().len();
    assert!(
        bad_len <= 20_000,
        "bad file stopped at the error: {bad_len}"
    );
    let _ = fs::remove_dir_all(&dir);
}

/// A sink whose writes wait for a gate; `entered` tells that the recorder
/// thread is stuck in a write.
#[derive(Clone)]
struct Gate {
    open: Arc<(Mutex<bool>, Condvar)>,
    entered: Arc<AtomicBool>,
}

impl Gate {
    fn new() -> Self {
        Gate {
            open: Arc::new((Mutex::new(false), Condvar::new())),
            entered: Arc::new(AtomicBool::new(false)),
        }
    }
    fn release(&self) {
        *self.open.0.lock().unwrap() = true;
        self.open.1.notify_all();
    }
    fn opener(&self) -> SinkOpener {
        let gate = self.clone();
        Arc::new(move |p: &Path| -> io::Result<Box<dyn RecordSink>> {
            Ok(Box::new(GatedFile {
                inner: create_new(p)?,
                gate: gate.clone(),
            }))
        })
    }
}

struct GatedFile {
    inner: fs::File,
    gate: Gate,
}

impl Write for GatedFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.gate.entered.store(true, Ordering::SeqCst);
        let mut open = self.gate.open.0.lock().unwrap();
        while !*open {
            open = self.gate.open.1.wait(open).unwrap();
        }
        drop(open);
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl Seek for GatedFile {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}

#[test]
fn over_budget_drops_up_to_next_keyframe_and_counts() {
    let dir = temp_dir("budget");
    let gate = Gate::new();
    let mut cfg = RecorderConfig::new(&dir);
    cfg.budget_bytes = 3100;
    cfg.opener = gate.opener();
    let mut h = RecorderHandle::spawn(cfg).unwrap();
    let id = h.start("live", "slow", started());
    h.frame(id, 9, 100, vseq(20));
    h.frame(id, 9, 100, key(1000)); // thread flushes at this keyframe: blocks
    wait_until("thread blocked in write", Duration::from_secs(5), || {
        gate.entered.load(Ordering::SeqCst)
    });
    h.frame(id, 9, 140, inter(1000)); // 2000 in flight
    h.frame(id, 9, 180, inter(1000)); // 3000
    assert_eq!(h.dropped(id), 0);
    h.frame(id, 9, 220, inter(1000)); // over: dropped
    h.frame(id, 8, 230, aac(false, 10)); // waiting for a keyframe: dropped
    h.frame(id, 9, 260, inter(10)); // dropped
    h.frame(id, 9, 300, vseq(20)); // sequence header: never dropped
    h.frame(id, 9, 310, key(1000)); // still over budget: dropped
    assert_eq!(h.dropped(id), 4);
    gate.release();
    wait_until("queue drained", Duration::from_secs(5), || {
        h.in_flight(id) == 0
    });
    h.frame(id, 9, 340, inter(10)); // fits, but still waiting: dropped
    h.frame(id, 8, 350, aac(false, 10)); // dropped
    h.frame(id, 9, 400, key(1000)); // resumes
    h.frame(id, 8, 410, aac(false, 10));
    h.frame(id, 9, 440, inter(1000));
    assert_eq!(h.dropped(id), 6);
    h.stop(id);
    assert_eq!(h.dropped(id), 6, "count kept after stop");
    h.shutdown(Duration::from_secs(5));
    let (_, tags) = check_finalized(&only_file(&dir));
    let got: Vec<(u8, u32, usize)> = tags
        .iter()
        .map(|t| (t.tag_type, t.timestamp, t.data.len()))
        .collect();
    assert_eq!(
        got,
        [
            (9, 0, 20),
            (9, 0, 1000),
            (9, 40, 1000),
            (9, 80, 1000),
            (9, 200, 20),
            (9, 300, 1000),
            (8, 310, 10),
            (9, 340, 1000),
        ]
    );
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn full_channel_drops_media_but_keeps_sequence_headers_and_stop() {
    let dir = temp_dir("chan");
    let gate = Gate::new();
    let mut cfg = RecorderConfig::new(&dir);
    cfg.channel_capacity = 3;
    cfg.opener = gate.opener();
    let mut h = RecorderHandle::spawn(cfg).unwrap();
    let id = h.start("live", "chan", started());
    h.frame(id, 9, 0, key(100));
    wait_until("thread blocked in write", Duration::from_secs(5), || {
        gate.entered.load(Ordering::SeqCst)
    });
    for i in 1..=3 {
        h.frame(id, 9, i * 10, inter(100)); // fills the channel
    }
    assert_eq!(h.dropped(id), 0);
    h.frame(id, 9, 40, inter(100)); // full: dropped
    h.frame(id, 8, 45, aac(true, 4)); // sequence header: waits in the backlog
    h.frame(id, 9, 50, key(100)); // behind the backlog: dropped
    h.stop(id); // waits in the backlog too
    assert_eq!(h.dropped(id), 2);
    gate.release();
    wait_until("stop delivered", Duration::from_secs(5), || {
        h.poll();
        h.finished(id)
    });
    h.shutdown(Duration::from_secs(5));
    let (hdr, tags) = check_finalized(&only_file(&dir));
    assert!(hdr.has_audio && hdr.has_video);
    let got: Vec<(u8, u32)> = tags.iter().map(|t| (t.tag_type, t.timestamp)).collect();
    assert_eq!(got, [(9, 0), (9, 10), (9, 20), (9, 30), (8, 45)]);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn stop_finalizes_within_one_second() {
    let dir = temp_dir("stop");
    let mut h = RecorderHandle::spawn(RecorderConfig::new(&dir)).unwrap();
    let Some(src) = source_tags() else {
        return;
    };
    let id = h.start("live", "cap", started());
    feed_source(&mut h, id, &src, 123);
    let t = Instant::now();
    h.stop(id);
    // The promise is 1 s (src/record/mod.rs); 3 s is that with margin for a
    // loaded machine, and still fails a recorder that waits for the next
    // flush interval or for more input.
    wait_until("finalized", Duration::from_secs(3), || h.finished(id));
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    // Read it while the recorder still runs.
    check_finalized(&h.file_path(id).unwrap());
    h.shutdown(Duration::from_secs(5));
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn shutdown_finalizes_open_recordings_within_the_wait() {
    let dir = temp_dir("shutdown");
    let mut h = RecorderHandle::spawn(RecorderConfig::new(&dir)).unwrap();
    let Some(src) = source_tags() else {
        return;
    };
    let a = h.start("live", "a", started());
    let b = h.start("live", "b", started());
    feed_source(&mut h, a, &src, 0);
    feed_source(&mut h, b, &src[..100], 77);
    // Returning before the wait is over means every file was finalized, not
    // abandoned at the deadline (10 s: margin, the work takes milliseconds).
    let t = Instant::now();
    h.shutdown(Duration::from_secs(10));
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    let (_, ta) = check_finalized(&dir.join("live_a_20240229_123456.flv"));
    assert_eq!(ta.len(), src.len() - 1);
    let (_, tb) = check_finalized(&dir.join("live_b_20240229_123456.flv"));
    assert_eq!(tb.len(), 99);
    let _ = fs::remove_dir_all(&dir);
}

/// Without stop: after the flush interval the file on disk parses (tag by
/// tag, as a player reads a growing file) and holds every frame sent.
#[test]
fn crash_leaves_a_playable_prefix() {
    let dir = temp_dir("crash");
    let mut cfg = RecorderConfig::new(&dir);
    cfg.flush_interval_ms = 100;
    let mut h = RecorderHandle::spawn(cfg).unwrap();
    let id = h.start("live", "crash", started());
    h.frame(id, 9, 1000, vseq(30));
    h.frame(id, 8, 1000, aac(true, 4));
    h.frame(id, 9, 1000, key(3000));
    // Inter frames only: these reach the disk by the timer, not a keyframe.
    for i in 1..=30u32 {
        h.frame(id, 9, 1000 + i * 66, inter(400));
        h.frame(id, 8, 1000 + i * 66, aac(false, 200));
    }
    // The thread opens the file with the first frame.
    wait_until("file opened", Duration::from_secs(10), || {
        h.file_path(id).is_some()
    });
    let path = h.file_path(id).unwrap();
    // Read the growing file as a player would, until the timer has flushed
    // every frame (each read must parse and end on a tag boundary).
    let read = || {
        let file = fs::read(&path).unwrap();
        let mut buf = BytesMut::from(&file[..]);
        let mut reader = FlvReader::new();
        let mut tags = Vec::new();
        while let Some(t) = reader.next_tag(&mut buf).expect("prefix parses") {
            tags.push(t);
        }
        assert!(buf.is_empty(), "ends on a tag boundary");
        (reader, tags)
    };
    wait_until("every frame flushed", Duration::from_secs(10), || {
        read().1.len() >= 1 + 3 + 60
    });
    let (reader, tags) = read();
    assert_eq!(reader.prev_size_mismatches(), 0);
    let hdr = reader.header().unwrap();
    assert!(hdr.has_audio && hdr.has_video);
    assert_eq!(tags[0].tag_type, flv::TAG_SCRIPT);
    assert_eq!(tags.len(), 1 + 3 + 60);
    assert_eq!(tags.last().unwrap().timestamp, 30 * 66);
    // Unfinalized: duration and filesize are still 0.
    assert_eq!(read_f64(&tags[0].data, "duration"), 0.0);
    h.shutdown(Duration::from_secs(5));
    let (_, done) = check_finalized(&path);
    assert_eq!(done.len(), 63);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn spawn_creates_the_directory_or_fails() {
    let base = temp_dir("spawn");
    let nested = base.join("x/y");
    let h = RecorderHandle::spawn(RecorderConfig::new(&nested)).unwrap();
    assert!(nested.is_dir());
    h.shutdown(Duration::from_secs(1));
    let file = base.join("plain");
    fs::write(&file, b"x").unwrap();
    assert!(RecorderHandle::spawn(RecorderConfig::new(&file)).is_err());
    assert!(RecorderHandle::spawn(RecorderConfig::new(file.join("sub"))).is_err());
    let _ = fs::remove_dir_all(&base);
}

/// Enhanced RTMP video (FourCC headers) is written byte for byte; its
/// SequenceStart counts as a sequence header and CodedFrames key frames as
/// keyframes.
#[test]
fn enhanced_rtmp_video_is_written_as_received() {
    let dir = temp_dir("ertmp");
    let mut h = RecorderHandle::spawn(RecorderConfig::new(&dir)).unwrap();
    let id = h.start("live", "hevc", started());
    let ex = |b0: u8, n: usize| {
        let mut v = vec![b0, b'h', b'v', b'c', b'1'];
        v.resize(n, 0x42);
        Bytes::from(v)
    };
    let sent = [
        (500, ex(0x90, 40)),  // key frame, SequenceStart
        (500, ex(0x91, 900)), // key frame, CodedFrames
        (533, ex(0xA3, 300)), // inter frame, CodedFramesX
        (566, ex(0xA1, 300)), // inter frame, CodedFrames
    ];
    for (ts, p) in &sent {
        h.frame(id, 9, *ts, p.clone());
    }
    h.stop(id);
    h.shutdown(Duration::from_secs(5));
    let (hdr, tags) = check_finalized(&only_file(&dir));
    assert!(hdr.has_video && !hdr.has_audio);
    let got: Vec<(u32, Bytes)> = tags.iter().map(|t| (t.timestamp, t.data.clone())).collect();
    let want: Vec<(u32, Bytes)> = sent.iter().map(|(ts, p)| (ts - 500, p.clone())).collect();
    assert_eq!(got, want);
    let _ = fs::remove_dir_all(&dir);
}

/// ffprobe (when installed; required with RTMP_REQUIRE_INTEROP=1) reads the
/// recording without errors, sees H.264 + AAC and the right duration.
#[test]
fn ffprobe_reads_the_recording() {
    let probe = std::process::Command::new("ffprobe")
        .arg("-version")
        .output();
    if probe.is_err() {
        assert!(
            std::env::var_os("RTMP_REQUIRE_INTEROP").is_none(),
            "ffprobe required but missing"
        );
        println!("SKIPPED: ffprobe not installed (RTMP_REQUIRE_INTEROP=1 makes this a failure)");
        return;
    }
    let dir = temp_dir("ffprobe");
    let mut h = RecorderHandle::spawn(RecorderConfig::new(&dir)).unwrap();
    let Some(src) = source_tags() else {
        return;
    };
    let id = h.start("live", "cap", started());
    feed_source(&mut h, id, &src, 0x00FF_FFFF - 1000);
    h.stop(id);
    h.shutdown(Duration::from_secs(5));
    let path = only_file(&dir);
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration:stream=codec_name",
        ])
        .args(["-of", "default=nw=1"])
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.trim().is_empty(), "ffprobe complained: {stderr}");
    assert!(stdout.contains("codec_name=h264"), "{stdout}");
    assert!(stdout.contains("codec_name=aac"), "{stdout}");
    let last = src.iter().map(|t| t.timestamp).max().unwrap();
    let duration: f64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("duration="))
        .expect("duration line")
        .parse()
        .unwrap();
    let want = f64::from(last) / 1000.0;
    eprintln!("ffprobe duration {duration} s, last ts {last} ms");
    assert!(
        (duration - want).abs() < 0.1,
        "ffprobe {duration} s, want {want} s"
    );
    let _ = fs::remove_dir_all(&dir);
}

/// Sleeps in every write, like a slow disk.
struct SlowFile {
    inner: fs::File,
    delay: Duration,
}

impl Write for SlowFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        std::thread::sleep(self.delay);
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl Seek for SlowFile {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}

/// A backlog far longer than the wait: past half of it the thread skips the
/// queued media, finalizes, and shutdown returns in time with a valid file.
#[test]
fn shutdown_with_a_slow_disk_skips_queued_media_and_finalizes_in_time() {
    let dir = temp_dir("slowdisk");
    let mut cfg = RecorderConfig::new(&dir);
    cfg.opener = Arc::new(|p: &Path| -> io::Result<Box<dyn RecordSink>> {
        Ok(Box::new(SlowFile {
            inner: create_new(p)?,
            delay: Duration::from_millis(5),
        }))
    });
    let mut h = RecorderHandle::spawn(cfg).unwrap();
    let id = h.start("live", "slow", started());
    // Every frame a keyframe: one flush (one slow write) each, ~5 s in all.
    for i in 0..1000u32 {
        h.frame(id, 9, i * 33, key(200));
    }
    assert_eq!(h.dropped(id), 0);
    // In time: the 1 s wait plus margin, far below the ~5 s backlog.
    let t = Instant::now();
    h.shutdown(Duration::from_millis(1000));
    let took = t.elapsed();
    assert!(took < Duration::from_millis(2500), "took {took:?}");
    let (_, tags) = check_finalized(&only_file(&dir));
    assert!(
        tags.len() < 1000,
        "queued media was skipped: {}",
        tags.len()
    );
    assert!(!tags.is_empty());
    let _ = fs::remove_dir_all(&dir);
}

/// A disk that hangs for good: shutdown still returns after `max_wait`.
#[test]
fn shutdown_returns_after_max_wait_when_the_disk_hangs() {
    let dir = temp_dir("hang");
    let gate = Gate::new();
    let mut cfg = RecorderConfig::new(&dir);
    cfg.opener = gate.opener();
    let mut h = RecorderHandle::spawn(cfg).unwrap();
    let id = h.start("live", "hang", started());
    h.frame(id, 9, 0, key(100));
    wait_until("thread blocked in write", Duration::from_secs(5), || {
        gate.entered.load(Ordering::SeqCst)
    });
    // The bound is the behaviour: not before the 300 ms wait (load can only
    // make it later), and not waiting for the hung disk (held until
    // released below); 3 s of margin above the wait.
    let t = Instant::now();
    h.shutdown(Duration::from_millis(300));
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_millis(3300),
        "took {took:?}"
    );
    // Let the detached thread finish so the test leaves nothing behind.
    gate.release();
    let _ = fs::remove_dir_all(&dir);
}

/// Seeded property test of the file writer alone (in memory): random audio
/// and video sequences with random base timestamps (near the 24-bit and
/// 32-bit boundaries too) come back tag for tag, rebased, with correct
/// PreviousTagSizes, flags and patched fields.
#[test]
fn writer_round_trips_random_streams() {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use rtmp_edge::record::writer::FlvRecording;
    use rtmp_edge::record::FrameKind;
    use std::io::Cursor;

    for seed in 0..200u64 {
        let r = std::panic::catch_unwind(|| {
            let mut rng = StdRng::seed_from_u64(seed);
            let base = match rng.random_range(0..3) {
                0 => rng.random_range(0..100_000u32),
                1 => 0x00FF_FFFF - rng.random_range(0..5000u32),
                _ => u32::MAX - rng.random_range(0..5000u32),
            };
            let audio = rng.random_bool(0.8);
            let video = !audio || rng.random_bool(0.8);
            let mut rec = FlvRecording::new(Cursor::new(Vec::new()));
            let mut sent: Vec<(u8, u32, Bytes)> = Vec::new();
            if video {
                let p = vseq(rng.random_range(5..60));
                rec.frame(9, FrameKind::SequenceHeader, base, &p).unwrap();
                sent.push((9, 0, p));
            }
            if audio {
                let p = aac(true, rng.random_range(2..8));
                rec.frame(8, FrameKind::SequenceHeader, base, &p).unwrap();
                sent.push((8, 0, p));
            }
            let mut ts = 0u32;
            for i in 0..rng.random_range(1..80) {
                let is_video = video && (!audio || rng.random_bool(0.5));
                let (t, kind, p) = if is_video {
                    let k = i == 0 || rng.random_bool(0.1);
                    let n = rng.random_range(5..3000);
                    if k {
                        (9, FrameKind::Keyframe, key(n))
                    } else {
                        (9, FrameKind::Video, inter(n))
                    }
                } else {
                    (8, FrameKind::Audio, aac(false, rng.random_range(2..500)))
                };
                rec.frame(t, kind, base.wrapping_add(ts), &p).unwrap();
                sent.push((t, ts, p));
                ts += rng.random_range(0..80);
            }
            let file = rec.finalize().unwrap().into_inner();
            let n = check_prev_tag_sizes(&file);
            let (hdr, tags) = flv::read_all(Bytes::from(file.clone())).unwrap();
            assert_eq!(n, tags.len());
            assert_eq!((hdr.has_audio, hdr.has_video), (audio, video));
            assert_eq!(tags[0].tag_type, flv::TAG_SCRIPT);
            let got: Vec<(u8, u32, Bytes)> = tags[1..]
                .iter()
                .map(|t| (t.tag_type, t.timestamp, t.data.clone()))
                .collect();
            assert_eq!(got, sent);
            let last = sent.iter().map(|s| s.1).max().unwrap();
            assert_eq!(
                read_f64(&tags[0].data, "duration"),
                f64::from(last) / 1000.0
            );
            assert_eq!(read_f64(&tags[0].data, "filesize"), file.len() as f64);
        });
        if let Err(e) = r {
            eprintln!("writer_round_trips_random_streams failed with seed {seed}");
            std::panic::resume_unwind(e);
        }
    }
}

/// A segmented recording through the handle: each finalized segment's path
/// is handed over once, in order; the current segment's path and bytes are
/// what the status shows; with `fsync` the thread syncs at each flush
/// interval and each closed file.
#[test]
fn segments_are_reported_one_by_one_and_fsync_is_called() {
    let dir = temp_dir("segments");
    let mut cfg = RecorderConfig::new(&dir);
    cfg.fsync = true;
    cfg.flush_interval_ms = 20;
    let mut h = RecorderHandle::spawn(cfg).unwrap();
    let plan = rtmp_edge::record::RecordPlan {
        segment_ms: 1000,
        path: "{app}/{name}-{seq}.flv".into(),
        ..Default::default()
    };
    let id = h.start_with("live", "seg", started(), plan);
    h.frame(id, 9, 0, vseq(1));
    // 2.5 s at 10 fps, a keyframe every second: segments 0, 1 and 2.
    for n in 0..25u32 {
        let payload = if n % 10 == 0 { key(300) } else { inter(100) };
        h.frame(id, 9, n * 100, payload);
        if n == 15 {
            let path = dir.join("live/seg-1.flv");
            wait_until("segment 1 open", Duration::from_secs(5), || {
                h.file_path(id).as_deref() == Some(path.as_path())
            });
            wait_until("a flush", Duration::from_secs(5), || {
                h.segment_written(id) > 0 && h.written(id) > h.segment_written(id)
            });
        }
    }
    wait_until("segment 2 open", Duration::from_secs(5), || {
        h.file_path(id).is_some_and(|p| p.ends_with("seg-2.flv"))
    });
    let mut files = h.take_files(id);
    assert!(h.take_files(id).is_empty(), "taken once");
    h.stop(id);
    wait_until("finalized", Duration::from_secs(5), || h.finished(id));
    files.extend(h.take_files(id));
    let names: Vec<String> = files
        .iter()
        .map(|p| p.strip_prefix(&dir).unwrap().display().to_string())
        .collect();
    assert_eq!(
        names,
        ["live/seg-0.flv", "live/seg-1.flv", "live/seg-2.flv"]
    );
    for (f, want) in files.iter().zip([1.0, 1.0, 0.4]) {
        let file = fs::read(f).unwrap();
        let len = file.len() as f64;
        let (_, tags) = flv::read_all(Bytes::from(file)).unwrap();
        assert_eq!(read_f64(&tags[0].data, "duration"), want, "{}", f.display());
        assert_eq!(read_f64(&tags[0].data, "filesize"), len);
        assert_eq!(&tags[1].data[..], &vseq(1)[..], "header repeated");
        assert_eq!(tags[2].timestamp, 0);
    }
    assert!(h.syncs() >= 3, "{} fsyncs", h.syncs());
    h.shutdown(Duration::from_secs(5));
    let _ = fs::remove_dir_all(&dir);
}
