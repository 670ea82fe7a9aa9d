"""``GradExpon``: a leaky running sum of gradients, ``acc <- decay * acc + grads``.

Online rules give a gradient at every step; summing them with a leak keeps a smoothed
recent gradient (for updates every few steps) instead of the whole sum.

>>> acc = GradExpon(jnp.zeros((3,)), 0.9)
>>> acc.update(jnp.ones((3,))); acc.update(jnp.ones((3,)))
>>> acc.gradients.value          # [1.9, 1.9, 1.9]
"""
from __future__ import annotations

import math

import brainstate
import brainunit as u
import jax
import jax.numpy as jnp

__all__ = ['GradExpon']


def _decay_from(tau_or_decay) -> float:
    if isinstance(tau_or_decay, u.Quantity):
        dt = brainstate.environ.get('dt', None)
        if dt is None:
            raise ValueError(f'GradExpon(tau_or_decay={tau_or_decay}): a time constant needs the time step: '
                             f'run inside brainstate.environ.context(dt=...), or pass the decay itself.')
        ratio = u.get_magnitude(dt / tau_or_decay)
        return float(math.exp(-float(ratio)))
    if isinstance(tau_or_decay, bool) or not isinstance(tau_or_decay, (int, float)):
        raise TypeError(f'GradExpon: tau_or_decay must be a time constant (a brainunit Quantity such as '
                        f'20 * u.ms) or a decay in (0, 1), got {type(tau_or_decay).__name__}.')
    decay = float(tau_or_decay)
    if not 0.0 < decay < 1.0:
        raise ValueError(f'GradExpon: decay must lie in (0, 1), got {decay}; pass a time constant with '
                         f'units for exp(-dt / tau).')
    return decay


class GradExpon(brainstate.nn.Module):
    """Leaky running sum of a pytree of gradients, stored in ``self.gradients``.

    ``tau_or_decay``: the decay in (0, 1), or a time constant ``tau`` (with units) for
    ``decay = exp(-dt / tau)``. ``grad_shape`` is a pytree whose leaves give the shapes and
    dtypes (for instance the weights, or a first gradient).
    """

    def __init__(self, grad_shape, tau_or_decay):
        super().__init__()
        self.decay = _decay_from(tau_or_decay)
        self.gradients = brainstate.LongTermState(jax.tree.map(jnp.zeros_like, grad_shape))

    def update(self, grads):
        """``gradients <- decay * gradients + grads`` (same tree structure as ``grad_shape``)."""
        old = self.gradients.value
        if jax.tree.structure(grads, is_leaf=u.math.is_quantity) != jax.tree.structure(old, is_leaf=u.math.is_quantity):
            raise ValueError(f'GradExpon.update: gradients have structure {jax.tree.structure(grads)}, '
                             f'the accumulator {jax.tree.structure(old)}.')
        self.gradients.value = jax.tree.map(lambda a, g: a * self.decay + g, old, grads,
                                            is_leaf=u.math.is_quantity)
        return self.gradients.value
