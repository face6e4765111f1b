//! `rtmp-bench --plot` and `rtmp-bench plot-compare`: the pictures are SVG
//! that parses as XML and holds the series they promise. One run against
//! the server gives a latency CDF drawn with as many points as its JSON
//! carries (`latency_cdf_ms`), a bitrate line with one point per second
//! (`delivered_mbps_per_s`), and the axes named with their units. Several
//! runs' JSON give one curve per label (reps of a label are one curve) and
//! one bar per label in its curve's colour, a figure-only label (the floor)
//! a bar alone.
//!
//! Needs nothing but the crate's binaries. Free ports; bounded waits; every
//! process started here is stopped by its PID.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{wait_child, ServerProcess, TempDir};

const BENCH: &str = env!("CARGO_BIN_EXE_rtmp-bench");

/// Run `cmd` for at most 30 s; its output.
fn run(mut cmd: Command) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rtmp-bench");
    // Small outputs: the pipes do not fill up before the end.
    let status = wait_child(&mut child, Duration::from_secs(30));
    assert!(status.is_some(), "rtmp-bench did not finish in 30 s");
    child.wait_with_output().expect("rtmp-bench output")
}

/// What a test checks in an SVG: polylines (stroke colour, points), filled
/// rectangles' colours and the texts.
struct Svg {
    lines: Vec<(String, Vec<(f64, f64)>)>,
    fills: Vec<String>,
    texts: Vec<String>,
}

fn parse_svg(path: &Path) -> Svg {
    let text = std::fs::read_to_string(path).expect("the SVG file");
    let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let mut svg = Svg {
        lines: Vec::new(),
        fills: Vec::new(),
        texts: Vec::new(),
    };
    for n in doc.descendants().filter(|n| n.is_element()) {
        match n.tag_name().name() {
            "polyline" => {
                let points = n
                    .attribute("points")
                    .unwrap_or("")
                    .split_whitespace()
                    .map(|p| {
                        let (x, y) = p.split_once(',').expect("x,y");
                        (x.parse().unwrap(), y.parse().unwrap())
                    })
                    .collect();
                let stroke = n.attribute("stroke").unwrap_or("").to_ascii_uppercase();
                svg.lines.push((stroke, points));
            }
            "rect" => {
                if let Some(f) = n.attribute("fill") {
                    svg.fills.push(f.to_ascii_uppercase());
                }
            }
            "text" => svg.texts.push(n.text().unwrap_or("").trim().to_owned()),
            _ => {}
        }
    }
    svg
}

impl Svg {
    fn has_text(&self, t: &str) -> bool {
        self.texts.iter().any(|x| x == t)
    }

    /// The polylines with exactly `n` points.
    fn lines_of(&self, n: usize) -> Vec<&(String, Vec<(f64, f64)>)> {
        self.lines.iter().filter(|l| l.1.len() == n).collect()
    }
}

fn pairs(json: &serde_json::Value, key: &str) -> Vec<(f64, f64)> {
    json[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} in {json}"))
        .iter()
        .map(|p| (p[0].as_f64().unwrap(), p[1].as_f64().unwrap()))
        .collect()
}

#[test]
fn bench_plot_draws_the_latency_cdf_and_the_bitrate_per_second() {
    let dir = TempDir::new("bench-plot");
    let flv = dir.path().join("bench.flv");
    common::write_synthetic_flv(&flv, 12_000);
    let svg_path = dir.path().join("run.svg");
    let server = ServerProcess::start(&[]);
    let mut cmd = Command::new(BENCH);
    cmd.args(["--url", &server.url("live/plot"), "--flv"])
        .arg(&flv)
        .args(["--subscribers", "3", "--duration", "3", "--lead", "0.5"])
        .args(["--timeout", "5", "--json", "--quiet", "--plot"])
        .arg(&svg_path)
        .args(["--server-pid", &server.child.id().to_string()]);
    let out = run(cmd);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{:?} {stdout} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(json["connected"], 3, "{json}");

    // The JSON: every percent and the tail of the CDF, latency growing
    // with the fraction; one bitrate point per second of the window.
    let cdf = pairs(&json, "latency_cdf_ms");
    assert_eq!(cdf.len(), 104, "{json}");
    assert_eq!((cdf[0].1, cdf[50].1, cdf[103].1), (0.0, 0.5, 1.0));
    assert!(cdf.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 < w[1].1));
    assert_eq!(cdf[103].0, json["latency_ms_max"].as_f64().unwrap());
    let rate = pairs(&json, "delivered_mbps_per_s");
    let window = json["duration_s"].as_f64().unwrap();
    assert!((3..=4).contains(&rate.len()), "{json}");
    assert!((rate[0].0 - 1.0).abs() < 0.5, "{json}");
    assert!((rate[rate.len() - 1].0 - window).abs() < 0.05, "{json}");
    // Every second delivers, and over the window about the stream's rate
    // (more at first: the cached GOP).
    assert!(rate.iter().all(|r| r.1 > 0.0), "{json}");
    let mut t0 = 0.0;
    let mbit: f64 = rate
        .iter()
        .map(|&(t, mbps)| {
            let m = mbps * (t - t0);
            t0 = t;
            m
        })
        .sum();
    let expected = json["expected_payload_mbps"].as_f64().unwrap();
    assert!(mbit / window > expected * 0.5, "{json}");

    // The SVG: the CDF with as many points as the JSON, climbing (SVG y
    // grows downwards) to the right; the bitrate line with one point per
    // second, in another colour; the axes with their units.
    let svg = parse_svg(&svg_path);
    let curves = svg.lines_of(cdf.len());
    assert_eq!(curves.len(), 1, "{:?}", svg.lines);
    let c = &curves[0].1;
    assert!(c.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 >= w[1].1));
    assert!(c[0].1 > c[c.len() - 1].1);
    let bitrate = svg.lines_of(rate.len());
    assert_eq!(bitrate.len(), 1, "{:?}", svg.lines);
    assert!(bitrate[0].1.windows(2).all(|w| w[0].0 < w[1].0));
    assert_ne!(curves[0].0, bitrate[0].0);
    for t in [
        "latency (ms, log scale)",
        "fraction of live frames",
        "delivered (Mbit/s, on the wire)",
        "time since the subscribers connect (s)",
        "latency distribution",
        "delivered bitrate per second",
    ] {
        assert!(svg.has_text(t), "no {t:?} in {:?}", svg.texts);
    }
}

/// A run's JSON as `rtmp-bench --json` writes it (the fields the plot reads).
fn run_json(p50_ms: f64, cpu: f64) -> String {
    let mut fractions: Vec<f64> = (0..=100)
        .map(|i| f64::from(i) / 100.0)
        .chain([0.995, 0.999, 0.9999])
        .collect();
    fractions.sort_by(f64::total_cmp);
    let points: Vec<String> = fractions
        .iter()
        .map(|f| format!("[{:.3},{f}]", p50_ms * (0.5 + f * f * 3.0)))
        .collect();
    format!(
        "{{\"connected\":5,\"server_cpu_s_per_gbit\":{cpu},\"latency_cdf_ms\":[{}]}}",
        points.join(",")
    )
}

#[test]
fn plot_compare_draws_one_curve_per_server_and_cpu_bars_beside_the_floor() {
    let dir = TempDir::new("bench-plot-compare");
    let file = |name: &str, body: String| {
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let ours1 = file("ours-1.json", run_json(1.0, 0.3));
    let ours2 = file("ours-2.json", run_json(2.0, 0.5));
    let nginx = file("nginx-1.json", run_json(4.0, 0.9));
    let ours40 = file("ours40-1.json", run_json(8.0, 0.2));
    let out_svg = dir.path().join("1x20.svg");
    let mut cmd = Command::new(BENCH);
    cmd.args(["plot-compare", "--out"])
        .arg(&out_svg)
        .args(["--title", "scenario 1x20"])
        .args(["--run", &format!("nginx={nginx}")])
        .args(["--run", &format!("ours={ours1}")])
        .args(["--run", &format!("ours={ours2}")])
        .args(["--run", &format!("ours40={ours40}")])
        .args([
            "--cpu-per-gbit",
            "floor=0.15",
            "--cpu-per-gbit",
            "floor=0.05",
        ]);
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{:?} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let svg = parse_svg(&out_svg);
    // One curve per server (ours's two reps are one), each its own colour.
    let curves = svg.lines_of(104);
    assert_eq!(curves.len(), 3, "{:?}", svg.lines);
    let mut colours: Vec<&str> = curves.iter().map(|c| c.0.as_str()).collect();
    colours.sort_unstable();
    colours.dedup();
    assert_eq!(colours.len(), 3, "{colours:?}");
    // Ours (averaged: p50 1.5 ms) left of nginx (4 ms) left of ours40 (8 ms)
    // at the same fraction: the curves are drawn in label order.
    let x_mid = |c: &(String, Vec<(f64, f64)>)| c.1[50].0;
    assert!(x_mid(curves[1]) < x_mid(curves[0]) && x_mid(curves[0]) < x_mid(curves[2]));
    // A bar in each curve's colour, and one more for the floor.
    for c in &colours {
        assert!(
            svg.fills.iter().any(|f| f == c),
            "no bar {c}: {:?}",
            svg.fills
        );
    }
    let others: Vec<&String> = svg
        .fills
        .iter()
        .filter(|f| !colours.contains(&f.as_str()) && *f != "#FFFFFF" && *f != "NONE")
        .collect();
    assert!(!others.is_empty(), "no floor bar: {:?}", svg.fills);
    // Bar figures: ours the median of its reps, the floor's the median of its figures.
    for t in ["0.900", "0.400", "0.200", "0.100"] {
        assert!(svg.has_text(t), "no bar figure {t}: {:?}", svg.texts);
    }
    // Labels on the legend and under the bars; the units on the axes.
    for label in ["ours", "nginx", "ours40"] {
        let n = svg.texts.iter().filter(|t| *t == label).count();
        assert_eq!(n, 2, "{label}: {:?}", svg.texts);
    }
    for t in [
        "floor",
        "scenario 1x20",
        "latency (ms, log scale)",
        "CPU s per delivered Gbit",
    ] {
        assert!(svg.has_text(t), "no {t:?} in {:?}", svg.texts);
    }

    // A run without LABEL= is a usage error (2); a missing file, 1.
    let mut cmd = Command::new(BENCH);
    cmd.args(["plot-compare", "--out"])
        .arg(dir.path().join("x.svg"))
        .args(["--run", &nginx]);
    assert_eq!(run(cmd).status.code(), Some(2));
    let mut cmd = Command::new(BENCH);
    cmd.args(["plot-compare", "--out"])
        .arg(dir.path().join("x.svg"))
        .args(["--run", "ours=/nonexistent/run.json"]);
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/run.json"));
}
