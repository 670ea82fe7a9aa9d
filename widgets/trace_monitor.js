// TraceMonitor: live heatmaps of eligibility traces (binary float32 buffer) and norm curves.
// Traits: panels [{key, param, rows, cols, offset, vmax}], heatmaps (bytes), curve_names,
// curve_steps (bytes), curves (bytes, n_series x n_points), step, status, error.
// Uses helpers from common.js (prepended by Python).

function buildPanels(model, box, cells) {
  box.innerHTML = "";
  cells.length = 0;
  for (const p of model.get("panels") || []) {
    const scale = Math.max(2, Math.floor(160 / Math.max(p.rows, p.cols)));
    const canvas = btlEl("canvas", { class: "btl-heatmap" });
    canvas.width = p.cols * scale; canvas.height = p.rows * scale;
    const caption = btlEl("div", { class: "btl-caption" });
    box.appendChild(btlEl("div", { class: "btl-panel" }, [canvas, caption]));
    cells.push({ key: p.key, canvas, caption });
  }
}

function drawPanels(model, cells) {
  const data = btlFloats(model.get("heatmaps"));
  const panels = model.get("panels") || [];
  panels.forEach((p, i) => {
    const c = cells[i];
    if (!c || p.offset + p.rows * p.cols > data.length) return;
    btlDrawHeatmap(c.canvas, data, p.offset, p.rows, p.cols, p.vmax);
    c.caption.textContent = `${p.key}  (${p.rows}x${p.cols}, max |e| ${btlFmt(p.vmax)})`;
  });
}

function drawCurves(model, ctxs, width, height) {
  const names = model.get("curve_names") || [];
  const steps = btlFloats(model.get("curve_steps"));
  const data = btlFloats(model.get("curves"));
  const n = steps.length;
  const groups = [[], []];
  names.forEach((name, j) => {
    if (data.length < (j + 1) * n) return;
    const s = { name, x: steps, y: data.subarray(j * n, (j + 1) * n), mode: "lines" };
    groups[name.startsWith("signal") ? 1 : 0].push(s);
  });
  btlDrawChart(ctxs[0], width, height, groups[0], { title: "eligibility-trace norm", xlabel: "step", logy: true });
  btlDrawChart(ctxs[1], width, height, groups[1], { title: "learning-signal norm", xlabel: "step", logy: true });
}

export default {
  render({ model, el }) {
    const root = btlEl("div", { class: "btl-root btl-trace-monitor" });
    el.appendChild(root);
    const showError = btlErrorBanner(root);
    const header = btlEl("div", { class: "btl-summary" });
    const panelBox = btlEl("div", { class: "btl-panels" });
    const width = 340, height = 170;
    const [c1, x1] = btlCanvas(width, height), [c2, x2] = btlCanvas(width, height);
    const curveBox = btlEl("div", { class: "btl-panels" }, [c1, c2]);
    root.appendChild(header); root.appendChild(panelBox); root.appendChild(curveBox);
    const cells = [];
    const guard = (what, fn) => () => {
      try { fn(); showError(model.get("error")); } catch (err) { showError(`TraceMonitor (${what}): ${err}`); }
    };
    const onHeader = guard("header", () => {
      header.textContent = `${model.get("title")}: step ${model.get("step")}  ${model.get("status") || ""}`;
      header.setAttribute("data-step", String(model.get("step")));
    });
    const onPanels = guard("panels", () => { buildPanels(model, panelBox, cells); drawPanels(model, cells); });
    const onHeat = guard("heatmaps", () => {
      if (cells.length !== (model.get("panels") || []).length) buildPanels(model, panelBox, cells);
      drawPanels(model, cells);
    });
    const onCurves = guard("curves", () => drawCurves(model, [x1, x2], width, height));
    onHeader(); onPanels(); onCurves();
    const handlers = [["change:panels", onPanels], ["change:heatmaps", onHeat], ["change:curves", onCurves],
                      ["change:step", onHeader], ["change:status", onHeader], ["change:title", onHeader],
                      ["change:error", () => showError(model.get("error"))]];
    for (const [ev, fn] of handlers) model.on(ev, fn);
    return () => { for (const [ev, fn] of handlers) model.off(ev, fn); };
  },
};
