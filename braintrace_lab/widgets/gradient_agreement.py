"""``GradientAgreement``: an online rule's gradient against the exact oracle, with live controls.

Left: each parameter entry of the online gradient against BPTT's (on the diagonal when
they agree). Right: cosine and relative error per step (or per window of a multi-step
learner). Changing the algorithm, the pp_prop decay or the window recomputes; the model
and the oracle's gradient are computed once and reused.

>>> view = GradientAgreement(None, 'rnn', algorithms=('d_rtrl', 'pp_prop'))
>>> view.algorithm = 'pp_prop'; view.decay = 0.5      # or move the controls
>>> view.result.cosine
"""
from __future__ import annotations

import html
from typing import Optional, Sequence

import ipywidgets as W
import traitlets

from ..lab.agreement import ONLINE_ALGORITHMS, gradient_agreement
from ._base import SafeView, check_data, check_model_factory
from .live_chart import LiveChart

__all__ = ['GradientAgreement']


class GradientAgreement(SafeView, W.VBox):
    """Online gradient vs oracle per parameter and per step (see the module docstring).

    ``model_factory(batch_size)`` builds the model (``None`` when ``data`` is a catalog
    fixture name); ``data`` is a task, a task or fixture name, a fixture or ``(xs, ys)``.
    """
    algorithm = traitlets.Unicode('d_rtrl').tag(sync=True)
    decay = traitlets.Float(0.9).tag(sync=True)
    window = traitlets.Int(1).tag(sync=True)
    summary = traitlets.Unicode('').tag(sync=True)
    cosine = traitlets.Float(float('nan')).tag(sync=True)
    relative_error = traitlets.Float(float('nan')).tag(sync=True)
    busy = traitlets.Bool(False).tag(sync=True)

    def __init__(self, model_factory, data, algorithms: Sequence[str] = ONLINE_ALGORITHMS,
                 algorithm: Optional[str] = None, decay: float = 0.9, window: int = 1, oracle: str = 'bptt',
                 T: int = 20, seed: int = 0, batch_size: int = 2, compute: bool = True, **kwargs):
        check_model_factory('GradientAgreement', model_factory, optional=True)
        check_data('GradientAgreement', 'data', data)
        if isinstance(algorithms, str):
            algorithms = (algorithms,)
        algorithms = tuple(a.strip().lower().replace('-', '_') for a in algorithms)
        algorithm = algorithm or algorithms[0]
        super().__init__(**kwargs)
        self._init_safe()
        self.model_factory, self.data, self.oracle = model_factory, data, oracle
        self.T, self.seed, self.batch_size = int(T), int(seed), int(batch_size)
        self.algorithms = algorithms
        self.result = None
        self.n_computed = 0
        self._cache = {}
        self._ready = False
        self.controls = {
            'algorithm': W.Dropdown(options=list(algorithms), value=algorithm, description='algorithm'),
            'decay': W.FloatSlider(value=decay, min=0.05, max=0.99, step=0.01, description='decay',
                                   continuous_update=False),
            'window': W.IntSlider(value=window, min=1, max=self.T, step=1, description='window',
                                  continuous_update=False),
        }
        self.summary_html = W.HTML('')
        self.summary_html.add_class('btl-agreement-summary')
        self.error_html = W.HTML('')
        self.chart = LiveChart(panels=[{'title': 'online vs oracle (per entry)', 'xlabel': 'oracle',
                                        'diagonal': True},
                                       {'title': 'cosine / relative error per window', 'xlabel': 'step'}])
        self.algorithm, self.decay, self.window = algorithm, float(decay), int(window)
        for name, ctrl in self.controls.items():
            traitlets.link((self, name), (ctrl, 'value'))
        self.children = [W.HBox(list(self.controls.values())), self.summary_html, self.chart, self.error_html]
        self._ready = True
        self._sync_controls()
        if compute:
            self.recompute()

    # ------------------------------------------------------------------ reacting
    @traitlets.observe('algorithm', 'decay', 'window')
    def _on_control(self, change):
        if not getattr(self, '_ready', False) or change['old'] == change['new']:
            return
        self._sync_controls()
        if change['name'] == 'decay' and self.algorithm != 'pp_prop':
            return                      # the decay only matters to pp_prop
        self.recompute()

    @traitlets.observe('error')
    def _show_error(self, change):
        self.error_html.value = (f'<div class="btl-error" style="color:#9b1c1c">{html.escape(change["new"])}</div>'
                                 if change['new'] else '')

    def _sync_controls(self):
        self.controls['decay'].disabled = self.algorithm != 'pp_prop'

    def recompute(self):
        """Recompute the agreement for the current controls and redraw (errors shown, not raised)."""
        self.busy = True
        self.summary_html.value = '<i>computing ...</i>'
        with self.guarded(f'computing {self.algorithm} (decay {self.decay:g}, window {self.window})'):
            if self.algorithm not in self.algorithms:
                raise ValueError(f'algorithm {self.algorithm!r} is not one of {self.algorithms}.')
            res = gradient_agreement(self.model_factory, self.data, algorithm=self.algorithm, decay=self.decay,
                                     window=self.window, oracle=self.oracle, T=self.T, seed=self.seed,
                                     batch_size=self.batch_size, cache=self._cache)
            self.result = res
            self.n_computed += 1
            self.error = ''
            self._draw(res)
        if self.error:
            self.summary_html.value = f'<b>{html.escape(self.algorithm)}</b>: no result (see the error below)'
        self.busy = False

    def _draw(self, res):
        series = [{'name': p, 'x': ref, 'y': online, 'panel': 0, 'mode': 'markers'}
                  for p, (online, ref) in res.scatter.items()]
        x = res.window_end.astype(float)
        series += [{'name': 'cosine', 'x': x, 'y': res.per_step_cosine, 'panel': 1},
                   {'name': 'relative error', 'x': x, 'y': res.per_step_relative_error, 'panel': 1}]
        self.chart.set_series(series)
        with self.hold_sync():
            self.summary = res.summary()
            self.cosine = res.cosine
            self.relative_error = res.relative_error
        rows = ''.join(f'<tr><td>{html.escape(r.path)}</td><td>{r.cosine:.6f}</td><td>{r.relative_error:.3g}</td></tr>'
                       for r in res.report.rows)
        self.summary_html.value = (f'<div class="btl-summary" data-cosine="{res.cosine:.6f}">'
                                   f'{html.escape(res.summary())}</div><table class="btl-table">'
                                   f'<tr><th>parameter</th><th>cosine</th><th>rel. error</th></tr>{rows}</table>')

    # ------------------------------------------------------------------ static rendering
    def to_figure(self):
        """Static plotly figure of the current result (scatter and per-window curves)."""
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots
        fig = make_subplots(rows=1, cols=2, subplot_titles=('online vs oracle', 'per window'))
        if self.result is not None:
            lo, hi = 0.0, 0.0
            for p, (online, ref) in self.result.scatter.items():
                fig.add_trace(go.Scatter(x=ref, y=online, mode='markers', name=p), row=1, col=1)
                lo, hi = min(lo, float(ref.min(initial=0)), float(online.min(initial=0))), \
                    max(hi, float(ref.max(initial=0)), float(online.max(initial=0)))
            fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode='lines', name='y = x',
                                     line={'dash': 'dash', 'color': '#999'}), row=1, col=1)
            x = self.result.window_end
            fig.add_trace(go.Scatter(x=x, y=self.result.per_step_cosine, name='cosine'), row=1, col=2)
            fig.add_trace(go.Scatter(x=x, y=self.result.per_step_relative_error, name='relative error'),
                          row=1, col=2)
        fig.update_layout(title=self.summary or 'gradient agreement', height=360)
        return fig

    def to_html(self) -> str:
        err = f'<div class="btl-error">{html.escape(self.error)}</div>' if self.error else ''
        return err + self.summary_html.value + self.to_figure().to_html(full_html=False, include_plotlyjs='cdn')

    def __repr__(self) -> str:
        state = self.summary or ('error: ' + self.error if self.error else 'not computed')
        return (f'GradientAgreement(algorithm={self.algorithm!r}, decay={self.decay:g}, window={self.window}; '
                f'{state})')
