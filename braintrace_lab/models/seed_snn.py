"""The seed tutorial's recurrent SNN, made live and learnable.

The tutorial's network never spikes: Kaiming-scaled input weights give currents
of a few tenths of a mA against a 1 mV threshold, and ``self.readout(self.neuron())``
steps the neuron a second time with zero input. :class:`LiveSNN` keeps the
architecture (input + recurrent spikes -> Linear -> LIF -> LeakyRateReadout) but
scales the input weights and reads the spikes with ``get_spike()``.
"""
from __future__ import annotations

import brainpy
import brainstate
import braintools
import brainunit as u
import jax.numpy as jnp

from .. import nn

__all__ = ['LiveSNN']


class LiveSNN(brainstate.nn.Module):
    """Recurrent LIF network whose input weights are scaled so that it spikes.

    ``input_scale`` multiplies the Kaiming-initialised input rows of the
    projection; ``rec_scale`` the recurrent rows.

    >>> with brainstate.environ.context(dt=1. * u.ms):
    ...     net = LiveSNN(50, 64, 10); brainstate.nn.init_all_states(net)
    """

    def __init__(self, n_in, n_rec, n_out, input_scale=30.0, rec_scale=1.0, tau_mem=20. * u.ms,
                 tau_out=20. * u.ms):
        super().__init__()
        self.n_in = n_in
        self.linear = nn.Linear(n_in + n_rec, n_rec, w_init=braintools.init.KaimingNormal(unit=u.mA),
                                b_init=braintools.init.ZeroInit(unit=u.mA))
        w = self.linear.weight.value
        scale = jnp.concatenate([jnp.full((n_in, 1), input_scale), jnp.full((n_rec, 1), rec_scale)])
        self.linear.weight.value = {'weight': w['weight'] * scale, 'bias': w['bias']}
        self.neuron = brainpy.state.LIF(n_rec, tau=tau_mem, R=1. * u.ohm, V_th=1. * u.mV,
                                        V_reset=0. * u.mV, V_rest=0. * u.mV,
                                        spk_fun=braintools.surrogate.ReluGrad(), spk_reset='soft')
        self.readout = nn.LeakyRateReadout(n_rec, n_out, tau=tau_out, w_init=braintools.init.KaimingNormal())

    def update(self, spike_input):
        x = jnp.concatenate([spike_input, self.neuron.get_spike()], axis=-1)
        self.neuron(self.linear(x))
        return self.readout(self.neuron.get_spike())
