//! `/metrics`: a [`ServerSnapshot`] in the Prometheus text exposition
//! format (version 0.0.4).
//!
//! # Contract
//!
//! * [`render`] writes one `# HELP` and one `# TYPE` line per metric family,
//!   then its samples; names follow Prometheus practice (prefix `rtmp_`, base
//!   units, `_total` on counters). Label values are escaped with
//!   [`escape_label`] (`\\`, `\"`, `\n`), HELP text with [`escape_help`].
//! * Every stream in the snapshot exports every per-stream family, zeros
//!   included; a stream that is not in the snapshot exports nothing (its
//!   series end with it). Labels never carry client ids.
//! * A family with no sample (no live stream) keeps its HELP/TYPE lines, which
//!   the format allows.
//! * The output passes `promtool check metrics` (a test runs it when the
//!   tool is installed).

use std::fmt::Write as _;

use super::api::{ServerSnapshot, StreamSnapshot};

/// Escapes a label value: backslash, double quote and line feed.
pub fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes HELP text: backslash and line feed.
pub fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
}

/// Writes the HELP and TYPE lines of a family.
fn family(out: &mut String, name: &str, kind: Kind, help: &str) {
    let kind = match kind {
        Kind::Counter => "counter",
        Kind::Gauge => "gauge",
    };
    // Writing to a String cannot fail.
    let _ = writeln!(out, "# HELP {name} {}", escape_help(help));
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Writes one sample; `labels` are (name, raw value) pairs.
fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{k}=\"{}\"", escape_label(v));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {}", format_value(value));
}

/// A sample value: integers without a fraction, others as Rust prints
/// them, non-finite values as the format spells them.
fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// A family with one unlabelled sample.
fn single(out: &mut String, name: &str, kind: Kind, help: &str, value: f64) {
    family(out, name, kind, help);
    sample(out, name, &[], value);
}

/// A family with one sample per map entry, labelled `label`.
fn by_key<'a>(
    out: &mut String,
    name: &str,
    kind: Kind,
    help: &str,
    label: &str,
    entries: impl Iterator<Item = (&'a String, &'a u64)>,
) {
    family(out, name, kind, help);
    for (key, value) in entries {
        sample(out, name, &[(label, key)], *value as f64);
    }
}

/// Per-stream families: (name, kind, help, value of a stream).
type StreamFamily = (&'static str, Kind, &'static str, fn(&StreamSnapshot) -> f64);

const STREAM_FAMILIES: [StreamFamily; 8] = [
    (
        "rtmp_stream_viewers",
        Kind::Gauge,
        "Viewers of a live stream (RTMP and HTTP-FLV).",
        |s| s.viewers.total() as f64,
    ),
    (
        "rtmp_stream_received_bytes_total",
        Kind::Counter,
        "Media bytes received from the stream's publisher.",
        |s| s.bytes_in as f64,
    ),
    (
        "rtmp_stream_sent_bytes_total",
        Kind::Counter,
        "Media bytes sent to the stream's viewers.",
        |s| s.bytes_out as f64,
    ),
    (
        "rtmp_stream_frames_received_total",
        Kind::Counter,
        "Media frames received from the stream's publisher.",
        |s| s.frames_in as f64,
    ),
    (
        "rtmp_stream_frames_dropped_total",
        Kind::Counter,
        "Frames dropped for slow viewers of the stream.",
        |s| s.frames_dropped as f64,
    ),
    (
        "rtmp_stream_viewers_evicted_total",
        Kind::Counter,
        "Viewers of the stream closed for falling too far behind.",
        |s| s.viewers_evicted as f64,
    ),
    (
        "rtmp_stream_gop_cache_bytes",
        Kind::Gauge,
        "Bytes held by the stream's late-join cache.",
        |s| s.gop_bytes as f64,
    ),
    (
        "rtmp_stream_uptime_seconds",
        Kind::Gauge,
        "Seconds since the stream's publisher started.",
        |s| s.uptime_s as f64,
    ),
];

/// The whole `/metrics` text for a snapshot.
pub fn render(snap: &ServerSnapshot) -> String {
    let mut out = String::with_capacity(2048 + 1024 * snap.streams.len());
    family(
        &mut out,
        "rtmp_build_info",
        Kind::Gauge,
        "Build information; the value is always 1.",
    );
    sample(
        &mut out,
        "rtmp_build_info",
        &[("version", &snap.version)],
        1.0,
    );
    single(
        &mut out,
        "rtmp_uptime_seconds",
        Kind::Gauge,
        "Seconds since the server started.",
        snap.uptime_s as f64,
    );
    by_key(
        &mut out,
        "rtmp_connections",
        Kind::Gauge,
        "Open connections by role.",
        "role",
        snap.connections.iter(),
    );
    single(
        &mut out,
        "rtmp_connections_accepted_total",
        Kind::Counter,
        "Connections accepted since start.",
        snap.accepted_total as f64,
    );
    by_key(
        &mut out,
        "rtmp_connections_rejected_total",
        Kind::Counter,
        "Connections refused since start, by reason.",
        "reason",
        snap.rejected_total.iter(),
    );
    render_streams(&mut out, snap);
    single(
        &mut out,
        "rtmp_viewers_evicted_total",
        Kind::Counter,
        "Viewers closed for falling too far behind, all streams.",
        snap.viewers_evicted_total as f64,
    );
    single(
        &mut out,
        "rtmp_recordings_active",
        Kind::Gauge,
        "Recordings being written.",
        snap.recordings_active as f64,
    );
    single(
        &mut out,
        "rtmp_recorded_bytes_total",
        Kind::Counter,
        "Bytes written to recordings since start.",
        snap.recorded_bytes_total as f64,
    );
    out
}

fn render_streams(out: &mut String, snap: &ServerSnapshot) {
    single(
        out,
        "rtmp_streams",
        Kind::Gauge,
        "Live streams.",
        snap.streams.len() as f64,
    );
    for (name, kind, help, value) in STREAM_FAMILIES {
        family(out, name, kind, help);
        for s in &snap.streams {
            sample(out, name, &[("app", &s.app), ("name", &s.name)], value(s));
        }
    }
    family(
        out,
        "rtmp_relay_up",
        Kind::Gauge,
        "1 while a stream's pull upstream or push target is connected and streaming.",
    );
    for s in &snap.streams {
        for r in &s.relays {
            let target = r.target.to_string();
            let labels = [
                ("app", s.app.as_str()),
                ("name", s.name.as_str()),
                ("direction", r.direction.as_str()),
                ("target", target.as_str()),
            ];
            sample(out, "rtmp_relay_up", &labels, if r.up { 1.0 } else { 0.0 });
        }
    }
    single(
        out,
        "rtmp_relay_reconnects_total",
        Kind::Counter,
        "Relay reconnect attempts since start, pull and push.",
        snap.relay_reconnects_total as f64,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::example::example_snapshot as snapshot;

    #[test]
    fn label_escaping() {
        assert_eq!(escape_label("plain"), "plain");
        assert_eq!(escape_label(r#"a"b"#), r#"a\"b"#);
        assert_eq!(escape_label(r"a\b"), r"a\\b");
        assert_eq!(escape_label("a\nb"), r"a\nb");
        assert_eq!(escape_label("\\\"\n"), r#"\\\"\n"#);
        assert_eq!(escape_label("é ☃ \t"), "é ☃ \t");
        assert_eq!(escape_help("x\\y\nz \""), "x\\\\y\\nz \"");
    }

    #[test]
    fn values() {
        assert_eq!(format_value(0.0), "0");
        assert_eq!(format_value(3.0), "3");
        assert_eq!(format_value(1.5), "1.5");
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(1e20), "100000000000000000000");
    }

    #[test]
    fn every_stream_exports_every_series() {
        let text = render(&snapshot());
        assert!(text.contains(&format!(
            "rtmp_build_info{{version=\"{}\"}} 1\n",
            env!("CARGO_PKG_VERSION")
        )));
        assert!(text.contains("rtmp_streams 3\n"));
        assert!(text.contains("rtmp_connections{role=\"player\"} 2\n"));
        assert!(text.contains("rtmp_connections_rejected_total{reason=\"denied\"} 2\n"));
        assert!(text.contains("rtmp_stream_viewers{app=\"live\",name=\"cam\"} 3\n"));
        let odd = r#"{app="we\"ird\\app",name="line\nbreak é"}"#;
        for (name, ..) in STREAM_FAMILIES {
            assert!(text.contains(&format!("{name}{{app=\"live\",name=\"cam\"}} ")));
            assert!(text.contains(&format!("{name}{odd} 0\n")), "{name}");
        }
        // One HELP and one TYPE per family, each before its samples.
        let helps = text.lines().filter(|l| l.starts_with("# HELP ")).count();
        let types = text.lines().filter(|l| l.starts_with("# TYPE ")).count();
        assert_eq!(helps, types);
        assert_eq!(helps, 11 + STREAM_FAMILIES.len());
        assert!(text.contains(
            "rtmp_relay_up{app=\"live\",name=\"cam\",direction=\"push\",target=\"0\"} 1\n"
        ));
        assert!(text.contains("rtmp_relay_reconnects_total 1\n"));
        assert!(!text.contains("id="));
    }

    #[test]
    fn ended_streams_leave_no_series() {
        let mut snap = snapshot();
        snap.streams.clear();
        let text = render(&snap);
        assert!(text.contains("rtmp_streams 0\n"));
        assert!(!text.contains("app=\""));
        assert!(text.contains("# TYPE rtmp_stream_viewers gauge\n"));
    }
}
