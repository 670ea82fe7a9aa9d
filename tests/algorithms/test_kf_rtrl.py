"""KF-RTRL against exact RTRL: unbiased over seeds, error of the mean ~ 1/sqrt(N), less variance than UORO."""
import brainstate
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import braintrace_lab as bl
from braintrace_lab.algorithms.kf_rtrl import KFRTRL
from braintrace_lab.models import get_fixture, mse_loss
from braintrace_lab.oracle import agreement
from braintrace_lab.registry import resolve_algorithm

from engine_testutils import reference

T, N_RUNS = 5, 1024


def _seeded_runs(rule, fx, xs, ys, exact):
    """Summed gradients of ``N_RUNS`` runs, one stream of random signs each (one compiled, jitted run)."""
    model = fx.build(dtype=jnp.float64)
    learner = bl.compile(model, rule, xs[0], seed=0)
    start = {k: st.value for k, st in model.states().items() if not isinstance(st, brainstate.ParamState)}

    @brainstate.transform.jit
    def run(key_data):
        for k, v in start.items():
            model.states()[k].value = v
        learner.init_etrace_state()
        learner.etrace.value = dict(learner.etrace.value, key=key_data)
        return learner.etrace_grad(xs, ys, mse_loss)[0]

    flat = lambda g: np.concatenate([np.ravel(np.asarray(x)) for k in sorted(exact) for x in jax.tree.leaves(g[k])])
    return np.stack([flat(run(jax.random.key_data(jax.random.PRNGKey(s)))) for s in range(N_RUNS)]), flat(exact)


@pytest.fixture(scope='module')
def runs(x64_module):
    fx = get_fixture('rnn')
    with fx.context():
        xs, ys = fx.data(T=T, seed=2, dtype=jnp.float64)
        exact, _ = reference(fx, xs, ys, kind='rtrl', dtype=jnp.float64)
        return {rule: _seeded_runs(rule, fx, xs, ys, exact) for rule in ('kf_rtrl', 'uoro')}


def _error_of_means(G, exact, n):
    groups = G[:(len(G) // n) * n].reshape(-1, n, G.shape[1]).mean(axis=1)
    return np.sqrt(np.mean(np.sum((groups - exact) ** 2, axis=1))) / np.linalg.norm(exact)


def test_kf_rtrl_is_unbiased_and_its_error_shrinks_like_one_over_sqrt_n(runs):
    G, exact = runs['kf_rtrl']
    e64, e256 = _error_of_means(G, exact, 64), _error_of_means(G, exact, 256)
    assert 0.3 < e256 / e64 < 0.75, (e64, e256)                   # 1/sqrt(4) = 0.5
    se = G.std(axis=0, ddof=1) / np.sqrt(len(G))
    assert np.all(np.abs(G.mean(axis=0) - exact) < 3.5 * se + 1e-12), np.max(np.abs(G.mean(0) - exact) / se)
    assert np.linalg.norm(G[0] - exact) / np.linalg.norm(exact) > 0.1     # one run alone is an estimate


def test_kf_rtrl_has_less_variance_than_uoro(runs):
    """The point of the Kronecker factors: the variance, reported here, is several times UORO's."""
    variance = {}
    for rule, (G, exact) in runs.items():
        variance[rule] = float(np.sum(G.var(axis=0)) / np.sum(exact ** 2))
    print(f'total variance over |RTRL|^2, {N_RUNS} seeds, rnn fixture, T={T}: '
          + ', '.join(f'{k} {v:.3g}' for k, v in variance.items()))
    assert variance['kf_rtrl'] < variance['uoro'] / 3, variance
    assert variance['kf_rtrl'] > 1e-3, variance                   # and it is an estimate, not RTRL


def test_kf_rtrl_names_seed_and_memory():
    assert resolve_algorithm('kf_rtrl') is KFRTRL and resolve_algorithm('KF-RTRL') is KFRTRL
    with pytest.raises(TypeError, match='seed must be an int'):
        KFRTRL(get_fixture('rnn').build(), seed=1.5)
    fx = get_fixture('rnn')
    with fx.context():
        xs, ys = fx.data(T=4, seed=0)
        a = bl.compile(fx.build(), 'kf_rtrl', xs[0], seed=5)
        b = bl.compile(fx.build(), 'kf_rtrl', xs[0], seed=5)
        c = bl.compile(fx.build(), 'kf_rtrl', xs[0], seed=6)
        ga, gb, gc = (learner.etrace_grad(xs, ys, mse_loss)[0] for learner in (a, b, c))
        rtrl = bl.compile(fx.build(), 'rtrl', xs[0])
    assert agreement(ga, gb).relative_error == 0
    assert agreement(ga, gc).relative_error > 1e-3
    n_hidden, item = 6, jax.tree.leaves(a.etrace.value['factors'])[0].dtype.itemsize
    want_kf, want_rtrl = {}, {}
    for n in a._plan.param_ids:    # a matrix keeps I + N O floats, not RTRL's N I O; a bias its N x size
        leaf = a._plan.leaves[n]
        shape = tuple(leaf.invar.aval.shape)
        size = int(np.prod(shape))
        kf = shape[0] + n_hidden * shape[1] if len(shape) == 2 else n_hidden * size
        want_kf[leaf.state_path] = want_kf.get(leaf.state_path, 0) + kf * item
        want_rtrl[leaf.state_path] = want_rtrl.get(leaf.state_path, 0) + n_hidden * size * item
    assert a.trace_memory() == want_kf and rtrl.trace_memory() == want_rtrl
    assert sum(want_kf.values()) < sum(want_rtrl.values()) / 2
