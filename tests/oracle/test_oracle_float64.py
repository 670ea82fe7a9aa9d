"""In float64: BPTT equals central finite differences (< 1e-6) and RTRL (< 1e-9)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from oracle_testmodels import GRULike, LeakyIntegrator, TanhRNN, UnitIntegrator, make, mse_loss

from braintrace_lab.oracle import agreement, bptt_grad, finite_difference_grad, rtrl_grad

T = 6


@pytest.fixture(scope='module', params=[LeakyIntegrator, TanhRNN, GRULike, UnitIntegrator],
                ids=lambda c: c.__name__)
def case(request, x64_module):
    model = make(request.param, dtype=jnp.float64, seed_state=7)   # non-zero initial state
    rng = np.random.default_rng(11)
    xs = jnp.asarray(rng.standard_normal((T, 3)), jnp.float64)
    ys = jnp.asarray(rng.standard_normal((T, 2)), jnp.float64)
    loss = mse_loss(ys)
    g, losses = bptt_grad(model, xs, loss)
    return model, xs, loss, g, losses


def test_runs_in_float64(case):
    _, _, _, g, losses = case
    assert losses.dtype == jnp.float64
    assert all(leaf.dtype == jnp.float64 for leaf in jax.tree.leaves(g))


def test_bptt_equals_finite_differences(case):
    model, xs, loss, g, _ = case
    fd = finite_difference_grad(model, xs, loss)
    report = agreement(g, fd)
    assert report.max_relative_error < 1e-6, report


def test_rtrl_equals_bptt_float64(case):
    model, xs, loss, g, losses = case
    r, r_losses = rtrl_grad(model, xs, loss)
    report = agreement(r, g)
    assert report.max_relative_error < 1e-9, report
    np.testing.assert_allclose(r_losses, losses, rtol=1e-12)
