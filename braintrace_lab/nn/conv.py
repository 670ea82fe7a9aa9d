"""Convolution layers: ``brainstate.nn.Conv1d/2d/3d`` with the kernel read through the ETP ``conv`` op.

Constructor, attributes and defaults are brainstate's (which braintrace's layers keep):
``in_size`` is ``(*spatial, C_in)`` (or ``(C_in, *spatial)`` with ``channel_first=True``),
the kernel ``(*kernel_size, C_in // groups, out_channels)``, ``padding`` a string, an int,
``(low, high)`` or per-axis pairs, ``w_init=XavierNormal()`` and no bias unless ``b_init``
is given (shape ``(1, ..., out_channels)``). ``w_mask`` multiplies the kernel inside the
op, so the masked kernel is still traced.
"""
from __future__ import annotations

import brainstate
import numpy as np

from ..ops import conv

__all__ = ['Conv1d', 'Conv2d', 'Conv3d']


class _Mask:
    """``w -> w * mask``: built once per layer, so every step binds the same op."""

    def __init__(self, mask):
        self.mask = mask

    def __call__(self, w):
        return w * self.mask


class _ETPConv:
    """Mixin: the convolution through the ETP ``conv`` op, unbatched inputs without an ``N`` axis."""

    # ``np.ndarray >> layer`` calls the layer instead of shifting array elements
    __array_ufunc__ = None

    def __init__(self, in_size, out_channels, kernel_size, stride=1, *args, **kwargs):
        label = type(self).__name__
        n = self.num_spatial_dims
        strides = stride if isinstance(stride, (tuple, list)) else (stride,) * n
        if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0 for v in strides):
            raise ValueError(f'{label}: stride must be a positive int or {n} positive ints, got {stride!r}.')
        try:
            super().__init__(in_size, out_channels, kernel_size, stride, *args, **kwargs)
        except TypeError as err:     # lax's shape rule on a kernel larger than the (padded) input
            if 'negative' not in str(err) and 'non-negative' not in str(err):
                raise
            raise ValueError(f'{label}: the kernel {kernel_size} does not fit the input {tuple(in_size)} '
                             f'with this padding and dilation.') from err
        if any(int(s) <= 0 for s in self.out_size):
            raise ValueError(f'{label}: the kernel {kernel_size} does not fit the input {tuple(in_size)}.')

    def _parse_padding(self, padding):
        label = type(self).__name__
        try:
            parsed = super()._parse_padding(padding)
        except ValueError as err:
            raise ValueError(f'{label}: {err}') from None
        if not isinstance(parsed[0], str) and any(int(q) < 0 for p in parsed[0] for q in p):
            raise ValueError(f'{label}: padding must not be negative, got {padding!r}.')
        return parsed

    def _check_input_dim(self, x):
        try:
            super()._check_input_dim(x)
        except ValueError as err:
            raise ValueError(f'{type(self).__name__}: {err}') from None

    def _kernel_fn(self):
        if getattr(self, 'w_mask', None) is None:
            return None
        fn = self.__dict__.get('_mask_fn')
        if fn is None or fn.mask is not self.w_mask:
            fn = self._mask_fn = _Mask(self.w_mask)
        return fn

    def _conv_op(self, x, params):
        return conv(x, params['weight'], params.get('bias'), strides=self.stride, padding=self.padding,
                    lhs_dilation=self.lhs_dilation, rhs_dilation=self.rhs_dilation,
                    feature_group_count=self.groups, dimension_numbers=self.dimension_numbers,
                    kernel_fn=self._kernel_fn())

    def update(self, x):
        self._check_input_dim(x)
        return self._conv_op(x, self.weight.value)


_DOC = """{n}-D convolution whose kernel (and bias) are read through the ETP ``conv`` op.

    ``brainstate.nn.{cls}``'s constructor and attributes (``in_channels``, ``kernel_shape``,
    ``groups``, ``rhs_dilation``, ``w_mask``, ``out_size``, ...): inputs ``({spatial}, C_in)``
    or ``(N, {spatial}, C_in)``; ``ParamState`` ``weight`` holds ``{{'weight': K}}`` (and
    ``'bias'`` when ``b_init`` is given).

    >>> layer = {cls}({example_in}, 8, kernel_size=3, stride=2)
    >>> layer.out_size
    {example_out}
"""


class Conv1d(_ETPConv, brainstate.nn.Conv1d):
    __doc__ = _DOC.format(n=1, cls='Conv1d', spatial='L', example_in='(32, 4)', example_out='(16, 8)')


class Conv2d(_ETPConv, brainstate.nn.Conv2d):
    __doc__ = _DOC.format(n=2, cls='Conv2d', spatial='H, W', example_in='(28, 28, 1)', example_out='(14, 14, 8)')


class Conv3d(_ETPConv, brainstate.nn.Conv3d):
    __doc__ = _DOC.format(n=3, cls='Conv3d', spatial='D, H, W', example_in='(8, 8, 8, 2)',
                          example_out='(4, 4, 4, 8)')
