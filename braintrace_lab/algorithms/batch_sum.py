"""Weight gradients of a learner vmapped over samples, summed over the batch by the engine.

Under ``grad(vmap(learner))`` with shared weights (the seed tutorial's
``brainstate.nn.Vmap``), JAX computes a per-sample cotangent for every weight
and sums it over the batch afterwards. For a full per-weight trace that means a
batch of weight-sized products written out and reduced again. When the learner
sees that it is called this way, its backward pass instead returns batch
*totals* (a cotangent without a batch axis is taken by JAX as the total for an
unbatched weight):

* :func:`summed_contraction` lets the engine contract trace and signal with the
  batch as a leading position axis (one accumulated pass) and hand back an equal
  per-sample share of the total, without a batch axis;
* :func:`batch_total` turns the per-sample cotangent (batched values and such
  shares alike) into the total.

A learner called any other way (no ``vmap``, ``vmap(grad(...))`` for per-sample
gradients, per-sample weights) keeps per-sample cotangents. The choice is made when
the learner's step is traced (:func:`called_under_shared_vmap`) and handed to the
engines as an argument (``EngineMode(summed=True)``): no global flag is involved.
"""
from __future__ import annotations

import functools

import jax
from jax.custom_batching import custom_vmap

__all__ = ['batch_total', 'summed_contraction', 'called_under_shared_vmap']


@custom_vmap
def _total(x, batched_refs):
    return x


@_total.def_vmap
def _total_rule(axis_size, in_batched, x, batched_refs):
    return (x.sum(0) if in_batched[0] else x * axis_size), False


def batch_total(x, batched_refs):
    """The batch total of a per-sample share ``x`` (unbatched), or ``x`` itself without ``vmap``.

    A value without a batch axis is the same share for every sample, so its total
    is ``batch * x``. ``batched_refs`` must hold a batched array: ``vmap`` only
    consults the rule when some argument is batched.
    """
    return _total(x, batched_refs)


def summed_contraction(fn, total_over_positions):
    """``fn`` of per-sample arrays whose ``vmap`` returns ``total / batch`` without a batch axis.

    ``total_over_positions(fn, *arrays)`` sums ``fn`` over the leading axis of
    ``arrays`` (the engine's position sum). Dividing by the batch size keeps the
    value a per-sample share, so that :func:`batch_total` (which multiplies an
    unbatched value by the batch size) gives back the total.
    """
    @custom_vmap
    def contract(*arrays):
        return fn(*arrays)

    @contract.def_vmap
    def _rule(axis_size, in_batched, *arrays):
        arrays = [a if b else jax.numpy.broadcast_to(a, (axis_size,) + a.shape)
                  for a, b in zip(arrays, in_batched)]
        return total_over_positions(fn, *arrays) / axis_size, False

    return contract


@functools.cache
def _batch_tracer_type() -> type:
    """The class of the values ``vmap`` hands a function, found by tracing one (public API only)."""
    seen = []
    jax.eval_shape(jax.vmap(lambda v: seen.append(type(v)) or v), jax.ShapeDtypeStruct((1,), 'float32'))
    return seen[0]


def _trace_chain(x, BatchTracer):
    """The traces of a (nested) tracer, outermost value last."""
    chain = []
    while isinstance(x, jax.core.Tracer):
        chain.append(x._trace)
        x = getattr(x, 'val', None) if isinstance(x, BatchTracer) else getattr(x, 'primal', None)
    return chain


def _ancestors(trace):
    found = set()
    while trace is not None:
        found.add(id(trace))
        trace = getattr(trace, 'parent_trace', None)
    return found


def called_under_shared_vmap(weights, per_sample) -> bool:
    """Whether this call is batched by ``vmap`` over samples with weights shared and differentiated
    outside it (``grad(vmap(...))``), so that the weights' cotangents are summed over the batch.

    ``vmap(grad(...))`` (per-sample gradients) and per-sample weights answer False, and so
    does anything this cannot see through: that only costs speed, never changes a gradient.
    """
    BatchTracer = _batch_tracer_type()
    mapped = lambda x: isinstance(x, BatchTracer) and isinstance(getattr(x, 'batch_dim', None), int)
    batch_traces = [x._trace for x in jax.tree.leaves(per_sample) if mapped(x)]
    if not batch_traces:
        return False
    outside = set.intersection(*[_ancestors(t) for t in batch_traces])
    for w in jax.tree.leaves(weights):
        if mapped(w):
            return False
        for trace in _trace_chain(w, BatchTracer):
            if not isinstance(trace, type(batch_traces[0])) and id(trace) not in outside:
                return False     # differentiated inside the vmap: per-sample cotangents wanted
    return True
