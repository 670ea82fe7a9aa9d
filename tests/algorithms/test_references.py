"""Exact references as learners: RTRL (full influence matrix), truncated BPTT and BPTT.

RTRL's influence matrix is re-derived in NumPy step by step on a linear leaky
layer, and its gradient equals BPTT on the dense tanh RNN and the GRU (where every
approximate rule is off). TBPTT equals the oracle run window by window from the
carried state, and differs from BPTT unless the window covers the sequence. One
step of a spiking layer read by a leaky readout checks the learning signal that
crosses hidden groups within a step.
"""
import brainstate
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import braintrace_lab as bl
from braintrace_lab.models import get_fixture, mse_loss
from braintrace_lab.oracle import bptt_grad, bptt_grad_per_step, relative_error

from engine_testutils import online_grads, reference, worst_error


def _np(x):
    return np.asarray(getattr(x, 'mantissa', x), dtype=np.float64)


def _flat(grads, key):
    return np.concatenate([np.ravel(_np(x)) for x in jax.tree.leaves(grads[key])])


def test_rtrl_influence_matrix_matches_numpy_step_by_step():
    fx = get_fixture('linear_leaky')           # h = lam h + x W + b, y = h Wo
    T = 6
    with fx.context():
        xs, ys = fx.data(T=T, seed=1)
        model = fx.build()
        W, b, Wo = _np(model.w.value['weight']), _np(model.w.value['bias']), _np(model.readout.weight.value)
        I, N = W.shape
        lam = model.lam
        learner = bl.RTRL(model)
        learner.compile_graph(xs[0])
        plan = learner._plan
        order = [plan.leaves[n].path for n in plan.param_ids]
        assert sorted(order) == ['readout.weight', 'w.bias', 'w.weight']
        per_ref, _ = bptt_grad_per_step(fx.build(), xs, lambda out, t: mse_loss(out, ys[t]))
        params = model.states(brainstate.ParamState)
        step = brainstate.transform.jit(lambda x, y: brainstate.transform.grad(
            lambda: mse_loss(learner(x), y), params)())
        sizes = {'w.weight': I * N, 'w.bias': N, 'readout.weight': Wo.size}
        M = {k: np.zeros((N, n)) for k, n in sizes.items()}
        h = np.zeros(N)
        for t in range(T):
            x = _np(xs[t])
            h = lam * h + x @ W + b
            M['w.weight'] = lam * M['w.weight'] + np.einsum('i,jk->jik', x, np.eye(N)).reshape(N, I * N)
            M['w.bias'] = lam * M['w.bias'] + np.eye(N)
            want = np.concatenate([M[k] for k in order], axis=1)
            grads = step(xs[t], ys[t])
            np.testing.assert_allclose(_np(learner.eligibility_traces()['influence']), want, rtol=1e-5, atol=1e-6)
            for key in (('w',), ('readout', 'weight')):          # per-step gradient dL^t/dtheta
                for a, r in zip(jax.tree.leaves(grads[key]), jax.tree.leaves(per_ref[key])):
                    np.testing.assert_allclose(_np(a), _np(r)[t], rtol=1e-4, atol=1e-5)
        f = 4
        assert learner.trace_memory() == {'w': N * (I * N + N) * f, 'readout.weight': N * Wo.size * f}


@pytest.mark.parametrize('name', ['rnn', 'gru'])
def test_rtrl_equals_bptt(name):
    fx = get_fixture(name)
    with fx.context():
        xs, ys = fx.data(T=8, seed=2)
        ref, ref_losses = reference(fx, xs, ys)
        g, losses, _ = online_grads(fx, bl.RTRL, xs, ys)
        assert worst_error(g, ref) < 1e-5
        assert float(jnp.max(jnp.abs(losses - ref_losses))) < 1e-4
        if name == 'rnn':                        # negative control: the diagonal rule is off here
            d, _, _ = online_grads(fx, bl.D_RTRL, xs, ys)
            assert worst_error(d, ref) > 1e-2


def test_rtrl_size_limit_and_single_step_only():
    fx = get_fixture('rnn')
    with fx.context():
        with pytest.raises(bl.CompilationError, match=r'influence matrix.*max_entries'):
            bl.compile(fx.build(), 'rtrl', jnp.ones(4), max_entries=100)
        with pytest.raises(ValueError, match='vjp_method'):
            bl.RTRL(fx.build(), vjp_method='multi-step')


def _windowed_oracle(fx, xs, ys, k):
    model = fx.build()
    total = None
    for s in range(0, len(xs), k):
        e = min(s + k, len(xs))
        g, _ = bptt_grad(model, xs[s:e], lambda out, t, s=s: mse_loss(out, ys[s + t]))
        total = g if total is None else jax.tree.map(jnp.add, total, g)
        for t in range(s, e):                   # carry the state to the next window start
            model(xs[t])
    return total


def test_tbptt_is_the_windowed_oracle_and_bptt_the_full_one():
    fx = get_fixture('rnn')
    T, k = 7, 3                                  # two full windows and a tail of one step
    with fx.context():
        xs, ys = fx.data(T=T, seed=3)
        ref, _ = reference(fx, xs, ys)
        win = _windowed_oracle(fx, xs, ys, k)
        learner = bl.compile(fx.build(), 'tbptt', xs[0], k=k)
        g, losses = learner.etrace_grad(xs, ys, mse_loss)
        assert losses.shape == (T,)
        assert worst_error(g, win) < 1e-5
        assert worst_error(g, ref) > 1e-3       # truncation matters
        full = bl.compile(fx.build(), 'bptt', xs[0])
        g_full, _ = full.etrace_grad(xs, ys, mse_loss)
        assert worst_error(g_full, ref) < 1e-5


def test_tbptt_arguments():
    fx = get_fixture('leaky')
    with fx.context():
        with pytest.raises(ValueError, match='window length k'):
            bl.TBPTT(fx.build())
        with pytest.raises(ValueError, match='k=0'):
            bl.TBPTT(fx.build(), k=0)
        with pytest.raises(ValueError, match="vjp_method must be 'multi-step'"):
            bl.TBPTT(fx.build(), k=2, vjp_method='single-step')
        learner = bl.compile(fx.build(), 'tbptt', jnp.ones(4), k=2)
        assert learner.k == 2 and learner.trace_memory()['w'] > 0


# ------------------------------------------------------------------ signal through a leaky readout
def test_signal_reaches_a_layer_read_by_a_leaky_readout():
    """Spikes -> leaky readout in the same step: the LIF layer's signal goes through the readout group.

    One step from a warm state: the rules whose trace is exact for one step equal
    BPTT, the hidden weight's gradient included (it was zero while the signal was
    cut at the readout's new state); random feedback changes it.
    """
    import brainunit as u
    from braintrace_lab.models.seed_snn import LiveSNN
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(7), 3)
    xs = (jax.random.uniform(k1, (1, 6)) < 0.5).astype(jnp.float32)
    ys = jax.random.normal(k2, (1, 3))
    with brainstate.environ.context(dt=1. * u.ms):
        brainstate.random.seed(0)
        model = LiveSNN(6, 5, 3, input_scale=20.0)
        brainstate.nn.init_all_states(model)
        # a warm state: membranes around the 1 mV threshold, so spikes and surrogate slopes are non-zero
        model.neuron.V.value = jax.random.uniform(k3, (5,), minval=0.3, maxval=1.6) * u.mV
        ref, _ = bptt_grad(model, xs, lambda out, t: mse_loss(out, ys[t]))
        assert np.abs(_flat(ref, ('linear', 'weight'))).sum() > 0
        saved = {k: v.value for k, v in model.states().items()}
        for cls in (bl.D_RTRL, bl.EProp, bl.RTRL):
            learner = cls(model)
            learner.compile_graph(xs[0])
            g, _ = learner.etrace_grad(xs, ys, mse_loss)
            for k, v in model.states().items():
                v.value = saved[k]
            assert worst_error(g, ref) < 1e-5, cls.__name__
        rnd = bl.EProp(model, feedback='random')
        rnd.compile_graph(xs[0])
        g, _ = rnd.etrace_grad(xs, ys, mse_loss)
        assert np.abs(_flat(g, ('linear', 'weight'))).sum() > 0
        assert relative_error(_flat(g, ('linear', 'weight')), _flat(ref, ('linear', 'weight'))) > 1e-2
