"""The layers' braintrace surface: conv options (groups, dilation, w_mask, bias) and Linear's
w_mask stay exact under D-RTRL, SparseLinear takes a brainevent matrix, the readout's
``decay`` and ``W``, and the cells' braintrace defaults."""
import brainevent
import brainstate
import braintools
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import braintrace_lab as bl
import braintrace_lab.nn as nn
from braintrace_lab.models import mse_loss
from braintrace_lab.oracle import agreement, bptt_grad


class Leaky(brainstate.nn.Module):
    """``h = 0.7 h + tanh(layer(x))`` and a sum readout: every weight of ``layer`` is traced."""

    def __init__(self, layer, h_shape):
        super().__init__()
        self.layer, self.h_shape = layer, h_shape

    def init_state(self, batch_size=None, **kwargs):
        self.h = brainstate.HiddenState(jnp.zeros(((batch_size,) if batch_size else ()) + self.h_shape))

    def update(self, x):
        self.h.value = 0.7 * self.h.value + jnp.tanh(self.layer(x))
        return jnp.sum(self.h.value.reshape(self.h.value.shape[:1] + (-1,)), axis=-1, keepdims=True)


def _exact(make_layer, h_shape, x_shape, batch=2, T=5):
    xs = jax.random.normal(jax.random.PRNGKey(1), (T, batch) + x_shape)
    ys = jax.random.normal(jax.random.PRNGKey(2), (T, batch, 1))

    def build():
        brainstate.random.seed(3)
        model = Leaky(make_layer(), h_shape)
        brainstate.nn.init_all_states(model, batch_size=batch)
        return model
    ref, _ = bptt_grad(build(), xs, lambda out, t: mse_loss(out, ys[t]))
    learner = bl.D_RTRL(build())
    learner.compile_graph(xs[0])
    grads, _ = learner.etrace_grad(xs, ys, mse_loss)
    assert learner.graph.relations
    assert max(r.relative_error for r in agreement(grads, ref).rows) < 1e-5
    return grads


def test_conv_layer_options_and_bias_are_exact_under_d_rtrl():
    mask = np.ones((3, 2, 6), np.float32)
    mask[0] = 0.
    grads = _exact(lambda: nn.Conv1d((8, 4), 6, 3, groups=2, rhs_dilation=2, padding=(1, 1), w_mask=mask,
                                     b_init=braintools.init.Constant(0.1)), (6, 6), (8, 4))
    g = grads[('layer', 'weight')]
    assert g['bias'].shape == (1, 6) and float(jnp.abs(g['bias']).max()) > 0
    np.testing.assert_array_equal(np.asarray(g['weight'][0]), 0.)          # masked taps learn nothing


def test_conv2d_channel_first_layer_is_exact():
    _exact(lambda: nn.Conv2d((2, 5, 4), 3, (2, 2), stride=1, channel_first=True,
                             b_init=braintools.init.Constant(0.1)), (3, 5, 4), (2, 5, 4))


def test_linear_w_mask_is_applied_inside_the_op():
    mask = np.array(np.random.RandomState(0).rand(4, 3) < 0.5, np.float32)
    layer = nn.Linear(4, 3, w_mask=mask)
    x = jnp.ones((2, 4))
    np.testing.assert_allclose(layer(x), x @ (layer.weight.value['weight'] * mask) + layer.weight.value['bias'],
                               rtol=1e-6)
    grads = _exact(lambda: nn.Linear(4, 3, w_mask=mask), (3,), (4,))
    np.testing.assert_array_equal(np.asarray(grads[('layer', 'weight')]['weight'])[mask == 0], 0.)


def test_linear_takes_tuple_sizes():
    layer = nn.Linear((6, 4), (6, 3))
    assert layer.in_size == (6, 4) and layer.weight.value['weight'].shape == (4, 3)
    assert layer(jnp.ones((2, 6, 4))).shape == (2, 6, 3)


def test_sparse_linear_from_a_brainevent_matrix():
    dense = np.array([[1., 0., 2.], [0., 3., 0.], [4., 0., 5.], [0., 0., 6.]], np.float32)
    csr = brainevent.CSR.fromdense(jnp.asarray(dense))
    layer = nn.SparseLinear(csr, b_init=braintools.init.Constant(0.5))
    assert layer.spar_mat is csr and layer.in_size == (4,) and layer.out_size == (3,)
    np.testing.assert_array_equal(layer.weight.value['weight'], csr.data)
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 4))
    np.testing.assert_allclose(layer(x), x @ dense + 0.5, rtol=1e-5, atol=1e-6)
    _exact(lambda: nn.SparseLinear(csr, b_init=braintools.init.Constant(0.1)), (3,), (4,))


def test_readout_decay_is_a_value_and_w_is_the_weight_state():
    ro = nn.LeakyRateReadout(4, 2, tau=10. * brainstate.environ.get_dt())
    np.testing.assert_allclose(np.asarray(ro.decay), np.exp(-0.1), rtol=1e-6)
    assert ro.W is ro.weight and ro.W.value.shape == (4, 2)


def test_cells_use_braintraces_defaults():
    cell = nn.ValinaRNNCell(3, 4, w_init=np.ones((7, 4), np.float32) * -1.)
    cell.init_state()
    np.testing.assert_array_equal(cell(jnp.ones(3)), 0.)                   # relu, braintrace's default
    brainstate.random.seed(5)
    gru = nn.GRUCell(3, 4)
    brainstate.random.seed(5)
    first = braintools.init.param(braintools.init.Orthogonal(), (7, 4))
    np.testing.assert_allclose(gru.Wz.weight.value['weight'], first, rtol=1e-6)   # Wz drawn first
    with pytest.raises(ValueError, match='activation'):
        nn.GRUCell(3, 4, activation='no_such_function')
