"""``TraceMonitor``: live eligibility-trace heatmaps and norm curves while a training loop runs.

Pass it as a callback to :func:`braintrace_lab.lab.train`; every recorded row adds the
trace norms ``||eps_p||`` and learning-signal norms per parameter to the curves, and at
most every ``min_interval`` seconds the heatmaps (``I x O`` maps of mean ``|eps|``,
block-averaged to ``max_size``) are sent as one float32 buffer, updating the view in
place. Its cost is measured in ``time_spent`` (see ``benchmarks/bench_trace_monitor.py``).

>>> monitor = TraceMonitor(learner); display(monitor)
>>> record = lab.train(learner, task, n_steps=200, callbacks=[monitor])
"""
from __future__ import annotations

import math
import time
from typing import Optional

import anywidget
import numpy as np
import traitlets

from ..lab.views import heatmap_payload
from ._assets import css, esm
from ._base import SafeView, check_learner

__all__ = ['TraceMonitor']


class TraceMonitor(SafeView, anywidget.AnyWidget):
    """Live view of a learner's eligibility traces (see the module docstring).

    ``every``: push the heatmaps at most every ``every`` recorded rows; ``min_interval``:
    and at most once per that many seconds (the last row is always pushed).
    """
    _esm = esm('trace_monitor')
    _css = css()
    title = traitlets.Unicode('eligibility traces').tag(sync=True)
    panels = traitlets.List().tag(sync=True)
    heatmaps = traitlets.Bytes(b'').tag(sync=True)
    curve_names = traitlets.List().tag(sync=True)
    curve_steps = traitlets.Bytes(b'').tag(sync=True)
    curves = traitlets.Bytes(b'').tag(sync=True)
    step = traitlets.Int(-1).tag(sync=True)
    status = traitlets.Unicode('waiting for training').tag(sync=True)

    def __init__(self, learner=None, every: int = 1, min_interval: float = 0.1, max_size: int = 64,
                 max_points: int = 400, title: Optional[str] = None, **kwargs):
        if learner is not None:
            check_learner('TraceMonitor', learner)
        super().__init__(**kwargs)
        self._init_safe()
        self.every, self.min_interval = max(1, int(every)), float(min_interval)
        self.max_size, self.max_points = int(max_size), int(max_points)
        self.learner = None
        self._steps, self._series = [], {}
        self._rows_since, self._last_push = 0, -math.inf
        self.time_spent, self.n_updates, self.n_rows = 0.0, 0, 0
        if title:
            self.title = title
        if learner is not None:
            self.attach(learner)

    # ------------------------------------------------------------------ wiring
    def attach(self, learner) -> 'TraceMonitor':
        """Observe ``learner`` (clears the curves) and show its current traces."""
        with self.guarded('attaching to the learner'):
            check_learner('TraceMonitor', learner)
            self.learner = learner
            self._steps, self._series = [], {}
            graph = getattr(learner, 'graph', None)
            self._op_kinds = {r.key: r.op_kind for r in graph.relations} if graph is not None else {}
            if not self.title or self.title == 'eligibility traces':
                self.title = f'eligibility traces ({type(learner).__name__})'
            self.status = 'attached'
            self.push()
        return self

    def on_start(self, learner):
        if learner is not self.learner:
            self.attach(learner)

    def on_step(self, row: dict):
        """Record one training row; push to the view when due. Never raises."""
        t0 = time.perf_counter()
        with self.guarded(f'recording step {row.get("step")}'):
            self.n_rows += 1
            trace_norms = row.get('trace_norms')
            if trace_norms is None:
                trace_norms = self._host_trace_norms()
            self._steps.append(float(row.get('step', self.n_rows - 1)))
            n = len(self._steps)
            for prefix, norms in (('trace', trace_norms), ('signal', row.get('signal_norms') or {})):
                for p, v in norms.items():
                    self._series.setdefault(f'{prefix} {p}', [math.nan] * (n - 1)).append(float(v))
            for vals in self._series.values():
                if len(vals) < n:
                    vals.append(math.nan)
            self._rows_since += 1
            now = time.perf_counter()
            if self._rows_since >= self.every and now - self._last_push >= self.min_interval:
                self.push(step=int(row.get('step', n - 1)))
        self.time_spent += time.perf_counter() - t0

    def on_end(self, record=None):
        t0 = time.perf_counter()
        with self.guarded('finishing'):
            self.push(step=int(self._steps[-1]) if self._steps else None, status='done')
        self.time_spent += time.perf_counter() - t0

    def _host_trace_norms(self) -> dict:
        import jax
        out = {}
        for key, tr in (self.learner.eligibility_traces() if self.learner is not None else {}).items():
            p = key.split('@', 1)[0]
            sq = sum(float(np.sum(np.square(np.asarray(getattr(x, 'mantissa', x), np.float64))))
                     for x in jax.tree.leaves(tr))
            out[p] = math.sqrt(out.get(p, 0.0) ** 2 + sq)
        return out

    # ------------------------------------------------------------------ sending
    def _curve_buffers(self):
        n = len(self._steps)
        idx = np.arange(n)
        if n > self.max_points:
            idx = np.unique(np.linspace(0, n - 1, self.max_points).round().astype(int))
        steps = np.asarray(self._steps, np.float32)[idx]
        names = sorted(self._series)
        data = (np.stack([np.asarray(self._series[k], np.float32)[idx] for k in names]) if names
                else np.zeros((0, len(idx)), np.float32))
        return names, steps.tobytes(), np.ascontiguousarray(data, np.float32).tobytes()

    def push(self, step: Optional[int] = None, status: Optional[str] = None):
        """Send the current heatmaps and curves to the view now (one message)."""
        with self.guarded('sending an update'):
            traces = self.learner.eligibility_traces() if self.learner is not None else {}
            panels, buf = heatmap_payload(traces, self.max_size, getattr(self, '_op_kinds', {}))
            names, steps, data = self._curve_buffers()
            with self.hold_sync():
                self.panels = panels
                self.heatmaps = buf
                self.curve_names = names
                self.curve_steps = steps
                self.curves = data
                if step is not None:
                    self.step = int(step)
                self.status = status or ('training' if self._steps else self.status)
            self.n_updates += 1
            self._rows_since = 0
            self._last_push = time.perf_counter()

    # ------------------------------------------------------------------ static rendering
    def heatmap_arrays(self) -> dict:
        """``{relation key: 2-D float32 array}`` as last sent to the view."""
        data = np.frombuffer(self.heatmaps, np.float32)
        return {p['key']: data[p['offset']:p['offset'] + p['rows'] * p['cols']].reshape(p['rows'], p['cols'])
                for p in self.panels}

    def curve_arrays(self) -> dict:
        """``{series name: (steps, values)}`` as last sent to the view."""
        steps = np.frombuffer(self.curve_steps, np.float32)
        data = np.frombuffer(self.curves, np.float32).reshape(len(self.curve_names), -1) if self.curve_names else []
        return {name: (steps, data[i]) for i, name in enumerate(self.curve_names)}

    def to_figure(self):
        """A static plotly figure: one heatmap per relation, then the norm curves (log scale)."""
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots
        heats = self.heatmap_arrays()
        n = max(1, len(heats))
        fig = make_subplots(rows=1, cols=n + 1, subplot_titles=list(heats) + ['norms'])
        for i, (key, h) in enumerate(heats.items()):
            fig.add_trace(go.Heatmap(z=h, colorscale='Viridis', showscale=False, name=key), row=1, col=i + 1)
        for name, (x, y) in self.curve_arrays().items():
            fig.add_trace(go.Scatter(x=x, y=y, mode='lines', name=name), row=1, col=n + 1)
        fig.update_yaxes(type='log', row=1, col=n + 1)
        fig.update_layout(title=f'{self.title}: step {self.step}', height=320)
        return fig

    def to_html(self) -> str:
        """Static HTML (plotly div; pass through ``to_figure()`` for other formats)."""
        return self.to_figure().to_html(full_html=False, include_plotlyjs='cdn')

    def __repr__(self) -> str:
        learner = type(self.learner).__name__ if self.learner is not None else 'no learner'
        err = ', error' if self.error else ''
        return (f'TraceMonitor({learner}, step {self.step}, {len(self.panels)} heatmap(s), '
                f'{len(self.curve_names)} curve(s), {self.n_updates} update(s){err})')
