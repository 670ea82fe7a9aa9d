"""``TrainingRecord``: what a training run measured, as plain lists and dicts.

One row per recorded step (every ``record_every`` steps and the last): loss, accuracy,
eligibility-trace and learning-signal magnitudes per parameter, gradient norms and,
with an oracle, the cosine and relative error of the learner's gradient to it:

.. math:: \\cos = \\frac{\\langle g, g^* \\rangle}{\\|g\\| \\|g^*\\|}, \\qquad
          \\mathrm{rel} = \\frac{\\|g - g^*\\|}{\\|g^*\\|}.

A step whose loss or gradient was not finite is a row marked ``nonfinite`` (its index in
``nonfinite_steps``); summaries over the rows (:attr:`TrainingRecord.mean_cosine`,
:attr:`TrainingRecord.mean_relative_error`) are NaN as soon as one recorded value is not
finite, so a failure is never averaged away (:meth:`TrainingRecord.count_nonfinite` says
how many were; ``np.nanmean`` averages the finite ones on purpose).

>>> record = train(factory, task, n_steps=50, progress=False)
>>> record.final_loss, record.time_per_step, record.to_dict()['loss'][:3]
"""
from __future__ import annotations

import dataclasses
import math
from typing import Dict, List, Optional

import numpy as np

__all__ = ['TrainingRecord']


def _median(xs):
    return float(np.median(xs)) if len(xs) else float('nan')


def _fmt_bytes(n) -> str:
    if n is None:
        return 'n/a'
    for unit in ('B', 'KiB', 'MiB', 'GiB'):
        if abs(n) < 1024 or unit == 'GiB':
            return f'{n:.0f} {unit}' if unit == 'B' else f'{n:.1f} {unit}'
        n /= 1024.0


@dataclasses.dataclass
class TrainingRecord:
    """Measurements of one training run (plain Python data: lists, dicts, floats).

    ``steps[i]`` is the step index of row ``i``; ``loss``, ``accuracy``, ``cosine``,
    ``relative_error`` and every list inside ``trace_norms`` / ``signal_norms`` /
    ``grad_norms`` / ``param_agreement`` are aligned with it. ``step_times`` has the
    wall time of every step (seconds); ``compile_steps`` the steps that compiled.
    ``heldout_loss`` / ``heldout_accuracy`` are measured once, after training, on
    ``heldout_size`` held-out sequences (NaN until then, or when the data has none).
    ``nonfinite_steps`` lists the steps whose loss or gradient was not finite (each has a
    row, marked ``nonfinite``); ``interrupted`` is set when Ctrl-C stopped the run early.

    >>> record = train(factory, task, n_steps=10, record_every=5, oracle='bptt', progress=False)
    >>> record.final_loss, record.mean_cosine, record.time_per_step
    (...)
    >>> record.rows()[0]          # {'step': 0, 'loss': ..., 'trace_norm[w]': ...}
    {'step': 0, ...}
    """
    algorithm: str
    task: str = ''
    oracle: Optional[str] = None
    steps: List[int] = dataclasses.field(default_factory=list)
    loss: List[float] = dataclasses.field(default_factory=list)
    accuracy: List[float] = dataclasses.field(default_factory=list)
    trace_norms: Dict[str, List[float]] = dataclasses.field(default_factory=dict)
    signal_norms: Dict[str, List[float]] = dataclasses.field(default_factory=dict)
    grad_norms: Dict[str, List[float]] = dataclasses.field(default_factory=dict)
    cosine: List[float] = dataclasses.field(default_factory=list)
    relative_error: List[float] = dataclasses.field(default_factory=list)
    param_agreement: Dict[str, Dict[str, List[float]]] = dataclasses.field(default_factory=dict)
    step_times: List[float] = dataclasses.field(default_factory=list)
    compile_steps: List[int] = dataclasses.field(default_factory=list)
    oracle_times: List[float] = dataclasses.field(default_factory=list)
    trace_memory: Dict[str, int] = dataclasses.field(default_factory=dict)
    peak_memory: Optional[int] = None
    n_compiles: int = 0
    warnings: List[str] = dataclasses.field(default_factory=list)
    config: dict = dataclasses.field(default_factory=dict)
    nonfinite_steps: List[int] = dataclasses.field(default_factory=list)
    interrupted: bool = False
    heldout_loss: float = math.nan
    heldout_accuracy: float = math.nan
    heldout_size: int = 0

    # ------------------------------------------------------------------ building
    def append(self, row: dict) -> None:
        """Add one recorded row (as passed to ``on_step`` callbacks)."""
        n = len(self.steps)
        if row.get('nonfinite'):
            self.nonfinite_steps.append(int(row['step']))
        self.steps.append(int(row['step']))
        self.loss.append(float(row['loss']))
        self.accuracy.append(float(row['accuracy']))
        self.cosine.append(_opt(row.get('cosine')))
        self.relative_error.append(_opt(row.get('relative_error')))
        for name in ('trace_norms', 'signal_norms', 'grad_norms'):
            table = getattr(self, name)
            for p, v in (row.get(name) or {}).items():
                table.setdefault(p, [math.nan] * n).append(float(v))
            for vals in table.values():
                if len(vals) < n + 1:
                    vals.append(math.nan)
        for p, d in (row.get('agreement') or {}).items():
            slot = self.param_agreement.setdefault(p, {'cosine': [math.nan] * n, 'relative_error': [math.nan] * n})
            slot['cosine'].append(float(d['cosine']))
            slot['relative_error'].append(float(d['relative_error']))
        for slot in self.param_agreement.values():
            for vals in slot.values():
                if len(vals) < n + 1:
                    vals.append(math.nan)

    # ------------------------------------------------------------------ summaries
    @property
    def n_steps(self) -> int:
        return len(self.step_times)

    @property
    def final_loss(self) -> float:
        return self.loss[-1] if self.loss else math.nan

    @property
    def final_accuracy(self) -> float:
        return self.accuracy[-1] if self.accuracy else math.nan

    @property
    def time_per_step(self) -> float:
        """Median wall time of a training step in seconds, compiling steps excluded."""
        skip = set(self.compile_steps)
        times = [t for i, t in enumerate(self.step_times) if i not in skip]
        return _median(times if times else self.step_times)

    @property
    def compile_time(self) -> float:
        """Seconds spent compiling: the compiling steps minus an ordinary step each."""
        base = self.time_per_step
        extra = sum(self.step_times[i] - base for i in self.compile_steps if i < len(self.step_times))
        return max(float(extra), 0.0) if not math.isnan(base) else math.nan

    @property
    def diverged(self) -> bool:
        """Whether any step had a non-finite loss or gradient."""
        return bool(self.nonfinite_steps)

    @property
    def mean_cosine(self) -> float:
        """Mean cosine to the oracle over the recorded rows; NaN without an oracle or when one is not finite."""
        return _mean_all_finite(self.cosine)

    @property
    def mean_relative_error(self) -> float:
        """Mean relative error to the oracle; NaN without an oracle or when one value is not finite."""
        return _mean_all_finite(self.relative_error)

    def count_nonfinite(self, name: str = 'cosine') -> int:
        """How many recorded values of ``name`` (``'loss'``, ``'cosine'``, ...) are NaN or infinite."""
        values = getattr(self, name, None) if name in _PER_ROW else None
        if values is None:
            raise ValueError(f'count_nonfinite({name!r}): give one of the per-row lists: {", ".join(_PER_ROW)}.')
        return sum(1 for v in values if not math.isfinite(v))

    @property
    def total_trace_memory(self) -> int:
        return int(sum(self.trace_memory.values()))

    def rows(self) -> List[dict]:
        """The recorded rows as a list of flat dicts (one per recorded step)."""
        out, bad = [], set(self.nonfinite_steps)
        for i, s in enumerate(self.steps):
            row = {'step': s, 'loss': self.loss[i], 'accuracy': self.accuracy[i], 'cosine': self.cosine[i],
                   'relative_error': self.relative_error[i], 'nonfinite': s in bad}
            for name in ('trace_norms', 'signal_norms', 'grad_norms'):
                for p, vals in getattr(self, name).items():
                    row[f'{name[:-6]}_norm[{p}]'] = vals[i]
            out.append(row)
        return out

    def to_dict(self) -> dict:
        """JSON-ready dict (NaN stays NaN; use ``allow_nan`` JSON or replace it)."""
        d = dataclasses.asdict(self)
        d.update(time_per_step=self.time_per_step, compile_time=self.compile_time,
                 final_loss=self.final_loss, final_accuracy=self.final_accuracy,
                 mean_cosine=self.mean_cosine, mean_relative_error=self.mean_relative_error,
                 diverged=self.diverged, total_trace_memory=self.total_trace_memory)
        return d

    def __repr__(self) -> str:
        acc = '' if math.isnan(self.final_accuracy) else f', accuracy {self.final_accuracy:.3f}'
        lines = [f'TrainingRecord({self.algorithm} on {self.task or "data"}: {self.n_steps} steps, '
                 f'{len(self.steps)} rows)',
                 f'  final loss {self.final_loss:.4g}{acc}',
                 f'  time per step {self.time_per_step * 1e3:.3g} ms (compile {self.compile_time:.2g} s, '
                 f'{self.n_compiles} compile(s))',
                 f'  trace memory {_fmt_bytes(self.total_trace_memory)}'
                 + (f', peak memory {_fmt_bytes(self.peak_memory)}' if self.peak_memory else '')]
        if self.heldout_size:
            acc = '' if math.isnan(self.heldout_accuracy) else f', accuracy {self.heldout_accuracy:.3f}'
            lines.append(f'  held-out ({self.heldout_size} sequences): loss {self.heldout_loss:.4g}{acc}')
        if self.oracle:
            lines.append(f'  vs {self.oracle}: mean cosine {self.mean_cosine:.4f}, mean relative error '
                         f'{self.mean_relative_error:.3g}')
        if self.diverged:
            lines.append(f'  diverged: {len(self.nonfinite_steps)} non-finite step(s), the first at step '
                         f'{self.nonfinite_steps[0]}')
        if self.interrupted:
            lines.append(f'  interrupted after {self.n_steps} steps')
        lines += [f'  warning: {w}' for w in self.warnings]
        return '\n'.join(lines)

    __str__ = __repr__


_PER_ROW = ('loss', 'accuracy', 'cosine', 'relative_error')


def _mean_all_finite(values) -> float:
    """The mean of ``values``; NaN when there are none or one of them is NaN or infinite."""
    if not values or not all(math.isfinite(v) for v in values):
        return math.nan
    return float(np.mean(values))


def _opt(v) -> float:
    return math.nan if v is None else float(v)


fmt_bytes = _fmt_bytes
