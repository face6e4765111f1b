//! Hostile: 1000 publishes, driven by the client library from this process,
//! each waiting on an `on_publish` hook that never answers. The server's
//! memory stays bounded, every publish is answered (refused: the hook timed
//! out) and the loop keeps serving a healthy pair meanwhile.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::hook_server::{HookServer, Reply};
use common::rtmp::{avc_frame, avc_seq_header, TestClient};
use common::{ServerProcess, TempDir};
use rtmp_edge::client::multi::{MultiClient, MultiEvent};
use rtmp_edge::client::{ClientError, RtmpUrl};
use rtmp_edge::proto::session::MediaKind;

const PUBLISHES: usize = 1000;
/// Largest growth of the server's resident memory while they wait.
const RSS_BOUND_KIB: u64 = 64 * 1024;

#[test]
fn a_thousand_publishes_waiting_on_a_hung_hook_stay_bounded_and_are_all_refused() {
    let hooks = HookServer::start(Reply::Hang);
    let dir = TempDir::new("hooks-1000");
    let file = dir.path().join("server.toml");
    std::fs::write(
        &file,
        format!(
            "[apps.slow]\non_publish = \"{}\"\nhook_timeout_ms = 2000\n",
            hooks.url("/hang")
        ),
    )
    .unwrap();
    let server = ServerProcess::start(&["--config", file.to_str().unwrap()]);
    let rss_before = server.rss_kib();
    let mut healthy = TestClient::publish(server.addr, "live", "ok");
    let mut viewer = TestClient::play(server.addr, "live", "ok");
    healthy.send_media(MediaKind::Video, 0, &avc_seq_header());

    let mut multi = MultiClient::new(Duration::from_secs(20)).unwrap();
    for i in 0..PUBLISHES {
        let url = RtmpUrl::parse(&format!("rtmp://{}/slow/s{i}", server.addr)).unwrap();
        multi.add_publisher(&url, server.addr).unwrap();
    }
    let mut outcomes: HashMap<String, usize> = HashMap::new();
    let mut started = 0;
    let mut peak_rss = rss_before;
    let mut frames = 0u32;
    let deadline = Instant::now() + Duration::from_secs(60);
    while outcomes.values().sum::<usize>() + started < PUBLISHES && Instant::now() < deadline {
        multi
            .poll(Some(Duration::from_millis(50)), &mut |_, ev| match ev {
                MultiEvent::Started => started += 1,
                MultiEvent::Closed(e) => {
                    let what = match e {
                        ClientError::Rejected { code, .. } => code.clone(),
                        other => other.to_string(),
                    };
                    *outcomes.entry(what).or_default() += 1;
                }
                _ => {}
            })
            .unwrap();
        peak_rss = peak_rss.max(server.rss_kib());
        // The healthy pair keeps streaming through it all.
        healthy.send_media(
            MediaKind::Video,
            frames * 40,
            &avc_frame(frames == 0, frames, 1000),
        );
        frames += 1;
    }
    assert_eq!(
        started, 0,
        "a publish started although its hook never answered"
    );
    assert_eq!(
        outcomes.get("NetStream.Publish.Denied"),
        Some(&PUBLISHES),
        "every publish must be refused: {outcomes:?}"
    );
    let growth = peak_rss.saturating_sub(rss_before);
    assert!(
        growth < RSS_BOUND_KIB,
        "server memory grew by {growth} KiB (bound {RSS_BOUND_KIB})"
    );
    let got = viewer.collect_media(frames as usize + 1, Duration::from_secs(10));
    assert_eq!(
        got.len(),
        frames as usize + 1,
        "the healthy pair lost frames"
    );
    let refusals = |log: &str| {
        log.lines()
            .filter(|l| l.contains(" publish slow/s") && l.contains("refused: hook timed out"))
            .count()
    };
    server.wait_log(Duration::from_secs(10), |l| refusals(l) >= PUBLISHES);
    assert_eq!(
        refusals(&server.log_text()),
        PUBLISHES,
        "one refusal line per publish"
    );
    eprintln!("1000 hung hooks: peak RSS growth {growth} KiB, {frames} healthy frames relayed");
}
