"""Central finite differences of the summed loss, one parameter element at a time.

For every element ``i`` of the flattened parameter vector::

    dL/dtheta_i ~ (L(theta + eps e_i) - L(theta - eps e_i)) / (2 eps),
    L(theta) = sum_t loss_fn(y^t, t).

Independent of any automatic differentiation, so it checks BPTT and RTRL
themselves. Use float64 (``jax.config.update('jax_enable_x64', True)`` and
float64 parameters/states): in float32 the result has only ~3 correct digits.
"""
from __future__ import annotations

import math
import numbers
import warnings
from typing import Callable, Optional

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from ._program import OracleInputError, loss_sequence, prepare, preserved_states

__all__ = ['finite_difference_grad']


def finite_difference_grad(model, xs, loss_fn: Callable, params=None, eps: Optional[float] = None,
                           max_elements: int = 20_000, batch_size: int = 64):
    """Central-difference gradient of ``sum_t loss_fn(model(xs[t]), t)``.

    ``loss_fn(out, t)`` IS CALLED WITH THE STEP INDEX ``t`` (an int), NOT A TARGET: unlike
    ``learner.etrace_grad(xs, ys, loss_fn)``, which calls ``loss_fn(out, y)``, an oracle gets no
    ``ys``, so index the targets yourself, ``lambda out, t: loss(out, ys[t])``. A ``loss(out, y)``
    passed as it is runs without an error and computes the loss against the integer ``t``.

    ``eps`` is the step on each parameter mantissa; by default ``1e-5`` for
    float64 parameters and ``1e-3`` otherwise (with a ``RuntimeWarning``).
    Costs ``2 P`` full forward runs; raises :class:`OracleInputError` when the
    number of parameter elements ``P`` exceeds ``max_elements``. Returns a dict
    shaped like :func:`bptt_grad`'s gradients. The model's states are left unchanged.

    >>> jax.config.update('jax_enable_x64', True)   # build the model after this
    >>> fd = finite_difference_grad(model, xs, loss_fn)
    """
    if eps is not None and (isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not 0 < eps < math.inf):
        raise OracleInputError(f'eps={eps!r}: the finite-difference step must be a finite number > 0, e.g. '
                               f'1e-5 in float64 (or leave eps=None for 1e-5 / 1e-3 by dtype).')
    with preserved_states(model):
        s = prepare(model, xs, params)
        leaves = jax.tree.leaves(s.theta0)
        P = int(sum(leaf.size for leaf in leaves))
        dtype = jnp.result_type(*leaves)
        if P > max_elements:
            raise OracleInputError(
                f'finite differences need 2 x {P:,} forward runs (P={P:,} parameter elements), above '
                f'max_elements={max_elements:,}; select fewer params or raise max_elements.')
        if dtype != jnp.float64:
            warnings.warn(f'finite_difference_grad on {dtype} parameters is only accurate to '
                          f'~1e-3; enable jax_enable_x64 and build the model in float64.',
                          RuntimeWarning, stacklevel=2)
        if eps is None:
            eps = 1e-5 if dtype == jnp.float64 else 1e-3

        seq = loss_sequence(s.program, loss_fn, s.T)

        @jax.jit
        def all_differences(theta, h0, o0, xs_):
            vec, unravel = ravel_pytree(theta)
            total = lambda v: seq(unravel(v), h0, o0, xs_).sum()

            def one(i):
                e = jnp.zeros_like(vec).at[i].set(eps)
                return (total(vec + e) - total(vec - e)) / (2 * eps)

            g = jax.lax.map(one, jnp.arange(P), batch_size=max(1, min(batch_size, P)))
            return unravel(g.astype(vec.dtype))

        return s.as_dict(all_differences(s.theta0, s.h0, s.o0, s.xs))
