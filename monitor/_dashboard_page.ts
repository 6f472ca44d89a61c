/**
 * The dashboard the monitor serves at `/`: one HTML page with its script and style inline,
 * held here as a string so that it ships inside the package (nothing is read from disk at
 * run time) and loads nothing from the network. It asks `/api/series` (and `/varz`) once per
 * sample (a second by default) and draws five charts on canvases with a few lines of its own.
 *
 * @module
 */

/** The page. */
export const DASHBOARD_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Speedo monitor</title>
<style>
  :root { color-scheme: light dark; --fg: #1d2330; --muted: #6b7385; --bg: #f6f7f9; --card: #fff;
    --grid: #e3e6eb; --a: #2f6fde; --b: #e0712b; --c: #2a9d5b; }
  @media (prefers-color-scheme: dark) { :root { --fg: #e6e9ef; --muted: #9aa3b5; --bg: #14171d;
    --card: #1d2129; --grid: #2c313b; } }
  body { margin: 0; font: 14px/1.4 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
  header { padding: 12px 20px; display: flex; gap: 20px; align-items: baseline; flex-wrap: wrap; }
  h1 { font-size: 18px; margin: 0; }
  #summary, #status { color: var(--muted); }
  #status.error { color: #d33; }
  main { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 14px;
    padding: 0 20px 20px; }
  figure { margin: 0; background: var(--card); border-radius: 8px; padding: 10px 12px;
    box-shadow: 0 1px 2px rgb(0 0 0 / 0.08); }
  figcaption { display: flex; justify-content: space-between; gap: 8px; }
  figcaption b { font-weight: 600; }
  .value { font-variant-numeric: tabular-nums; color: var(--muted); }
  .legend span { margin-left: 10px; }
  .legend i { display: inline-block; width: 10px; height: 3px; vertical-align: middle;
    margin-right: 4px; }
  canvas { width: 100%; height: 160px; display: block; margin-top: 6px; }
</style>
</head>
<body>
<header>
  <h1>Speedo monitor</h1>
  <span id="summary"></span>
  <span id="status">connecting…</span>
</header>
<main>
  <figure id="messages" data-unit="/s"><figcaption><b>Messages/s</b><span class="value"></span></figcaption>
    <div class="legend"></div><canvas></canvas></figure>
  <figure id="connections" data-min="4"><figcaption><b>Connections</b><span class="value"></span></figcaption>
    <div class="legend"></div><canvas></canvas></figure>
  <figure id="queue" data-min="4"><figcaption><b>Queue depth</b><span class="value"></span></figcaption>
    <div class="legend"></div><canvas></canvas></figure>
  <figure id="bytes" data-unit="B/s"><figcaption><b>Bytes/s</b><span class="value"></span></figcaption>
    <div class="legend"></div><canvas></canvas></figure>
  <figure id="rss" data-unit="B"><figcaption><b>Resident memory</b><span class="value"></span></figcaption>
    <div class="legend"></div><canvas></canvas></figure>
</main>
<script>
"use strict";
const token = new URLSearchParams(location.search).get("token");
const headers = token ? { authorization: "Bearer " + token } : {};
const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

// Each chart: its figure, and its lines as [label, field of /api/series, colour variable].
const charts = [
  ["messages", [["handled", "messagesPerSecond", "--a"], ["pub/sub", "pubsubPerSecond", "--b"],
    ["MQTT", "mqttPerSecond", "--c"]]],
  ["connections", [["open", "connections", "--a"]]],
  ["queue", [["waiting", "queueDepth", "--a"]]],
  ["bytes", [["in", "bytesInPerSecond", "--a"], ["out", "bytesOutPerSecond", "--b"]]],
  ["rss", [["RSS", "rss", "--a"]]],
];

function human(value, unit) {
  const bytes = unit && unit.startsWith("B");
  const step = bytes ? 1024 : 1000;
  const prefixes = bytes ? ["", "Ki", "Mi", "Gi", "Ti"] : ["", "k", "M", "G", "T"];
  let i = 0;
  while (Math.abs(value) >= step && i < prefixes.length - 1) { value /= step; i++; }
  const digits = value >= 100 || i === 0 && Number.isInteger(value) ? 0 : 1;
  return value.toFixed(digits) + " " + prefixes[i] + (unit || "");
}

// The smallest of 1, 2, 2.5, 5 times a power of ten at or above the value: round tick labels.
function nice(value) {
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return value;
}

function draw(figure, lines, series) {
  const canvas = figure.querySelector("canvas");
  const ratio = devicePixelRatio || 1;
  const width = canvas.clientWidth, height = canvas.clientHeight;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const g = canvas.getContext("2d");
  g.scale(ratio, ratio);
  g.clearRect(0, 0, width, height);
  const unit = figure.dataset.unit || "";
  const shown = lines.filter(([, field], i) => i === 0 || series[field].some((v) => v > 0));
  let max = Number(figure.dataset.min || 1);
  for (const [, field] of shown) for (const v of series[field]) if (v > max) max = v;
  max = nice(max * 1.05);
  const left = 72, top = 6, plotW = width - left - 6, plotH = height - top - 18;
  g.font = "11px system-ui, sans-serif";
  g.fillStyle = css("--muted");
  g.strokeStyle = css("--grid");
  g.lineWidth = 1;
  for (let k = 0; k <= 4; k++) {
    const y = top + plotH - (plotH * k) / 4;
    g.beginPath(); g.moveTo(left, y + 0.5); g.lineTo(left + plotW, y + 0.5); g.stroke();
    g.textAlign = "right";
    g.fillText(human((max * k) / 4, unit), left - 6, y + 4);
  }
  const times = series.time;
  const span = Math.max(1, times.length > 1 ? times[times.length - 1] - times[0] : 1);
  g.textAlign = "left";
  g.fillText("-" + Math.round(span / 1000) + " s", left, height - 3);
  g.textAlign = "right";
  g.fillText("now", left + plotW, height - 3);
  const x = (t) => left + plotW - ((times[times.length - 1] - t) / span) * plotW;
  const y = (v) => top + plotH - (v / max) * plotH;
  shown.forEach(([, field, colour], index) => {
    const values = series[field];
    if (values.length === 0) return;
    g.strokeStyle = css(colour);
    g.lineWidth = 2;
    g.beginPath();
    values.forEach((v, i) => i === 0 ? g.moveTo(x(times[i]), y(v)) : g.lineTo(x(times[i]), y(v)));
    g.stroke();
    if (index === 0) {
      g.lineTo(x(times[times.length - 1]), top + plotH);
      g.lineTo(x(times[0]), top + plotH);
      g.closePath();
      g.globalAlpha = 0.12;
      g.fillStyle = css(colour);
      g.fill();
      g.globalAlpha = 1;
    }
  });
  figure.querySelector(".legend").innerHTML = shown.length < 2 ? "" : shown.map(([label, , c]) =>
    '<span><i style="background:' + css(c) + '"></i>' + label + "</span>").join("");
  const last = shown.map(([, field]) => series[field][series[field].length - 1] ?? 0);
  figure.querySelector(".value").textContent = last.map((v) => human(v, unit)).join(" / ");
  figure.dataset.samples = String(times.length);
  figure.dataset.last = last.join(",");
}

async function get(path) {
  const response = await fetch(path, { headers, cache: "no-store" });
  if (!response.ok) throw new Error(path + ": " + response.status + " " + (await response.text()));
  return response.json();
}

let polls = 0;
let every = 1000;
async function poll() {
  const status = document.getElementById("status");
  try {
    const [series, varz] = await Promise.all([get("api/series"), get("varz")]);
    every = Math.min(5000, Math.max(100, series.interval));
    for (const [id, lines] of charts) draw(document.getElementById(id), lines, series);
    document.getElementById("summary").textContent = varz.protocols.map((p) =>
      p.protocol + " " + p.address + ": " + p.connections + " conn"
    ).join(" · ") + " · up " + varz.uptimeSeconds + " s · pid " + varz.pid;
    status.textContent = "live, " + series.time.length + " samples";
    status.className = "";
    document.body.dataset.polls = String(++polls);
  } catch (error) {
    status.textContent = String(error.message || error);
    status.className = "error";
  }
  setTimeout(poll, every);
}
poll();
</script>
</body>
</html>
`;
