// Shared by play.js and status.js: start the system Chromium headless with a
// fresh profile, collect page errors, print one JSON result and exit 0/1.
"use strict";

const fs = require("fs");
const os = require("os");
const path = require("path");
const puppeteer = require("puppeteer-core");

const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--autoplay-policy=no-user-gesture-required",
];

/// Parses `--name value` options after the positional arguments.
function parseArgs(argv, positional, defaults) {
  const out = Object.assign({}, defaults);
  const rest = argv.slice(2);
  const names = [];
  for (let i = 0; i < rest.length; i++) {
    if (rest[i].startsWith("--")) {
      out[rest[i].slice(2)] = rest[i + 1];
      i++;
    } else {
      names.push(rest[i]);
    }
  }
  if (names.length < positional.length) {
    const usage = positional.map((p) => p.toUpperCase()).join(" ");
    console.error(`usage: node ${path.basename(argv[1])} ${usage} [--option value]...`);
    process.exit(2);
  }
  positional.forEach((p, i) => { out[p] = names[i]; });
  return out;
}

/// Runs `body(page, log)` in a fresh headless Chromium; `body` returns the
/// result object (with `ok`). Prints it as JSON and exits 0 when ok.
async function run(timeoutMs, body) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "rtmp-edge-chromium-"));
  const log = [];
  let browser;
  let result;
  const timer = setTimeout(() => {
    console.log(JSON.stringify({ ok: false, error: "overall timeout", log }));
    process.exit(1);
  }, timeoutMs + 15000);
  try {
    browser = await puppeteer.launch({
      executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
      headless: false, // --headless is in FLAGS, as given
      args: FLAGS.concat([`--user-data-dir=${profile}`]),
    });
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 720 });
    page.on("console", (m) => log.push(`console.${m.type()}: ${m.text()}`));
    page.on("pageerror", (e) => log.push(`pageerror: ${e.message}`));
    page.on("requestfailed", (r) =>
      log.push(`requestfailed: ${r.url()} ${r.failure() ? r.failure().errorText : ""}`));
    result = await body(page, log);
  } catch (e) {
    result = { ok: false, error: String(e && e.message ? e.message : e) };
  }
  result.log = log.slice(-30);
  if (browser) { await browser.close().catch(() => {}); }
  fs.rmSync(profile, { recursive: true, force: true });
  clearTimeout(timer);
  console.log(JSON.stringify(result));
  process.exit(result.ok ? 0 : 1);
}

module.exports = { FLAGS, parseArgs, run };
