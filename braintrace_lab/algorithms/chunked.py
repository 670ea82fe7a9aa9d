"""``etrace_grad(chunk=K)``: per-step weight products added once per ``K`` steps.

With a factorised trace (``ex (..., I)``, ``ef (..., O, S)``) the gradient of a dense
weight at step ``t`` is ``dW_t = sum_pos ex_t (x) sig_t`` with ``sig_t = sum_s ef_t g_t``.
A training step that needs a gradient at every step pays one weight-sized product
(and one pass over the running sum) per step. A driver that only returns the sum over
the sequence can keep ``ex_t`` and ``sig_t`` for ``K`` steps and add

    sum_{t in chunk} dW_t = X^T S,   X = [ex_t] (K*pos x I),  S = [sig_t] (K*pos x O),

as one matrix product: the same sum, in another order (``benchmarks/accumulation_bound.py``
measures what that saves). The one-step gradient of a weight that reaches the state
only through another weight (a GRU's reset gate) has the same form, ``x_t^T dy_t``
with the op's input ``x_t`` and output cotangent ``dy_t``, and is deferred the same way.
The learner's backward pass leaves these products out
(asked for with ``learner.stepping(deferred=...)``, see :mod:`.learner_step`); every
other weight keeps its per-step gradient. What qualifies: a dense matrix product whose weights are
parameters read directly by the op (a weight with units is summed on its mantissa,
as the per-step cotangents are), traced by an :class:`IODimEngine` or immediate-only.
"""
from __future__ import annotations

import dataclasses
from typing import Optional, Tuple, Union

import brainstate
import jax
import jax.numpy as jnp

from .engines import IODimEngine
from .op_rules import OpRule, rule_for
from .time_driver import scan_time

__all__ = ['DeferredProduct', 'deferrable', 'run_chunked', 'check_chunk']


@dataclasses.dataclass(frozen=True)
class DeferredProduct:
    """One weight product the chunking driver adds itself.

    ``key``: the relation key (``'W@op0->g0'``, a factor trace) or the op index
    (an immediate-only op); ``targets``: per weight operand of the op, the
    ``(params key, leaf index)`` its gradient is added to, or ``None``; ``group``:
    the hidden group of a relation's learning signal.
    """
    key: Union[str, int]
    rule: OpRule
    targets: Tuple[Optional[tuple], ...]
    group: Optional[int] = None

    @property
    def immediate(self) -> bool:
        return isinstance(self.key, int)


def _targets(plan, op, key_of):
    """``(params key, leaf index)`` per weight operand of ``op``, or ``None`` if one is not a direct parameter."""
    targets = []
    for pid, direct in zip(op.weight_params, op.weight_direct):
        if pid is None:
            targets.append(None)
            continue
        state = plan.cap.states[plan.leaves[pid].state_index]
        key = key_of.get(id(state))
        if key is None or not direct:
            return None
        targets.append((key, plan.leaves[pid].leaf_index))
    return tuple(targets)


def deferrable(learner, params):
    """The :class:`DeferredProduct` s of ``learner`` whose weights are in ``params``."""
    plan = learner._plan
    if not getattr(learner, 'defers_products', False):
        return []
    key_of = {id(st): k for k, st in params.items()}
    ops = {op.index: op for op in plan.ops}
    found = []
    if plan.direct_weights:
        for rel in plan.relations:
            if type(getattr(rel, 'engine', None)) is not IODimEngine:
                continue
            if rel.rule.family != 'dense' or rel.rule.kind != 'matmul':
                continue
            targets = _targets(plan, ops[rel.op], key_of)
            if targets is not None:
                found.append(DeferredProduct(rel.key, rel.rule, targets, rel.group))
    immediate = {plan.param_ids[i] for i in plan.immediate_params}
    for op in plan.ops:
        used = [pid for pid in op.weight_params if pid is not None]
        if op.index in plan.rel_ops or not used or not set(used) <= immediate:
            continue
        rule = rule_for(op.eqn)
        if rule.family != 'dense' or rule.kind != 'matmul':
            continue
        targets = _targets(plan, op, key_of)
        if targets is not None:
            found.append(DeferredProduct(op.index, rule, targets))
    return found


def _step_factors(learner, deferred, signal, op_inputs, op_cots):
    """``(x, s, one)`` of each deferred product after a step: its gradient is ``x^T s`` and its bias
    gradient ``sum one * s`` (``one``: a factor trace's decayed ones, ``None`` for all ones)."""
    plan = learner._plan
    traces = learner.etrace.value
    inputs, op_cots = iter(op_inputs), iter(op_cots)
    out = []
    for item in deferred:
        if item.immediate:
            x = next(inputs)
            out.append((x, next(op_cots).astype(x.dtype), None))
            continue
        trace = traces[item.key]
        g = jnp.stack([signal[i] for i in plan.groups[item.group]], axis=-1)
        sig = IODimEngine.output_signal(trace, g)                   # (..., O)
        out.append((trace['x'], sig.astype(trace['x'].dtype), trace.get('one')))
    return out


def _add_chunk(acc, deferred, factors):
    """Add ``X^T S`` (and the bias sums) of one chunk of stacked factors to the running sums."""
    acc = dict(acc)
    for item, (X, S, ONE) in zip(deferred, factors):
        X, S = X.reshape(-1, X.shape[-1]), S.reshape(-1, S.shape[-1])      # (K * positions, I), (.., O)
        dW = jax.lax.dot_general(X, S, (((0,), (0,)), ((), ())))              # X^T S, one contracted axis
        db = None
        if item.rule.has_bias:
            db = S.sum(0) if ONE is None else ONE.reshape(-1) @ S
        for cot, target in zip(item.rule.dense_to_operands(None, dW, db), item.targets):
            if target is None or cot is None:
                continue
            key, index = target
            leaves, tree = jax.tree.flatten(acc[key])
            leaves[index] = leaves[index] + cot.astype(leaves[index].dtype)
            acc[key] = jax.tree.unflatten(tree, leaves)
    return acc


def check_chunk(chunk):
    """Raise unless ``chunk`` is a positive int."""
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f'etrace_grad(chunk={chunk!r}): chunk must be a positive int (steps per product).')


def run_chunked(learner, xs, step_loss, params, chunk, probe_key, observe=None):
    """Summed gradients, per-step losses and observations, the deferred products added once per ``chunk`` steps.

    ``observe(out, learner)``, if given, runs after each step (learning signal recorded) and its
    values come back stacked over time; otherwise the third result is ``None``.
    """
    check_chunk(chunk)
    if learner.vjp_method != 'single-step':
        raise ValueError("etrace_grad(chunk=K) steps one input at a time; this learner was built with "
                         "vjp_method='multi-step': pass window=K instead.")
    deferred = deferrable(learner, params)
    op_keys = [item.key for item in deferred if item.immediate]
    op_probe_key = probe_key + ('ops',)
    zero = {k: jax.tree.map(jnp.zeros_like, v.value) for k, v in params.items()}

    def step(acc, x, t):
        def loss_and_output():
            out = learner(x)
            loss = step_loss(out, t)
            return loss, (loss, out)
        grads, (loss, out) = brainstate.transform.grad(loss_and_output, targets, has_aux=True)()
        signal = grads.pop(probe_key)
        op_inputs, op_cots = (), ()
        if op_keys:
            cots = grads.pop(op_probe_key)
            op_inputs = tuple(learner.op_inputs.value[k] for k in op_keys)
            op_cots = tuple(cots[k] for k in op_keys)
        learner.last_signal.value = signal
        factors = _step_factors(learner, deferred, signal, op_inputs, op_cots)
        seen = None if observe is None else observe(out, learner)
        return jax.tree.map(jnp.add, acc, grads), (loss, seen, factors)

    def end_chunk(acc, outs):
        losses, seen, factors = outs
        return _add_chunk(acc, deferred, factors), (losses, seen)

    # the learner's backward pass leaves the deferred products out; op_probe's cotangent is each op's dy
    with learner.stepping(deferred=[item.key for item in deferred]):
        targets = dict(params)
        targets[probe_key] = learner.signal_probe
        if op_keys:
            targets[op_probe_key] = learner.op_probe
        acc, (losses, seen) = scan_time(step, zero, xs, chunk=chunk, end_chunk=end_chunk)
    return acc, losses, seen
