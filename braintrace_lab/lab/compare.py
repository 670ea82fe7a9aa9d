"""Compare learning rules side by side: same model, same task, same seeds, same batches.

Each algorithm trains a fresh copy of the model (same initial weights) on the same
batch stream; trainers advance in lock step, so live curves grow together. On recorded
steps every online rule is checked against BPTT on the same batch and weights. After
training, every rule is scored on the task's held-out evaluation set.

``seeds=K`` repeats this for seeds ``seed, seed + 1, ..., seed + K - 1`` (initial weights
and batch stream both follow the seed, the same for every rule); each row then holds the
mean over seeds and a 95 % Student-t interval (:mod:`.comparison`). A rule is compiled
once and restarted for each further seed (:mod:`.seeds`), so extra seeds cost training
steps, not compilations.

A rule whose loss or gradient goes non-finite stops (the others go on) and its row reads
``diverged``; ``-`` in the table only ever means "not applicable". Ctrl-C raises
:class:`~braintrace_lab.lab.TrainingInterrupted` whose ``.comparison`` holds the finished
rows (``interrupted=True``). With ``checkpoint=FOLDER`` every rule writes a checkpoint every
``checkpoint_every`` steps and when it is done (one per rule and seed); ``resume=True``
continues the comparison, skipping the runs already done (their rows come from their
checkpoints).

>>> cmp = compare_algorithms(fixture_model('lif', task), task, n_steps=100, seeds=3)
>>> print(cmp.table())
>>> cmp.rows[0]['heldout_accuracy'], cmp.seed_records['d_rtrl'][1], cmp.curves['d_rtrl']['band']
"""
from __future__ import annotations

import os
import re
import time
from typing import Callable, Dict, List, Optional, Sequence

from ..rules_table import find, rule_key
from .checkpoint import (prepare_comparison_dir, read_checkpoint, record_from_payload, rule_checkpoint_path,
                         save_trainer, write_manifest)
from .comparison import COLUMNS, Comparison, build_comparison
from .comparison import _cells, seed_row as _row         # noqa: F401  (the row helpers, for tests)
from .data import as_source
from .devices import check_devices
from .evaluate import eval_size_for, evaluate
from .faults import (CheckpointWriteError, NonFiniteError, TrainingInterrupted, check_n_steps, check_on_nonfinite,
                     check_positive_int, resolve_batch_size)
from .learners import LearnerFactory, algorithm_label, check_model_factory
from .names import display_names
from .progress import PhasedProgress
from .record import TrainingRecord
from .rule_specs import parse_rule
from .runner import Trainer
from .seeds import optimizer_snapshot, restart
from .stats import INTERVAL_LEVEL

__all__ = ['Comparison', 'compare_algorithms', 'parse_algorithms', 'COLUMNS']

DEFAULT_EVAL_SIZE = 256


def parse_algorithms(algorithms) -> List[tuple]:
    """``[(label, name, options)]`` from names, rule texts, ``(name, options)`` pairs or dicts.

    A text may carry options as the command line writes them (:mod:`.rule_specs`):
    ``'pp_prop:0.5'``, ``'eprop:feedback=random:kappa=0.5'``; one string may list several
    rules separated by commas, as ``--algorithms`` does (``'bptt,pp_prop:0.5'``).

    >>> parse_algorithms(['bptt', ('pp_prop', {'decay_or_rank': 0.5})])
    [('bptt', 'bptt', {}), ('pp_prop(0.5)', 'pp_prop', {'decay_or_rank': 0.5})]
    """
    if isinstance(algorithms, str):
        algorithms = [algorithms]
    out = []
    # a text may list several rules as the command line does ('bptt,d_rtrl'): one rule per item
    algorithms = [b for a in algorithms for b in (a.split(',') if isinstance(a, str) and ',' in a else [a])]
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
        if isinstance(a, str):
            name, opts = parse_rule(a)
        name = rule_key(name)
        entry = find(name)
        if entry is not None and entry.name == 'pp_prop' and 'decay_or_rank' not in opts:
            opts['decay_or_rank'] = 0.9
        out.append((label or algorithm_label(name, opts), name, opts))
    labels = [x[0] for x in out]
    if len(set(labels)) != len(labels):
        raise ValueError(f'algorithms must be distinct, got {labels}.')
    return out


def _plain(obj) -> str:
    """``repr(obj)`` without memory addresses (stable from one process to the next)."""
    return re.sub(r' at 0x[0-9a-fA-F]+', '', repr(obj))


def _check_eval_size(eval_size) -> int:
    if eval_size is None:
        return 0
    if isinstance(eval_size, bool) or not isinstance(eval_size, int) or eval_size < 0:
        raise ValueError(f'eval_size={eval_size!r}: give the number of held-out sequences (an integer >= 0, '
                         f'0 for none), e.g. eval_size={DEFAULT_EVAL_SIZE}.')
    return eval_size


def compare_algorithms(model_factory: Callable, task, algorithms: Sequence = ('bptt', 'd_rtrl', 'pp_prop'),
                       n_steps: int = 100, seed: int = 0, batch_size: Optional[int] = None, optimizer=1e-2,
                       record_every: Optional[int] = None, oracle: Optional[str] = 'bptt',
                       progress: bool = True, on_step: Optional[Callable] = None, T: int = 20,
                       measure_memory: bool = True, check_liveness: bool = True,
                       chunk: Optional[int] = None, on_nonfinite: str = 'stop', checkpoint=None,
                       checkpoint_every: Optional[int] = None, resume: bool = False, seeds: int = 1,
                       eval_size: Optional[int] = DEFAULT_EVAL_SIZE, devices=None,
                       on_phase: Optional[Callable] = None) -> Comparison:
    """Train each algorithm on a fresh model from ``model_factory`` and compare them.

    ``model_factory(batch_size[, seed])`` returns a new model with initialised batched
    states (e.g. :func:`fixture_model`); ``algorithms`` are names, rule texts
    (``'eprop:feedback=random:kappa=0.5'``) or ``(name, options)`` pairs (``pp_prop``
    defaults to decay 0.9). ``optimizer`` is a learning rate or a zero-argument factory
    (each learner gets its own optimizer). ``on_step(label, row)`` observes every recorded
    row (``row['seed']`` says which seed). Cosine and relative error are means over
    recorded steps. ``chunk=K`` gives the online rules ``etrace_grad(chunk=K)``'s order of
    the same sum.

    ``seeds=K`` trains every rule with the seeds ``seed .. seed + K - 1`` (the same initial
    weights and batches for every rule in each seed); rows hold means and 95 % t-intervals,
    ``seed_records`` every run; the network's liveness is checked once, on the first seed.
    ``eval_size``: held-out sequences scored after training (the task's ``eval_batch``,
    rounded up to whole batches; ``0`` for none).

    ``devices=N`` trains every rule with its batch and eligibility traces split over ``N``
    devices (weights replicated, gradients reduced by XLA; :mod:`.devices`): the same table
    up to float32 rounding. ``batch_size`` (16 unless ``(xs, ys)`` arrays fix it) must be a
    multiple of ``N``.

    Progress: a rule's first step (and, with ``record_every > 1``, its first unrecorded one)
    compiles; the bar then reads ``compiling <rule> ...`` and its clock restarts when the step
    returns, so its rate and time left are those of training (:mod:`.progress`).
    ``on_phase(phase, rule, steps_done)`` observes each change: ``'compiling'`` with the rule's
    display name, ``'training'`` with ``None``.

    ``on_nonfinite``: ``'stop'`` (a rule whose loss or gradient goes non-finite stops, its
    row reads ``diverged``, the others go on), ``'record'`` (it goes on, skipping such
    updates) or ``'raise'`` (:class:`NonFiniteError` with ``.comparison``). Ctrl-C raises
    :class:`TrainingInterrupted` with ``.comparison`` (the finished rows). ``checkpoint=FOLDER``
    keeps one checkpoint per rule and seed (every ``checkpoint_every`` steps and when the run
    is done); ``resume=True`` continues the comparison saved there with the same settings.

    >>> cmp = compare_algorithms(fixture_model('leaky', task), task, n_steps=60, progress=False)
    >>> [r['algorithm'] for r in cmp.rows]
    ['bptt', 'd_rtrl', 'pp_prop(0.9)']
    """
    check_model_factory(model_factory, 'compare_algorithms')
    specs = parse_algorithms(algorithms)
    n_steps = check_n_steps(n_steps)
    n_seeds = check_positive_int(seeds, 'seeds', 3)
    eval_size = _check_eval_size(eval_size)
    batch_size = resolve_batch_size(batch_size, data=as_source(task, T=T).fixed_batch_size)
    check_devices(devices, batch_size)
    check_on_nonfinite(on_nonfinite, ('stop', 'record', 'raise'))
    record_every = max(1, n_steps // 20) if record_every is None else \
        check_positive_int(record_every, 'record_every', 10)          # None: about 20 recorded steps
    if checkpoint_every is not None:
        check_positive_int(checkpoint_every, 'checkpoint_every', 10)
    if checkpoint is None and (resume or checkpoint_every is not None):
        raise ValueError('resume= and checkpoint_every= need checkpoint=FOLDER (where the rules\' checkpoints are).')
    seed_list = [int(seed) + k for k in range(n_seeds)]
    config = {'algorithms': [list(s) for s in specs], 'n_steps': n_steps, 'seed': seed,
              'batch_size': batch_size, 'record_every': record_every, 'oracle': oracle, 'chunk': chunk,
              'seeds': seed_list, 'eval_size': eval_size, 'interval_level': INTERVAL_LEVEL}
    if checkpoint is not None:
        manifest = prepare_comparison_dir(checkpoint, dict(config, task=getattr(task, 'name', _plain(task)), T=T,
                                                           model=_plain(model_factory), optimizer=_plain(optimizer)),
                                          resume)
    trainers: Dict[str, Trainer] = {}              # one per rule, restarted for every further seed
    opt_init: Dict[str, list] = {}
    finished: Dict[str, List[TrainingRecord]] = {label: [] for label, *_ in specs}
    running: Dict[str, Trainer] = {}               # the current seed's trainers
    held_out = {}                                  # the evaluation set, drawn once
    stopped = set()                                # the current seed's rules stopped by a non-finite step
    t_start = time.perf_counter()

    def comparison(interrupted=False) -> Comparison:
        records = {}
        for label, *_ in specs:
            recs = list(finished[label])
            tr = running.get(label)
            if tr is not None and (tr.record.steps or not interrupted):
                recs.append(tr.record)
            records[label] = recs
        cfg = dict(config, wall_time_s=time.perf_counter() - t_start)
        name = getattr(task, 'name', None) or next((r[0].task for r in records.values() if r), str(task))
        return build_comparison(name, records, cfg, n_steps, interrupted, model_factory)

    def checkpoint_path(seed_index, index, label):
        if checkpoint is None:
            return None
        if n_seeds == 1:
            return rule_checkpoint_path(checkpoint, index, label)
        return rule_checkpoint_path(checkpoint, seed_index * len(specs) + index, f'{label}-seed{seed_list[seed_index]}')

    def prepare(seed_index, index, label, name, opts):
        """The trainer of ``label`` for this seed (``None`` when a checkpoint says the run is done)."""
        s = seed_list[seed_index]
        path = checkpoint_path(seed_index, index, label)
        saved = path is not None and resume and os.path.exists(path)
        payload = read_checkpoint(path) if saved else None
        if payload is not None and payload.get('finished'):
            rec = record_from_payload(payload)
            if not (eval_size and rec.heldout_size == 0 and payload['step'] >= n_steps):
                finished[label].append(rec)                      # done in an earlier session
                return None                                      # (else: trained, not yet scored)
        if label in trainers:
            tr = restart(trainers[label], s, opt_init[label], checkpoint=path, label=label)
        else:
            factory = LearnerFactory(model_factory, name, seed=s, **opts)
            cb = None
            if on_step is not None:
                cb = lambda row, _label=label: on_step(_label, dict(row, seed=trainers[_label].seed))
            tr = Trainer(factory, task, optimizer=optimizer() if callable(optimizer) else optimizer,
                         batch_size=batch_size, seed=s, record_every=record_every,
                         oracle=None if name == 'bptt' else oracle, on_step=cb, label=label, T=T,
                         measure_memory=measure_memory, check_liveness=check_liveness and not trainers,
                         chunk=chunk, on_nonfinite='record' if on_nonfinite == 'record' else 'raise', devices=devices,
                         checkpoint=None if saved else path, checkpoint_every=None if saved else checkpoint_every)
            opt_init[label] = optimizer_snapshot(tr)            # before any step or restore: for later seeds
            if saved:
                tr.checkpoint, tr.checkpoint_every = path, checkpoint_every
            elif check_liveness and trainers:
                tr.record.warnings.extend(next(iter(trainers.values())).record.warnings)
            trainers[label] = tr
        if saved:
            tr.restore(path)
        tr.record.config['algorithm'] = name
        tr.record.config['options'] = dict(opts)
        tr._last_step = n_steps - 1
        return tr

    def score(tr):
        """Held-out loss and accuracy of a run that did all its steps (saved into its checkpoint)."""
        if not eval_size or tr.step_index < n_steps:
            return
        if tr.batch_size not in held_out:
            held_out[tr.batch_size] = tr.source.eval_batch(eval_size_for(eval_size, tr.batch_size))
        if held_out[tr.batch_size] is not None:
            evaluate(tr, held_out[tr.batch_size])
            if tr.checkpoint is not None:
                save_trainer(tr, tr.checkpoint, finished=True)

    titles = display_names([s[0] for s in specs], specs)
    bar = PhasedProgress(n_seeds * len(specs) * n_steps, 'compare', disable=not progress, on_phase=on_phase)
    try:
        for si in range(n_seeds):
            running.clear()
            stopped.clear()
            for index, (label, name, opts) in enumerate(specs):
                tr = prepare(si, index, label, name, opts)
                if tr is None:
                    bar.skip(n_steps)
                    continue
                running[label] = tr
                bar.skip(tr.step_index)
            if si == 0 and checkpoint is not None and not resume:
                write_manifest(checkpoint, manifest)              # once every rule could be built
            while True:
                live = [(k, tr) for k, tr in running.items() if k not in stopped and tr.step_index < n_steps]
                if not live:
                    break
                for label, tr in live:
                    bar.before(tr, titles[label])
                    try:
                        tr.step()
                    except NonFiniteError as err:
                        if on_nonfinite == 'raise':
                            err.comparison = comparison()
                            raise
                        stopped.add(label)
                        if tr.checkpoint is not None:
                            save_trainer(tr, tr.checkpoint, finished=True)
                    bar.advance(1)
            for label, tr in running.items():
                tr.finish()
                score(tr)
                finished[label].append(tr.record)
            running.clear()
    except TrainingInterrupted:
        raise
    except CheckpointWriteError as err:            # a checkpoint could not be written: keep the finished rows
        err.comparison = comparison(interrupted=True)
        raise
    except KeyboardInterrupt as err:
        for label, tr in running.items():
            tr.record.interrupted = label not in stopped and tr.step_index < n_steps
        partial = comparison(interrupted=True)
        where = f'; continue it with checkpoint={os.fspath(checkpoint)!r}, resume=True' if checkpoint else ''
        raise TrainingInterrupted(f'comparison interrupted: .comparison holds the {len(partial.rows)} rule(s) '
                                  f'with finished steps{where}.', comparison=partial) from err
    finally:
        bar.close()
    return comparison()
