//! Memory per idle connection: 5000 players waiting for a publisher that
//! never comes (handshake, connect, createStream, play done; then silence).
//! Goal: under 64 KiB of server RSS each.

mod common;

use std::time::Duration;

use common::rtmp::TestClient;
use common::ServerProcess;

const CONNECTIONS: usize = 5000;

#[test]
fn idle_players_cost_less_than_64_kib_each() {
    // Both ends of every connection live on this machine: the test needs
    // a file descriptor per client.
    let limit = rlimit::increase_nofile_limit(CONNECTIONS as u64 + 512).unwrap_or(0);
    assert!(
        limit >= CONNECTIONS as u64 + 256,
        "open-files limit {limit} is too low for this test"
    );
    let server = ServerProcess::start(&[]);
    // Let the server settle, then take the baseline.
    std::thread::sleep(Duration::from_millis(200));
    let before = server.rss_kib();
    let mut clients = Vec::with_capacity(CONNECTIONS);
    for i in 0..CONNECTIONS {
        clients.push(TestClient::play(
            server.addr,
            "live",
            &format!("waiting{}", i % 10),
        ));
    }
    std::thread::sleep(Duration::from_millis(300));
    let after = server.rss_kib();
    let per_conn = (after.saturating_sub(before)) as f64 / CONNECTIONS as f64;
    eprintln!(
        "idle memory: RSS {before} KiB -> {after} KiB with {CONNECTIONS} idle players: {per_conn:.1} KiB each"
    );
    assert!(per_conn < 64.0, "{per_conn:.1} KiB per idle connection");
    drop(clients);
}
