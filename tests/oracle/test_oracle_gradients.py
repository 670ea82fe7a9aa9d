"""BPTT and RTRL agree (float32) per parameter and per step; the oracle matches hand-run models."""
import brainstate
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from oracle_testmodels import GRULike, LeakyIntegrator, LIFNet, TanhRNN, UnitIntegrator, make, mse_loss

from braintrace_lab.oracle import (agreement, bptt_grad, bptt_grad_per_step, per_step_agreement, relative_error,
                                   require_live, rtrl_grad, rtrl_grad_per_step)

T = 8


def data(n_in=3, n_out=2, steps=T, seed=0):
    rng = np.random.default_rng(seed)
    xs = jnp.asarray(rng.standard_normal((steps, n_in)), jnp.float32)
    ys = jnp.asarray(rng.standard_normal((steps, n_out)), jnp.float32)
    return xs, ys


def sum_t(per):
    return {k: jax.tree.map(lambda a: a.sum(axis=0), v) for k, v in per.items()}


@pytest.fixture(scope='module', params=[TanhRNN, GRULike, UnitIntegrator],
                ids=lambda c: c.__name__)
def results(request):
    """Everything computed once per model: BPTT total and per step, RTRL with per step."""
    model = make(request.param, seed_state=1)
    xs, ys = data()
    loss = mse_loss(ys)
    g, losses = bptt_grad(model, xs, loss)
    g2, losses2, per = bptt_grad(model, xs, loss, per_step=True)
    r, r_losses, r_per = rtrl_grad(model, xs, loss, per_step=True)
    return dict(model=model, xs=xs, loss=loss, bptt=g, losses=losses, bptt_per=per, bptt_total_from_per=g2,
                rtrl=r, rtrl_losses=r_losses, rtrl_per=r_per)


def test_rtrl_equals_bptt_float32(results):
    report = agreement(results['rtrl'], results['bptt'])
    assert report.relative_error < 1e-4, report
    assert report.max_relative_error < 1e-4, report     # every parameter, readout included
    assert report.cosine > 1 - 1e-6
    assert report.sign_agreement > 0.99
    np.testing.assert_allclose(results['rtrl_losses'], results['losses'], rtol=1e-6)


def test_losses_have_one_entry_per_step(results):
    assert results['losses'].shape == (T,)
    assert np.all(np.isfinite(results['losses']))


def test_gradients_keep_the_parameter_structure(results):
    params = results['model'].states(brainstate.ParamState)
    values = {k: p.value for k, p in params.items()}
    for grads in (results['bptt'], results['rtrl']):
        assert type(grads) is dict and list(grads) == list(params)
        assert jax.tree.structure(grads) == jax.tree.structure(values)   # units and dict values included
        assert [np.shape(a) for a in jax.tree.leaves(grads)] == [np.shape(a) for a in jax.tree.leaves(values)]


def test_per_step_contributions_sum_to_total(results):
    assert relative_error(sum_t(results['bptt_per']), results['bptt']) < 1e-5
    assert relative_error(results['bptt_total_from_per'], results['bptt']) < 1e-5
    assert relative_error(sum_t(results['rtrl_per']), results['rtrl']) < 1e-6
    for v in jax.tree.leaves(results['bptt_per']):
        assert v.shape[0] == T


def test_per_step_rtrl_equals_per_step_bptt(results):
    cos, rel = per_step_agreement(results['rtrl_per'], results['bptt_per'])
    assert cos.shape == rel.shape == (T,)
    assert np.all(cos > 1 - 1e-5), cos
    assert np.all(rel < 1e-4), rel


def test_bptt_grad_per_step_and_first_step_locality():
    """``dL^0/dtheta`` only sees step 0: a one-step run gives the same gradient."""
    model = make(GRULike, seed_state=5)
    xs, ys = data()
    per, losses = bptt_grad_per_step(model, xs, mse_loss(ys))
    g1, l1 = bptt_grad(model, xs[:1], mse_loss(ys))
    assert losses.shape == (T,) and float(losses[0]) == pytest.approx(float(l1[0]), rel=1e-6)
    first = {k: jax.tree.map(lambda a: a[0], v) for k, v in per.items()}
    assert relative_error(first, g1) < 1e-5


def test_matches_brainstate_grad_over_an_eager_loop():
    """Independent reference: brainstate.transform.grad over a Python loop of model calls."""
    model = make(UnitIntegrator, seed_state=2)
    xs, ys = data()
    loss = mse_loss(ys)
    init = {k: st.value for k, st in model.states().items()}

    def total():
        return sum(loss(model(xs[t]), t) for t in range(T))

    def restore():
        for k, st in model.states().items():
            st.value = init[k]

    ref = brainstate.transform.grad(total, grad_states=model.states(brainstate.ParamState))()
    restore()
    eager_losses = [float(loss(model(xs[t]), t)) for t in range(T)]
    restore()
    g, losses = bptt_grad(model, xs, loss)
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-5)
    assert relative_error(g, dict(ref)) < 1e-5


def test_params_subset():
    model = make(TanhRNN, seed_state=3)
    xs, ys = data()
    full, _ = bptt_grad(model, xs, mse_loss(ys))
    subset = {('w_rec',): model.w_rec, ('readout', 'weight'): model.readout.weight}
    g, _ = bptt_grad(model, xs, mse_loss(ys), params=subset)                     # a dict key -> ParamState
    r, _ = rtrl_grad(model, xs, mse_loss(ys), params=[model.w_rec, model.readout.weight])  # a list
    for grads in (g, r):
        assert list(grads) == list(subset)
        assert relative_error(grads, {k: full[k] for k in subset}) < 1e-4


def test_pytree_inputs_and_ops_matmul():
    """xs may be a pytree; the ETP ``ops.matmul`` inside the model is differentiated like any JAX op."""

    class TwoInputs(LeakyIntegrator):
        def update(self, x):
            return super().update(x['a'] + 2 * x['b'])

    model = make(TwoInputs, seed_state=4)
    xs, ys = data()
    pair = {'a': xs, 'b': 0.5 * xs[::-1]}
    g, losses = bptt_grad(model, pair, mse_loss(ys))
    r, _ = rtrl_grad(model, pair, mse_loss(ys))
    assert agreement(r, g).relative_error < 1e-4


def test_lif_network_rtrl_equals_bptt(dt_ms):
    model = make(LIFNet, w_scale=1.0)
    xs = jnp.asarray(np.random.default_rng(5).uniform(0, 1, (20, 4)), jnp.float32)
    require_live(model, xs)    # gradients of a silent network would be trivially equal
    ys = jnp.zeros((20, 2))
    g, losses = bptt_grad(model, xs, mse_loss(ys))
    per, losses_r = rtrl_grad_per_step(model, xs, mse_loss(ys))
    report = agreement(sum_t(per), g)
    assert report.max_relative_error < 1e-4, report
    assert report.row('w_in').ref_norm > 0
    np.testing.assert_allclose(losses_r, losses, rtol=1e-6)
