//! The HTML report: one self-contained file (inline CSS, JS and SVG, the data embedded as
//! JSON; no network, works from `file://` and as a CI artifact). A pure function of
//! [`HtmlData`]: the run's report plus what people look for around it (graduation progress,
//! each gate's needs for the DAG, log tails of failures, metric series for sparklines).
//!
//! The page checks itself: once rendered it records on `<html data-rendered=...>` how many
//! gate rows, sparklines and DAG nodes it drew, the errors it saw (`window.onerror`,
//! `console.error`) and how many network resources it loaded (`performance`), so a headless
//! browser test reads the verdict from the DOM.

use std::collections::BTreeMap;
use std::io;

use serde::Serialize;

use super::Report;

/// Everything the page shows.
#[derive(Debug, Clone, Serialize)]
pub struct HtmlData<'a> {
    /// The run.
    pub report: &'a Report,
    /// Gate -> the gates it needs (the DAG's edges).
    pub needs: BTreeMap<String, Vec<String>>,
    /// Gate -> "5/7 green days" for observational gates (graduation progress).
    pub graduation: BTreeMap<String, String>,
    /// Gate -> the last lines of its log (failures only).
    pub logs: BTreeMap<String, String>,
    /// Gate -> metric -> its values over recent runs, oldest first (sparklines).
    pub series: BTreeMap<String, BTreeMap<String, Vec<f64>>>,
    /// What the replays saved: the durations of their gates' latest executed runs.
    pub time_saved: TimeSaved,
}

/// The time the cache saved this run: for each replayed gate, how long its latest executed run
/// took (from the history); gates replayed with no recorded run are counted apart.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct TimeSaved {
    /// The sum, in milliseconds.
    pub ms: u64,
    /// Replayed gates whose latest executed run is recorded (the sum covers these).
    pub known: usize,
    /// All replayed gates.
    pub replayed: usize,
}

/// The page. `<` in the data is escaped so the JSON cannot close its script element.
#[must_use]
pub fn render(data: &HtmlData<'_>) -> String {
    let mut out = Vec::new();
    if write(data, &mut out).is_err() {
        out.clear();
        let _ = write_page(&mut out, |w| io::Write::write_all(w, b"{}"));
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// [`render`] streamed to `out`: the data is serialised straight into it, not built as a
/// string and copied twice more (escaped, then placed in the page: 80 MiB more at 100,000
/// gates).
pub fn write(data: &HtmlData<'_>, out: &mut impl io::Write) -> io::Result<()> {
    write_page(out, |w| {
        serde_json::to_writer(EscapeLt(w), data).map_err(io::Error::other)
    })
}

/// The template with `data` written where its placeholder is.
fn write_page<W: io::Write>(
    out: &mut W,
    data: impl FnOnce(&mut W) -> io::Result<()>,
) -> io::Result<()> {
    let (before, after) = TEMPLATE.split_once(PLACEHOLDER).unwrap_or((TEMPLATE, ""));
    out.write_all(before.as_bytes())?;
    data(out)?;
    out.write_all(after.as_bytes())
}

/// Where the template takes the data.
const PLACEHOLDER: &str = "/*DATA*/{}";

/// Writes through with every `<` as `\u003c` (the same character to a JSON reader), so no
/// string in the data can close the script element it sits in.
struct EscapeLt<W>(W);

impl<W: io::Write> io::Write for EscapeLt<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut rest = buf;
        while let Some(i) = rest.iter().position(|&b| b == b'<') {
            self.0.write_all(&rest[..i])?;
            self.0.write_all(b"\\u003c")?;
            rest = &rest[i + 1..];
        }
        self.0.write_all(rest)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

const TEMPLATE: &str = r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>runner report</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5rem; color: #1b1f24; background: #fff; }
h1 { font-size: 1.3rem; margin: 0 0 .3rem; } h2 { font-size: 1.05rem; margin: 1.6rem 0 .5rem; }
.meta { color: #57606a; } .bad { color: #cf222e; } .warn { color: #9a6700; } .good { color: #1a7f37; }
.cards { display: flex; gap: .8rem; flex-wrap: wrap; margin: .8rem 0; }
.card { border: 1px solid #d0d7de; border-radius: 6px; padding: .4rem .8rem; min-width: 7rem; }
.card b { display: block; font-size: 1.2rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #eaeef2; vertical-align: top; }
th { font-weight: 600; color: #57606a; }
tr.fail td:first-child, tr.error td:first-child, tr.not_run td:first-child { border-left: 3px solid #cf222e; }
tr.observed td:first-child { border-left: 3px solid #d4a72c; }
.status { font-weight: 600; text-transform: uppercase; font-size: .8rem; }
pre { background: #f6f8fa; padding: .5rem; overflow-x: auto; font-size: 12px; margin: .3rem 0; }
.metric { white-space: nowrap; } svg { vertical-align: middle; }
.lane { fill: #f6f8fa; } .bar { fill: #0969da; } .bar.cached { fill: #8c959f; } .bar.failed { fill: #cf222e; }
.crit { stroke: #bf3989; stroke-width: 2; }
.node rect { fill: #ddf4ff; stroke: #54aeff; } .node.fail rect, .node.error rect { fill: #ffebe9; stroke: #cf222e; }
.node.skip rect, .node.not_run rect { fill: #f6f8fa; stroke: #8c959f; stroke-dasharray: 3 2; }
.node.observed rect { fill: #fff8c5; stroke: #d4a72c; }
.edge { stroke: #8c959f; fill: none; }
details summary { cursor: pointer; }
</style>
</head>
<body>
<h1 id="title">runner report</h1>
<div class="meta" id="meta"></div>
<div class="cards" id="cards"></div>
<h2>Gates</h2>
<table id="gates"><thead><tr><th>Gate</th><th>Status</th><th>Mode</th><th>Cached</th><th>Time</th><th>Metrics</th></tr></thead><tbody></tbody></table>
<h2>Timeline</h2>
<div id="timeline"></div>
<h2>Dependencies</h2>
<div id="dag"></div>
<script type="application/json" id="data">/*DATA*/{}</script>
<script>
"use strict";
var seen = { errors: 0, sparklines: 0, rows: 0, nodes: 0 };
window.addEventListener("error", function () { seen.errors++; });
var consoleError = console.error;
console.error = function () { seen.errors++; consoleError.apply(console, arguments); };
var NS = "http://www.w3.org/2000/svg";
function el(tag, attrs, text) {
  var e = tag.indexOf("svg:") === 0 ? document.createElementNS(NS, tag.slice(4)) : document.createElement(tag);
  for (var k in attrs || {}) { e.setAttribute(k, attrs[k]); }
  if (text !== undefined) { e.textContent = text; }
  return e;
}
function num(v) {
  if (v === null || v === undefined) { return "—"; }
  if (Math.abs(v) >= 100 || Number.isInteger(v)) { return String(Math.round(v * 10) / 10); }
  return String(Number(v.toPrecision(3)));
}
function ms(v) { return v < 1000 ? v + " ms" : (v / 1000).toFixed(1) + " s"; }
function failed(g) { return g.status === "fail" || g.status === "error" || g.status === "not_run"; }
function sparkline(values) {
  var w = 80, h = 18, svg = el("svg:svg", { width: w, height: h, "class": "spark", role: "img" });
  if (!values || values.length < 2) { return svg; }
  var lo = Math.min.apply(null, values), hi = Math.max.apply(null, values), span = hi - lo || 1;
  var pts = values.map(function (v, i) {
    return (i * (w - 2) / (values.length - 1) + 1).toFixed(1) + "," + (h - 2 - (v - lo) * (h - 4) / span).toFixed(1);
  });
  svg.appendChild(el("svg:polyline", { points: pts.join(" "), fill: "none", stroke: "#0969da", "stroke-width": "1.5" }));
  seen.sparklines++;
  return svg;
}
try {
  var data = JSON.parse(document.getElementById("data").textContent);
  var r = data.report, gates = r.gates || [];
  document.getElementById("title").textContent = "runner: " + (r.outcome || "") + " (exit " + r.exit_code + ")";
  document.getElementById("meta").textContent = "started " + r.started_at + " · " + ms(r.duration_ms) + " · " + gates.length + " gates";
  var blocking = gates.filter(function (g) { return failed(g) && g.mode === "blocking"; }).length;
  var observed = gates.filter(function (g) { return failed(g) && g.mode !== "blocking"; }).length;
  var cached = gates.filter(function (g) { return g.cached; }).length;
  var saved = data.time_saved || { ms: 0, known: 0, replayed: 0 };
  var cards = [
    ["exit code", r.exit_code, r.exit_code === 0 ? "good" : (r.exit_code === 78 ? "warn" : "bad")],
    ["pass", r.summary.pass, "good"], ["blocking failures", blocking, blocking ? "bad" : ""],
    ["observed failures", observed, observed ? "warn" : ""], ["skipped", r.summary.skip, ""],
    ["cache hits", cached + "/" + gates.length + (gates.length ? " (" + Math.round(100 * cached / gates.length) + "%)" : ""), ""],
    ["time saved", saved.known ? "\u2248 " + ms(saved.ms) + (saved.known < saved.replayed ? " (" + saved.known + " of " + saved.replayed + " replays timed)" : "") : (saved.replayed ? "unknown (no timed run)" : "none"), saved.known ? "good" : ""]
  ];
  cards.forEach(function (c) {
    var d = el("div", { "class": "card " + c[2] }); d.appendChild(el("span", {}, c[0])); d.appendChild(el("b", {}, String(c[1])));
    document.getElementById("cards").appendChild(d);
  });
  // Failures first (blocking, then observed), then the rest in run order.
  var order = gates.map(function (g, i) { return [failed(g) ? (g.mode === "blocking" ? 0 : 1) : 2, i, g]; });
  order.sort(function (a, b) { return a[0] - b[0] || a[1] - b[1]; });
  var tbody = document.querySelector("#gates tbody");
  order.forEach(function (o) {
    var g = o[2], tr = el("tr", { "class": g.status + (failed(g) && g.mode !== "blocking" ? " observed" : "") });
    var name = el("td"); name.appendChild(el("b", {}, g.name));
    if (g.description) { name.appendChild(el("div", { "class": "meta" }, g.description)); }
    tr.appendChild(name);
    tr.appendChild(el("td", { "class": "status " + (failed(g) ? (g.mode === "blocking" ? "bad" : "warn") : "good") },
      (failed(g) && g.mode !== "blocking" ? "warn (" + g.status + ")" : g.status) + (g.flaky ? " (flaky, " + g.attempts + " attempts)" : "")));
    var mode = g.mode + (g.configured_mode !== g.mode ? " (graduated)" : "");
    if (data.graduation[g.name]) { mode += " · " + data.graduation[g.name]; }
    tr.appendChild(el("td", {}, mode));
    tr.appendChild(el("td", {}, g.cached ? "yes" : "no"));
    tr.appendChild(el("td", {}, ms(g.duration_ms)));
    var m = el("td");
    (g.thresholds || []).forEach(function (t) {
      var b = t.baseline, text = t.metric + " " + num(t.value) + " " + t.op + " " + num(t.limit) + " ";
      if (b) {
        text += "(" + b.expr + (b.value !== null ? "; baseline " + num(b.value) + ", " + b.statistic + " of " + b.samples + " on " + b.branch : "") +
          (b.change_pct !== null ? "; " + (b.change_pct >= 0 ? "+" : "") + b.change_pct.toFixed(1) + "%" : "") + (b.note ? "; " + b.note : "") + ") ";
      }
      var d = el("div", { "class": "metric " + (t.pass ? (b && !b.holds ? "warn" : "") : "bad") }, text);
      var s = (data.series[g.name] || {})[t.metric];
      if (s && s.length > 1) {
        var prev = s[s.length - 2];
        if (prev && !b) { d.appendChild(el("span", { "class": "meta" }, ((t.value - prev) / Math.abs(prev) * 100 >= 0 ? "+" : "") + ((t.value - prev) / Math.abs(prev) * 100).toFixed(1) + "% ")); }
        d.appendChild(sparkline(s));
      }
      m.appendChild(d);
    });
    tr.appendChild(m);
    tbody.appendChild(tr);
    seen.rows++;
    if (g.reason || data.logs[g.name] || g.why) {
      var dr = el("tr", { "class": "details" }), td = el("td", { colspan: "6" });
      var det = el("details"); if (failed(g)) { det.setAttribute("open", ""); }
      det.appendChild(el("summary", {}, g.reason || (g.why ? "why it ran" : "log")));
      if (g.guard) { det.appendChild(el("div", { "class": "warn" }, "no-op guard: " + g.guard)); }
      if (g.why) { det.appendChild(el("div", { "class": "meta" }, "why it ran: " + g.why)); }
      (g.findings || []).forEach(function (f) { det.appendChild(el("div", {}, f.file + (f.line ? ":" + f.line : "") + ": " + f.message)); });
      if (data.logs[g.name]) { det.appendChild(el("pre", {}, data.logs[g.name])); }
      td.appendChild(det); dr.appendChild(td); tbody.appendChild(dr);
    }
  });
  // Timeline: where each gate ran (its worker or the scheduler) when the run recorded it
  // (`ran`, runs that write this page); else placed after its needs by durations, on lanes.
  var byName = {}; gates.forEach(function (g) { byName[g.name] = g; });
  var start = {}, done = {};
  function end(name) {
    if (done[name] !== undefined) { return done[name]; }
    var s = 0; (data.needs[name] || []).forEach(function (n) { if (byName[n]) { s = Math.max(s, end(n)); } });
    start[name] = s; done[name] = s + (byName[name].duration_ms || 0); return done[name];
  }
  gates.forEach(function (g) { end(g.name); });
  var measured = gates.length > 0 && gates.every(function (g) { return g.ran; });
  if (measured) {
    gates.forEach(function (g) { start[g.name] = g.ran.start_ms; done[g.name] = Math.max(g.ran.end_ms, g.ran.start_ms); });
  }
  var total = Math.max.apply(null, [1].concat(gates.map(function (g) { return done[g.name]; })));
  // The critical path: back from the latest end, through the need that ends latest.
  var crit = {}, last = gates.slice().sort(function (a, b) { return done[b.name] - done[a.name]; })[0];
  while (last) {
    crit[last.name] = true;
    var prev = null; (data.needs[last.name] || []).forEach(function (n) { if (byName[n] && (!prev || done[n] > done[prev.name])) { prev = byName[n]; } });
    last = prev;
  }
  var lanes = [], rowH = 16, width = 900;
  var sorted = gates.slice().sort(function (a, b) { return start[a.name] - start[b.name]; });
  if (measured) {
    // Workers in order, then the scheduler.
    var names = []; gates.forEach(function (g) { if (names.indexOf(g.ran.lane) < 0) { names.push(g.ran.lane); } });
    names.sort(function (a, b) { return (a === "scheduler") - (b === "scheduler") || a.localeCompare(b, undefined, { numeric: true }); });
    lanes = names.map(function () { return 0; });
    sorted.forEach(function (g) { g._lane = names.indexOf(g.ran.lane); });
  } else {
    sorted.forEach(function (g) {
      var lane = lanes.findIndex(function (t) { return t <= start[g.name]; });
      if (lane < 0) { lane = lanes.length; lanes.push(0); }
      lanes[lane] = done[g.name]; g._lane = lane;
    });
  }
  var tl = el("svg:svg", { width: width, height: Math.max(1, lanes.length) * rowH + 4, role: "img" });
  lanes.forEach(function (_, i) { tl.appendChild(el("svg:rect", { "class": "lane", x: 0, y: i * rowH, width: width, height: rowH - 2 })); });
  sorted.forEach(function (g) {
    var x = start[g.name] / total * width, w = Math.max(2, (done[g.name] - start[g.name]) / total * width);
    var bar = el("svg:rect", { "class": "bar" + (g.cached ? " cached" : "") + (failed(g) ? " failed" : "") + (crit[g.name] ? " crit" : ""), x: x.toFixed(1), y: g._lane * rowH + 1, width: w.toFixed(1), height: rowH - 4 });
    bar.appendChild(el("svg:title", {}, g.name + " " + ms(g.duration_ms) + (measured ? " on " + g.ran.lane : "") + (crit[g.name] ? " (critical path)" : "")));
    tl.appendChild(bar);
  });
  document.getElementById("timeline").appendChild(tl);
  var path = Object.keys(crit).sort(function (a, b) { return start[a] - start[b]; });
  document.getElementById("timeline").appendChild(el("div", { "class": "meta" }, "critical path " + ms(total) + ": " + path.join(" → ")));
  // DAG: columns by depth (longest chain of needs), rows in run order.
  var depth = {};
  function d(name) {
    if (depth[name] !== undefined) { return depth[name]; }
    depth[name] = 0; var k = 0; (data.needs[name] || []).forEach(function (n) { if (byName[n]) { k = Math.max(k, d(n) + 1); } });
    depth[name] = k; return k;
  }
  gates.forEach(function (g) { d(g.name); });
  var cols = {}, pos = {}, nodeW = 150, nodeH = 24, gapX = 40, gapY = 8;
  gates.forEach(function (g) { var c = depth[g.name]; cols[c] = (cols[c] || 0) + 1; pos[g.name] = [c, cols[c] - 1]; });
  var maxRows = Math.max.apply(null, [1].concat(Object.keys(cols).map(function (c) { return cols[c]; })));
  var nCols = Object.keys(cols).length || 1;
  var dag = el("svg:svg", { width: nCols * (nodeW + gapX), height: maxRows * (nodeH + gapY) + 4, role: "img" });
  gates.forEach(function (g) {
    (data.needs[g.name] || []).forEach(function (n) {
      if (!pos[n]) { return; }
      var x1 = pos[n][0] * (nodeW + gapX) + nodeW, y1 = pos[n][1] * (nodeH + gapY) + nodeH / 2;
      var x2 = pos[g.name][0] * (nodeW + gapX), y2 = pos[g.name][1] * (nodeH + gapY) + nodeH / 2;
      dag.appendChild(el("svg:path", { "class": "edge", d: "M" + x1 + "," + y1 + " C" + (x1 + gapX / 2) + "," + y1 + " " + (x2 - gapX / 2) + "," + y2 + " " + x2 + "," + y2 }));
    });
  });
  gates.forEach(function (g) {
    var grp = el("svg:g", { "class": "node " + g.status + (failed(g) && g.mode !== "blocking" ? " observed" : ""), transform: "translate(" + pos[g.name][0] * (nodeW + gapX) + "," + pos[g.name][1] * (nodeH + gapY) + ")" });
    grp.appendChild(el("svg:rect", { width: nodeW, height: nodeH, rx: 4 }));
    grp.appendChild(el("svg:text", { x: 6, y: 16, "font-size": 12 }, g.name.length > 20 ? g.name.slice(0, 19) + "…" : g.name));
    grp.appendChild(el("svg:title", {}, g.name + ": " + g.status));
    dag.appendChild(grp);
    seen.nodes++;
  });
  document.getElementById("dag").appendChild(dag);
} catch (e) {
  seen.errors++;
  document.body.appendChild(el("pre", { "class": "bad" }, "the report could not be drawn: " + e));
}
function selfCheck() {
  document.documentElement.setAttribute("data-rendered", JSON.stringify({
    rows: seen.rows, sparklines: seen.sparklines, nodes: seen.nodes, errors: seen.errors,
    timeline: { measured: typeof measured !== "undefined" && measured, lanes: typeof lanes !== "undefined" ? lanes.length : 0 },
    resources: (performance.getEntriesByType ? performance.getEntriesByType("resource").length : 0)
  }));
}
selfCheck();
// Again once everything loaded: a resource counts when its load completes.
window.addEventListener("load", selfCheck);
</script>
</body>
</html>
"##;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{GateReport, Summary};
    use crate::vocab::exit_code::Outcome;
    use crate::vocab::{Mode, Status};

    #[test]
    fn every_lt_is_escaped_however_the_writes_are_cut() {
        let mut out = Vec::new();
        let mut w = EscapeLt(&mut out);
        for piece in ["<", "/scr", "ipt><", "", "x"] {
            io::Write::write_all(&mut w, piece.as_bytes()).expect("write");
        }
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            r"\u003c/script>\u003cx"
        );
    }

    #[test]
    fn the_data_is_embedded_and_cannot_close_its_script() {
        let gate = |name: &str| GateReport {
            attempts: 1,
            flaky: false,
            why: None,
            ran: None,
            name: name.to_owned(),
            kind: "command".to_owned(),
            status: Status::Pass,
            mode: Mode::Blocking,
            configured_mode: Mode::Blocking,
            cached: false,
            description: Some("</script><script>alert(1)</script>".to_owned()),
            duration_ms: 1,
            key: None,
            reason: None,
            artifacts: Vec::new(),
            thresholds: Vec::new(),
            exports: Vec::new(),
            guard: None,
            undeclared_reads: Vec::new(),
            findings: Vec::new(),
            tests: Vec::new(),
        };
        let report = Report {
            version: 1,
            outcome: Outcome::Pass,
            exit_code: 0,
            started_at: "2026-11-29T00:00:00Z".to_owned(),
            duration_ms: 1,
            summary: Summary::default(),
            labels: Vec::new(),
            gates: vec![gate("a")],
        };
        let html = render(&HtmlData {
            report: &report,
            needs: BTreeMap::new(),
            graduation: BTreeMap::new(),
            logs: BTreeMap::new(),
            series: BTreeMap::new(),
            time_saved: TimeSaved::default(),
        });
        assert!(html.contains(r#""name":"a""#));
        assert!(!html.contains("</script><script>alert"));
        assert_eq!(
            html.matches("</script>").count(),
            2,
            "only the page's own scripts close"
        );
        assert!(
            !html.contains("http://") || !html.contains("src=\"http"),
            "nothing loaded"
        );
    }
}
