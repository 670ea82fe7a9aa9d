"""D-RTRL equals BPTT and exact RTRL where the theory says it is exact.

Exact class: one hidden group per op, position-diagonal transition, element-wise
``y -> h``. Checked in single-step mode and with windows shorter than the
sequence (never a single whole-sequence window, which would be BPTT anyway).
"""
import jax.numpy as jnp
import pytest

import braintrace_lab as bl
from braintrace_lab.models import get_fixture

from engine_testutils import assert_matches_bptt, online_grads, reference, worst_error

T = 9


@pytest.mark.parametrize('name', ['leaky', 'lif', 'alif'])
@pytest.mark.parametrize('window', [None, 2, 4])
def test_d_rtrl_equals_bptt_float32(name, window):
    fx = get_fixture(name)
    with fx.context():
        xs, ys = fx.data(T=T, seed=1)
        ref, ref_losses = reference(fx, xs, ys)
        grads, losses, learner = online_grads(fx, bl.D_RTRL, xs, ys, window=window)
        assert worst_error(grads, ref) < 1e-5
        assert float(jnp.max(jnp.abs(losses - ref_losses))) < 1e-4
        # every parameter, the readout included, got a non-zero gradient
        for key, g in grads.items():
            assert float(sum(jnp.abs(getattr(x, 'mantissa', x)).sum() for x in jax_leaves(g))) > 0, key


@pytest.mark.parametrize('name', ['leaky_lora', 'leaky_sparse', 'conv_leaky'])
def test_d_rtrl_exact_for_lora_sparse_conv(name):
    learner = assert_matches_bptt(get_fixture(name), bl.D_RTRL, seed=2, T=T)
    assert learner.graph.relations, 'the op was not traced'


@pytest.mark.parametrize('name', ['leaky', 'alif'])
def test_d_rtrl_equals_bptt_and_rtrl_float64(name, x64):
    fx = get_fixture(name)
    with fx.context():
        xs, ys = fx.data(T=T, seed=3, dtype=jnp.float64)
        ref, _ = reference(fx, xs, ys, dtype=jnp.float64)
        rtrl, _ = reference(fx, xs, ys, kind='rtrl', dtype=jnp.float64)
        assert worst_error(rtrl, ref) < 1e-9
        for window in (None, 4):
            grads, _, _ = online_grads(fx, bl.D_RTRL, xs, ys, window=window, dtype=jnp.float64)
            assert worst_error(grads, ref) < 1e-9
            assert worst_error(grads, rtrl) < 1e-9


def test_batched_model_gives_the_summed_per_sample_gradient():
    fx = get_fixture('lif')
    with fx.context():
        xs, ys = fx.data(T=6, seed=4, batch_size=3)
        ref, _ = reference(fx, xs, ys, batch_size=3)
        grads, _, _ = online_grads(fx, bl.D_RTRL, xs, ys, batch_size=3)
        assert worst_error(grads, ref) < 1e-5


def jax_leaves(tree):
    import jax
    return jax.tree.leaves(tree)
