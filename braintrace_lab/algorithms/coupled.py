"""The recurrent self term ``dy_j / dh_j`` of a matrix product, in O(I) per position.

OSTL's coupled transition adds to ``D`` the derivative of an op's output at
position ``j`` with respect to the hidden state at the same position, through the
op's input (for ``y = [x, f(h)] @ W`` that is ``W[n_in + j, j] f'(h_j)``). Taking it
as the diagonal of a full Jacobian costs ``H`` forward passes; when every element
of the op input depends on at most one hidden position (the input is built from
the state by element-wise functions and concatenation) two forward-mode passes
are enough:

* tangent ``1`` on the state gives ``a_i = dx_i / dh_{k(i)}``;
* tangent ``k + 1`` (each position's index) gives ``a_i (k(i) + 1)``, which names
  the source position ``k(i)`` of every input element;

then ``self_j = sum over i with k(i) = j of W[i, j] a_i`` (a gather and a scatter-add).
Whether an op's input is built that way is a fact of the compiled program
(``program.positionwise_inputs``).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ['matmul_self_term']


def matmul_self_term(op_input, h, i, weight):
    """``(*varshape)`` self term of hidden leaf ``i`` for ``y = x @ weight``.

    ``op_input(hh)`` evaluates the op's input ``x (*lead, I)`` from the hidden
    leaves ``hh``; ``h[i]`` has shape ``(*lead, O)`` with ``O = weight.shape[1]``.
    """
    hi = h[i]
    n_out = hi.shape[-1]
    code = jnp.broadcast_to(jnp.arange(1, n_out + 1, dtype=hi.dtype), hi.shape)

    def tangent(t):
        return tuple(t if j == i else jnp.zeros_like(x) for j, x in enumerate(h))

    _, lin = jax.linearize(op_input, tuple(h))
    a, b = jax.vmap(lambda t: lin(tangent(t)))(jnp.stack([jnp.ones_like(hi), code]))
    valid = a != 0
    src = jnp.where(valid, jnp.round(b / jnp.where(valid, a, 1)) - 1, 0)
    src = jnp.clip(src, 0, n_out - 1).astype(jnp.int32)              # (*lead, I): k(i)
    n_in = a.shape[-1]
    vals = jnp.where(valid, weight[jnp.arange(n_in), src] * a, 0).astype(hi.dtype)
    lead = hi.shape[:-1]
    scatter = lambda k, v: jnp.zeros((n_out,), hi.dtype).at[k].add(v)
    out = jax.vmap(scatter)(src.reshape((-1, n_in)), vals.reshape((-1, n_in)))
    return out.reshape(lead + (n_out,))
