"""Every oracle leaves the model's states as they were, and refuses bad input with a clear error."""
import jax.numpy as jnp
import numpy as np
import pytest
from oracle_testmodels import (FeedForward, LeakyIntegrator, NoParams, UnitIntegrator, make, mse_loss, same_snapshot,
                               snapshot)

from braintrace_lab.oracle import (InfluenceMatrixTooLarge, OracleInputError, bptt_grad, bptt_grad_per_step,
                                   finite_difference_grad, rtrl_grad, rtrl_grad_per_step)

ORACLES = [bptt_grad, bptt_grad_per_step, rtrl_grad, rtrl_grad_per_step, finite_difference_grad]
names = lambda f: f.__name__


def data(steps=5):
    rng = np.random.default_rng(0)
    return (jnp.asarray(rng.standard_normal((steps, 3)), jnp.float32),
            jnp.asarray(rng.standard_normal((steps, 2)), jnp.float32))


@pytest.mark.filterwarnings('ignore::RuntimeWarning')
@pytest.mark.parametrize('oracle', ORACLES, ids=names)
def test_non_destructive(oracle):
    model = make(UnitIntegrator, seed_state=3)    # HiddenState + ShortTermState + Quantity params
    before = snapshot(model)
    xs, ys = data()
    oracle(model, xs, mse_loss(ys))
    assert same_snapshot(before, snapshot(model))


@pytest.mark.parametrize('oracle', [bptt_grad, rtrl_grad], ids=names)
def test_non_destructive_on_error(oracle):
    model = make(LeakyIntegrator, seed_state=3)
    before = snapshot(model)
    xs, _ = data()

    def bad_loss(out, t):
        raise KeyError('no target for this step')

    with pytest.raises(KeyError, match='no target'):
        oracle(model, xs, bad_loss)
    assert same_snapshot(before, snapshot(model))
    model(xs[0])                # the states still hold concrete values
    assert np.all(np.isfinite(np.asarray(model.h.value)))


def test_initial_state_is_the_current_state():
    model = make(LeakyIntegrator, seed_state=None)
    xs, ys = data()
    g0, l0 = bptt_grad(model, xs, mse_loss(ys))
    model.h.value = jnp.ones_like(model.h.value)
    g1, l1 = bptt_grad(model, xs, mse_loss(ys))
    assert not np.allclose(l0, l1)


@pytest.mark.parametrize('oracle', ORACLES, ids=names)
def test_xs_without_time_axis(oracle):
    model = make(LeakyIntegrator)
    xs, ys = data()
    with pytest.raises(OracleInputError, match='time axis'):
        oracle(model, xs[0], mse_loss(ys))          # one step, shape (3,): x_t would be a scalar
    with pytest.raises(OracleInputError, match='time axis'):
        oracle(model, jnp.float32(1.), mse_loss(ys))


def test_xs_of_the_wrong_shape():
    model = make(LeakyIntegrator)
    xs, ys = data()
    with pytest.raises(OracleInputError, match=r'model\(x_t\) failed.*\(4,\)'):
        bptt_grad(model, jnp.ones((5, 4)), mse_loss(ys))
    with pytest.raises(OracleInputError, match='share the leading time axis'):
        bptt_grad(model, {'a': jnp.ones((5, 3)), 'b': jnp.ones((4, 3))}, mse_loss(ys))
    with pytest.raises(OracleInputError, match='zero time steps'):
        bptt_grad(model, jnp.ones((0, 3)), mse_loss(ys))


def test_model_without_hidden_state():
    with pytest.raises(OracleInputError, match='no brainstate.HiddenState'):
        bptt_grad(FeedForward(), jnp.ones((4, 3)), lambda out, t: out.sum())


def test_model_without_params():
    model = make(NoParams)
    with pytest.raises(OracleInputError, match='no brainstate.ParamState'):
        rtrl_grad(model, jnp.ones((4, 3)), lambda out, t: out.sum())


def test_foreign_or_wrong_params():
    model, other = make(LeakyIntegrator), make(LeakyIntegrator)
    xs, ys = data()
    with pytest.raises(OracleInputError, match='not a ParamState of LeakyIntegrator'):
        bptt_grad(model, xs, mse_loss(ys), params=[other.w_in])
    with pytest.raises(OracleInputError, match='expected a brainstate.ParamState'):
        bptt_grad(model, xs, mse_loss(ys), params={('h',): model.h})
    with pytest.raises(OracleInputError, match='empty'):
        bptt_grad(model, xs, mse_loss(ys), params={})


def test_loss_must_be_scalar():
    model = make(LeakyIntegrator)
    xs, ys = data()
    with pytest.raises(OracleInputError, match='must return a scalar'):
        bptt_grad(model, xs, lambda out, t: (out - ys[t]) ** 2)


def test_influence_matrix_too_big():
    model = make(LeakyIntegrator)          # H = 4, P = 12 + 8 = 20
    xs, ys = data()
    with pytest.raises(InfluenceMatrixTooLarge, match=r'H x P = 4 x 20 = 80 entries.*max_entries=50') as err:
        rtrl_grad(model, xs, mse_loss(ys), max_entries=50)
    assert 'w_in: 12' in str(err.value) and 'h: HiddenState(4,)' in str(err.value)
    assert isinstance(err.value, ValueError)


def test_finite_differences_refuse_large_models():
    model = make(LeakyIntegrator)
    xs, ys = data()
    with pytest.raises(OracleInputError, match='P=20 parameter elements'):
        finite_difference_grad(model, xs, mse_loss(ys), max_elements=10)


def test_finite_differences_warn_in_float32():
    model = make(LeakyIntegrator)
    xs, ys = data()
    with pytest.warns(RuntimeWarning, match='float32'):
        finite_difference_grad(model, xs, mse_loss(ys))


def test_not_a_module():
    with pytest.raises(OracleInputError, match='brainstate.nn.Module'):
        bptt_grad(lambda x: x, jnp.ones((3, 2)), lambda out, t: out.sum())
