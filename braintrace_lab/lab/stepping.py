"""Building blocks of the training runner: optimizers, state plans, callbacks, measurements.

Kept apart from :mod:`.runner` (the :class:`~braintrace_lab.lab.Trainer` loop) so that each
module stays short: :func:`make_optimizer` (a learning rate checked to be finite and > 0),
the reset plan of hidden states and traces, the callback fan-out that never lets a view
stop training, trace and gradient magnitudes and the compiled step's peak memory.
"""
from __future__ import annotations

import contextlib
import math
import numbers
import warnings
import weakref
from typing import Optional

from ..compiler.records import RelationKey
from ..rules_table import for_class
from .faults import check_learning_rate
from .learners import BPTT

__all__ = ['make_optimizer', 'trace_sq_by_param', 'make_row']


def make_optimizer(optimizer=None):
    """An optimizer from ``None`` (Adam, lr 1e-2), a learning rate, an optimizer or a factory.

    A learning rate must be a finite number > 0 (``nan``, ``inf``, ``0`` and negative rates
    raise ``ValueError``); pass an optimizer object to train with anything else.
    """
    import braintools
    if optimizer is None:
        return braintools.optim.Adam(1e-2)
    if isinstance(optimizer, numbers.Real) and not isinstance(optimizer, bool):
        return braintools.optim.Adam(check_learning_rate(optimizer))
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
        shape = plan.program.input_avals[0].shape
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
        p = RelationKey.param_of(key)
        out[p] = out.get(p, 0.0) + _sq(tr)
    return out


class _Callbacks:
    """Calls ``on_start(learner)``, ``on_step(row)``, ``on_end(record)``; a failure never stops training.

    An ``Exception`` from a callback becomes a warning (and that callback is skipped from
    then on); a ``KeyboardInterrupt`` is not an ``Exception`` and stops the run as asked.
    """

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
    entry = for_class(type(learner))
    rule = getattr(learner, 'rule', None)
    if entry is not None:
        algo = entry.name
    elif vars(type(learner)).get('generic') and rule is not None:
        algo = rule.name             # a rule value run by the generic shell: the rule's own name
    else:
        algo = type(learner).__name__.lower()
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


def make_row(step: int, algorithm: str, loss: float, acc: float, dt: float, elapsed: float, extras: dict,
             ref=None, oracle_time=None) -> dict:
    """The row of one step (as passed to ``on_step``): loss, accuracy, magnitudes, agreement with ``ref``."""
    from ..oracle import agreement, path_str
    row = {'step': step, 'algorithm': algorithm, 'loss': loss, 'accuracy': acc, 'step_time': dt,
           'elapsed': elapsed}
    if extras:
        row['grad_norms'] = {path_str(k): math.sqrt(float(v)) for k, v in extras['grad_sq'].items()}
        row['trace_norms'] = {p: math.sqrt(float(v)) for p, v in extras['trace_sq'].items()}
        row['signal_norms'] = {p: math.sqrt(float(v)) for p, v in extras['signal_ms'].items()}
    if ref is not None:
        rep = agreement(extras['grads'], ref)
        row.update(cosine=rep.cosine, relative_error=rep.relative_error, oracle_time=oracle_time,
                   agreement={r.path: {'cosine': r.cosine, 'relative_error': r.relative_error} for r in rep.rows})
    return row
