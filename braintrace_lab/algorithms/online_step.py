"""The online step of a learner, built once per mode, and the public way for a driver to pick a mode.

One step builder, :func:`build_online_step`, turns a compiled plan into a
``custom_vjp`` function whose backward pass returns the online gradient. What can
vary between calls is a :class:`StepMode`, a frozen value fixed when the step is
traced (never a global flag, never a field a driver writes):

* ``summed`` - under ``grad(vmap(learner))`` with shared weights the backward pass
  returns batch totals (:mod:`.batch_sum`); detected at the call, not asked for;
* ``deferred`` - what a chunking driver adds itself (:mod:`.chunked`): relation keys
  (``str``) whose trace gradient is left out, and indices of immediate-only dense ops
  (``int``) whose one-step gradient is left out;
* ``partitioned`` - the batch is split over devices (:mod:`braintrace_lab.lab.devices`):
  the engines' batch sums become reductions XLA can split.

A driver asks for a mode with :meth:`OnlineStepping.stepping`, a context of the
learner itself; every call of the learner inside it runs that variant::

    with learner.stepping(deferred=keys):
        grads = brainstate.transform.grad(lambda: loss(learner(x), y), targets)()
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from .batch_sum import batch_total
from .engines import EngineMode, with_mode
from .op_rules import rule_for

__all__ = ['StepMode', 'build_online_step', 'zero_cotangent']


@dataclasses.dataclass(frozen=True)
class StepMode:
    """Which variant of the online step runs (see the module docstring); the default is the plain step."""
    summed: bool = False
    deferred: frozenset = frozenset()
    partitioned: bool = False

    @property
    def engine_mode(self) -> EngineMode:
        return EngineMode(summed=self.summed, partitioned=self.partitioned)

    @property
    def deferred_ops(self) -> tuple:
        """Indices of the immediate-only ops whose weight products are deferred, sorted."""
        return tuple(sorted(k for k in self.deferred if isinstance(k, int)))


def zero_cotangent(x):
    """The zero cotangent of ``x``: ``float0`` for integer values."""
    dt = jnp.result_type(x)
    if not jnp.issubdtype(dt, jnp.inexact):
        return np.zeros(np.shape(x), dtype=jax.dtypes.float0)
    return jnp.zeros(np.shape(x), dt)


def build_online_step(algo, plan, mode: StepMode = StepMode()):
    """``(online_step, forward_parts)`` of ``algo`` on ``plan`` in ``mode``.

    ``online_step(p, probe, h, o, args, traces) -> (outs, writes, new_traces, op_inputs)``
    is a ``custom_vjp`` function: its backward pass gives every traced weight the trace
    contracted with the learning signal, immediate weights their one-step gradient, and
    the probe the learning signal ``dL/dh`` (``probe = (signal probe, op probe)`` when ops
    are deferred: the op probe's cotangent is each deferred op's output cotangent ``dy``
    and ``op_inputs`` its input ``x``, so the driver adds ``x^T dy``).
    ``forward_parts`` is the forward computation alone (windows use it after their first step).
    """
    deferred = mode.deferred
    imm_ops = mode.deferred_ops
    op_rules = {op.index: rule_for(op.eqn) for op in plan.ops if op.index in imm_ops}
    emode = mode.engine_mode
    engines = {rel.key: rel.engine if emode == EngineMode() else with_mode(rel.engine, emode)
               for rel in plan.relations}

    def op_inputs(record):
        return tuple(op_rules[k].input_factor(record[k][0]) for k in imm_ops)

    def forward_parts(p, h, o, args, traces):
        e0 = tuple(jnp.zeros_like(x) for x in h)
        outs, vjp_signal, (writes, record) = jax.vjp(
            lambda pp, ee: plan.run_signal(pp, ee, h, o, args), p, e0, has_aux=True)
        D, Df = plan.transition_derivatives(p, h, o, args, record, coupled=algo.coupled_transition)
        # computed once per step: keep XLA from fusing (recomputing) them into every trace element
        D, Df = jax.lax.optimization_barrier((D, Df))
        new_traces = {}
        for rel in plan.relations:
            canon = rel.rule.canonical        # a conv's channel axis last (identity otherwise)
            new_traces[rel.key] = rel.engine.update(traces[rel.key], rel.rule, record[rel.op][0],
                                                    canon(D[rel.group], 2), canon(Df[rel.key], 1))
        return outs, writes, new_traces, record, vjp_signal

    @jax.custom_vjp
    def online_step(p, probe, h, o, args, traces):
        outs, writes, new_traces, record, _ = forward_parts(p, h, o, args, traces)
        return outs, writes, new_traces, op_inputs(record)

    def fwd(p, probe, h, o, args, traces):
        outs, writes, new_traces, record, vjp_signal = forward_parts(p, h, o, args, traces)
        operands = {k: record[k][0] for k in plan.rel_ops}
        vjp_weights = None
        if not plan.direct_weights:
            def weight_operands(pp):
                rec = {}
                plan.run(pp, h, o, args, op_record=rec)
                return {k: rec[k][0][plan.ops[k].spec.n_inputs:plan.ops[k].spec.n_inputs
                                               + plan.ops[k].spec.n_weights] for k in plan.rel_ops}
            _, vjp_weights = jax.vjp(weight_operands, p)
        vjp_immediate = None
        if plan.immediate_params or imm_ops:
            # deferred ops' outputs are inputs here: their weights get nothing, their outputs dy
            def new_hidden(pp, ys):
                _, new_writes = plan.run(pp, h, o, args, op_override=dict(zip(imm_ops, ys)))
                return plan.hidden_from_writes(new_writes)
            _, vjp_immediate = jax.vjp(new_hidden, p, tuple(record[k][1] for k in imm_ops))
        zeros = jax.tree.map(zero_cotangent, (h, o, args, traces))
        res = (vjp_signal, vjp_weights, vjp_immediate, new_traces, operands, p, zeros,
               (h, args) if mode.summed else None)
        return (outs, writes, new_traces, op_inputs(record)), res

    def bwd(res, cots):
        cot_p, *rest = bwd_parts(res, cots)
        if not mode.summed:
            return (cot_p, *rest)
        refs = res[-1]       # the per-sample (batched) step operands
        totals = tuple(c if getattr(c, 'dtype', None) == jax.dtypes.float0 else batch_total(c, refs)
                       for c in cot_p)
        return (totals, *rest)

    def weight_cotangents(g, new_traces, operands):
        op_cots = {}
        for rel in plan.relations:
            if rel.key in deferred:
                continue
            gs = rel.rule.canonical(jnp.stack([g[i] for i in plan.groups[rel.group]], axis=-1), 1)
            cots_w = engines[rel.key].grads(new_traces[rel.key], rel.rule, operands[rel.op], gs)
            acc = op_cots.setdefault(rel.op, [None] * len(cots_w))
            for j, c in enumerate(cots_w):
                if c is not None:
                    acc[j] = c if acc[j] is None else acc[j] + c
        return op_cots

    def bwd_parts(res, cots):
        vjp_signal, vjp_weights, vjp_immediate, new_traces, operands, p, zeros, _ = res
        cot_out, cot_writes = cots[:2]
        cot_p, g_out = vjp_signal(tuple(cot_out))
        g = tuple(a + cot_writes[i] for a, i in zip(g_out, plan.hidden_write_pos))
        g = algo.learning_signal(g, cot_out, plan)
        cot_p = list(cot_p)
        op_cots = weight_cotangents(g, new_traces, operands)
        if plan.direct_weights:
            for op in plan.ops:
                if op.index not in op_cots:
                    continue
                for j, (pid, c) in enumerate(zip(op.weight_params, op_cots[op.index])):
                    if pid is None or c is None:
                        continue
                    i = plan.param_pos[pid]
                    cot_p[i] = cot_p[i] + c.astype(cot_p[i].dtype)
        else:
            full = {}
            for op in plan.ops:
                if op.index not in plan.rel_ops:
                    continue
                n_in = op.spec.n_inputs
                wvals = operands[op.index][n_in:n_in + op.spec.n_weights]
                got = op_cots.get(op.index, [None] * len(wvals))
                full[op.index] = tuple(jnp.zeros_like(v) if c is None else c.astype(v.dtype)
                                       for v, c in zip(wvals, got))
            (chain,) = vjp_weights(full)
            cot_p = [a + b for a, b in zip(cot_p, chain)]
        dy = ()
        if vjp_immediate is not None:
            imm, dy = vjp_immediate(g)
            for i in plan.immediate_params:
                cot_p[i] = cot_p[i] + imm[i]
        h0, o0, a0, t0 = zeros
        probe_cot = (tuple(g), tuple(dy)) if imm_ops else tuple(g)
        return tuple(cot_p), probe_cot, h0, o0, a0, t0

    online_step.defvjp(fwd, bwd)
    return online_step, forward_parts
