"""Layer outputs against independent re-implementations (NumPy, lax.conv, dense matrices)."""
import brainstate
import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import braintrace_lab.nn as nn
from nn_testutils import np_init, rand

B, N_IN, N_H, T = 2, 4, 3, 3


def sigmoid(v):
    return 1. / (1. + np.exp(-v))


def params_of(linear):
    p = linear.weight.value
    return np.asarray(p['weight'], np.float64), np.asarray(p['bias'], np.float64)


def np_vanilla(cell, xs):
    W, b = params_of(cell.W)
    h = np.zeros((B, N_H))
    out = []
    for x in xs:
        h = np.tanh(np.concatenate([x, h], -1) @ W + b)
        out.append(h)
    return np.stack(out)


def np_gated(xs, reset, update, candidate):
    """GRU recurrence from ``(W, b)`` pairs; a shared reset and update gate makes it an MGU."""
    (Wr, br), (Wz, bz), (Wh, bh) = reset, update, candidate
    h = np.zeros((B, N_H))
    out = []
    for x in xs:
        r = sigmoid(np.concatenate([x, h], -1) @ Wr + br)
        z = sigmoid(np.concatenate([x, h], -1) @ Wz + bz)
        cand = np.tanh(np.concatenate([x, r * h], -1) @ Wh + bh)
        h = (1 - z) * h + z * cand
        out.append(h)
    return np.stack(out)


def np_gru(cell, xs):
    return np_gated(xs, params_of(cell.Wr), params_of(cell.Wz), params_of(cell.Wh))


def np_lstm(cell, xs):
    gates = [params_of(getattr(cell, n)) for n in ('Wi', 'Wf', 'Wg', 'Wo')]
    h = np.zeros((B, N_H))
    c = np.zeros((B, N_H))
    out = []
    for x in xs:
        xh = np.concatenate([x, h], -1)
        i, f, g, o = (xh @ W + b for W, b in gates)
        c = sigmoid(f + 1.0) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        out.append(h)
    return np.stack(out)


def np_mgu(cell, xs):
    forget = params_of(cell.Wf)
    return np_gated(xs, forget, forget, params_of(cell.Wh))


@pytest.mark.parametrize('cls,ref', [(nn.VanillaRNNCell, np_vanilla), (nn.GRUCell, np_gru),
                                     (nn.LSTMCell, np_lstm), (nn.MGUCell, np_mgu)])
def test_cells_match_numpy(cls, ref):
    cell = cls(N_IN, N_H, w_init=np_init(0.7), b_init=np_init(0.3, seed=1), activation='tanh')
    brainstate.nn.init_all_states(cell, batch_size=B)
    xs = rand(T, B, N_IN)
    step = brainstate.transform.jit(cell)
    got = np.stack([np.asarray(step(xs[t])) for t in range(T)])
    want = ref(cell, np.asarray(xs, np.float64))
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)
    if cls is nn.LSTMCell:  # the cell state is kept too
        assert cell.c.value.shape == (B, N_H) and bool(jnp.any(cell.c.value != 0))


def test_linear_matches_numpy():
    lin = nn.Linear(N_IN, N_H, w_init=np_init(), b_init=np_init(seed=2))
    x = rand(B, N_IN)
    W, b = params_of(lin)
    np.testing.assert_allclose(np.asarray(lin(x)), np.asarray(x, np.float64) @ W + b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('nsp,in_size,kernel,stride,padding', [
    (1, (9, 2), 3, 2, 'SAME'),
    (1, (9, 2), 4, 1, 'VALID'),
    (2, (6, 5, 2), (3, 2), 1, 'VALID'),
    (2, (6, 5, 2), 3, (2, 1), 'SAME'),
    (2, (6, 5, 2), 3, 1, ((1, 0), (2, 1))),
])
def test_conv_matches_lax(nsp, in_size, kernel, stride, padding):
    cls = nn.Conv1d if nsp == 1 else nn.Conv2d
    conv = cls(in_size, 3, kernel_size=kernel, stride=stride, padding=padding, w_init=np_init(),
               b_init=np_init(seed=3))
    x = rand(B, *in_size)
    K = conv.weight.value['weight']
    bias = conv.weight.value['bias']
    strides = stride if isinstance(stride, tuple) else (stride,) * nsp
    pad = padding if isinstance(padding, str) else [tuple(p) for p in padding]
    dn = ('NHC', 'HIO', 'NHC') if nsp == 1 else ('NHWC', 'HWIO', 'NHWC')
    want = jax.lax.conv_general_dilated(x, K, strides, pad, dimension_numbers=dn) + bias
    got = conv(x)
    assert got.shape == want.shape == (B,) + conv.out_size
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-5)
    # unbatched input gives the same as one batch row
    np.testing.assert_allclose(np.asarray(conv(x[0])), np.asarray(want[0]), rtol=1e-5, atol=1e-5)


def test_sparse_matches_dense_mask():
    mask = np.random.RandomState(3).rand(N_IN, N_H) < 0.5
    sp = nn.SparseLinear(N_IN, N_H, connectivity=mask, w_init=np_init(seed=4))
    dense = np_init(seed=4)((N_IN, N_H)) * mask          # same initializer draw, masked
    np.testing.assert_allclose(np.asarray(sp.to_dense()), dense, rtol=1e-6)
    x = rand(B, N_IN)
    np.testing.assert_allclose(np.asarray(sp(x)), np.asarray(x) @ dense, rtol=1e-5, atol=1e-6)
    assert sp.nnz == int(mask.sum())


def test_sparse_from_indices_and_prob():
    rows, cols = [0, 3, 3, 1], [2, 0, 1, 2]
    values = np.array([1., -2., 0.5, 3.], np.float32)
    sp = nn.SparseLinear(N_IN, N_H, connectivity=(rows, cols), w_init=values)
    dense = np.zeros((N_IN, N_H), np.float32)
    dense[rows, cols] = values
    x = rand(N_IN)
    np.testing.assert_allclose(np.asarray(sp(x)), np.asarray(x) @ dense, rtol=1e-6)
    a = nn.SparseLinear(50, 40, prob=0.2, seed=7, w_init=np_init())
    b = nn.SparseLinear(50, 40, prob=0.2, seed=7, w_init=np_init())
    np.testing.assert_array_equal(np.asarray(a.rows), np.asarray(b.rows))
    assert 0.1 < a.nnz / 2000 < 0.3


def test_lora_matches_formula():
    W0 = np_init(seed=5)((N_IN, N_H))
    lora = nn.LoRALinear(N_IN, N_H, rank=2, alpha=0.25, base_weight=W0, a_init=np_init(), b_init=np_init(seed=6))
    A = np.asarray(lora.weight.value['lora_a'])
    Bm = np.asarray(lora.weight.value['lora_b'])
    x = np.asarray(rand(B, N_IN))
    np.testing.assert_allclose(np.asarray(lora(x)), x @ W0 + 0.25 * (x @ A) @ Bm, rtol=1e-5, atol=1e-6)
    # the default B = 0 start equals the base layer; without base it is zero
    fresh = nn.LoRALinear(N_IN, N_H, rank=2, base_weight=W0, a_init=np_init())
    np.testing.assert_allclose(np.asarray(fresh(x)), x @ W0, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(nn.LoRALinear(N_IN, N_H, rank=2, a_init=np_init())(x)), 0.)


def test_leaky_readout_decays():
    ro = nn.LeakyRateReadout(N_IN, N_IN, tau=20. * u.ms, w_init=np.eye(N_IN, dtype=np.float32))
    ro.init_state(batch_size=B)
    x = rand(B, N_IN)
    r1 = np.asarray(ro(x))
    np.testing.assert_allclose(r1, np.asarray(x), rtol=1e-6)
    decay = np.exp(-1. / 20.)
    zero = jnp.zeros((B, N_IN))
    for k in range(1, 4):
        np.testing.assert_allclose(np.asarray(ro(zero)), r1 * decay ** k, rtol=1e-5)
    # constant input converges to x / (1 - decay)
    ro.reset_state(batch_size=B)
    step = brainstate.transform.jit(ro)
    for _ in range(400):
        r = step(x)
    np.testing.assert_allclose(np.asarray(r), np.asarray(x) / (1 - decay), rtol=1e-3)
    # dt is read at each step
    ro.reset_state(batch_size=B)
    ro(x)
    with brainstate.environ.context(dt=5. * u.ms):
        np.testing.assert_allclose(np.asarray(ro(zero)), np.asarray(x) * np.exp(-5. / 20.), rtol=1e-5)
