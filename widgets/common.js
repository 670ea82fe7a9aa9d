// Shared drawing helpers for the braintrace-lab views (plain ES module code, no build step).
// The Python side prepends this file to each view module, so the helpers are in scope there.

const BTL_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"];

// bytes from a traitlets.Bytes trait (DataView, ArrayBuffer or typed array) -> Float32Array (copied, aligned)
function btlFloats(value) {
  if (!value) return new Float32Array(0);
  if (value instanceof Float32Array) return value;
  let buf, off = 0, len;
  if (value instanceof DataView || ArrayBuffer.isView(value)) {
    buf = value.buffer; off = value.byteOffset; len = value.byteLength;
  } else if (value instanceof ArrayBuffer) {
    buf = value; len = value.byteLength;
  } else {
    return new Float32Array(0);
  }
  return new Float32Array(buf.slice(off, off + len - (len % 4)));
}

function btlEl(tag, attrs, children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "text") node.textContent = v;
    else if (k === "class") node.className = v;
    else node.setAttribute(k, v);
  }
  for (const c of children || []) node.appendChild(c);
  return node;
}

// A red banner for errors reported by Python (the `error` trait) or caught here.
function btlErrorBanner(root) {
  const banner = btlEl("div", { class: "btl-error" });
  banner.style.display = "none";
  root.appendChild(banner);
  return (msg) => {
    banner.textContent = msg || "";
    banner.style.display = msg ? "block" : "none";
  };
}

// viridis-like colormap, t in [0, 1] -> [r, g, b]
const BTL_STOPS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
function btlColor(t) {
  if (!(t >= 0)) t = 0;
  if (t > 1) t = 1;
  const x = t * (BTL_STOPS.length - 1), i = Math.min(Math.floor(x), BTL_STOPS.length - 2), f = x - i;
  const a = BTL_STOPS[i], b = BTL_STOPS[i + 1];
  return [a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]), a[2] + f * (b[2] - a[2])];
}

function btlCanvas(width, height) {
  const c = btlEl("canvas");
  const r = window.devicePixelRatio || 1;
  c.width = Math.round(width * r); c.height = Math.round(height * r);
  c.style.width = width + "px"; c.style.height = height + "px";
  const ctx = c.getContext("2d");
  ctx.scale(r, r);
  return [c, ctx];
}

// Draw a rows x cols heatmap from data[offset ...] onto a canvas (pixel image, scaled up).
function btlDrawHeatmap(canvas, data, offset, rows, cols, vmax) {
  const img = new ImageData(cols, rows);
  const scale = vmax > 0 ? 1 / vmax : 0;
  for (let k = 0; k < rows * cols; k++) {
    const [r, g, b] = btlColor(data[offset + k] * scale);
    img.data[4 * k] = r; img.data[4 * k + 1] = g; img.data[4 * k + 2] = b; img.data[4 * k + 3] = 255;
  }
  const tmp = document.createElement("canvas");
  tmp.width = cols; tmp.height = rows;
  tmp.getContext("2d").putImageData(img, 0, 0);
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(tmp, 0, 0, canvas.width, canvas.height);
}

function btlFmt(v) {
  if (!isFinite(v)) return "";
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e4)) return v.toExponential(1);
  return +v.toPrecision(3) + "";
}

// One chart panel: series = [{name, x: Float32Array, y: Float32Array, mode: "lines"|"markers", color}]
// opts = {title, xlabel, ylabel, logy, diagonal}
function btlDrawChart(ctx, width, height, series, opts) {
  opts = opts || {};
  ctx.clearRect(0, 0, width, height);
  ctx.font = "11px sans-serif";
  const m = { l: 52, r: 10, t: 20, b: 30 };
  const tf = (v) => (opts.logy ? Math.log10(Math.max(v, 1e-30)) : v);
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (const s of series) {
    for (let i = 0; i < s.x.length; i++) {
      const x = s.x[i], y = tf(s.y[i]);
      if (!isFinite(x) || !isFinite(y)) continue;
      x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
    }
  }
  ctx.fillStyle = "#333";
  ctx.fillText(opts.title || "", m.l, 13);
  if (!isFinite(x0)) { ctx.fillText("(no data yet)", m.l + 10, height / 2); return; }
  if (opts.diagonal) { const lo = Math.min(x0, y0), hi = Math.max(x1, y1); x0 = y0 = lo; x1 = y1 = hi; }
  if (x1 === x0) { x0 -= 1; x1 += 1; }
  if (y1 === y0) { y0 -= Math.abs(y0) * 0.1 + 1e-6; y1 += Math.abs(y1) * 0.1 + 1e-6; }
  const pw = width - m.l - m.r, ph = height - m.t - m.b;
  const px = (x) => m.l + ((x - x0) / (x1 - x0)) * pw;
  const py = (y) => m.t + ph - ((y - y0) / (y1 - y0)) * ph;
  ctx.strokeStyle = "#999"; ctx.lineWidth = 1;
  ctx.strokeRect(m.l, m.t, pw, ph);
  ctx.fillStyle = "#555";
  for (let k = 0; k <= 4; k++) {
    const yv = y0 + (k / 4) * (y1 - y0), xv = x0 + (k / 4) * (x1 - x0);
    ctx.fillText(btlFmt(opts.logy ? Math.pow(10, yv) : yv), 2, py(yv) + 4);
    ctx.fillText(btlFmt(xv), px(xv) - 10, height - m.b + 14);
  }
  if (opts.xlabel) ctx.fillText(opts.xlabel, m.l + pw / 2 - 20, height - 3);
  if (opts.diagonal) {
    ctx.strokeStyle = "#bbb"; ctx.setLineDash([4, 3]);
    ctx.beginPath(); ctx.moveTo(px(x0), py(y0)); ctx.lineTo(px(x1), py(y1)); ctx.stroke();
    ctx.setLineDash([]);
  }
  series.forEach((s, j) => {
    const color = s.color || BTL_COLORS[j % BTL_COLORS.length];
    ctx.strokeStyle = color; ctx.fillStyle = color; ctx.lineWidth = 1.5;
    if (s.mode === "markers") {
      for (let i = 0; i < s.x.length; i++) {
        const y = tf(s.y[i]);
        if (isFinite(s.x[i]) && isFinite(y)) ctx.fillRect(px(s.x[i]) - 2, py(y) - 2, 4, 4);
      }
    } else {
      ctx.beginPath();
      let pen = false;
      for (let i = 0; i < s.x.length; i++) {
        const y = tf(s.y[i]);
        if (!isFinite(s.x[i]) || !isFinite(y)) { pen = false; continue; }
        if (pen) ctx.lineTo(px(s.x[i]), py(y)); else ctx.moveTo(px(s.x[i]), py(y));
        pen = true;
      }
      ctx.stroke();
    }
    ctx.fillText(s.name, m.l + 6 + (j % 3) * Math.floor(pw / 3), m.t + 12 + Math.floor(j / 3) * 12);
  });
}
