// Loads the status page in headless Chromium, waits until it lists the
// stream APP/NAME (a row tr[data-stream="APP/NAME"]), optionally until that
// row contains --expect TEXT (e.g. "H.264" or "640×360"), and writes a
// screenshot of the page to SCREENSHOT.
//
//   node status.js URL APP/NAME SCREENSHOT [--expect TEXT] [--timeout 20000]
//
// Prints one JSON line {ok, cells, screenshot, error, log}; exits 0 when ok.
"use strict";

const { parseArgs, run } = require("./chromium");

const args = parseArgs(process.argv, ["url", "stream", "screenshot"], {
  timeout: "20000",
  expect: "",
});
const timeoutMs = Number(args.timeout);

run(timeoutMs, async (page) => {
  await page.goto(args.url, { waitUntil: "domcontentloaded", timeout: timeoutMs });
  let error = null;
  let cells = null;
  try {
    await page.waitForFunction(
      (stream, expect) => {
        const row = Array.from(document.querySelectorAll("tr[data-stream]"))
          .find((r) => r.getAttribute("data-stream") === stream);
        return row && row.textContent.includes(expect);
      },
      { timeout: timeoutMs, polling: 200 },
      args.stream,
      args.expect,
    );
  } catch (e) {
    error = `no row for ${args.stream}` + (args.expect ? ` containing "${args.expect}"` : "") +
      `: ${e.message}`;
  }
  cells = await page.evaluate((stream) => {
    const row = Array.from(document.querySelectorAll("tr[data-stream]"))
      .find((r) => r.getAttribute("data-stream") === stream);
    return row ? Array.from(row.cells).map((c) => c.textContent) : null;
  }, args.stream);
  await page.screenshot({ path: args.screenshot, fullPage: true });
  return { ok: !error, url: args.url, stream: args.stream, cells, screenshot: args.screenshot, error };
});
