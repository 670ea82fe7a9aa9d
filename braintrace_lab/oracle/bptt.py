"""Exact gradients by backpropagation through time (reverse mode over a scan).

The total loss is the SUM (not the mean) of the per-step losses::

    L(theta) = sum_{t=0}^{T-1} L^t,     L^t = loss_fn(y^t, t),
    (y^t, h^t) = model step at (h^{t-1}, x^t; theta),  h^{-1} = current state.
"""
from __future__ import annotations

from typing import Callable

import jax

from ._program import loss_sequence, prepare, preserved_states

__all__ = ['bptt_grad', 'bptt_grad_per_step']


def bptt_grad(model, xs, loss_fn: Callable, params=None, per_step: bool = False):
    """Gradient of ``sum_t loss_fn(model(xs[t]), t)`` by BPTT.

    ``loss_fn(out, t)`` IS CALLED WITH THE STEP INDEX ``t`` (an int), NOT A TARGET: unlike
    ``learner.etrace_grad(xs, ys, loss_fn)``, which calls ``loss_fn(out, y)``, an oracle gets no
    ``ys``, so index the targets yourself, ``lambda out, t: loss(out, ys[t])``. A ``loss(out, y)``
    passed as it is runs without an error and computes the loss against the integer ``t``.

    Runs the model from its current state over ``xs`` (time axis first) and
    differentiates the summed loss with reverse mode through ``jax.lax.scan``.
    The model's states are left unchanged.

    Returns ``(grads, losses)``: ``grads`` a dict ``key -> gradient`` shaped like
    ``{k: p.value for k, p in params.items()}`` (Quantity parameters get
    ``dL/d(mantissa)`` in the parameter's own structure), ``losses`` the ``(T,)``
    per-step losses. With ``per_step=True`` returns ``(grads, losses,
    per_step_grads)`` where ``per_step_grads[k]`` has a leading ``T`` axis and
    holds ``dL^t/dtheta`` (see :func:`bptt_grad_per_step`); ``grads`` is then their
    sum over ``t``.

    >>> grads, losses = bptt_grad(model, xs, lambda out, t: ((out - ys[t]) ** 2).mean())
    """
    if per_step:
        with preserved_states(model):
            s, per, losses, total = _per_step(model, xs, loss_fn, params)
            return s.as_dict(total), losses, s.as_dict(per)
    with preserved_states(model):
        s = prepare(model, xs, params)
        seq = loss_sequence(s.program, loss_fn, s.T)

        def total(theta, h0, o0, xs_):
            ls = seq(theta, h0, o0, xs_)
            return ls.sum(), ls

        (_, losses), g = jax.jit(jax.value_and_grad(total, has_aux=True))(s.theta0, s.h0, s.o0, s.xs)
        return s.as_dict(g), losses


def bptt_grad_per_step(model, xs, loss_fn: Callable, params=None):
    """Per-step gradient contributions ``dL^t/dtheta`` by reverse mode.

    ``loss_fn(out, t)`` IS CALLED WITH THE STEP INDEX ``t`` (an int), NOT A TARGET: unlike
    ``learner.etrace_grad(xs, ys, loss_fn)``, which calls ``loss_fn(out, y)``, an oracle gets no
    ``ys``, so index the targets yourself, ``lambda out, t: loss(out, ys[t])``. A ``loss(out, y)``
    passed as it is runs without an error and computes the loss against the integer ``t``.

    ``per_step_grads[k][t]`` is the gradient of the single step loss ``L^t``
    (through all earlier steps), so ``sum_t per_step_grads[k][t]`` equals
    ``bptt_grad(...)[0][k]``. Computed as the Jacobian of the ``(T,)`` loss
    vector (``T`` reverse passes), meant for small models and agreement plots.

    Returns ``(per_step_grads, losses)``.

    >>> per, losses = bptt_grad_per_step(model, xs, loss_fn)
    >>> sorted({leaf.shape[0] for leaf in jax.tree.leaves(per)})      # every leaf: (T, ...)
    [10]
    """
    with preserved_states(model):
        s, per, losses, _ = _per_step(model, xs, loss_fn, params)
        return s.as_dict(per), losses


def _per_step(model, xs, loss_fn, params):
    """``(setup, per_step, losses, total)``: the Jacobian of the ``(T,)`` loss vector and its sum."""
    s = prepare(model, xs, params)
    seq = loss_sequence(s.program, loss_fn, s.T)

    @jax.jit
    def run(theta, h0, o0, xs_):
        def with_aux(th):
            ls = seq(th, h0, o0, xs_)
            return ls, ls

        per, losses = jax.jacrev(with_aux, has_aux=True)(theta)
        return per, losses, jax.tree.map(lambda a: a.sum(axis=0), per)

    return (s,) + run(s.theta0, s.h0, s.o0, s.xs)
