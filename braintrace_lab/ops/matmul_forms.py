"""braintrace's ``einsum`` and ``embedding``, served where they are a matrix product.

Both are written on :func:`~braintrace_lab.ops.dense.matmul`, so the compiler sees
an ordinary ETP matmul and every rule traces them as it traces a dense layer:

* ``einsum('b...k,kn->b...n', x, w)``: the equations whose weight has one contracted
  axis (last in ``x``) and one output axis (last in ``y``), the other axes of ``x``
  shared by the weight in the same order in ``y``; other equations are refused with
  the way to write them as a matmul.
* ``embedding(indices, table)``: ``table[indices]`` is ``one_hot(indices) @ table``.
"""
from __future__ import annotations

from typing import Callable, Optional

import jax
import jax.numpy as jnp

from ..errors import NotSupportedError
from .dense import matmul

__all__ = ['einsum', 'embedding']


def _parse(equation: str):
    text = equation.replace(' ', '')
    if text.count('->') != 1 or text.split('->')[0].count(',') != 1:
        raise ValueError(f"einsum: equation {equation!r} must have the form 'x_spec,w_spec->y_spec' "
                         f"(two operands, explicit output), e.g. 'bi,io->bo'.")
    lhs, y_spec = text.split('->')
    x_spec, w_spec = lhs.split(',')
    for spec in (x_spec, w_spec, y_spec):
        if not spec.isalpha() or not spec.islower() or len(set(spec)) != len(spec):
            raise ValueError(f'einsum: {equation!r}: use lowercase letters only, each at most once per '
                             f'operand (no ellipsis).')
    if not x_spec or not y_spec or x_spec[0] != y_spec[0] or x_spec[0] in w_spec:
        raise ValueError(f"einsum: {equation!r} must be in batched form: the first letter of x and of the "
                         f"output is the batch axis and does not appear in the weight, e.g. 'bi,io->bo'.")
    return x_spec, w_spec, y_spec


def einsum(equation: str, x, weight, *, weight_fn: Optional[Callable] = None):
    """ETP two-operand einsum ``jnp.einsum(equation, x, weight_fn(weight))`` (braintrace's call).

    Served for the equations that are a matrix product: ``x`` ends with the
    contracted axis ``k``, ``weight`` is ``kn``, the output is ``x``'s other axes
    followed by ``n`` (``'bi,io->bo'``, ``'bti,io->bto'``). Other equations raise
    :class:`NotSupportedError`; reshape to ``(..., in)`` and use :func:`matmul`.

    >>> y = einsum('bti,io->bto', jnp.ones((2, 5, 3)), jnp.ones((3, 4)))     # (2, 5, 4)
    """
    x_spec, w_spec, y_spec = _parse(equation)
    if jnp.ndim(x) != len(x_spec) or jnp.ndim(weight) != len(w_spec):
        raise ValueError(f'einsum: {equation!r} needs x of rank {len(x_spec)} and weight of rank '
                         f'{len(w_spec)}, got shapes {jnp.shape(x)} and {jnp.shape(weight)}.')
    matmul_form = (len(w_spec) == 2 and x_spec[-1] == w_spec[0] and w_spec[1] not in x_spec
                   and y_spec == x_spec[:-1] + w_spec[1])
    if not matmul_form:
        raise NotSupportedError(
            f"einsum: {equation!r} is not a matrix product of the form 'b...k,kn->b...n', the only einsums "
            f"braintrace_lab serves. Move the contracted axes of x last and reshape them into one, reshape "
            f"the weight to (in, out) and call braintrace_lab.matmul(x, weight) (one call per group for a "
            f"grouped weight).")
    return matmul(x, weight, weight_fn=weight_fn)


def embedding(indices, weight, *, weight_fn: Optional[Callable] = None):
    """ETP embedding lookup ``weight_fn(weight)[indices]`` (braintrace's call).

    ``indices``: an integer scalar or ``(batch,)`` vector; ``weight``: the table
    ``(num_embeddings, features)``. Computed as ``one_hot(indices) @ weight``, an ETP
    matmul, so the table gets the trace a dense weight gets.

    >>> rows = embedding(jnp.array([0, 2]), jnp.arange(12.).reshape(4, 3))      # (2, 3)
    """
    if not jnp.issubdtype(jnp.result_type(indices), jnp.integer):
        raise TypeError(f'embedding: indices must have an integer dtype, got {jnp.result_type(indices)}; '
                        f'convert token ids with .astype(jnp.int32).')
    if jnp.ndim(indices) >= 2:
        raise NotSupportedError(f'embedding: indices must be a scalar or a (batch,) vector, got shape '
                                f'{jnp.shape(indices)}; embed one time step at a time or flatten the leading '
                                f'axes first.')
    if jnp.ndim(weight) != 2:
        raise ValueError(f'embedding: the table must be 2-D (num_embeddings, features), got shape '
                         f'{jnp.shape(weight)}.')
    mantissa = getattr(weight, 'mantissa', weight)
    hot = jax.nn.one_hot(indices, jnp.shape(weight)[0], dtype=jnp.result_type(mantissa))
    return matmul(hot, weight, weight_fn=weight_fn)
