"""Training runner: drive any learner on a task, one jitted step per batch, and record what happens.

Each training step takes a fresh batch, resets the hidden states and eligibility traces,
runs the learner over the sequence and applies the optimizer to the summed gradient
``g = sum_t dL^t/dtheta``. Every ``record_every`` steps it also records trace and
learning-signal magnitudes per parameter and, with an oracle, the agreement of ``g``
with the exact gradient on the same batch and weights.

Nothing is hidden and nothing finished is lost:

* a step whose loss or gradient is not finite is not applied, and stops training with a
  :class:`~braintrace_lab.lab.NonFiniteError` naming the step, the rule and the first
  parameter whose gradient went non-finite (``on_nonfinite='record'`` marks the row,
  skips the update and goes on); the check is one reduction per parameter in the jit;
* Ctrl-C raises :class:`~braintrace_lab.lab.TrainingInterrupted` carrying the record of
  the finished steps (``record.interrupted``);
* ``checkpoint=PATH, checkpoint_every=N`` writes a checkpoint every ``N`` steps and at the
  end of a run (:mod:`.checkpoint`), and ``resume=PATH`` continues that run exactly.

>>> record = train(make_learner(fixture_model('lif', task), 'd_rtrl'), task, n_steps=100,
...                optimizer=1e-2, record_every=10, oracle='bptt', on_step=print)
"""
from __future__ import annotations

import os
import time
import warnings
from typing import Callable, Iterable, Optional

import numpy as np

from .checkpoint import check_checkpoint_args, restore_trainer, save_trainer
from .data import as_source
from .faults import (NonFiniteError, TrainingInterrupted, check_int, check_n_steps, check_on_nonfinite,
                     check_positive_int, check_sequences, finite_flags, keep_if, nonfinite_message, resolve_batch_size)
from .learners import BPTT, LearnerFactory, check_learner, is_online, sequence_grads
from .devices import device_plan
from .liveness import check_trainer_liveness
from .progress import PhasedProgress
from .record import TrainingRecord
from .stepping import (_Callbacks, _compiled_batch_size, _env, _label_of, _peak_memory, _reset_plan, _sq,
                       _strong, make_optimizer, make_row, trace_sq_by_param)

__all__ = ['Trainer', 'train', 'make_optimizer', 'trace_sq_by_param', 'ORACLES']

ORACLES = (None, 'bptt', 'rtrl')


class Trainer:
    """One learner on one data source, stepped batch by batch (see :func:`train`).

    ``learner`` is a compiled learner, a :class:`LearnerFactory` / ``callable(x0)`` that
    builds one for the batch shape, or a :class:`BPTT`. ``oracle`` (``None``, ``'bptt'``
    or ``'rtrl'``) is evaluated on recorded steps only, on the same batch and weights.
    ``on_nonfinite``: ``'raise'`` (stop with :class:`NonFiniteError`) or ``'record'``.
    ``checkpoint=PATH`` is written every ``checkpoint_every`` steps and when a run ends
    (an existing file is never replaced unless it is the one resumed); ``resume=PATH``
    restores a checkpoint (checked against this trainer's rule, model and data first).
    ``devices=N`` splits the batch and its eligibility traces over ``N`` devices (:mod:`.devices`).

    >>> tr = Trainer(factory, task, batch_size=16); tr.step(); tr.run(99); tr.record
    """

    def __init__(self, learner, data, optimizer=None, batch_size: Optional[int] = None, seed: int = 0,
                 record_every: int = 1, oracle: Optional[str] = None, on_step: Optional[Callable] = None,
                 callbacks: Iterable = (), label: Optional[str] = None, T: int = 20,
                 check_liveness: bool = True, measure_memory: bool = False, chunk: Optional[int] = None,
                 on_nonfinite: str = 'raise', checkpoint=None, checkpoint_every: Optional[int] = None,
                 resume=None, devices=None):
        import brainstate
        if oracle not in ORACLES:
            raise ValueError(f'oracle={oracle!r}: choose one of {ORACLES}.')
        if chunk is not None:
            from ..algorithms.chunked import check_chunk
            check_chunk(chunk)
        self.chunk = chunk
        record_every = check_positive_int(record_every, 'record_every', 10)
        check_learner(learner)                 # a model, a model factory or a rule name: say what to pass
        check_int(seed, 'seed')
        self.on_nonfinite = check_on_nonfinite(on_nonfinite)
        self.checkpoint, self.checkpoint_every = checkpoint, check_checkpoint_args(checkpoint, checkpoint_every, resume)
        self.optimizer = make_optimizer(optimizer)          # a bad learning rate fails before anything compiles
        self.source = as_source(data, T=T)
        self.seed, self.record_every, self.oracle = int(seed), int(record_every), oracle
        self.measure_memory = measure_memory
        self._provider = learner if isinstance(learner, LearnerFactory) else None
        compiled_b = _compiled_batch_size(learner) if not isinstance(learner, LearnerFactory) else None
        self.batch_size = resolve_batch_size(batch_size, compiled_b, self.source.fixed_batch_size)
        self.devices = device_plan(devices, self.batch_size)       # checked before anything is built
        with self._env():
            first = self.source.batch(self.batch_size, 0, self.seed)
            check_sequences(first, self.source)
            x0 = first.inputs[0]
            if isinstance(learner, LearnerFactory) or (callable(learner) and not hasattr(learner, 'model')):
                learner = learner(x0)
            elif not learner.is_compiled:
                learner.compile_graph(x0)
            self.learner = learner
            self.model = learner.model
            self.params = self.model.states(brainstate.ParamState)
            self._param_keys = list(self.params.keys())
            if len(self.optimizer.param_states) == 0:
                self.optimizer.register_trainable_weights(self.params)
            name = label or getattr(learner, 'name', None) or _label_of(learner)
            self.record = TrainingRecord(algorithm=name, task=self.source.name, oracle=oracle,
                                         config={'batch_size': self.batch_size, 'seed': self.seed,
                                                 'kind': self.source.kind,
                                                 'record_every': self.record_every, 'T': first.T,
                                                 'chunk': chunk})
            owner = learner if is_online(learner) else learner.model
            self._all_states = list(brainstate.graph.states(owner).values()) + \
                list(brainstate.graph.states(self.optimizer).values())
            for st in self._all_states:
                st.value = _strong(st.value)
            updated = list(self.params.values()) + list(brainstate.graph.states(self.optimizer).values())
            self._update_states = list({id(st): st for st in updated}.values())
            self._reset_states, self._reset_values = _reset_plan(learner, owner)
            if check_liveness:
                check_trainer_liveness(self, first)
            if isinstance(learner, BPTT):
                learner.sequence_length = first.T
            self.record.trace_memory = {k: int(v) for k, v in learner.trace_memory().items()}
            self.devices.place(self._all_states, self._reset_states)
        self._callbacks = _Callbacks(on_step, callbacks, self.record)
        self._fns, self._oracle_fn, self.n_traces, self._compiles_before, self.step_index = {}, None, 0, 0, 0
        self.progress_bar = None               # the last run's PhasedProgress (its phases and clock)
        self.checkpoint_step = None            # step count of the last checkpoint written or restored
        self._t0 = None
        if resume is not None:
            self.restore(resume)
        self._callbacks('on_start', self.learner)

    # ------------------------------------------------------------------ internals
    def _env(self):
        return _env(self._provider)

    def _reset(self):
        for st, v in zip(self._reset_states, self._reset_values):
            st.value = v
        self.devices.constrain(self._reset_states)          # batch-split on every device of the mesh

    def _loss_fn(self, inputs, targets, mask):
        from .data import SourceBatch
        batch = SourceBatch(inputs, targets, mask)
        return batch, (lambda out, t: self.source.step_loss(out, t, batch))

    def _make_fn(self, record: bool):
        import brainstate
        import jax.numpy as jnp

        def fn(inputs, targets, mask):
            self.n_traces += 1
            self._reset()
            batch, step_loss = self._loss_fn(inputs, targets, mask)
            grads, losses, outs, sig = sequence_grads(self.learner, self.params, inputs, step_loss,
                                                      chunk=self.chunk)
            loss, acc = self.source.metrics(outs, batch)
            extras = {}
            if record:
                T = inputs.shape[0]
                extras['grads'] = grads
                extras['grad_sq'] = {k: _sq(v) for k, v in grads.items()}
                extras['trace_sq'] = trace_sq_by_param(self.learner.eligibility_traces())
                extras['signal_ms'] = {p: v / T for p, v in sig.items()}
            finite = finite_flags(loss, grads, self._param_keys)
            ok = finite.all()
            old = [st.value for st in self._update_states]
            self.optimizer.update(grads)
            keep_if(ok, self._update_states, old)      # a non-finite step changes nothing
            stats = jnp.stack([jnp.asarray(loss, jnp.float32), jnp.asarray(acc, jnp.float32), ok.astype(jnp.float32)])
            return stats, finite, extras               # one transfer per step; ``finite`` read only on failure

        return brainstate.transform.jit(self.devices.tracing(fn, self.learner))   # sums XLA splits over devices

    def _make_oracle_fn(self):
        import brainstate
        ref = BPTT(self.model)

        def fn(inputs, targets, mask):
            self.n_traces += 1
            self._reset()
            _, step_loss = self._loss_fn(inputs, targets, mask)
            grads = sequence_grads(ref, self.params, inputs, step_loss)[0]
            self._reset()
            return grads

        return brainstate.transform.jit(fn)

    def _reference(self, args):
        """Exact gradient on this batch at the current weights (states left at reset values)."""
        if self.oracle == 'bptt':
            if self._oracle_fn is None:
                self._oracle_fn = self._make_oracle_fn()
            return self._oracle_fn(*args)
        from ..oracle import rtrl_grad
        self._reset()
        _, step_loss = self._loss_fn(*args)
        return rtrl_grad(self.model, args[0], step_loss)[0]

    def _nonfinite(self, row: dict, bad: list) -> Optional[NonFiniteError]:
        """Mark ``row`` as non-finite; the error to raise (``'raise'``) or ``None`` (``'record'``)."""
        row.update(nonfinite=True, nonfinite_param=bad[0] if bad else None)
        msg = nonfinite_message(row['step'], self.record.algorithm, row['loss'], bad, self.on_nonfinite)
        if self.on_nonfinite == 'raise':
            self.record.warnings.append(msg)
            return NonFiniteError(msg, row['step'], self.record.algorithm, row['nonfinite_param'], self.record)
        if not self.record.nonfinite_steps:           # the first one is worth a warning; the rest are counted
            self.record.warnings.append(msg)
            warnings.warn(msg, RuntimeWarning, stacklevel=3)
        return None

    def _checkpoint_due(self) -> bool:
        every = self.checkpoint_every and self.step_index % self.checkpoint_every == 0
        return self.checkpoint is not None and (bool(every) or self.done)

    @property
    def done(self) -> bool:
        """Whether the steps asked of the current run (``run(n)`` / ``train(n_steps)``) are done."""
        last = getattr(self, '_last_step', None)
        return last is not None and self.step_index > last

    def _recorded(self, i: int) -> bool:
        return i % self.record_every == 0 or getattr(self, '_last_step', None) == i

    @property
    def compiles_next(self) -> bool:
        """Whether the next :meth:`step` compiles (the first recorded step, the first unrecorded one)."""
        return self._fns.get(self._recorded(self.step_index)) is None

    # ------------------------------------------------------------------ public
    def step(self) -> Optional[dict]:
        """Train on one batch; return the recorded row (or ``None`` on an unrecorded step).

        A non-finite loss or gradient leaves the weights as they were and raises
        :class:`NonFiniteError` (``on_nonfinite='raise'``) or returns the marked row.
        """
        from ..oracle import path_str
        i = self.step_index
        record = self._recorded(i)
        with self._env():
            batch = self.source.batch(self.batch_size, i, self.seed)
            args = self.devices.put_batch(batch.arrays())
            ref, oracle_time = None, None
            if record and self.oracle is not None:
                t0 = time.perf_counter()
                import jax
                ref = jax.block_until_ready(self._reference(args))
                oracle_time = time.perf_counter() - t0
                self.record.oracle_times.append(oracle_time)
            fn = self._fns.get(record)
            compiling = fn is None
            if fn is None:
                fn = self._fns[record] = self._make_fn(record)
                if self.measure_memory and self.record.peak_memory is None:
                    self.record.peak_memory = _peak_memory(fn, args)
            t0 = time.perf_counter()
            before = self.n_traces
            stats, finite, extras = fn(*args)
            loss, acc, ok = np.asarray(stats).tolist()
            dt = time.perf_counter() - t0
        bad = None if ok else [path_str(k) for k, f in zip(self._param_keys, np.asarray(finite)[1:]) if not f]
        if compiling or self.n_traces != before:
            self.record.compile_steps.append(i)
        self.record.n_compiles = self._compiles_before + self.n_traces
        self._t0 = self._t0 or time.perf_counter() - dt
        error = None
        if bad is None or self.on_nonfinite == 'record':
            self.record.step_times.append(dt)
            self.step_index += 1                          # a failed step (raise) is not done: it stays at i
        row = None
        if record or bad is not None:
            row = make_row(i, self.record.algorithm, loss, acc, dt, time.perf_counter() - self._t0, extras, ref,
                           oracle_time)
        if bad is not None:
            error = self._nonfinite(row, bad)
        if row is not None:
            self.record.append(row)
        if error is None and self._checkpoint_due():
            save_trainer(self, self.checkpoint, finished=self.done)
            self.checkpoint_step = self.step_index
        if row is not None:
            self._callbacks('on_step', row)
        if error is not None:
            raise error
        return row

    def run(self, n_steps: int, progress: bool = True) -> TrainingRecord:
        """Train ``n_steps`` more batches (the last one is always recorded); return the record.

        Ctrl-C raises :class:`TrainingInterrupted` with ``.record`` (the finished steps).
        """
        n_steps = check_n_steps(n_steps)
        self._last_step = self.step_index + n_steps - 1
        self.record.interrupted = False
        bar = self.progress_bar = PhasedProgress(n_steps, self.record.algorithm, disable=not progress)
        try:
            for _ in range(n_steps):
                bar.before(self)                          # 'compiling <rule> ...' while a step compiles
                row = self.step()
                bar.advance(1, None if row is None else row['loss'])
        except TrainingInterrupted:
            raise
        except KeyboardInterrupt as err:
            raise self._interruption() from err
        finally:
            bar.close()
        self.finish()
        return self.record

    def _interruption(self) -> TrainingInterrupted:
        """Mark the record interrupted; the :class:`TrainingInterrupted` that carries it."""
        self.record.interrupted = True
        where = '' if self.checkpoint is None else \
            '; no checkpoint was written yet' if self.checkpoint_step is None else \
            f'; the last checkpoint (after step {self.checkpoint_step}) is in {os.fspath(self.checkpoint)!r}'
        return TrainingInterrupted(f'training of {self.record.algorithm} interrupted after {self.step_index} '
                                   f'steps: .record holds the finished steps{where}.', record=self.record,
                                   step=self.step_index)

    def save_checkpoint(self, path=None) -> str:
        """Write a checkpoint now (to ``path``, default the trainer's ``checkpoint``); return its path."""
        path = path if path is not None else self.checkpoint
        if path is None:
            raise ValueError('save_checkpoint() needs a path: pass one, or build the Trainer with checkpoint=PATH.')
        return save_trainer(self, path, finished=self.done)

    def restore(self, path) -> 'Trainer':
        """Continue the run saved at ``path`` (a fresh trainer only; checked before anything changes)."""
        if self.step_index != 0:
            raise RuntimeError(f'restore() needs a fresh Trainer, this one has done {self.step_index} steps; '
                               f'build a new Trainer with resume={os.fspath(path)!r}.')
        with self._env():
            restore_trainer(self, path)
            self.devices.place(self._all_states, self._reset_states)
        self._compiles_before = self.record.n_compiles
        self.checkpoint_step = self.step_index
        return self

    def add_callback(self, callback):
        """Observe from now on (``on_start`` is called at once with the learner)."""
        self._callbacks.items.append(callback)
        self._callbacks._call(callback, 'on_start', self.learner)
        return callback

    def remove_callback(self, callback):
        self._callbacks.items = [c for c in self._callbacks.items if c is not callback]

    def finish(self):
        self._callbacks('on_end', self.record)
        return self.record

    def __repr__(self):
        return (f'Trainer({self.record.algorithm} on {self.source.name}, batch {self.batch_size}, '
                f'{self.step_index} steps done)')


def train(learner, data, n_steps: int = 100, optimizer=None, record_every: int = 1,
          oracle: Optional[str] = None, progress: bool = True, on_step: Optional[Callable] = None,
          callbacks: Iterable = (), batch_size: Optional[int] = None, seed: int = 0, T: int = 20,
          label: Optional[str] = None, check_liveness: bool = True,
          measure_memory: bool = False, chunk: Optional[int] = None, on_nonfinite: str = 'raise',
          checkpoint=None, checkpoint_every: Optional[int] = None, resume=None,
          devices=None) -> TrainingRecord:
    """Train ``learner`` on ``data`` for ``n_steps`` batches and return a :class:`TrainingRecord`.

    ``learner``: a compiled learner, or a factory ``f(x0) -> learner`` such as
    :func:`make_learner`. ``data``: a task, a task/fixture name, a fixture or ``(xs, ys)``.
    ``optimizer``: learning rate (Adam; finite and > 0), a braintools optimizer or a factory.
    ``on_step(row)`` and objects in ``callbacks`` (``on_start(learner)``,
    ``on_step(row)``, ``on_end(record)``) observe recorded rows; an exception in one
    is reported as a warning and never stops training. ``chunk=K`` computes an online
    learner's summed gradient with ``etrace_grad(chunk=K)``'s order (the same sum, faster
    on wide layers with small batches); BPTT ignores it.

    Failures: a non-finite loss or gradient raises :class:`NonFiniteError` (or, with
    ``on_nonfinite='record'``, marks the row, skips that update and goes on); Ctrl-C
    raises :class:`TrainingInterrupted` whose ``.record`` holds the finished steps.
    ``checkpoint=PATH, checkpoint_every=N`` writes a checkpoint every ``N`` steps and at
    the end; ``resume=PATH`` continues it: ``n_steps`` counts the whole run, so the same
    call with ``resume=`` added trains the remaining steps, bit for bit as one run would.
    ``devices=N`` spreads the batch (and its traces) over ``N`` devices, weights replicated.

    >>> rec = train(make_learner(fixture_model('leaky', task), 'd_rtrl'), task, n_steps=50,
    ...             optimizer=1e-2, record_every=5, oracle='bptt', progress=False)
    >>> rec.final_loss, rec.mean_cosine
    """
    n_steps = check_n_steps(n_steps)
    trainer = Trainer(learner, data, optimizer=optimizer, batch_size=batch_size, seed=seed,
                      record_every=record_every, oracle=oracle, on_step=on_step, callbacks=callbacks,
                      label=label, T=T, check_liveness=check_liveness, measure_memory=measure_memory,
                      chunk=chunk, on_nonfinite=on_nonfinite, checkpoint=checkpoint,
                      checkpoint_every=checkpoint_every, resume=resume, devices=devices)
    remaining = n_steps - trainer.step_index
    if remaining < 0:
        raise ValueError(f'the checkpoint {os.fspath(resume)!r} is at step {trainer.step_index}, past '
                         f'n_steps={n_steps}; ask for n_steps >= {trainer.step_index} (n_steps counts the whole run).')
    if remaining == 0:
        return trainer.finish()
    return trainer.run(remaining, progress=progress)
