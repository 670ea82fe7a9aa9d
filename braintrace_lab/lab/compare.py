"""Compare learning rules side by side: same model, same task, same seed, same batches.

Each algorithm trains a fresh copy of the model (same initial weights) on the same
batch stream; trainers advance in lock step, so live curves grow together. On recorded
steps every online rule is checked against BPTT on the same batch and weights.

A rule whose loss or gradient goes non-finite stops (the others go on) and its row reads
``diverged``; ``-`` in the table only ever means "not applicable". Ctrl-C raises
:class:`~braintrace_lab.lab.TrainingInterrupted` whose ``.comparison`` holds the finished
rows (``interrupted=True``). With ``checkpoint=FOLDER`` every rule writes a checkpoint every
``checkpoint_every`` steps and when it is done; ``resume=True`` continues the comparison,
skipping the rules already done (their rows come from their checkpoints).

>>> cmp = compare_algorithms(fixture_model('lif', task), task, n_steps=100, seed=0)
>>> print(cmp.table())
>>> cmp.rows[0]['cosine_to_bptt'], cmp.curves['d_rtrl']['loss']
"""
from __future__ import annotations

import dataclasses
import math
import os
import re
import time
from typing import Callable, Dict, List, Optional, Sequence

from .checkpoint import (prepare_comparison_dir, read_checkpoint, record_from_payload, rule_checkpoint_path,
                         save_trainer, write_manifest)
from .faults import NonFiniteError, TrainingInterrupted, check_n_steps, check_on_nonfinite, check_positive_int
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
    algorithms = list(algorithms)
    if not algorithms:
        raise ValueError('algorithms is empty: give at least one rule, e.g. algorithms=("bptt", "d_rtrl").')
    for a in algorithms:
        label = None
        if isinstance(a, str):
            name, opts = a, {}
        elif isinstance(a, dict):
            opts = dict(a)
            name, label = opts.pop('algorithm'), opts.pop('label', None)
        else:
            name, opts = a[0], dict(a[1]) if len(a) > 1 else {}
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f'algorithm name {name!r} is empty or not a string: give names such as "bptt", '
                             f'"d_rtrl" or ("pp_prop", {{"decay_or_rank": 0.9}}).')
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
    interrupted: bool = False

    def cells(self) -> tuple:
        """``(header, [formatted row, ...])`` shared by :meth:`table` and :meth:`to_html`."""
        return HEADER, [_cells(r) for r in self.rows]

    def notes(self) -> List[str]:
        """One line per rule that diverged, and one if the comparison was interrupted."""
        out = [f'{r["algorithm"]}: diverged (non-finite loss or gradient) at step {r["diverged_at"]}'
               for r in self.rows if r.get('status') == 'diverged']
        if self.interrupted:
            done = ', '.join(f'{r["algorithm"]} {r["n_steps"]}' for r in self.rows) or 'none'
            out.append(f'interrupted: the rows show the steps that finished ({done} of '
                       f'{self.config.get("n_steps")})')
        return out

    def table(self) -> str:
        """A fixed-width text table of :attr:`rows` (and :meth:`notes` under it)."""
        head, body = self.cells()
        widths = [max(len(x[i]) for x in [head] + body) for i in range(len(head))]
        fmt = lambda line: '  '.join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths)))
        return '\n'.join([fmt(head), '-' * len(fmt(head))] + [fmt(x) for x in body] + self.notes())

    def to_html(self) -> str:
        """The table as an HTML ``<table>`` (for exported notebooks), notes in its footer."""
        import html
        head, body = self.cells()
        th = ''.join(f'<th>{html.escape(c)}</th>' for c in head)
        cells = ['<tr>' + ''.join(f'<td>{html.escape(v)}</td>' for v in row) + '</tr>' for row in body]
        foot = ''.join(f'<tr><td colspan="{len(head)}">{html.escape(n)}</td></tr>' for n in self.notes())
        foot = f'<tfoot>{foot}</tfoot>' if foot else ''
        return (f'<table class="btl-table"><thead><tr>{th}</tr></thead><tbody>{"".join(cells)}</tbody>'
                f'{foot}</table>')

    def to_dict(self) -> dict:
        return {'task': self.task, 'rows': [dict(r) for r in self.rows], 'curves': self.curves,
                'config': dict(self.config), 'interrupted': self.interrupted,
                'records': {k: v.to_dict() for k, v in self.records.items()}}

    def __repr__(self) -> str:
        return f'Comparison({self.task}: {", ".join(self.records)})\n{self.table()}'

    __str__ = __repr__


def _f(v, spec, missing: str = '-') -> str:
    """``v`` formatted; ``missing`` for None, NaN or infinity."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return missing
    return format(v, spec)


HEADER = ('algorithm', 'loss', 'accuracy', 'cos(BPTT)', 'rel.err', 'ms/step', 'trace mem', 'peak mem')


def _cells(r: dict) -> tuple:
    """A row's table cells: a diverged rule's missing metrics read ``diverged``, never ``-``."""
    miss = 'diverged' if r.get('status') == 'diverged' else '-'
    acc_miss = miss if r.get('has_accuracy', True) else '-'      # regression: accuracy does not apply
    return (r['algorithm'], _f(r['final_loss'], '.4g', miss), _f(r['final_accuracy'], '.3f', acc_miss),
            _f(r['cosine_to_bptt'], '.4f', miss), _f(r['rel_error_to_bptt'], '.3g', miss),
            _f(r['time_per_step_ms'], '.3g'), fmt_bytes(r['trace_memory_bytes']),
            fmt_bytes(r['peak_memory_bytes']))


def _row(label: str, rec: TrainingRecord, n_steps: Optional[int] = None) -> dict:
    """The comparison row of one rule; ``status`` is ``finished``, ``diverged`` or ``interrupted``."""
    is_ref = rec.config.get('algorithm') == 'bptt'
    status = 'diverged' if rec.diverged else \
        'interrupted' if rec.interrupted or (n_steps is not None and rec.n_steps < n_steps) else 'finished'
    last_bad = bool(rec.steps) and rec.steps[-1] in rec.nonfinite_steps
    ref_cos, ref_err = (math.nan, math.nan) if rec.diverged else (1.0, 0.0)
    return {'algorithm': label, 'final_loss': rec.final_loss,
            'final_accuracy': math.nan if last_bad else rec.final_accuracy,
            'cosine_to_bptt': ref_cos if is_ref else rec.mean_cosine,
            'rel_error_to_bptt': ref_err if is_ref else rec.mean_relative_error,
            'time_per_step_ms': rec.time_per_step * 1e3, 'compile_time_s': rec.compile_time,
            'trace_memory_bytes': rec.total_trace_memory, 'peak_memory_bytes': rec.peak_memory,
            'n_steps': rec.n_steps, 'status': status,
            'diverged_at': rec.nonfinite_steps[0] if rec.diverged else None,
            'has_accuracy': rec.config.get('kind') != 'regression'}


def _curves(rec: TrainingRecord) -> dict:
    return {'steps': list(rec.steps), 'loss': list(rec.loss), 'accuracy': list(rec.accuracy),
            'cosine': list(rec.cosine), 'relative_error': list(rec.relative_error)}


def _plain(obj) -> str:
    """``repr(obj)`` without memory addresses (stable from one process to the next)."""
    return re.sub(r' at 0x[0-9a-fA-F]+', '', repr(obj))


def compare_algorithms(model_factory: Callable, task, algorithms: Sequence = ('bptt', 'd_rtrl', 'pp_prop'),
                       n_steps: int = 100, seed: int = 0, batch_size: int = 16, optimizer=1e-2,
                       record_every: Optional[int] = None, oracle: Optional[str] = 'bptt',
                       progress: bool = True, on_step: Optional[Callable] = None, T: int = 20,
                       measure_memory: bool = True, check_liveness: bool = True,
                       chunk: Optional[int] = None, on_nonfinite: str = 'stop', checkpoint=None,
                       checkpoint_every: Optional[int] = None, resume: bool = False) -> Comparison:
    """Train each algorithm on a fresh model from ``model_factory`` and compare them.

    ``model_factory(batch_size[, seed])`` returns a new model with initialised batched
    states (e.g. :func:`fixture_model`); ``algorithms`` are names or ``(name, options)``
    pairs (``pp_prop`` defaults to decay 0.9). ``optimizer`` is a learning rate or a
    zero-argument factory (each learner gets its own optimizer). ``on_step(label, row)``
    observes every recorded row. Cosine and relative error are means over recorded steps.
    ``chunk=K`` gives the online rules ``etrace_grad(chunk=K)``'s order of the same sum.

    ``on_nonfinite``: ``'stop'`` (a rule whose loss or gradient goes non-finite stops, its
    row reads ``diverged``, the others go on), ``'record'`` (it goes on, skipping such
    updates) or ``'raise'`` (:class:`NonFiniteError` with ``.comparison``). Ctrl-C raises
    :class:`TrainingInterrupted` with ``.comparison`` (the finished rows). ``checkpoint=FOLDER``
    keeps one checkpoint per rule (every ``checkpoint_every`` steps and when the rule is
    done); ``resume=True`` continues the comparison saved there with the same settings.

    >>> cmp = compare_algorithms(fixture_model('leaky', task), task, n_steps=60, progress=False)
    >>> [r['algorithm'] for r in cmp.rows]
    ['bptt', 'd_rtrl', 'pp_prop(0.9)']
    """
    from tqdm.auto import tqdm
    specs = parse_algorithms(algorithms)
    n_steps = check_n_steps(n_steps)
    check_on_nonfinite(on_nonfinite, ('stop', 'record', 'raise'))
    record_every = int(record_every or max(1, n_steps // 20))
    if checkpoint_every is not None:
        check_positive_int(checkpoint_every, 'checkpoint_every', 10)
    if checkpoint is None and (resume or checkpoint_every is not None):
        raise ValueError('resume= and checkpoint_every= need checkpoint=FOLDER (where the rules\' checkpoints are).')
    config = {'algorithms': [list(s) for s in specs], 'n_steps': n_steps, 'seed': seed,
              'batch_size': batch_size, 'record_every': record_every, 'oracle': oracle, 'chunk': chunk}
    if checkpoint is not None:
        manifest = prepare_comparison_dir(checkpoint, dict(config, task=getattr(task, 'name', _plain(task)), T=T,
                                                           model=_plain(model_factory), optimizer=_plain(optimizer)),
                                          resume)
    trainers: Dict[str, Trainer] = {}
    done: Dict[str, TrainingRecord] = {}           # rules finished in an earlier session (resume)
    stopped = set()
    t_start = time.perf_counter()

    def comparison(interrupted=False) -> Comparison:
        records = {}
        for label, *_ in specs:
            rec = done.get(label) or (trainers[label].record if label in trainers else None)
            if rec is not None and (rec.steps or not interrupted):
                records[label] = rec
        cfg = dict(config, wall_time_s=time.perf_counter() - t_start)
        name = getattr(task, 'name', None) or next((r.task for r in records.values()), str(task))
        return Comparison(name, [_row(k, r, n_steps) for k, r in records.items()],
                          {k: _curves(v) for k, v in records.items()}, records, cfg, interrupted)

    try:
        for index, (label, name, opts) in enumerate(specs):
            path = None if checkpoint is None else rule_checkpoint_path(checkpoint, index, label)
            saved = path is not None and resume and os.path.exists(path)
            payload = read_checkpoint(path) if saved else None
            if payload is not None and payload.get('finished'):
                done[label] = record_from_payload(payload)     # done in an earlier session: not trained again
                continue
            factory = LearnerFactory(model_factory, name, seed=seed, **opts)
            cb = (lambda row, _label=label: on_step(_label, row)) if on_step is not None else None
            tr = Trainer(factory, task, optimizer=optimizer() if callable(optimizer) else optimizer,
                         batch_size=batch_size, seed=seed, record_every=record_every,
                         oracle=None if name == 'bptt' else oracle, on_step=cb, label=label, T=T,
                         measure_memory=measure_memory, check_liveness=check_liveness and not trainers,
                         chunk=chunk, on_nonfinite='record' if on_nonfinite == 'record' else 'raise',
                         checkpoint=path, checkpoint_every=checkpoint_every, resume=path if saved else None)
            tr.record.config['algorithm'] = name
            tr.record.config['options'] = dict(opts)
            tr._last_step = n_steps - 1
            if check_liveness and trainers and not saved:
                tr.record.warnings.extend(next(iter(trainers.values())).record.warnings)
            trainers[label] = tr
        if checkpoint is not None and not resume:
            write_manifest(checkpoint, manifest)              # once every rule could be built
        bar = tqdm(total=sum(n_steps - tr.step_index for tr in trainers.values()), desc='compare',
                   disable=not progress)
        try:
            while True:
                live = [(k, tr) for k, tr in trainers.items() if k not in stopped and tr.step_index < n_steps]
                if not live:
                    break
                for label, tr in live:
                    try:
                        tr.step()
                    except NonFiniteError as err:
                        if on_nonfinite == 'raise':
                            err.comparison = comparison()
                            raise
                        stopped.add(label)
                        if tr.checkpoint is not None:
                            save_trainer(tr, tr.checkpoint, finished=True)
                    bar.update(1)
        finally:
            bar.close()
    except TrainingInterrupted:
        raise
    except KeyboardInterrupt as err:
        for label, tr in trainers.items():
            tr.record.interrupted = label not in stopped and tr.step_index < n_steps
        partial = comparison(interrupted=True)
        where = f'; continue it with checkpoint={os.fspath(checkpoint)!r}, resume=True' if checkpoint else ''
        raise TrainingInterrupted(f'comparison interrupted: .comparison holds the {len(partial.rows)} rule(s) '
                                  f'with finished steps{where}.', comparison=partial) from err
    for tr in trainers.values():
        tr.finish()
    return comparison()
