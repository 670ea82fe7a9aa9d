"""``etrace_grad(chunk=K)``: the factor-trace weight gradient added once per ``K`` steps.

With a factorised trace (``ex (..., I)``, ``ef (..., O, S)``) the gradient of a dense
weight at step ``t`` is ``dW_t = sum_pos ex_t (x) sig_t`` with ``sig_t = sum_s ef_t g_t``.
A training step that needs a gradient at every step pays one weight-sized product
(and one pass over the running sum) per step. A driver that only returns the sum over
the sequence can keep ``ex_t`` and ``sig_t`` for ``K`` steps and add

    sum_{t in chunk} dW_t = X^T S,   X = [ex_t] (K*pos x I),  S = [sig_t] (K*pos x O),

as one matrix product: the same sum, in another order (``benchmarks/accumulation_bound.py``
measures what that saves). The learner's backward pass leaves these relations out
(``ETraceAlgorithm._build_step(deferred=...)``); every other weight keeps its
per-step gradient. Relations that qualify: an :class:`IODimEngine` trace of a dense
matrix product whose weights are parameters read directly by the op (a weight with
units is summed on its mantissa, as the per-step cotangents are).
"""
from __future__ import annotations

import brainstate
import jax
import jax.numpy as jnp

from .engines import IODimEngine, _sum_lead

__all__ = ['deferrable_relations', 'run_chunked']


def deferrable_relations(learner, params):
    """``[(relation, [(params key, leaf index) or None per weight operand])]`` for the relations
    whose gradient the chunking driver can add itself."""
    plan = learner._plan
    if not plan.direct_weights:
        return []
    key_of = {id(st): k for k, st in params.items()}
    found = []
    for rel in plan.relations:
        if type(getattr(rel, 'engine', None)) is not IODimEngine:
            continue
        if rel.rule.family != 'dense' or rel.rule.kind != 'matmul':
            continue
        op = next(o for o in plan.ops if o.index == rel.op)
        targets, ok = [], True
        for pid in op.weight_params:
            if pid is None:
                targets.append(None)
                continue
            leaf = plan.leaves[pid]
            state = plan.cap.states[leaf.state_index]
            key = key_of.get(id(state))
            if key is None:
                ok = False
                break
            targets.append((key, leaf.leaf_index))
        if ok:
            found.append((rel, targets))
    return found


def _step_factors(learner, deferred, signal):
    """``(ex, sig, db)`` of each deferred relation after a step (``db`` summed over positions)."""
    plan = learner._plan
    traces = learner.etrace.value
    out = []
    for rel, _ in deferred:
        trace = traces[rel.key]
        g = jnp.stack([signal[i] for i in plan.groups[rel.group]], axis=-1)
        sig = IODimEngine.output_signal(trace, g)                   # (..., O)
        db = _sum_lead(trace['one'][..., None] * sig, sig.ndim - 1) if 'one' in trace else None
        out.append((trace['x'], sig.astype(trace['x'].dtype), db))
    return out


def _add_chunk(acc, deferred, factors):
    """Add ``X^T S`` (and the bias sums) of one chunk of stacked factors to the running sums."""
    acc = dict(acc)
    for (rel, targets), (X, S, DB) in zip(deferred, factors):
        dW = jnp.einsum('...i,...o->io', X, S)
        db = None if DB is None else DB.sum(0)
        for cot, target in zip(rel.rule.dense_to_operands(None, dW, db), targets):
            if target is None or cot is None:
                continue
            key, index = target
            leaves, tree = jax.tree.flatten(acc[key])
            leaves[index] = leaves[index] + cot.astype(leaves[index].dtype)
            acc[key] = jax.tree.unflatten(tree, leaves)
    return acc


def run_chunked(learner, xs, step_loss, params, chunk, T, probe_key):
    """Summed gradients and per-step losses, the deferred products added once per ``chunk`` steps."""
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f'etrace_grad(chunk={chunk!r}): chunk must be a positive int (steps per product).')
    if learner.vjp_method != 'single-step':
        raise ValueError("etrace_grad(chunk=K) steps one input at a time; this learner was built with "
                         "vjp_method='multi-step': pass window=K instead.")
    deferred = deferrable_relations(learner, params)
    targets = dict(params)
    targets[probe_key] = learner.signal_probe
    zero = {k: jax.tree.map(jnp.zeros_like, v.value) for k, v in params.items()}

    def inner(acc, t):
        x = jax.tree.map(lambda a: a[t], xs)
        grads, loss = brainstate.transform.grad(
            lambda: step_loss(learner(x), t), targets, return_value=True)()
        signal = grads.pop(probe_key)
        learner.last_signal.value = signal
        return jax.tree.map(jnp.add, acc, grads), (loss, _step_factors(learner, deferred, signal))

    def outer(acc, steps):
        acc, (losses, factors) = brainstate.transform.scan(inner, acc, steps)
        return _add_chunk(acc, deferred, factors), losses

    learner._deferred = frozenset(rel.key for rel, _ in deferred)
    try:
        acc, losses = zero, []
        n_full = T // chunk
        if n_full:
            acc, per = brainstate.transform.scan(outer, acc, jnp.arange(n_full * chunk).reshape(n_full, chunk))
            losses.append(per.reshape(-1))
        if T % chunk:
            acc, per = outer(acc, jnp.arange(n_full * chunk, T))
            losses.append(per)
    finally:
        learner._deferred = frozenset()
    return acc, jnp.concatenate(losses)
