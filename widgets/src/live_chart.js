// LiveChart: panels of lines or scatter points drawn by uPlot, fed by one binary float32 buffer.
// Traits: layout_spec {panels: [{title, xlabel, ylabel, logy, ymin, ymax, y2label, logy2, diagonal}],
// width, height}; series [{name, label, panel, axis, offset, length, mode, color, dash}] (x at offset,
// y right after); data (bytes); notes {panel index: sentence shown instead of that panel}; error.
import { el, errorBanner, floats } from "./dom.js";
import { Chart } from "./chart.js";

export default {
  render({ model, el: host }) {
    const root = el("div", { class: "btl-root btl-live-chart" });
    host.appendChild(root);
    const showError = errorBanner(root);
    const box = el("div", { class: "btl-panels" });
    root.appendChild(box);
    let charts = [], key = "";
    const draw = () => {
      try {
        const layout = model.get("layout_spec") || {};
        const panels = layout.panels || [{}];
        const k = JSON.stringify(layout);
        if (k !== key) {
          charts.forEach((c) => c.destroy());
          box.innerHTML = "";
          charts = panels.map((p) => new Chart(box, Object.assign({ width: layout.width, height: layout.height }, p)));
          key = k;
        }
        const data = floats(model.get("data"));
        const groups = panels.map(() => []);
        for (const s of model.get("series") || []) {
          const g = groups[s.panel || 0];
          if (!g || s.offset + 2 * s.length > data.length) continue;
          g.push(Object.assign({}, s, {
            x: data.subarray(s.offset, s.offset + s.length),
            y: data.subarray(s.offset + s.length, s.offset + 2 * s.length),
          }));
        }
        const notes = model.get("notes") || {};
        charts.forEach((c, i) => c.set(groups[i], notes[String(i)]));
        root.setAttribute("data-points", String(data.length));
        showError(model.get("error"));
      } catch (err) {
        showError("LiveChart could not draw: " + err);
      }
    };
    draw();
    const events = ["change:data", "change:series", "change:layout_spec", "change:notes", "change:error"];
    events.forEach((ev) => model.on(ev, draw));
    return () => {
      events.forEach((ev) => model.off(ev, draw));
      charts.forEach((c) => c.destroy());
    };
  },
};
