//! Results as pictures: SVG files drawn with plotters' SVG backend. Text
//! goes out as `<text>` elements (the viewer picks the font), so no font
//! file and no system library is involved.
//!
//! - `--plot FILE.svg`: one run. Above, the latency distribution of the
//!   live frames (CDF, latency on a log axis); below, the bitrate delivered
//!   to all subscribers in each second of the measurement window.
//! - `rtmp-bench plot-compare`: several runs' JSON summaries (`--json`, which
//!   carries the CDF points as `latency_cdf_ms`) in one SVG: one latency
//!   curve per label beside bars of the server CPU seconds per delivered
//!   Gbit, where a label can also come with a figure only (the fan-out
//!   floor of `benches/compare.sh` has no latency samples).

use std::collections::BTreeMap;

use argh::FromArgs;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::stats::percentile;

/// The fractions of the latency CDF kept in the JSON and drawn: every
/// percent from 0 to 100, and the tail (99.5, 99.9 and 99.99 %).
pub fn cdf_fractions() -> Vec<f64> {
    let mut f: Vec<f64> = (0..=100).map(|i| f64::from(i) / 100.0).collect();
    f.splice(100..100, [0.995, 0.999, 0.9999]);
    f
}

/// (latency ms, fraction of frames) at each of [`cdf_fractions`], from
/// latencies in microseconds sorted ascending; empty without samples.
pub fn cdf_points(sorted_us: &[u64]) -> Vec<(f64, f64)> {
    cdf_fractions()
        .into_iter()
        .filter_map(|f| percentile(sorted_us, f).map(|us| (us as f64 / 1000.0, f)))
        .collect()
}

/// Colours of the series, by label order (a colour-blind-safe set).
const COLOURS: [RGBColor; 8] = [
    RGBColor(0x00, 0x72, 0xB2),
    RGBColor(0xD5, 0x5E, 0x00),
    RGBColor(0x00, 0x9E, 0x73),
    RGBColor(0xCC, 0x79, 0xA7),
    RGBColor(0x56, 0xB4, 0xE9),
    RGBColor(0xE6, 0x9F, 0x00),
    RGBColor(0x55, 0x55, 0x55),
    RGBColor(0xF0, 0xE4, 0x42),
];

fn colour(i: usize) -> RGBColor {
    COLOURS[i % COLOURS.len()]
}

/// A number for an axis label, without float noise (0.3, not 0.30000000000000004).
fn short(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_owned()
}

/// The latency axis: whole decades around every curve's points.
fn latency_range<'a>(curves: impl Iterator<Item = &'a [(f64, f64)]>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::MAX, 0f64);
    for &(ms, _) in curves.flatten() {
        // Below 1 µs (the resolution) is 1 µs on a log axis.
        lo = lo.min(ms.max(0.001));
        hi = hi.max(ms.max(0.001));
    }
    if hi == 0.0 {
        return (0.1, 100.0);
    }
    let lo = 10f64.powf(lo.log10().floor());
    let mut hi = 10f64.powf(hi.log10().ceil());
    if hi <= lo {
        hi = lo * 10.0;
    }
    (lo, hi)
}

/// A curve of the latency chart: its label, colour and (ms, fraction) points.
type Curve<'a> = (String, RGBColor, &'a [(f64, f64)]);

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

fn fail<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> String + '_ {
    move |e| format!("{what}: {e}")
}

/// The latency CDF chart: one curve per (label, points), in the label's colour.
fn draw_cdf(area: &Area, caption: &str, curves: &[Curve]) -> Result<(), String> {
    let (lo, hi) = latency_range(curves.iter().map(|c| c.2));
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d((lo..hi).log_scale(), 0f64..1f64)
        .map_err(fail("latency chart"))?;
    chart
        .configure_mesh()
        .x_desc("latency (ms, log scale)")
        .y_desc("fraction of live frames")
        .x_label_formatter(&|v| short(*v))
        .y_label_formatter(&|v| short(*v))
        .draw()
        .map_err(fail("latency axes"))?;
    for (label, c, points) in curves {
        let c = *c;
        chart
            .draw_series(LineSeries::new(
                points.iter().map(|&(ms, f)| (ms.max(0.001), f)),
                c.stroke_width(2),
            ))
            .map_err(fail("latency curve"))?
            .label(label.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
    }
    if !curves.is_empty() {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(fail("latency legend"))?;
    }
    Ok(())
}

/// One run: the latency CDF above the delivered bitrate per second.
pub fn run_svg(
    path: &str,
    title: &str,
    cdf: &[(f64, f64)],
    rate: &[(f64, f64)],
) -> Result<(), String> {
    let root = SVGBackend::new(path, (900, 800)).into_drawing_area();
    root.fill(&WHITE).map_err(fail(path))?;
    let root = root.titled(title, ("sans-serif", 22)).map_err(fail(path))?;
    let (top, bottom) = root.split_vertically(420);
    let curves = [("live frames, all subscribers".to_owned(), colour(0), cdf)];
    draw_cdf(
        &top,
        "latency distribution",
        if cdf.is_empty() { &[] } else { &curves },
    )?;

    let t_max = rate.iter().map(|r| r.0).fold(1.0, f64::max);
    let m_max = rate.iter().map(|r| r.1).fold(0.0, f64::max);
    let m_max = if m_max > 0.0 { m_max * 1.15 } else { 1.0 };
    let mut chart = ChartBuilder::on(&bottom)
        .caption("delivered bitrate per second", ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..t_max, 0f64..m_max)
        .map_err(fail("bitrate chart"))?;
    chart
        .configure_mesh()
        .x_desc("time since the subscribers connect (s)")
        .y_desc("delivered (Mbit/s, on the wire)")
        .x_label_formatter(&|v| short(*v))
        .y_label_formatter(&|v| short(*v))
        .draw()
        .map_err(fail("bitrate axes"))?;
    let c = colour(1);
    chart
        .draw_series(LineSeries::new(rate.iter().copied(), c.stroke_width(2)))
        .map_err(fail("bitrate line"))?
        .label("all subscribers")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(fail("bitrate legend"))?;
    root.present().map_err(fail(path))
}

/// One label of a comparison: its latency curve (none for a figure-only
/// label) and its server CPU seconds per delivered Gbit (none if unknown).
#[derive(Debug, PartialEq)]
pub struct Entry {
    pub label: String,
    pub cdf: Vec<(f64, f64)>,
    pub cpu_per_gbit: Option<f64>,
}

/// Several runs: latency curves on the left, CPU per delivered Gbit on the right.
pub fn compare_svg(path: &str, title: &str, entries: &[Entry]) -> Result<(), String> {
    let root = SVGBackend::new(path, (1200, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(fail(path))?;
    let root = root.titled(title, ("sans-serif", 22)).map_err(fail(path))?;
    let (left, right) = root.split_horizontally(760);
    let curves: Vec<Curve> = entries
        .iter()
        .enumerate()
        .filter(|(_, e)| !e.cdf.is_empty())
        .map(|(i, e)| (e.label.clone(), colour(i), e.cdf.as_slice()))
        .collect();
    draw_cdf(&left, "latency distribution (live frames)", &curves)?;

    // A u32 range is inclusive: 0..n-1 holds n segments (one is the least).
    let last = entries.len().saturating_sub(1).max(1) as u32;
    let top = entries
        .iter()
        .filter_map(|e| e.cpu_per_gbit)
        .fold(0.0, f64::max);
    let top = if top > 0.0 { top * 1.2 } else { 1.0 };
    let mut chart = ChartBuilder::on(&right)
        .caption("server CPU per delivered Gbit", ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d((0u32..last).into_segmented(), 0f64..top)
        .map_err(fail("CPU chart"))?;
    let name_of = |v: &SegmentValue<u32>| match v {
        SegmentValue::CenterOf(i) => entries
            .get(*i as usize)
            .map_or(String::new(), |e| e.label.clone()),
        _ => String::new(),
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_desc("server")
        .y_desc("CPU s per delivered Gbit")
        .x_label_formatter(&name_of)
        .y_label_formatter(&|v| short(*v))
        .draw()
        .map_err(fail("CPU axes"))?;
    let font = ("sans-serif", 15).into_font();
    for (i, e) in entries.iter().enumerate() {
        let x = i as u32;
        let text = match e.cpu_per_gbit {
            Some(v) => {
                let mut bar = Rectangle::new(
                    [
                        (SegmentValue::Exact(x), 0.0),
                        (SegmentValue::Exact(x + 1), v),
                    ],
                    colour(i).filled(),
                );
                bar.set_margin(0, 0, 12, 12);
                chart.draw_series([bar]).map_err(fail("CPU bar"))?;
                (format!("{v:.3}"), v)
            }
            None => ("n/a".to_owned(), 0.0),
        };
        let style = font.color(&BLACK).pos(Pos::new(HPos::Center, VPos::Bottom));
        chart
            .draw_series([Text::new(
                text.0,
                (SegmentValue::CenterOf(x), text.1),
                style,
            )])
            .map_err(fail("CPU figure"))?;
    }
    root.present().map_err(fail(path))
}

#[derive(FromArgs)]
/// Draw several runs' JSON summaries (rtmp-bench --json) into one SVG: the latency CDF of each
/// label (log axis) beside bars of server CPU seconds per delivered Gbit.
#[argh(
    note = "A label given several runs (reps) gets one curve, the latency at each fraction averaged over them, and one bar, the median of their CPU per Gbit. Labels keep the order of their first mention; --run labels first.",
    error_code(2, "usage: bad flag or LABEL=VALUE"),
    error_code(1, "a file could not be read or written")
)]
struct CompareArgs {
    /// the SVG file to write
    #[argh(option)]
    out: String,
    /// LABEL=FILE.json: one run's summary (rtmp-bench --json); repeatable
    #[argh(option)]
    run: Vec<String>,
    /// LABEL=SECONDS: a CPU s per delivered Gbit figure with no latency curve (e.g. the
    /// fan-out floor); repeatable
    #[argh(option)]
    cpu_per_gbit: Vec<String>,
    /// title of the picture
    #[argh(option, default = "String::from(\"rtmp-bench\")")]
    title: String,
}

/// `rtmp-bench plot-compare ARGS`: draw, or print help or a usage error;
/// the exit code (0, 2 usage, 1 a file).
pub fn compare_command(rest: &[&str]) -> u8 {
    match compare(rest) {
        Ok(code) => code,
        Err((code, e)) => {
            eprintln!("rtmp-bench plot-compare: {e} (exit {code})");
            code
        }
    }
}

fn compare(rest: &[&str]) -> Result<u8, (u8, String)> {
    let a = match CompareArgs::from_args(&["rtmp-bench", "plot-compare"], rest) {
        Ok(a) => a,
        Err(early) => {
            return Ok(match early.status {
                Ok(()) => {
                    println!("{}", early.output);
                    0
                }
                Err(()) => {
                    eprintln!(
                        "{}\nRun rtmp-bench plot-compare --help for more information.",
                        early.output
                    );
                    2
                }
            });
        }
    };
    let mut runs: Vec<(String, serde_json::Value)> = Vec::new();
    for r in &a.run {
        let (label, file) = split_label(r).ok_or_else(|| usage("--run", r))?;
        let text = std::fs::read_to_string(file).map_err(|e| (1, format!("{file}: {e}")))?;
        let json = serde_json::from_str(&text).map_err(|e| (1, format!("{file}: {e}")))?;
        runs.push((label.to_owned(), json));
    }
    let mut figures: Vec<(String, f64)> = Vec::new();
    for f in &a.cpu_per_gbit {
        let (label, v) = split_label(f).ok_or_else(|| usage("--cpu-per-gbit", f))?;
        let v = v.parse().map_err(|_| usage("--cpu-per-gbit", f))?;
        figures.push((label.to_owned(), v));
    }
    compare_svg(&a.out, &a.title, &entries(&runs, &figures)).map_err(|e| (1, e))?;
    Ok(0)
}

fn usage(flag: &str, v: &str) -> (u8, String) {
    (2, format!("{flag} {v}: want LABEL=VALUE"))
}

fn split_label(s: &str) -> Option<(&str, &str)> {
    s.split_once('=')
        .filter(|(l, v)| !l.is_empty() && !v.is_empty())
}

/// A run's CDF points from its JSON (`latency_cdf_ms`: [[ms, fraction], ..]).
fn cdf_of(json: &serde_json::Value) -> Vec<(f64, f64)> {
    let Some(points) = json.get("latency_cdf_ms").and_then(|v| v.as_array()) else {
        return Vec::new();
    };
    points
        .iter()
        .filter_map(|p| Some((p.get(0)?.as_f64()?, p.get(1)?.as_f64()?)))
        .collect()
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// One entry per label, in order of first mention (runs, then figures):
/// the latency at each fraction averaged over its runs whose curves have
/// the same fractions as its first, and the median of all its CPU figures.
pub fn entries(runs: &[(String, serde_json::Value)], figures: &[(String, f64)]) -> Vec<Entry> {
    let mut order: Vec<&str> = Vec::new();
    let mut cdfs: BTreeMap<&str, Vec<Vec<(f64, f64)>>> = BTreeMap::new();
    let mut cpu: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let labels = runs
        .iter()
        .map(|r| &r.0)
        .chain(figures.iter().map(|f| &f.0));
    for l in labels {
        if !order.contains(&l.as_str()) {
            order.push(l);
        }
    }
    for (label, json) in runs {
        let c = cdf_of(json);
        if !c.is_empty() {
            cdfs.entry(label).or_default().push(c);
        }
        if let Some(v) = json.get("server_cpu_s_per_gbit").and_then(|v| v.as_f64()) {
            cpu.entry(label).or_default().push(v);
        }
    }
    for (label, v) in figures {
        cpu.entry(label).or_default().push(*v);
    }
    order
        .into_iter()
        .map(|label| {
            let mut cdf = Vec::new();
            if let Some(all) = cdfs.get(label) {
                let same: Vec<&Vec<(f64, f64)>> = all
                    .iter()
                    .filter(|c| {
                        c.len() == all[0].len() && c.iter().zip(&all[0]).all(|(a, b)| a.1 == b.1)
                    })
                    .collect();
                cdf = (0..all[0].len())
                    .map(|i| {
                        let ms = same.iter().map(|c| c[i].0).sum::<f64>() / same.len() as f64;
                        (ms, all[0][i].1)
                    })
                    .collect();
            }
            Entry {
                label: label.to_owned(),
                cdf,
                cpu_per_gbit: median(cpu.get(label).cloned().unwrap_or_default()),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdf_points_follow_the_fractions_with_a_tail() {
        let f = cdf_fractions();
        assert_eq!(f.len(), 104);
        assert!(f.windows(2).all(|w| w[0] < w[1]), "{f:?}");
        assert_eq!((f[0], f[99], f[100], f[103]), (0.0, 0.99, 0.995, 1.0));
        let us: Vec<u64> = (1..=1000).map(|i| i * 10).collect();
        let p = cdf_points(&us);
        assert_eq!(p.len(), 104);
        assert_eq!(p[0], (0.01, 0.0));
        assert_eq!(p[103], (10.0, 1.0));
        assert!(p.windows(2).all(|w| w[0].0 <= w[1].0));
        assert!(cdf_points(&[]).is_empty());
    }

    #[test]
    fn axis_numbers_are_short_and_the_latency_axis_spans_whole_decades() {
        assert_eq!(short(0.1 + 0.2), "0.3");
        assert_eq!((short(20.0), short(0.0)), ("20".to_owned(), "0".to_owned()));
        let c = [(0.35, 0.0), (42.0, 1.0)];
        assert_eq!(latency_range([&c[..]].into_iter()), (0.1, 100.0));
        assert_eq!(latency_range([&c[..0]].into_iter()), (0.1, 100.0));
        let one = [(10.0, 1.0)];
        assert_eq!(latency_range([&one[..]].into_iter()), (10.0, 100.0));
    }

    #[test]
    fn reps_of_a_label_average_their_curves_and_take_the_median_figure() {
        let run = |p50: f64, cpu: f64| {
            serde_json::json!({
                "latency_cdf_ms": [[p50 / 2.0, 0.0], [p50, 0.5], [p50 * 2.0, 1.0]],
                "server_cpu_s_per_gbit": cpu
            })
        };
        let old = serde_json::json!({ "server_cpu_s_per_gbit": 0.7 });
        let runs = vec![
            ("ours".to_owned(), run(2.0, 0.3)),
            ("nginx".to_owned(), run(4.0, 0.9)),
            ("ours".to_owned(), run(4.0, 0.5)),
            ("base".to_owned(), old),
        ];
        let figures = vec![
            ("floor".to_owned(), 0.2),
            ("floor".to_owned(), 0.1),
            ("floor".to_owned(), 0.3),
        ];
        let e = entries(&runs, &figures);
        let labels: Vec<&str> = e.iter().map(|e| e.label.as_str()).collect();
        assert_eq!(labels, ["ours", "nginx", "base", "floor"]);
        assert_eq!(e[0].cdf, [(1.5, 0.0), (3.0, 0.5), (6.0, 1.0)]);
        assert_eq!(e[0].cpu_per_gbit, Some(0.4));
        assert_eq!(e[1].cpu_per_gbit, Some(0.9));
        // An older build's JSON has no curve: a bar only.
        assert!(e[2].cdf.is_empty());
        assert_eq!(e[2].cpu_per_gbit, Some(0.7));
        assert!(e[3].cdf.is_empty());
        assert_eq!(e[3].cpu_per_gbit, Some(0.2));
    }

    #[test]
    fn labels_need_a_name_and_a_value() {
        assert_eq!(split_label("ours=a.json"), Some(("ours", "a.json")));
        assert_eq!(split_label("x=y=z"), Some(("x", "y=z")));
        assert_eq!(split_label("=a.json"), None);
        assert_eq!(split_label("ours="), None);
        assert_eq!(split_label("ours"), None);
    }
}
