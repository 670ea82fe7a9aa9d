// GraphView: the compiled eligibility-trace graph, params -> ops -> hidden groups, with a legend
// of its line and border styles.
// Traits: graph (layout dict from Python; `rule` is the rule's display name), selected (node id,
// synced back), details, error.
import { el as btlEl, errorBanner as btlErrorBanner } from "./dom.js";

const SVG_NS = "http://www.w3.org/2000/svg";

function svgEl(tag, attrs) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  return node;
}

function renderGraph(model, svg, width, height) {
  const g = model.get("graph") || {};
  const nodes = g.nodes || [], edges = g.edges || [];
  const selected = model.get("selected");
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const colX = [110, width / 2, width - 140];
  const pos = {};
  for (const n of nodes) pos[n.id] = [colX[n.x], 24 + n.y * (height - 48)];
  ["parameters", "ETP ops", "hidden groups"].forEach((t, i) => {
    const label = svgEl("text", { x: colX[i], y: 14, "text-anchor": "middle", class: "btl-col-title" });
    label.textContent = t;
    svg.appendChild(label);
  });
  for (const e of edges) {
    const a = pos[e.source], b = pos[e.target];
    if (!a || !b) continue;
    const line = svgEl("line", { x1: a[0], y1: a[1], x2: b[0], y2: b[1], class: "btl-edge btl-edge-" + e.kind });
    svg.appendChild(line);
  }
  for (const n of nodes) {
    const [x, y] = pos[n.id];
    const grp = svgEl("g", { class: "btl-node btl-node-" + n.kind + " btl-status-" + (n.status || "none")
                               + (n.id === selected ? " btl-selected" : ""), "data-id": n.id,
                             transform: `translate(${x},${y})` });
    const w = Math.max(70, Math.min(200, 7 * n.label.length + 16));
    const shape = n.kind === "op"
      ? svgEl("rect", { x: -w / 2, y: -12, width: w, height: 24, rx: 3 })
      : svgEl("rect", { x: -w / 2, y: -12, width: w, height: 24, rx: 12 });
    const text = svgEl("text", { x: 0, y: 4, "text-anchor": "middle" });
    text.textContent = n.label;
    const title = svgEl("title");
    title.textContent = n.kind + ": " + n.label + (n.status ? " (" + n.status + ")" : "");
    grp.appendChild(shape); grp.appendChild(text); grp.appendChild(title);
    grp.addEventListener("click", () => {
      model.set("selected", n.id === model.get("selected") ? "" : n.id);
      model.save_changes();
    });
    svg.appendChild(grp);
  }
}

function renderDetails(model, box) {
  box.innerHTML = "";
  const d = model.get("details") || {};
  if (!d.name) {
    box.appendChild(btlEl("div", { class: "btl-muted", text: "Click a node to see its shapes, trace memory and exactness regime." }));
    return;
  }
  box.appendChild(btlEl("div", { class: "btl-details-title", text: `${d.kind}: ${d.name}` }));
  const table = btlEl("table", { class: "btl-kv" });
  for (const [k, v] of Object.entries(d)) {
    if (k === "name" || k === "kind") continue;
    const val = typeof v === "object" ? JSON.stringify(v) : String(v);
    table.appendChild(btlEl("tr", {}, [btlEl("th", { text: k.replace(/_/g, " ") }), btlEl("td", { text: val })]));
  }
  box.appendChild(table);
}

// the legend of line and border styles: graph.legend = [[kind ("line" | "node"), SVG style, meaning]]
const SELECTED = ["node", "fill:#fff;stroke:#d62728;stroke-width:3", "selected (click a node)"];

function renderLegend(model, box) {
  box.innerHTML = "";
  const items = ((model.get("graph") || {}).legend || []).concat([SELECTED]);
  for (const [kind, style, text] of items) {
    const svg = svgEl("svg", { width: 30, height: 14, class: "btl-legend-swatch" });
    svg.appendChild(kind === "line" ? svgEl("line", { x1: 1, y1: 7, x2: 29, y2: 7, style })
                                    : svgEl("rect", { x: 2, y: 2, width: 26, height: 10, rx: 3, style }));
    box.appendChild(btlEl("span", { class: "btl-legend-item" }, [svg, btlEl("span", { text })]));
  }
}

function renderExcluded(model, box) {
  box.innerHTML = "";
  const g = model.get("graph") || {};
  const rule = g.rule || g.algorithm;
  box.appendChild(btlEl("div", { class: "btl-summary", text: (rule ? rule + ": " : "") + (g.summary || "") }));
  const ex = g.excluded || [];
  if (!ex.length) return;
  const list = btlEl("ul", { class: "btl-excluded" });
  for (const e of ex) list.appendChild(btlEl("li", { text: `${e.param} (${e.status}): ${e.reason}` }));
  box.appendChild(btlEl("div", { class: "btl-muted", text: "Weights without an eligibility trace:" }));
  box.appendChild(list);
}

export default {
  render({ model, el }) {
    const root = btlEl("div", { class: "btl-root btl-graph-view" });
    el.appendChild(root);
    const showError = btlErrorBanner(root);
    const width = 720, height = 260;
    const head = btlEl("div");
    const svg = svgEl("svg", { width, height, viewBox: `0 0 ${width} ${height}`, class: "btl-graph-svg" });
    const legend = btlEl("div", { class: "btl-legend btl-graph-legend" });
    const details = btlEl("div", { class: "btl-details" });
    root.append(head, svg, legend, details);
    const draw = () => {
      try {
        renderExcluded(model, head);
        renderGraph(model, svg, width, height);
        renderLegend(model, legend);
        renderDetails(model, details);
        showError(model.get("error"));
      } catch (err) {
        showError("GraphView could not draw: " + err);
      }
    };
    draw();
    const events = ["change:graph", "change:selected", "change:details", "change:error"];
    events.forEach((ev) => model.on(ev, draw));
    return () => events.forEach((ev) => model.off(ev, draw));
  },
};
