"""``AlgorithmArena``: several learning rules trained side by side on one task, live.

Press *Run* (or call :meth:`AlgorithmArena.run`): every algorithm trains a fresh copy of
the same model on the same batches, in lock step. The status line says what is happening:
first *compiling <rule>* while a step is traced and compiled by XLA (each rule's first
step, one rule after the other, then with ``record_every > 1`` each rule's first step
between recorded steps: the comparison reports each such step before it runs), then
*training* with a progress bar while the loss and accuracy curves grow (redrawn at most
every ``min_interval`` seconds), then *done* with the comparison table (final
loss/accuracy, cosine to BPTT, time per step, trace and peak memory). The table, the
legends and the status name rules by their display names (``D-RTRL``, ``ES-D-RTRL (a=0.9)``).

With ``seeds=K`` (K > 1) every rule trains once per seed and shows its mean curve over the
seeds with a shaded band: the 95 % Student-t interval over seeds at each recorded step (the
panel titles say so). While training, the mean and band cover the seeds that have reached
each step; at the end they are the comparison's ``curves`` (:mod:`braintrace_lab.lab.comparison`).
On the log loss axis a lower bound at or below zero is drawn at a tenth of the rule's
smallest mean loss.

>>> arena = AlgorithmArena(fixture_model('lif', task), task, n_steps=100)
>>> arena.run(); print(arena.comparison.table())
"""
from __future__ import annotations

import html
import math
import textwrap
import time
from typing import Optional, Sequence

import ipywidgets as W
import traitlets

from ..lab import figures
from ..lab.compare import compare_algorithms, parse_algorithms
from ..lab.names import display_names
from ..lab.stats import INTERVAL_LEVEL, t_interval
from ._base import SafeView, check_data, check_model_factory
from ._static import StaticImage
from .live_chart import LiveChart

__all__ = ['AlgorithmArena']

PANELS = [{'title': 'training loss', 'xlabel': 'training step', 'ylabel': 'loss (log scale)', 'logy': True,
           'xinteger': True},
          {'title': 'training accuracy', 'xlabel': 'training step', 'ylabel': 'accuracy (fraction correct)',
           'ymin': 0, 'ymax': 1, 'xinteger': True}]
METRICS = ('loss', 'accuracy')
ORACLE_DASH = [6, 4]          # pixels on, off: BPTT drawn dashed over the rules


def panels(seeds: int) -> list:
    """The chart panels; with several seeds their titles say what the line and the band are."""
    if seeds <= 1:
        return [dict(p) for p in PANELS]
    note = f'\nmean of {seeds} seeds, band {INTERVAL_LEVEL:.0%} t-interval'.replace('%', ' %')   # 2 lines in PNGs
    return [dict(p, title=p['title'] + note) for p in PANELS]


def live_curve(runs: dict) -> dict:
    """One rule's curve from ``{seed: {'steps', 'loss', 'accuracy'}}`` recorded so far.

    One seed: its curve. Several: at every step the mean over the seeds that reached it and,
    where two or more did, ``band`` (the t-interval; NaN where only one seed has the step).
    """
    if len(runs) == 1:
        (run,) = runs.values()
        return {k: list(run[k]) for k in ('steps',) + METRICS}
    at = [{m: dict(zip(r['steps'], r[m])) for m in METRICS} for r in runs.values()]
    steps = sorted({s for r in runs.values() for s in r['steps']})
    out = {'steps': steps, 'band': {}}
    for m in METRICS:
        stats = [t_interval([a[m][s] for a in at if s in a[m]], INTERVAL_LEVEL) for s in steps]
        out[m] = [st['mean'] for st in stats]
        out['band'][m] = {'lo': [st['lo'] for st in stats], 'hi': [st['hi'] for st in stats]}
    return out


def _log_floor(lo: list, mean: list) -> list:
    """``lo`` with bounds at or below zero raised to a tenth of the smallest positive mean (log axes)."""
    positive = [v for v in mean if v > 0 and math.isfinite(v)]
    floor = min(positive) / 10 if positive else math.nan
    return [v if not (v <= 0) else floor for v in lo]


class AlgorithmArena(StaticImage, SafeView, W.VBox):
    """Side-by-side training of ``algorithms`` (see the module docstring).

    Keyword arguments after ``task`` go to :func:`braintrace_lab.lab.compare_algorithms`.
    ``min_interval``: the curves are redrawn at most that often (seconds).
    """
    n_steps = traitlets.Int(100).tag(sync=True)
    running = traitlets.Bool(False).tag(sync=True)
    status = traitlets.Unicode('ready').tag(sync=True)
    phase = traitlets.Unicode('ready').tag(sync=True)
    steps_done = traitlets.Int(0).tag(sync=True)

    def __init__(self, model_factory, task, algorithms: Sequence = ('bptt', 'd_rtrl', 'pp_prop'),
                 n_steps: int = 100, batch_size: int = 16, optimizer=1e-2, seed: int = 0, seeds: int = 1,
                 record_every: Optional[int] = None, T: int = 20, min_interval: float = 0.2, **kwargs):
        check_model_factory('AlgorithmArena', model_factory)
        check_data('AlgorithmArena', 'task', task)
        super().__init__()
        self._init_safe()
        self.add_class('btl-arena')
        self.model_factory, self.task = model_factory, task
        self.specs = parse_algorithms(algorithms)
        self.titles = display_names([s[0] for s in self.specs], self.specs)
        self._labels = {title: label for label, title in self.titles.items()}
        self._compiling = None              # the label whose compiling step runs now
        if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
            raise ValueError(f'AlgorithmArena: seeds must be a whole number >= 1 (how many seeds each rule trains '
                             f'with), got {seeds!r}; pass e.g. seeds=3.')
        self.seeds = seeds
        self.options = dict(batch_size=batch_size, optimizer=optimizer, seed=seed, seeds=seeds,
                            record_every=record_every, T=T, **kwargs)
        self.n_steps = int(n_steps)
        self.min_interval = float(min_interval)
        self.comparison = None
        self.compile_seconds = {}
        self.phases = []                    # (phase, status) in the order they were shown
        self._curves = {}                   # label -> {'steps', 'loss', 'accuracy'[, 'band']}: what is drawn
        self._runs = {}                     # label -> {seed: that seed's curve so far}
        self._last_draw = -math.inf
        self.button = W.Button(description='Run', icon='play', tooltip='train every algorithm side by side')
        self.button.add_class('btl-arena-run')
        self.button.on_click(lambda _: self.run())
        self.steps_box = W.BoundedIntText(value=self.n_steps, min=1, max=100000, description='steps')
        traitlets.link((self, 'n_steps'), (self.steps_box, 'value'))
        self.progress = W.IntProgress(value=0, min=0, max=self.n_steps, description='',
                                      layout=W.Layout(width='240px'))
        self.progress.add_class('btl-arena-progress')
        self.status_html = W.HTML('')
        self.status_html.add_class('btl-arena-status')
        self.chart = LiveChart(panels=panels(seeds))
        self.table_html = W.HTML('')
        self.table_html.add_class('btl-arena-table')
        self.error_html = W.HTML('')
        self.children = [W.HBox([self.button, self.steps_box, self.progress]), self.status_html, self.chart,
                         self.table_html, self.error_html]
        self._show_status()

    @traitlets.observe('error')
    def _show_error(self, change):
        self.error_html.value = (f'<div class="btl-error" style="color:#9b1c1c">{html.escape(change["new"])}</div>'
                                 if change['new'] else '')

    @traitlets.observe('status', 'phase')
    def _show_status(self, change=None):
        self.status_html.value = (f'<div class="btl-phase" data-phase="{html.escape(self.phase)}">'
                                  f'{html.escape(self.status)}</div>')

    def _set(self, phase: str, status: str):
        with self.hold_sync():
            self.phase, self.status = phase, status
        self.phases.append((phase, status))

    # ------------------------------------------------------------------ running
    def _on_phase(self, phase: str, rule: Optional[str], steps_done: int):
        """The comparison says a step compiles (``rule``: its display name) or that training runs."""
        now = time.perf_counter()
        done, last = '', self._compiling
        if last is not None:                           # the step that compiled has returned
            self.compile_seconds[last] = self.compile_seconds.get(last, 0.0) + now - self._t_phase
            done = f'{self.titles[last]} compiled in {self.compile_seconds[last]:.1f} s; '
        self._t_phase = now
        if phase != 'compiling':
            self._compiling = None
            if phase == 'training':
                self._set('training', f'{done}training: step {self.steps_done} of {self._n}')
            return
        label = self._labels.get(rule, rule)
        first = label not in self.compile_seconds
        self._compiling = label
        if first and not self.compile_seconds and self.phases and self.phases[-1][0] == 'compiling':
            return                                     # 'compiling <first rule> (1 of n)' is shown already
        labels = [s[0] for s in self.specs]
        if first:
            self._set('compiling', f'{done}compiling {rule} ({labels.index(label) + 1} of {len(labels)}) ...')
        else:
            self._set('compiling', f'{done}compiling {rule}: the step used between recorded steps ...')

    def _on_row(self, label: str, row: dict):
        with self.guarded(f'plotting {label} step {row.get("step")}'):
            c = self._runs.setdefault(label, {}).setdefault(row.get('seed'), {'steps': [], 'loss': [], 'accuracy': []})
            c['steps'].append(row['step'])
            c['loss'].append(row['loss'])
            c['accuracy'].append(row['accuracy'])
            self.steps_done = max(self.steps_done, int(row['step']) + 1)
            self.progress.value = min(self.steps_done, self.progress.max)
            now = time.perf_counter()
            if len(c['steps']) == 1 or now - self._last_draw >= self.min_interval:
                self._curves = {k: live_curve(v) for k, v in self._runs.items()}
                self._draw()
                if self.phase == 'training':
                    self._set('training', f'training: step {self.steps_done} of {self._n}')
                self._last_draw = now

    def _draw(self):
        series = []
        # the oracle last and dashed: where an exact rule's curve lies on it, both stay visible
        # (each rule keeps the colour of its place in the list)
        colors = {label: figures.PALETTE[j % len(figures.PALETTE)] for j, label in enumerate(self._curves)}
        for label in sorted(self._curves, key=lambda label: label == 'bptt'):
            c = self._curves[label]
            title = self.titles.get(label, label)
            for panel, m in enumerate(METRICS):
                if m == 'accuracy' and all(math.isnan(a) for a in c['accuracy']):
                    continue
                series.append({'name': label, 'label': title, 'x': c['steps'], 'y': c[m], 'panel': panel,
                               'color': colors[label], **({'dash': ORACLE_DASH} if label == 'bptt' else {})})
                band = c.get('band', {}).get(m)
                if band is None:
                    continue
                lo = _log_floor(band['lo'], c[m]) if PANELS[panel].get('logy') else band['lo']
                for side, y in (('lo', lo), ('hi', band['hi'])):
                    series.append({'name': f'{label}:{side}', 'label': f'{title} ({side})', 'x': c['steps'], 'y': y,
                                   'panel': panel, 'band': side, 'of': label})
        self.chart.set_series(series)

    def run(self, n_steps: Optional[int] = None):
        """Train all algorithms for ``n_steps`` (default: the steps box); return the Comparison."""
        if self.running:
            return self.comparison
        self.running, self.button.disabled = True, True
        self._curves, self.steps_done, self.error, self.compile_seconds, self.phases = {}, 0, '', {}, []
        self._runs = {}
        self._compiling = None
        self.table_html.value = ''
        n = self._n = int(n_steps or self.n_steps)
        self._record_every = int(self.options.get('record_every') or max(1, n // 20))
        self.progress.max, self.progress.value = n, 0
        self._draw()
        first = self.titles[self.specs[0][0]]
        self._set('compiling', f'compiling {first} (1 of {len(self.specs)}): the first step of each rule is traced '
                               f'and compiled by XLA, which takes a few seconds ...')
        t0 = self._t_phase = time.perf_counter()
        try:
            with self.guarded('training'):
                options = dict(self.options, record_every=self._record_every)
                specs = [dict(o, algorithm=name, label=label) for label, name, o in self.specs]
                self.comparison = compare_algorithms(self.model_factory, self.task, specs, n_steps=n, progress=False,
                                                     on_step=self._on_row, on_phase=self._on_phase, **options)
                if self._compiling is not None:        # the last step compiled (a run of one or two steps)
                    self._on_phase('done', None, n)
                self._curves = {k: {key: list(v[key]) for key in ('steps',) + METRICS}
                                for k, v in self.comparison.curves.items()}
                if self.seeds > 1:
                    for k, v in self.comparison.curves.items():
                        self._curves[k]['band'] = {m: {side: list(v['band'][m][side]) for side in ('lo', 'hi')}
                                                   for m in METRICS}
                self._draw()
                self.progress.value = n
                self.table_html.value = self.comparison.to_html()
                compiling = sum(self.compile_seconds.values())
                self._set('done', f'done: {n} steps of {", ".join(self.titles[k] for k in self.comparison.records)} '
                                  f'in {time.perf_counter() - t0:.1f} s (first steps with compilation: '
                                  f'{compiling:.1f} s)')
        finally:
            self.running, self.button.disabled = False, False
        if self.error:
            self._set('error', 'stopped by an error (see below)')
        self.refresh_static()
        return self.comparison

    # ------------------------------------------------------------------ static rendering
    def to_figure(self):
        """A matplotlib figure of the loss and accuracy curves (what the static image shows)."""
        if not self._curves:
            fig = figures.new_figure(8.8, 2.2)
            figures.show_message(fig.subplots(), f'Algorithm arena ({", ".join(self.titles.values())}): not run '
                                                 f'yet. Press Run or call arena.run().', title='algorithm arena')
            return fig
        fig = self.chart.to_figure()
        fig.suptitle(textwrap.fill(self.status, 130), fontsize=9)
        return fig

    def static_image(self) -> bytes:
        return figures.png_of(self.to_figure(), dpi=90)

    def to_html(self) -> str:
        """Static HTML: the comparison table and the curves as an inline PNG (no scripts)."""
        table = self.comparison.to_html() if self.comparison is not None else ''
        return table + figures.img_tag(self.static_image(), alt='algorithm arena: loss and accuracy')

    def __repr__(self) -> str:
        labels = [s[0] for s in self.specs]
        done = f'; {self.comparison.task}: ' + ', '.join(
            f'{r["algorithm"]} loss {r["final_loss"]:.3g}' for r in self.comparison.rows) \
            if self.comparison is not None else ''
        err = ', error' if self.error else ''
        return f'AlgorithmArena({labels}, {self.n_steps} steps, {self.status}{done}{err})'
