"""Compare learning rules side by side: same model, same task, same seed, same batches.

Each algorithm trains a fresh copy of the model (same initial weights) on the same
batch stream; trainers advance in lock step, so live curves grow together. On recorded
steps every online rule is checked against BPTT on the same batch and weights.

>>> cmp = compare_algorithms(fixture_model('lif', task), task, n_steps=100, seed=0)
>>> print(cmp.table())
>>> cmp.rows[0]['cosine_to_bptt'], cmp.curves['d_rtrl']['loss']
"""
from __future__ import annotations

import dataclasses
import math
import time
from typing import Callable, Dict, List, Optional, Sequence

from .learners import LearnerFactory, algorithm_label
from .record import TrainingRecord, fmt_bytes
from .runner import Trainer

__all__ = ['Comparison', 'compare_algorithms', 'parse_algorithms']

COLUMNS = ('algorithm', 'final_loss', 'final_accuracy', 'cosine_to_bptt', 'rel_error_to_bptt',
           'time_per_step_ms', 'trace_memory_bytes', 'peak_memory_bytes')


def parse_algorithms(algorithms) -> List[tuple]:
    """``[(label, name, options)]`` from names, ``(name, options)`` pairs or dicts.

    >>> parse_algorithms(['bptt', ('pp_prop', {'decay_or_rank': 0.5})])
    [('bptt', 'bptt', {}), ('pp_prop(0.5)', 'pp_prop', {'decay_or_rank': 0.5})]
    """
    if isinstance(algorithms, str):
        algorithms = [algorithms]
    out = []
    for a in algorithms:
        label = None
        if isinstance(a, str):
            name, opts = a, {}
        elif isinstance(a, dict):
            opts = dict(a)
            name, label = opts.pop('algorithm'), opts.pop('label', None)
        else:
            name, opts = a[0], dict(a[1]) if len(a) > 1 else {}
        name = name.strip().lower().replace('-', '_')
        if name in ('pp_prop', 'es_d_rtrl') and 'decay_or_rank' not in opts:
            opts['decay_or_rank'] = 0.9
        out.append((label or algorithm_label(name, opts), name, opts))
    labels = [x[0] for x in out]
    if len(set(labels)) != len(labels):
        raise ValueError(f'algorithms must be distinct, got {labels}.')
    return out


@dataclasses.dataclass
class Comparison:
    """Result of :func:`compare_algorithms`: ``rows`` (list of dicts), ``curves`` and the records.

    >>> cmp.rows[1]['cosine_to_bptt'], cmp.curves['d_rtrl']['loss'][-1]
    >>> print(cmp.table())        # or cmp.to_html(), cmp.to_dict()
    """
    task: str
    rows: List[dict]
    curves: Dict[str, dict]
    records: Dict[str, TrainingRecord]
    config: dict

    def cells(self) -> tuple:
        """``(header, [formatted row, ...])`` shared by :meth:`table` and :meth:`to_html`."""
        return HEADER, [_cells(r) for r in self.rows]

    def table(self) -> str:
        """A fixed-width text table of :attr:`rows`."""
        head, body = self.cells()
        widths = [max(len(x[i]) for x in [head] + body) for i in range(len(head))]
        fmt = lambda line: '  '.join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths)))
        return '\n'.join([fmt(head), '-' * len(fmt(head))] + [fmt(x) for x in body])

    def to_html(self) -> str:
        """The table as an HTML ``<table>`` (for exported notebooks)."""
        import html
        head, body = self.cells()
        th = ''.join(f'<th>{html.escape(c)}</th>' for c in head)
        cells = ['<tr>' + ''.join(f'<td>{html.escape(v)}</td>' for v in row) + '</tr>' for row in body]
        return f'<table class="btl-table"><thead><tr>{th}</tr></thead><tbody>{"".join(cells)}</tbody></table>'

    def to_dict(self) -> dict:
        return {'task': self.task, 'rows': [dict(r) for r in self.rows], 'curves': self.curves,
                'config': dict(self.config), 'records': {k: v.to_dict() for k, v in self.records.items()}}

    def __repr__(self) -> str:
        return f'Comparison({self.task}: {", ".join(self.records)})\n{self.table()}'

    __str__ = __repr__


def _f(v, spec) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return '-'
    return format(v, spec)


HEADER = ('algorithm', 'loss', 'accuracy', 'cos(BPTT)', 'rel.err', 'ms/step', 'trace mem', 'peak mem')


def _cells(r: dict) -> tuple:
    return (r['algorithm'], _f(r['final_loss'], '.4g'), _f(r['final_accuracy'], '.3f'),
            _f(r['cosine_to_bptt'], '.4f'), _f(r['rel_error_to_bptt'], '.3g'),
            _f(r['time_per_step_ms'], '.3g'), fmt_bytes(r['trace_memory_bytes']),
            fmt_bytes(r['peak_memory_bytes']))


def _row(label: str, rec: TrainingRecord) -> dict:
    is_ref = rec.config.get('algorithm') == 'bptt'
    return {'algorithm': label, 'final_loss': rec.final_loss, 'final_accuracy': rec.final_accuracy,
            'cosine_to_bptt': 1.0 if is_ref else rec.mean_cosine,
            'rel_error_to_bptt': 0.0 if is_ref else rec.mean_relative_error,
            'time_per_step_ms': rec.time_per_step * 1e3, 'compile_time_s': rec.compile_time,
            'trace_memory_bytes': rec.total_trace_memory, 'peak_memory_bytes': rec.peak_memory,
            'n_steps': rec.n_steps}


def _curves(rec: TrainingRecord) -> dict:
    return {'steps': list(rec.steps), 'loss': list(rec.loss), 'accuracy': list(rec.accuracy),
            'cosine': list(rec.cosine), 'relative_error': list(rec.relative_error)}


def compare_algorithms(model_factory: Callable, task, algorithms: Sequence = ('bptt', 'd_rtrl', 'pp_prop'),
                       n_steps: int = 100, seed: int = 0, batch_size: int = 16, optimizer=1e-2,
                       record_every: Optional[int] = None, oracle: Optional[str] = 'bptt',
                       progress: bool = True, on_step: Optional[Callable] = None, T: int = 20,
                       measure_memory: bool = True, check_liveness: bool = True,
                       chunk: Optional[int] = None) -> Comparison:
    """Train each algorithm on a fresh model from ``model_factory`` and compare them.

    ``model_factory(batch_size[, seed])`` returns a new model with initialised batched
    states (e.g. :func:`fixture_model`); ``algorithms`` are names or ``(name, options)``
    pairs (``pp_prop`` defaults to decay 0.9). ``optimizer`` is a learning rate or a
    zero-argument factory (each learner gets its own optimizer). ``on_step(label, row)``
    observes every recorded row. Cosine and relative error are means over recorded steps.
    ``chunk=K`` gives the online rules ``etrace_grad(chunk=K)``'s order of the same sum.

    >>> cmp = compare_algorithms(fixture_model('leaky', task), task, n_steps=60, progress=False)
    >>> [r['algorithm'] for r in cmp.rows]
    ['bptt', 'd_rtrl', 'pp_prop(0.9)']
    """
    from tqdm.auto import tqdm
    specs = parse_algorithms(algorithms)
    n_steps = int(n_steps)
    record_every = int(record_every or max(1, n_steps // 20))
    trainers: Dict[str, Trainer] = {}
    for label, name, opts in specs:
        factory = LearnerFactory(model_factory, name, seed=seed, **opts)
        cb = (lambda row, _label=label: on_step(_label, row)) if on_step is not None else None
        tr = Trainer(factory, task, optimizer=optimizer() if callable(optimizer) else optimizer,
                     batch_size=batch_size, seed=seed, record_every=record_every,
                     oracle=None if name == 'bptt' else oracle, on_step=cb, label=label, T=T,
                     measure_memory=measure_memory, check_liveness=check_liveness and not trainers,
                     chunk=chunk)
        tr.record.config['algorithm'] = name
        tr.record.config['options'] = dict(opts)
        tr._last_step = n_steps - 1
        trainers[label] = tr
        if check_liveness and len(trainers) > 1:
            tr.record.warnings.extend(next(iter(trainers.values())).record.warnings)
    t_start = time.perf_counter()
    bar = tqdm(total=n_steps * len(trainers), desc='compare', disable=not progress)
    try:
        for _ in range(n_steps):
            for tr in trainers.values():
                tr.step()
                bar.update(1)
    finally:
        bar.close()
    records = {label: tr.finish() for label, tr in trainers.items()}
    rows = [_row(label, rec) for label, rec in records.items()]
    first = next(iter(trainers.values()))
    config = {'algorithms': [list(s) for s in specs], 'n_steps': n_steps, 'seed': seed,
              'batch_size': batch_size, 'record_every': record_every, 'oracle': oracle, 'chunk': chunk,
              'wall_time_s': time.perf_counter() - t_start}
    return Comparison(first.source.name, rows, {k: _curves(v) for k, v in records.items()}, records, config)

