"""The seed SNN tutorial, ported by changing only the import.

As written its network never spikes, so its loss sits at ln(10): the liveness
check must say so. Made live (scaled input weights, spikes read with
``get_spike()``) on a learnable task, the loss falls well below ln(10) with
both ES-D-RTRL and D-RTRL.
"""
import types

import brainstate
import braintools
import brainunit as u
import jax.numpy as jnp
import numpy as np
import pytest

import braintrace_lab as bl
from braintrace_lab.models.seed_snn import LiveSNN
from braintrace_lab.models.seed_training import cross_entropy_update, per_sample_learner
from braintrace_lab.oracle import check_liveness
from braintrace_lab.tasks import get_task

import seed_tutorial

LN10 = float(np.log(10.0))


@pytest.mark.parametrize('algorithm', ['ES_D_RTRL', 'D_RTRL'])
def test_seed_runs_unmodified_and_sits_at_ln10(algorithm, monkeypatch):
    if algorithm == 'D_RTRL':      # the tutorial's own switch: "changing only the algorithm wrapper"
        shim = types.SimpleNamespace(**{k: getattr(bl, k) for k in ('nn', 'ES_D_RTRL')})
        shim.ES_D_RTRL = lambda model, decay_or_rank: bl.ParamDimVjpAlgorithm(model)
        shim.nn = bl.nn
        monkeypatch.setattr(seed_tutorial, 'braintrace', shim)
    np.random.seed(0)
    losses = seed_tutorial.train_snn(n_steps=20, n_epochs=2, batch_size=4, n_in=50, n_rec=32, n_out=10)
    assert np.allclose(losses, LN10, atol=1e-4), losses


def test_liveness_explains_the_silent_seed_network():
    with brainstate.environ.context(dt=1. * u.ms):
        net = seed_tutorial.LIF_SNN(50, 128, 10)
        brainstate.nn.init_all_states(net, batch_size=4)
        xs = jnp.asarray(np.random.default_rng(0).binomial(1, 0.1, (50, 4, 50)), jnp.float32)
        report = check_liveness(net, xs)
    assert not report.is_live
    msg = report.message
    assert 'never spiked' in msg and 'threshold of 1 mV' in msg and 'peaked at' in msg, msg
    assert 'stepped 2 times' in msg and 'get_spike()' in msg, msg


def _train(algorithm, epochs=50, batch=16):
    task = get_task('spike_patterns', n_patterns=20, n_classes=10, n_steps=30, n_in=50, p=0.1)
    with brainstate.environ.context(dt=1. * u.ms):
        brainstate.random.seed(1)
        model = LiveSNN(50, 64, 10)
        weights = model.states(brainstate.ParamState)
        opt = braintools.optim.Adam(2e-2)
        opt.register_trainable_weights(weights)

        @brainstate.transform.jit
        def step(inputs, targets):
            batched = per_sample_learner(model, algorithm(model), inputs[0, 0], inputs.shape[1])
            return cross_entropy_update(batched, weights, opt, inputs, targets)

        losses = [float(step(jnp.asarray(b.inputs), jnp.asarray(b.targets)))
                  for b in task.batches(batch, epochs)]
        brainstate.nn.init_all_states(model, batch_size=4)
        report = check_liveness(model, jnp.asarray(task.batch(4, 0).inputs))
    return losses, report


@pytest.mark.parametrize('name, algorithm', [('ES_D_RTRL', lambda m: bl.ES_D_RTRL(m, decay_or_rank=0.99)),
                                             ('D_RTRL', bl.D_RTRL)])
def test_live_version_learns(name, algorithm):
    losses, report = _train(algorithm)
    assert report.is_live, report.message
    assert np.mean(losses[-5:]) < 0.4 * LN10, (name, losses[::5])
