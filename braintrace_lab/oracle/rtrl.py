"""Exact real-time recurrent learning (RTRL) with the full influence matrix.

Flatten all parameter leaves to one vector ``theta`` (size P) and all recurrent
state leaves to one vector ``h`` (size H): every ``HiddenState`` the step
writes, and any other floating-point state it writes (a ``ShortTermState``
trace, an adaptation variable), so no path through time is missed. One step is
``(y^t, h^t) = f(h^{t-1}, x^t; theta)``. The influence matrix
``M^t = dh^t/dtheta`` (H x P) obeys, with ``M^{-1} = 0``::

    M^t = J^t M^{t-1} + dh^t/dtheta|_immediate,      J^t = dh^t/dh^{t-1},

and the step loss ``L^t = loss_fn(y^t, t)`` contributes::

    dL^t/dtheta = dL^t/dh^{t-1} M^{t-1} + dL^t/dtheta|_immediate.

The immediate term holds every path inside step ``t`` (readout weights that
reach the loss without a hidden state included); this is the familiar
``dL^t/dh^t M^t + dL^t/dtheta|_direct`` when ``y^t`` is read from ``h^t``.
The jacobians come from ``jax.jacfwd`` of one step only; nothing is
backpropagated through time. The total is the SUM over steps, as in BPTT.
"""
from __future__ import annotations

from typing import Callable

import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from ._program import OracleInputError, prepare, preserved_states, scalar_loss
from .metrics import path_str

__all__ = ['rtrl_grad', 'rtrl_grad_per_step', 'InfluenceMatrixTooLarge']


class InfluenceMatrixTooLarge(OracleInputError):
    """The H x P influence matrix would exceed ``max_entries``."""


def _size(tree) -> int:
    return int(sum(np.size(leaf) for leaf in jax.tree.leaves(tree)))


def _check_size(s, max_entries):
    H, P = _size(s.h0), _size(s.theta0)
    if H * P > max_entries:
        names = {id(st): path_str(k) for k, st in s.program.model.states().items()}
        hid = ', '.join(f'{names.get(id(st), "?")}: {type(st).__name__}{tuple(np.shape(u.get_mantissa(v)))}'
                        for st, v in zip(s.program.h_states, s.h0))
        par = ', '.join(f'{path_str(k)}: {_size(v)}' for k, v in zip(s.keys, s.theta0))
        raise InfluenceMatrixTooLarge(
            f'RTRL influence matrix would have H x P = {H} x {P} = {H * P:,} entries, above '
            f'max_entries={int(max_entries):,}. Hidden state size H={H} ({hid}); parameter size '
            f'P={P} ({par}). Use a smaller model, select fewer params, or raise max_entries.')
    return H, P


def _run(model, xs, loss_fn, params, max_entries):
    s = prepare(model, xs, params)
    _check_size(s, max_entries)
    prog = s.program
    h_tree = jax.tree.structure(s.h0)

    @jax.jit
    def run(theta, h0, o0, xs_):
        theta_vec, unravel_theta = ravel_pytree(theta)
        h_vec, unravel_h = ravel_pytree(h0)

        def flat_step(th, h, o, x, t):
            out, h_new, o_new, _ = prog.step(unravel_theta(th), unravel_h(h), o, x, t)
            if jax.tree.structure(h_new) != h_tree:  # pragma: no cover - brainstate checks this too
                raise OracleInputError(f'the hidden state structure changed within one step: '
                                       f'{h_tree} -> {jax.tree.structure(h_new)}')
            return ravel_pytree(h_new)[0].astype(h.dtype), scalar_loss(loss_fn(out, t)), o_new

        def body(carry, inp):
            h, o, M = carry
            x, t = inp

            def f(th, hh):
                h_new, loss, o_new = flat_step(th, hh, o, x, t)
                return (h_new, loss), (h_new, loss, o_new)

            # forward-mode jacobians of one step: (H, P), (H, H), (P,), (H,)
            ((J_theta, J_h), (dL_theta, dL_h)), (h_next, loss_t, o_next) = jax.jacfwd(
                f, argnums=(0, 1), has_aux=True)(theta_vec, h)
            g_t = dL_theta + dL_h @ M      # dL^t/dtheta, uses M^{t-1}
            M_new = J_h @ M + J_theta      # M^t
            return (h_next, o_next, M_new), (g_t, loss_t)

        M0 = jnp.zeros((h_vec.size, theta_vec.size), dtype=jnp.result_type(h_vec, theta_vec))
        _, (G, losses) = jax.lax.scan(body, (h_vec, o0, M0), (xs_, jnp.arange(s.T, dtype=jnp.int32)))
        return unravel_theta(G.sum(axis=0)), jax.vmap(unravel_theta)(G), losses

    total, per_step, losses = run(s.theta0, s.h0, s.o0, s.xs)
    return s, total, losses, per_step


def rtrl_grad(model, xs, loss_fn: Callable, params=None, per_step: bool = False,
              max_entries: float = 5e7):
    """Gradient of ``sum_t loss_fn(model(xs[t]), t)`` by exact forward-mode RTRL.

    ``loss_fn(out, t)`` IS CALLED WITH THE STEP INDEX ``t`` (an int), NOT A TARGET: unlike
    ``learner.etrace_grad(xs, ys, loss_fn)``, which calls ``loss_fn(out, y)``, an oracle gets no
    ``ys``, so index the targets yourself, ``lambda out, t: loss(out, ys[t])``. A ``loss(out, y)``
    passed as it is runs without an error and computes the loss against the integer ``t``.

    Same contract as :func:`bptt_grad` (returns ``(grads, losses)``, or
    ``(grads, losses, per_step_grads)`` with ``per_step=True``; the model's
    states are left unchanged), computed forward in time with the full
    influence matrix. Small models only: raises :class:`InfluenceMatrixTooLarge`
    if ``H * P > max_entries``.

    >>> grads, losses = rtrl_grad(model, xs, lambda out, t: ce(out, ys[t]))
    """
    with preserved_states(model):
        s, total, losses, per = _run(model, xs, loss_fn, params, max_entries)
        if per_step:
            return s.as_dict(total), losses, s.as_dict(per)
        return s.as_dict(total), losses


def rtrl_grad_per_step(model, xs, loss_fn: Callable, params=None, max_entries: float = 5e7):
    """Per-step RTRL contributions ``dL^t/dtheta``; returns ``(per_step_grads, losses)``.

    ``loss_fn(out, t)`` IS CALLED WITH THE STEP INDEX ``t`` (an int), NOT A TARGET: unlike
    ``learner.etrace_grad(xs, ys, loss_fn)``, which calls ``loss_fn(out, y)``, an oracle gets no
    ``ys``, so index the targets yourself, ``lambda out, t: loss(out, ys[t])``. A ``loss(out, y)``
    passed as it is runs without an error and computes the loss against the integer ``t``.

    >>> per, losses = rtrl_grad_per_step(model, xs, loss_fn)   # leaves (T, ...)
    """
    with preserved_states(model):
        s, _, losses, per = _run(model, xs, loss_fn, params, max_entries)
        return s.as_dict(per), losses
