// Small DOM and data helpers shared by the braintrace-lab views.

// bytes from a traitlets.Bytes trait (DataView, ArrayBuffer or typed array) -> Float32Array (copied, aligned)
export function floats(value) {
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

// document.createElement with attributes ("text" sets textContent, "class" the class name) and children
export function el(tag, attrs, children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "text") node.textContent = v;
    else if (k === "class") node.className = v;
    else node.setAttribute(k, v);
  }
  for (const c of children || []) node.appendChild(c);
  return node;
}

// A red banner for errors reported by Python (the `error` trait) or caught here; returns show(msg).
export function errorBanner(root) {
  const banner = el("div", { class: "btl-error" });
  banner.style.display = "none";
  root.appendChild(banner);
  return (msg) => {
    banner.textContent = msg || "";
    banner.style.display = msg ? "block" : "none";
  };
}

// A value for hover read-outs: 4 significant digits, exponent outside [1e-3, 1e5).
export function fmtValue(v) {
  if (v == null || !isFinite(v)) return "–";
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(3).replace(/\.?0+e/, "e");
  return String(+v.toPrecision(4));
}
