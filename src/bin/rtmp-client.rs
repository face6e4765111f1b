//! `rtmp-client`: publish an FLV file to an RTMP server, or play a stream
//! into an FLV file.
//!
//! A publisher asked to reconnect (E-RTMP `NetConnection.Connect.ReconnectRequest`)
//! connects again at the next video keyframe, to the request's tcUrl if it
//! names one, sends the metadata and the sequence headers sent so far, then
//! finishes the old connection (make before break). If that connect fails
//! it goes on publishing on the old one.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use argh::FromArgs;
use bytes::{Bytes, BytesMut};
use rtmp_edge::client::{exit_code, ClientError, Player, Publisher, RtmpUrl};
use rtmp_edge::proto::amf0::{self, Amf0Limits, Amf0Value};
use rtmp_edge::proto::client::ClientEvent;
use rtmp_edge::proto::flv::{self, FlvHeader, FlvTag, TAG_AUDIO, TAG_SCRIPT, TAG_VIDEO};
use rtmp_edge::proto::session::MediaKind;
use rtmp_edge::proto::status::{CODE_PLAY_STOP, CODE_PLAY_UNPUBLISH_NOTIFY, DATA_ON_METADATA};

#[derive(FromArgs)]
/// RTMP client: publish an FLV file or play a stream into one.
#[argh(
    note = "A failure ends with one line naming the URL and the step that failed.",
    error_code(2, "usage: bad flag or URL"),
    error_code(3, "unreachable: resolve or TCP connect failed, connection lost"),
    error_code(4, "TLS failed"),
    error_code(5, "timeout (a step did not complete within --timeout)"),
    error_code(6, "refused by the server (busy stream, bad key, hook refusal)"),
    error_code(7, "protocol error"),
    error_code(1, "other errors (files, I/O)")
)]
struct Args {
    /// step timeout in seconds (connect, handshake, each command answer)
    #[argh(option, default = "10")]
    timeout: u64,
    /// log level (error, warn, info, debug, trace)
    #[argh(option, default = "String::from(\"warn\")")]
    log: String,
    /// rtmps://: accept any server certificate (self-signed test servers)
    #[argh(switch)]
    insecure: bool,
    /// rtmps://: verify the server against the CA certificates in this PEM file
    #[argh(option)]
    ca_file: Option<std::path::PathBuf>,
    #[argh(subcommand)]
    cmd: Cmd,
}

/// How `rtmps://` URLs verify the server.
struct TlsArgs {
    insecure: bool,
    ca_file: Option<std::path::PathBuf>,
}

impl TlsArgs {
    fn url(&self, url: &str) -> Result<RtmpUrl, Fail> {
        let parsed = RtmpUrl::parse(url).map_err(|e| Fail::client(url, e.into()))?;
        Ok(parsed.with_verify(self.insecure, self.ca_file.clone()))
    }
}

/// Why the client stops: the exit code of its class and the line to print.
struct Fail {
    code: u8,
    msg: String,
}

impl Fail {
    /// A client failure on `url`: names the step and takes its class's code.
    fn client(url: &str, e: ClientError) -> Fail {
        // The step is named by the error's text, or added here.
        let text = e.to_string();
        let msg = match e.step().filter(|s| !text.contains(s.name())) {
            Some(s) => format!("{url}: failed at {}: {text}", s.name()),
            None => format!("{url}: {text}"),
        };
        Fail {
            code: e.exit_code(),
            msg,
        }
    }
    /// Anything else (files, I/O): exit code 1.
    fn other(msg: String) -> Fail {
        Fail { code: 1, msg }
    }
    /// The server's error status after the stream started.
    fn refused(url: &str, code: &str) -> Fail {
        Fail {
            code: exit_code::REFUSED,
            msg: format!("{url}: failed at media: server error status {code}"),
        }
    }
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum Cmd {
    Publish(PublishArgs),
    Play(PlayArgs),
}

#[derive(FromArgs)]
/// publish FILE.flv to URL at real-time pace
#[argh(subcommand, name = "publish")]
struct PublishArgs {
    /// rtmp://host[:port]/app/name
    #[argh(positional)]
    url: String,
    /// FLV file to publish
    #[argh(positional)]
    file: String,
    /// start again at the end of the file, forever
    #[argh(switch)]
    r#loop: bool,
    /// send as fast as the socket takes it instead of at tag timestamps
    #[argh(switch)]
    no_realtime: bool,
    /// no progress line: print only the summary (and errors)
    #[argh(switch)]
    quiet: bool,
}

#[derive(FromArgs)]
/// play URL and write what arrives to OUT.flv
#[argh(subcommand, name = "play")]
struct PlayArgs {
    /// rtmp://host[:port]/app/name
    #[argh(positional)]
    url: String,
    /// FLV file to write
    #[argh(positional)]
    out: String,
    /// stop after this many seconds (default: until the stream ends; Ctrl-C also stops and keeps a valid file)
    #[argh(option)]
    duration: Option<f64>,
    /// no progress line: print only the summary (and errors)
    #[argh(switch)]
    quiet: bool,
}

/// The command line, with `--help` exiting 0 and a bad command line 2.
fn parse_args() -> Result<Args, ExitCode> {
    let argv: Vec<String> = std::env::args().collect();
    let cmd = argv
        .first()
        .map(|a| a.rsplit('/').next().unwrap_or(a).to_owned())
        .unwrap_or_else(|| "rtmp-client".to_owned());
    let rest: Vec<&str> = argv.iter().skip(1).map(String::as_str).collect();
    Args::from_args(&[&cmd], &rest).map_err(|early| match early.status {
        Ok(()) => {
            println!("{}", early.output);
            ExitCode::SUCCESS
        }
        Err(()) => {
            eprintln!("{}\nRun {cmd} --help for more information.", early.output);
            ExitCode::from(exit_code::USAGE)
        }
    })
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(code) => return code,
    };
    let level = args.log.parse().unwrap_or(log::LevelFilter::Warn);
    let _ = simplelog::TermLogger::init(
        level,
        simplelog::Config::default(),
        simplelog::TerminalMode::Stderr,
        simplelog::ColorChoice::Never,
    );
    let timeout = Duration::from_secs(args.timeout.max(1));
    let tls = TlsArgs {
        insecure: args.insecure,
        ca_file: args.ca_file,
    };
    let r = match args.cmd {
        Cmd::Publish(p) => publish(p, timeout, &tls),
        Cmd::Play(p) => play(p, timeout, &tls),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("rtmp-client: {} (exit {})", f.msg, f.code);
            ExitCode::from(f.code)
        }
    }
}

/// Progress line on a terminal, at most once a second.
struct Progress {
    tty: bool,
    start: Instant,
    last: Instant,
}

impl Progress {
    fn new(quiet: bool) -> Self {
        let now = Instant::now();
        Progress {
            tty: !quiet && std::io::stderr().is_terminal(),
            start: now,
            last: now,
        }
    }
    fn tick(&mut self, verb: &str, bytes: u64) {
        if !self.tty || self.last.elapsed() < Duration::from_secs(1) {
            return;
        }
        self.last = Instant::now();
        let secs = self.start.elapsed().as_secs_f64();
        eprint!(
            "\r{verb} {:.1} MB  {:.0} kbit/s  {:.1} s   ",
            bytes as f64 / 1e6,
            bytes as f64 * 8.0 / 1000.0 / secs.max(1e-3),
            secs
        );
        let _ = std::io::stderr().flush();
    }
    fn done(&self) {
        if self.tty {
            eprintln!();
        }
    }
}

/// The file's `onMetaData` values (name stripped) and its audio/video tags
/// (without end-of-sequence packets when looping, which would end the
/// stream at each wrap).
fn load_media(a: &PublishArgs) -> Result<(Option<Vec<Amf0Value>>, Vec<FlvTag>), Fail> {
    let data = std::fs::read(&a.file).map_err(|e| Fail::other(format!("{}: {e}", a.file)))?;
    let (_, tags) =
        flv::read_all(Bytes::from(data)).map_err(|e| Fail::other(format!("{}: {e}", a.file)))?;
    let meta = tags
        .iter()
        .filter(|t| t.tag_type == TAG_SCRIPT)
        .find_map(|t| {
            let v = amf0::decode_all(&t.data, &Amf0Limits::default()).ok()?;
            (v.first()?.as_str() == Some(DATA_ON_METADATA)).then(|| v[1..].to_vec())
        });
    let is_eos = |t: &FlvTag| {
        t.tag_type == TAG_VIDEO
            && flv::classify_video(&t.data).map(|i| i.packet) == Some(flv::VideoPacket::SequenceEnd)
    };
    let media: Vec<FlvTag> = tags
        .into_iter()
        .filter(|t| t.tag_type == TAG_AUDIO || t.tag_type == TAG_VIDEO)
        .filter(|t| !(a.r#loop && is_eos(t)))
        .collect();
    if media.is_empty() {
        return Err(Fail::other(format!("{}: no audio or video tags", a.file)));
    }
    Ok((meta, media))
}

/// Wait until `due` while keeping the socket serviced.
fn wait_until(p: &mut Publisher, due: Instant, url: &str) -> Result<(), Fail> {
    while Instant::now() < due {
        let step = (due - Instant::now()).min(Duration::from_millis(20));
        if p.pending_bytes() > 0 {
            match p.flush(Instant::now() + step) {
                Ok(()) | Err(ClientError::Timeout(_)) => {}
                Err(e) => return Err(Fail::client(url, e)),
            }
        } else {
            std::thread::sleep(step);
            check_events(p, url)?;
        }
    }
    Ok(())
}

/// Decoder configuration (sequence headers) sent so far, to send again on
/// a new connection before its first keyframe.
#[derive(Default)]
struct Configs(Vec<FlvTag>);

impl Configs {
    /// Remember `t` if it is a sequence header not seen yet (at most 32).
    fn note(&mut self, t: &FlvTag) {
        let config = match t.tag_type {
            TAG_VIDEO => flv::classify_video(&t.data)
                .is_some_and(|i| i.packet == flv::VideoPacket::SequenceHeader),
            _ => flv::classify_audio(&t.data).is_some_and(|i| i.sequence_header),
        };
        if config && self.0.len() < 32 && !self.0.iter().any(|c| c == t) {
            self.0.push(t.clone());
        }
    }
}

fn media_kind(t: &FlvTag) -> MediaKind {
    if t.tag_type == TAG_AUDIO {
        MediaKind::Audio
    } else {
        MediaKind::Video
    }
}

/// Where to reconnect after a reconnect request, if now is the moment: at a
/// video keyframe (at any tag for a file without video).
fn reconnect_due(p: &Publisher, url: &RtmpUrl, t: &FlvTag, has_video: bool) -> Option<RtmpUrl> {
    let req = p.reconnect_request()?;
    let at_boundary = !has_video
        || (t.tag_type == TAG_VIDEO
            && flv::classify_video(&t.data)
                .is_some_and(|i| i.keyframe && i.packet == flv::VideoPacket::Frame));
    if !at_boundary {
        return None;
    }
    match req.target(url) {
        Ok(target) => Some(target),
        Err(e) => {
            eprintln!(
                "cannot reconnect to {}: {e:?}; publishing goes on",
                req.tc_url
            );
            None
        }
    }
}

/// Connect to `target` and send it the metadata and the sequence headers
/// (make before break: the old connection is finished by the caller).
fn open_again(
    target: &RtmpUrl,
    meta: &Option<Vec<Amf0Value>>,
    configs: &Configs,
    ts: u32,
    timeout: Duration,
) -> Result<Publisher, ClientError> {
    let mut p = Publisher::connect_url(target, timeout)?;
    if let Some(m) = meta {
        p.send_metadata(m)?;
    }
    for c in &configs.0 {
        p.send_media(media_kind(c), ts, &c.data)?;
    }
    Ok(p)
}

fn publish(a: PublishArgs, timeout: Duration, tls: &TlsArgs) -> Result<(), Fail> {
    let mut url = tls.url(&a.url)?;
    let (meta, media) = load_media(&a)?;
    let first_ts = media.iter().map(|t| t.timestamp).min().unwrap_or(0);
    let last_ts = media.iter().map(|t| t.timestamp).max().unwrap_or(0);
    let mut p = Publisher::connect_url(&url, timeout).map_err(|e| Fail::client(&a.url, e))?;
    if let Some(m) = &meta {
        p.send_metadata(m).map_err(|e| Fail::client(&a.url, e))?;
    }
    let mut prog = Progress::new(a.quiet);
    let start = Instant::now();
    let mut offset: u64 = 0;
    let (mut frames, mut payload_bytes) = (0u64, 0u64);
    let has_video = media.iter().any(|t| t.tag_type == TAG_VIDEO);
    let mut configs = Configs::default();
    // Bytes sent on connections already left after a reconnect request.
    let mut sent_before = 0u64;
    let mut reconnect_failed = false;
    loop {
        for t in &media {
            let rel = u64::from(t.timestamp - first_ts) + offset;
            if !a.no_realtime {
                wait_until(&mut p, start + Duration::from_millis(rel), &a.url)?;
            } else if p.pending_bytes() > 4 * 1024 * 1024 {
                p.flush(Instant::now() + timeout)
                    .map_err(|e| Fail::client(&a.url, e))?;
            }
            configs.note(t);
            let due = (!reconnect_failed)
                .then(|| reconnect_due(&p, &url, t, has_video))
                .flatten();
            if let Some(target) = due {
                match open_again(&target, &meta, &configs, rel as u32, timeout) {
                    Ok(new) => {
                        eprintln!("reconnected to {target} as the server asked");
                        let old = std::mem::replace(&mut p, new);
                        sent_before += old.bytes_sent();
                        // The server may have closed it already (it gives way).
                        let _ = old.finish(timeout);
                        url = target;
                    }
                    Err(e) => {
                        eprintln!("reconnecting to {target} failed ({e}); publishing goes on");
                        reconnect_failed = true;
                    }
                }
            }
            p.send_media(media_kind(t), rel as u32, &t.data)
                .map_err(|e| Fail::client(&a.url, e))?;
            frames += 1;
            payload_bytes += t.data.len() as u64;
            prog.tick("published", sent_before + p.bytes_sent());
        }
        if !a.r#loop {
            break;
        }
        // Next round continues one frame interval after the last tag.
        offset += u64::from(last_ts - first_ts) + 40;
    }
    p.flush(Instant::now() + timeout)
        .map_err(|e| Fail::client(&a.url, e))?;
    let sent = sent_before + p.bytes_sent();
    p.finish(timeout).map_err(|e| Fail::client(&a.url, e))?;
    prog.done();
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "published {} frames, {} payload bytes, {} bytes on the wire in {:.2} s ({:.0} kbit/s)",
        frames,
        payload_bytes,
        sent,
        secs,
        sent as f64 * 8.0 / 1000.0 / secs.max(1e-3)
    );
    Ok(())
}

fn check_events(p: &mut Publisher, url: &str) -> Result<(), Fail> {
    for ev in p.poll_events().map_err(|e| Fail::client(url, e))? {
        match ev {
            ClientEvent::Error { code, .. } => return Err(Fail::refused(url, &code)),
            // The server keeps serving us until we leave: reconnect at the
            // next keyframe (see `reconnect_due`).
            ClientEvent::ReconnectRequest { tc_url, .. } => eprintln!(
                "the server asks to reconnect{}: at the next keyframe",
                tc_url.map_or(String::new(), |u| format!(" to {u}"))
            ),
            _ => {}
        }
    }
    Ok(())
}

#[derive(Default)]
struct PlayStats {
    video_codec: Option<&'static str>,
    audio_codec: Option<&'static str>,
    video_frames: u64,
    audio_frames: u64,
    keyframes: u64,
    media_bytes: u64,
    first_key: Option<Duration>,
}

impl PlayStats {
    /// Count a media message and append it to the FLV output.
    fn on_media(
        &mut self,
        kind: MediaKind,
        timestamp: u32,
        payload: &[u8],
        started: Instant,
        buf: &mut BytesMut,
    ) {
        self.media_bytes += payload.len() as u64;
        match kind {
            MediaKind::Video => {
                self.video_frames += 1;
                if let Some(info) = flv::classify_video(payload) {
                    self.video_codec.get_or_insert(flv::codec_name(info.codec));
                    if info.keyframe && info.packet == flv::VideoPacket::Frame {
                        self.keyframes += 1;
                        self.first_key.get_or_insert(started.elapsed());
                    }
                }
                flv::write_tag(TAG_VIDEO, timestamp, payload, buf);
            }
            MediaKind::Audio => {
                self.audio_frames += 1;
                if let Some(c) = flv::audio_codec(payload) {
                    self.audio_codec.get_or_insert(flv::codec_name(c));
                }
                flv::write_tag(TAG_AUDIO, timestamp, payload, buf);
            }
        }
    }

    /// The closing summary line.
    fn report(&self, started: Instant, ending: &str, received: u64) {
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "played {:.2} s ({ending}): video {} ({} frames, {} key), audio {} ({} frames), {} media bytes, {} bytes received ({:.0} kbit/s), first keyframe after {}",
            secs,
            self.video_codec.unwrap_or("none"),
            self.video_frames,
            self.keyframes,
            self.audio_codec.unwrap_or("none"),
            self.audio_frames,
            self.media_bytes,
            received,
            received as f64 * 8.0 / 1000.0 / secs.max(1e-3),
            self.first_key
                .map(|d| format!("{} ms", d.as_millis()))
                .unwrap_or_else(|| "never".to_owned()),
        );
    }
}

fn play(a: PlayArgs, timeout: Duration, tls: &TlsArgs) -> Result<(), Fail> {
    let url = tls.url(&a.url)?;
    let started = Instant::now();
    let file = File::create(&a.out).map_err(|e| Fail::other(format!("{}: {e}", a.out)))?;
    let mut w = BufWriter::new(file);
    let mut buf = BytesMut::new();
    flv::write_header(
        FlvHeader {
            has_audio: true,
            has_video: true,
        },
        &mut buf,
    );
    // Ctrl-C ends the recording like the end of the stream: what arrived
    // is written out and the file stays a valid FLV.
    let interrupted = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, interrupted.clone())
            .map_err(|e| Fail::other(format!("signal handler: {e}")))?;
    }
    let mut player = Player::connect_url(&url, timeout).map_err(|e| Fail::client(&a.url, e))?;
    let limit = a
        .duration
        .map(|d| started + Duration::from_secs_f64(d.max(0.0)));
    let mut st = PlayStats::default();
    let mut prog = Progress::new(a.quiet);
    let ending = loop {
        if interrupted.load(Ordering::Relaxed) {
            break "interrupted";
        }
        let now = Instant::now();
        let wait = match limit {
            Some(l) if now >= l => break "duration reached",
            Some(l) => (l - now).min(Duration::from_millis(250)),
            None => Duration::from_millis(250),
        };
        let ev = match player.next_event(wait) {
            Ok(Some(ev)) => ev,
            Ok(None) => continue,
            Err(ClientError::Closed(_)) => break "server closed",
            Err(e) => return Err(Fail::client(&a.url, e)),
        };
        match ev {
            ClientEvent::Metadata { body, .. } => flv::write_tag(TAG_SCRIPT, 0, &body, &mut buf),
            ClientEvent::Media {
                kind,
                timestamp,
                payload,
            } => st.on_media(kind, timestamp, &payload, started, &mut buf),
            ClientEvent::StreamEof(_) => break "stream ended",
            ClientEvent::Status { code, .. }
                if code == CODE_PLAY_UNPUBLISH_NOTIFY || code == CODE_PLAY_STOP =>
            {
                break "stream ended"
            }
            ClientEvent::Error { code, .. } => return Err(Fail::refused(&a.url, &code)),
            _ => {}
        }
        if buf.len() > 256 * 1024 {
            w.write_all(&buf)
                .map_err(|e| Fail::other(format!("{}: {e}", a.out)))?;
            buf.clear();
        }
        prog.tick("received", player.bytes_received());
    };
    w.write_all(&buf)
        .and_then(|_| w.flush())
        .map_err(|e| Fail::other(format!("{}: {e}", a.out)))?;
    let received = player.bytes_received();
    let _ = player.close(Duration::from_secs(1));
    prog.done();
    st.report(started, ending, received);
    Ok(())
}
