"""Liveness of spiking networks: silent, live and saturated LIF populations."""
import brainpy
import brainstate
import brainunit as u
import jax.numpy as jnp
import numpy as np
import pytest
from oracle_testmodels import LeakyIntegrator, LIFNet, make, same_snapshot, snapshot

from braintrace_lab.oracle import (LivenessReport, OracleInputError, SilentNetworkError, check_liveness,
                                   find_spiking_populations, require_live)

STEPS = 100


@pytest.fixture
def xs():
    return jnp.asarray(np.random.default_rng(0).uniform(0, 1, (STEPS, 4)), jnp.float32)


def test_finds_the_lif_population(dt_ms):
    model = make(LIFNet)
    assert [name for name, _ in find_spiking_populations(model)] == ['neuron']


def test_silent_network(dt_ms, xs):
    model = make(LIFNet, w_scale=0.01)
    before = snapshot(model)
    report = check_liveness(model, xs)
    assert same_snapshot(before, snapshot(model))
    assert isinstance(report, LivenessReport) and not report.is_live
    (pop,) = report.populations
    assert pop.status == 'silent' and pop.rate == 0 and pop.silent_fraction == 1.0
    assert pop.unit == 'mV' and pop.v_th_min == pytest.approx(1.0)
    assert 0 < pop.v_peak < 0.1
    assert f'never spiked in {STEPS} steps' in report.message
    assert f'peaked at {pop.v_peak:.3g} mV against a threshold of 1 mV' in report.message
    assert 'scale up the input weights' in report.message
    assert 'silent' in repr(report) and 'is_live=False' in repr(report)
    with pytest.raises(SilentNetworkError, match='never spiked.*threshold of 1 mV') as err:
        require_live(model, xs)
    assert isinstance(err.value, RuntimeError)


def test_live_network(dt_ms, xs):
    model = make(LIFNet, w_scale=1.0)
    report = require_live(model, xs)
    (pop,) = report.populations
    assert report.is_live and pop.status == 'live'
    assert 0.001 <= pop.rate <= 0.5
    assert pop.v_peak > pop.v_th_max
    assert 'is live' in report.message and 'is_live=True' in repr(report)


def test_saturated_network(dt_ms, xs):
    model = make(LIFNet, w_scale=30.0)
    report = check_liveness(model, xs)
    (pop,) = report.populations
    assert not report.is_live and pop.status == 'saturated' and pop.rate > 0.9
    assert f'fires on {pop.rate:.0%} of steps' in report.message and 'saturated' in report.message
    with pytest.raises(SilentNetworkError, match='saturated'):
        require_live(model, xs)


def test_quiet_band(dt_ms, xs):
    report = check_liveness(make(LIFNet, w_scale=1.0), xs, low=0.9, high=1.0)
    assert not report.is_live and report.populations[0].status == 'quiet'
    assert 'fires rarely' in report.message and 'against a threshold of 1 mV' in report.message


def test_refractory_neurons_read_the_time(dt_ms, xs):
    """LIFRef reads ``brainstate.environ.get('t')``: the oracle sets ``t = step * dt``."""
    lif_ref = brainpy.state.LIFRef(6, tau=5. * u.ms, V_th=1. * u.mV, tau_ref=3. * u.ms)
    report = check_liveness(make(LIFNet, w_scale=3.0, neuron=lif_ref), xs)
    saturated = check_liveness(make(LIFNet, w_scale=3.0), xs)
    # a 3 ms refractory period caps the rate at one spike per 3 steps; without it the same drive saturates
    assert report.is_live and report.populations[0].rate <= 1 / 3 + 1e-6
    assert saturated.populations[0].status == 'saturated'


def test_batched_states(dt_ms):
    model = LIFNet(w_scale=0.01)
    brainstate.nn.init_all_states(model, batch_size=3)
    report = check_liveness(model, jnp.ones((10, 3, 4)))
    assert report.populations[0].n_neurons == 6 and report.populations[0].status == 'silent'


def test_duck_typed_unitless_neuron():
    """Any module with ``get_spike()`` and a ``V`` state counts; plain numbers have no unit."""
    class Spiker(brainstate.nn.Module):
        V_th = 1.0

        def __init__(self):
            super().__init__()
            self.V = brainstate.HiddenState(jnp.zeros(3))

        def get_spike(self):
            return (self.V.value >= self.V_th).astype(jnp.float32)

        def update(self, x):
            self.V.value = 0.5 * self.V.value * (1 - self.get_spike()) + x
            return self.get_spike()

    report = check_liveness(Spiker(), jnp.full((10, 3), 0.2))
    (pop,) = report.populations
    assert pop.name == 'Spiker' and pop.unit == '' and pop.status == 'silent'
    assert 'peaked at 0.4 against a threshold of 1;' in report.message


def test_no_spiking_population():
    with pytest.raises(OracleInputError, match='no spiking population'):
        check_liveness(make(LeakyIntegrator), jnp.ones((5, 3)))
