"""Trace engines: how an eligibility trace is stored, updated and contracted.

Notation per relation (one op feeding one hidden group of ``S`` states per
position): ``xf`` the op's input factor ``(..., I)``, ``D`` the per-position
transition ``(..., O, S, S)``, ``Df = dh/dy`` ``(..., O, S)``, ``g = dL/dh``
``(..., O, S)``. Leading axes are positions the weight is shared over (batch,
conv output pixels); gradients sum over them.

* :class:`ParamDimEngine` keeps the full per-weight trace (D-RTRL):
  ``eps = D eps + Df (x) xf``, gradient ``sum_s g eps``.
* :class:`IODimEngine` keeps factors (ES-D-RTRL / pp_prop and relatives):
  ``ex = a_x ex + xf``, ``ef = a_f T(ef) + c Df`` with ``T`` = ``D`` or identity,
  gradient ``ex (x) sum_s g ef``.
* :class:`LowRankEngine` keeps ``r`` factor pairs of the D-RTRL trace, truncated to
  the top ``r`` singular modes each step.
"""
from __future__ import annotations

import copy
import dataclasses
from typing import Optional

import jax
import jax.numpy as jnp

from .batch_sum import summed_contraction

__all__ = ['TraceEngine', 'ParamDimEngine', 'IODimEngine', 'LowRankEngine', 'EngineMode', 'with_mode', 'dmul',
           'trace_nbytes']


def dmul(D, e):
    """Apply per-position ``S x S`` blocks ``D (..., S, S)`` to ``e (..., S)`` (broadcasting)."""
    if D.shape[-1] == 1:
        return D[..., 0] * e
    return jnp.einsum('...ab,...b->...a', D, e)


def trace_nbytes(trace) -> int:
    return int(sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(trace)))


def _lead(rule):
    return rule.out_shape[:-1]


def _sum_lead(x, n_lead):
    return x.sum(axis=tuple(range(n_lead))) if n_lead else x


@dataclasses.dataclass(frozen=True)
class EngineMode:
    """How an engine's contractions are traced: chosen when a step is built, never read from global state.

    ``summed``: the step runs under ``grad(vmap(learner))`` with shared weights and returns
    batch totals (:mod:`.batch_sum`): a per-sample contraction hands back its share of the
    batch total, accumulated over the batch. ``partitioned``: the batch is split over
    devices (:mod:`braintrace_lab.lab.devices`): batch sums are traced as reductions, never
    loops, since XLA's partitioner cannot split a loop over the batch positions (it would
    gather the whole trace onto every device) but turns a reduction into per-device partial
    sums and one all-reduce.
    """
    summed: bool = False
    partitioned: bool = False


PLAIN = EngineMode()


def with_mode(engine, mode: EngineMode):
    """``engine`` (and every engine it wraps) set to contract in ``mode``; the engine itself if the mode is plain.

    Engines are frozen values: this returns a copy. A wrapper that is not a dataclass but
    holds its engine as ``inner`` (:class:`~.snn_traces.ProjectedSignal`) gets a copy with
    the inner engine in ``mode``; anything else is returned as it is.
    """
    if mode == getattr(engine, 'mode', PLAIN) and not hasattr(engine, 'inner'):
        return engine
    if isinstance(engine, TraceEngine):
        nested = {f.name: with_mode(getattr(engine, f.name), mode) for f in dataclasses.fields(engine)
                  if f.init and _is_engine(getattr(engine, f.name))}
        return dataclasses.replace(engine, mode=mode, **nested)
    if _is_engine(getattr(engine, 'inner', None)):
        out = copy.copy(engine)
        out.inner = with_mode(engine.inner, mode)
        return out
    return engine


def _is_engine(value) -> bool:
    return all(callable(getattr(value, name, None)) for name in ('init', 'update', 'grads'))


def on_cpu() -> bool:
    """Whether jax runs on the CPU (the engine picks its contraction strategy by this, unless its
    :class:`EngineMode` says the batch is split over devices)."""
    return jax.default_backend() == 'cpu'


def position_sum(fn, n_lead, *arrays, mode: EngineMode = PLAIN):
    """``sum over leading position axes of fn(*slices)``, without a fused multiply-reduce.

    XLA on CPU turns ``(eps * g).sum(batch)`` into a fused reduction that is an
    order of magnitude slower than accumulating position by position, so on CPU
    the sum is a loop, and with no leading axis (a per-sample learner under
    ``vmap``) the product is materialised behind an optimisation barrier so the
    batch sum ``vmap`` adds stays a plain reduction. On an accelerator the fused
    multiply-reduce is what we want: it reads the trace once, with no product
    written out, so there the sum is one broadcast-and-reduce. ``mode`` is fixed when
    the step is built: ``summed`` accumulates over the batch under ``vmap`` with batch
    totals, ``partitioned`` takes the reduction path on every backend.
    """
    cpu = on_cpu() and not mode.partitioned
    if n_lead == 0:
        if cpu and mode.summed:       # under vmap with batch totals: accumulate over the batch
            return summed_contraction(fn, lambda f, *a: position_sum(f, 1, *a, mode=mode))(*arrays)
        return jax.lax.optimization_barrier(fn(*arrays)) if cpu else fn(*arrays)
    if not cpu:
        return jax.vmap(fn)(*[a.reshape((-1,) + a.shape[n_lead:]) for a in arrays]).sum(0)
    flat = [a.reshape((-1,) + a.shape[n_lead:]) for a in arrays]
    out = jax.eval_shape(fn, *[jax.ShapeDtypeStruct(f.shape[1:], f.dtype) for f in flat])
    body = lambda i, acc: acc + fn(*[f[i] for f in flat])
    n = flat[0].shape[0]
    # four positions per loop iteration: measured 30 % faster than one (and than 8 or 16) on CPU
    return jax.lax.fori_loop(0, n, body, jnp.zeros(out.shape, out.dtype), unroll=min(4, max(n, 1)))


def factor_grads(trace, rule, operands, sig):
    """Weight gradients of an input-factor trace ``{'x', ['one']}`` and a per-output signal ``sig (..., O)``:
    ``dW = sum_pos x (x) sig`` (and ``db = sum_pos one * sig``); sparse ops keep their stored entries."""
    n_lead = len(_lead(rule))
    if rule.family == 'sparse':
        rows, cols = rule.sparse_indices(operands)
        return (rule.sparse_to_operands(operands, _sum_lead(trace['x'][..., rows] * sig[..., cols], n_lead)),)
    dW = jnp.einsum('...i,...o->io', trace['x'], sig.astype(trace['x'].dtype))
    db = _sum_lead(trace['one'][..., None] * sig, n_lead) if 'one' in trace else None
    return rule.dense_to_operands(operands, dW, db)


@dataclasses.dataclass(frozen=True)
class TraceEngine:
    """Base class: ``init``, ``update`` and ``grads`` for one relation.

    ``dtype`` (the stored trace's dtype, ``None`` for the model's) is keyword-only, so an
    engine's own options come first: ``ParamDimEngine(0.9)`` is a scalar leak of 0.9.
    """
    dtype: Optional[object] = dataclasses.field(default=None, kw_only=True)
    # how contractions are traced: set per step variant by with_mode(), not part of the engine's identity
    mode: EngineMode = dataclasses.field(default=PLAIN, kw_only=True, repr=False, compare=False)

    def _dt(self, default):
        return self.dtype if self.dtype is not None else default

    # element-wise ops keep an exact per-position trace in every engine: it is
    # already as small as the output side of a factorised trace.
    def _ew_init(self, rule, S, dtype):
        return {'ew': jnp.zeros(rule.out_shape + (S,), self._dt(dtype))}

    def _ew_update(self, trace, rule, operands, D, Df, transition):
        dydw = rule.local_derivative(operands)
        e = transition(D, trace['ew'])
        return {'ew': (e + dydw[..., None] * Df).astype(trace['ew'].dtype)}

    def _ew_grads(self, trace, rule, g):
        return (rule.reduce_to_weight(jnp.sum(trace['ew'] * g, axis=-1)),)

    def _dense_pd_grads(self, w, b, g, n_lead):
        """``dW[i, o] = sum_pos sum_s w[pos, i, o, s] g[pos, o, s]`` (and ``db``)."""
        g = g.astype(w.dtype)
        dW = position_sum(lambda ww, gg: jnp.sum(ww * gg[None], axis=-1), n_lead, w, g, mode=self.mode)
        db = None if b is None else position_sum(lambda bb, gg: jnp.sum(bb * gg, axis=-1), n_lead, b, g,
                                                 mode=self.mode)
        return dW, db

    def _pd_bias_init(self, rule, S, dtype):
        return jnp.zeros(rule.out_shape + (S,), self._dt(dtype))


@dataclasses.dataclass(frozen=True)
class ParamDimEngine(TraceEngine):
    """Full per-weight trace ``(..., I, O, S)``; ``decay=None`` uses ``D``, a float uses a scalar leak."""
    decay: Optional[float] = None

    def _transition(self, D, e):
        return dmul(D, e) if self.decay is None else self.decay * e

    def init(self, rule, S, x_shape, dtype):
        if rule.family == 'elementwise':
            return self._ew_init(rule, S, dtype)
        lead, O = _lead(rule), rule.out_shape[-1]
        if rule.family == 'sparse':
            nnz = rule.weight_shapes[0][0]
            return {'w': jnp.zeros(lead + (nnz, S), self._dt(dtype))}
        I = rule.input_size(x_shape)
        tr = {'w': jnp.zeros(lead + (I, O, S), self._dt(dtype))}
        if rule.has_bias:
            tr['b'] = self._pd_bias_init(rule, S, dtype)
        return tr

    def update(self, trace, rule, operands, D, Df):
        if rule.family == 'elementwise':
            return self._ew_update(trace, rule, operands, D, Df, self._transition)
        dt = trace['w'].dtype
        if rule.family == 'sparse':
            rows, cols = rule.sparse_indices(operands)
            x = operands[0]
            e = self._transition(D[..., cols, :, :], trace['w'])
            return {'w': (e + x[..., rows, None] * Df[..., cols, :]).astype(dt)}
        xf = rule.input_factor(operands)
        e = self._transition(D[..., None, :, :, :], trace['w'])
        new = {'w': (e + xf[..., :, None, None] * Df[..., None, :, :]).astype(dt)}
        if rule.has_bias:
            new['b'] = (self._transition(D, trace['b']) + Df).astype(dt)
        return new

    def grads(self, trace, rule, operands, g):
        if rule.family == 'elementwise':
            return self._ew_grads(trace, rule, g)
        n_lead = len(_lead(rule))
        if rule.family == 'sparse':
            rows, cols = rule.sparse_indices(operands)
            gv = position_sum(lambda ww, gg: jnp.sum(ww * gg[cols, :], axis=-1), n_lead, trace['w'], g,
                              mode=self.mode)
            return (rule.sparse_to_operands(operands, gv),)
        dW, db = self._dense_pd_grads(trace['w'], trace.get('b'), g, n_lead)
        return rule.dense_to_operands(operands, dW, db)


@dataclasses.dataclass(frozen=True)
class IODimEngine(TraceEngine):
    """Factorised trace ``ex (..., I)``, ``ef (..., O, S)``.

    ``ex = x_decay ex + xf``; ``ef = f_decay T(ef) + f_scale Df`` where ``T`` is
    ``D`` when ``f_uses_D`` else the identity. pp_prop: ``x_decay = f_decay = a``,
    ``f_uses_D=True``, ``f_scale = 1`` (exact one step after a reset), or ``1 - a`` for
    its ``normalized=True`` form.
    """
    x_decay: float = 0.0
    f_decay: float = 0.0
    f_scale: float = 1.0
    f_uses_D: bool = True

    def _transition(self, D, e):
        return dmul(D, e) if self.f_uses_D else e

    def init(self, rule, S, x_shape, dtype):
        if rule.family == 'elementwise':
            return self._ew_init(rule, S, dtype)
        lead = _lead(rule)
        dt = self._dt(dtype)
        xf_shape = lead + (rule.input_size(x_shape),)
        tr = {'x': jnp.zeros(xf_shape, dt), 'f': jnp.zeros(rule.out_shape + (S,), dt)}
        if rule.has_bias:
            tr['one'] = jnp.zeros(lead, dt)
        return tr

    def update(self, trace, rule, operands, D, Df):
        if rule.family == 'elementwise':
            return self._ew_update(trace, rule, operands, D, Df,
                                   lambda D_, e: self.f_decay * self._transition(D_, e))
        dt = trace['x'].dtype
        xf = operands[0] if rule.family == 'sparse' else rule.input_factor(operands)
        new = {'x': (self.x_decay * trace['x'] + xf).astype(dt),
               'f': (self.f_decay * self._transition(D, trace['f']) + self.f_scale * Df).astype(dt)}
        if 'one' in trace:
            new['one'] = (self.x_decay * trace['one'] + 1.0).astype(dt)
        return new

    @staticmethod
    def output_signal(trace, g):
        """``sig = sum_s ef g`` (..., O): the output factor of the weight gradient ``ex (x) sig``."""
        return jnp.sum(trace['f'] * g, axis=-1)

    def grads(self, trace, rule, operands, g):
        if rule.family == 'elementwise':
            return self._ew_grads(trace, rule, g)
        return factor_grads(trace, rule, operands, self.output_signal(trace, g))


@dataclasses.dataclass(frozen=True)
class LowRankEngine(TraceEngine):
    """Rank-``r`` factorisation ``eps ~ U V`` of the D-RTRL trace, ``U (..., I, r)``, ``V (..., r, O, S)``.

    Each step: ``V <- D V``; append the new term ``xf (x) Df``; truncate back to the
    top ``r`` singular modes of the ``I x (O S)`` matrix (QR of both factors, SVD
    of the small core). With ``r >= min(I, O S)`` nothing is lost and the trace is
    D-RTRL's. Sparse and element-wise ops keep the exact D-RTRL trace.
    """
    rank: int = 1

    def _pd(self):
        return ParamDimEngine(dtype=self.dtype, mode=self.mode)

    def init(self, rule, S, x_shape, dtype):
        if rule.family != 'dense':
            return self._pd().init(rule, S, x_shape, dtype)
        lead, O = _lead(rule), rule.out_shape[-1]
        I = rule.input_size(x_shape)
        dt = self._dt(dtype)
        tr = {'u': jnp.zeros(lead + (I, self.rank), dt), 'v': jnp.zeros(lead + (self.rank, O, S), dt)}
        if rule.has_bias:
            tr['b'] = self._pd_bias_init(rule, S, dtype)
        return tr

    def update(self, trace, rule, operands, D, Df):
        if rule.family != 'dense':
            return self._pd().update(trace, rule, operands, D, Df)
        r = self.rank
        store = trace['u'].dtype
        work = jnp.promote_types(store, jnp.float32)      # QR/SVD need float32 or wider
        u, v = trace['u'].astype(work), trace['v'].astype(work)
        xf = rule.input_factor(operands).astype(work)
        v = dmul(D[..., None, :, :, :], v)                              # (..., r, O, S)
        u2 = jnp.concatenate([u, xf[..., :, None]], axis=-1)             # (..., I, r+1)
        v2 = jnp.concatenate([v, Df[..., None, :, :].astype(v.dtype)], axis=-3)  # (..., r+1, O, S)
        O, S = v2.shape[-2], v2.shape[-1]
        vm = v2.reshape(v2.shape[:-2] + (O * S,))                        # (..., r+1, OS)
        qu, ru = jnp.linalg.qr(u2)                                       # (..., I, k1), (..., k1, r+1)
        qv, rv = jnp.linalg.qr(jnp.swapaxes(vm, -1, -2))                 # (..., OS, k2), (..., k2, r+1)
        core = ru @ jnp.swapaxes(rv, -1, -2)                             # (..., k1, k2)
        p, s, qh = jnp.linalg.svd(core, full_matrices=False)
        k = s.shape[-1]
        keep = min(r, k)
        new_u = (qu @ p[..., :, :keep]) * s[..., None, :keep]            # (..., I, keep)
        new_v = jnp.swapaxes(qv @ jnp.swapaxes(qh[..., :keep, :], -1, -2), -1, -2)  # (..., keep, OS)
        if keep < r:
            new_u = jnp.concatenate([new_u, jnp.zeros(new_u.shape[:-1] + (r - keep,), new_u.dtype)], -1)
            new_v = jnp.concatenate([new_v, jnp.zeros(new_v.shape[:-2] + (r - keep, O * S), new_v.dtype)], -2)
        new = {'u': new_u.astype(store), 'v': new_v.reshape(new_v.shape[:-1] + (O, S)).astype(store)}
        if rule.has_bias:
            new['b'] = (dmul(D, trace['b']) + Df).astype(store)
        return new

    def grads(self, trace, rule, operands, g):
        if rule.family != 'dense':
            return self._pd().grads(trace, rule, operands, g)
        n_lead = len(_lead(rule))
        sig = jnp.einsum('...kos,...os->...ko', trace['v'], g.astype(trace['v'].dtype))  # (..., r, O)
        dW = jnp.einsum('...ik,...ko->io', trace['u'], sig)
        db = None
        if rule.has_bias:
            db = position_sum(lambda bb, gg: jnp.sum(bb * gg, axis=-1), n_lead, trace['b'],
                              g.astype(trace['b'].dtype), mode=self.mode)
        return rule.dense_to_operands(operands, dW, db)
