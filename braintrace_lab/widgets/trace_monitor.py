"""``TraceMonitor``: live eligibility-trace heatmaps, the loss and norm curves while a training loop runs.

Pass it as a callback to :func:`braintrace_lab.lab.train`; every recorded row adds the
loss, the trace norms ``||eps_p||`` and learning-signal norms per parameter to the
curves, and at most every ``min_interval`` seconds the heatmaps (``I x O`` maps of mean
``|eps|``, block-averaged to ``max_size``, each with a colour bar) are sent as one
float32 buffer, updating the view in place. Its cost is measured in ``time_spent`` (see
``benchmarks/bench_trace_monitor.py``). The output carries a PNG of the same panels for
exported notebooks, refreshed when training started from a cell ends (:mod:`._static`).

>>> from IPython.display import display
>>> model = lab.fixture_model('leaky', task)(batch_size=16)      # its readout sized for the task's classes
>>> learner = braintrace_lab.compile(model, 'd_rtrl', task.batch(16).inputs[0])
>>> monitor = TraceMonitor(learner); display(monitor)
>>> record = lab.train(learner, task, n_steps=20, callbacks=[monitor], progress=False)
"""
from __future__ import annotations

import math
import time
from typing import Optional

import anywidget
import numpy as np
import traitlets

from ..compiler.records import RelationKey
from ..lab import figures
from ..lab.views import heatmap_payload
from ._assets import css, esm
from ._base import SafeView, check_learner
from ._static import StaticImage

__all__ = ['TraceMonitor']


def _relation_title(key: str) -> str:
    """``'w@op0->g0'`` -> ``'w: op0 → g0'`` (a key that names no relation is shown as it is)."""
    try:
        rel = RelationKey.parse(key)
    except ValueError:
        return key
    if rel.op is None:
        return f'{rel.param}: {rel.group_name}'
    return f'{rel.param}: op{rel.op} → {rel.group_name}'


class TraceMonitor(StaticImage, SafeView, anywidget.AnyWidget):
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
        self._auto_title = not title
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
            if self._auto_title:
                self.title = f'eligibility traces ({figures.learner_title(learner)})'
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
            if 'loss' in row:
                self._series.setdefault('loss', [math.nan] * (n - 1)).append(float(row['loss']))
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
        self.refresh_static()

    def _host_trace_norms(self) -> dict:
        import jax
        out = {}
        for key, tr in (self.learner.eligibility_traces() if self.learner is not None else {}).items():
            p = RelationKey.param_of(key)
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

    def to_figure(self, max_heatmaps: int = 4):
        """A matplotlib figure of the view: heatmaps with colour bars, then loss, trace and signal norms."""
        heats = list(self.heatmap_arrays().items())[:max_heatmaps]
        curves = self.curve_arrays()
        fig = figures.new_figure(max(11.0, 3.3 * len(heats)), 6.4 if heats else 3.4)
        top, bottom = fig.subfigures(2, 1, height_ratios=[1, 1]) if heats else (None, fig)
        if heats:
            top.suptitle(f'{self.title}: step {self.step} ({self.status})', fontsize=10, fontweight='bold')
            axes = top.subplots(1, max(3, len(heats)), squeeze=False)[0]
            for ax in axes[len(heats):]:
                ax.set_visible(False)
            for ax, (key, h) in zip(axes, heats):
                figures.plot_heatmap(top, ax, h, title=_relation_title(key) + f' ({h.shape[0]} × {h.shape[1]})',
                                     xlabel='output unit', ylabel='input unit', cbar_label='mean |ε|')
        groups = (('loss', 'training loss', 'loss'), ('trace ', 'eligibility-trace norm', '‖ε‖ (L2 norm)'),
                  ('signal ', 'learning-signal norm', '‖∂L/∂h‖ (RMS over time)'))
        for ax, (prefix, title, ylabel) in zip(bottom.subplots(1, 3), groups):
            series = [(name[len(prefix):] or name, x, y) for name, (x, y) in curves.items()
                      if name == prefix or (prefix.endswith(' ') and name.startswith(prefix))]
            figures.plot_lines(ax, series, title=title, ylabel=ylabel, logy=True,
                               legend='below' if prefix != 'loss' else '')
        return fig

    def static_image(self) -> bytes:
        return figures.png_of(self.to_figure(), dpi=90)

    def to_html(self) -> str:
        """Static HTML: the figure as an inline PNG (no scripts)."""
        return figures.img_tag(self.static_image(), alt=f'{self.title}: step {self.step}')

    def __repr__(self) -> str:
        learner = figures.learner_title(self.learner) if self.learner is not None else 'no learner'
        err = ', error' if self.error else ''
        return (f'TraceMonitor({learner}, step {self.step}, {len(self.panels)} heatmap(s), '
                f'{len(self.curve_names)} curve(s), {self.n_updates} update(s){err})')
