//! `rtmp-bench`: P publishers and N subscribers against any RTMP server, in
//! one process and one mio loop. Publishes an FLV file in real time and
//! measures delivery, startup and per-frame latency per subscriber.
//!
//! The subscribers play over RTMP, or with `--http-flv http://HOST:PORT`
//! fetch the same streams over HTTP-FLV (`GET /{app}/{name}.flv`); both
//! kinds report the same events, so every measurement is the same.
//!
//! With `--sub-url` (repeatable) the subscribers play from other servers
//! than the one the publishers publish to, e.g. the edges pulling from the
//! origin `--url` names; the latency is then end to end, through every hop.
//! `--server-pid` (repeatable) sums the CPU of several server processes.
//!
//! `--plot FILE.svg` draws the run (latency CDF, bitrate per second), and
//! `rtmp-bench plot-compare` draws several runs' JSON in one picture (`plot`).

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod args;
mod measure;
mod plot;
mod progress;
mod report;
mod stats;

use bytes::Bytes;
use rtmp_edge::client::multi::{MultiClient, MultiEvent};
use rtmp_edge::client::{exit_code, resolve, HttpFlvUrl, RtmpUrl};
use rtmp_edge::proto::amf0::{self, Amf0Limits, Amf0Value};
use rtmp_edge::proto::flv::{self, TAG_SCRIPT};
use rtmp_edge::proto::session::MediaKind;

use args::{client_fail, describe, parse_args, Args, Fail};
use measure::{is_frame, is_keyframe, kind_code, media_of, Pub, Rate, Sent, Sub, STEADY_AFTER};
use progress::{Progress, ProgressLine};
use report::Figures;
use stats::{clk_tck, percentile, proc_status_kb, proc_ticks, sum_all};

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("plot-compare") {
        let rest: Vec<&str> = argv.iter().skip(2).map(String::as_str).collect();
        return ExitCode::from(plot::compare_command(&rest));
    }
    let a = match parse_args() {
        Ok(a) => a,
        Err(code) => return code,
    };
    let level = a.log.parse().unwrap_or(log::LevelFilter::Warn);
    let _ = simplelog::TermLogger::init(
        level,
        simplelog::Config::default(),
        simplelog::TerminalMode::Stderr,
        simplelog::ColorChoice::Never,
    );
    match run(&a) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("rtmp-bench: {} (exit {})", f.msg, f.code);
            ExitCode::from(f.code)
        }
    }
}

/// The P stream URLs of `base`: itself for one publisher, else NAME_0..NAME_{P-1}
/// (each with the query string of `base`).
fn streams_of(base: &RtmpUrl, publishers: usize) -> Vec<RtmpUrl> {
    let (name, query) = match base.stream.split_once('?') {
        Some((n, q)) => (n.to_owned(), format!("?{q}")),
        None => (base.stream.clone(), String::new()),
    };
    (0..publishers)
        .map(|i| {
            if publishers == 1 {
                base.clone()
            } else {
                base.with_stream(&format!("{name}_{i}{query}"))
            }
        })
        .collect()
}

/// Subscriber `j` of `publishers` streams and `targets` servers: (stream,
/// server). Each stream is played on every server, the subscribers spread
/// evenly over both.
fn placement(j: usize, publishers: usize, targets: usize) -> (usize, usize) {
    (j % publishers, (j / publishers) % targets.max(1))
}

fn run(a: &Args) -> Result<(), Fail> {
    if a.publishers == 0 {
        return Err(Fail {
            code: exit_code::USAGE,
            msg: "--publishers must be at least 1".into(),
        });
    }
    let base = RtmpUrl::parse(&a.url)
        .map_err(|e| client_fail("--url", &a.url, &e.into()))?
        .with_verify(a.insecure, None);
    let addr = resolve(&base).map_err(|e| client_fail("--url", &a.url, &e))?;
    // HTTP-FLV subscribers: where to fetch the streams, and its address.
    let http = match &a.http_flv {
        Some(u) => {
            let h = HttpFlvUrl::parse(u).map_err(|e| Fail {
                code: exit_code::USAGE,
                msg: format!("--http-flv {u}: {e}"),
            })?;
            let haddr = h.resolve().map_err(|e| client_fail("--http-flv", u, &e))?;
            Some((h, haddr))
        }
        None => None,
    };
    if http.is_some() && !a.sub_url.is_empty() {
        return Err("--sub-url and --http-flv: give one or the other".into());
    }
    let (kind_json, kind_text) = match http {
        Some(_) => ("http-flv", "HTTP-FLV"),
        None => ("rtmp", "RTMP"),
    };
    let data = std::fs::read(&a.flv).map_err(|e| format!("{}: {e}", a.flv))?;
    let (_, tags) = flv::read_all(Bytes::from(data)).map_err(|e| format!("{}: {e}", a.flv))?;
    let media = media_of(&tags);
    if media.is_empty() {
        return Err(format!("{}: no audio/video tags", a.flv).into());
    }
    let meta: Option<Vec<Amf0Value>> =
        tags.iter()
            .filter(|t| t.tag_type == TAG_SCRIPT)
            .find_map(|t| {
                let v = amf0::decode_all(&t.data, &Amf0Limits::default()).ok()?;
                (v.first()?.as_str() == Some("onMetaData")).then(|| v[1..].to_vec())
            });
    let first_ts = media.iter().map(|m| m.1).min().unwrap_or(0);
    let span = u64::from(media.iter().map(|m| m.1).max().unwrap_or(0) - first_ts) + 33;

    let stream_urls = streams_of(&base, a.publishers);
    // Where the subscribers play: each target's stream URLs and address.
    let mut targets: Vec<(Vec<RtmpUrl>, std::net::SocketAddr)> = Vec::new();
    for u in &a.sub_url {
        let b = RtmpUrl::parse(u)
            .map_err(|e| format!("--sub-url {u}: {e}"))?
            .with_verify(a.insecure, None);
        let baddr = resolve(&b).map_err(|e| format!("--sub-url {u}: {e}"))?;
        targets.push((streams_of(&b, a.publishers), baddr));
    }
    if targets.is_empty() {
        targets.push((stream_urls.clone(), addr));
    }

    let step = Duration::from_secs(a.timeout.max(1));
    let mut mc = MultiClient::new(step).map_err(|e| e.to_string())?;
    // Ctrl-C (or SIGTERM) ends the run early; the summary is still printed.
    let interrupted = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, interrupted.clone())
            .map_err(|e| format!("signal handler: {e}"))?;
    }
    let mut progress = Progress::new(a.quiet);
    let mut was_interrupted = false;
    let mut pubs: Vec<Pub> = Vec::new();
    let mut first_error: Option<String> = None;
    // The exit-code class of the first client failure.
    let mut first_code: Option<u8> = None;
    let mut conn_pub: HashMap<usize, usize> = HashMap::new();
    for (i, u) in stream_urls.iter().enumerate() {
        let mut p = Pub {
            id: None,
            stream: i,
            started: false,
            failed: false,
            meta_sent: false,
            next: 0,
            offset_ms: 0,
            published: [0; 2],
            bytes_before: [Vec::new(), Vec::new()],
            bytes_total: [0; 2],
        };
        match mc.add_publisher(u, addr) {
            Ok(id) => {
                conn_pub.insert(id, i);
                p.id = Some(id);
            }
            Err(e) => {
                let line = describe("publish", &u.to_string(), &e);
                // With one publisher the closing error line says it.
                if stream_urls.len() > 1 && !a.quiet {
                    eprintln!("rtmp-bench: {line}");
                }
                first_error.get_or_insert(line);
                first_code.get_or_insert(e.exit_code());
                p.failed = true;
            }
        }
        pubs.push(p);
    }
    let mut subs: HashMap<usize, Sub> = HashMap::new();
    let mut sub_failed_connect = 0usize;
    let mut sent: HashMap<(usize, u8, u32), Sent> = HashMap::new();
    let mut latencies_us: Vec<u64> = Vec::new();
    // Frames published before the subscriber connected (a server's cached
    // GOP): delivered and counted, but not live latency.
    let mut catchup_frames: u64 = 0;
    // Live frames published at least STEADY_AFTER after the subscriber
    // connected: latency once the late-join burst is over.
    let mut steady_us: Vec<u64> = Vec::new();
    // Bytes received by all subscribers, once a second over the window.
    let mut rate = Rate::new();

    let hz = clk_tck();
    let t_setup = Instant::now();
    let mut pub_start: Option<Instant> = None;
    let mut sub_start: Option<Instant> = None;
    let mut subs_added = 0usize;
    let mut cpu0: Vec<Option<(u64, u64)>> = Vec::new();
    let self_pid = std::process::id();
    let mut self_cpu0 = None;
    let drain = Duration::from_secs(2);
    let mut end_publish: Option<Instant> = None;

    loop {
        let now = Instant::now();
        // Phase changes.
        if pub_start.is_none() {
            let pending = pubs.iter().any(|p| !p.started && !p.failed);
            if !pending {
                if pubs.iter().all(|p| p.failed) {
                    progress.finish();
                    return Err(Fail {
                        code: first_code.unwrap_or(1),
                        msg: first_error.unwrap_or_else(|| "no publisher started".into()),
                    });
                }
                pub_start = Some(now);
            } else if now - t_setup > step * 4 {
                return Err(Fail {
                    code: exit_code::TIMEOUT,
                    msg: "publishers did not start in time".into(),
                });
            }
        }
        if let Some(ps) = pub_start {
            if now >= ps + Duration::from_secs_f64(a.lead) {
                // The measurement window opens with the first subscriber
                // connect (or at this time with no subscribers at all).
                if sub_start.is_none() {
                    sub_start = Some(now);
                    cpu0 = a.server_pid.iter().map(|&p| proc_ticks(p)).collect();
                    self_cpu0 = proc_ticks(self_pid);
                }
                // Connect in batches so the server's listen backlog keeps up.
                let batch = (a.subscribers - subs_added).min(100);
                for _ in 0..batch {
                    let (stream, target) = placement(subs_added, a.publishers, targets.len());
                    let added = match &http {
                        Some((h, haddr)) => {
                            mc.add_http_flv_subscriber(h, &stream_urls[stream], *haddr)
                        }
                        None => {
                            let (urls, taddr) = &targets[target];
                            mc.add_subscriber(&urls[stream], *taddr)
                        }
                    };
                    match added {
                        Ok(id) => {
                            subs.insert(
                                id,
                                Sub {
                                    stream,
                                    target,
                                    connect_seq: pubs[stream].published,
                                    connect_at: Some(Instant::now()),
                                    ..Sub::default()
                                },
                            );
                        }
                        Err(e) => {
                            sub_failed_connect += 1;
                            first_error.get_or_insert_with(|| {
                                describe("play", &stream_urls[stream].to_string(), &e)
                            });
                            first_code.get_or_insert(e.exit_code());
                        }
                    }
                    subs_added += 1;
                }
            }
        }
        if end_publish.is_none() {
            if let Some(ss) = sub_start {
                if now >= ss + Duration::from_secs_f64(a.duration) {
                    end_publish = Some(now);
                }
            }
        }
        let stop = interrupted.load(Ordering::Relaxed);
        if stop {
            end_publish.get_or_insert(now);
        }
        if let Some(ss) = sub_start {
            let last = end_publish.is_some();
            let t = end_publish.unwrap_or(now).saturating_duration_since(ss);
            if rate.due(t, last) {
                rate.record(t, subs.keys().map(|&id| mc.bytes_in(id)).sum(), last);
            }
        }
        if let Some(e) = end_publish {
            if now >= e + drain {
                break;
            }
        }
        if stop {
            was_interrupted = true;
            break;
        }
        if progress.due(now) {
            let total = a.duration;
            let elapsed = sub_start.map_or(0.0, |s| (now - s).as_secs_f64().min(total));
            let mut lat = latencies_us.clone();
            let p99_ms = (!lat.is_empty()).then(|| {
                let i = ((lat.len() - 1) as f64 * 0.99).round() as usize;
                *lat.select_nth_unstable(i).1 as f64 / 1000.0
            });
            progress.show(
                now,
                ProgressLine {
                    elapsed,
                    total,
                    connected: subs.values().filter(|s| s.started && !s.failed).count(),
                    failed: subs.values().filter(|s| s.failed).count() + sub_failed_connect,
                    bytes: subs.keys().map(|&id| mc.bytes_in(id)).sum(),
                    p99_ms,
                },
            );
        }
        // Metadata first, as soon as a publisher is live.
        for p in pubs
            .iter_mut()
            .filter(|p| p.started && !p.failed && !p.meta_sent)
        {
            p.meta_sent = true;
            if let (Some(id), Some(m)) = (p.id, &meta) {
                if let Err(e) = mc.send_metadata(id, m) {
                    first_error.get_or_insert(e.to_string());
                    p.failed = true;
                }
            }
        }
        // Publish what is due.
        let mut next_due: Option<Instant> = None;
        if let (Some(ps), None) = (pub_start, end_publish) {
            for p in pubs.iter_mut().filter(|p| p.started && !p.failed) {
                let id = p.id.expect("started publisher has an id");
                loop {
                    let (kind, ts, payload) = &media[p.next];
                    let rel = u64::from(ts - first_ts) + p.offset_ms;
                    let due = ps + Duration::from_millis(rel);
                    if due > now {
                        next_due = Some(next_due.map_or(due, |d: Instant| d.min(due)));
                        break;
                    }
                    if let Err(e) = mc.send_media(id, *kind, rel as u32, payload) {
                        first_error.get_or_insert(e.to_string());
                        p.failed = true;
                        break;
                    }
                    if is_frame(*kind, payload) {
                        let k = usize::from(kind_code(*kind));
                        sent.entry((p.stream, k as u8, rel as u32)).or_insert(Sent {
                            at: Instant::now(),
                            seq: p.published[k],
                            len: payload.len(),
                        });
                        p.published[k] += 1;
                        p.bytes_before[k].push(p.bytes_total[k]);
                        p.bytes_total[k] += payload.len() as u64;
                    }
                    p.next += 1;
                    if p.next == media.len() {
                        p.next = 0;
                        p.offset_ms += span;
                    }
                }
            }
        }
        let now = Instant::now();
        let mut timeout = Duration::from_millis(20);
        if let Some(d) = next_due {
            timeout = timeout.min(d.saturating_duration_since(now));
        }
        let res = mc.poll(Some(timeout), &mut |id, ev| {
            if let Some(&pi) = conn_pub.get(&id) {
                let p = &mut pubs[pi];
                match ev {
                    MultiEvent::Started => p.started = true,
                    MultiEvent::Closed(e) => {
                        p.failed = true;
                        let line = describe("publish", &stream_urls[pi].to_string(), e);
                        if stream_urls.len() > 1 && !a.quiet {
                            eprintln!("rtmp-bench: {line}");
                        }
                        first_error.get_or_insert(line);
                        first_code.get_or_insert(e.exit_code());
                    }
                    _ => {}
                }
                return;
            }
            let Some(s) = subs.get_mut(&id) else { return };
            match ev {
                MultiEvent::Started => s.started = true,
                MultiEvent::Media {
                    kind,
                    timestamp,
                    payload,
                } => {
                    let at = Instant::now();
                    s.messages += 1;
                    s.payload_bytes += payload.len() as u64;
                    if s.startup.is_none() && kind == MediaKind::Video && is_keyframe(payload) {
                        s.startup = s.connect_at.map(|c| at - c);
                    }
                    let k = kind_code(kind);
                    // Servers re-stamp sequence headers (and may drop or
                    // move end-of-sequence packets): match coded frames only,
                    // by (stream, kind, timestamp) and length.
                    let matched = if is_frame(kind, payload) {
                        sent.get(&(s.stream, k, timestamp))
                            .filter(|x| x.len == payload.len())
                    } else {
                        None
                    };
                    if let Some(x) = matched {
                        if s.connect_at.is_some_and(|c| x.at >= c) {
                            let us = at.saturating_duration_since(x.at).as_micros() as u64;
                            latencies_us.push(us);
                            if s.connect_at.is_some_and(|c| x.at >= c + STEADY_AFTER) {
                                steady_us.push(us);
                            }
                        } else {
                            catchup_frames += 1;
                        }
                        s.first_seq[usize::from(k)].get_or_insert(x.seq);
                        s.matched[usize::from(k)] += 1;
                    }
                }
                MultiEvent::Ended => {}
                MultiEvent::Closed(e) => {
                    s.failed = true;
                    first_code.get_or_insert(e.exit_code());
                    first_error.get_or_insert_with(|| match &http {
                        Some((h, _)) => describe("play", &h.url_for(&stream_urls[s.stream]), e),
                        None if a.sub_url.is_empty() => {
                            describe("play", &stream_urls[s.stream].to_string(), e)
                        }
                        None => describe("play", &a.sub_url[s.target], e),
                    });
                }
            }
        });
        // A server is gone: stop measuring.
        if end_publish.is_none() {
            if let Some(pid) = a.server_pid.iter().find(|&&p| proc_ticks(p).is_none()) {
                first_error.get_or_insert(if a.server_pid.len() == 1 {
                    "server process exited".into()
                } else {
                    format!("server process {pid} exited")
                });
                end_publish = Some(Instant::now());
            }
        }
        res.map_err(|e| e.to_string())?;
    }
    progress.finish();
    let window = end_publish
        .zip(sub_start)
        .map(|(e, s)| (e - s).as_secs_f64())
        .unwrap_or(0.0)
        .max(1e-3);
    let cpu1: Vec<Option<(u64, u64)>> = a.server_pid.iter().map(|&p| proc_ticks(p)).collect();
    let self_cpu1 = proc_ticks(self_pid);
    let rss_each: Vec<Option<u64>> = a
        .server_pid
        .iter()
        .map(|&p| proc_status_kb(p, "VmHWM:"))
        .collect();
    let rss_kb = sum_all(&rss_each);

    // Aggregate.
    let connected = subs.values().filter(|s| s.started).count();
    let failed = subs.values().filter(|s| s.failed || !s.started).count() + sub_failed_connect;
    let pubs_failed = pubs.iter().filter(|p| p.failed || !p.started).count();
    let bytes_in: u64 = subs.keys().map(|&id| mc.bytes_in(id)).sum();
    let payload_in: u64 = subs.values().map(|s| s.payload_bytes).sum();
    let messages: u64 = subs.values().map(|s| s.messages).sum();
    let missing: u64 = subs.values().map(|s| s.missing(&pubs)).sum();
    // Frame payload each subscriber should have got over the same span.
    let expected_bytes: u64 = subs.values().map(|s| s.expected_bytes(&pubs)).sum();
    latencies_us.sort_unstable();
    let mut startups: Vec<u64> = subs
        .values()
        .filter_map(|s| s.startup.map(|d| d.as_millis() as u64))
        .collect();
    startups.sort_unstable();
    let no_startup = subs.values().filter(|s| s.startup.is_none()).count();
    let ms = |us: Option<u64>| us.map(|v| v as f64 / 1000.0);
    steady_us.sort_unstable();
    let steady_p99 = ms(percentile(&steady_us, 0.99));
    let lat = (
        ms(percentile(&latencies_us, 0.5)),
        ms(percentile(&latencies_us, 0.99)),
        ms(latencies_us.last().copied()),
    );
    let st = (percentile(&startups, 0.5), percentile(&startups, 0.99));
    let cdf = plot::cdf_points(&latencies_us);
    let rate_mbps = rate.mbps();
    // Per server process (user, sys) over the window; summed over all.
    let srv_each: Vec<Option<(f64, f64)>> = cpu0
        .iter()
        .zip(cpu1.iter().chain(std::iter::repeat(&None)))
        .map(|(c0, c1)| {
            c0.zip(*c1).map(|(c0, c1)| {
                (
                    c1.0.saturating_sub(c0.0) as f64 / hz,
                    c1.1.saturating_sub(c0.1) as f64 / hz,
                )
            })
        })
        .collect();
    let srv = sum_all(
        &srv_each
            .iter()
            .map(|c| c.map(|(u, _)| u))
            .collect::<Vec<_>>(),
    )
    .zip(sum_all(
        &srv_each
            .iter()
            .map(|c| c.map(|(_, s)| s))
            .collect::<Vec<_>>(),
    ));
    // Subscribers that started, per --sub-url.
    let per_target = (0..a.sub_url.len())
        .map(|t| {
            subs.values()
                .filter(|s| s.started && s.target == t)
                .count()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join(",");
    let own = self_cpu0
        .zip(self_cpu1)
        .map(|(c0, c1)| ((c1.0 + c1.1).saturating_sub(c0.0 + c0.1)) as f64 / hz);

    Figures {
        publishers: pubs.len(),
        publishers_failed: pubs_failed,
        subscribers: a.subscribers,
        kind: (kind_json, kind_text),
        connected,
        failed,
        window,
        bytes_in,
        payload_in,
        expected_bytes,
        messages,
        missing,
        latency_ms: lat,
        startup_ms: st,
        no_startup,
        catchup_frames,
        steady_p99,
        bench_cpu_s: own,
        server_cpu: srv,
        server_cpu_each: srv_each,
        server_pids: &a.server_pid,
        rss_kb,
        sub_urls: a.sub_url.len(),
        per_target,
        interrupted: was_interrupted,
        first_error: first_error.as_deref(),
        latency_cdf: &cdf,
        rate_mbps: &rate_mbps,
        plot: a.plot.as_deref(),
    }
    .print(a.json);
    if let Some(path) = &a.plot {
        let title = format!(
            "rtmp-bench: {} publisher(s), {} {kind_text} subscriber(s), {window:.1} s",
            pubs.len(),
            a.subscribers
        );
        plot::run_svg(path, &title, &cdf, &rate_mbps)?;
    }
    // Every subscriber failed: exit with the class of the first failure.
    if a.subscribers > 0 && connected == 0 && !was_interrupted {
        return Err(Fail {
            code: first_code.unwrap_or(1),
            msg: first_error.unwrap_or_else(|| "no subscriber connected".into()),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use argh::FromArgs;

    #[test]
    fn subscribers_spread_evenly_over_streams_and_servers() {
        // 1 stream, 2 servers (--sub-url twice): alternate servers.
        let p: Vec<_> = (0..4).map(|j| placement(j, 1, 2)).collect();
        assert_eq!(p, [(0, 0), (0, 1), (0, 0), (0, 1)]);
        // 2 streams, 2 servers: every stream on every server.
        let p: Vec<_> = (0..4).map(|j| placement(j, 2, 2)).collect();
        assert_eq!(p, [(0, 0), (1, 0), (0, 1), (1, 1)]);
        // No --sub-url: the one server of --url.
        assert_eq!(placement(7, 3, 1), (1, 0));
    }

    #[test]
    fn stream_names_follow_each_url() {
        let edge = RtmpUrl::parse("rtmp://127.0.0.1:1936/live/bench?k=v").unwrap();
        let s = streams_of(&edge, 2);
        assert_eq!(s[0].stream, "bench_0?k=v");
        assert_eq!(s[1].stream, "bench_1?k=v");
        assert_eq!((s[1].port, s[1].app.as_str()), (1936, "live"));
        assert_eq!(streams_of(&edge, 1)[0].stream, "bench?k=v");
    }

    #[test]
    fn per_process_figures_sum_only_when_all_are_known() {
        assert_eq!(sum_all(&[Some(1.5), Some(2.0)]), Some(3.5));
        assert_eq!(sum_all(&[Some(1u64), None]), None);
        assert_eq!(sum_all::<u64>(&[]), None);
    }

    #[test]
    fn sub_url_and_server_pid_repeat() {
        let a = Args::from_args(
            &["rtmp-bench"],
            &[
                "--url",
                "rtmp://o/live/b",
                "--flv",
                "f",
                "--subscribers",
                "2",
                "--sub-url",
                "rtmp://e1/live/b",
                "--sub-url",
                "rtmp://e2/live/b",
                "--server-pid",
                "1",
                "--server-pid",
                "2",
                "--server-pid",
                "3",
            ],
        )
        .unwrap();
        assert_eq!(a.sub_url, ["rtmp://e1/live/b", "rtmp://e2/live/b"]);
        assert_eq!(a.server_pid, [1, 2, 3]);
    }
}
