// Plays a page's <video> in headless Chromium and reports whether it really
// plays: currentTime passes --min-time (default 3 s) with videoWidth equal to
// --width (default 640), without an error event, a player error shown on the
// page (body[data-error]) or a timeout (--timeout ms, default 30000).
//
// With --hold MS it then keeps playing until its stdin ends or MS pass
// (so a caller can look at the server while a viewer is on), still failing
// on an error; heldMs and goalTime (currentTime when the goal was reached)
// are reported, and currentTime is the one at the end.
//
//   node play.js URL [--width 640] [--min-time 3] [--timeout 30000] [--hold 0] [--screenshot PATH]
//
// Prints one JSON line {ok, currentTime, videoWidth, videoHeight, error, log}
// and exits 0 when ok, 1 otherwise.
"use strict";

const { parseArgs, run } = require("./chromium");

const args = parseArgs(process.argv, ["url"], {
  width: "640",
  "min-time": "3",
  timeout: "30000",
  hold: "0",
});
const wantWidth = Number(args.width);
const minTime = Number(args["min-time"]);
const timeoutMs = Number(args.timeout);
const holdMs = Number(args.hold);

// Resolves when stdin ends (the caller is done) or after `ms`.
function stdinEndOr(ms) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    process.stdin.on("end", () => { clearTimeout(timer); resolve(); });
    process.stdin.on("error", () => { clearTimeout(timer); resolve(); });
    process.stdin.resume();
  });
}

function probe() {
  const v = document.querySelector("video");
  if (!v) { return { found: false }; }
  if (!v.__rtmpEdgeWatched) {
    v.__rtmpEdgeWatched = true;
    v.addEventListener("error", () => {
      v.__rtmpEdgeError = "video error event, code " + (v.error ? v.error.code : "?");
    });
  }
  return {
    found: true,
    currentTime: v.currentTime,
    videoWidth: v.videoWidth,
    videoHeight: v.videoHeight,
    readyState: v.readyState,
    paused: v.paused,
    muted: v.muted,
    error: v.__rtmpEdgeError || (v.error ? "video.error code " + v.error.code : null) ||
      (document.body && document.body.getAttribute("data-error")),
  };
}

run(timeoutMs + holdMs, async (page) => {
  const started = Date.now();
  await page.goto(args.url, { waitUntil: "domcontentloaded", timeout: timeoutMs });
  let last = { found: false };
  while (Date.now() - started < timeoutMs) {
    last = await page.evaluate(probe);
    if (last.error) { break; }
    if (last.found && last.currentTime > minTime && last.videoWidth === wantWidth) { break; }
    await new Promise((r) => setTimeout(r, 250));
  }
  const reached = !last.error && last.found && last.currentTime > minTime &&
    last.videoWidth === wantWidth;
  const extra = {};
  if (reached && holdMs > 0) {
    extra.goalTime = last.currentTime;
    const holdStart = Date.now();
    let done = false;
    stdinEndOr(holdMs).then(() => { done = true; });
    while (!done && !last.error) {
      await new Promise((r) => setTimeout(r, 250));
      last = await page.evaluate(probe);
    }
    extra.heldMs = Date.now() - holdStart;
  }
  if (args.screenshot) { await page.screenshot({ path: args.screenshot }); }
  const ok = !last.error && last.found && last.currentTime > minTime &&
    last.videoWidth === wantWidth;
  let error = last.error || null;
  if (!ok && !error) {
    error = last.found
      ? `timeout: currentTime ${last.currentTime}, videoWidth ${last.videoWidth} (want > ${minTime}, ${wantWidth})`
      : "timeout: no <video> element";
  }
  return Object.assign({ ok, url: args.url, elapsedMs: Date.now() - started }, extra, last,
    { error });
});
