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


def test_weight_read_through_plain_ops_before_the_op():
    """``matmul(x, |W| * sign)`` (a sign-constrained weight): the trace is kept for the op's weight
    operand and chained back to ``W``; on this exact-class layer D-RTRL equals BPTT, and the chained
    gradient is not the untransformed one (the sign and |.| really enter)."""
    import brainstate
    import jax
    from braintrace_lab.oracle import bptt_grad

    class SignedLeaky(brainstate.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = brainstate.ParamState(jax.random.normal(jax.random.PRNGKey(0), (3, 4)))
            self.sign = jnp.array([1., -1., 1.])[:, None]

        def init_state(self, *args, **kwargs):
            self.h = brainstate.HiddenState(jnp.zeros(4))

        def update(self, x):
            self.h.value = 0.7 * self.h.value + jnp.tanh(bl.matmul(x, jnp.abs(self.w.value) * self.sign))
            return self.h.value

    xs = jax.random.normal(jax.random.PRNGKey(1), (T, 3))
    loss = lambda out, t: jnp.sum((out - 0.1 * t) ** 2)

    def fresh():
        model = SignedLeaky()
        brainstate.nn.init_all_states(model)
        return model

    learner = bl.D_RTRL(fresh())
    learner.compile_graph(xs[0])
    assert learner.graph.param('w').status == 'traced'
    grads, _ = learner.etrace_grad(xs, None, loss)
    ref, _ = bptt_grad(fresh(), xs, loss)
    assert worst_error(grads, ref) < 1e-5
    flipped = {k: v * jnp.sign(fresh().w.value) * jnp.array([1., -1., 1.])[:, None] for k, v in ref.items()}
    assert worst_error(grads, flipped) > 0.1       # what ignoring the chain through |W| * sign would give


def jax_leaves(tree):
    import jax
    return jax.tree.leaves(tree)
