"""``GraphView``: the compiled eligibility-trace graph of a learner, clickable.

Columns: parameters -> ETP ops -> hidden groups (plus the output). Traced relations are
solid blue edges; readouts, one-step (immediate) paths and weights without a trace are
dashed, and the excluded weights are listed with the compiler's reason. Selecting a node
(click, or ``view.select('w')``) shows its shapes, trace memory and the rule's exactness
regime for it.

>>> view = GraphView(learner)          # or GraphView(learner.graph)
>>> view.select('w'); view.details['regime']
'exact'
"""
from __future__ import annotations

import html
from typing import Optional

import anywidget
import traitlets

from ..lab.views import graph_view_model
from ._assets import css, esm
from ._base import SafeView, check_learner

__all__ = ['GraphView']


class GraphView(SafeView, anywidget.AnyWidget):
    """Interactive view of an :class:`~braintrace_lab.ETraceGraph` (see the module docstring)."""
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
            self.graph = graph_view_model(learner_or_graph, algorithm)

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
        """The graph as a standalone SVG string (same layout as the live view)."""
        nodes, edges = self.graph.get('nodes', []), self.graph.get('edges', [])
        cols = [110, width / 2, width - 140]
        pos = {n['id']: (cols[n['x']], 24 + n['y'] * (height - 48)) for n in nodes}
        style = {'relation': 'stroke:#2b7bba;stroke-width:2.5', 'immediate': 'stroke:#d08a2b;stroke-dasharray:5 3',
                 'readout': 'stroke:#aaa;stroke-dasharray:2 3', 'hidden': 'stroke:#aaa;stroke-dasharray:2 3'}
        out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
               f'font-family="sans-serif" font-size="11">']
        for i, t in enumerate(('parameters', 'ETP ops', 'hidden groups')):
            out.append(f'<text x="{cols[i]:.0f}" y="14" text-anchor="middle" fill="#777">{t}</text>')
        for e in edges:
            (x1, y1), (x2, y2) = pos[e['source']], pos[e['target']]
            out.append(f'<line x1="{x1:.0f}" y1="{y1:.0f}" x2="{x2:.0f}" y2="{y2:.0f}" '
                       f'style="{style.get(e["kind"], "stroke:#888;stroke-width:1.5")}"/>')
        fill = {'param': '#fff', 'op': '#eef3fb', 'group': '#eaf6ec', 'output': '#f3f3f3'}
        for n in nodes:
            x, y = pos[n['id']]
            w = max(70, min(200, 7 * len(n['label']) + 16))
            dash = '' if n.get('status') in ('traced', '') else ' stroke-dasharray="4 2"'
            out.append(f'<rect x="{x - w / 2:.0f}" y="{y - 12:.0f}" width="{w}" height="24" rx="6" '
                       f'fill="{fill[n["kind"]]}" stroke="#555"{dash}/>'
                       f'<text x="{x:.0f}" y="{y + 4:.0f}" text-anchor="middle">{html.escape(n["label"])}</text>')
        out.append('</svg>')
        return ''.join(out)

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
        return (f'<div class="btl-root">{err}<div class="btl-summary">{html.escape(g.get("algorithm", ""))}: '
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
