"""OSTL's coupled self term: the two-pass form equals the full-Jacobian diagonal."""
import brainstate
import jax
import jax.numpy as jnp
import pytest

import braintrace_lab as bl
from braintrace_lab.algorithms import coupled, step
from braintrace_lab.models import get_fixture

from engine_testutils import online_grads, worst_error

T = 6


def _grads(fx, xs, ys, batch_size=None):
    grads, _, _ = online_grads(fx, bl.OSTLRecurrent, xs, ys, batch_size=batch_size)
    return grads


@pytest.mark.parametrize('name,batch_size', [('lif', None), ('alif', None), ('lif', 3), ('rnn', None),
                                             ('linear_leaky', None)])
def test_two_pass_self_term_equals_the_jacobian_diagonal(name, batch_size, monkeypatch):
    fx = get_fixture(name)
    calls = []
    real = coupled.matmul_self_term
    monkeypatch.setattr(step, 'matmul_self_term', lambda *a: calls.append(1) or real(*a))
    with fx.context():
        xs, ys = fx.data(T=T, seed=7, batch_size=batch_size) if batch_size else fx.data(T=T, seed=7)
        fast = _grads(fx, xs, ys, batch_size)
        assert calls, 'the two-pass self term was not used'
        monkeypatch.setattr(step, 'input_is_positionwise', lambda *a: False)
        slow = _grads(fx, xs, ys, batch_size)
    assert worst_error(fast, slow) < 1e-5


class ShuffledInput(brainstate.nn.Module):
    """A recurrent matmul whose input reads the state through a permutation or a mean."""

    def __init__(self, mix):
        super().__init__()
        self.mix = mix
        self.w = brainstate.ParamState(jax.random.normal(jax.random.PRNGKey(0), (6, 3)) * 0.5)
        self.h = brainstate.HiddenState(jnp.zeros(3))

    def update(self, x):
        r = jnp.tanh(self.h.value)
        r = jnp.roll(r, 1) if self.mix == 'roll' else r - jnp.mean(r)
        self.h.value = 0.5 * self.h.value + bl.ops.matmul(jnp.concatenate([x, r]), self.w.value)
        return self.h.value


def _shuffled_grads(mix):
    model = ShuffledInput(mix)
    brainstate.nn.init_all_states(model)
    learner = bl.OSTLRecurrent(model)
    learner.compile_graph(jnp.ones(3))
    params = model.states(brainstate.ParamState)
    total = None
    for t in range(4):
        g = brainstate.transform.grad(lambda: jnp.sum(learner(jnp.full(3, 0.3 * t + 0.1)) ** 2), params)()
        total = g if total is None else jax.tree.map(jnp.add, total, g)
    return total[('w',)]


@pytest.mark.parametrize('mix,fast', [('roll', True), ('mean', False)])
def test_permuted_input_is_fast_and_mixed_input_takes_the_jacobian(mix, fast, monkeypatch):
    calls = []
    real = coupled.matmul_self_term
    monkeypatch.setattr(step, 'matmul_self_term', lambda *a: calls.append(1) or real(*a))
    got = _shuffled_grads(mix)
    assert bool(calls) == fast
    monkeypatch.setattr(step, 'input_is_positionwise', lambda *a: False)
    ref = _shuffled_grads(mix)
    assert float(jnp.abs(got).sum()) > 0
    assert float(jnp.max(jnp.abs(got - ref))) < 1e-5 * float(jnp.max(jnp.abs(ref)))
