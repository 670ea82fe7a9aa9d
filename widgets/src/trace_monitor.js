// TraceMonitor: live heatmaps of eligibility traces (binary float32 buffer) with colour bars, and
// the loss, trace-norm and learning-signal-norm curves (uPlot).
// Traits: panels [{key, param, rows, cols, offset, vmax}], heatmaps (bytes), curve_names
// ("loss", "trace <param>", "signal <param>"), curve_steps (bytes), curves (bytes, n_series x
// n_points), step, status, title, error.
import { el, errorBanner, floats } from "./dom.js";
import { Chart } from "./chart.js";
import { Heatmap } from "./heatmap.js";

const CURVES = [
  { prefix: "loss", title: "training loss", ylabel: "loss", logy: true },
  { prefix: "trace ", title: "eligibility-trace norm", ylabel: "‖ε‖ (L2 norm)", logy: true },
  { prefix: "signal ", title: "learning-signal norm", ylabel: "‖∂L/∂h‖ (RMS over time)", logy: true },
];

// "w@op0->g0" -> "w: op0 → g0"
function relationTitle(key) {
  const [param, rest] = key.split("@");
  return rest ? `${param}: ${rest.replace("->", " → ")}` : key;
}

function drawHeatmaps(model, box, maps) {
  const panels = model.get("panels") || [];
  const data = floats(model.get("heatmaps"));
  if (maps.length !== panels.length || maps.some((m, i) => m.key !== panels[i].key)) {
    box.innerHTML = "";
    maps.length = 0;
    for (const p of panels) {
      const h = new Heatmap(box, { xlabel: "output unit", ylabel: "input unit", cbarLabel: "mean |ε|" });
      h.key = p.key;
      maps.push(h);
    }
  }
  panels.forEach((p, i) => {
    if (p.offset + p.rows * p.cols > data.length) return;
    maps[i].setTitle(`${relationTitle(p.key)}  (${p.rows} × ${p.cols})`);
    maps[i].set(data, p.offset, p.rows, p.cols, p.vmax);
  });
}

function drawCurves(model, charts) {
  const names = model.get("curve_names") || [];
  const steps = floats(model.get("curve_steps"));
  const data = floats(model.get("curves"));
  const n = steps.length;
  const groups = CURVES.map(() => []);
  names.forEach((name, j) => {
    if (data.length < (j + 1) * n) return;
    const g = CURVES.findIndex((c) => name === c.prefix || (c.prefix.endsWith(" ") && name.startsWith(c.prefix)));
    if (g < 0) return;
    const label = name === "loss" ? "loss" : name.slice(CURVES[g].prefix.length);
    groups[g].push({ name, label, x: steps, y: data.subarray(j * n, (j + 1) * n), mode: "lines" });
  });
  charts.forEach((c, i) => c.set(groups[i]));
}

export default {
  render({ model, el: host }) {
    const root = el("div", { class: "btl-root btl-trace-monitor" });
    host.appendChild(root);
    const showError = errorBanner(root);
    const header = el("div", { class: "btl-summary" });
    const mapBox = el("div", { class: "btl-panels btl-heatmaps" });
    const curveBox = el("div", { class: "btl-panels" });
    root.append(header, mapBox, curveBox);
    const charts = CURVES.map((c) => new Chart(curveBox, Object.assign({ xlabel: "training step", xinteger: true, width: 330,
                                                                        height: 210 }, c)));
    const maps = [];
    const guard = (what, fn) => () => {
      try { fn(); showError(model.get("error")); } catch (err) { showError(`TraceMonitor (${what}): ${err}`); }
    };
    const onHeader = guard("header", () => {
      const step = model.get("step");
      header.textContent = `${model.get("title")}: ${step >= 0 ? "step " + step : "no step yet"} — ${model.get("status") || ""}`;
      header.setAttribute("data-step", String(step));
    });
    const onHeat = guard("heatmaps", () => drawHeatmaps(model, mapBox, maps));
    const onCurves = guard("curves", () => drawCurves(model, charts));
    onHeader(); onHeat(); onCurves();
    const handlers = [["change:panels", onHeat], ["change:heatmaps", onHeat], ["change:curves", onCurves],
                      ["change:step", onHeader], ["change:status", onHeader], ["change:title", onHeader],
                      ["change:error", () => showError(model.get("error"))]];
    for (const [ev, fn] of handlers) model.on(ev, fn);
    return () => {
      for (const [ev, fn] of handlers) model.off(ev, fn);
      charts.forEach((c) => c.destroy());
    };
  },
};
