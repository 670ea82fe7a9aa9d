"""Leaky rate read-out built on the ETP ``matmul`` op."""
from __future__ import annotations

from typing import Optional

import brainstate
import braintools
import brainunit as u

from ..ops import matmul
from ._base import Layer, check_batch, check_input, init_param

__all__ = ['LeakyRateReadout']


class LeakyRateReadout(Layer):
    r"""Leaky integrator read-out: a low-pass filtered linear projection.

    .. math:: r_t = e^{-\Delta t / \tau}\, r_{t-1} + x_t W

    braintrace's signature and attributes: ``decay`` is the value ``exp(-dt / tau)``
    (``dt`` read from ``brainstate.environ.get_dt()`` whenever it is used, so the layer
    runs inside ``brainstate.environ.context(dt=...)``), and ``W`` is the ``ParamState``
    holding the ``(in, out)`` weight (also reachable as ``weight``, the name its state
    path uses). ``HiddenState`` ``r`` has shape ``(out,)`` or ``(batch, out)`` and is
    returned by ``update``. Give ``r_init`` the unit of ``x W`` when the weights carry one.

    >>> readout = LeakyRateReadout(128, 10, tau=20. * u.ms)
    >>> brainstate.nn.init_all_states(readout, batch_size=4)
    >>> with brainstate.environ.context(dt=1. * u.ms):
    ...     r = readout(jnp.ones((4, 128)))            # (4, 10)
    """

    _repr_hidden = frozenset({'r_init'})

    def __init__(
        self,
        in_size,
        out_size,
        tau=5. * u.ms,
        w_init=braintools.init.KaimingNormal(),
        r_init=braintools.init.ZeroInit(),
        name: Optional[str] = None,
    ):
        super().__init__(name=name)
        label = type(self).__name__
        n_in, n_out = self._set_vector_sizes(in_size, out_size)
        tau = braintools.init.param(tau, self.out_size)
        if u.math.any(u.get_mantissa(tau) <= 0):
            raise ValueError(f'{label}: tau must be positive, got {tau!r}.')
        self.tau = tau
        self.r_init = r_init
        self.weight = brainstate.ParamState(init_param(w_init, (n_in, n_out), 'weight', label))

    @property
    def W(self):
        """The weight's ``ParamState`` (braintrace's name for it)."""
        return self.weight

    def init_state(self, batch_size: Optional[int] = None, **kwargs):
        self.r = brainstate.HiddenState(init_param(self.r_init, self.out_size, 'r', type(self).__name__,
                                                   batch_size=batch_size))

    def reset_state(self, batch_size: Optional[int] = None, **kwargs):
        self.r.value = init_param(self.r_init, self.out_size, 'r', type(self).__name__, batch_size=batch_size)

    @property
    def decay(self):
        """The per-step decay factor ``exp(-dt / tau)`` (a plain array) at the current ``dt``."""
        label = type(self).__name__
        try:
            dt = brainstate.environ.get_dt()
        except KeyError as err:
            raise RuntimeError(f'{label} needs the time step dt: run it inside '
                               f'brainstate.environ.context(dt=...).') from err
        try:
            ratio = u.maybe_decimal(dt / self.tau)
        except Exception as err:  # unit errors come in several types
            raise ValueError(f'{label}: dt ({dt}) and tau must have compatible units.') from err
        if isinstance(ratio, u.Quantity):
            raise ValueError(f'{label}: dt / tau must be dimensionless, got dt={dt} and tau in '
                             f'{self.tau.unit if isinstance(self.tau, u.Quantity) else "no unit"}.')
        return u.math.exp(-ratio)

    def update(self, x):
        label = type(self).__name__
        if not hasattr(self, 'r'):
            raise RuntimeError(f'{label}: call init_state() (or brainstate.nn.init_all_states) first.')
        lead = check_input(label, x, self.in_size)
        check_batch(label, lead, u.math.shape(self.r.value), 'r')
        r = self.decay * self.r.value + matmul(x, self.weight.value)
        self.r.value = r
        return r
