"""Channels-last convolution layers built on the ETP ``conv`` op."""
from __future__ import annotations

import math
from typing import Optional

import brainstate
import braintools

from ..ops import conv
from ._base import Layer, as_positive_int, as_size, check_input, init_param

__all__ = ['Conv1d', 'Conv2d', 'Conv3d']


def _tuple_of(value, n: int, what: str, label: str) -> tuple:
    if isinstance(value, (tuple, list)):
        if len(value) != n:
            raise ValueError(f'{label}: {what} needs {n} value(s), got {value!r}.')
        items = tuple(value)
    else:
        items = (value,) * n
    return as_size(items, what, label)


def _padding(padding, n: int, label: str):
    if isinstance(padding, str):
        key = padding.upper()
        if key not in ('SAME', 'VALID'):
            raise ValueError(f"{label}: padding must be 'SAME', 'VALID', an int, or per-axis ints or "
                             f"(low, high) pairs, got {padding!r}.")
        return key
    bad = ValueError(f"{label}: padding must be 'SAME', 'VALID', an int, or {n} per-axis ints or "
                     f"(low, high) pairs, got {padding!r}.")
    if isinstance(padding, int) and not isinstance(padding, bool):
        items = ((padding, padding),) * n
    elif isinstance(padding, (tuple, list)) and len(padding) == n:
        items = []
        for p in padding:
            if isinstance(p, int) and not isinstance(p, bool):
                items.append((p, p))
            elif isinstance(p, (tuple, list)) and len(p) == 2 and all(isinstance(q, int) for q in p):
                items.append(tuple(p))
            else:
                raise bad
        items = tuple(items)
    else:
        raise bad
    if any(q < 0 for p in items for q in p):
        raise bad
    return items


class _ConvNd(Layer):
    num_spatial = 0

    def __init__(
        self,
        in_size,
        out_channels: int,
        kernel_size,
        stride=1,
        padding='SAME',
        w_init=braintools.init.KaimingNormal(),
        b_init=braintools.init.ZeroInit(),
        use_bias: bool = True,
        name: Optional[str] = None,
    ):
        super().__init__(name=name)
        label = type(self).__name__
        n = self.num_spatial
        in_size = as_size(in_size, 'in_size', label)
        if len(in_size) != n + 1:
            raise ValueError(f'{label}: in_size must be ({", ".join(["spatial"] * n)}, C_in) '
                             f'(channels last), got {in_size}.')
        self.in_size = in_size
        self.out_channels = as_positive_int(out_channels, 'out_channels', label)
        self.kernel_size = _tuple_of(kernel_size, n, 'kernel_size', label)
        self.stride = _tuple_of(stride, n, 'stride', label)
        self.padding = _padding(padding, n, label)
        self.out_size = self._compute_out_size()
        if any(s <= 0 for s in self.out_size[:-1]):
            raise ValueError(f'{label}: kernel {self.kernel_size} with padding {self.padding!r} does not '
                             f'fit the input {in_size}.')
        self.use_bias = bool(use_bias) and b_init is not None
        c_in = in_size[-1]
        params = {'weight': init_param(w_init, self.kernel_size + (c_in, self.out_channels), 'weight', label)}
        if self.use_bias:
            params['bias'] = init_param(b_init, (self.out_channels,), 'bias', label)
        self.weight = brainstate.ParamState(params)

    def _compute_out_size(self) -> tuple:
        spatial = []
        for i, (size, k, s) in enumerate(zip(self.in_size[:-1], self.kernel_size, self.stride)):
            if self.padding == 'SAME':
                spatial.append(math.ceil(size / s))
            elif self.padding == 'VALID':
                spatial.append(math.ceil((size - k + 1) / s))
            else:
                lo, hi = self.padding[i]
                spatial.append((size + lo + hi - k) // s + 1)
        return tuple(spatial) + (self.out_channels,)

    @property
    def out_size(self):
        """Output shape ``(*out_spatial, out_channels)``, from the input size, kernel, stride, padding."""
        return self._out_size

    @out_size.setter
    def out_size(self, value):
        self._out_size = tuple(value)

    def update(self, x):
        check_input(type(self).__name__, x, self.in_size)
        p = self.weight.value
        return conv(x, p['weight'], p.get('bias'), strides=self.stride, padding=self.padding)



_CONV_DOC = r"""{n}-D convolution, channels last, through the ETP ``conv`` op.

    .. math:: y[p, o] = \sum_{{k, i}} x[p \cdot s + k, i]\, K[k, i, o] + b[o]

    ``in_size = ({spatial}, C_in)``; inputs are ``(..., {spatial}, C_in)`` (any
    leading batch axes). ``ParamState`` ``weight`` holds ``{{'weight': K, 'bias': b}}``
    with ``K`` of shape ``(*kernel_size, C_in, out_channels)``. ``padding`` is
    ``'SAME'``, ``'VALID'``, an int, or per-axis ints / ``(low, high)`` pairs;
    ``out_size`` is computed from them.

    >>> layer = {cls}({example_in}, 8, kernel_size=3, stride=2)
    >>> layer.out_size
    {example_out}
"""


class Conv1d(_ConvNd):
    __doc__ = _CONV_DOC.format(n=1, spatial='L', cls='Conv1d', example_in='(32, 4)',
                               example_out='(16, 8)')
    num_spatial = 1


class Conv2d(_ConvNd):
    __doc__ = _CONV_DOC.format(n=2, spatial='H, W', cls='Conv2d', example_in='(28, 28, 1)',
                               example_out='(14, 14, 8)')
    num_spatial = 2


class Conv3d(_ConvNd):
    __doc__ = _CONV_DOC.format(n=3, spatial='D, H, W', cls='Conv3d', example_in='(8, 8, 8, 2)',
                               example_out='(4, 4, 4, 8)')
    num_spatial = 3
