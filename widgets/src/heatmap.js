// A heatmap panel: the map is a pixel image painted into a uPlot plot area (so its axes, ticks and
// titles are uPlot's), with a colour bar beside it (a second uPlot whose plot area is the colour ramp)
// and a read-out of the entry under the cursor.
import uPlot from "uplot";
import { el, fmtValue } from "./dom.js";
import { axis, INT_INCRS } from "./chart.js";

// viridis, sampled at 9 points: t in [0, 1] -> [r, g, b]
const STOPS = [[68, 1, 84], [71, 45, 123], [59, 82, 139], [44, 114, 142], [33, 145, 140],
               [40, 174, 128], [94, 201, 98], [173, 220, 48], [253, 231, 37]];

export function viridis(t) {
  if (!(t >= 0)) t = 0;
  if (t > 1) t = 1;
  const x = t * (STOPS.length - 1), i = Math.min(Math.floor(x), STOPS.length - 2), f = x - i;
  const a = STOPS[i], b = STOPS[i + 1];
  return [a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]), a[2] + f * (b[2] - a[2])];
}

const X_AXIS = { size: 24, labelSize: 16 };

function paint(canvas, data, offset, rows, cols, vmax) {
  if (canvas.width !== cols || canvas.height !== rows) Object.assign(canvas, { width: cols, height: rows });
  const img = new ImageData(cols, rows);
  const scale = vmax > 0 ? 1 / vmax : 0;
  for (let k = 0; k < rows * cols; k++) {
    const [r, g, b] = viridis(data[offset + k] * scale);
    img.data[4 * k] = r; img.data[4 * k + 1] = g; img.data[4 * k + 2] = b; img.data[4 * k + 3] = 255;
  }
  canvas.getContext("2d").putImageData(img, 0, 0);
}

// spec: {title, xlabel, ylabel, cbarLabel, size (longest side of the map, px)}
export class Heatmap {
  constructor(parent, spec) {
    this.spec = Object.assign({ xlabel: "column", ylabel: "row", cbarLabel: "value", size: 170 }, spec || {});
    this.root = el("div", { class: "btl-heatmap-panel" });
    this.titleEl = el("div", { class: "btl-heatmap-title", text: this.spec.title || "" });
    this.row = el("div", { class: "btl-heatmap-row" });
    this.readout = el("div", { class: "btl-readout", text: "hover over the map for values" });
    this.root.append(this.titleEl, this.row, this.readout);
    parent.appendChild(this.root);
    this.image = document.createElement("canvas");
    this.map = null; this.bar = null; this.dims = "";
    this.data = new Float32Array(0); this.offset = 0; this.rows = 0; this.cols = 0; this.vmax = 0;
  }

  setTitle(text) { this.titleEl.textContent = text; }

  build(rows, cols) {
    if (this.map) { this.map.destroy(); this.bar.destroy(); }
    this.row.innerHTML = "";
    const cell = Math.max(2, Math.min(24, Math.floor(this.spec.size / Math.max(rows, cols))));
    const plotW = Math.max(40, cols * cell), plotH = Math.max(30, rows * cell);
    const height = plotH + X_AXIS.size + X_AXIS.labelSize + 8;
    const mapBox = el("div", { class: "btl-heatmap-map" }), barBox = el("div", { class: "btl-colorbar" });
    this.row.append(mapBox, barBox);
    const intAxis = (scale, label) => axis(scale, label, false, Object.assign(
      { incrs: INT_INCRS, grid: { show: false }, values: (u, splits) => splits.map((v) => String(Math.round(v))) },
      scale === "x" ? X_AXIS : {}));
    this.map = new uPlot({
      width: plotW + 64, height, legend: { show: false },
      cursor: { drag: { x: false, y: false }, points: { show: false } },
      scales: { x: { time: false, range: [-0.5, cols - 0.5] }, y: { range: [-0.5, rows - 0.5], dir: -1 } },
      axes: [intAxis("x", this.spec.xlabel), intAxis("y", this.spec.ylabel)],
      series: [{}, { scale: "y", points: { show: false } }],
      hooks: {
        draw: [(u) => {
          const ctx = u.ctx, b = u.bbox;
          ctx.save();
          ctx.imageSmoothingEnabled = false;
          ctx.drawImage(this.image, b.left, b.top, b.width, b.height);
          ctx.restore();
          this.root.setAttribute("data-x-ticks", JSON.stringify((u.axes[0]._values || []).filter((v) => v != null)));
          this.root.setAttribute("data-y-ticks", JSON.stringify((u.axes[1]._values || []).filter((v) => v != null)));
        }],
        setCursor: [(u) => this.hover(u)],
      },
    }, [[-0.5, cols - 0.5], [null, null]], mapBox);
    this.bar = new uPlot({
      width: 84, height, legend: { show: false }, cursor: { show: false },
      scales: { x: { time: false, range: [0, 1] }, y: { range: [0, 1] } },
      axes: [axis("x", "", false, Object.assign({ values: (u, s) => s.map(() => ""), ticks: { show: false },
                                                   grid: { show: false }, border: { show: false } }, X_AXIS)),
             axis("y", this.spec.cbarLabel, false, { side: 1, grid: { show: false } })],
      series: [{}, { scale: "y", points: { show: false } }],
      padding: [null, 0, null, 8],
      hooks: {
        draw: [(u) => {
          const ctx = u.ctx, b = u.bbox;
          const grad = ctx.createLinearGradient(0, b.top + b.height, 0, b.top);
          STOPS.forEach((c, i) => grad.addColorStop(i / (STOPS.length - 1), `rgb(${c[0]},${c[1]},${c[2]})`));
          ctx.save();
          ctx.fillStyle = grad;
          ctx.fillRect(b.left, b.top, Math.min(b.width, 14 * (window.devicePixelRatio || 1)), b.height);
          ctx.restore();
          this.root.setAttribute("data-cbar-ticks",
                                 JSON.stringify((u.axes[1]._values || []).filter((v) => v != null)));
        }],
      },
    }, [[0, 1], [null, null]], barBox);
    this.root.setAttribute("data-xlabel", this.spec.xlabel);
    this.root.setAttribute("data-ylabel", this.spec.ylabel);
    this.root.setAttribute("data-cbar-label", this.spec.cbarLabel);
    this.dims = rows + "x" + cols;
  }

  hover(u) {
    const { left, top } = u.cursor;
    if (left == null || left < 0 || !this.rows) {
      this.readout.textContent = "hover over the map for values";
      return;
    }
    const c = Math.round(u.posToVal(left, "x")), r = Math.round(u.posToVal(top, "y"));
    if (c < 0 || r < 0 || c >= this.cols || r >= this.rows) return;
    const v = this.data[this.offset + r * this.cols + c];
    this.readout.textContent = `${this.spec.ylabel} ${r}, ${this.spec.xlabel} ${c}: ${this.spec.cbarLabel} = ${fmtValue(v)}`;
  }

  // data[offset ...] holds a rows x cols map (row major); vmax is its largest entry
  set(data, offset, rows, cols, vmax) {
    Object.assign(this, { data, offset, rows, cols, vmax });
    if (this.dims !== rows + "x" + cols) this.build(rows, cols);
    paint(this.image, data, offset, rows, cols, vmax);
    this.bar.setScale("y", { min: 0, max: vmax > 0 ? vmax : 1 });
    this.map.redraw(false, false);
    this.root.setAttribute("data-vmax", String(vmax));
  }
}
