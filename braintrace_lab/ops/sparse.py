"""Sparse ETP op: a weight matrix given by its non-zero entries."""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from ._primitive import OpSpec, bind_op
from ._units import attach, strip

__all__ = ['sparse_matmul', 'SparseSpec']


@dataclasses.dataclass(frozen=True)
class SparseSpec(OpSpec):
    """``y[..., o] = sum_{k: col_k = o} x[..., row_k] * value_k``; ``config = (out_features,)``."""

    def _compute(self, x, values, rows, cols):
        (n_out,) = self.config
        contrib = x[..., rows] * values
        moved = jnp.moveaxis(contrib, -1, 0)
        y = jax.ops.segment_sum(moved, cols, num_segments=n_out)
        return jnp.moveaxis(y, 0, -1)


def sparse_matmul(x, values, rows, cols, out_features):
    """ETP product of ``x (..., in)`` with the sparse matrix ``W[rows, cols] = values``.

    Only ``values`` is trainable; ``rows`` and ``cols`` are fixed integer indices.
    """
    xm, xu = strip(x)
    vm, vu = strip(values)
    rows = jnp.asarray(rows, dtype=jnp.int32)
    cols = jnp.asarray(cols, dtype=jnp.int32)
    if jnp.ndim(vm) != 1 or rows.shape != vm.shape or cols.shape != vm.shape:
        raise ValueError(f'sparse_matmul: values {jnp.shape(vm)}, rows {rows.shape} and cols '
                         f'{cols.shape} must be 1-D of the same length.')
    if not isinstance(rows, jax.core.Tracer):
        if rows.size and int(np.max(np.asarray(rows))) >= jnp.shape(xm)[-1]:
            raise ValueError(f'sparse_matmul: a row index exceeds the input width {jnp.shape(xm)[-1]}.')
    if not isinstance(cols, jax.core.Tracer):
        if cols.size and int(np.max(np.asarray(cols))) >= out_features:
            raise ValueError(f'sparse_matmul: a column index exceeds out_features={out_features}.')
    spec = SparseSpec('sparse_matmul', 1, ('values',), config=(int(out_features),))
    return attach(bind_op(spec, xm, vm, rows, cols), xu, vu)
