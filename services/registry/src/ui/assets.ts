// The /ui page's three files, kept as strings so the built service serves them with nothing to copy
// or build. The script is plain browser JavaScript (no template literals, so it can live in a
// String.raw template); it builds the DOM with textContent only, never innerHTML, so nothing the API
// returns is ever interpreted as markup.

/** The page: a header with the sections, and the element the script renders into. */
export const PAGE_HTML = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Retrain</title>
<link rel="stylesheet" href="/ui/app.css">
</head>
<body>
<header>
  <h1>Retrain</h1>
  <nav>
    <a href="#/runs" data-section="runs">Runs</a>
    <a href="#/endpoints" data-section="endpoints">Endpoints</a>
    <a href="#/deadletters" data-section="deadletters">Dead letters</a>
  </nav>
  <button id="forget" type="button" hidden>Forget key</button>
</header>
<main id="main"><p class="muted">Loading…</p></main>
<script src="/ui/app.js"></script>
</body>
</html>
`;

/** The stylesheet. */
export const APP_CSS = String.raw`
:root { --fg: #1d2330; --muted: #667085; --line: #e4e7ec; --bg: #f7f8fa; --ok: #2e9e5b; --error: #d0393e; --wait: #d99a1c; --accent: #3558d4; --span: #7c8db5; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: center; gap: 24px; padding: 10px 24px; background: #fff; border-bottom: 1px solid var(--line); }
header h1 { font-size: 18px; margin: 0; }
nav { display: flex; gap: 16px; flex: 1; }
nav a { color: var(--muted); text-decoration: none; padding: 4px 0; border-bottom: 2px solid transparent; }
nav a.active { color: var(--fg); border-bottom-color: var(--accent); }
main { padding: 20px 24px; max-width: 1200px; }
h2 { font-size: 16px; margin: 0 0 12px; }
h3 { font-size: 14px; margin: 20px 0 8px; }
.muted { color: var(--muted); }
.card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 16px; margin-bottom: 16px; overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); white-space: nowrap; }
td.wrap { white-space: normal; }
th { font-weight: 600; color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }
tr.link { cursor: pointer; }
tr.link:hover td { background: #f0f3ff; }
a { color: var(--accent); }
.filters { display: flex; gap: 12px; align-items: center; margin-bottom: 12px; }
select, input, button { font: inherit; padding: 5px 8px; border: 1px solid var(--line); border-radius: 4px; background: #fff; }
button { cursor: pointer; }
button.primary { background: var(--accent); color: #fff; border-color: var(--accent); }
.pill { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; background: #eef0f4; }
.pill.ok { background: #e3f4ea; color: #1d6f3f; }
.pill.error { background: #fbe5e6; color: #9b1c20; }
.pill.waiting { background: #fbf0d9; color: #7a5206; }
.summary { display: flex; gap: 28px; flex-wrap: wrap; margin-bottom: 8px; }
.summary div span { display: block; font-size: 12px; color: var(--muted); }
svg.waterfall, svg.metric-chart { max-width: 100%; height: auto; }
svg text { font: 12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; fill: var(--fg); }
svg .axis { stroke: var(--line); }
svg .tick { fill: var(--muted); font-size: 11px; }
svg .bar.ok { fill: var(--ok); }
svg .bar.error { fill: var(--error); }
svg .bar.waiting { fill: var(--wait); }
svg .bar.span { fill: var(--span); }
svg .bar.span.error { fill: var(--error); }
svg .group { font-weight: 600; fill: var(--muted); }
svg .line { fill: none; stroke: var(--accent); stroke-width: 2; }
svg .dot { fill: var(--accent); }
.keyform { max-width: 420px; }
.keyform input { width: 100%; margin: 8px 0; }
.error-text { color: var(--error); }
`;

/** The script: a hash router over four views, each rendered from the registry's /v1 API. */
export const APP_JS = String.raw`(function () {
  "use strict";
  var KEY = "retrain.key";
  var SVG = "http://www.w3.org/2000/svg";
  var main = document.getElementById("main");
  var forget = document.getElementById("forget");

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }
  function svg(tag, attrs, children) {
    var node = document.createElementNS(SVG, tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }
  function setAttrs(node, attrs) {
    if (!attrs) return;
    Object.keys(attrs).forEach(function (name) {
      var value = attrs[name];
      if (value === undefined || value === null || value === false) return;
      if (name === "onclick" || name === "onchange" || name === "onsubmit") node[name] = value;
      else node.setAttribute(name, String(value));
    });
  }
  function append(node, children) {
    if (children === undefined || children === null) return;
    (Array.isArray(children) ? children : [children]).forEach(function (child) {
      if (child === undefined || child === null || child === false) return;
      node.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
    });
  }
  function show(children) {
    main.textContent = "";
    append(main, children);
  }

  function key() { return sessionStorage.getItem(KEY); }
  function NeedKey() {}

  // Every call carries the key as a Bearer header; keys never go into URLs.
  async function api(path) {
    var response = await fetch(path, { headers: { authorization: "Bearer " + key(), accept: "application/json" } });
    if (response.status === 401) {
      sessionStorage.removeItem(KEY);
      showKeyForm("That key was not accepted.");
      throw new NeedKey();
    }
    var text = await response.text();
    var body = null;
    try { body = text ? JSON.parse(text) : null; } catch (e) { body = text; }
    return { status: response.status, body: body };
  }
  async function apiOk(path) {
    var answer = await api(path);
    if (answer.status >= 400) {
      var message = answer.body && answer.body.error ? answer.body.error.message : "HTTP " + answer.status;
      throw new Error(path.split("?")[0] + ": " + message);
    }
    return answer.body;
  }

  function showKeyForm(problem) {
    forget.hidden = true;
    var input = el("input", { type: "password", id: "key", autocomplete: "off", placeholder: "API key" });
    var form = el("form", { class: "card keyform", onsubmit: function (event) {
      event.preventDefault();
      if (!input.value) return;
      sessionStorage.setItem(KEY, input.value);
      route();
    } }, [
      el("h2", null, "API key"),
      el("p", { class: "muted" }, "The page asks the registry with your key. It is kept in this tab only (session storage) and sent as a Bearer header."),
      problem ? el("p", { class: "error-text" }, problem) : null,
      input,
      el("button", { class: "primary", type: "submit" }, "Use key"),
    ]);
    show(form);
    input.focus();
  }

  function formatDuration(ms) {
    if (ms === null || ms === undefined || isNaN(ms)) return "-";
    if (ms < 1000) return Math.round(ms) + " ms";
    if (ms < 60000) return (ms / 1000).toFixed(1) + " s";
    return Math.floor(ms / 60000) + " m " + Math.round((ms % 60000) / 1000) + " s";
  }
  function formatTime(iso) {
    if (!iso) return "-";
    var t = Date.parse(iso);
    return isNaN(t) ? iso : new Date(t).toISOString().slice(0, 19).replace("T", " ");
  }
  function outcomeClass(outcome) {
    if (outcome === "promoted" || outcome === "approved") return "ok";
    if (outcome === "running" || outcome === "awaiting-approval") return "waiting";
    return "error";
  }

  // Which service produced each stage of a run's timeline, and how it ended.
  function serviceOf(stage) {
    switch (stage.stage) {
      case "received": return "ingestion";
      case "trained": case "failed": return "trainer";
      case "approved": case "rejected": case "awaiting": return "evaluator";
      case "updated": case "promotion-failed":
        return stage.target && stage.target.indexOf("new:") === 0 ? "new-promoter" : "classic-promoter";
      default: return "registry";
    }
  }
  function stageOutcome(stage) {
    switch (stage.stage) {
      case "received": case "trained": case "approved": case "updated": return "ok";
      case "awaiting": return "waiting";
      default: return "error";
    }
  }
  // The entry a stage began at: training from receipt, evaluation from training, promotion from approval.
  function beginOf(stages, index) {
    var stage = stages[index];
    function lastBefore(names) {
      for (var i = index - 1; i >= 0; i--) if (names.indexOf(stages[i].stage) >= 0) return stages[i];
      return undefined;
    }
    switch (stage.stage) {
      case "received": return stage;
      case "trained": case "failed": return lastBefore(["received"]) || stage;
      case "awaiting": return lastBefore(["trained"]) || stage;
      case "approved": case "rejected": return lastBefore(["awaiting", "trained"]) || stage;
      case "updated": case "promotion-failed": return lastBefore(["approved"]) || stage;
      default: return index > 0 ? stages[index - 1] : stage;
    }
  }
  function stageLabel(stage) {
    return stage.stage + (stage.target ? " " + stage.target.replace(/^(classic|new):/, "") : "");
  }

  function setActive(section) {
    Array.prototype.forEach.call(document.querySelectorAll("nav a"), function (a) {
      a.classList.toggle("active", a.getAttribute("data-section") === section);
    });
  }

  // --- Runs -------------------------------------------------------------------------------------
  var OUTCOMES = ["running", "awaiting-approval", "approved", "promoted", "rejected", "failed", "promotion-failed", "cancelled"];

  async function viewRuns(query) {
    setActive("runs");
    var pipeline = query.get("pipeline") || "";
    var outcome = query.get("outcome") || "";
    var all = await apiOk("/v1/runs");
    var params = new URLSearchParams();
    if (pipeline) params.set("pipeline", pipeline);
    if (outcome) params.set("outcome", outcome);
    var runs = params.toString() ? await apiOk("/v1/runs?" + params.toString()) : all;
    var pipelines = Array.from(new Set(all.value.map(function (r) { return r.pipeline; }))).sort();
    function filterSelect(id, label, values, current) {
      return el("label", null, [label + " ", el("select", { id: id, onchange: function () {
        var next = new URLSearchParams();
        var p = document.getElementById("filter-pipeline").value;
        var o = document.getElementById("filter-outcome").value;
        if (p) next.set("pipeline", p);
        if (o) next.set("outcome", o);
        location.hash = "#/runs" + (next.toString() ? "?" + next.toString() : "");
      } }, [el("option", { value: "" }, "all")].concat(values.map(function (v) {
        return el("option", { value: v, selected: v === current ? "selected" : null }, v);
      })))]);
    }
    var rows = runs.value.map(function (run) {
      var total = run.startedAt && run.lastEventAt ? Date.parse(run.lastEventAt) - Date.parse(run.startedAt) : null;
      return el("tr", { class: "link", "data-run": run.runId, onclick: function () { location.hash = "#/runs/" + encodeURIComponent(run.runId); } }, [
        el("td", null, el("a", { href: "#/runs/" + encodeURIComponent(run.runId) }, run.runId)),
        el("td", null, run.pipeline),
        el("td", null, run.runSequence),
        el("td", null, el("span", { class: "pill " + outcomeClass(run.outcome) }, run.outcome)),
        el("td", null, formatTime(run.startedAt)),
        el("td", null, formatDuration(total)),
      ]);
    });
    show([
      el("h2", null, "Runs"),
      el("div", { class: "filters" }, [filterSelect("filter-pipeline", "Pipeline", pipelines, pipeline), filterSelect("filter-outcome", "Outcome", OUTCOMES, outcome)]),
      el("div", { class: "card" }, runs.value.length === 0
        ? el("p", { class: "muted", id: "no-runs" }, "No runs match.")
        : el("table", { id: "runs" }, [el("thead", null, el("tr", null, ["Run", "Pipeline", "#", "Outcome", "Started (UTC)", "Took"].map(function (h) { return el("th", null, h); }))), el("tbody", null, rows)])),
    ]);
  }

  // --- One run: the waterfall -------------------------------------------------------------------
  function spanTree(spans) {
    var byId = {};
    spans.forEach(function (s) { byId[s.spanId] = { span: s, children: [] }; });
    var roots = [];
    spans.forEach(function (s) {
      var node = byId[s.spanId];
      if (s.parentSpanId && byId[s.parentSpanId]) byId[s.parentSpanId].children.push(node);
      else roots.push(node);
    });
    var ordered = [];
    function walk(node, depth) {
      ordered.push({ span: node.span, depth: depth });
      node.children.sort(function (a, b) { return a.span.startTimeMs - b.span.startTimeMs; }).forEach(function (c) { walk(c, depth + 1); });
    }
    roots.sort(function (a, b) { return a.span.startTimeMs - b.span.startTimeMs; }).forEach(function (r) { walk(r, 0); });
    return ordered;
  }

  // Messaging spans are named after the subject ("<prefix>.retrain.model.trained.v1"): show the event
  // type; a client span is named by its method only: add the path it called.
  function spanName(s) {
    var m = /^(publish|process|receive|settle) (.*)$/.exec(s.name);
    if (m) {
      var i = m[2].indexOf("retrain.");
      return m[1] + " " + (i >= 0 ? m[2].slice(i) : m[2]);
    }
    var url = s.attributes && s.attributes["url.full"];
    if (s.kind === "client" && typeof url === "string") {
      try { return s.name + " " + new URL(url).pathname; } catch (e) { return s.name; }
    }
    return s.name;
  }

  function waterfall(stages, spans) {
    var times = stages.map(function (s) { return Date.parse(s.at); });
    spans.forEach(function (s) { times.push(s.startTimeMs, s.startTimeMs + s.durationMs); });
    var t0 = Math.min.apply(null, times);
    var t1 = Math.max.apply(null, times);
    var total = Math.max(1, t1 - t0);
    var LABEL = 380, BAR = 520, RIGHT = 90, ROW = 24, TOP = 28;
    var rows = stages.length + (spans.length ? spans.length + 1 : 0);
    var height = TOP + rows * ROW + 10;
    var width = LABEL + BAR + RIGHT;
    function x(t) { return LABEL + ((t - t0) / total) * BAR; }
    var children = [];
    for (var q = 0; q <= 4; q++) {
      var tx = LABEL + (BAR * q) / 4;
      children.push(svg("line", { class: "axis", x1: tx, x2: tx, y1: TOP - 6, y2: height - 6 }));
      children.push(svg("text", { class: "tick", x: tx, y: 14, "text-anchor": q === 0 ? "start" : q === 4 ? "end" : "middle" }, "+" + formatDuration((total * q) / 4)));
    }
    var y = TOP;
    stages.forEach(function (stage, i) {
      var begin = Date.parse(beginOf(stages, i).at);
      var end = Date.parse(stage.at);
      var outcome = stageOutcome(stage);
      var w = Math.max(3, x(end) - x(begin));
      children.push(svg("g", { class: "row stage", "data-stage": stage.stage }, [
        svg("text", { x: 4, y: y + 16 }, stageLabel(stage) + " · " + serviceOf(stage)),
        svg("rect", { class: "bar " + outcome, "data-stage": stage.stage, x: x(begin), y: y + 5, width: w, height: ROW - 10, rx: 2 }, svg("title", null, stageLabel(stage) + ": " + formatDuration(end - begin) + (stage.detail ? " — " + stage.detail : ""))),
        svg("text", { class: "tick", x: Math.min(x(begin) + w + 6, LABEL + BAR + 4), y: y + 16 }, formatDuration(end - begin)),
      ]));
      y += ROW;
    });
    if (spans.length) {
      children.push(svg("text", { class: "group", x: 4, y: y + 16 }, "spans (" + spans.length + ")"));
      y += ROW;
      spanTree(spans).forEach(function (item) {
        var s = item.span;
        var service = (s.serviceName || "").replace(/^retrain-/, "");
        var full = spanName(s);
        var room = 44 - Math.min(item.depth, 12);
        var name = full.length > room ? full.slice(0, room - 1) + "…" : full;
        var w2 = Math.max(2, x(s.startTimeMs + s.durationMs) - x(s.startTimeMs));
        children.push(svg("g", { class: "row span" }, [
          svg("text", { x: 4 + Math.min(item.depth, 12) * 10, y: y + 16 }, service + ": " + name),
          svg("rect", { class: "bar span" + (s.status && s.status.code === "error" ? " error" : ""), x: x(s.startTimeMs), y: y + 7, width: w2, height: ROW - 14, rx: 2 },
            svg("title", null, full + " (" + service + "): " + formatDuration(s.durationMs) + (s.status && s.status.message ? " — " + s.status.message : ""))),
          svg("text", { class: "tick", x: Math.min(x(s.startTimeMs) + w2 + 6, LABEL + BAR + 4), y: y + 16 }, formatDuration(s.durationMs)),
        ]));
        y += ROW;
      });
    }
    return svg("svg", { class: "waterfall", id: "waterfall", width: width, height: height, viewBox: "0 0 " + width + " " + height, role: "img", "aria-label": "run waterfall" }, children);
  }

  async function viewRun(runId) {
    setActive("runs");
    var run = await apiOk("/v1/runs/" + encodeURIComponent(runId));
    var spans = [];
    try {
      var answer = await api("/v1/runs/" + encodeURIComponent(runId) + "/spans");
      if (answer.status === 200 && answer.body && Array.isArray(answer.body.value)) spans = answer.body.value;
    } catch (e) {
      if (e instanceof NeedKey) throw e;
    }
    var first = run.stages.length ? Date.parse(run.stages[0].at) : 0;
    var table = el("table", { id: "stages" }, [
      el("thead", null, el("tr", null, ["Stage", "Service", "Start", "Duration", "Outcome", "Detail"].map(function (h) { return el("th", null, h); }))),
      el("tbody", null, run.stages.map(function (stage, i) {
        var begin = Date.parse(beginOf(run.stages, i).at);
        var outcome = stageOutcome(stage);
        return el("tr", { "data-stage": stage.stage }, [
          el("td", null, stageLabel(stage)),
          el("td", null, serviceOf(stage)),
          el("td", null, "+" + formatDuration(begin - first)),
          el("td", null, formatDuration(Date.parse(stage.at) - begin)),
          el("td", null, el("span", { class: "pill " + outcome }, outcome)),
          el("td", { class: "wrap" }, stage.detail || ""),
        ]);
      })),
    ]);
    show([
      el("p", null, el("a", { href: "#/runs" }, "← all runs")),
      el("h2", null, "Run " + run.runId),
      el("div", { class: "card" }, [
        el("div", { class: "summary" }, [
          el("div", null, [el("span", null, "Pipeline"), run.pipeline]),
          el("div", null, [el("span", null, "Sequence"), String(run.runSequence)]),
          el("div", null, [el("span", null, "Outcome"), el("span", { class: "pill " + outcomeClass(run.outcome), id: "run-outcome" }, run.outcome)]),
          el("div", null, [el("span", null, "Started (UTC)"), formatTime(run.startedAt)]),
          el("div", null, [el("span", null, "Took"), formatDuration(run.totalMs)]),
        ]),
        el("h3", null, "Waterfall"),
        run.stages.length ? waterfall(run.stages, spans) : el("p", { class: "muted" }, "No stages yet."),
        spans.length ? null : el("p", { class: "muted" }, "No spans received for this run: export OTLP/HTTP JSON to this registry's /v1/traces to see the services' own spans here."),
        el("h3", null, "Stages"),
        table,
      ]),
    ]);
  }

  // --- Endpoints: model history and the primary metric over time ----------------------------------
  async function targetKeys() {
    var listed = await api("/v1/targets");
    if (listed.status === 200 && listed.body && Array.isArray(listed.body.value)) {
      return listed.body.value.map(function (t) { return typeof t === "string" ? t : t.target; }).filter(Boolean);
    }
    // Without a target list, the targets named by recent runs' timelines.
    var runs = await apiOk("/v1/runs");
    var keys = new Set();
    var recent = runs.value.slice(0, 40);
    var timelines = await Promise.all(recent.map(function (r) { return apiOk("/v1/runs/" + encodeURIComponent(r.runId)).catch(function () { return null; }); }));
    timelines.forEach(function (t) { if (t) t.stages.forEach(function (s) { if (s.target) keys.add(s.target); }); });
    return Array.from(keys).sort();
  }

  function metricChart(points, metric) {
    var W = 860, H = 240, L = 56, R = 20, T = 16, B = 36;
    var xs = points.map(function (p) { return p.t; });
    var ys = points.map(function (p) { return p.v; });
    var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs);
    var y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
    if (y1 - y0 < 1e-9) { y0 -= 0.05; y1 += 0.05; }
    var pad = (y1 - y0) * 0.1; y0 -= pad; y1 += pad;
    function px(t) { return x1 === x0 ? L + (W - L - R) / 2 : L + ((t - x0) / (x1 - x0)) * (W - L - R); }
    function py(v) { return T + (1 - (v - y0) / (y1 - y0)) * (H - T - B); }
    var children = [];
    for (var i = 0; i <= 4; i++) {
      var v = y0 + ((y1 - y0) * i) / 4;
      children.push(svg("line", { class: "axis", x1: L, x2: W - R, y1: py(v), y2: py(v) }));
      children.push(svg("text", { class: "tick", x: L - 6, y: py(v) + 4, "text-anchor": "end" }, v.toFixed(3)));
    }
    children.push(svg("text", { class: "tick", x: L, y: H - 10 }, formatTime(new Date(x0).toISOString())));
    if (x1 !== x0) children.push(svg("text", { class: "tick", x: W - R, y: H - 10, "text-anchor": "end" }, formatTime(new Date(x1).toISOString())));
    children.push(svg("polyline", { class: "line", points: points.map(function (p) { return px(p.t) + "," + py(p.v); }).join(" ") }));
    points.forEach(function (p) {
      children.push(svg("circle", { class: "dot", cx: px(p.t), cy: py(p.v), r: 4 }, svg("title", null, "r" + p.revision + " " + p.modelId + ": " + metric + " " + p.v.toFixed(4))));
    });
    return svg("svg", { class: "metric-chart", id: "metric-chart", width: W, height: H, viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": metric + " over time" }, children);
  }

  async function viewEndpoints(query) {
    setActive("endpoints");
    var keys = await targetKeys();
    var selected = query.get("target") || keys[0] || "";
    var picker = el("label", null, ["Endpoint ", el("select", { id: "target", onchange: function (event) {
      location.hash = "#/endpoints?target=" + encodeURIComponent(event.target.value);
    } }, keys.map(function (k) { return el("option", { value: k, selected: k === selected ? "selected" : null }, k); }))]);
    if (!selected) {
      show([el("h2", null, "Endpoints"), el("div", { class: "card" }, el("p", { class: "muted" }, "No endpoint has been promoted to yet."))]);
      return;
    }
    var history = await apiOk("/v1/targets/history?target=" + encodeURIComponent(selected));
    var runIds = Array.from(new Set(history.value.map(function (h) { return h.runId; })));
    var lineages = {};
    await Promise.all(runIds.map(async function (id) {
      try { lineages[id] = await apiOk("/v1/runs/" + encodeURIComponent(id) + "/lineage"); } catch (e) { if (e instanceof NeedKey) throw e; }
    }));
    var metricNames = new Set();
    Object.keys(lineages).forEach(function (id) {
      var ev = lineages[id].evaluation;
      if (ev && ev.challenger) Object.keys(ev.challenger).forEach(function (m) { if (typeof ev.challenger[m] === "number") metricNames.add(m); });
    });
    var names = Array.from(metricNames).sort();
    var metric = query.get("metric") || (names.indexOf("AUC") >= 0 ? "AUC" : names[0] || "");
    var points = history.value.map(function (h) {
      var ev = lineages[h.runId] && lineages[h.runId].evaluation;
      var v = ev && ev.challenger ? ev.challenger[metric] : undefined;
      return typeof v === "number" ? { t: Date.parse(h.at), v: v, revision: h.revision, modelId: h.modelId } : null;
    }).filter(Boolean);
    var metricPicker = el("label", null, ["Metric ", el("select", { id: "metric", onchange: function (event) {
      location.hash = "#/endpoints?target=" + encodeURIComponent(selected) + "&metric=" + encodeURIComponent(event.target.value);
    } }, names.map(function (m) { return el("option", { value: m, selected: m === metric ? "selected" : null }, m); }))]);
    show([
      el("h2", null, "Endpoints"),
      el("div", { class: "filters" }, [picker, names.length ? metricPicker : null]),
      el("div", { class: "card" }, [
        el("h3", null, metric ? metric + " of the model served, over time" : "Model history"),
        points.length ? metricChart(points, metric) : el("p", { class: "muted" }, "No evaluated model in this endpoint's history yet."),
        el("h3", null, "History"),
        el("table", { id: "history" }, [
          el("thead", null, el("tr", null, ["Revision", "Model", "Run", "Kind", "At (UTC)", metric || "metric"].map(function (h) { return el("th", null, h); }))),
          el("tbody", null, history.value.slice().reverse().map(function (h) {
            var ev = lineages[h.runId] && lineages[h.runId].evaluation;
            var v = ev && ev.challenger ? ev.challenger[metric] : undefined;
            return el("tr", null, [
              el("td", null, "r" + h.revision),
              el("td", null, h.modelId),
              el("td", null, el("a", { href: "#/runs/" + encodeURIComponent(h.runId) }, h.runId)),
              el("td", null, h.kind),
              el("td", null, formatTime(h.at)),
              el("td", null, typeof v === "number" ? v.toFixed(4) : "-"),
            ]);
          })),
        ]),
      ]),
    ]);
  }

  // --- Dead letters -------------------------------------------------------------------------------
  async function viewDeadLetters() {
    setActive("deadletters");
    var answer = await api("/v1/deadletters");
    var letters = answer.status === 200 && answer.body && Array.isArray(answer.body.value) ? answer.body.value : null;
    var body;
    if (letters === null) {
      body = el("p", { class: "muted", id: "no-deadletters" }, answer.status === 404 ? "This registry does not list dead letters yet." : "Dead letters could not be read (HTTP " + answer.status + ").");
    } else if (letters.length === 0) {
      body = el("p", { class: "muted", id: "no-deadletters" }, "No dead letters. Every event was handled.");
    } else {
      body = el("table", { id: "deadletters" }, [
        el("thead", null, el("tr", null, ["Id", "Group", "Reason", "Event", "Attempts", "At (UTC)", "Why"].map(function (h) { return el("th", null, h); }))),
        el("tbody", null, letters.map(function (d) {
          return el("tr", null, [
            el("td", null, d.id), el("td", null, d.group), el("td", null, d.reason), el("td", null, d.eventType || "-"),
            el("td", null, d.attempts), el("td", null, formatTime(d.deadLetteredAt)), el("td", { class: "wrap" }, d.description),
          ]);
        })),
      ]);
    }
    show([el("h2", null, "Dead letters"), el("div", { class: "card" }, body)]);
  }

  async function route() {
    if (!key()) { showKeyForm(); return; }
    forget.hidden = false;
    var hash = location.hash.replace(/^#/, "") || "/runs";
    var q = hash.indexOf("?");
    var path = q < 0 ? hash : hash.slice(0, q);
    var query = new URLSearchParams(q < 0 ? "" : hash.slice(q + 1));
    try {
      var run = /^\/runs\/([^/]+)$/.exec(path);
      if (run) await viewRun(decodeURIComponent(run[1]));
      else if (path === "/endpoints") await viewEndpoints(query);
      else if (path === "/deadletters") await viewDeadLetters();
      else await viewRuns(query);
      document.body.setAttribute("data-ready", path);
    } catch (error) {
      if (error instanceof NeedKey) return;
      show(el("div", { class: "card" }, [el("h2", null, "Something went wrong"), el("p", { class: "error-text" }, error && error.message ? error.message : String(error))]));
    }
  }

  forget.onclick = function () { sessionStorage.removeItem(KEY); route(); };
  window.addEventListener("hashchange", route);
  route();
})();
`;
