"""``GradExpon``: a leaky running sum of gradients."""
import math

import brainstate
import brainunit as u
import jax.numpy as jnp
import pytest

from braintrace_lab import GradExpon


def test_leaky_sum_of_a_pytree():
    acc = GradExpon({'w': jnp.zeros((2, 3)), 'b': jnp.zeros(3)}, 0.9)
    for _ in range(3):
        acc.update({'w': jnp.ones((2, 3)), 'b': 2 * jnp.ones(3)})
    want = 1 + 0.9 + 0.81
    assert jnp.allclose(acc.gradients.value['w'], want) and jnp.allclose(acc.gradients.value['b'], 2 * want)


def test_time_constant_gives_exp_minus_dt_over_tau():
    with brainstate.environ.context(dt=1. * u.ms):
        acc = GradExpon(jnp.zeros(2), 20. * u.ms)
    assert acc.decay == pytest.approx(math.exp(-1 / 20))


def test_bad_arguments_name_the_fix(monkeypatch):
    with pytest.raises(ValueError, match=r'decay must lie in \(0, 1\)'):
        GradExpon(jnp.zeros(2), 1.5)
    with pytest.raises(TypeError, match='time constant .* or a decay'):
        GradExpon(jnp.zeros(2), '0.9')
    get = brainstate.environ.get
    monkeypatch.setattr(brainstate.environ, 'get', lambda key, *a, **k: None if key == 'dt' else get(key, *a, **k))
    with pytest.raises(ValueError, match='needs the time step'):
        GradExpon(jnp.zeros(2), 20. * u.ms)
    acc = GradExpon({'w': jnp.zeros(2)}, 0.5)
    with pytest.raises(ValueError, match='structure'):
        acc.update({'v': jnp.ones(2)})
