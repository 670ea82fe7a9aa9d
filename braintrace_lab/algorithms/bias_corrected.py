"""braintrace's ES-D-RTRL output factor: exponential smoothing with its warm-up bias removed.

With ``normalized=True`` the output factor is ``ef^t = a D ef^{t-1} + (1 - a) Df^t``, an
exponential average that starts at zero; braintrace divides it by ``1 - a^n`` after ``n``
updates (and by 1 from the 1000th on), which makes the first step exact, and gives a
bias the current input 1 as its input factor (no low-passed history). The engine counts
its own updates, so a reset (the traces back to their start) restarts the count.
"""
from __future__ import annotations

import dataclasses

import jax.numpy as jnp

from .engines import IODimEngine

__all__ = ['BiasCorrectedIODimEngine']

_LAST_CORRECTED = 1000      # braintrace stops correcting after this many steps


@dataclasses.dataclass(frozen=True)
class BiasCorrectedIODimEngine(IODimEngine):
    """:class:`IODimEngine` whose gradient reads ``ef / (1 - f_decay^n)``; ``n`` is kept in the trace."""

    def init(self, rule, S, x_shape, dtype):
        trace = super().init(rule, S, x_shape, dtype)
        if rule.family == 'elementwise':
            return trace
        return {**trace, 'n': jnp.zeros((), jnp.int32)}

    def update(self, trace, rule, operands, D, Df):
        if rule.family == 'elementwise':
            return super().update(trace, rule, operands, D, Df)
        inner = {k: v for k, v in trace.items() if k != 'n'}
        new = super().update(inner, rule, operands, D, Df)
        if 'one' in new:          # a bias's input is 1 at every step: braintrace keeps no history of it
            new['one'] = jnp.ones_like(new['one'])
        return {**new, 'n': trace['n'] + 1}

    def correction(self, n, dtype=jnp.float32):
        """``1 - a^n`` in ``dtype`` (``1`` once ``n`` passes braintrace's cut-off, and for ``n = 0``)."""
        c = 1.0 - jnp.power(jnp.asarray(self.f_decay, dtype), n.astype(dtype))
        c = jnp.where((n > _LAST_CORRECTED) | (n == 0), jnp.ones((), dtype), c)
        return jnp.maximum(c, jnp.asarray(1e-8, dtype))

    def grads(self, trace, rule, operands, g):
        if rule.family == 'elementwise':
            return super().grads(trace, rule, operands, g)
        inner = {k: v for k, v in trace.items() if k != 'n'}
        inner['f'] = inner['f'] / self.correction(trace['n'], inner['f'].dtype)    # in the trace's precision
        return super().grads(inner, rule, operands, g)
