"""The seed tutorial's usage: unit-carrying Linear into brainpy.state.LIF, LeakyRateReadout,
and ``x >> cell >> out`` chaining."""
import brainpy
import brainstate
import braintools
import jax
import jax.numpy as jnp
import numpy as np
import saiunit as u

import braintrace_lab.nn as nn
from nn_testutils import etp_eqns, np_init, param_invars, consumers, rand, step_jaxpr


class SNN(brainstate.nn.Module):
    """The seed's recurrent spiking network, written as in the tutorial."""

    def __init__(self, n_in, n_rec, n_out):
        super().__init__()
        self.n_in = n_in
        self.r = nn.Linear(n_in + n_rec, n_rec, w_init=braintools.init.KaimingNormal(unit=u.mA),
                           b_init=braintools.init.ZeroInit(unit=u.mA))
        self.lif = brainpy.state.LIF(n_rec, tau=20. * u.ms, R=1. * u.ohm, V_th=1. * u.mV, V_reset=0. * u.mV,
                                     V_rest=0. * u.mV, spk_fun=braintools.surrogate.ReluGrad(), spk_reset='soft')
        self.out = nn.LeakyRateReadout(n_rec, n_out, tau=20. * u.ms, w_init=braintools.init.KaimingNormal())

    def update(self, x):
        cur = self.r(jnp.concatenate([x, self.lif.get_spike()], axis=-1))
        return self.lif(cur) >> self.out


def test_seed_snn_one_step():
    n_in, n_rec, n_out = 3, 6, 2
    net = SNN(n_in, n_rec, n_out)
    assert net.r.weight.value['weight'].unit == u.mA
    brainstate.nn.init_all_states(net, batch_size=4)
    x = 5. * rand(4, n_in)
    with brainstate.environ.context(dt=1. * u.ms):
        y = brainstate.transform.jit(net)(x)
        assert y.shape == (4, n_out)
        assert net.lif.V.value.shape == (4, n_rec)
        assert net.lif.V.value.unit == u.mV
        assert bool(jnp.any(u.get_mantissa(net.lif.V.value) != 0))
        jaxpr, states = step_jaxpr(net, x)
    assert len(etp_eqns(jaxpr)) == 2
    for key, var in param_invars(jaxpr, states, (x,)).items():
        assert all(e.primitive.name == 'etp_op' for e in consumers(jaxpr, var)), key


def test_seed_snn_gradient():
    net = SNN(3, 6, 2)
    brainstate.nn.init_all_states(net, batch_size=2)
    params = net.states(brainstate.ParamState)
    xs = 20. * rand(3, 2, 3)

    def loss():
        brainstate.nn.reset_all_states(net, batch_size=2)
        total = 0.
        for t in range(3):
            total = total + jnp.sum(net(xs[t]) ** 2)
        return total

    with brainstate.environ.context(dt=1. * u.ms):
        grads = brainstate.transform.jit(brainstate.transform.grad(loss, params))()
    for path, g in grads.items():
        for leaf in jax.tree.leaves(g):
            arr = np.asarray(u.get_mantissa(leaf))
            assert np.all(np.isfinite(arr)), path
            assert np.any(arr != 0), path


class RateRNN(brainstate.nn.Module):
    def __init__(self, n_in, n_rec, n_out):
        super().__init__()
        self.cell = nn.ValinaRNNCell(n_in, n_rec, w_init=np_init())
        self.out = nn.LeakyRateReadout(n_rec, n_out, tau=20. * u.ms, w_init=np_init())

    def update(self, x):
        return x >> self.cell >> self.out


def test_rshift_chain_as_in_seed():
    net = RateRNN(3, 5, 2)
    brainstate.nn.init_all_states(net, batch_size=4)
    x = rand(4, 3)
    y = net(x)
    assert y.shape == (4, 2)
    net.reset_state(batch_size=4)   # Module.reset_state does nothing for the container ...
    brainstate.nn.reset_all_states(net, batch_size=4)   # ... this resets the children
    np.testing.assert_allclose(np.asarray(net.out(net.cell(x))), np.asarray(y), rtol=1e-6)
    np_x = np.asarray(x)
    brainstate.nn.reset_all_states(net, batch_size=4)
    np.testing.assert_allclose(np.asarray(np_x >> net.cell >> net.out), np.asarray(y), rtol=1e-6)


def test_linear_units():
    lin = nn.Linear(3, 2, w_init=np_init(), b_init=np.ones(2, np.float32) * u.mA)
    # a unitless weight with a current bias cannot be added to a unitless product
    x = rand(3)
    try:
        lin(x)
    except Exception as err:  # noqa: BLE001 - brainunit raises its own error type
        assert 'mA' in str(err) or 'unit' in str(err).lower()
    else:  # pragma: no cover
        raise AssertionError('mixing a unitless product and a mA bias must fail')
    lin = nn.Linear(3, 2, w_init=braintools.init.KaimingNormal(unit=u.mA),
                    b_init=braintools.init.Constant(1. * u.uA))
    y = lin(x)
    assert y.unit == u.mA
    W = lin.weight.value['weight'].to_decimal(u.mA)
    np.testing.assert_allclose(np.asarray(y.to_decimal(u.mA)), np.asarray(x) @ np.asarray(W) + 1e-3, rtol=1e-5)
