//! Hook pool tests against a hook server written here (std `TcpListener` on
//! a thread, loopback only): it records every request (method, path,
//! headers, body) and answers with a scripted status and headers, or never
//! answers. Results are awaited through the pool's `mio::Waker`, with
//! bounded waits only.

use mio::{Events, Poll, Token, Waker};
use rtmp_edge::hooks::{
    HookCall, HookJob, HookKind, HookPool, HookPoolConfig, HookRequest, HookResult, HookVerdict,
    QueryArgs, QueueFull, SessionInfo,
};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;
use common::hook_server::{decode_form, HookServer, Reply, BOUND};

const WAKE: Token = Token(7);

// ------------------------------------------------------------ pool harness

struct Harness {
    poll: Poll,
    events: Events,
    pool: HookPool,
}

impl Harness {
    fn new(workers: usize, queue: usize) -> Harness {
        let poll = Poll::new().unwrap();
        let waker = Arc::new(Waker::new(poll.registry(), WAKE).unwrap());
        let pool = HookPool::new(HookPoolConfig { workers, queue }, waker).unwrap();
        Harness {
            poll,
            events: Events::with_capacity(16),
            pool,
        }
    }

    /// Waits (poll on the waker, at most `within`) until `n` results came.
    fn wait(&mut self, n: usize, within: Duration) -> Vec<HookResult> {
        let deadline = Instant::now() + within;
        let mut out = Vec::new();
        while out.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "only {} of {n} results: {out:?}",
                out.len()
            );
            self.poll.poll(&mut self.events, Some(left)).unwrap();
            self.pool.try_results(&mut out);
        }
        out
    }

    /// Submits one job and waits for its verdict.
    fn call(&mut self, url: &str, request: HookRequest, timeout: Duration) -> HookResult {
        self.pool
            .submit(HookJob::new(1, url, request, timeout))
            .unwrap();
        let mut results = self.wait(1, timeout + BOUND);
        assert_eq!(results.len(), 1);
        results.pop().unwrap()
    }
}

fn session() -> SessionInfo {
    SessionInfo {
        app: "live".into(),
        flashver: "FMLE/3.0 (compatible; FMSc/1.0)".into(),
        swfurl: String::new(),
        tcurl: "rtmp://127.0.0.1:1935/live".into(),
        pageurl: String::new(),
        addr: "127.0.0.1".parse().unwrap(),
        clientid: 9,
    }
}

fn publish(name: &str, query: &str) -> HookRequest {
    let call = HookCall::Publish {
        name: name.into(),
        kind: "live".into(),
    };
    HookRequest::new(session(), call, QueryArgs::parse(query))
}

fn ok_server() -> HookServer {
    HookServer::start(Reply::Status(200, vec![]))
}

const TIMEOUT: Duration = Duration::from_secs(5);

// ------------------------------------------------------------------- tests

/// The fields every hook sends, in nginx-rtmp's order, before the args.
fn session_fields(connect: bool) -> Vec<&'static str> {
    let id = if connect { "epoch" } else { "clientid" };
    vec![
        "app", "flashver", "swfurl", "tcurl", "pageurl", "addr", id, "call",
    ]
}

fn check_fields(call: HookCall, own: &[&str], values: &[(&str, &str)]) {
    let server = ok_server();
    let mut h = Harness::new(1, 4);
    let kind = call.kind();
    let path = format!("/{kind}");
    let request = HookRequest::new(session(), call, QueryArgs::parse("key=S%201&u=a+b"));
    let expected_body = request.body();
    let result = h.call(&server.url(&path), request, TIMEOUT);
    assert_eq!(result.verdict, HookVerdict::Accept, "{kind}");
    assert_eq!(result.kind, kind);

    let req = server.next_request();
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, path);
    assert_eq!(
        req.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        req.header("content-length"),
        Some(&*req.body.len().to_string())
    );
    assert_eq!(req.body, expected_body);

    let form = decode_form(&req.body);
    let names: Vec<&str> = form.iter().map(|(k, _)| k.as_str()).collect();
    let mut want = session_fields(kind == HookKind::Connect);
    want.extend_from_slice(own);
    want.extend_from_slice(&["key", "u"]);
    assert_eq!(names, want, "{kind}: {}", req.body);
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("call"), Some(kind.call()));
    assert_eq!(get("app"), Some("live"));
    assert_eq!(get("flashver"), Some("FMLE/3.0 (compatible; FMSc/1.0)"));
    assert_eq!(get("tcurl"), Some("rtmp://127.0.0.1:1935/live"));
    assert_eq!(get("addr"), Some("127.0.0.1"));
    assert_eq!(get("key"), Some("S 1"));
    assert_eq!(get("u"), Some("a b"));
    for (k, v) in values {
        assert_eq!(get(k), Some(*v), "{kind} {k}");
    }
}

#[test]
fn connect_fields() {
    check_fields(HookCall::Connect { epoch: 77 }, &[], &[("epoch", "77")]);
}

#[test]
fn publish_fields() {
    let call = HookCall::Publish {
        name: "cam/1".into(),
        kind: "record".into(),
    };
    let values = [("clientid", "9"), ("name", "cam/1"), ("type", "record")];
    check_fields(call, &["name", "type"], &values);
}

#[test]
fn play_fields() {
    let call = HookCall::Play {
        name: "cam".into(),
        start: -2.0,
        duration: -1.0,
        reset: false,
    };
    let values = [
        ("name", "cam"),
        ("start", "4294967294"),
        ("duration", "4294967295"),
        ("reset", "0"),
    ];
    check_fields(call, &["name", "start", "duration", "reset"], &values);
}

#[test]
fn publish_done_fields() {
    let call = HookCall::PublishDone { name: "cam".into() };
    check_fields(call, &["name"], &[("name", "cam")]);
}

#[test]
fn play_done_fields() {
    let call = HookCall::PlayDone { name: "cam".into() };
    check_fields(call, &["name"], &[("name", "cam")]);
}

#[test]
fn record_done_fields() {
    let call = HookCall::RecordDone {
        recorder: "rec1".into(),
        name: "cam".into(),
        path: "/tmp/rec/live/cam 1.flv".into(),
    };
    let values = [
        ("recorder", "rec1"),
        ("name", "cam"),
        ("path", "/tmp/rec/live/cam 1.flv"),
    ];
    check_fields(call, &["recorder", "name", "path"], &values);
}

#[test]
fn status_2xx_accepts_and_others_refuse() {
    let cases = [
        (Reply::Status(204, vec![]), HookVerdict::Accept),
        (Reply::Status(403, vec![]), HookVerdict::Refuse(403)),
        (Reply::Status(500, vec![]), HookVerdict::Refuse(500)),
        (Reply::Status(302, vec![]), HookVerdict::Refuse(302)),
    ];
    let mut h = Harness::new(2, 8);
    for (reply, want) in cases {
        let server = HookServer::start(reply);
        let result = h.call(&server.url("/on_publish"), publish("cam", ""), TIMEOUT);
        assert_eq!(result.verdict, want);
        assert_eq!(server.drain().len(), 1);
    }
}

#[test]
fn redirect_is_returned_not_followed() {
    let server = HookServer::start(Reply::Status(302, vec![("Location", "newname")]));
    let mut h = Harness::new(1, 4);
    let result = h.call(&server.url("/on_play"), publish("secretkey", ""), TIMEOUT);
    assert_eq!(result.verdict, HookVerdict::Redirect("newname".into()));
    let seen = server.drain();
    assert_eq!(seen.len(), 1, "the 302 was followed: {seen:?}");
    assert_eq!(seen[0].path, "/on_play");

    let rtmp = HookServer::start(Reply::Status(301, vec![("Location", "rtmp://h/app/s")]));
    let result = h.call(&rtmp.url("/x"), publish("cam", ""), TIMEOUT);
    assert_eq!(
        result.verdict,
        HookVerdict::Redirect("rtmp://h/app/s".into())
    );
    assert_eq!(rtmp.drain().len(), 1);
}

#[test]
fn a_hook_that_never_answers_times_out() {
    let server = HookServer::start(Reply::Hang);
    let mut h = Harness::new(1, 4);
    let timeout = Duration::from_millis(300);
    let t0 = Instant::now();
    let result = h.call(&server.url("/on_publish"), publish("cam", ""), timeout);
    let took = t0.elapsed();
    assert_eq!(result.verdict, HookVerdict::TimedOut);
    assert!(took >= timeout, "answered after {took:?}");
    // Margin for a loaded 2-core box; the timeout itself is 300 ms.
    assert!(took < timeout + Duration::from_secs(2), "took {took:?}");
    assert!(result.elapsed >= timeout && result.elapsed <= took);
    assert_eq!(server.drain().len(), 1);
}

#[test]
fn connection_refused_fails() {
    let addr = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let mut h = Harness::new(1, 4);
    let t0 = Instant::now();
    let result = h.call(
        &format!("http://{addr}/on_connect"),
        publish("cam", ""),
        TIMEOUT,
    );
    assert!(
        matches!(result.verdict, HookVerdict::Failed(_)),
        "{:?}",
        result.verdict
    );
    assert!(t0.elapsed() < TIMEOUT, "waited for the timeout");
}

#[test]
fn a_hook_that_closes_or_answers_garbage_fails() {
    let mut h = Harness::new(1, 4);
    for reply in [Reply::Close, Reply::Garbage] {
        let server = HookServer::start(reply);
        let t0 = Instant::now();
        let result = h.call(&server.url("/on_play"), publish("cam", ""), TIMEOUT);
        assert!(
            matches!(result.verdict, HookVerdict::Failed(_)),
            "{:?}",
            result.verdict
        );
        assert!(t0.elapsed() < TIMEOUT, "waited for the timeout");
        assert_eq!(server.drain().len(), 1);
    }
}

#[test]
fn a_host_name_is_resolved_on_the_worker() {
    let server = ok_server();
    let mut h = Harness::new(1, 4);
    let url = format!("http://localhost:{}/on_publish", server.addr.port());
    let result = h.call(&url, publish("cam", ""), TIMEOUT);
    assert_eq!(result.verdict, HookVerdict::Accept);
    let req = server.next_request();
    assert_eq!(
        req.header("host"),
        Some(&*format!("localhost:{}", server.addr.port()))
    );
}

#[test]
fn https_hook_fails_without_a_request() {
    let mut h = Harness::new(1, 4);
    let result = h.call("https://127.0.0.1:9/x", publish("cam", ""), TIMEOUT);
    assert!(
        matches!(result.verdict, HookVerdict::Failed(ref r) if r.contains("https")),
        "{:?}",
        result.verdict
    );
}

#[test]
fn full_queue_refuses_without_blocking_and_shutdown_abandons() {
    let server = HookServer::start(Reply::Hang);
    let h = Harness::new(1, 2);
    let url = server.url("/on_publish");
    let job = |ticket| HookJob::new(ticket, &url, publish("cam", ""), Duration::from_secs(30));
    h.pool.submit(job(1)).unwrap();
    // The only worker is now stuck in job 1.
    server.next_request();
    let t0 = Instant::now();
    h.pool.submit(job(2)).unwrap();
    h.pool.submit(job(3)).unwrap();
    let full = h.pool.submit(job(4));
    assert!(t0.elapsed() < Duration::from_millis(500), "submit blocked");
    let err = full.unwrap_err();
    assert_eq!(
        err,
        QueueFull {
            ticket: 4,
            kind: HookKind::Publish
        }
    );
    assert_eq!(err.to_string(), "hook queue full");

    let t0 = Instant::now();
    let report = h.pool.shutdown(Duration::from_millis(200));
    let took = t0.elapsed();
    assert!(took >= Duration::from_millis(200), "{took:?}");
    assert!(took < Duration::from_secs(2), "shutdown hung: {took:?}");
    assert_eq!(report.abandoned_workers, 1);
    assert!(report.results.is_empty(), "{:?}", report.results);
}

#[test]
fn default_sizes_bound_the_queue_under_a_flood() {
    let server = HookServer::start(Reply::Hang);
    let poll = Poll::new().unwrap();
    let waker = Arc::new(Waker::new(poll.registry(), WAKE).unwrap());
    let config = HookPoolConfig::default();
    assert_eq!((config.workers, config.queue), (4, 1024));
    let pool = HookPool::new(config, waker).unwrap();
    let url = server.url("/on_publish");
    let t0 = Instant::now();
    let mut taken = 0;
    for ticket in 0..2000 {
        let job = HookJob::new(ticket, &url, publish("cam", ""), Duration::from_secs(30));
        if pool.submit(job).is_ok() {
            taken += 1;
        }
    }
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    // The queue holds 1024; up to 4 more may already be in a worker's hands.
    assert!((1024..=1028).contains(&taken), "{taken}");
    let t0 = Instant::now();
    let report = pool.shutdown(Duration::from_millis(100));
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    assert!(report.abandoned_workers <= 4);
}

#[test]
fn waker_wakes_the_poll() {
    let server = ok_server();
    let mut h = Harness::new(2, 4);
    let job = HookJob::new(42, server.url("/on_connect"), publish("cam", ""), TIMEOUT);
    h.pool.submit(job).unwrap();
    let deadline = Instant::now() + BOUND;
    let mut woke = false;
    while !woke {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "the waker never fired");
        h.poll.poll(&mut h.events, Some(left)).unwrap();
        woke = h.events.iter().any(|e| e.token() == WAKE);
    }
    let mut out = Vec::new();
    assert_eq!(h.pool.try_results(&mut out), 1);
    assert_eq!(out[0].ticket, 42);
    assert_eq!(out[0].verdict, HookVerdict::Accept);
    assert_eq!(h.pool.try_results(&mut out), 0);
}

#[test]
fn every_job_gets_one_result_with_its_ticket() {
    let server = ok_server();
    let mut h = Harness::new(4, 64);
    for ticket in 0..20 {
        let job = HookJob::new(ticket, server.url("/p"), publish("cam", ""), TIMEOUT);
        h.pool.submit(job).unwrap();
    }
    let mut tickets: Vec<u64> = h.wait(20, BOUND).iter().map(|r| r.ticket).collect();
    tickets.sort_unstable();
    assert_eq!(tickets, (0..20).collect::<Vec<_>>());
    assert_eq!(server.drain().len(), 20);
    let report = h.pool.shutdown(BOUND);
    assert_eq!(report.abandoned_workers, 0);
}

#[test]
fn shutdown_lets_queued_jobs_finish() {
    let server = ok_server();
    let h = Harness::new(1, 8);
    for ticket in 0..3 {
        let call = HookCall::PublishDone { name: "cam".into() };
        let request = HookRequest::new(session(), call, QueryArgs::new());
        h.pool
            .submit(HookJob::new(ticket, server.url("/done"), request, TIMEOUT))
            .unwrap();
    }
    let report = h.pool.shutdown(BOUND);
    assert_eq!(report.abandoned_workers, 0);
    assert_eq!(report.results.len(), 3, "{:?}", report.results);
    assert!(report
        .results
        .iter()
        .all(|r| r.verdict.is_accept() && r.kind == HookKind::PublishDone));
}

#[test]
fn secrets_are_sent_but_redacted_for_logs() {
    let server = ok_server();
    let mut h = Harness::new(1, 4);
    let mut request = publish("cam", "key=S3cr3t&token=T0k3n&user=bob");
    request.session.tcurl = "rtmp://127.0.0.1/live?pass=P4ss".into();
    let job = HookJob::new(1, server.url("/on_publish"), request.clone(), TIMEOUT);
    let shown = format!("{} {job:?}", request.body_redacted());
    for secret in ["S3cr3t", "T0k3n", "P4ss"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    assert!(
        shown.contains("key=***") && shown.contains("user=bob"),
        "{shown}"
    );
    h.call(&server.url("/on_publish"), request, TIMEOUT);
    let body = server.next_request().body;
    assert!(body.contains("&key=S3cr3t&token=T0k3n&user=bob"), "{body}");
    assert!(body.contains("pass%3DP4ss"), "{body}");
}
