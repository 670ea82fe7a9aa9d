"""Convolution ETP op with ``jax.lax.conv_general_dilated``'s layouts and keywords.

By default the input is ``(N, C_in, *spatial)``, the kernel ``(C_out, C_in / groups,
*window)`` and the output ``(N, C_out, *spatial)``, as lax (and braintrace) read them;
``dimension_numbers=`` picks any other layout, e.g. ``('NWC', 'WIO', 'NWC')``. The
trace engines see every layout the same way: the op as a matmul per output position,
``y[pos, o] = sum_i patches[pos, i] M[i, o]``, with ``M`` the kernel as a dense
``(C_in * prod(window), C_out)`` matrix (zeros between feature groups).
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

from ._primitive import OpSpec, bind_op
from ._units import attach, product_unit, strip, to_unit

__all__ = ['conv', 'ConvSpec', 'conv_patches', 'kernel_as_matrix', 'matrix_as_kernel']

_SPATIAL = 'WHD'


def _canonical_numbers(nsp):
    """Channels-last names lax understands: ``('NWC', 'WIO', 'NWC')`` and up."""
    sp = {1: 'W', 2: 'HW', 3: 'DHW'}[nsp]
    return ('N' + sp + 'C', sp + 'IO', 'N' + sp + 'C')


def _as_tuple(value, nsp, what):
    if value is None:
        return None
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (int(value),) * nsp
    items = tuple(int(v) for v in value)
    if len(items) == 1 and nsp > 1:
        items = items * nsp
    if len(items) != nsp:
        raise ValueError(f'conv: {what} needs {nsp} value(s) for {nsp} spatial axes, got {value!r}.')
    return items


def _as_padding(padding, nsp):
    if isinstance(padding, str):
        key = padding.upper()
        if key not in ('SAME', 'VALID', 'SAME_LOWER'):
            raise ValueError(f"conv: padding must be 'SAME', 'VALID' or (low, high) pairs, got {padding!r}.")
        return key
    if isinstance(padding, (int, np.integer)):
        return ((int(padding), int(padding)),) * nsp
    pairs = tuple((int(p), int(p)) if isinstance(p, (int, np.integer)) else tuple(int(q) for q in p)
                  for p in padding)
    if len(pairs) != nsp or any(len(p) != 2 for p in pairs):
        raise ValueError(f'conv: padding needs {nsp} (low, high) pair(s), got {padding!r}.')
    return pairs


def _identity(w):
    return w


@dataclasses.dataclass(frozen=True)
class ConvSpec(OpSpec):
    """``y = conv(x, kernel_fn(K)) (+ bias_fn(b))``.

    ``config = (strides, padding, lhs_dilation, rhs_dilation, groups, dn, batched,
    kernel_fn, bias_fn)``; ``dn`` is a ``ConvDimensionNumbers`` (axis positions of a
    batched operand); ``batched=False`` means the input has no ``N`` axis.
    """

    @property
    def nsp(self):
        return len(self.config[0])

    @property
    def dn(self):
        return self.config[5]

    @property
    def batched(self):
        return self.config[6]

    def _conv(self, x, kernel):
        strides, padding, lhs_dil, rhs_dil, groups, dn, batched, kernel_fn, _ = self.config
        if not batched:
            x = jnp.expand_dims(x, dn.lhs_spec[0])
        y = jax.lax.conv_general_dilated(x, kernel_fn(kernel), strides, padding, lhs_dil, rhs_dil,
                                         dimension_numbers=dn, feature_group_count=groups)
        return y if batched else jnp.squeeze(y, dn.out_spec[0])

    def bias_shape(self, y_ndim):
        """Shape that broadcasts a ``(C_out,)`` vector along the output channel axis."""
        shape = [1] * y_ndim
        shape[self.out_perm()[-1]] = -1
        return tuple(shape)

    def _compute(self, x, kernel, *rest):
        y = self._extra_axes(self._conv, x, kernel)
        if 'bias' in self.weight_names:
            b = self.config[8](rest[0])
            if jnp.ndim(b) == 1:
                b = b.reshape(self.bias_shape(self.sample_ndim()))
            y = y + b
        return y

    def _extra_axes(self, fn, x, *args):
        """Map ``fn`` over leading axes ``vmap`` put in front of a sample's axes."""
        extra = jnp.ndim(x) - self.sample_ndim()
        for _ in range(extra):
            fn = jax.vmap(fn, in_axes=(0,) + (None,) * len(args))
        return fn(x, *args)

    def sample_ndim(self):
        return self.nsp + (2 if self.batched else 1)

    # ---- the engine's view: channels last, one matmul per output position
    @staticmethod
    def _sample_perm(spec, batched):
        """Axis order that takes a (batched or not) operand to ``(N, *spatial, C)``."""
        perm = (spec[0],) + tuple(spec[2:]) + (spec[1],)
        if batched:
            return perm
        return tuple(a - (a > spec[0]) for a in perm[1:])

    def out_perm(self):
        return self._sample_perm(self.dn.out_spec, self.batched)

    def canonical(self, arr, n_trailing=0, inverse=False):
        """``arr`` shaped ``(..., *y_sample_shape, *trailing)`` with the output axes put in
        channels-last order ``(..., [N,] *spatial, C_out, *trailing)`` (``inverse=True``: back)."""
        perm = self.out_perm()
        if inverse:
            perm = tuple(int(i) for i in np.argsort(perm))
        lead = jnp.ndim(arr) - n_trailing - len(perm)
        full = tuple(range(lead)) + tuple(lead + p for p in perm) + \
            tuple(range(lead + len(perm), lead + len(perm) + n_trailing))
        if full == tuple(range(len(full))):
            return arr
        return jnp.transpose(arr, full)

    def canonical_shape(self, y_shape):
        perm = self.out_perm()
        lead = len(y_shape) - len(perm)
        return tuple(y_shape[:lead]) + tuple(y_shape[lead + p] for p in perm)

    def window(self, kernel_shape):
        return tuple(kernel_shape[a] for a in self.dn.rhs_spec[2:])

    def patch_size(self, x_shape, kernel_shape):
        """Width ``C_in * prod(window)`` of one patch."""
        sample = tuple(x_shape[len(x_shape) - self.sample_ndim():])
        n_ax, c_ax = self.dn.lhs_spec[0], self.dn.lhs_spec[1]
        cin = sample[c_ax] if self.batched else sample[c_ax - (c_ax > n_ax)]
        return int(cin * np.prod(self.window(kernel_shape)))

    def patches(self, x, kernel_shape):
        """Input patches ``(..., [N,] *out_spatial, C_in * prod(window))`` in the order of
        :meth:`dense_kernel`'s rows."""
        strides, padding, lhs_dil, rhs_dil = self.config[:4]
        window = self.window(kernel_shape)
        lhs_perm = self._sample_perm(self.dn.lhs_spec, True)

        def one(xs):
            xb = xs if self.batched else jnp.expand_dims(xs, self.dn.lhs_spec[0])
            xc = jnp.transpose(xb, lhs_perm)
            p = jax.lax.conv_general_dilated_patches(xc, window, strides, padding, lhs_dil, rhs_dil,
                                                     dimension_numbers=_canonical_numbers(self.nsp))
            return p if self.batched else p[0]
        return self._extra_axes(one, x)

    def dense_kernel(self, kernel):
        """``kernel_fn(K)`` as the dense ``(C_in * prod(window), C_out)`` matrix of the patches."""
        nsp, groups = self.nsp, self.config[4]
        rs = self.dn.rhs_spec
        k = jnp.transpose(self.config[7](kernel), tuple(rs[2:]) + (rs[1], rs[0]))    # (*window, I/g, O)
        if groups > 1:
            window, ig, cout = k.shape[:nsp], k.shape[nsp], k.shape[nsp + 1]
            kr = k.reshape(window + (ig, groups, cout // groups))
            eye = jnp.eye(groups, dtype=k.dtype)
            k = jnp.einsum('...igj,hg->...higj', kr, eye).reshape(window + (groups * ig, cout))
        return kernel_as_matrix(k)

    def dense_bias(self, bias):
        return jnp.reshape(self.config[8](bias), (-1,))


def kernel_as_matrix(kernel):
    """``(*window, C_in, C_out)`` -> ``(C_in * prod(window), C_out)`` in patch order."""
    nsp = kernel.ndim - 2
    perm = (nsp,) + tuple(range(nsp)) + (nsp + 1,)
    return jnp.transpose(kernel, perm).reshape(-1, kernel.shape[-1])


def matrix_as_kernel(matrix, kernel_shape):
    """Inverse of :func:`kernel_as_matrix` for a ``(*window, C_in, C_out)`` kernel."""
    nsp = len(kernel_shape) - 2
    window, cin, cout = kernel_shape[:nsp], kernel_shape[nsp], kernel_shape[-1]
    k = matrix.reshape((cin,) + tuple(window) + (cout,))
    return jnp.transpose(k, tuple(range(1, nsp + 1)) + (0, nsp + 1))


def conv_patches(spec: ConvSpec, x, kernel_shape):
    """Input patches of ``x`` for ``spec`` (see :meth:`ConvSpec.patches`)."""
    return spec.patches(x, kernel_shape)


def conv(x, kernel, bias=None, *, strides=None, padding='SAME', lhs_dilation=None, rhs_dilation=None,
         feature_group_count: int = 1, batch_group_count: int = 1, dimension_numbers=None,
         kernel_fn: Optional[Callable] = None, bias_fn: Optional[Callable] = None):
    """ETP convolution: ``jax.lax.conv_general_dilated(x, kernel_fn(kernel), ...) + bias_fn(bias)``.

    Layouts follow lax: by default ``x`` is ``(N, C_in, *spatial)`` and ``kernel``
    ``(C_out, C_in / feature_group_count, *window)``; ``dimension_numbers`` (lax's
    strings or a ``ConvDimensionNumbers``) selects another, e.g. channels last with
    ``('NHWC', 'HWIO', 'NHWC')``. ``x`` may also come without its ``N`` axis. A 1-D
    ``bias`` of ``C_out`` values is added along the output channel axis; a bias of
    higher rank (one value per channel, e.g. ``(1, 1, C_out)``) is added as it is.
    ``kernel_fn`` / ``bias_fn`` transform the raw weights inside the op; traces and
    gradients are taken with respect to the raw weights.

    >>> y = conv(jnp.ones((2, 3, 8)), jnp.ones((4, 3, 3)))              # (2, 4, 8)
    >>> y = conv(jnp.ones((8, 8, 3)), jnp.ones((3, 3, 3, 4)), strides=(1, 1),
    ...          dimension_numbers=('NHWC', 'HWIO', 'NHWC'))            # (8, 8, 4), no N
    """
    if batch_group_count != 1:
        from ..errors import NotSupportedError
        raise NotSupportedError('conv: batch_group_count != 1 has no eligibility-trace rule; use '
                                'feature_group_count for grouped convolutions.')
    xm, xu = strip(x)
    km, ku = strip(kernel)
    kshape = tuple(jnp.shape(km))
    nsp = len(kshape) - 2
    if nsp < 1 or nsp > 3:
        raise ValueError(f'conv: the kernel needs 1 to 3 spatial axes plus two channel axes, got shape {kshape}.')
    xshape = tuple(jnp.shape(xm))
    if len(xshape) not in (nsp + 1, nsp + 2):
        raise ValueError(f'conv: input of shape {xshape} does not fit a kernel with {nsp} spatial axes; '
                         f'expected {nsp + 2} axes (N, C, {", ".join("WHD"[:nsp][::-1])}) in the layout of '
                         f'dimension_numbers, or {nsp + 1} without N.')
    batched = len(xshape) == nsp + 2
    if isinstance(dimension_numbers, jax.lax.ConvDimensionNumbers):
        dn = dimension_numbers
    else:
        dn = jax.lax.conv_dimension_numbers((1,) * (nsp + 2), kshape, dimension_numbers)
    full_shape = xshape if batched else xshape[:dn.lhs_spec[0]] + (1,) + xshape[dn.lhs_spec[0]:]
    cin = full_shape[dn.lhs_spec[1]]
    if cin != kshape[dn.rhs_spec[1]] * feature_group_count:
        raise ValueError(f'conv: input of shape {xshape} has {cin} channels but the kernel {kshape} '
                         f'expects {kshape[dn.rhs_spec[1]]} x {feature_group_count} group(s) (layout '
                         f'{dimension_numbers or "lax default: (N, C, *spatial) / (O, I, *window)"}).')
    strides = _as_tuple(strides, nsp, 'strides') or (1,) * nsp
    config = (strides, _as_padding(padding, nsp), _as_tuple(lhs_dilation, nsp, 'lhs_dilation'),
              _as_tuple(rhs_dilation, nsp, 'rhs_dilation'), int(feature_group_count), dn, batched,
              kernel_fn or _identity, bias_fn or _identity)
    operands = [xm, km]
    names = ('kernel',)
    if bias is not None:
        bm = to_unit(bias, product_unit(xu, ku))
        cout = kshape[dn.rhs_spec[0]]
        if int(np.prod(jnp.shape(bm))) != cout:
            raise ValueError(f'conv: bias of shape {jnp.shape(bm)} must hold one value per output channel '
                             f'({cout}), as a ({cout},) vector or broadcast along the channel axis.')
        operands.append(bm)
        names = ('kernel', 'bias')
    y = bind_op(ConvSpec('conv', 1, names, config=config), *operands)
    return attach(y, xu, ku)
