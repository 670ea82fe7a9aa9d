"""``GraphView``: the compiled eligibility-trace graph of a learner, clickable.

Columns: parameters -> ETP ops -> hidden groups (plus the output). Traced relations are
solid blue edges; readouts, one-step (immediate) paths and weights without a trace are
dashed (a legend under the graph says which style means what), and the excluded weights
are listed with the compiler's reason. Selecting a node (click, or ``view.select('w')``)
shows its shapes, trace memory and the rule's exactness regime for it. The output carries
the same drawing as SVG for exported notebooks (:mod:`._static`).

>>> view = GraphView(learner)          # or GraphView(learner.graph)
>>> details = view.select('w')
>>> view.details['regime']
'exact'
"""
from __future__ import annotations

import html
from typing import Optional

import anywidget
import traitlets

from ..lab import figures
from ..lab.views import graph_view_model
from ._assets import css, esm
from ._base import SafeView, check_learner
from ._static import StaticImage

__all__ = ['GraphView']


# (kind, SVG style, meaning): the legend of line and border styles, drawn by the SVG and by the live view
EDGE_STYLES = {'relation': 'stroke:#2b7bba;stroke-width:2.5', 'immediate': 'stroke:#d08a2b;stroke-width:1.5;'
               'stroke-dasharray:5 3', 'readout': 'stroke:#999;stroke-width:1.5;stroke-dasharray:2 3',
               'hidden': 'stroke:#999;stroke-width:1.5;stroke-dasharray:2 3'}
LEGEND = [('line', EDGE_STYLES['relation'], 'eligibility-trace relation (op → hidden group)'),
          ('line', EDGE_STYLES['immediate'], 'one-step path only (no trace kept)'),
          ('line', EDGE_STYLES['readout'], 'readout / hidden state → loss'),
          ('line', 'stroke:#888;stroke-width:1.5', 'weight → the op that uses it'),
          ('node', 'fill:#fff;stroke:#2b7bba;stroke-width:2', 'weight with an eligibility trace'),
          ('node', 'fill:#f7f7f7;stroke:#555;stroke-dasharray:4 2', 'weight without a trace'),
          ('node', 'fill:#eef3fb;stroke:#555', 'ETP op'),
          ('node', 'fill:#eaf6ec;stroke:#555', 'hidden group')]


class GraphView(StaticImage, SafeView, anywidget.AnyWidget):
    """Interactive view of an :class:`~braintrace_lab.ETraceGraph` (see the module docstring)."""
    static_mime = 'image/svg+xml'
    _esm = esm('graph_view')
    _css = css()
    graph = traitlets.Dict().tag(sync=True)
    selected = traitlets.Unicode('').tag(sync=True)
    details = traitlets.Dict().tag(sync=True)

    def __init__(self, learner_or_graph, algorithm: Optional[str] = None, **kwargs):
        check_learner('GraphView', learner_or_graph, graph_ok=True)
        super().__init__(**kwargs)
        self._init_safe()
        self.source = learner_or_graph
        with self.guarded('laying out the graph'):
            model = graph_view_model(learner_or_graph, algorithm)
            is_learner = hasattr(learner_or_graph, 'eligibility_traces')
            rule = figures.learner_title(learner_or_graph) if is_learner and not algorithm else \
                figures.rule_title(model.get('algorithm', ''))
            self.graph = dict(model, rule=rule, legend=[list(item) for item in LEGEND])

    # ------------------------------------------------------------------ selection
    @traitlets.observe('selected')
    def _on_selected(self, change):
        with self.guarded('showing node details'):
            new = change['new']
            self.details = dict(self.node(new)['details']) if new else {}

    def node(self, node_id: str) -> dict:
        """The node with id ``node_id`` (``'param:w'``, ``'op:0'``, ``'group:g0'``, ``'output'``)."""
        for n in self.graph.get('nodes', []):
            if n['id'] == node_id:
                return n
        raise KeyError(f'no node {node_id!r}; nodes: {self.node_ids}')

    def select(self, name: str) -> dict:
        """Select a node by id or label (``'w'``, ``'g0'``, ``'op0:matmul'``); return its details."""
        for n in self.graph.get('nodes', []):
            if name in (n['id'], n['label'], n['details'].get('name')):
                self.selected = n['id']
                return self.details
        raise KeyError(f'no node called {name!r}; nodes: {self.node_ids}')

    @property
    def node_ids(self) -> list:
        return [n['id'] for n in self.graph.get('nodes', [])]

    @property
    def param_names(self) -> list:
        return [n['label'] for n in self.graph.get('nodes', []) if n['kind'] == 'param']

    @property
    def group_names(self) -> list:
        return [n['details']['name'] for n in self.graph.get('nodes', []) if n['kind'] == 'group']

    # ------------------------------------------------------------------ static rendering
    def to_svg(self, width: int = 720, height: int = 260) -> str:
        """The graph and its legend as a standalone SVG string (same layout as the live view)."""
        nodes, edges = self.graph.get('nodes', []), self.graph.get('edges', [])
        cols = [110, width / 2, width - 140]
        pos = {n['id']: (cols[n['x']], 24 + n['y'] * (height - 48)) for n in nodes}
        rows = (len(LEGEND) + 1) // 2
        total = height + 12 + 18 * rows
        out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{total}" '
               f'font-family="sans-serif" font-size="11"><rect width="{width}" height="{total}" fill="#fff"/>']
        if self.graph.get('rule'):
            out.append(f'<title>{html.escape(self.graph["rule"])}: {html.escape(self.graph.get("summary", ""))}'
                       f'</title>')
        for i, t in enumerate(('parameters', 'ETP ops', 'hidden groups')):
            out.append(f'<text x="{cols[i]:.0f}" y="14" text-anchor="middle" fill="#777">{t}</text>')
        for e in edges:
            (x1, y1), (x2, y2) = pos[e['source']], pos[e['target']]
            out.append(f'<line x1="{x1:.0f}" y1="{y1:.0f}" x2="{x2:.0f}" y2="{y2:.0f}" '
                       f'style="{EDGE_STYLES.get(e["kind"], "stroke:#888;stroke-width:1.5")}"/>')
        fill = {'param': '#fff', 'op': '#eef3fb', 'group': '#eaf6ec', 'output': '#f3f3f3'}
        for n in nodes:
            x, y = pos[n['id']]
            w = max(70, min(200, 7 * len(n['label']) + 16))
            traced = n.get('status') == 'traced'
            border = ' stroke="#2b7bba" stroke-width="2"' if traced else \
                ' stroke="#555" stroke-dasharray="4 2"' if n.get('status') else ' stroke="#555"'
            out.append(f'<rect x="{x - w / 2:.0f}" y="{y - 12:.0f}" width="{w}" height="24" rx="6" '
                       f'fill="{fill[n["kind"]]}"{border}/>'
                       f'<text x="{x:.0f}" y="{y + 4:.0f}" text-anchor="middle">{html.escape(n["label"])}</text>')
        for i, (kind, style, text) in enumerate(LEGEND):
            x, y = 12 + (i % 2) * (width // 2), height + 16 + 18 * (i // 2)
            swatch = (f'<line x1="{x}" y1="{y}" x2="{x + 28}" y2="{y}" style="{style}"/>' if kind == 'line' else
                      f'<rect x="{x + 2}" y="{y - 6}" width="24" height="12" rx="3" style="{style}"/>')
            out.append(f'<g class="btl-legend-item">{swatch}<text x="{x + 36}" y="{y + 4}" fill="#444">'
                       f'{html.escape(text)}</text></g>')
        out.append('</svg>')
        return ''.join(out)

    def static_image(self) -> str:
        return self.to_svg()

    def to_html(self) -> str:
        """Static HTML: summary, SVG, the parameter table (status, regime, memory) and exclusions."""
        g = self.graph
        rows = ''.join(
            f'<tr><td>{html.escape(n["label"])}</td><td>{html.escape(n["status"])}</td>'
            f'<td>{html.escape(str(n["details"]["shapes"]))}</td><td>{n["details"]["trace_memory_bytes"]}</td>'
            f'<td>{html.escape(n["details"]["regime"])}</td></tr>'
            for n in g.get('nodes', []) if n['kind'] == 'param')
        excluded = ''.join(f'<li>{html.escape(e["param"])} ({e["status"]}): {html.escape(e["reason"])}</li>'
                           for e in g.get('excluded', []))
        err = f'<div class="btl-error">{html.escape(self.error)}</div>' if self.error else ''
        return (f'<div class="btl-root">{err}<div class="btl-summary">{html.escape(g.get("rule", ""))}: '
                f'{html.escape(g.get("summary", ""))}</div>{self.to_svg()}'
                f'<table class="btl-table"><tr><th>parameter</th><th>status</th><th>shapes</th>'
                f'<th>trace bytes</th><th>regime</th></tr>{rows}</table>'
                f'{"<ul>" + excluded + "</ul>" if excluded else ""}</div>')

    def __repr__(self) -> str:
        g = self.graph or {}
        sel = f', selected={self.selected!r}' if self.selected else ''
        err = ', error' if self.error else ''
        return (f'GraphView({g.get("algorithm", "")}: {g.get("summary", "no graph")}; params={self.param_names}, '
                f'groups={self.group_names}{sel}{err})')
