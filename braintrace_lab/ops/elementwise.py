"""Element-wise ETP op: a per-position weight such as a trainable time constant."""
from __future__ import annotations

import dataclasses
from typing import Callable

import jax.numpy as jnp

from ._primitive import OpSpec, bind_op
from ._units import attach, strip

__all__ = ['element_wise', 'ElementWiseSpec']


def _identity(w):
    return w


@dataclasses.dataclass(frozen=True)
class ElementWiseSpec(OpSpec):
    """``y = fn(w)`` or ``y = fn(x, w)``, position by position; ``config = (fn,)``."""

    def _compute(self, *operands):
        (fn,) = self.config
        return fn(*operands)


def element_wise(weight, fn: Callable = None, x=None, *, weight_fn: Callable = None):
    """ETP element-wise op ``y = fn(weight)`` (or ``fn(x, weight)`` when ``x`` is given).

    ``weight_fn=`` is braintrace's name for ``fn`` (``element_wise(w, weight_fn=jnp.exp)``).

    ``fn`` must act position by position and sees plain arrays; the result carries
    the weight's unit (times the input's unit when ``x`` is given).

    >>> w, x = jnp.zeros(4), jnp.ones((2, 4))
    >>> y = element_wise(w, jnp.exp)              # y_i = exp(w_i)
    >>> y = element_wise(w, lambda x, w: x * w, x)  # a per-unit gain
    """
    if weight_fn is not None:
        if fn is not None:
            raise TypeError('element_wise: give the transform once, as fn or as weight_fn.')
        fn = weight_fn
    wm, wu = strip(weight)
    if fn is None:
        fn = _identity
    if not callable(fn):
        raise TypeError(f'element_wise: fn must be callable, got {type(fn).__name__}.')
    if x is None:
        spec = ElementWiseSpec('element_wise', 0, ('weight',), config=(fn,))
        return attach(bind_op(spec, wm), wu)
    xm, xu = strip(x)
    spec = ElementWiseSpec('element_wise', 1, ('weight',), config=(fn,))
    return attach(bind_op(spec, xm, wm), xu, wu)
