// Loads the status page in headless Chromium, waits until it lists the
// stream APP/NAME (a row tr[data-stream="APP/NAME"]), optionally until that
// row contains --expect TEXT (e.g. "H.264" or "640×360"), its viewers cell
// (td.viewers) shows at least --http-flv N HTTP-FLV viewers and its bitrate
// graph (svg.graph) holds at least --samples N points of a non-zero input
// bitrate, and writes a screenshot of the page to SCREENSHOT.
//
//   node status.js URL APP/NAME SCREENSHOT [--expect TEXT] [--http-flv N]
//                  [--samples N] [--timeout 20000]
//
// Prints one JSON line {ok, cells, graph, screenshot, error, log}; exits 0
// when ok. `graph` is null without an svg.graph in the row, else {width,
// height, lines: [{cls, points, minY, maxY, bboxWidth, bboxHeight}]} (y grows
// downwards: a line above the bottom has minY < height).
"use strict";

const { parseArgs, run } = require("./chromium");

const args = parseArgs(process.argv, ["url", "stream", "screenshot"], {
  timeout: "20000",
  expect: "",
  "http-flv": "0",
  samples: "0",
});
const timeoutMs = Number(args.timeout);

const minHttpFlv = Number(args["http-flv"]);
const minSamples = Number(args.samples);

// In the page: the row of `stream`, its cells and its graph's geometry.
function inspect(stream) {
  const row = Array.from(document.querySelectorAll("tr[data-stream]"))
    .find((r) => r.getAttribute("data-stream") === stream);
  if (!row) { return null; }
  const viewers = row.querySelector("td.viewers");
  const m = viewers && /HTTP-FLV (\d+)/.exec(viewers.textContent);
  const svg = row.querySelector("svg.graph");
  let graph = null;
  if (svg) {
    graph = {
      width: Number(svg.getAttribute("width")),
      height: Number(svg.getAttribute("height")),
      lines: Array.from(svg.querySelectorAll("polyline")).map((pl) => {
        const ys = (pl.getAttribute("points") || "").trim().split(/\s+/)
          .filter((p) => p).map((p) => Number(p.split(",")[1]));
        const box = pl.getBBox();
        return {
          cls: pl.getAttribute("class"),
          points: ys.length,
          minY: Math.min.apply(null, ys),
          maxY: Math.max.apply(null, ys),
          bboxWidth: box.width,
          bboxHeight: box.height,
        };
      }),
    };
  }
  return {
    text: row.textContent,
    cells: Array.from(row.cells).map((c) => c.textContent),
    httpFlv: m ? Number(m[1]) : null,
    graph,
  };
}

// Whether `r` (from inspect) is what the options ask for.
function satisfied(r, expect, minHttpFlv, minSamples) {
  if (!r || !r.text.includes(expect)) { return false; }
  if (minHttpFlv > 0 && !(r.httpFlv >= minHttpFlv)) { return false; }
  if (minSamples > 0) {
    const line = r.graph && r.graph.lines.find((l) => l.cls === "in");
    if (!line || line.points < minSamples || !(line.minY < r.graph.height - 2)) { return false; }
  }
  return true;
}

run(timeoutMs, async (page) => {
  const deadline = Date.now() + timeoutMs;
  await page.goto(args.url, { waitUntil: "domcontentloaded", timeout: timeoutMs });
  let error = null;
  let r = null;
  for (;;) {
    r = await page.evaluate(inspect, args.stream);
    if (satisfied(r, args.expect, minHttpFlv, minSamples)) { break; }
    if (Date.now() > deadline) {
      error = `no row for ${args.stream}` + (args.expect ? ` containing "${args.expect}"` : "") +
        (minHttpFlv > 0 ? ` with >= ${minHttpFlv} HTTP-FLV viewers` : "") +
        (minSamples > 0 ? ` with >= ${minSamples} non-zero graph samples` : "") +
        ` within ${timeoutMs} ms`;
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await page.screenshot({ path: args.screenshot, fullPage: true });
  return {
    ok: !error,
    url: args.url,
    stream: args.stream,
    cells: r ? r.cells : null,
    httpFlv: r ? r.httpFlv : null,
    graph: r ? r.graph : null,
    screenshot: args.screenshot,
    error,
  };
});
