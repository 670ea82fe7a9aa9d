"""Training runner: drive any learner on a task, one jitted step per batch, and record what happens.

Each training step takes a fresh batch, resets the hidden states and eligibility traces,
runs the learner over the sequence and applies the optimizer to the summed gradient
``g = sum_t dL^t/dtheta``. Every ``record_every`` steps it also records trace and
learning-signal magnitudes per parameter and, with an oracle, the agreement of ``g``
with the exact gradient on the same batch and weights.

>>> record = train(make_learner(fixture_model('lif', task), 'd_rtrl'), task, n_steps=100,
...                optimizer=1e-2, record_every=10, oracle='bptt', on_step=print)
"""
from __future__ import annotations

import contextlib
import math
import time
import warnings
import weakref
from typing import Callable, Iterable, Optional

from .data import as_source
from .learners import BPTT, LearnerFactory, is_online, sequence_grads
from .liveness import LivenessWarning, liveness_message
from .record import TrainingRecord

__all__ = ['Trainer', 'train', 'make_optimizer', 'ORACLES']

ORACLES = (None, 'bptt', 'rtrl')


def make_optimizer(optimizer=None):
    """An optimizer from ``None`` (Adam, lr 1e-2), a learning rate, an optimizer or a factory."""
    import braintools
    if optimizer is None:
        return braintools.optim.Adam(1e-2)
    if isinstance(optimizer, (int, float)) and not isinstance(optimizer, bool):
        return braintools.optim.Adam(float(optimizer))
    if isinstance(optimizer, braintools.optim.Optimizer):
        return optimizer
    if callable(optimizer):
        return optimizer()
    raise TypeError(f'optimizer must be a learning rate, a braintools optimizer or a factory, '
                    f'got {type(optimizer).__name__}.')


def _strong(tree):
    """The same values with explicit (non-weak) dtypes, so the jitted step compiles once.

    Weakly typed leaves (``jnp.zeros(...) * 1.0``, Python scalars) would change type after
    the first step and force a second compile; other leaves are left untouched.
    """
    import jax
    import jax.numpy as jnp

    def fix(a):
        if isinstance(a, (bool, int, float, complex)) or getattr(a, 'weak_type', False):
            return jnp.asarray(a, dtype=jnp.result_type(a))
        return a

    return jax.tree.map(fix, tree)


@contextlib.contextmanager
def _env(provider=None):
    """The provider's context (a fixture's ``dt``), else ``dt = 1 ms`` when none is set."""
    import brainstate
    ctx = provider.context() if provider is not None and callable(getattr(provider, 'context', None)) else None
    if ctx is not None:
        with ctx:
            yield
    elif brainstate.environ.get('dt', None) is None:
        import brainunit as u
        with brainstate.environ.context(dt=1. * u.ms):
            yield
    else:
        yield


def _compiled_batch_size(learner):
    plan = getattr(learner, '_plan', None)
    if plan is not None:
        shape = plan.jaxpr.invars[0].aval.shape
        return int(shape[0]) if shape else None
    if isinstance(learner, BPTT) and learner.input_shape:
        return int(learner.input_shape[0])
    return None


def _sq(tree):
    import jax
    import jax.numpy as jnp
    return sum(jnp.sum(jnp.square(jnp.asarray(getattr(x, 'mantissa', x), jnp.float32)))
               for x in jax.tree.leaves(tree))


def trace_sq_by_param(traces: dict) -> dict:
    """``{param: sum of squares of its traces}`` from ``{'param@opK->gN': trace}`` (jax)."""
    out = {}
    for key, tr in traces.items():
        p = key.split('@', 1)[0].split('->', 1)[0]
        out[p] = out.get(p, 0.0) + _sq(tr)
    return out


class _Callbacks:
    """Calls ``on_start(learner)``, ``on_step(row)``, ``on_end(record)``; a failure never stops training."""

    def __init__(self, on_step, callbacks, record):
        items = list(callbacks or ())
        if on_step is not None:
            items.insert(0, on_step)
        self.items, self.record, self.failed = items, record, set()

    def _call(self, cb, method, arg):
        fn = cb if method == 'on_step' and not hasattr(cb, 'on_step') else getattr(cb, method, None)
        if fn is None or id(cb) in self.failed:
            return
        try:
            fn(arg)
        except Exception as err:  # a view must never crash the loop it observes
            self.failed.add(id(cb))
            msg = f'callback {getattr(cb, "__name__", type(cb).__name__)} raised {type(err).__name__}: {err}; ' \
                  f'it is skipped from now on, training continues'
            self.record.warnings.append(msg)
            warnings.warn(msg, RuntimeWarning, stacklevel=4)

    def __call__(self, method, arg):
        for cb in self.items:
            self._call(cb, method, arg)


class Trainer:
    """One learner on one data source, stepped batch by batch (see :func:`train`).

    ``learner`` is a compiled learner, a :class:`LearnerFactory` / ``callable(x0)`` that
    builds one for the batch shape, or a :class:`BPTT`. ``oracle`` (``None``, ``'bptt'``
    or ``'rtrl'``) is evaluated on recorded steps only, on the same batch and weights.

    >>> tr = Trainer(factory, task, batch_size=16); tr.step(); tr.run(99); tr.record
    """

    def __init__(self, learner, data, optimizer=None, batch_size: int = 16, seed: int = 0,
                 record_every: int = 1, oracle: Optional[str] = None, on_step: Optional[Callable] = None,
                 callbacks: Iterable = (), label: Optional[str] = None, T: int = 20,
                 check_liveness: bool = True, measure_memory: bool = False, chunk: Optional[int] = None):
        import brainstate
        if oracle not in ORACLES:
            raise ValueError(f'oracle={oracle!r}: choose one of {ORACLES}.')
        if chunk is not None:
            from ..algorithms.chunked import check_chunk
            check_chunk(chunk)
        self.chunk = chunk
        if int(record_every) < 1:
            raise ValueError(f'record_every must be >= 1, got {record_every!r}.')
        self.source = as_source(data, T=T)
        self.seed, self.record_every, self.oracle = int(seed), int(record_every), oracle
        self.measure_memory = measure_memory
        self._provider = learner if isinstance(learner, LearnerFactory) else None
        compiled_b = _compiled_batch_size(learner) if not isinstance(learner, LearnerFactory) else None
        self.batch_size = int(compiled_b or batch_size)
        with self._env():
            first = self.source.batch(self.batch_size, 0, self.seed)
            x0 = first.inputs[0]
            if isinstance(learner, LearnerFactory) or (callable(learner) and not hasattr(learner, 'model')):
                learner = learner(x0)
            elif not learner.is_compiled:
                learner.compile_graph(x0)
            self.learner = learner
            self.model = learner.model
            self.params = self.model.states(brainstate.ParamState)
            self.optimizer = make_optimizer(optimizer)
            if len(self.optimizer.param_states) == 0:
                self.optimizer.register_trainable_weights(self.params)
            name = label or getattr(learner, 'name', None) or _label_of(learner)
            self.record = TrainingRecord(algorithm=name, task=self.source.name, oracle=oracle,
                                         config={'batch_size': self.batch_size, 'seed': self.seed,
                                                 'record_every': self.record_every, 'T': first.T,
                                                 'chunk': chunk})
            owner = learner if is_online(learner) else learner.model
            self._all_states = list(brainstate.graph.states(owner).values()) + \
                list(brainstate.graph.states(self.optimizer).values())
            for st in self._all_states:
                st.value = _strong(st.value)
            self._reset_states, self._reset_values = _reset_plan(learner, owner)
            if check_liveness:
                self._check_liveness(first)
            if isinstance(learner, BPTT):
                learner._T = first.T
            self.record.trace_memory = {k: int(v) for k, v in learner.trace_memory().items()}
        self._callbacks = _Callbacks(on_step, callbacks, self.record)
        self._fns = {}
        self._oracle_fn = None
        self.n_traces = 0
        self.step_index = 0
        self._t0 = None
        self._callbacks('on_start', self.learner)

    # ------------------------------------------------------------------ internals
    def _env(self):
        return _env(self._provider)

    def _check_liveness(self, batch):
        from .liveness import has_spiking_populations
        if not has_spiking_populations(self.model):
            return
        from ..oracle import check_liveness
        report = check_liveness(self.model, batch.inputs)
        self.liveness = report
        if not report.is_live:
            msg = liveness_message(report)
            self.record.warnings.append(msg)
            warnings.warn(msg, LivenessWarning, stacklevel=4)

    def _reset(self):
        for st, v in zip(self._reset_states, self._reset_values):
            st.value = v

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
            self.optimizer.update(grads)
            return jnp.asarray(loss, jnp.float32), jnp.asarray(acc, jnp.float32), extras

        return brainstate.transform.jit(fn)

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

    # ------------------------------------------------------------------ public
    def step(self) -> Optional[dict]:
        """Train on one batch; return the recorded row (or ``None`` on an unrecorded step)."""
        from ..oracle import agreement, path_str
        i = self.step_index
        is_last_hint = getattr(self, '_last_step', None) == i
        record = (i % self.record_every == 0) or is_last_hint
        with self._env():
            batch = self.source.batch(self.batch_size, i, self.seed)
            args = batch.arrays()
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
            loss, acc, extras = fn(*args)
            loss, acc = float(loss), float(acc)
            dt = time.perf_counter() - t0
        if compiling or self.n_traces != before:
            self.record.compile_steps.append(i)
        self.record.step_times.append(dt)
        self.record.n_compiles = self.n_traces
        self._t0 = self._t0 or time.perf_counter() - dt
        self.step_index += 1
        if not record:
            return None
        row = {'step': i, 'algorithm': self.record.algorithm, 'loss': loss, 'accuracy': acc,
               'step_time': dt, 'elapsed': time.perf_counter() - self._t0}
        row['grad_norms'] = {path_str(k): math.sqrt(float(v)) for k, v in extras['grad_sq'].items()}
        row['trace_norms'] = {p: math.sqrt(float(v)) for p, v in extras['trace_sq'].items()}
        row['signal_norms'] = {p: math.sqrt(float(v)) for p, v in extras['signal_ms'].items()}
        if ref is not None:
            rep = agreement(extras['grads'], ref)
            row.update(cosine=rep.cosine, relative_error=rep.relative_error, oracle_time=oracle_time,
                       agreement={r.path: {'cosine': r.cosine, 'relative_error': r.relative_error}
                                  for r in rep.rows})
        self.record.append(row)
        self._callbacks('on_step', row)
        return row

    def run(self, n_steps: int, progress: bool = True) -> TrainingRecord:
        """Train ``n_steps`` more batches (the last one is always recorded); return the record."""
        from tqdm.auto import tqdm
        n_steps = int(n_steps)
        self._last_step = self.step_index + n_steps - 1
        bar = tqdm(total=n_steps, desc=self.record.algorithm, disable=not progress, leave=True)
        try:
            for _ in range(n_steps):
                row = self.step()
                bar.update(1)
                if row is not None:
                    bar.set_postfix(loss=f'{row["loss"]:.4g}', refresh=False)
        finally:
            bar.close()
        self.finish()
        return self.record

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


_INITIAL = weakref.WeakKeyDictionary()     # model -> {id(state): value when first trained}


def _reset_plan(learner, owner):
    """States reset before every batch and their values: the model's hidden states as they were
    when this model was first trained (so a second ``train`` starts clean too), the learner's
    own traces and signals at zero."""
    import brainstate
    import jax
    import jax.numpy as jnp
    model = learner.model
    model_ids = {id(st) for st in brainstate.graph.states(model).values()}
    try:
        initial = _INITIAL.setdefault(model, {})
    except TypeError:                       # not weak-referenceable: remember nothing
        initial = {}
    states, values = [], []
    for st in brainstate.graph.states(owner).values():
        if isinstance(st, brainstate.ParamState):
            continue
        if id(st) in model_ids:
            value = initial.setdefault(id(st), st.value)
        else:
            value = jax.tree.map(jnp.zeros_like, st.value)
        states.append(st)
        values.append(value)
    return states, values


def _label_of(learner) -> str:
    from .learners import algorithm_label
    name = type(learner).__name__
    mapping = {'ParamDimVjpAlgorithm': 'd_rtrl', 'IODimVjpAlgorithm': 'pp_prop'}
    algo = mapping.get(name, name.lower())
    opts = {'decay_or_rank': learner.decay_or_rank} if hasattr(learner, 'decay_or_rank') else {}
    return algorithm_label(algo, opts)


def _peak_memory(fn, args) -> Optional[int]:
    """Bytes the compiled step needs at once (arguments + outputs + temporaries - aliases)."""
    try:
        m = fn.compile(*args).memory_analysis()
        return int(m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes
                   - m.alias_size_in_bytes)
    except Exception:
        return None


def train(learner, data, n_steps: int = 100, optimizer=None, record_every: int = 1,
          oracle: Optional[str] = None, progress: bool = True, on_step: Optional[Callable] = None,
          callbacks: Iterable = (), batch_size: int = 16, seed: int = 0, T: int = 20,
          label: Optional[str] = None, check_liveness: bool = True,
          measure_memory: bool = False, chunk: Optional[int] = None) -> TrainingRecord:
    """Train ``learner`` on ``data`` for ``n_steps`` batches and return a :class:`TrainingRecord`.

    ``learner``: a compiled learner, or a factory ``f(x0) -> learner`` such as
    :func:`make_learner`. ``data``: a task, a task/fixture name, a fixture or ``(xs, ys)``.
    ``optimizer``: learning rate (Adam), a braintools optimizer or a factory.
    ``on_step(row)`` and objects in ``callbacks`` (``on_start(learner)``,
    ``on_step(row)``, ``on_end(record)``) observe recorded rows; an exception in one
    is reported as a warning and never stops training. ``chunk=K`` computes an online
    learner's summed gradient with ``etrace_grad(chunk=K)``'s order (the same sum, faster
    on wide layers with small batches); BPTT ignores it.

    >>> rec = train(make_learner(fixture_model('leaky', task), 'd_rtrl'), task, n_steps=50,
    ...             optimizer=1e-2, record_every=5, oracle='bptt', progress=False)
    >>> rec.final_loss, rec.mean_cosine
    """
    trainer = Trainer(learner, data, optimizer=optimizer, batch_size=batch_size, seed=seed,
                      record_every=record_every, oracle=oracle, on_step=on_step, callbacks=callbacks,
                      label=label, T=T, check_liveness=check_liveness, measure_memory=measure_memory,
                      chunk=chunk)
    return trainer.run(n_steps, progress=progress)
