// LiveChart: a small canvas chart fed by one binary float32 buffer.
// Traits: layout_spec {panels: [{title, xlabel, logy, diagonal}], width, height},
// series [{name, panel, offset, length, mode, color}] (x at offset, y right after), data (bytes), error.
// Uses helpers from common.js (prepended by Python).

export default {
  render({ model, el }) {
    const root = btlEl("div", { class: "btl-root btl-live-chart" });
    el.appendChild(root);
    const showError = btlErrorBanner(root);
    const box = btlEl("div", { class: "btl-panels" });
    root.appendChild(box);
    let canvases = [], key = "";
    const draw = () => {
      try {
        const layout = model.get("layout_spec") || {};
        const panels = layout.panels || [{}];
        const width = layout.width || 340, height = layout.height || 200;
        const k = panels.length + "x" + width + "x" + height;
        if (k !== key) {
          box.innerHTML = "";
          canvases = panels.map(() => btlCanvas(width, height));
          canvases.forEach(([c]) => box.appendChild(c));
          key = k;
        }
        const data = btlFloats(model.get("data"));
        const groups = panels.map(() => []);
        for (const s of model.get("series") || []) {
          if (s.offset + 2 * s.length > data.length || !groups[s.panel || 0]) continue;
          groups[s.panel || 0].push({
            name: s.name, mode: s.mode, color: s.color,
            x: data.subarray(s.offset, s.offset + s.length),
            y: data.subarray(s.offset + s.length, s.offset + 2 * s.length),
          });
        }
        panels.forEach((p, i) => btlDrawChart(canvases[i][1], width, height, groups[i], p));
        root.setAttribute("data-points", String(data.length));
        showError(model.get("error"));
      } catch (err) {
        showError("LiveChart could not draw: " + err);
      }
    };
    draw();
    const events = ["change:data", "change:series", "change:layout_spec", "change:error"];
    events.forEach((ev) => model.on(ev, draw));
    return () => events.forEach((ev) => model.off(ev, draw));
  },
};
