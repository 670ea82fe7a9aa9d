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
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend.core import Literal

from ..compiler.analysis import ELEMENTWISE
from ..ops._primitive import etp_op_p

__all__ = ['input_is_positionwise', 'matmul_self_term']

# primitives after which every output element still depends on one input element
_POSITIONWISE = ELEMENTWISE | {'concatenate', 'slice'}


def input_is_positionwise(jaxpr, op_eqn) -> bool:
    """Whether ``op_eqn``'s input is built without mixing positions (ETP ops are cut)."""
    wanted = {v for v in op_eqn.invars[:1] if not isinstance(v, Literal)}
    for eqn in reversed(jaxpr.eqns):
        if eqn is op_eqn or not any(v in wanted for v in eqn.outvars):
            continue
        if eqn.primitive is etp_op_p:
            continue                      # its output is held fixed: no path to the state
        name = eqn.primitive.name
        if name == 'broadcast_in_dim':
            src = eqn.invars[0]
            if not (isinstance(src, Literal) or
                    int(np.prod(src.aval.shape)) == int(np.prod(eqn.outvars[0].aval.shape))):
                return False
        elif name in ('pjit', 'jit', 'closed_call'):
            return False                  # nested programs: not inspected, take the safe path
        elif name not in _POSITIONWISE:
            return False
        wanted.update(v for v in eqn.invars if not isinstance(v, Literal))
    return True


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
