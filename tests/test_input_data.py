"""``SingleStepData`` / ``MultiStepData``: braintrace's input markers work with every learner."""
import brainstate
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import braintrace_lab as bl
from braintrace_lab.input_data import window_inputs
from braintrace_lab.models import get_fixture, mse_loss


class ContextLeaky(brainstate.nn.Module):
    """``h = 0.8 h + tanh((x + c) W)``: a time series ``x`` and a constant context ``c``."""

    def __init__(self, n_in=3, n_hidden=4):
        super().__init__()
        self.w = brainstate.ParamState(jax.random.normal(jax.random.PRNGKey(0), (n_in, n_hidden)) * 0.5)
        self.n_hidden = n_hidden

    def init_state(self, batch_size=None, **kwargs):
        self.h = brainstate.HiddenState(jnp.zeros((self.n_hidden,)))

    def update(self, x, c):
        self.h.value = 0.8 * self.h.value + jnp.tanh(bl.matmul(x + c, self.w.value))
        return self.h.value


def _single_step_grads(fx, wrap):
    with fx.context():
        xs, ys = fx.data(T=5, seed=2)
        learner = bl.D_RTRL(fx.build())
        learner.compile_graph(wrap(xs[0]))
        weights = learner.model.states(brainstate.ParamState)
        total = None
        for t in range(5):
            g = brainstate.transform.grad(lambda: mse_loss(learner(wrap(xs[t])), ys[t]), weights)()
            total = g if total is None else jax.tree.map(jnp.add, total, g)
    return total


def test_single_step_data_is_a_plain_step():
    fx = get_fixture('leaky')
    plain = _single_step_grads(fx, lambda x: x)
    marked = _single_step_grads(fx, bl.SingleStepData)
    for a, b in zip(jax.tree.leaves(plain), jax.tree.leaves(marked)):
        assert np.array_equal(a, b)


def test_multi_step_data_needs_a_multi_step_learner():
    fx = get_fixture('leaky')
    with fx.context():
        xs, _ = fx.data(T=4, seed=0)
        learner = bl.D_RTRL(fx.build())
        learner.compile_graph(bl.MultiStepData(xs))          # compiled on the first step
        assert learner(xs[0]).shape == (3,)
        with pytest.raises(ValueError, match="vjp_method='multi-step'"):
            learner(bl.MultiStepData(xs))


def test_window_of_multi_step_data_with_a_constant_context():
    xs = jax.random.normal(jax.random.PRNGKey(1), (6, 3))
    c = jnp.array([0.5, -1.0, 0.25])

    def run(*inputs, example=None):
        model = ContextLeaky()
        brainstate.nn.init_all_states(model)
        learner = bl.D_RTRL(model, vjp_method='multi-step')
        learner.compile_graph(*(example or inputs))
        return learner(*inputs)

    marked = run(bl.MultiStepData(xs), bl.SingleStepData(c))
    # plain arrays are windows in a window call; the example for compile_graph is one step
    plain = run(xs, jnp.broadcast_to(c, xs.shape), example=(xs[0], c))
    assert marked.shape == (6, 4) and np.allclose(marked, plain)
    no_context = run(xs, jnp.zeros_like(xs), example=(xs[0], c))
    assert not np.allclose(marked, no_context)                 # the context really reaches every step


def test_window_errors_name_the_fix():
    with pytest.raises(ValueError, match='window length is unknown'):
        window_inputs((bl.SingleStepData(jnp.ones(3)),), 'D_RTRL')
    with pytest.raises(ValueError, match='one leading time axis'):
        window_inputs((bl.MultiStepData(jnp.ones((4, 3))), jnp.ones((5, 3))), 'D_RTRL')


def test_markers_are_pytrees():
    data = bl.MultiStepData({'a': jnp.ones((2, 3))})
    doubled = jax.jit(lambda d: jax.tree.map(lambda v: 2 * v, d))(data)
    assert isinstance(doubled, bl.MultiStepData) and float(doubled.data['a'][0, 0]) == 2.0
    assert 'MultiStepData' in repr(data)
