"""Convolution ETP op (channels-last, any number of spatial axes)."""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from ._primitive import OpSpec, bind_op
from ._units import attach, product_unit, strip, to_unit

__all__ = ['conv', 'ConvSpec', 'conv_patches', 'kernel_as_matrix']


def _dim_numbers(nsp):
    sp = ''.join('HWD'[:nsp]) if nsp <= 3 else None
    if sp is None:
        raise ValueError(f'conv supports 1 to 3 spatial axes, got {nsp}.')
    return ('N' + sp + 'C', sp + 'IO', 'N' + sp + 'C')


@dataclasses.dataclass(frozen=True)
class ConvSpec(OpSpec):
    """``y = conv(x, K) (+ b)`` with ``x`` of shape ``(..., *spatial, C_in)``.

    ``config = (strides, padding)``; the kernel is ``(*window, C_in, C_out)``.
    """

    def _compute(self, x, kernel, *rest):
        strides, padding = self.config
        nsp = kernel.ndim - 2
        lead = x.shape[:x.ndim - nsp - 1]
        xb = x.reshape((-1,) + x.shape[len(lead):])
        y = jax.lax.conv_general_dilated(xb, kernel, strides, padding,
                                         dimension_numbers=_dim_numbers(nsp))
        y = y.reshape(lead + y.shape[1:])
        if self.weight_names == ('kernel', 'bias'):
            y = y + rest[0]
        return y


def conv_patches(spec: ConvSpec, x, kernel_shape):
    """Input patches ``(..., *out_spatial, C_in * prod(window))`` so that the conv
    is ``patches @ kernel_as_matrix(kernel)``: the conv seen as a matmul per output
    position, which is how the trace engines treat it."""
    strides, padding = spec.config
    nsp = len(kernel_shape) - 2
    lead = x.shape[:x.ndim - nsp - 1]
    xb = x.reshape((-1,) + x.shape[len(lead):])
    p = jax.lax.conv_general_dilated_patches(
        xb, kernel_shape[:nsp], strides, padding, dimension_numbers=_dim_numbers(nsp))
    return p.reshape(lead + p.shape[1:])


def kernel_as_matrix(kernel):
    """``(*window, C_in, C_out)`` -> ``(C_in * prod(window), C_out)`` in patch order."""
    nsp = kernel.ndim - 2
    perm = (nsp,) + tuple(range(nsp)) + (nsp + 1,)
    return jnp.transpose(kernel, perm).reshape(-1, kernel.shape[-1])


def matrix_as_kernel(matrix, kernel_shape):
    """Inverse of :func:`kernel_as_matrix` (used to map trace gradients back)."""
    nsp = len(kernel_shape) - 2
    window, cin, cout = kernel_shape[:nsp], kernel_shape[nsp], kernel_shape[-1]
    k = matrix.reshape((cin,) + tuple(window) + (cout,))
    perm = tuple(range(1, nsp + 1)) + (0, nsp + 1)
    return jnp.transpose(k, perm)


def conv(x, kernel, bias=None, strides=None, padding='SAME'):
    """ETP convolution, channels-last: ``x (..., *spatial, C_in)``, ``kernel (*window, C_in, C_out)``.

    >>> y = conv(jnp.ones((8, 8, 3)), jnp.ones((3, 3, 3, 4)))   # (8, 8, 4)
    """
    xm, xu = strip(x)
    km, ku = strip(kernel)
    nsp = jnp.ndim(km) - 2
    if nsp < 1:
        raise ValueError(f'conv: kernel must be (*window, C_in, C_out), got shape {jnp.shape(km)}.')
    if jnp.ndim(xm) < nsp + 1 or jnp.shape(xm)[-1] != jnp.shape(km)[-2]:
        raise ValueError(f'conv: input shape {jnp.shape(xm)} does not fit kernel {jnp.shape(km)}; '
                         f'expected (..., {", ".join(["S"] * nsp)}, {jnp.shape(km)[-2]}).')
    strides = tuple(strides) if strides is not None else (1,) * nsp
    if isinstance(padding, str):
        padding = padding.upper()
    else:
        padding = tuple(tuple(p) for p in padding)
    operands = [xm, km]
    names = ('kernel',)
    if bias is not None:
        bm = to_unit(bias, product_unit(xu, ku))
        operands.append(bm)
        names = ('kernel', 'bias')
    y = bind_op(ConvSpec('conv', 1, names, config=(strides, padding)), *operands)
    return attach(y, xu, ku)
