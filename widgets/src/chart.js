// Line and scatter panels drawn by uPlot: titled axes, a legend under the plot with the values
// under the cursor, log axes where asked. Tick positions come from uPlot (1-2-5 steps, decades
// on log axes); labels print them with the decimals their spacing needs.
import uPlot from "uplot";
import { el, fmtValue } from "./dom.js";

// tick steps for integer axes (training steps, unit indices): never a fraction
export const INT_INCRS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 50000,
                          100000];
export const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"];
export const FONT = "11px system-ui, -apple-system, 'Segoe UI', sans-serif";
export const LABEL_FONT = "bold 11px system-ui, -apple-system, 'Segoe UI', sans-serif";

// decimals needed to write multiples of `step` exactly (0.25 -> 2, 5 -> 0)
function decimalsOf(step) {
  let d = 0;
  while (d < 12 && Math.abs(step * 10 ** d - Math.round(step * 10 ** d)) > 1e-6 * step * 10 ** d) d++;
  return d;
}

function linearLabel(v, step) {
  if (v == null) return null;
  if (Math.abs(v) < step * 1e-6) return "0";
  const a = Math.max(Math.abs(v), step);
  if (a >= 1e5 || step < 1e-3) {
    const digits = Math.max(0, Math.floor(Math.log10(a) + 1e-9) - Math.floor(Math.log10(step) + 1e-9));
    return v.toExponential(Math.min(digits, 4)).replace("e+", "e");
  }
  return v.toFixed(decimalsOf(step));
}

function logLabel(v) {
  if (v == null) return null;
  if (v >= 1e-3 && v < 1e5) return String(+v.toPrecision(3));
  return v.toExponential(2).replace(/\.?0+e/, "e").replace("e+", "e");
}

// axis `values`: tick labels for uPlot's tick positions
export function tickValues(log) {
  return (u, splits, axisIdx, space, incr) =>
    splits.map((v) => (log ? logLabel(v) : linearLabel(v, Math.abs(incr) || 1)));
}

// axis `size`: wide enough for the longest tick label (uPlot calls it until the size settles)
function axisSize(u, values, axisIdx, cycleNum) {
  const axis = u.axes[axisIdx];
  if (cycleNum > 1) return axis._size;
  let size = axis.ticks.size + axis.gap + 4;
  const longest = (values || []).reduce((acc, v) => (v != null && String(v).length > acc.length ? String(v) : acc), "");
  if (longest) {
    u.ctx.font = axis.font[0];
    size += u.ctx.measureText(longest).width / (window.devicePixelRatio || 1);
  }
  return Math.ceil(size);
}

// on log axes uPlot places a split at every 1..9 x 10^k; draw ticks and grid lines only where a label is
function labelled(u, splits, axisIdx) {
  const values = u.axes[axisIdx]._values || [];
  return splits.map((v, k) => (values[k] != null && values[k] !== "" ? v : null));
}

export function axis(scale, label, log, extra) {
  const vertical = scale !== "x";
  return Object.assign({
    scale, label: label || "", labelSize: label ? 16 : 0, labelFont: LABEL_FONT, font: FONT,
    stroke: "#333", values: tickValues(log), size: vertical ? axisSize : 24, space: vertical ? 28 : 56,
    grid: Object.assign({ stroke: "#e6e6e6", width: 1 }, log ? { filter: labelled } : {}),
    ticks: Object.assign({ stroke: "#bbb", width: 1, size: 4 }, log ? { filter: labelled } : {}),
  }, extra || {});
}

function yScale(log, lo, hi) {
  const s = log ? { distr: 3, log: 10 } : {};
  if (lo != null && hi != null) s.range = [lo, hi];
  return s;
}

// plain arrays with null for gaps (and for values <= 0 on a log axis)
function clean(arr, log) {
  const out = new Array(arr.length);
  for (let i = 0; i < arr.length; i++) {
    const v = arr[i];
    out[i] = isFinite(v) && !(log && v <= 0) ? v : null;
  }
  return out;
}

function sameX(series) {
  const x0 = series[0].x;
  return series.every((s) => s.x.length === x0.length && s.x.every((v, i) => v === x0[i]));
}

// uPlot's aligned table [xs, ys1, ys2, ...]: the union of the series' x values, null where a series has none
function aligned(series, logOf) {
  if (!series.length) return [[]];
  if (sameX(series)) return [Array.from(series[0].x)].concat(series.map((s) => clean(s.y, logOf(s))));
  const xs = Array.from(new Set(series.flatMap((s) => Array.from(s.x).filter(isFinite)))).sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  return [xs].concat(series.map((s) => {
    const col = new Array(xs.length).fill(null), ys = clean(s.y, logOf(s));
    s.x.forEach((x, i) => { if (index.has(x)) col[index.get(x)] = ys[i]; });
    return col;
  }));
}

// the point of series `si` nearest to the cursor (within 12 px), for scatter hover
function nearestPoint(u, si) {
  const d = u.data[si], left = u.cursor.left, top = u.cursor.top;
  if (!d || left == null || left < 0) return null;
  let best = null, bestD = 144;
  for (let i = 0; i < d[0].length; i++) {
    if (d[0][i] == null || d[1][i] == null) continue;
    const dx = u.valToPos(d[0][i], "x") - left, dy = u.valToPos(d[1][i], "y") - top;
    const dd = dx * dx + dy * dy;
    if (dd < bestD) { bestD = dd; best = i; }
  }
  return best;
}

// scatter series: uPlot calls this to draw; it paints the dots itself (the uPlot scatter recipe)
function dots(u, si) {
  uPlot.orient(u, si, (series, dataX, dataY, scaleX, scaleY, valToPosX, valToPosY, xOff, yOff, xDim, yDim,
                       moveTo, lineTo, rect, arc) => {
    const d = u.data[si], r = 2.5 * (window.devicePixelRatio || 1), p = new Path2D();
    for (let i = 0; i < d[0].length; i++) {
      const x = d[0][i], y = d[1][i];
      if (x == null || y == null || x < scaleX.min || x > scaleX.max || y < scaleY.min || y > scaleY.max) continue;
      const cx = valToPosX(x, scaleX, xDim, xOff), cy = valToPosY(y, scaleY, yDim, yOff);
      p.moveTo(cx + r, cy);
      arc(p, cx, cy, r, 0, 2 * Math.PI);
    }
    u.ctx.fillStyle = series._fill || series._stroke || "#333";
    u.ctx.fill(p);
  });
  return null;
}

// a #rrggbb colour at 20 % opacity, for bands
function translucent(c) {
  return /^#[0-9a-f]{6}$/i.test(c || "") ? c + "33" : "rgba(120, 120, 120, 0.2)";
}

// One panel. spec: {title, xlabel, ylabel, logy, ymin, ymax, y2label, logy2, diagonal, xinteger, width, height}.
export class Chart {
  constructor(parent, spec) {
    this.spec = spec || {};
    this.root = el("div", { class: "btl-chart" });
    this.plot = el("div", { class: "btl-chart-plot" });
    this.note = el("div", { class: "btl-chart-message" });
    this.root.append(this.plot, this.note);
    parent.appendChild(this.root);
    this.u = null;
    this.key = "";
    this.range = [0, 1];
    for (const [k, v] of [["title", "title"], ["xlabel", "xlabel"], ["ylabel", "ylabel"], ["y2label", "y2label"]]) {
      if (this.spec[v]) this.root.setAttribute("data-" + k, this.spec[v]);
    }
  }

  // show a sentence instead of the plot (null or "" shows the plot again)
  message(text) {
    this.note.textContent = text || "";
    this.root.classList.toggle("btl-has-message", !!text);
  }

  // series: [{name, label, x: Float32Array, y: Float32Array, mode: "lines"|"markers", color, axis: 0|1,
  //           dash: [on, off, ...] (pixels; a dashed line)}];
  // note: a sentence shown instead of the plot (e.g. why there is nothing to draw)
  set(series, note) {
    const spec = this.spec, scatter = !!spec.diagonal;
    const key = JSON.stringify([scatter, series.map((s) => [s.label || s.name, s.mode, s.color, s.axis || 0,
                                                            s.band || "", s.dash || ""])]);
    const logOf = (s) => (s.axis ? !!spec.logy2 : !!spec.logy);
    let data;
    if (scatter) {
      let lo = Infinity, hi = -Infinity;
      for (const s of series) {
        for (let i = 0; i < s.x.length; i++) {
          if (isFinite(s.x[i]) && isFinite(s.y[i])) {
            lo = Math.min(lo, s.x[i], s.y[i]); hi = Math.max(hi, s.x[i], s.y[i]);
          }
        }
      }
      if (!isFinite(lo)) { lo = -1; hi = 1; }
      if (hi === lo) { lo -= Math.abs(lo) * 0.1 || 1; hi += Math.abs(hi) * 0.1 || 1; }
      const pad = 0.05 * (hi - lo);
      this.range = [lo - pad, hi + pad];
      data = [null].concat(series.map((s) => [clean(s.x, false), clean(s.y, false)]));
      data.push([[lo, hi], [lo, hi]]);
    } else {
      data = aligned(series, logOf);
    }
    const empty = !series.some((s) => s.y.some((v) => isFinite(v)));
    if (key !== this.key || !this.u) {
      if (this.u) this.u.destroy();
      this.u = new uPlot(this.options(series, scatter), data, this.plot);
      this.key = key;
      // band bounds are not lines: no legend row
      const rows = this.u.root.querySelectorAll(".u-legend .u-series");
      series.forEach((s, j) => { if (s.band && rows[j + 1]) rows[j + 1].style.display = "none"; });
    } else {
      this.u.setData(data);
    }
    this.root.setAttribute("data-points", String(series.reduce((n, s) => n + s.x.length, 0)));
    this.message(note || (empty ? "no data yet" : ""));
  }

  options(series, scatter) {
    const spec = this.spec;
    const width = spec.width || 380, height = spec.height || 220;
    const hasY2 = series.some((s) => s.axis);
    const color = (s, j) => s.color || COLORS[j % COLORS.length];
    const opts = {
      width, height, title: spec.title || "",
      // a dashed series gets a dashed legend marker (uPlot's default draws every marker solid)
      legend: { live: true, markers: { dash: (u, i) => (u.series[i].dash ? "dashed" : "solid") } },
      cursor: { focus: { prox: 24 } },
      focus: { alpha: 0.35 },
      scales: { x: { time: false }, y: yScale(spec.logy, spec.ymin, spec.ymax) },
      axes: [axis("x", spec.xlabel, false, spec.xinteger ? { incrs: INT_INCRS } : {}), axis("y", spec.ylabel, spec.logy)],
      hooks: { draw: [(u) => this.recordTicks(u)] },
    };
    if (hasY2) {
      opts.scales.y2 = yScale(spec.logy2);
      opts.axes.push(axis("y2", spec.y2label, spec.logy2, { side: 1, grid: { show: false } }));
    }
    const value = (u, v) => fmtValue(v);
    if (scatter) {
      const facets = [{ scale: "x", auto: true }, { scale: "y", auto: true }];
      const pair = (u, v, si, idx) => {
        if (idx == null) return "–";
        const d = u.data[si];
        return `${fmtValue(d[0][idx])}, ${fmtValue(d[1][idx])}`;
      };
      opts.mode = 2;
      opts.scales.x.range = () => this.range;
      opts.scales.y = { range: () => this.range };
      opts.cursor.dataIdx = nearestPoint;
      opts.series = [{}].concat(series.map((s, j) => ({
        label: s.label || s.name, stroke: color(s, j), fill: color(s, j), facets, value: pair,
        paths: dots, points: { show: false },
      })), [{ label: "y = x", stroke: "#888", dash: [5, 4], width: 1, facets, points: { show: false }, value: pair }]);
    } else {
      // series with band "lo"/"hi" bound the shaded region around the series named by `of`, in its colour
      const lines = series.filter((s) => !s.band);
      const colorOf = new Map(lines.map((s, j) => [s.name, color(s, j)]));
      const at = new Map(series.map((s, j) => [(s.band ? s.band + ":" : "") + (s.band ? s.of : s.name), j + 1]));
      opts.bands = lines.filter((s) => at.has("hi:" + s.name) && at.has("lo:" + s.name)).map((s) => ({
        series: [at.get("hi:" + s.name), at.get("lo:" + s.name)], fill: translucent(colorOf.get(s.name)),
      }));
      opts.series = [{ label: spec.xlabel || "x", value }].concat(series.map((s) => {
        if (s.band) {
          return {
            label: s.label || s.name, stroke: "transparent", width: 0, scale: s.axis ? "y2" : "y",
            spanGaps: false, value, points: { show: false },
          };
        }
        const j = lines.indexOf(s);
        const markers = s.mode === "markers";
        return {
          label: s.label || s.name, stroke: color(s, j), width: 1.6, scale: s.axis ? "y2" : "y", dash: s.dash,
          spanGaps: true, value, paths: markers ? () => null : undefined,
          points: markers ? { show: true, size: 5, fill: color(s, j) } : { space: 10, fill: color(s, j) },
        };
      }));
    }
    return opts;
  }

  // the tick labels uPlot drew, as data attributes (what a reader sees, for tests and tools)
  recordTicks(u) {
    u.axes.forEach((a, i) => {
      const name = i === 0 ? "x" : a.scale;
      const labels = (a._values || []).filter((v) => v != null && v !== "");
      this.root.setAttribute(`data-${name}-ticks`, JSON.stringify(labels));
      this.root.setAttribute(`data-${name}-scale`, u.scales[a.scale].distr === 3 ? "log" : "linear");
    });
  }

  destroy() {
    if (this.u) this.u.destroy();
    this.u = null;
  }
}
