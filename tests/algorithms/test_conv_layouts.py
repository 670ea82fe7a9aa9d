"""``conv`` in every layout lax offers: D-RTRL equals BPTT, and an approximate rule gives
the same numbers whichever layout holds the same convolution."""
import brainstate
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import braintrace_lab as bl
from braintrace_lab.models import mse_loss
from braintrace_lab.oracle import agreement, bptt_grad

T = 6


class ConvLeaky(brainstate.nn.Module):
    """``h = 0.7 h + tanh(conv(x, K) + b)`` with the conv's own layout; readout on the flat state."""

    def __init__(self, kernel, bias, y_shape, n_out=2, batch_size=None, **conv_kw):
        super().__init__()
        self.k = brainstate.ParamState({'kernel': kernel, 'bias': bias})
        self.kw = conv_kw
        self.y_shape = y_shape
        key = jax.random.PRNGKey(7)
        self.out = brainstate.ParamState(jax.random.normal(key, (int(np.prod(y_shape)), n_out)) * 0.3)

    def init_state(self, batch_size=None, **kwargs):
        shape = self.y_shape if batch_size is None else (batch_size,) + self.y_shape
        self.h = brainstate.HiddenState(jnp.zeros(shape))

    def update(self, x):
        k = self.k.value
        self.h.value = 0.7 * self.h.value + jnp.tanh(bl.conv(x, k['kernel'], k['bias'], **self.kw))
        flat = self.h.value.reshape(self.h.value.shape[:len(self.h.value.shape) - len(self.y_shape)] + (-1,))
        return flat @ self.out.value


def _build(kernel, bias, y_shape, **kw):
    model = ConvLeaky(kernel, bias, y_shape, **kw)
    brainstate.nn.init_all_states(model)
    return model


def _online(model, algo, xs, ys, **options):
    learner = algo(model, **options)
    learner.compile_graph(xs[0])
    grads, _ = learner.etrace_grad(xs, ys, mse_loss)
    return grads


def _data(x_shape, n_out=2, seed=0):
    k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
    return jax.random.normal(k1, (T,) + x_shape), jax.random.normal(k2, (T, n_out))


CASES = {
    # name: (x shape per step, kernel shape, bias shape, y shape, conv keywords)
    'default_ncw': ((2, 3, 7), (4, 3, 3), (4,), (2, 4, 7), {}),
    'unbatched_ncw': ((3, 7), (4, 3, 3), (4,), (4, 7), {}),
    'nwc_valid_stride': ((7, 3), (3, 3, 4), (1, 4), (3, 4),
                         dict(dimension_numbers=('NWC', 'WIO', 'NWC'), padding='VALID', strides=2)),
    'groups_dilation': ((2, 4, 8), (6, 2, 2), (6,), (2, 6, 8),
                        dict(feature_group_count=2, rhs_dilation=(2,))),
    'nchw_kernel_fn': ((1, 2, 4, 5), (3, 2, 2, 2), (3, 1, 1), (1, 3, 4, 5),
                       dict(strides=(1, 1), kernel_fn=jnp.tanh)),
    'nhwc_padding_pairs': ((4, 3, 2), (3, 2, 2, 3), (3,), (4, 3, 3),
                           dict(strides=(1, 1), padding=((1, 1), (1, 0)),
                                dimension_numbers=('NHWC', 'HWIO', 'NHWC'))),
}


@pytest.mark.parametrize('case', sorted(CASES))
def test_d_rtrl_equals_bptt_in_every_layout(case):
    x_shape, k_shape, b_shape, y_shape, kw = CASES[case]
    kk, kb = jax.random.split(jax.random.PRNGKey(3))
    kernel = jax.random.normal(kk, k_shape) * 0.5
    bias = jax.random.normal(kb, b_shape) * 0.1
    xs, ys = _data(x_shape)
    with brainstate.environ.context(dt=1.0):
        ref, _ = bptt_grad(_build(kernel, bias, y_shape, **kw), xs, lambda out, t: mse_loss(out, ys[t]))
        grads = _online(_build(kernel, bias, y_shape, **kw), bl.D_RTRL, xs, ys)
    rows = agreement(grads, ref).rows
    assert rows and max(r.relative_error for r in rows) < 1e-5, case
    assert float(jnp.abs(grads[('k',)]['kernel']).sum()) > 0


@pytest.mark.parametrize('algo,options', [(bl.pp_prop, {'decay_or_rank': 0.8}), (bl.EProp, {}),
                                          (bl.D_RTRL, {})])
def test_the_layout_does_not_change_an_approximate_rule(algo, options):
    """The same convolution held channels first (lax's default) and channels last."""
    kk, kb = jax.random.split(jax.random.PRNGKey(5))
    k_oiw = jax.random.normal(kk, (4, 3, 3)) * 0.5
    bias = jax.random.normal(kb, (4,)) * 0.1
    xs, ys = _data((3, 7), seed=2)
    with brainstate.environ.context(dt=1.0):
        first = _build(k_oiw, bias, (4, 7))
        g_first = _online(first, algo, xs, ys, **options)
        last = _build(jnp.transpose(k_oiw, (2, 1, 0)), bias, (7, 4),
                      dimension_numbers=('NWC', 'WIO', 'NWC'))
        # the readout sees the state flattened in its own layout: permute its rows to match
        perm = np.arange(4 * 7).reshape(4, 7).T.reshape(-1)
        last.out.value = first.out.value[perm]
        g_last = _online(last, algo, jnp.transpose(xs, (0, 2, 1)), ys, **options)
    np.testing.assert_allclose(np.asarray(g_last[('k',)]['kernel']),
                               np.asarray(jnp.transpose(g_first[('k',)]['kernel'], (2, 1, 0))), rtol=2e-4, atol=1e-6)
    np.testing.assert_allclose(np.asarray(g_last[('k',)]['bias']), np.asarray(g_first[('k',)]['bias']),
                               rtol=2e-4, atol=1e-6)
