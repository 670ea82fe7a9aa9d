"""ThreeFactor (reward-modulated): a NumPy re-derivation step by step, its mean over seeds, and learning."""
import brainstate
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import braintrace_lab as bl
from braintrace_lab import lab
from braintrace_lab.algorithms.three_factor import ThreeFactor
from braintrace_lab.models import get_fixture, mse_loss
from braintrace_lab.oracle import bptt_grad
from braintrace_lab.registry import resolve_algorithm
from braintrace_lab.tasks import get_task

N_IN, N, N_OUT, T, SIGMA, BETA = 3, 5, 2, 6, 0.2, 0.7


class TanhRNN(brainstate.nn.Module):
    """``h = tanh(h W + x U)``, ``y = h R``."""

    def __init__(self, seed=0):
        super().__init__()
        k = jax.random.split(jax.random.PRNGKey(seed), 3)
        self.w = brainstate.ParamState(jax.random.normal(k[0], (N, N), jnp.float64) * 0.5)
        self.u = brainstate.ParamState(jax.random.normal(k[1], (N_IN, N), jnp.float64))
        self.r = brainstate.ParamState(jax.random.normal(k[2], (N, N_OUT), jnp.float64) * 0.5)

    def init_state(self, *args, **kwargs):
        self.h = brainstate.HiddenState(jnp.zeros(N, jnp.float64))

    def update(self, x):
        self.h.value = jnp.tanh(bl.matmul(self.h.value, self.w.value) + bl.matmul(x, self.u.value))
        return bl.matmul(self.h.value, self.r.value)


def loss(out, y):
    return 0.5 * jnp.sum((out - y) ** 2)


def _data(seed):
    rng = np.random.default_rng(seed)
    return jnp.asarray(rng.standard_normal((T, N_IN))), jnp.asarray(rng.standard_normal((T, N_OUT)))


def test_three_factor_matches_its_numpy_rederivation_step_by_step(x64):
    """Two sequences (the second sees the baselines of the first), every step's gradient compared."""
    model = TanhRNN()
    brainstate.nn.init_all_states(model)
    xs, _ = _data(0)
    learner = bl.compile(model, 'three_factor', xs[0], sigma=SIGMA, baseline_decay=BETA, seed=3)
    params = model.states(brainstate.ParamState)
    W, U, R = (np.asarray(model.w.value), np.asarray(model.u.value), np.asarray(model.r.value))
    baseline, checked = {}, 0
    for seq in (1, 2):
        xs, ys = _data(seq)
        brainstate.nn.init_all_states(learner)
        h, eW, eU = np.zeros(N), np.zeros((N, N)), np.zeros((N_IN, N))
        for t in range(T):
            def step():
                l_t = loss(learner(xs[t]), ys[t])
                return l_t + learner.reward_term(-l_t, t), l_t

            grads, l_t = brainstate.transform.grad(step, params, has_aux=True)()
            xi = np.asarray(learner.last_noise.value[0])
            # NumPy: explore, trace the noise through the local derivative, modulate by reward - baseline
            a = h @ W + np.asarray(xs[t]) @ U
            d = 1 - np.tanh(a) ** 2
            eW = eW + np.outer(h, d * xi)
            eU = eU + np.outer(np.asarray(xs[t]), d * xi)
            h = np.tanh(a) + SIGMA * xi
            err = h @ R - np.asarray(ys[t])
            reward = -0.5 * np.sum(err ** 2)
            b = baseline.get(t, reward)
            baseline[t] = b + (1 - BETA) * (reward - b)
            np.testing.assert_allclose(float(l_t), -reward, rtol=1e-12)
            want = {('w',): -(reward - b) * eW / SIGMA, ('u',): -(reward - b) * eU / SIGMA,
                    ('r',): np.outer(h, err)}                      # the readout: exact, at the explored state
            for key, value in want.items():
                np.testing.assert_allclose(np.asarray(grads[key]), value, rtol=1e-9, atol=1e-12,
                                           err_msg=f'sequence {seq} step {t} {key}')
            checked += seq == 2 and t > 0 and abs(reward - b) > 1e-3      # a real, non-zero modulation
    assert checked >= 3
    np.testing.assert_allclose(np.asarray(learner.baseline[:T]), [baseline[t] for t in range(T)], rtol=1e-12)
    assert np.isnan(np.asarray(learner.baseline[T]))


def test_etrace_grad_sums_the_steps_and_a_reset_keeps_exploring(x64):
    model = TanhRNN()
    brainstate.nn.init_all_states(model)
    xs, ys = _data(1)
    learner = bl.compile(model, 'threefactor', xs[0], seed=0)
    g1, losses = learner.etrace_grad(xs, ys, loss)
    brainstate.nn.init_all_states(learner)
    g2, _ = learner.etrace_grad(xs, ys, loss)
    assert losses.shape == (T,)
    assert not np.allclose(np.asarray(g1[('w',)]), np.asarray(g2[('w',)]))    # new noise after the reset
    assert np.abs(np.asarray(g2[('w',)])).max() > 0                           # the baselines now modulate


def test_the_mean_over_seeds_approaches_bptt(x64):
    """To first order in sigma the estimate is unbiased: its mean over 400 runs points along BPTT's gradient."""
    fx = get_fixture('rnn')
    with fx.context():
        xs, ys = fx.data(T=5, seed=2, dtype=jnp.float64)
        model = fx.build(dtype=jnp.float64)
        learner = bl.compile(model, 'three_factor', xs[0], sigma=1e-3, seed=0)
        ref = bptt_grad(fx.build(dtype=jnp.float64), xs, lambda out, t: mse_loss(out, ys[t]))[0]
        start = {k: st.value for k, st in model.states().items() if not isinstance(st, brainstate.ParamState)}

        @brainstate.transform.jit
        def run():
            for k, v in start.items():
                model.states()[k].value = v
            learner.init_etrace_state()
            return learner.etrace_grad(xs, ys, mse_loss)[0]

        runs = [run() for _ in range(401)][1:]          # the first run sets the baselines
    hidden = [k for k in ref if k[0] != 'readout']
    flat = lambda g: np.concatenate([np.ravel(np.asarray(x)) for k in hidden for x in jax.tree.leaves(g[k])])
    G, exact = np.stack([flat(g) for g in runs]), flat(ref)
    cos = lambda a: a @ exact / np.linalg.norm(a) / np.linalg.norm(exact)
    assert cos(G.mean(axis=0)) > 0.8, cos(G.mean(axis=0))
    assert np.median([cos(g) for g in G]) < 0.5           # one run alone is noisy: the mean does the work


def test_three_factor_learns_a_built_in_task_above_chance():
    task = get_task('digits')               # 10 classes: chance 0.1
    factory = lab.make_learner(lab.fixture_model('rnn', task, n_hidden=16), 'three_factor', sigma=0.1, seed=0)
    record = lab.train(factory, task, n_steps=150, optimizer=3e-2, record_every=10, progress=False,
                       batch_size=32, seed=0)
    first, last = record.rows()[0], record.rows()[-5:]
    assert np.mean([r['loss'] for r in last]) < first['loss'] - 0.3
    assert np.mean([r['accuracy'] for r in last]) > 3 * task.chance_level


def test_names_options_and_refusals(x64):
    assert resolve_algorithm('three_factor') is ThreeFactor and resolve_algorithm('ThreeFactor') is ThreeFactor
    assert resolve_algorithm('three-factor') is ThreeFactor
    model = TanhRNN()
    with pytest.raises(ValueError, match='sigma=0 must be a number > 0'):
        ThreeFactor(model, sigma=0)
    with pytest.raises(ValueError, match=r'baseline_decay=1.0 must be in \[0, 1\)'):
        ThreeFactor(model, baseline_decay=1.0)
    brainstate.nn.init_all_states(model)
    xs, ys = _data(0)
    learner = bl.compile(model, 'three_factor', xs[0])
    with pytest.raises(ValueError, match='leave window= and chunk= out'):
        learner.etrace_grad(xs, ys, loss, chunk=2)
    with pytest.raises(ValueError, match='the reward must be a scalar'):
        learner.reward_term(jnp.ones(3))
    item = learner.etrace.value['eligibility'].dtype.itemsize
    assert sum(learner.trace_memory().values()) == (N * N + N_IN * N + N * N_OUT) * item     # O(|theta|)
