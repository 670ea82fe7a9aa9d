"""Sequence drivers: run a learner over a sequence so users need not write the scan.

Per-step gradients are SUMMED over time (``L = sum_t L^t``), as in the oracle.
"""
from __future__ import annotations

from typing import Callable, Optional

import brainstate
import jax
import jax.numpy as jnp
import numpy as np

from .chunked import run_chunked
from .time_driver import scan_time

__all__ = ['etrace_grad']

_PROBE = ('__learning_signal_probe__',)


def _step_loss(loss_fn, ys):
    if ys is None:
        return lambda out, t: loss_fn(out, t)
    return lambda out, t: loss_fn(out, jax.tree.map(lambda y: y[t], ys))


def _leaf_lengths(tree, name):
    """``[(label, leading length or None, shape)]`` for every leaf of ``tree`` (``None``: no time axis)."""
    out = []
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        key = jax.tree_util.keystr(path)
        shape = np.shape(leaf)
        out.append((name + key, shape[0] if shape else None, tuple(shape)))
    return out


def _sequence_length(learner, xs, ys) -> int:
    """The number of time steps ``T``, after checking that every leaf of ``xs`` and ``ys`` has it.

    JAX clamps out-of-range indices, so a short ``ys`` would silently train the last steps
    on its last target: every leaf must have the same leading (time) axis.
    """
    if getattr(learner, '_paired', False):           # OSTTP passes (xs, targets) as xs
        xs, targets = xs
        seqs = [('xs', xs), ('targets', targets)]
    else:
        seqs = [('xs', xs)]
    if ys is not None:
        seqs.append(('ys', ys))
    leaves = [item for name, tree in seqs for item in _leaf_lengths(tree, name)]
    x_leaves = [item for item in leaves if item[0].startswith('xs')]
    if not x_leaves:
        raise ValueError('etrace_grad: xs holds no arrays; pass the inputs as an array (or pytree of arrays) '
                         'of layout (T, batch, ...), time first.')
    for label, length, shape in leaves:
        if length is None:
            raise ValueError(f'etrace_grad: {label} is a scalar (shape {shape}); every input and target needs a '
                             f'leading time axis: layout (T, batch, ...).')
    T = x_leaves[0][1]
    if T == 0:
        raise ValueError(f'etrace_grad: {x_leaves[0][0]} has zero time steps (shape {x_leaves[0][2]}); pass at '
                         f'least one step, layout (T, batch, ...) with T >= 1.')
    for label, length, shape in leaves:
        if length != T:
            raise ValueError(f'etrace_grad: {label} has {length} time steps (shape {shape}) but {x_leaves[0][0]} '
                             f'has {T}; give one entry per step: every leaf of xs and ys (and targets) needs '
                             f'the same leading time axis, layout (T, batch, ...) with T = {T}.')
    return T


def etrace_grad(learner, xs, ys=None, loss_fn: Callable = None, params=None, window: Optional[int] = None,
                chunk: Optional[int] = None):
    """Online gradient of ``sum_t loss`` over a sequence, and the per-step losses.

    ``loss_fn(out, y_t)`` when ``ys`` is given, else ``loss_fn(out, t)``. With
    ``window=None`` the learner steps one input at a time; with a window it must be
    built with ``vjp_method='multi-step'`` and receives ``window`` inputs per call.
    States and traces carry on from call to call. The last learning signal is
    stored for :meth:`ETraceAlgorithm.learning_signals`.

    ``chunk=K`` (one input at a time only) gives the same sum computed in a different
    order: for factorised traces (pp_prop and its relatives, dense weights) the
    per-step products ``x (x) sig`` are collected for ``K`` steps and added as one
    ``(I x K*B)(K*B x O)`` product, which is faster where the weight is large
    (see :mod:`.chunked`); so are the one-step gradients ``x (x) dy`` of dense weights
    reached only through another weight (a GRU's reset gate), under every rule but RTRL.
    Other weights keep their per-step gradients.

    Every leaf of ``xs`` and ``ys`` needs the same leading time axis ``T >= 1`` (layout
    ``(T, batch, ...)``); a ``ValueError`` names the leaf that differs.

    >>> grads, losses = learner.etrace_grad(xs, ys, lambda out, y: ce(out, y))
    """
    if loss_fn is None:
        raise TypeError('etrace_grad needs loss_fn(out, y) (or loss_fn(out, t) when ys is None).')
    learner._require()
    if params is None:
        params = learner.model.states(brainstate.ParamState)
    elif not callable(getattr(params, 'items', None)) or \
            not all(isinstance(v, brainstate.State) for v in params.values()):
        raise TypeError(f'etrace_grad: params must map names to the model\'s ParamStates, e.g. '
                        f'learner.model.states(brainstate.ParamState) or a part of it; got {type(params).__name__}'
                        f'{"" if not hasattr(params, "items") else " holding other values"}. Leave params=None '
                        f'for every parameter.')
    T = _sequence_length(learner, xs, ys)
    step_loss = _step_loss(loss_fn, ys)
    read = {id(st) for st in learner._plan.cap.states}
    unused = {k: v for k, v in params.items() if id(v) not in read}     # zero gradient, reported
    params = {k: v for k, v in params.items() if id(v) in read}
    if chunk is not None:
        if window is not None:
            raise ValueError('etrace_grad: pass either window= (multi-step windows) or chunk= (one input at a '
                             'time, gradients added in chunks), not both.')
        grads, losses, _ = run_chunked(learner, xs, step_loss, params, chunk, _PROBE)
    else:
        grads, losses = _run(learner, xs, step_loss, params, window, T)
    for k, v in unused.items():
        grads[k] = jax.tree.map(jnp.zeros_like, v.value)
    return grads, losses


def _run(learner, xs, step_loss, params, window, T):
    targets = dict(params)
    targets[_PROBE] = learner.signal_probe
    zero = {k: jax.tree.map(jnp.zeros_like, v.value) for k, v in params.items()}

    if window is None or window == 1 and learner.vjp_method == 'single-step':
        if learner.vjp_method != 'single-step':
            raise ValueError("etrace_grad(window=None) steps one input at a time; this learner was built "
                             "with vjp_method='multi-step': pass window=K.")

        def step(acc, x, t):
            grads, loss = brainstate.transform.grad(
                lambda: step_loss(learner(x), t), targets, return_value=True)()
            learner.last_signal.value = grads.pop(_PROBE)
            return jax.tree.map(jnp.add, acc, grads), loss

        return scan_time(step, zero, xs)

    if learner.vjp_method != 'multi-step':
        raise ValueError(f"etrace_grad(window={window}) needs a learner built with vjp_method='multi-step'.")
    if not isinstance(window, int) or window < 1:
        raise ValueError(f'window must be a positive int, got {window!r}.')

    def window_step(acc, xw, ts):
        n = jax.tree.leaves(xw)[0].shape[0]

        def window_loss():
            outs = learner(xw)
            per = jnp.stack([step_loss(jax.tree.map(lambda o: o[s], outs), ts[s]) for s in range(n)])
            return per.sum(), per

        grads, per = brainstate.transform.grad(window_loss, targets, has_aux=True)()
        learner.last_signal.value = grads.pop(_PROBE)
        return jax.tree.map(jnp.add, acc, grads), per

    return scan_time(window_step, zero, xs, window=window)
