"""Sparse ETP op: a weight matrix given by its non-zero entries.

Two ways to give the pattern: braintrace's ``sparse_matmul(x, weight,
sparse_mat=<brainevent matrix>)``, whose structure (CSR, CSC, COO, ...) fixes where
each value sits, or this package's ``sparse_matmul(x, values, rows, cols, out_features)``.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

from ._primitive import OpSpec, bind_op
from ._units import attach, product_unit, strip, to_unit
from .elementwise import element_wise

__all__ = ['sparse_matmul', 'SparseSpec', 'sparse_pattern']


def _identity(w):
    return w


@dataclasses.dataclass(frozen=True)
class SparseSpec(OpSpec):
    """``y[..., o] = sum_{k: col_k = o} x[..., row_k] * weight_fn(value)_k``.

    ``config = (out_features,)`` or ``(out_features, weight_fn)``.
    """

    def weight_fn(self):
        return self.config[1] if len(self.config) > 1 else _identity

    def _compute(self, x, values, rows, cols):
        n_out = self.config[0]
        contrib = x[..., rows] * self.weight_fn()(values)
        moved = jnp.moveaxis(contrib, -1, 0)
        y = jax.ops.segment_sum(moved, cols, num_segments=n_out)
        return jnp.moveaxis(y, 0, -1)

    def values_to_operands(self, values, g_eff):
        """Map a gradient on the effective values back to the raw values (element-wise ``weight_fn``)."""
        if len(self.config) < 2:
            return g_eff
        eff, vjp = jax.vjp(self.config[1], values)
        return vjp(g_eff.astype(eff.dtype))[0]


def sparse_pattern(sparse_mat):
    """``(rows, cols, shape)`` of each stored value of a brainevent sparse matrix, in data order."""
    shape = tuple(int(s) for s in sparse_mat.shape)
    name = type(sparse_mat).__name__
    if hasattr(sparse_mat, 'indptr') and name in ('CSR', 'CSC'):
        indptr = np.asarray(sparse_mat.indptr)
        indices = np.asarray(sparse_mat.indices)
        major = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
        return (major, indices, shape) if name == 'CSR' else (indices, major, shape)
    if hasattr(sparse_mat, 'row') and hasattr(sparse_mat, 'col'):
        return np.asarray(sparse_mat.row), np.asarray(sparse_mat.col), shape
    # any other structure: put 1..nnz into its data and read where each lands
    data = np.asarray(jnp.asarray(sparse_mat.data))
    probe = sparse_mat.with_data(jnp.arange(1, data.size + 1, dtype=jnp.float32).reshape(data.shape))
    dense = np.asarray(probe.todense())
    rows, cols = np.nonzero(dense)
    order = np.argsort(dense[rows, cols])
    return rows[order], cols[order], shape


def sparse_matmul(x, weight, rows=None, cols=None, out_features=None, *, sparse_mat=None, bias=None,
                  weight_fn: Optional[Callable] = None, bias_fn: Optional[Callable] = None):
    """ETP product of ``x (..., in)`` with a sparse ``(in, out)`` matrix of trainable non-zeros.

    Braintrace's form: ``sparse_matmul(x, weight, sparse_mat=csr)``: ``weight`` holds the
    ``(nnz,)`` values in the order of ``csr``'s data (a brainevent ``CSR``, ``CSC``,
    ``COO``, ...), whose structure gives their positions. This package's form:
    ``sparse_matmul(x, values, rows, cols, out_features)``. ``weight_fn`` transforms
    the values inside the op, element by element; ``bias`` (``(out,)``, with
    ``bias_fn``) is added through an element-wise ETP op of its own, so it has an
    exact per-position trace.

    >>> import brainevent
    >>> csr, x = brainevent.CSR.fromdense(jnp.eye(3)), jnp.ones((2, 3))
    >>> y = sparse_matmul(x, csr.data, sparse_mat=csr)        # x @ csr.todense()
    """
    if sparse_mat is not None:
        if rows is not None or cols is not None or out_features is not None:
            raise TypeError('sparse_matmul: give the pattern either as sparse_mat= or as rows, cols, '
                            'out_features, not both.')
        if not hasattr(sparse_mat, 'shape') or not hasattr(sparse_mat, 'data'):
            raise TypeError(f'sparse_mat must be a brainevent sparse matrix (CSR, CSC, COO, ...), got '
                            f'{type(sparse_mat).__name__!r}.')
        r, c, shape = sparse_pattern(sparse_mat)
        rows, cols, out_features = r, c, shape[1]
        if jnp.shape(strip(x)[0])[-1:] != (shape[0],):
            raise ValueError(f'sparse_matmul: input of shape {jnp.shape(strip(x)[0])} does not fit the '
                             f'{shape} sparse matrix; the last input axis must be {shape[0]}.')
    elif rows is None or cols is None or out_features is None:
        raise TypeError('sparse_matmul needs the sparsity pattern: sparse_matmul(x, weight, sparse_mat=csr) '
                        'or sparse_matmul(x, values, rows, cols, out_features).')
    xm, xu = strip(x)
    vm, vu = strip(weight)
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
    for name, fn in (('weight_fn', weight_fn), ('bias_fn', bias_fn)):
        if fn is not None and not callable(fn):
            raise TypeError(f'sparse_matmul: {name} must be callable, got {type(fn).__name__}.')
    config = (int(out_features),) if weight_fn is None else (int(out_features), weight_fn)
    spec = SparseSpec('sparse_matmul', 1, ('values',), config=config)
    y = bind_op(spec, xm, vm, rows, cols)
    if bias is None:
        return attach(y, xu, vu)
    bm = to_unit(bias, product_unit(xu, vu))
    if jnp.shape(bm) != (int(out_features),):
        raise ValueError(f'sparse_matmul: bias shape {jnp.shape(bm)} must be ({int(out_features)},).')
    fn = bias_fn or _identity
    y = element_wise(bm, _BiasAdd(fn), jnp.zeros(jnp.shape(y), y.dtype)) + y
    return attach(y, xu, vu)


@dataclasses.dataclass(frozen=True)
class _BiasAdd:
    """``(zeros, b) -> zeros + bias_fn(b)``: a bias broadcast over positions, as an element-wise op."""
    fn: Callable

    def __call__(self, z, b):
        return z + self.fn(b)
