"""Shapes, states, chaining and ETP visibility of every ``braintrace_lab.nn`` layer."""
import brainstate
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import braintrace_lab.nn as nn
from nn_testutils import LAYERS, consumers, etp_eqns, np_init, param_invars, rand, step_jaxpr

NAMES = sorted(LAYERS)


def make(name):
    factory, n_etp = LAYERS[name]
    return factory(), n_etp


def hidden_states(model):
    return model.states(brainstate.HiddenState)


@pytest.mark.parametrize('name', NAMES)
def test_forward_unbatched_batched_and_reset(name):
    model, _ = make(name)
    step = brainstate.transform.jit(model)
    brainstate.nn.init_all_states(model)
    assert step(jnp.ones(model.in_size)).shape == model.out_size
    hidden = hidden_states(model)
    for st in hidden.values():
        assert st.value.shape == model.out_size

    brainstate.nn.init_all_states(model, batch_size=4)
    x = rand(4, *model.in_size)
    y1 = step(x)
    assert y1.shape == (4,) + model.out_size
    hidden = hidden_states(model)
    for st in hidden.values():
        assert st.value.shape == (4,) + model.out_size
    if hidden:
        assert any(bool(jnp.any(st.value != 0)) for st in hidden.values())
    brainstate.nn.reset_all_states(model, batch_size=4)
    for st in hidden.values():
        np.testing.assert_array_equal(np.asarray(st.value), 0.)
    # after a reset the first step repeats exactly
    np.testing.assert_allclose(np.asarray(step(x)), np.asarray(y1), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize('name', ['Linear', 'Conv1d', 'GRUCell', 'LeakyRateReadout'])
def test_rshift_eager(name):
    model, _ = make(name)
    brainstate.nn.init_all_states(model, batch_size=4)
    x = np.ones((4,) + model.in_size, np.float32)
    y_np = x >> model          # NumPy arrays must not map >> element-wise
    model.reset_state(batch_size=4)
    y_jnp = jnp.asarray(x) >> model
    assert y_np.shape == y_jnp.shape == (4,) + model.out_size
    np.testing.assert_allclose(np.asarray(y_np), np.asarray(y_jnp), rtol=1e-6)


@pytest.mark.parametrize('name', NAMES)
def test_each_weight_reaches_output_through_etp_op(name):
    model, n_etp = make(name)
    brainstate.nn.init_all_states(model)
    x = jnp.ones(model.in_size)
    jaxpr, states = step_jaxpr(model, x)
    eqns = etp_eqns(jaxpr)
    assert len(eqns) == n_etp
    # no plain matrix products or convolutions next to the ETP ops
    prims = {e.primitive.name for e in jaxpr.jaxpr.eqns}
    assert not prims & {'dot_general', 'conv_general_dilated'}
    # every ParamState leaf is consumed only by etp_op equations
    pinv = param_invars(jaxpr, states, (x,))
    n_params = sum(len(jax.tree.leaves(p.value)) for p in model.states(brainstate.ParamState).values())
    assert len(pinv) == n_params > 0
    for key, var in pinv.items():
        users = consumers(jaxpr, var)
        assert users, f'{name}: weight {key} unused'
        assert all(e.primitive.name == 'etp_op' for e in users), \
            f'{name}: weight {key} used by {[e.primitive.name for e in users]}'


@pytest.mark.parametrize('name', ['Conv1d', 'GRUCell', 'LSTMCell'])
def test_etp_visible_under_vmap(name):
    model, _ = make(name)
    brainstate.nn.init_all_states(model, batch_size=3)
    vmapped = brainstate.nn.Vmap(model, in_axes=0, vmap_states=brainstate.HiddenState)
    x = rand(3, *model.in_size)
    jaxpr, _ = step_jaxpr(vmapped, x)
    y = brainstate.transform.jit(vmapped)(x)
    assert y.shape == (3,) + model.out_size
    brainstate.nn.reset_all_states(model, batch_size=3)
    np.testing.assert_allclose(np.asarray(y), np.asarray(brainstate.transform.jit(model)(x)), rtol=1e-5, atol=1e-6)
    assert etp_eqns(jaxpr)
    assert not {e.primitive.name for e in jaxpr.jaxpr.eqns} & {'dot_general', 'conv_general_dilated'}


def test_etp_visible_under_jax_vmap_and_jit():
    lin = nn.Linear(4, 2, w_init=np_init(), b_init=np_init())
    w = lin.weight.value

    def f(x):
        return lin(x)

    jaxpr = jax.make_jaxpr(jax.jit(jax.vmap(f)))(jnp.ones((5, 4)))
    inner = jaxpr.jaxpr.eqns[0].params['jaxpr']
    assert [e.primitive.name for e in inner.eqns].count('etp_op') == 1
    np.testing.assert_allclose(np.asarray(jax.vmap(f)(jnp.ones((5, 4)))),
                               np.broadcast_to(np.ones(4) @ np.asarray(w['weight']) + np.asarray(w['bias']), (5, 2)),
                               rtol=1e-5)


@pytest.mark.parametrize('name', NAMES)
def test_gradients_flow(name):
    model, _ = make(name)
    brainstate.nn.init_all_states(model, batch_size=2)
    params = model.states(brainstate.ParamState)
    x = rand(2, 2, *model.in_size)

    def loss():
        model.reset_state(batch_size=2)
        out = 0.
        for t in range(2):       # several steps: gradients also flow through the hidden states
            out = out + jnp.sum(jnp.sin(model(x[t])))
        return out

    grads = brainstate.transform.jit(brainstate.transform.grad(loss, params))()
    for path, g in grads.items():
        for leaf_path, leaf in jax.tree_util.tree_flatten_with_path(g)[0]:
            arr = np.asarray(leaf)
            assert np.all(np.isfinite(arr)), (path, leaf_path)
            assert np.any(arr != 0), f'{name}: zero gradient for {path}{jax.tree_util.keystr(leaf_path)}'


def test_param_state_layout():
    lin = nn.Linear(5, 3)          # default initializers
    assert set(lin.weight.value) == {'weight', 'bias'}
    assert lin.weight.value['weight'].shape == (5, 3)
    np.testing.assert_array_equal(np.asarray(lin.weight.value['bias']), 0.)
    assert set(nn.Linear(5, 3, w_init=np_init(), use_bias=False).weight.value) == {'weight'}
    assert set(nn.Linear(5, 3, w_init=np_init(), b_init=None).weight.value) == {'weight'}
    conv = nn.Conv2d((8, 8, 3), 4, kernel_size=3, w_init=np_init())      # brainstate's default: no bias
    assert set(conv.weight.value) == {'weight'} and conv.weight.value['weight'].shape == (3, 3, 3, 4)
    conv = nn.Conv2d((8, 8, 3), 4, kernel_size=3, w_init=np_init(), b_init=np_init())
    assert conv.weight.value['bias'].shape == (1, 1, 4)
    assert conv.in_channels == 3 and conv.kernel_shape == (3, 3, 3, 4)
    lora = nn.LoRALinear(6, 4, rank=2, a_init=np_init())
    assert set(lora.weight.value) == {'lora_a', 'lora_b'}
    assert lora.weight.value['lora_a'].shape == (6, 2) and lora.weight.value['lora_b'].shape == (2, 4)
    gru = nn.GRUCell(3, 4, w_init=np_init())
    assert set(gru.states(brainstate.ParamState)) == {('Wr', 'weight'), ('Wz', 'weight'), ('Wh', 'weight')}
    assert gru.Wr.weight.value['weight'].shape == (7, 4)
    lstm = nn.LSTMCell(3, 4, w_init=np_init())
    lstm.init_state(batch_size=2)
    assert set(lstm.states(brainstate.HiddenState)) == {('h',), ('c',)}
    assert {k[0] for k in lstm.states(brainstate.ParamState)} == {'Wi', 'Wf', 'Wg', 'Wo'}
    assert lstm.Wg.weight.value['weight'].shape == (7, 4)
    mgu = nn.MGUCell(3, 4, w_init=np_init())
    assert set(mgu.states(brainstate.ParamState)) == {('Wf', 'weight'), ('Wh', 'weight')}
    sp = nn.SparseLinear(5, 3, connectivity=([0, 4, 2], [1, 1, 0]), w_init=np_init())
    assert set(sp.weight.value) == {'weight'} and sp.weight.value['weight'].shape == (3,) and sp.nnz == 3
    ro = nn.LeakyRateReadout(5, 3, w_init=np_init())
    assert ro.weight.value.shape == (5, 3) and ro.W is ro.weight


@pytest.mark.parametrize('padding,stride,expected', [
    ('SAME', 1, (10, 7, 4)), ('SAME', 2, (5, 4, 4)), ('VALID', 1, (8, 5, 4)),
    ('VALID', (2, 3), (4, 2, 4)), (1, 1, (10, 7, 4)), (((0, 1), (2, 0)), 1, (9, 7, 4)),
])
def test_conv_out_size(padding, stride, expected):
    conv = nn.Conv2d((10, 7, 2), 4, kernel_size=3, stride=stride, padding=padding, w_init=np_init())
    assert conv.out_size == expected
    assert jax.eval_shape(conv, jax.ShapeDtypeStruct((2, 10, 7, 2), jnp.float32)).shape == (2,) + expected


def test_repr_is_readable():
    text = repr(nn.GRUCell(5, 3, activation='relu', w_init=np_init()))
    assert 'GRUCell' in text and "activation='relu'" in text and 'PjitFunction' not in text
    assert 'state_init' not in text and 'num_in' not in text
    assert 'Linear((5,) -> (3,)' in repr(nn.Linear(5, 3, w_init=np_init()))
    assert 'SparseLinear' in repr(nn.SparseLinear(5, 3, prob=0.5, w_init=np_init()))


def test_activation_options():
    x = jnp.linspace(-2, 2, 3)
    for name, fn in [('relu', jax.nn.relu), ('sigmoid', jax.nn.sigmoid), ('identity', lambda v: v),
                     ('TANH', jnp.tanh)]:
        cell = nn.VanillaRNNCell(3, 2, activation=name, w_init=np_init(), b_init=np_init())
        cell.init_state()
        w = cell.W.weight.value
        want = fn(jnp.concatenate([x, jnp.zeros(2)]) @ w['weight'] + w['bias'])
        np.testing.assert_allclose(np.asarray(cell(x)), np.asarray(want), rtol=1e-5, atol=1e-6)
    cell = nn.VanillaRNNCell(3, 2, activation=jax.nn.softplus, w_init=np_init())
    cell.init_state()
    assert cell(x).shape == (2,)
    assert nn.ValinaRNNCell is nn.VanillaRNNCell
