"""``GradientAgreement``: an online rule's gradient against the exact oracle, with live controls.

Left: each parameter entry of the online gradient against BPTT's (on the diagonal when
they agree). Right: cosine (left axis) and relative error (right axis, log scale) per
step, or per window of a multi-step learner; when one window covers the whole sequence
(``window >= T``) a sentence gives the single values instead of a one-point chart.
Changing the algorithm, the pp_prop decay or the window recomputes; the model and the
oracle's gradient are computed once and reused. Rules are listed by display name
(``D-RTRL``, ``ES-D-RTRL (pp_prop)``). The output carries a PNG of the current result for
exported notebooks (:mod:`._static`).

>>> view = GradientAgreement(None, 'rnn', algorithms=('d_rtrl', 'pp_prop'))
>>> view.algorithm = 'pp_prop'; view.decay = 0.5      # or move the controls
>>> view.result.cosine
"""
from __future__ import annotations

import html
from typing import Optional, Sequence

import ipywidgets as W
import traitlets

from ..lab import figures
from ..lab.agreement import ONLINE_ALGORITHMS, gradient_agreement
from ..rules_table import lookup
from ._base import SafeView, check_data, check_model_factory
from ._static import StaticImage
from .live_chart import LiveChart

__all__ = ['GradientAgreement']


class GradientAgreement(StaticImage, SafeView, W.VBox):
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
        # the menu offers each rule once, by its canonical name; a rule the agreement cannot drive is refused now
        algorithms = tuple(dict.fromkeys(lookup(a, 'agreement').name for a in algorithms))
        algorithm = lookup(algorithm, 'agreement').name if algorithm else algorithms[0]
        super().__init__(**kwargs)
        self._init_safe()
        self.add_class('btl-agreement')
        self.model_factory, self.data, self.oracle = model_factory, data, oracle
        self.T, self.seed, self.batch_size = int(T), int(seed), int(batch_size)
        self.algorithms = algorithms
        self.result = None
        self.n_computed = 0
        self._cache = {}
        self._ready = False
        self.controls = {
            'algorithm': W.Dropdown(options=[(figures.rule_title(a), a) for a in algorithms], value=algorithm,
                                    description='algorithm'),
            'decay': W.FloatSlider(value=decay, min=0.05, max=0.99, step=0.01, description='decay',
                                   continuous_update=False),
            'window': W.IntSlider(value=window, min=1, max=self.T, step=1, description='window',
                                  continuous_update=False),
        }
        self.summary_html = W.HTML('')
        self.summary_html.add_class('btl-agreement-summary')
        self.error_html = W.HTML('')
        self.algorithm, self.decay, self.window = algorithm, float(decay), int(window)
        self.chart = LiveChart(panels=self._panels(), width=440)
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
            res = gradient_agreement(self.model_factory, self.data, algorithm=self.algorithm,
                                     decay=self.decay if self.algorithm == 'pp_prop' else None,
                                     window=self.window, oracle=self.oracle, T=self.T, seed=self.seed,
                                     batch_size=self.batch_size, cache=self._cache)
            self.result = res
            self.n_computed += 1
            self.error = ''
            self._draw(res)
        if self.error:
            self.summary_html.value = f'<b>{html.escape(self._rule())}</b>: no result (see the error below)'
        self.busy = False
        self.refresh_static()

    def headline(self, res) -> str:
        """``'ES-D-RTRL (pp_prop), decay 0.9 vs BPTT: cosine 0.480740, relative error 1.38'`` for a result."""
        window = '' if res.window == 1 else f', window {res.window}'
        return (f'{figures.rule_title(res.algorithm, res.options)}{window} vs {res.oracle.upper()}: cosine {res.cosine:.6f}, '
                f'relative error {res.relative_error:.3g}')

    def _rule(self) -> str:
        """The current rule's display name, with the decay for pp_prop."""
        opts = {'decay_or_rank': self.decay} if self.algorithm == 'pp_prop' else None
        return figures.rule_title(self.algorithm, opts)

    def _panels(self) -> list:
        rule, oracle = self._rule(), self.oracle.upper()
        per = 'step' if self.window == 1 else f'window of {self.window} steps'
        return [{'title': f'gradient entries: {rule} vs {oracle}', 'xlabel': f'{oracle} gradient entry',
                 'ylabel': 'online gradient entry', 'diagonal': True},
                {'title': f'agreement per {per}', 'xlabel': 'time step (end of window)', 'xinteger': True,
                 'ylabel': f'cosine to {oracle}', 'y2label': 'relative error (log scale)', 'logy2': True}]

    def _draw(self, res):
        series = [{'name': p, 'x': ref, 'y': online, 'panel': 0, 'mode': 'markers'}
                  for p, (online, ref) in res.scatter.items()]
        x = res.window_end.astype(float)
        series += [{'name': 'cosine', 'x': x, 'y': res.per_step_cosine, 'panel': 1},
                   {'name': 'relative error', 'x': x, 'y': res.per_step_relative_error, 'panel': 1, 'axis': 1}]
        notes = {}
        if len(x) == 1:
            notes[1] = (f'One window covers the whole sequence (window {res.window}, T = {res.T}): a single value, '
                        f'cosine {res.per_step_cosine[0]:.6f}, relative error {res.per_step_relative_error[0]:.3g}. '
                        f'A smaller window shows how the agreement changes along the sequence.')
        panels = self._panels()
        if panels != self.chart.layout_spec.get('panels'):
            self.chart.layout_spec = dict(self.chart.layout_spec, panels=panels)
        self.chart.set_series(series, notes=notes)
        with self.hold_sync():
            self.summary = res.summary()
            self.cosine = res.cosine
            self.relative_error = res.relative_error
        rows = ''.join(f'<tr><td>{html.escape(r.path)}</td><td>{r.cosine:.6f}</td><td>{r.relative_error:.3g}</td></tr>'
                       for r in res.report.rows)
        self.summary_html.value = (f'<div class="btl-summary" data-cosine="{res.cosine:.6f}">'
                                   f'{html.escape(self.headline(res))}</div><table class="btl-table">'
                                   f'<tr><th>parameter</th><th>cosine</th><th>rel. error</th></tr>{rows}</table>')

    # ------------------------------------------------------------------ static rendering
    def to_figure(self):
        """A matplotlib figure of the current result (scatter and per-window curves, or why there are none)."""
        if self.result is None:
            fig = figures.new_figure(8.8, 2.2)
            why = 'see the error above' if self.error else 'not computed yet'
            figures.show_message(fig.subplots(), f'Gradient agreement of {self._rule()}: {why}.',
                                 title='gradient agreement')
            return fig
        fig = self.chart.to_figure()
        fig.suptitle(self.headline(self.result), fontsize=9)
        return fig

    def static_image(self) -> bytes:
        return figures.png_of(self.to_figure(), dpi=90)

    def to_html(self) -> str:
        """Static HTML: the summary and table, and the charts as an inline PNG (no scripts)."""
        err = f'<div class="btl-error">{html.escape(self.error)}</div>' if self.error else ''
        alt = self.headline(self.result) if self.result is not None else 'gradient agreement'
        return err + self.summary_html.value + figures.img_tag(self.static_image(), alt=alt)

    def __repr__(self) -> str:
        state = self.summary or ('error: ' + self.error if self.error else 'not computed')
        return (f'GradientAgreement(algorithm={self.algorithm!r}, decay={self.decay:g}, window={self.window}; '
                f'{state})')
