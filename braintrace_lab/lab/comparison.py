"""The result of a comparison: one row per rule (means and t-intervals over seeds), curves with bands, records.

:func:`build_comparison` turns the training records of every rule and seed into a
:class:`Comparison`: per-seed rows (:func:`seed_row`), one summary row per rule
(:func:`summary_row`: the mean over seeds and its 95 % Student-t interval for the final
loss, held-out accuracy and agreement with the oracle), learning curves whose main line
is the mean over seeds with a band and the per-seed curves beside it, the Spearman
correlation of agreement with held-out accuracy across rules and seeds, and lines that
say why the rows differ (:mod:`.explain`).

>>> cmp = compare_algorithms(fixture_model('leaky', task, n_hidden=6), task, ('bptt', 'd_rtrl'),
...                          n_steps=4, batch_size=4, seeds=3, progress=False)
>>> cmp.rows[0]['heldout_accuracy'], cmp.rows[0]['intervals']['heldout_accuracy']['half_width']
>>> cmp.seed_records['d_rtrl'][2]          # the TrainingRecord of the third seed
>>> cmp.curves['d_rtrl']['band']['loss']['lo'], cmp.curves['d_rtrl']['per_seed']['loss'][0]
"""
from __future__ import annotations

import dataclasses
import html
import math
from typing import Dict, List, Optional

import numpy as np

from .explain import explain_rules
from .names import display_names
from .record import TrainingRecord, fmt_bytes
from .stats import INTERVAL_LEVEL, curve_band, spearman, t_interval

__all__ = ['Comparison', 'build_comparison', 'seed_row', 'summary_row', 'COLUMNS', 'HEADER', 'SUMMARISED']

COLUMNS = ('algorithm', 'final_loss', 'heldout_accuracy', 'final_accuracy', 'cosine_to_bptt',
           'rel_error_to_bptt', 'time_per_step_ms', 'trace_memory_bytes', 'peak_memory_bytes')
HEADER = ('algorithm', 'loss', 'acc(held-out)', 'cos(BPTT)', 'rel.err', 'ms/step', 'trace mem', 'peak mem')
# per-seed values summarised by a mean and a t-interval
SUMMARISED = ('final_loss', 'heldout_accuracy', 'heldout_loss', 'final_accuracy', 'cosine_to_bptt',
              'rel_error_to_bptt')
CURVE_METRICS = ('loss', 'accuracy', 'cosine', 'relative_error')


def _f(v, spec, missing: str = '-') -> str:
    """``v`` formatted; ``missing`` for None, NaN or infinity."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return missing
    return format(v, spec)


def _pm(row: dict, key: str, spec: str, missing: str) -> str:
    """``mean ± half-width`` of a summary row's ``key`` (just the mean for one seed or a zero width)."""
    text = _f(row[key], spec, missing)
    half = (row.get('intervals') or {}).get(key, {}).get('half_width', math.nan)
    if text == missing or not math.isfinite(half) or half == 0:
        return text
    return f'{text} ± {half:.2g}'


def _cells(r: dict) -> tuple:
    """A row's table cells: a diverged rule's missing metrics read ``diverged``, never ``-``."""
    miss = 'diverged' if r.get('status') == 'diverged' else '-'
    acc_miss = miss if r.get('has_accuracy', True) else '-'      # regression: accuracy does not apply
    return (r.get('display_name') or r['algorithm'], _pm(r, 'final_loss', '.4g', miss),
            _pm(r, 'heldout_accuracy', '.3f', acc_miss),
            _pm(r, 'cosine_to_bptt', '.4f', miss), _pm(r, 'rel_error_to_bptt', '.3g', miss),
            _f(r['time_per_step_ms'], '.3g'), fmt_bytes(r['trace_memory_bytes']),
            fmt_bytes(r['peak_memory_bytes']))


def _status(rec: TrainingRecord, n_steps: Optional[int]) -> str:
    if rec.diverged:
        return 'diverged'
    return 'interrupted' if rec.interrupted or (n_steps is not None and rec.n_steps < n_steps) else 'finished'


def seed_row(label: str, rec: TrainingRecord, n_steps: Optional[int] = None) -> dict:
    """The row of one rule and one seed; ``status`` is ``finished``, ``diverged`` or ``interrupted``."""
    is_ref = rec.config.get('algorithm') == 'bptt'
    last_bad = bool(rec.steps) and rec.steps[-1] in rec.nonfinite_steps
    ref_cos, ref_err = (math.nan, math.nan) if rec.diverged else (1.0, 0.0)
    return {'algorithm': label, 'rule': rec.config.get('algorithm'), 'seed': rec.config.get('seed'),
            'final_loss': rec.final_loss,
            'final_accuracy': math.nan if last_bad else rec.final_accuracy,
            'heldout_accuracy': rec.heldout_accuracy, 'heldout_loss': rec.heldout_loss,
            'heldout_size': rec.heldout_size,
            'cosine_to_bptt': ref_cos if is_ref else rec.mean_cosine,
            'rel_error_to_bptt': ref_err if is_ref else rec.mean_relative_error,
            'time_per_step_ms': rec.time_per_step * 1e3, 'compile_time_s': rec.compile_time,
            'trace_memory_bytes': rec.total_trace_memory, 'peak_memory_bytes': rec.peak_memory,
            'n_steps': rec.n_steps, 'status': _status(rec, n_steps),
            'diverged_at': rec.nonfinite_steps[0] if rec.diverged else None,
            'has_accuracy': rec.config.get('kind') != 'regression'}


def summary_row(label: str, rows: List[dict], level: float = INTERVAL_LEVEL) -> dict:
    """One rule over its seeds: means (NaN if one seed's value is not finite) and t-intervals."""
    first = rows[0]
    out = dict(first)
    out.update(n_seeds=len(rows), seeds=[r['seed'] for r in rows], intervals={}, per_seed={})
    if len(rows) > 1:
        out['seed'] = None                  # a summary of several seeds: see 'seeds'
    for key in SUMMARISED:
        values = [r[key] for r in rows]
        stats = t_interval(values, level)
        out[key] = stats['mean'] if len(rows) > 1 else first[key]
        out['intervals'][key] = {k: stats[k] for k in ('lo', 'hi', 'half_width')}
        out['per_seed'][key] = values
    times = [r['time_per_step_ms'] for r in rows if math.isfinite(r['time_per_step_ms'])]
    out['time_per_step_ms'] = float(np.mean(times)) if times else math.nan
    statuses = [r['status'] for r in rows]
    out['status'] = next((s for s in ('diverged', 'interrupted') if s in statuses), 'finished')
    diverged = [r for r in rows if r['status'] == 'diverged']
    out['diverged_at'] = diverged[0]['diverged_at'] if diverged else None
    out['n_steps'] = rows[-1]['n_steps']
    return out


def _curves(records: List[TrainingRecord], level: float) -> dict:
    """Mean curves over seeds, with ``band`` (t-interval per recorded step) and ``per_seed`` curves."""
    steps = sorted({s for rec in records for s in rec.steps})
    per_seed = {}
    for m in CURVE_METRICS:
        per_seed[m] = []
        for rec in records:
            at = dict(zip(rec.steps, getattr(rec, m)))
            per_seed[m].append([at.get(s, math.nan) for s in steps] if len(records) > 1 else list(getattr(rec, m)))
    out = {'steps': steps if len(records) > 1 else list(records[0].steps)}
    bands = {m: curve_band(per_seed[m], level) for m in CURVE_METRICS}
    for m in CURVE_METRICS:
        out[m] = bands[m]['mean'] if len(records) > 1 else list(per_seed[m][0])
    out['band'] = {m: {'lo': bands[m]['lo'], 'hi': bands[m]['hi']} for m in CURVE_METRICS}
    out['per_seed'] = per_seed
    out['seeds'] = [rec.config.get('seed') for rec in records]
    return out


def agreement_vs_accuracy(seed_rows: Dict[str, List[dict]], level: float = INTERVAL_LEVEL) -> dict:
    """Spearman's rho of mean cosine to the oracle and held-out accuracy over every (rule, seed) run.

    BPTT counts at cosine 1 (it is the oracle). On regression data the held-out loss stands
    in for the accuracy (a negative rho then means agreement goes with learning).
    """
    runs = [r for rows in seed_rows.values() for r in rows]
    regression = bool(runs) and not any(r['has_accuracy'] for r in runs)
    key = 'heldout_loss' if regression else 'heldout_accuracy'
    pairs = [{'algorithm': r['algorithm'], 'seed': r['seed'], 'cosine': r['cosine_to_bptt'], 'outcome': r[key]}
             for r in runs]
    out = spearman([p['cosine'] for p in pairs], [p['outcome'] for p in pairs], level)
    out.update(x='mean cosine to the oracle', y=key.replace('_', ' ').replace('heldout', 'held-out'), runs=pairs,
               oracle_counted=any(r.get('rule') == 'bptt' for r in runs))
    return out


@dataclasses.dataclass
class Comparison:
    """Result of :func:`~braintrace_lab.lab.compare_algorithms`: ``rows`` (one per rule), ``curves``, records.

    ``rows[i]`` holds the means over seeds (the values themselves for one seed), with
    ``intervals[key]`` (``lo``, ``hi``, ``half_width`` of the 95 % t-interval) and
    ``per_seed[key]``; ``seed_rows[label]`` and ``seed_records[label]`` keep every seed's
    row and :class:`TrainingRecord` (``records[label]`` is the first seed's). ``rows[i]['algorithm']``
    is the lab label that keys ``curves`` and ``records`` (``'pp_prop(0.9)'``);
    ``rows[i]['display_name']`` names the rule as the table, the report and the widgets do
    (``'ES-D-RTRL (a=0.9)'``, :mod:`.names`).

    >>> cmp = compare_algorithms(fixture_model('leaky', task, n_hidden=6), task, ('bptt', 'd_rtrl'),
    ...                          n_steps=4, batch_size=4, progress=False)
    >>> cmp.rows[1]['cosine_to_bptt'], cmp.curves['d_rtrl']['loss'][-1]
    >>> print(cmp.table())        # or cmp.to_html(), cmp.to_dict(), cmp.explain()
    """
    task: str
    rows: List[dict]
    curves: Dict[str, dict]
    records: Dict[str, TrainingRecord]
    config: dict
    interrupted: bool = False
    seed_records: Dict[str, List[TrainingRecord]] = dataclasses.field(default_factory=dict)
    seed_rows: Dict[str, List[dict]] = dataclasses.field(default_factory=dict)
    agreement_vs_accuracy: dict = dataclasses.field(default_factory=dict)
    explanation: List[str] = dataclasses.field(default_factory=list)

    @property
    def seeds(self) -> list:
        return list(self.config.get('seeds') or [self.config.get('seed')])

    def cells(self) -> tuple:
        """``(header, [formatted row, ...])`` shared by :meth:`table` and :meth:`to_html`."""
        return HEADER, [_cells(r) for r in self.rows]

    def notes(self) -> List[str]:
        """One line per run that diverged, and one if the comparison was interrupted."""
        many = len(self.seeds) > 1
        out = [f'{r.get("display_name") or r["algorithm"]}: diverged (non-finite loss or gradient) at step '
               f'{r["diverged_at"]}'
               + (f' (seed {r["seed"]})' if many else '')
               for rows in (self.seed_rows or {r['algorithm']: [r] for r in self.rows}).values()
               for r in rows if r.get('status') == 'diverged']
        if self.interrupted:
            done = ', '.join(f'{r.get("display_name") or r["algorithm"]} {r["n_steps"]}' for r in self.rows) or 'none'
            where = f' in seed {self.rows[0]["seeds"][-1]}' if many and self.rows else ''
            out.append(f'interrupted: the rows show the steps that finished ({done} of '
                       f'{self.config.get("n_steps")}){where}')
        return out

    def footer(self) -> List[str]:
        """What the numbers are: the interval, the held-out set, the agreement-accuracy correlation."""
        seeds, level = self.seeds, self.config.get('interval_level', INTERVAL_LEVEL)
        out = []
        if len(seeds) > 1:
            out.append(f'mean ± half-width of the {level * 100:g} % confidence interval over {len(seeds)} seeds '
                       f'{seeds} (Student\'s t, {len(seeds) - 1} degrees of freedom); every rule starts from the '
                       f'same initial weights and sees the same batches in each seed')
        size = max((r.get('heldout_size') or 0 for r in self.rows), default=0)
        out.append(f'acc(held-out): accuracy on {size} held-out sequences (the task\'s fixed evaluation set, never '
                   f'trained on); loss: the last training batch\'s' if size else
                   'acc(held-out): - (no held-out set: the data has none, or eval_size=0)')
        s = self.agreement_vs_accuracy
        if s:
            what = (f'Spearman rho between {s["x"]} and {s["y"]} over {s["n"]} runs (rule x seed'
                    + (', BPTT at cosine 1)' if s.get('oracle_counted') else ')'))
            if math.isfinite(s['rho']):
                ci = (f', {s["level"] * 100:g} % interval [{s["lo"]:+.2f}, {s["hi"]:+.2f}] (Fisher z)'
                      if math.isfinite(s['lo']) else f' ({s["reason"]})')
                out.append(f'agreement vs learning: rho = {s["rho"]:+.2f}{ci}; {what}')
            else:
                out.append(f'agreement vs learning: undefined ({s["reason"]}); {what}')
        return out

    def table(self) -> str:
        """A fixed-width text table of :attr:`rows`, then :meth:`footer` and :meth:`notes`."""
        head, body = self.cells()
        widths = [max(len(x[i]) for x in [head] + body) for i in range(len(head))]
        fmt = lambda line: '  '.join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths)))
        return '\n'.join([fmt(head), '-' * len(fmt(head))] + [fmt(x) for x in body] + self.footer() + self.notes())

    def explain(self) -> str:
        """The model in words and, per rule, whether it is exact on it and why."""
        return '\n'.join(self.explanation)

    def to_html(self) -> str:
        """The table as an HTML ``<table>`` (footer and notes in its ``<tfoot>``), then :meth:`explain`."""
        head, body = self.cells()
        th = ''.join(f'<th>{html.escape(c)}</th>' for c in head)
        cells = ['<tr>' + ''.join(f'<td>{html.escape(v)}</td>' for v in row) + '</tr>' for row in body]
        foot = ''.join(f'<tr><td colspan="{len(head)}">{html.escape(n)}</td></tr>'
                       for n in self.footer() + self.notes())
        foot = f'<tfoot>{foot}</tfoot>' if foot else ''
        why = ''.join(f'<p class="note">{html.escape(line)}</p>' for line in self.explanation)
        why = f'<div class="btl-explain">{why}</div>' if why else ''
        return (f'<table class="btl-table"><thead><tr>{th}</tr></thead><tbody>{"".join(cells)}</tbody>'
                f'{foot}</table>{why}')

    def to_dict(self) -> dict:
        """JSON-ready: rows, curves (``band`` and ``per_seed`` included), every seed's rows and records."""
        return {'task': self.task, 'rows': [dict(r) for r in self.rows], 'curves': self.curves,
                'config': dict(self.config), 'interrupted': self.interrupted, 'seeds': self.seeds,
                'records': {k: v.to_dict() for k, v in self.records.items()},
                'seed_rows': {k: [dict(r) for r in v] for k, v in self.seed_rows.items()},
                'seed_records': {k: [r.to_dict() for r in v] for k, v in self.seed_records.items()},
                'agreement_vs_accuracy': dict(self.agreement_vs_accuracy), 'explanation': list(self.explanation),
                'interval': {'level': self.config.get('interval_level', INTERVAL_LEVEL),
                             'method': "Student's t over seeds, K - 1 degrees of freedom"}}

    def __repr__(self) -> str:
        return f'Comparison({self.task}: {", ".join(self.records)})\n{self.table()}'

    __str__ = __repr__


def build_comparison(task: str, seed_records: Dict[str, List[TrainingRecord]], config: dict,
                     n_steps: Optional[int] = None, interrupted: bool = False, model_factory=None) -> Comparison:
    """A :class:`Comparison` from every rule's records, one per seed, in seed order."""
    level = config.get('interval_level', INTERVAL_LEVEL)
    seed_records = {k: list(v) for k, v in seed_records.items() if v}
    seed_rows = {k: [seed_row(k, rec, n_steps) for rec in v] for k, v in seed_records.items()}
    titles = display_names(seed_rows, config.get('algorithms', []))
    for k, v in seed_rows.items():
        for r in v:
            r['display_name'] = titles[k]
    rows = [summary_row(k, v, level) for k, v in seed_rows.items()]
    curves = {k: _curves(v, level) for k, v in seed_records.items()}
    records = {k: v[0] for k, v in seed_records.items()}
    return Comparison(task, rows, curves, records, dict(config), interrupted, seed_records, seed_rows,
                      agreement_vs_accuracy(seed_rows, level), explain_rules(seed_records, model_factory))
