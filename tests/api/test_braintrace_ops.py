"""The ETP ops called the way braintrace documents them: same values as the plain
computation, and D-RTRL still equals BPTT through every keyword (transforms, bias,
sparse structures)."""
import brainevent
import brainstate
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import braintrace_lab as braintrace
from braintrace_lab.models import mse_loss
from braintrace_lab.oracle import agreement, bptt_grad

N_IN, N_H, T = 4, 5, 6


def _rand(seed, shape, scale=0.5):
    return jax.random.normal(jax.random.PRNGKey(seed), shape) * scale


def _csr(mask_seed=3):
    mask = np.array(jax.random.uniform(jax.random.PRNGKey(mask_seed), (N_IN, N_H)) < 0.5)
    mask[0] = True
    dense = np.where(mask, 1.0, 0.0).astype(np.float32)
    return brainevent.CSR.fromdense(jnp.asarray(dense))


def _square(w):
    return w * w


DRIVES = {
    'matmul_weight_fn': (lambda x, p, c: braintrace.matmul(x, p['w'], p['b'], weight_fn=jnp.tanh, bias_fn=_square),
                         lambda c: {'w': _rand(0, (N_IN, N_H)), 'b': _rand(1, (N_H,))}),
    'lora_bias_fns': (lambda x, p, c: braintrace.lora_matmul(x, p['B'], p['A'], alpha=0.5, bias=p['b'],
                                                             b_fn=jnp.tanh, a_fn=_square),
                      lambda c: {'B': _rand(2, (N_IN, 2)), 'A': _rand(3, (2, N_H)), 'b': _rand(4, (N_H,))}),
    'sparse_csr': (lambda x, p, c: braintrace.sparse_matmul(x, p['w'], sparse_mat=c, bias=p['b'],
                                                            weight_fn=jnp.tanh),
                   lambda c: {'w': _rand(5, (c.nse,)), 'b': _rand(6, (N_H,))}),
    'element_wise_weight_fn': (lambda x, p, c: braintrace.matmul(x, p['w']) *
                               braintrace.element_wise(p['g'], weight_fn=jax.nn.sigmoid),
                               lambda c: {'w': _rand(7, (N_IN, N_H)), 'g': _rand(8, (N_H,))}),
}


class Leaky(brainstate.nn.Module):
    def __init__(self, drive, params, csr):
        super().__init__()
        self.drive, self.csr = drive, csr
        self.p = brainstate.ParamState(params)
        self.readout = brainstate.ParamState(_rand(9, (N_H, 2)))

    def init_state(self, batch_size=None, **kwargs):
        self.h = brainstate.HiddenState(jnp.zeros((N_H,) if batch_size is None else (batch_size, N_H)))

    def update(self, x):
        self.h.value = 0.8 * self.h.value + jnp.tanh(self.drive(x, self.p.value, self.csr))
        return self.h.value @ self.readout.value


@pytest.mark.parametrize('name', sorted(DRIVES))
def test_d_rtrl_equals_bptt_through_braintrace_keywords(name):
    drive, make = DRIVES[name]
    csr = _csr()
    # an element-wise weight of shape (N_H,) meets a state of the same shape: no batch axis there
    batch = () if name.startswith('element_wise') else (3,)
    xs, ys = _rand(10, (T,) + batch + (N_IN,), 1.0), _rand(11, (T,) + batch + (2,), 1.0)

    def build():
        model = Leaky(drive, make(csr), csr)
        brainstate.nn.init_all_states(model, batch_size=batch[0] if batch else None)
        return model
    ref, _ = bptt_grad(build(), xs, lambda out, t: mse_loss(out, ys[t]))
    learner = braintrace.D_RTRL(build())
    learner.compile_graph(xs[0])
    grads, _ = learner.etrace_grad(xs, ys, mse_loss)
    rows = agreement(grads, ref).rows
    assert max(r.relative_error for r in rows) < 1e-5, name
    assert learner.graph.relations


def test_matmul_transforms_compute_what_they_say():
    x, w, b = _rand(0, (3, N_IN)), _rand(1, (N_IN, N_H)), _rand(2, (N_H,))
    got = braintrace.matmul(x, w, b, weight_fn=jnp.abs, bias_fn=jnp.exp)
    np.testing.assert_allclose(got, x @ jnp.abs(w) + jnp.exp(b), rtol=1e-6)


def test_lora_reads_b_then_a_as_braintrace_does():
    x, B, A = _rand(0, (3, N_IN)), _rand(1, (N_IN, 2)), _rand(2, (2, N_H))
    np.testing.assert_allclose(braintrace.lora_matmul(x, B, A, alpha=0.5), 0.5 * x @ B @ A, rtol=1e-6)
    np.testing.assert_allclose(braintrace.lora_matmul(x, B=B, A=A), x @ B @ A, rtol=1e-6)
    # this package's earlier names for the same two factors
    np.testing.assert_allclose(braintrace.lora_matmul(x, lora_a=B, lora_b=A), x @ B @ A, rtol=1e-6)
    with pytest.raises(TypeError, match='positional'):
        braintrace.lora_matmul(x, B, A, 0.5)    # alpha is keyword-only, as in braintrace


@pytest.mark.parametrize('fmt', ['CSR', 'CSC'])
def test_sparse_matmul_takes_a_brainevent_structure(fmt):
    dense = np.asarray(_csr().todense())
    mat = getattr(brainevent, fmt).fromdense(jnp.asarray(dense))
    values = _rand(3, np.shape(mat.data))
    x = _rand(4, (2, N_IN))
    got = braintrace.sparse_matmul(x, values, sparse_mat=mat)
    want = x @ mat.with_data(values).todense()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_sparse_matmul_rejects_a_structure_and_indices_together():
    mat = _csr()
    with pytest.raises(TypeError, match='not both'):
        braintrace.sparse_matmul(jnp.ones(N_IN), mat.data, [0], [0], N_H, sparse_mat=mat)
    with pytest.raises(TypeError, match='sparsity pattern'):
        braintrace.sparse_matmul(jnp.ones(N_IN), mat.data)


def test_element_wise_weight_fn_is_fn():
    w = _rand(0, (N_H,))
    np.testing.assert_allclose(braintrace.element_wise(w, weight_fn=jnp.tanh), jnp.tanh(w))
    with pytest.raises(TypeError, match='once'):
        braintrace.element_wise(w, jnp.tanh, weight_fn=jnp.tanh)


# ---- conv: lax's layouts, pinned against jax.lax.conv_general_dilated
CONV_CASES = [
    # x shape, kernel shape, keywords
    ((2, 3, 9), (4, 3, 3), {}),
    ((2, 3, 9), (4, 3, 3), dict(strides=(2,), padding='VALID', rhs_dilation=(2,))),
    ((2, 4, 9), (6, 2, 3), dict(feature_group_count=2, lhs_dilation=(2,), padding=((1, 2),))),
    ((2, 3, 6, 5), (4, 3, 3, 2), dict(strides=(1, 2))),
    ((2, 6, 5, 3), (3, 2, 3, 4), dict(strides=(1, 1), dimension_numbers=('NHWC', 'HWIO', 'NHWC'))),
    ((1, 2, 4, 4, 3), (3, 3, 3, 2, 3), dict(strides=(1, 1, 1), dimension_numbers=('NDHWC', 'DHWOI', 'NCDHW'))),
]


@pytest.mark.parametrize('x_shape,k_shape,kw', CONV_CASES)
def test_conv_is_lax_conv_general_dilated(x_shape, k_shape, kw):
    x, k = _rand(0, x_shape, 1.0), _rand(1, k_shape)
    got = braintrace.conv(x, k, **kw)
    lax_kw = dict(kw)
    strides = lax_kw.pop('strides', (1,) * (len(k_shape) - 2))
    padding = lax_kw.pop('padding', 'SAME')
    want = jax.lax.conv_general_dilated(x, k, strides, padding, **lax_kw)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_conv_default_layout_is_channels_first_even_where_both_readings_fit():
    # (N, C, W) = (2, 3, 3) with a (3, 3, 3) kernel fits channels-last too; lax's reading wins
    x, k = _rand(0, (2, 3, 3), 1.0), _rand(1, (3, 3, 3))
    want = jax.lax.conv_general_dilated(x, k, (1,), 'SAME')
    np.testing.assert_allclose(braintrace.conv(x, k), want, rtol=1e-5, atol=1e-5)
    other = jax.lax.conv_general_dilated(x, k, (1,), 'SAME', dimension_numbers=('NWC', 'WIO', 'NWC'))
    assert not np.allclose(want, other)


def test_conv_bias_goes_on_the_channel_axis():
    x, k, b = _rand(0, (2, 3, 4), 1.0), _rand(1, (4, 3, 3)), jnp.arange(4.0)
    want = jax.lax.conv_general_dilated(x, k, (1,), 'SAME') + b[None, :, None]
    np.testing.assert_allclose(braintrace.conv(x, k, b), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(braintrace.conv(x, k, b.reshape(4, 1), kernel_fn=None), want, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match='one value per output channel'):
        braintrace.conv(x, k, jnp.ones((4, 4)))


def test_conv_transforms_and_unbatched_input():
    x, k, b = _rand(0, (2, 3, 5), 1.0), _rand(1, (4, 3, 3)), _rand(2, (4,))
    want = jax.lax.conv_general_dilated(x, jnp.tanh(k), (1,), 'SAME') + jnp.exp(b)[None, :, None]
    got = braintrace.conv(x, k, b, kernel_fn=jnp.tanh, bias_fn=jnp.exp)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(braintrace.conv(x[0], k, b, kernel_fn=jnp.tanh, bias_fn=jnp.exp), want[0],
                               rtol=1e-5, atol=1e-5)


def test_conv_refuses_what_it_cannot_trace_or_fit():
    with pytest.raises(braintrace.NotSupportedError, match='batch_group_count'):
        braintrace.conv(jnp.ones((2, 3, 5)), jnp.ones((4, 3, 3)), batch_group_count=2)
    with pytest.raises(ValueError, match='channels'):
        braintrace.conv(jnp.ones((2, 5, 3)), jnp.ones((4, 3, 3)))      # channels-last input, lax layout


def test_matmul_takes_leading_position_axes():
    x, w, b = _rand(0, (2, 3, N_IN)), _rand(1, (N_IN, N_H)), _rand(2, (N_H,))
    np.testing.assert_allclose(braintrace.matmul(x, w, b), x @ w + b, rtol=1e-5, atol=1e-6)
    B, A = _rand(3, (N_IN, 2)), _rand(4, (2, N_H))
    np.testing.assert_allclose(braintrace.lora_matmul(x, B, A), x @ B @ A, rtol=1e-5, atol=1e-6)
