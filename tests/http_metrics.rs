//! `/metrics` output checked by Prometheus' own linter: the text of a
//! realistic snapshot (streams with and without viewers, labels that need
//! escaping, every reason and role) is piped into `promtool check metrics`,
//! which must accept it. Also the JSON of the same snapshot parses back.

mod common;

use rtmp_edge::http::api::{streams_json, ServerSnapshot};
use rtmp_edge::http::example::example_snapshot as realistic;
use rtmp_edge::http::metrics::render;

#[test]
fn promtool_accepts_the_exposition() {
    if !common::have_tool("promtool") {
        return;
    }
    let text = render(&realistic());
    let (ok, said) = common::promtool(&text);
    assert!(
        ok,
        "promtool check metrics failed:\n{said}\n--- text ---\n{text}"
    );
    assert!(said.trim().is_empty(), "promtool lint findings:\n{said}");
    // With no stream at all it is still valid.
    let (ok, said) = common::promtool(&render(&ServerSnapshot::default()));
    assert!(ok, "empty snapshot: {said}");
    // promtool does see errors: a broken line is refused.
    let (ok, _) = common::promtool(&format!("{text}rtmp_broken{{app=\"x}} 1\n"));
    assert!(!ok, "promtool accepted a broken exposition");
}

#[test]
fn every_live_stream_exports_zeros_too() {
    let text = render(&realistic());
    assert!(text.contains("rtmp_stream_viewers{app=\"live\",name=\"quiet\"} 0\n"));
    assert!(text.contains("rtmp_stream_viewers{app=\"live\",name=\"cam\"} 3\n"));
    assert!(text.contains(r#"rtmp_stream_viewers{app="we\"ird\\app",name="line\nbreak é"} 0"#));
    assert!(text.contains("rtmp_connections_rejected_total{reason=\"per_ip\"} 0\n"));
    assert!(text.contains("rtmp_streams 3\n"));
    let json: serde_json::Value = serde_json::from_slice(&streams_json(&realistic())).unwrap();
    assert_eq!(json["streams"][2]["name"], "line\nbreak é");
}
