"""SnAp-n and UORO against the oracle: SnAp's bias falls with n, UORO is unbiased with a 1/sqrt(N) error."""
import brainstate
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import braintrace_lab as bl
from braintrace_lab.algorithms.influence import SnAp, UORO, random_signs, snap_pattern
from braintrace_lab.models import get_fixture, mse_loss
from braintrace_lab.oracle import agreement, rtrl_grad

from engine_testutils import reference

N_RING, N_IN, T = 6, 2, 8


class Ring(brainstate.nn.Module):
    """``h = tanh(h (W * A) + x U)`` on an undirected ring of 6 units with self-loops (diameter 3)."""

    def __init__(self, dtype=jnp.float64, seed=0):
        super().__init__()
        k = jax.random.split(jax.random.PRNGKey(seed), 3)
        i = np.arange(N_RING)
        d = (i[:, None] - i[None, :]) % N_RING
        self.A = jnp.asarray((d == 0) | (d == 1) | (d == N_RING - 1), dtype)
        self.w = brainstate.ParamState(jax.random.normal(k[0], (N_RING, N_RING), dtype) * 0.6)
        self.u = brainstate.ParamState(jax.random.normal(k[1], (N_IN, N_RING), dtype))
        self.r = brainstate.ParamState(jax.random.normal(k[2], (N_RING, 1), dtype) * 0.5)
        self.dtype = dtype

    def init_state(self, *args, **kwargs):
        self.h = brainstate.HiddenState(jnp.zeros(N_RING, self.dtype))

    def update(self, x):
        self.h.value = jnp.tanh(bl.matmul(self.h.value, self.w.value * self.A) + bl.matmul(x, self.u.value))
        return bl.matmul(self.h.value, self.r.value)


def ring_data(seed=0):
    rng = np.random.default_rng(seed)
    return (jnp.asarray(rng.standard_normal((T, N_IN))), jnp.asarray(rng.standard_normal((T, 1))))


def ring_model():
    model = Ring()
    brainstate.nn.init_all_states(model)
    return model


def test_the_ring_has_diameter_three():
    A = np.asarray(Ring(dtype=jnp.float32).A) > 0
    reach, steps = np.eye(N_RING, dtype=bool), 0
    while not reach.all():
        reach = reach | ((A.astype(int) @ reach.astype(int)) > 0)
        steps += 1
    assert steps == 3


def test_snap_error_falls_with_n_and_vanishes_at_the_diameter(x64):
    xs, ys = ring_data()
    rtrl = bl.compile(ring_model(), 'rtrl', xs[0]).etrace_grad(xs, ys, mse_loss)[0]
    errors, kept = [], []
    for n in range(1, 6):
        learner = bl.compile(ring_model(), 'snap', xs[0], n=n)
        grads = learner.etrace_grad(xs, ys, mse_loss)[0]
        errors.append(agreement(grads, rtrl).relative_error)
        kept.append(learner.kept_fraction)
    assert all(a >= b for a, b in zip(errors, errors[1:])), errors          # more entries, less bias
    assert errors[0] > 1e-2 and errors[2] > 1e-4, errors                     # approximate below the diameter
    assert errors[3] < 1e-5 and errors[4] < 1e-5, errors                     # n - 1 = 3 = the diameter: exact
    assert kept[0] < kept[1] < kept[2] < kept[3] == kept[4], kept


def test_snap_1_matches_its_numpy_rederivation_on_a_dense_rnn(x64):
    """Each weight drives one unit j: ``m_t = phi'(a_j) (W_jj m_{t-1} + input)``, ``dW = sum_t g_j m``."""
    model = ring_model()
    model.A = jnp.ones((N_RING, N_RING))                       # dense: every unit mixes with every other
    xs, ys = ring_data(1)
    grads = bl.compile(model, 'snap', xs[0], n=1).etrace_grad(xs, ys, mse_loss)[0]
    W, U, R = (np.asarray(model.w.value), np.asarray(model.u.value), np.asarray(model.r.value))
    x, y = np.asarray(xs), np.asarray(ys)
    h = np.zeros(N_RING)
    mW, mU = np.zeros((N_RING, N_RING)), np.zeros((N_IN, N_RING))
    dW, dU, dR = np.zeros_like(W), np.zeros_like(U), np.zeros_like(R)
    for t in range(T):
        a = h @ W + x[t] @ U
        d = 1 - np.tanh(a) ** 2
        mW = d[None, :] * (np.diag(W)[None, :] * mW + h[:, None])     # h is h_{t-1} here
        mU = d[None, :] * (np.diag(W)[None, :] * mU + x[t][:, None])
        h = np.tanh(a)
        err = h @ R - y[t]
        g = 2 * err @ R.T                                             # dL_t/dh_t
        dW += g[None, :] * mW
        dU += g[None, :] * mU
        dR += 2 * np.outer(h, err)
    np.testing.assert_allclose(np.asarray(grads[('w',)]), dW, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.asarray(grads[('u',)]), dU, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.asarray(grads[('r',)]), dR, rtol=1e-10, atol=1e-12)


def test_snap_pattern_grows_by_one_ring_per_step():
    J = np.array([[1, 1, 0], [0, 1, 1], [0, 0, 1]])      # unit 0 <- 1 <- 2 (a chain)
    I = np.array([[0], [0], [1]])                        # the parameter drives unit 2
    assert snap_pattern(J, I, 1)[:, 0].tolist() == [False, False, True]
    assert snap_pattern(J, I, 2)[:, 0].tolist() == [False, True, True]
    assert snap_pattern(J, I, 3)[:, 0].tolist() == [True, True, True]


def test_snap_refuses_a_bad_n():
    with pytest.raises(ValueError, match='n=0 must be an integer >= 1'):
        SnAp(ring_model(), n=0)


# ------------------------------------------------------------------ UORO
@pytest.fixture(scope='module')
def uoro_runs(x64_module):
    """Per-seed UORO gradients of one RNN on one sequence (one compiled run, many keys), and RTRL's."""
    fx = get_fixture('rnn')
    with fx.context():
        xs, ys = fx.data(T=5, seed=2, dtype=jnp.float64)
        exact, _ = reference(fx, xs, ys, kind='rtrl', dtype=jnp.float64)
        model = fx.build(dtype=jnp.float64)
        learner = bl.compile(model, 'uoro', xs[0], seed=0)
        start = {k: st.value for k, st in model.states().items()}

        @brainstate.transform.jit
        def run(key_data):
            for k, st in model.states().items():
                st.value = start[k]
            learner.init_etrace_state()
            learner.etrace.value = dict(learner.etrace.value, key=key_data)
            grads, _ = learner.etrace_grad(xs, ys, mse_loss)
            return grads

        keys = [jax.random.key_data(jax.random.PRNGKey(s)) for s in range(1024)]
        runs = [run(k) for k in keys]
    flat = lambda g: np.concatenate([np.ravel(np.asarray(x)) for k in sorted(exact) for x in jax.tree.leaves(g[k])])
    return np.stack([flat(g) for g in runs]), flat(exact)


def test_uoro_is_unbiased_and_its_error_shrinks_like_one_over_sqrt_n(uoro_runs):
    G, exact = uoro_runs
    scale = np.linalg.norm(exact)

    def error_of_means(n):
        groups = G[:(len(G) // n) * n].reshape(-1, n, G.shape[1]).mean(axis=1)
        return np.sqrt(np.mean(np.sum((groups - exact) ** 2, axis=1))) / scale

    e64, e256 = error_of_means(64), error_of_means(256)
    assert 0.3 < e256 / e64 < 0.75, (e64, e256)                  # 1/sqrt(4) = 0.5
    # the mean of all 1024 runs is within three standard errors of the exact gradient, entry by entry
    se = G.std(axis=0, ddof=1) / np.sqrt(len(G))
    assert np.all(np.abs(G.mean(axis=0) - exact) < 3.5 * se + 1e-12), np.max(np.abs(G.mean(0) - exact) / se)
    # and one run alone is far from it (the variance is real): the test above is not trivial
    assert np.linalg.norm(G[0] - exact) / scale > 0.1


def test_uoro_variance_is_reported_and_sets_the_error_of_the_mean(uoro_runs):
    """Unbiased runs: ``E|mean of N - exact|^2 = tr(Cov) / N``; the variance is printed (``pytest -s``)."""
    G, exact = uoro_runs
    total_variance = float(np.sum(G.var(axis=0, ddof=1)))
    print(f'UORO, rnn fixture, T=5, {len(G)} seeds: total variance {total_variance:.4g} '
          f'= {total_variance / np.sum(exact ** 2):.3g} |RTRL|^2')
    for n in (16, 64):
        groups = G[:(len(G) // n) * n].reshape(-1, n, G.shape[1]).mean(axis=1)
        mean_sq_error = float(np.mean(np.sum((groups - exact) ** 2, axis=1)))
        assert 0.5 < mean_sq_error * n / total_variance < 2.0, (n, mean_sq_error, total_variance)
    assert total_variance > 0.1 * np.sum(exact ** 2)            # a real variance, not float noise


def test_uoro_gives_the_readout_its_exact_gradient(uoro_runs):
    """The readout is outside the recurrence: no estimate enters its gradient, every run equals RTRL's."""
    G, exact = uoro_runs
    spread = G.std(axis=0)
    assert (spread < 1e-12).sum() >= 18              # the 6 x 3 readout entries do not vary with the seed
    same = spread < 1e-12
    np.testing.assert_allclose(G[0][same], exact[same], rtol=1e-9, atol=1e-12)


def test_uoro_signs_are_fair_independent_and_seeded(x64):
    """32 signs per random word: every bit position fair, neighbours uncorrelated, a key fixes them."""
    key = jax.random.PRNGKey(3)
    n = 32 * 4000
    s = np.asarray(random_signs(key, (n,), jnp.float32))
    assert set(np.unique(s)) == {-1.0, 1.0}
    by_bit = s.reshape(-1, 32)                        # column k: bit k of every word
    five_sigma = 5 / np.sqrt(by_bit.shape[0])
    assert np.abs(by_bit.mean(axis=0)).max() < five_sigma                         # each bit a fair coin
    assert abs(np.mean(s[:-1] * s[1:])) < 5 / np.sqrt(n)                          # no lag-1 correlation
    assert abs(np.mean(by_bit[:-1] * by_bit[1:])) < 5 / np.sqrt(n)                # nor word to word
    np.testing.assert_array_equal(s, np.asarray(random_signs(key, (n,), jnp.float32)))
    assert np.mean(s != np.asarray(random_signs(jax.random.PRNGKey(4), (n,), jnp.float32))) > 0.45
    odd = random_signs(key, (3, 7), jnp.float64)      # a size that is not a multiple of 32, the dtype kept
    assert odd.shape == (3, 7) and odd.dtype == jnp.float64
    np.testing.assert_array_equal(np.asarray(odd).ravel(), s[:21])


def test_uoro_same_seed_same_gradient_and_memory_is_linear():
    fx = get_fixture('rnn')
    with fx.context():
        xs, ys = fx.data(T=4, seed=0)
        a = bl.compile(fx.build(), 'uoro', xs[0], seed=5)
        b = bl.compile(fx.build(), 'uoro', xs[0], seed=5)
        c = bl.compile(fx.build(), 'uoro', xs[0], seed=6)
        ga, gb, gc = (learner.etrace_grad(xs, ys, mse_loss)[0] for learner in (a, b, c))
    assert agreement(ga, gb).relative_error == 0
    assert agreement(ga, gc).relative_error > 1e-3
    n_params = sum(int(np.size(x)) for st in a.model.states(brainstate.ParamState).values()
                   for x in jax.tree.leaves(st.value))
    item = a.etrace.value['theta'].dtype.itemsize
    n_hidden = 6
    assert abs(sum(a.trace_memory().values()) - (n_params + n_hidden) * item) <= 2   # O(N + |theta|)
    rtrl = bl.compile(fx.build(), 'rtrl', xs[0])
    assert sum(rtrl.trace_memory().values()) == n_hidden * n_params * item          # RTRL: N x |theta|


@pytest.mark.parametrize('name', ['rnn', 'leaky'])
def test_snap_1_is_ostl_recurrent_on_one_state_layers(name, x64):
    """Both keep, per weight, the influence on the unit it drives, through that unit's full self-Jacobian."""
    fx = get_fixture(name)
    with fx.context():
        xs, ys = fx.data(T=6, seed=1, dtype=jnp.float64)
        snap = bl.compile(fx.build(dtype=jnp.float64), 'snap', xs[0], n=1).etrace_grad(xs, ys, mse_loss)[0]
        ostl = bl.compile(fx.build(dtype=jnp.float64), 'ostl_recurrent', xs[0]).etrace_grad(xs, ys, mse_loss)[0]
        rtrl, _ = reference(fx, xs, ys, kind='rtrl', dtype=jnp.float64)
    assert agreement(snap, ostl).relative_error < 1e-12
    if name == 'rnn':
        assert agreement(snap, rtrl).relative_error > 1e-2      # and it is an approximation there


# ------------------------------------------------------------------ SnAp-1 on the OSTL-recurrent engine
@pytest.mark.parametrize('name', ['rnn', 'leaky', 'linear_leaky', 'lif', 'gru', 'alif', 'conv_leaky'])
def test_snap_1_runs_on_the_ostl_engine_exactly_where_the_two_are_equal(name, x64):
    """``engine='auto'`` takes the OSTL-recurrent engine only where it gives the dense SnAp-1's numbers."""
    fx = get_fixture(name)
    build = {'lif': {'scale': 8.0}, 'alif': {'scale': 8.0}}.get(name, {})
    with fx.context():
        xs, ys = fx.data(T=5, seed=1, dtype=jnp.float64)
        auto = bl.compile(fx.build(dtype=jnp.float64, **build), 'snap', xs[0], n=1)
        dense = bl.compile(fx.build(dtype=jnp.float64, **build), 'snap', xs[0], n=1, engine='dense')
        g_auto = auto.etrace_grad(xs, ys, mse_loss)[0]
        g_dense = dense.etrace_grad(xs, ys, mse_loss)[0]
    assert not dense.on_ostl
    if name in ('rnn', 'leaky', 'linear_leaky'):
        assert auto.on_ostl, name
    if name in ('gru', 'alif'):               # weight-through-weight paths, two states per unit
        assert not auto.on_ostl, name
    if auto.on_ostl and fx.spiking:
        # a feed-forward spiking layer: J is diagonal, so SnAp-1 is exact RTRL; the dense twin finds its
        # pattern at three sample states, where a silent unit's surrogate derivative can vanish and drop
        # entries the trajectory needs, so the reference here is exact RTRL
        with fx.context():
            rtrl = rtrl_grad(fx.build(dtype=jnp.float64, **build), xs, lambda out, t: mse_loss(out, ys[t]))[0]
        assert agreement(g_auto, rtrl).relative_error < 1e-10, name
    elif auto.on_ostl:
        assert agreement(g_auto, g_dense).relative_error < 1e-10, name
        assert sum(auto.trace_memory().values()) < sum(dense.trace_memory().values())
    else:
        assert agreement(g_auto, g_dense).relative_error == 0
    if not fx.spiking:
        np.testing.assert_array_equal(auto.pattern, dense.pattern)


def test_snap_refuses_an_unknown_engine():
    with pytest.raises(ValueError, match="engine='fast' must be 'auto'"):
        SnAp(ring_model(), n=1, engine='fast')
