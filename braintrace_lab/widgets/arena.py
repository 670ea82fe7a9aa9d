"""``AlgorithmArena``: several learning rules trained side by side on one task, live.

Press *Run* (or call :meth:`AlgorithmArena.run`): every algorithm trains a fresh copy of
the same model on the same batches, in lock step; loss and accuracy curves grow as they
train and the comparison table (final loss/accuracy, cosine to BPTT, time per step,
trace and peak memory) appears at the end.

>>> arena = AlgorithmArena(fixture_model('lif', task), task, n_steps=100)
>>> arena.run(); print(arena.comparison.table())
"""
from __future__ import annotations

import html
import math
import time
from typing import Optional, Sequence

import ipywidgets as W
import traitlets

from ..lab.compare import compare_algorithms, parse_algorithms
from ._base import SafeView, check_data, check_model_factory
from .live_chart import LiveChart

__all__ = ['AlgorithmArena']


class AlgorithmArena(SafeView, W.VBox):
    """Side-by-side training of ``algorithms`` (see the module docstring).

    Keyword arguments after ``task`` go to :func:`braintrace_lab.lab.compare_algorithms`.
    ``min_interval``: the curves are redrawn at most that often (seconds).
    """
    n_steps = traitlets.Int(100).tag(sync=True)
    running = traitlets.Bool(False).tag(sync=True)
    status = traitlets.Unicode('ready').tag(sync=True)
    steps_done = traitlets.Int(0).tag(sync=True)

    def __init__(self, model_factory, task, algorithms: Sequence = ('bptt', 'd_rtrl', 'pp_prop'),
                 n_steps: int = 100, batch_size: int = 16, optimizer=1e-2, seed: int = 0,
                 record_every: Optional[int] = None, T: int = 20, min_interval: float = 0.2, **kwargs):
        check_model_factory('AlgorithmArena', model_factory)
        check_data('AlgorithmArena', 'task', task)
        super().__init__()
        self._init_safe()
        self.model_factory, self.task = model_factory, task
        self.specs = parse_algorithms(algorithms)
        self.options = dict(batch_size=batch_size, optimizer=optimizer, seed=seed, record_every=record_every,
                            T=T, **kwargs)
        self.n_steps = int(n_steps)
        self.min_interval = float(min_interval)
        self.comparison = None
        self._curves = {}
        self._last_draw = -math.inf
        self.button = W.Button(description='Run', icon='play', tooltip='train every algorithm side by side')
        self.button.add_class('btl-arena-run')
        self.button.on_click(lambda _: self.run())
        self.steps_box = W.BoundedIntText(value=self.n_steps, min=1, max=100000, description='steps')
        traitlets.link((self, 'n_steps'), (self.steps_box, 'value'))
        self.status_html = W.HTML('ready')
        self.status_html.add_class('btl-arena-status')
        self.chart = LiveChart(panels=[{'title': 'loss', 'xlabel': 'step', 'logy': True},
                                       {'title': 'accuracy', 'xlabel': 'step'}])
        self.table_html = W.HTML('')
        self.table_html.add_class('btl-arena-table')
        self.error_html = W.HTML('')
        self.children = [W.HBox([self.button, self.steps_box]), self.status_html, self.chart, self.table_html,
                         self.error_html]

    @traitlets.observe('error')
    def _show_error(self, change):
        self.error_html.value = (f'<div class="btl-error" style="color:#9b1c1c">{html.escape(change["new"])}</div>'
                                 if change['new'] else '')

    @traitlets.observe('status')
    def _show_status(self, change):
        self.status_html.value = html.escape(change['new'])

    # ------------------------------------------------------------------ running
    def _on_row(self, label: str, row: dict):
        with self.guarded(f'plotting {label} step {row.get("step")}'):
            c = self._curves.setdefault(label, {'steps': [], 'loss': [], 'accuracy': []})
            c['steps'].append(row['step'])
            c['loss'].append(row['loss'])
            c['accuracy'].append(row['accuracy'])
            self.steps_done = max(self.steps_done, int(row['step']) + 1)
            now = time.perf_counter()
            if now - self._last_draw >= self.min_interval:
                self._draw()
                self.status = f'training: step {self.steps_done} of {self.n_steps}'
                self._last_draw = now

    def _draw(self):
        series = []
        for label, c in self._curves.items():
            series.append({'name': label, 'x': c['steps'], 'y': c['loss'], 'panel': 0})
            if any(not math.isnan(a) for a in c['accuracy']):
                series.append({'name': label, 'x': c['steps'], 'y': c['accuracy'], 'panel': 1})
        self.chart.set_series(series)

    def run(self, n_steps: Optional[int] = None):
        """Train all algorithms for ``n_steps`` (default: the steps box); return the Comparison."""
        if self.running:
            return self.comparison
        self.running, self.button.disabled = True, True
        self._curves, self.steps_done, self.error = {}, 0, ''
        self.table_html.value = ''
        n = int(n_steps or self.n_steps)
        self.status = f'compiling {len(self.specs)} learners ...'
        try:
            with self.guarded('training'):
                self.comparison = compare_algorithms(self.model_factory, self.task, [s[1:] for s in self.specs],
                                                     n_steps=n, progress=False, on_step=self._on_row,
                                                     **self.options)
                self._curves = {k: {key: list(v[key]) for key in ('steps', 'loss', 'accuracy')}
                                for k, v in self.comparison.curves.items()}
                self._draw()
                self.table_html.value = self.comparison.to_html()
                self.status = f'done: {n} steps of {", ".join(self.comparison.records)}'
        finally:
            self.running, self.button.disabled = False, False
        if self.error:
            self.status = 'stopped by an error (see below)'
        return self.comparison

    # ------------------------------------------------------------------ static rendering
    def to_figure(self):
        """Static plotly figure of the loss and accuracy curves."""
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots
        fig = make_subplots(rows=1, cols=2, subplot_titles=('loss', 'accuracy'))
        for label, c in self._curves.items():
            fig.add_trace(go.Scatter(x=c['steps'], y=c['loss'], name=f'{label} loss', legendgroup=label),
                          row=1, col=1)
            fig.add_trace(go.Scatter(x=c['steps'], y=c['accuracy'], name=f'{label} accuracy',
                                     legendgroup=label), row=1, col=2)
        fig.update_yaxes(type='log', row=1, col=1)
        fig.update_layout(title='algorithm arena', height=360)
        return fig

    def to_html(self) -> str:
        table = self.comparison.to_html() if self.comparison is not None else ''
        return table + self.to_figure().to_html(full_html=False, include_plotlyjs='cdn')

    def __repr__(self) -> str:
        labels = [s[0] for s in self.specs]
        done = f'; {self.comparison.task}: ' + ', '.join(
            f'{r["algorithm"]} loss {r["final_loss"]:.3g}' for r in self.comparison.rows) \
            if self.comparison is not None else ''
        err = ', error' if self.error else ''
        return f'AlgorithmArena({labels}, {self.n_steps} steps, {self.status}{done}{err})'
