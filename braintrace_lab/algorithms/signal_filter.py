"""braintrace's ``KappaFilter``: a low-pass filter kept as a state, for filtering a signal by hand.

``x_filt <- (1 - kappa) x + kappa x_filt`` at every :meth:`KappaFilter.update`. e-prop's own
filtered trace is a rule option here (``EProp(model, kappa=...)``, the trace engine
:class:`~.snn_traces.KappaTraceFilter`); this class is for a user's own signals.

>>> import jax.numpy as jnp
>>> filt = KappaFilter(jnp.zeros(3), kappa=0.5)
>>> filt.update(jnp.ones(3)).tolist(), filt.update(jnp.ones(3)).tolist()
([0.5, 0.5, 0.5], [0.75, 0.75, 0.75])
"""
from __future__ import annotations

import numbers

import brainstate
import jax.numpy as jnp

__all__ = ['KappaFilter']


class KappaFilter(brainstate.ShortTermState):
    """A filtered value ``x_filt`` (shape and dtype of ``init_value``), updated by ``(1 - kappa) x + kappa x_filt``;
    ``reset_state(batch_size=None)`` sets it back to zeros (with ``batch_size`` rows if given)."""

    def __init__(self, init_value, kappa: float):
        init_value = jnp.asarray(init_value)
        super().__init__(init_value)
        if isinstance(kappa, bool) or not isinstance(kappa, numbers.Real) or not 0.0 <= kappa < 1.0:
            raise ValueError(f'KappaFilter: kappa={kappa!r} must be a float in [0, 1) (0: no filtering), e.g. 0.5.')
        self.kappa = float(kappa)
        self._init_shape, self._init_dtype = init_value.shape, init_value.dtype

    def update(self, x):
        """One low-pass step; returns the new filtered value."""
        new = (1.0 - self.kappa) * x + self.kappa * self.value
        self.value = new
        return new

    def reset_state(self, batch_size=None, **kwargs):
        """Zeros at the first shape (its leading axis replaced by ``batch_size``, or prepended to a scalar)."""
        if batch_size is None:
            shape = self._init_shape
        else:
            shape = (batch_size,) + tuple(self._init_shape[1:] if self._init_shape else ())
        self.value = jnp.zeros(shape, self._init_dtype)
