// Scenario Farm web UI: sortable tables, live progress on a candidate's page, and the replay
// (top-down canvas, controls, plots) of one run or of a baseline's and a candidate's run in
// lockstep. Plain ES5-style JavaScript with no dependencies: it is embedded in the `farm` binary and
// must work without internet access.
(function () {
  "use strict";

  // ---- Sortable tables: a button in each header cell sorts by that column (data-sort wins).
  function cellKey(cell) {
    if (!cell) return "";
    var s = cell.getAttribute("data-sort");
    if (s !== null) return parseFloat(s);
    var t = cell.textContent.trim();
    var n = parseFloat(t);
    return /^[-+]?\d/.test(t) && !isNaN(n) ? n : t.toLowerCase();
  }

  function sortable(table) {
    if (!table.tHead || !table.tBodies.length) return;
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, col) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "sort";
      b.textContent = th.textContent;
      b.title = "Sort by " + th.textContent;
      th.textContent = "";
      th.appendChild(b);
      var asc = true;
      b.addEventListener("click", function () {
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, c) {
          var x = cellKey(a.cells[col]), y = cellKey(c.cells[col]);
          if (typeof x !== typeof y) { x = String(x); y = String(y); }
          return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
        });
        rows.forEach(function (r) { body.appendChild(r); });
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", asc ? "ascending" : "descending");
        asc = !asc;
      });
    });
  }

  // ---- Live progress: poll the API while the candidate runs; reload once it is done.
  function live(section) {
    var id = section.getAttribute("data-candidate");
    var status = section.getAttribute("data-status");
    if (!id || status === "done") return;
    var timer = setInterval(function () {
      fetch("/api/v1/candidates/" + id).then(function (r) { return r.ok ? r.json() : null; }).then(function (c) {
        if (!c) return;
        var counts = c.counts || {};
        var total = 0, open = 0;
        Object.keys(counts).forEach(function (k) {
          total += counts[k];
          if (k === "queued" || k === "running") open += counts[k];
          var el = section.querySelector('[data-count="' + k + '"]');
          if (el) el.textContent = counts[k];
        });
        document.getElementById("progress-status").textContent = c.status;
        document.getElementById("progress-count").textContent = (total - open) + "/" + total + " runs have their result";
        if (c.status !== status) { clearInterval(timer); window.location.reload(); }
      }).catch(function () { /* the next poll retries */ });
    }, 2000);
  }

  // ---- The replay.
  var COLORS = { ego: "#1f5fbf", actor: "#c2610c", obstacle: "#4a4a4a", road: "#cfd3d6", area: "#f1efe8",
                 lane: "#ffffff", edge: "#3a3a3a", fail: "#c0142b", cursor: "#111111", mark: "#8a5a00" };

  function roadPoint(road, s, d) {
    if (!road.curvature) return [s, d];
    var r = 1 / road.curvature, th = s * road.curvature;
    return [(r - d) * Math.sin(th), r - (r - d) * Math.cos(th)];
  }

  function prepare(t) {
    var n = t.ticks.length, dt = t.dt || 0.02;
    var p = { raw: t, n: n, dt: dt, time: new Array(n), speed: new Array(n), accel: new Array(n), jerk: new Array(n),
              ttc: new Array(n), nearest: new Array(n), steer: new Array(n), lat: new Array(n), marks: [] };
    var lastEvents = {}, lastMode = "nominal";
    for (var i = 0; i < n; i++) {
      var k = t.ticks[i];
      p.time[i] = k.t;
      p.speed[i] = k.ego[3];
      p.accel[i] = k.ego[4];
      p.steer[i] = k.ego[5];
      p.jerk[i] = i > 0 ? (k.ego[4] - t.ticks[i - 1].ego[4]) / dt : 0;
      p.lat[i] = i > 0 ? k.ego[3] * angle(k.ego[2] - t.ticks[i - 1].ego[2]) / dt : 0;
      p.ttc[i] = k.ttc === undefined || k.ttc === null ? null : Math.min(k.ttc, 10);
      p.nearest[i] = k.nearest === undefined ? null : k.nearest;
      var now = {};
      (k.events || []).forEach(function (e) {
        now[e] = true;
        if (!lastEvents[e]) p.marks.push({ t: k.t, label: "guardrail " + e });
      });
      lastEvents = now;
      var mode = String(k.mode || "nominal").toLowerCase();
      if (mode !== lastMode) p.marks.push({ t: k.t, label: "mode " + lastMode + " → " + mode });
      lastMode = mode;
    }
    return p;
  }

  function angle(a) {
    while (a > Math.PI) a -= 2 * Math.PI;
    while (a < -Math.PI) a += 2 * Math.PI;
    return a;
  }

  function argmax(values, from, ok) {
    var best = -1, bv = -Infinity;
    for (var i = from; i < values.length; i++) {
      if (ok && !ok(i)) continue;
      if (values[i] > bv) { bv = values[i]; best = i; }
    }
    return best;
  }

  // The failure's time: given by the server, or the peak of what the failed criterion measures.
  function failureTime(p, failure) {
    if (!failure) return null;
    if (failure.t !== null && failure.t !== undefined) return failure.t;
    var i = -1;
    if (failure.criterion === "max_decel") i = argmax(p.accel.map(function (a) { return -a; }), 0);
    else if (failure.criterion === "max_jerk") i = argmax(p.jerk.map(Math.abs), 1, function (j) { return p.speed[j] > 0.5 && p.speed[j - 1] > 0.5; });
    else if (failure.criterion === "max_lateral_accel") i = argmax(p.lat.map(Math.abs), 1);
    return i >= 0 ? p.time[i] : p.time[p.n - 1];
  }

  function indexAt(p, t) {
    var lo = 0, hi = p.n - 1;
    if (hi < 0) return -1;
    if (t <= p.time[0]) return 0;
    while (lo < hi) {
      var mid = (lo + hi + 1) >> 1;
      if (p.time[mid] <= t + 1e-9) lo = mid; else hi = mid - 1;
    }
    return lo;
  }

  function Replay(root) {
    var data = JSON.parse(document.getElementById("replay-data").textContent);
    var views = data.traces.map(function (d, i) {
      return { meta: d, canvas: document.getElementById("scene-" + i), source: document.getElementById("source-" + i), p: null };
    });
    var state = { t: 0, playing: false, speed: 1, duration: 0, dt: 0.02, failure: null, failureLabel: "", marks: [], last: null };
    var el = {
      play: document.getElementById("play"), back: document.getElementById("step-back"), fwd: document.getElementById("step-fwd"),
      speed: document.getElementById("speed"), jump: document.getElementById("jump-failure"), scrub: document.getElementById("scrub"),
      time: document.getElementById("replay-time"), events: document.getElementById("events"), plots: document.getElementById("plots")
    };
    var plots = [];

    Promise.all(views.map(function (v) {
      return fetch(v.meta.url).then(function (r) {
        if (!r.ok) throw new Error("the trace could not be read (HTTP " + r.status + ")");
        var src = r.headers.get("x-trace-source");
        v.source.textContent = src === "resimulated" ? "trace re-simulated (digest checked)" : "trace as stored";
        return r.json();
      }).then(function (t) { v.p = prepare(t); });
    })).then(start, function (e) {
      views.forEach(function (v) { v.source.textContent = e.message; });
      root.setAttribute("data-ready", "error");
    });

    function start() {
      views.forEach(function (v) {
        state.duration = Math.max(state.duration, v.p.n ? v.p.time[v.p.n - 1] : 0);
        state.dt = v.p.dt;
      });
      // The failure to jump to: the candidate's (the last trace with one).
      for (var i = views.length - 1; i >= 0; i--) {
        var ft = failureTime(views[i].p, views[i].meta.failure);
        if (ft !== null) { state.failure = ft; state.failureLabel = views[i].meta.failure.label; break; }
      }
      views.forEach(function (v, vi) {
        var who = views.length > 1 ? v.meta.label + ": " : "";
        v.p.marks.forEach(function (m) { state.marks.push({ t: m.t, label: who + m.label }); });
        (v.meta.marks || []).forEach(function (m) { state.marks.push({ t: m.t, label: who + m.label }); });
        v.failure = failureTime(v.p, v.meta.failure);
        if (vi === 0 && views.length > 1 && v.failure !== null) state.marks.push({ t: v.failure, label: who + "failure" });
      });
      state.marks.sort(function (a, b) { return a.t - b.t; });
      // Size the scenes to the page: one wide view, or two side by side.
      var avail = Math.max(320, (root.clientWidth || 1000) - 4);
      views.forEach(function (v) {
        v.canvas.width = Math.floor(views.length > 1 ? (avail - 14) / 2 : Math.min(avail, 1100));
        v.canvas.height = views.length > 1 ? 380 : 400;
      });
      el.scrub.max = String(Math.round(state.duration / state.dt));
      el.jump.disabled = state.failure === null;
      if (state.failure === null) el.jump.title = "This run did not fail";
      buildEvents();
      buildPlots();
      wire();
      root.setAttribute("data-ready", "yes");
      seek(0);
    }

    function buildEvents() {
      var shown = state.marks.slice(0, 40);
      if (state.failure !== null) shown.unshift({ t: state.failure, label: "✘ failure: " + state.failureLabel });
      shown.forEach(function (m) {
        var b = document.createElement("button");
        b.type = "button";
        b.className = "event";
        b.textContent = "t=" + m.t.toFixed(2) + " s · " + m.label;
        b.addEventListener("click", function () { pause(); seek(m.t); });
        el.events.appendChild(b);
      });
      if (!shown.length) el.events.textContent = "No events in this run.";
    }

    var SERIES = [
      { key: "speed", title: "speed", unit: "m/s" },
      { key: "accel", title: "acceleration", unit: "m/s²" },
      { key: "jerk", title: "jerk", unit: "m/s³" },
      { key: "ttc", title: "time to collision (≤ 10 s shown)", unit: "s" },
      { key: "nearest", title: "distance to the nearest object", unit: "m" },
      { key: "steer", title: "steering", unit: "rad" }
    ];

    function buildPlots() {
      var width = Math.max(320, Math.min(1100, el.plots.clientWidth || 900));
      SERIES.forEach(function (s) {
        var fig = document.createElement("figure");
        fig.className = "plot";
        var c = document.createElement("canvas");
        c.width = width;
        c.height = 96;
        c.setAttribute("aria-label", "Plot of " + s.title + " over time; click to move the replay");
        c.setAttribute("data-series", s.key);
        var cap = document.createElement("figcaption");
        cap.textContent = s.title + " (" + s.unit + ")" + (views.length > 1 ? " · solid: " + views[1].meta.label + ", dashed: " + views[0].meta.label : "");
        fig.appendChild(cap);
        fig.appendChild(c);
        el.plots.appendChild(fig);
        var range = [Infinity, -Infinity];
        views.forEach(function (v) {
          v.p[s.key].forEach(function (x) { if (x !== null && isFinite(x)) { range[0] = Math.min(range[0], x); range[1] = Math.max(range[1], x); } });
        });
        if (!isFinite(range[0])) range = [0, 1];
        if (range[1] - range[0] < 1e-6) { range[0] -= 0.5; range[1] += 0.5; }
        var plot = { s: s, canvas: c, range: range, pad: 44 };
        c.addEventListener("click", function (ev) {
          var rect = c.getBoundingClientRect();
          var x = (ev.clientX - rect.left) * (c.width / rect.width);
          pause();
          seek((x - plot.pad) / (c.width - plot.pad - 6) * state.duration);
        });
        plots.push(plot);
      });
    }

    function drawPlot(plot) {
      var c = plot.canvas, g = c.getContext("2d"), w = c.width, h = c.height, pad = plot.pad;
      var x0 = pad, x1 = w - 6, y0 = 6, y1 = h - 14;
      var X = function (t) { return x0 + (t / (state.duration || 1)) * (x1 - x0); };
      var Y = function (v) { return y1 - (v - plot.range[0]) / (plot.range[1] - plot.range[0]) * (y1 - y0); };
      g.clearRect(0, 0, w, h);
      g.fillStyle = "#ffffff";
      g.fillRect(x0, y0, x1 - x0, y1 - y0);
      g.strokeStyle = "#999";
      g.lineWidth = 1;
      g.strokeRect(x0 + 0.5, y0 + 0.5, x1 - x0, y1 - y0);
      g.fillStyle = "#333";
      g.font = "11px sans-serif";
      g.textAlign = "right";
      g.fillText(fmt(plot.range[1]), x0 - 4, y0 + 9);
      g.fillText(fmt(plot.range[0]), x0 - 4, y1);
      g.textAlign = "left";
      g.fillText("0 s", x0, h - 2);
      g.textAlign = "right";
      g.fillText(state.duration.toFixed(1) + " s", x1, h - 2);
      if (plot.range[0] < 0 && plot.range[1] > 0) {
        g.strokeStyle = "#ddd";
        g.beginPath(); g.moveTo(x0, Y(0)); g.lineTo(x1, Y(0)); g.stroke();
      }
      g.strokeStyle = COLORS.mark;
      state.marks.forEach(function (m) { g.beginPath(); g.moveTo(X(m.t), y0); g.lineTo(X(m.t), y0 + 8); g.stroke(); });
      views.forEach(function (v, vi) {
        var values = v.p[plot.s.key];
        g.strokeStyle = views.length > 1 && vi === 0 ? "#777" : COLORS.ego;
        g.setLineDash(views.length > 1 && vi === 0 ? [5, 4] : []);
        g.lineWidth = 1.5;
        g.beginPath();
        var pen = false;
        for (var i = 0; i < v.p.n; i++) {
          var val = values[i];
          if (val === null || !isFinite(val)) { pen = false; continue; }
          if (pen) g.lineTo(X(v.p.time[i]), Y(val)); else g.moveTo(X(v.p.time[i]), Y(val));
          pen = true;
        }
        g.stroke();
        g.setLineDash([]);
      });
      if (state.failure !== null) {
        g.strokeStyle = COLORS.fail;
        g.setLineDash([3, 3]);
        g.beginPath(); g.moveTo(X(state.failure), y0); g.lineTo(X(state.failure), y1); g.stroke();
        g.setLineDash([]);
      }
      g.strokeStyle = COLORS.cursor;
      g.lineWidth = 1.5;
      g.beginPath(); g.moveTo(X(state.t), y0); g.lineTo(X(state.t), y1); g.stroke();
      var v0 = views[views.length - 1], i0 = indexAt(v0.p, state.t);
      var cur = i0 >= 0 ? v0.p[plot.s.key][i0] : null;
      g.fillStyle = COLORS.cursor;
      g.textAlign = "left";
      g.fillText(cur === null || cur === undefined ? "—" : fmt(cur), Math.min(X(state.t) + 4, x1 - 40), y0 + 20);
    }

    function fmt(x) {
      var a = Math.abs(x);
      return a >= 100 ? x.toFixed(0) : a >= 10 ? x.toFixed(1) : x.toFixed(2);
    }

    function camera(v, canvas, i) {
      var w = canvas.width, h = canvas.height, world = v.p.raw.world || {};
      if (world.area) {
        var a = world.area, m = 2;
        var s = Math.min(w / (a.max_x - a.min_x + 2 * m), h / (a.max_y - a.min_y + 2 * m));
        return { s: s, ox: (a.min_x + a.max_x) / 2, oy: (a.min_y + a.max_y) / 2, w: w, h: h };
      }
      var k = v.p.raw.ticks[Math.max(i, 0)];
      var span = Math.max(50, w / 14);
      return { s: w / span, ox: k ? k.ego[0] + 12 : 0, oy: k ? k.ego[1] : 0, w: w, h: h };
    }

    function drawScene(v) {
      var c = v.canvas, g = c.getContext("2d"), t = v.p.raw, i = indexAt(v.p, state.t);
      var cam = camera(v, c, i);
      var P = function (x, y) { return [cam.w / 2 + (x - cam.ox) * cam.s, cam.h / 2 - (y - cam.oy) * cam.s]; };
      g.setTransform(1, 0, 0, 1, 0, 0);
      g.clearRect(0, 0, cam.w, cam.h);
      g.fillStyle = "#e4ebe0";
      g.fillRect(0, 0, cam.w, cam.h);
      var world = t.world || {};
      if (world.road) drawRoad(g, world.road, P, cam);
      if (world.map) drawMap(g, world.map, P, cam);
      if (world.area) {
        var a = world.area, p0 = P(a.min_x, a.max_y), p1 = P(a.max_x, a.min_y);
        g.fillStyle = COLORS.area;
        g.fillRect(p0[0], p0[1], p1[0] - p0[0], p1[1] - p0[1]);
        g.strokeStyle = COLORS.edge;
        g.lineWidth = 2;
        g.strokeRect(p0[0], p0[1], p1[0] - p0[0], p1[1] - p0[1]);
        a.obstacles.forEach(function (o) { box(g, P, cam, o.x, o.y, o.heading, o.length, o.width, COLORS.obstacle, o.id, false); });
      }
      if (i < 0) return;
      // Trails: the last 5 s.
      var from = Math.max(0, i - Math.round(5 / v.p.dt));
      trail(g, P, t.ticks, from, i, function (k) { return k.ego; }, COLORS.ego);
      t.actors.forEach(function (a, ai) { trail(g, P, t.ticks, from, i, function (k) { return k.actors[ai]; }, COLORS.actor); });
      var k = t.ticks[i];
      t.actors.forEach(function (a, ai) {
        var s = k.actors[ai];
        if (s) box(g, P, cam, s[0], s[1], s[2], a.length, a.width, COLORS.actor, a.id + " (" + a.kind + ")", true);
      });
      box(g, P, cam, k.ego[0], k.ego[1], k.ego[2], t.ego_size[0], t.ego_size[1], COLORS.ego, "ego", true);
      if (v.failure !== null && v.failure !== undefined && state.t >= v.failure - 1e-9) {
        var fi = indexAt(v.p, v.failure), f = t.ticks[fi], q = P(f.ego[0], f.ego[1]);
        g.strokeStyle = COLORS.fail;
        g.lineWidth = 3;
        g.beginPath(); g.arc(q[0], q[1], Math.max(14, t.ego_size[0] * cam.s), 0, 2 * Math.PI); g.stroke();
        g.fillStyle = COLORS.fail;
        g.font = "bold 13px sans-serif";
        g.textAlign = "left";
        var radius = Math.max(14, t.ego_size[0] * cam.s);
        var note = "✘ failure at t=" + v.failure.toFixed(2) + " s";
        var nw = g.measureText(note).width;
        g.fillStyle = "rgba(255,255,255,0.9)";
        g.fillRect(q[0] - radius - 3, q[1] + radius + 3, nw + 6, 18);
        g.fillStyle = COLORS.fail;
        g.fillText(note, q[0] - radius, q[1] + radius + 16);
      }
      g.fillStyle = "rgba(255,255,255,0.85)";
      g.fillRect(6, 6, 300, 22);
      g.fillStyle = "#111";
      g.font = "13px sans-serif";
      g.textAlign = "left";
      g.fillText("t=" + k.t.toFixed(2) + " s  v=" + k.ego[3].toFixed(1) + " m/s  mode " + String(k.mode).toLowerCase(), 12, 22);
    }

    function drawRoad(g, road, P, cam) {
      var steps = Math.min(400, Math.max(2, Math.ceil(road.length / 2)));
      var line = function (d) {
        var pts = [];
        for (var j = 0; j <= steps; j++) pts.push(P.apply(null, roadPoint(road, road.length * j / steps, d)));
        return pts;
      };
      var width = road.lanes * road.lane_width;
      var right = line(0), left = line(width);
      g.fillStyle = COLORS.road;
      g.beginPath();
      right.forEach(function (p, j) { if (j) g.lineTo(p[0], p[1]); else g.moveTo(p[0], p[1]); });
      for (var j = left.length - 1; j >= 0; j--) g.lineTo(left[j][0], left[j][1]);
      g.closePath();
      g.fill();
      for (var l = 0; l <= road.lanes; l++) {
        var pts = line(l * road.lane_width), edge = l === 0 || l === road.lanes;
        g.strokeStyle = edge ? COLORS.edge : COLORS.lane;
        g.lineWidth = edge ? 2 : 1.5;
        g.setLineDash(edge ? [] : [3 * cam.s, 6 * cam.s]);
        g.beginPath();
        pts.forEach(function (p, j) { if (j) g.lineTo(p[0], p[1]); else g.moveTo(p[0], p[1]); });
        g.stroke();
      }
      g.setLineDash([]);
    }

    // A map: every lane as a band of its width along its centre line (driving lanes in the road's
    // colour, sidewalks and shoulders paler), then the ego's route dashed along its lane.
    function drawMap(g, map, P, cam) {
      var stroke = function (pts) {
        g.beginPath();
        pts.forEach(function (q, j) { var p = P(q[0], q[1]); if (j) g.lineTo(p[0], p[1]); else g.moveTo(p[0], p[1]); });
        g.stroke();
      };
      g.lineCap = "round";
      g.lineJoin = "round";
      map.lanes.forEach(function (l) {
        g.strokeStyle = l.driving ? COLORS.road : COLORS.area;
        g.lineWidth = Math.max(1, l.width * cam.s);
        stroke(l.centre);
      });
      g.lineCap = "butt";
      g.strokeStyle = COLORS.lane;
      g.lineWidth = 1.5;
      g.setLineDash([3 * cam.s, 6 * cam.s]);
      stroke(map.route);
      g.setLineDash([]);
    }

    function trail(g, P, ticks, from, to, get, color) {
      g.strokeStyle = color;
      g.globalAlpha = 0.45;
      g.lineWidth = 2;
      g.beginPath();
      var pen = false;
      for (var j = from; j <= to; j++) {
        var s = get(ticks[j]);
        if (!s) { pen = false; continue; }
        var p = P(s[0], s[1]);
        if (pen) g.lineTo(p[0], p[1]); else g.moveTo(p[0], p[1]);
        pen = true;
      }
      g.stroke();
      g.globalAlpha = 1;
    }

    function box(g, P, cam, x, y, heading, length, width, color, label, nose) {
      var p = P(x, y);
      g.save();
      g.translate(p[0], p[1]);
      g.rotate(-heading);
      var L = Math.max(length * cam.s, 3), W = Math.max(width * cam.s, 2);
      g.fillStyle = color;
      g.fillRect(-L / 2, -W / 2, L, W);
      g.strokeStyle = "#000";
      g.lineWidth = 1;
      g.strokeRect(-L / 2, -W / 2, L, W);
      if (nose) {
        g.fillStyle = "#fff";
        g.beginPath(); g.moveTo(L / 2, 0); g.lineTo(L / 2 - Math.min(L / 3, 8), -W / 3); g.lineTo(L / 2 - Math.min(L / 3, 8), W / 3); g.closePath(); g.fill();
      }
      if (!nose) {
        // Static obstacles: the id inside the box along its long side, when it fits.
        g.font = "10px sans-serif";
        var tw0 = g.measureText(label).width;
        if (tw0 + 4 < Math.max(L, W) && Math.min(L, W) >= 10) {
          if (W > L) g.rotate(-Math.PI / 2);
          g.fillStyle = "#fff";
          g.textAlign = "center";
          g.fillText(label, 0, 3.5);
        }
        g.restore();
        return;
      }
      g.restore();
      // The label just above the box's on-screen extent, on a light backing so it reads on any ground.
      var above = Math.abs(L / 2 * Math.sin(heading)) + Math.abs(W / 2 * Math.cos(heading)) + 4;
      g.font = "11px sans-serif";
      g.textAlign = "center";
      var tw = g.measureText(label).width;
      g.fillStyle = "rgba(255,255,255,0.7)";
      g.fillRect(p[0] - tw / 2 - 2, p[1] - above - 10, tw + 4, 12);
      g.fillStyle = "#000";
      g.fillText(label, p[0], p[1] - above);
    }

    function render() {
      views.forEach(drawScene);
      plots.forEach(drawPlot);
      el.time.textContent = "t = " + state.t.toFixed(2) + " s of " + state.duration.toFixed(2) + " s";
      el.scrub.value = String(Math.round(state.t / state.dt));
      el.plots.setAttribute("data-cursor-t", state.t.toFixed(2));
      root.setAttribute("data-t", state.t.toFixed(2));
      el.play.textContent = state.playing ? "❚❚ pause" : "▶ play";
    }

    function seek(t) {
      state.t = Math.max(0, Math.min(state.duration, t));
      render();
    }

    function frame(now) {
      if (!state.playing) return;
      if (state.last !== null) state.t += (now - state.last) / 1000 * state.speed;
      state.last = now;
      if (state.t >= state.duration) { state.t = state.duration; state.playing = false; }
      render();
      if (state.playing) window.requestAnimationFrame(frame);
    }

    function play() {
      if (state.t >= state.duration) state.t = 0;
      state.playing = true;
      state.last = null;
      window.requestAnimationFrame(frame);
      render();
    }

    function pause() { state.playing = false; render(); }
    function toggle() { if (state.playing) pause(); else play(); }
    function step(n) { pause(); seek(state.t + n * state.dt); }

    function wire() {
      el.play.addEventListener("click", toggle);
      el.back.addEventListener("click", function () { step(-1); });
      el.fwd.addEventListener("click", function () { step(1); });
      el.speed.addEventListener("change", function () { state.speed = parseFloat(el.speed.value) || 1; });
      el.jump.addEventListener("click", function () { if (state.failure !== null) { pause(); seek(state.failure); } });
      el.scrub.addEventListener("input", function () { pause(); seek(parseFloat(el.scrub.value) * state.dt); });
      document.addEventListener("keydown", function (ev) {
        var tag = ev.target && ev.target.tagName;
        if (tag === "INPUT" && ev.target.type !== "range" || tag === "SELECT" || tag === "TEXTAREA") return;
        if (ev.key === " " || ev.key === "Spacebar") { ev.preventDefault(); toggle(); }
        else if (ev.key === "ArrowRight") { ev.preventDefault(); step(ev.shiftKey ? Math.round(1 / state.dt) : 1); }
        else if (ev.key === "ArrowLeft") { ev.preventDefault(); step(ev.shiftKey ? -Math.round(1 / state.dt) : -1); }
      });
    }

    window.farmReplay = {
      time: function () { return state.t; },
      playing: function () { return state.playing; },
      failure: function () { return state.failure; },
      seek: seek
    };
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), sortable);
    var progress = document.getElementById("progress");
    if (progress) live(progress);
    var replay = document.getElementById("replay");
    if (replay) Replay(replay);
  });
})();
