"""Trace engines for the SNN rules: a kappa low-pass, a presynaptic trace, a target-driven signal.

Same contract as :mod:`.engines` (``init``, ``update``, ``grads`` per relation;
``xf`` input factor ``(..., I)``, ``Df = dh/dy (..., O, S)``, ``g`` the learning
signal ``(..., O, S)``):

* :class:`KappaTraceFilter` low-passes any linear trace: ``e_bar = kappa e_bar + e``;
  the gradient contracts ``e_bar`` (e-prop's filtered eligibility trace).
* :class:`PresynapticTrace` keeps only ``a = lam a + xf`` between steps (OTTT);
  the gradient is ``a (x) sum_s g Df`` with this step's ``Df`` (kept under
  ``'post'`` for one step only: :data:`PER_STEP_KEY`, not carried).
* :class:`ProjectedSignal` contracts its inner trace with a signal computed from a
  target stored next to the trace (OSTTP), instead of the backpropagated ``g``.

:func:`group_leak` reads a hidden group's leak ``exp(-dt/tau)`` from the model.

>>> from braintrace_lab.algorithms.engines import ParamDimEngine
>>> KappaTraceFilter(inner=ParamDimEngine(), kappa=0.9)     # e-prop with a filtered trace
>>> PresynapticTrace(decay=0.5)                        # OTTT_A with lambda = 0.5
"""
from __future__ import annotations

import dataclasses
import numbers

import brainstate
import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np

from .engines import TraceEngine, _lead, factor_grads

__all__ = ['KappaTraceFilter', 'PresynapticTrace', 'ProjectedSignal', 'PER_STEP_KEY', 'group_leak', 'leak_decays',
           'check_unit_interval', 'FALLBACK_DECAY', 'carried_traces']

PER_STEP_KEY = 'post'
FALLBACK_DECAY = 0.5      # where the model has no leak (a GRU): OTTT's lambda = 1 - 1/tau with tau = 2


def check_unit_interval(name, value, who, closed_low=True):
    """A float in ``[0, 1)`` (or ``(0, 1)``), else a ValueError naming the option."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f'{who}: {name} must be a float, got {value!r} ({type(value).__name__}).')
    v = float(value)
    if not ((0.0 <= v if closed_low else 0.0 < v) and v < 1.0):
        rng = '[0, 1)' if closed_low else '(0, 1)'
        raise ValueError(f'{who}: {name}={value} must lie in {rng}, e.g. 0.9.')
    return v


@dataclasses.dataclass(frozen=True)
class KappaTraceFilter(TraceEngine):
    """Low-pass of an inner engine's trace: ``e_bar^t = kappa e_bar^{t-1} + e^t``; gradient on ``e_bar``.

    Valid for engines whose gradient is linear in the trace (D-RTRL's). Memory is
    twice the inner trace (``e`` and ``e_bar``).

    >>> from braintrace_lab.algorithms.engines import ParamDimEngine
    >>> KappaTraceFilter(inner=ParamDimEngine(), kappa=0.5)
    """
    inner: TraceEngine = None
    kappa: float = 0.0

    def __post_init__(self):
        if not isinstance(self.inner, TraceEngine):
            raise TypeError(f'KappaTraceFilter(inner=...) needs the engine whose trace it filters, e.g. '
                            f'KappaTraceFilter(inner=ParamDimEngine(), kappa=0.5); got inner={self.inner!r}.')

    def init(self, rule, S, x_shape, dtype):
        tr = self.inner.init(rule, S, x_shape, dtype)
        return {'e': tr, 'bar': jax.tree.map(jnp.zeros_like, tr)}

    def update(self, trace, rule, operands, D, Df):
        e = self.inner.update(trace['e'], rule, operands, D, Df)
        bar = jax.tree.map(lambda b, x: (self.kappa * b + x).astype(b.dtype), trace['bar'], e)
        return {'e': e, 'bar': bar}

    def grads(self, trace, rule, operands, g):
        return self.inner.grads(trace['bar'], rule, operands, g)


@dataclasses.dataclass(frozen=True)
class PresynapticTrace(TraceEngine):
    """Leaky accumulator of an op's inputs, ``a^t = decay a^{t-1} + xf^t``; gradient ``a (x) (g . Df)``.

    Carried between steps: ``a (..., I)`` (and ``sum decay^k`` for a bias), i.e.
    ``O(B I)``. ``decay = 0`` keeps only the current input (OTTT_O). Element-wise
    ops accumulate ``dy/dw`` per position the same way.

    >>> PresynapticTrace(decay=0.9)
    """
    decay: float = 0.0

    def init(self, rule, S, x_shape, dtype):
        dt = self._dt(dtype)
        if rule.family == 'elementwise':
            return {'x': jnp.zeros(rule.out_shape, dt)}
        lead = _lead(rule)
        tr = {'x': jnp.zeros(lead + (rule.input_size(x_shape),), dt)}
        if rule.has_bias:
            tr['one'] = jnp.zeros(lead, dt)
        return tr

    def update(self, trace, rule, operands, D, Df):
        dt = trace['x'].dtype
        if rule.family == 'elementwise':
            xf = rule.local_derivative(operands)
        elif rule.family == 'sparse':
            xf = operands[0]
        else:
            xf = rule.input_factor(operands)
        new = {'x': (self.decay * trace['x'] + xf).astype(dt), PER_STEP_KEY: Df.astype(dt)}
        if 'one' in trace:
            new['one'] = (self.decay * trace['one'] + 1.0).astype(dt)
        return new

    @staticmethod
    def carried(trace):
        """The part kept between steps (this step's ``Df`` dropped)."""
        return {n: v for n, v in trace.items() if n != PER_STEP_KEY}

    def grads(self, trace, rule, operands, g):
        sig = jnp.sum(trace[PER_STEP_KEY] * g, axis=-1)       # (..., O): dL/dy of the op
        if rule.family == 'elementwise':
            return (rule.reduce_to_weight(trace['x'] * sig),)
        return factor_grads(trace, rule, operands, sig)


class ProjectedSignal:
    """Inner trace contracted with a signal from the stored target: ``L = y* P`` per state (OSTTP).

    Trace layout ``{'trace': inner, 'target': y*}``; the learner writes the
    target in before each step. ``projection(s, target, like)`` gives state ``s``'s
    signal; states without a projection (``None``) keep the backpropagated ``g``.
    """

    def __init__(self, inner, projections, target_shape, target_dtype):
        self.inner = inner
        self.projections = tuple(projections)     # per state of the group: callable or None
        self.target_shape = tuple(target_shape)
        self.target_dtype = target_dtype

    def init(self, rule, S, x_shape, dtype):
        return {'trace': self.inner.init(rule, S, x_shape, dtype),
                'target': jnp.zeros(self.target_shape, self.target_dtype)}

    def update(self, trace, rule, operands, D, Df):
        return {'trace': self.inner.update(trace['trace'], rule, operands, D, Df), 'target': trace['target']}

    def carried(self, trace):
        keep = getattr(self.inner, 'carried', None)
        return trace if keep is None else {**trace, 'trace': keep(trace['trace'])}

    def signal(self, target, g):
        parts = [g[..., s] if proj is None else proj(target, g[..., s])
                 for s, proj in enumerate(self.projections)]
        return jnp.stack(parts, axis=-1)

    def grads(self, trace, rule, operands, g):
        # the projection acts on the state's own layout (a conv's output may be channels first)
        sig = self.signal(trace['target'], rule.from_canonical(g, 1))
        return self.inner.grads(trace['trace'], rule, operands, rule.canonical(sig, 1))


def carried_traces(plan, traces):
    """The traces kept between steps: each engine with a ``carried`` method drops its per-step parts."""
    out = dict(traces)
    for rel in plan.relations:
        keep = getattr(rel.engine, 'carried', None)
        if keep is not None:
            out[rel.key] = keep(out[rel.key])
    return out


def leak_decays(model, plan, decay=None) -> dict:
    """``{relation key: decay}``: ``decay`` when given, else the leak of the neuron that owns the relation's
    hidden group (:func:`group_leak`), else :data:`FALLBACK_DECAY`."""
    out = {}
    for rel in plan.relations:
        lam = decay if decay is not None else group_leak(model, plan, rel.group)
        out[rel.key] = float(FALLBACK_DECAY if lam is None else lam)
    return out


def _owner(model, state):
    for node in model.nodes().values():
        if any(v is state for v in vars(node).values()):
            return node
    return None


def _si(q):
    """A concrete value (or Quantity, in base SI units) as a NumPy array; raises if traced."""
    if isinstance(q, u.Quantity):
        return np.asarray(q.mantissa, dtype=float) * float(q.unit.magnitude)
    return np.asarray(q, dtype=float)


def _as_float(val):
    try:
        arr = np.asarray(u.get_mantissa(u.maybe_decimal(val)), dtype=float)
    except Exception:
        return None
    if arr.size == 0 or not np.all(np.isfinite(arr)):
        return None
    v = float(arr.mean())
    return v if 0.0 <= v < 1.0 else None


def group_leak(model, plan, group: int):
    """The per-step leak of hidden group ``group`` read from the module that owns its first state.

    In order: a ``decay()`` method or float ``decay`` attribute, ``exp(-dt/tau)``
    from a ``tau`` attribute and the environment's ``dt`` (exponential-Euler LIF,
    ALIF, leaky readouts), a float ``lam`` attribute. Arrays are averaged.
    Returns ``None`` when nothing applies (e.g. a GRU).
    """
    leaf = plan.leaves[plan.hidden_ids[plan.groups[group][0]]]
    owner = _owner(model, plan.cap.states[leaf.state_index])
    if owner is None:
        return None
    decay = getattr(owner, 'decay', None)
    if callable(decay):
        try:
            v = _as_float(decay())
        except Exception:
            v = None
        if v is not None:
            return v
    elif decay is not None and _as_float(decay) is not None:
        return _as_float(decay)
    tau = getattr(owner, 'tau', None)
    if tau is not None:
        try:        # in NumPy: jnp would be staged (not evaluated) when compiled under jit
            dt = brainstate.environ.get_dt()
            same_kind = (u.get_unit(tau) == u.UNITLESS) == (u.get_unit(dt) == u.UNITLESS)
            v = _as_float(np.exp(-_si(dt) / _si(tau))) if same_kind else None
        except Exception:
            v = None
        if v is not None:
            return v
    lam = getattr(owner, 'lam', None)
    if isinstance(lam, numbers.Real) and not isinstance(lam, bool):
        return _as_float(lam)
    return None
