"""The same small user programs run against braintrace and through ``import braintrace_lab as
braintrace``: models, ``compile``, ops, layers and training steps give equal numbers.

Each program takes the package as its argument and is written once. Where this package
deliberately differs (docs/compatibility.md), the program passes the option that selects
braintrace's behaviour, or the test pins the difference.
"""
import brainevent
import brainpy
import brainstate
import braintools
import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import braintrace_lab

real = pytest.importorskip('braintrace')

# braintrace's sparse products run on brainevent kernels; its default CPU backend needs numba
brainevent.config.set_backend('cpu', 'jax_raw')

# braintrace reports the weights it leaves out of its traces (readouts, a GRU's reset gate)
pytestmark = pytest.mark.filterwarnings('ignore::UserWarning', 'ignore::DeprecationWarning')


def _leaves(tree):
    return [np.asarray(u.get_mantissa(x)) for x in jax.tree.leaves(tree)]


def _by_value(tree):
    """Leaves of a dict keyed by state path, in path order (braintrace's readout ``W`` is our ``weight``)."""
    if isinstance(tree, dict):
        key = lambda k: tuple('weight' if p == 'W' else p for p in (k if isinstance(k, tuple) else (k,)))
        return [leaf for k in sorted(tree, key=key) for leaf in _leaves(tree[k])]
    return _leaves(tree)


def assert_same(a, b, rtol=2e-5, atol=1e-6):
    la, lb = _by_value(a), _by_value(b)
    assert len(la) == len(lb)
    for x, y in zip(la, lb):
        assert x.shape == y.shape
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol)


def both(program, *args, ours=None, theirs=None):
    """``program(package, *args, **options)`` for braintrace and for braintrace_lab."""
    return program(real, *args, **(theirs or {})), program(braintrace_lab, *args, **(ours or {}))


# ---------------------------------------------------------------- programs
def rnn_training(bt, cell, algo, vmap=False, T=6, **options):
    """compile() a cell + linear readout on a batch, then etrace_grad with a step_fn."""
    class RNN(brainstate.nn.Module):
        def __init__(self):
            super().__init__()
            if cell == 'ValinaRNNCell':
                self.cell = bt.nn.ValinaRNNCell(3, 5, activation='tanh')
            else:
                self.cell = getattr(bt.nn, cell)(3, 5)
            self.out = bt.nn.Linear(5, 2)

        def update(self, x):
            return x >> self.cell >> self.out

    brainstate.random.seed(0)
    model = RNN()
    x0 = brainstate.random.randn(2, 3)
    xs, ys = brainstate.random.randn(T, 2, 3), brainstate.random.randn(T, 2, 2)
    learner = bt.compile(model, algo, x0, batch_size=2, vmap=vmap, **options)

    def step_loss(x, y):
        return jnp.mean((learner(x) - y) ** 2)
    grads, losses = learner.etrace_grad(xs, ys, step_fn=step_loss, return_value=True)
    outs = learner.etrace_evolve(xs, return_outputs=True)
    return grads, losses, outs


def snn_training(bt, algo, steps=3, **options):
    """The seed tutorial's SNN: unit-carrying Linear, brainpy LIF, LeakyRateReadout; Adam steps."""
    n_in, n_rec, n_out, T, B = 6, 8, 3, 12, 2

    class LIFNet(brainstate.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = bt.nn.Linear(n_in + n_rec, n_rec, w_init=braintools.init.KaimingNormal(unit=u.mA),
                                       b_init=braintools.init.ZeroInit(unit=u.mA))
            self.neuron = brainpy.state.LIF(n_rec, tau=20. * u.ms, R=1. * u.ohm, V_th=1. * u.mV,
                                            V_reset=0. * u.mV, V_rest=0. * u.mV,
                                            spk_fun=braintools.surrogate.ReluGrad(), spk_reset='soft')
            self.readout = bt.nn.LeakyRateReadout(n_rec, n_out, tau=20. * u.ms,
                                                  w_init=braintools.init.KaimingNormal())

        def update(self, x):
            self.neuron(self.linear(jnp.concatenate([x, self.neuron.get_spike()], axis=-1)))
            return self.readout(self.neuron())

    with brainstate.environ.context(dt=1. * u.ms):
        brainstate.random.seed(1)
        model = LIFNet()
        xs = (brainstate.random.rand(T, B, n_in) < 0.5).astype(float) * 40.
        ys = brainstate.random.randint(0, n_out, (T, B))
        learner = bt.compile(model, algo, xs[0], batch_size=B, **options)
        opt = braintools.optim.Adam(1e-2)
        opt.register_trainable_weights(learner.param_states)

        def step_loss(x, y):
            return braintools.metric.softmax_cross_entropy_with_integer_labels(learner(x), y).mean()
        losses = []
        for _ in range(steps):
            brainstate.nn.init_all_states(model, batch_size=B)
            grads, loss = learner.etrace_grad(xs, ys, step_fn=step_loss, return_value=True, loss_output='scalar')
            opt.update(grads)
            losses.append(loss)
        return jnp.stack(losses), {k: v.value for k, v in learner.param_states.items()}


def conv_training(bt, algo):
    """A Conv1d layer (channels last, brainstate's layout) and a raw conv (lax's default layout)."""
    class ConvNet(brainstate.nn.Module):
        def __init__(self):
            super().__init__()
            # no bias: braintrace 0.2.8's D-RTRL fails on a conv layer's (1, C) bias (ours traces it)
            self.conv = bt.nn.Conv1d((7, 2), 3, 3, padding=(1, 1))
            self.k = brainstate.ParamState(brainstate.random.randn(3, 3, 3) * 0.4)      # (O, I, W)
            self.out = bt.nn.Linear(7 * 3 * 2, 2)

        def init_state(self, batch_size=None, **kwargs):
            self.h = brainstate.HiddenState(jnp.zeros((batch_size, 7, 3)))
            self.g = brainstate.HiddenState(jnp.zeros((batch_size, 3, 7)))

        def update(self, x):
            self.h.value = 0.6 * self.h.value + jnp.tanh(self.conv(x))
            x_ncw = jnp.swapaxes(x @ jnp.ones((2, 3)), 1, 2)            # (N, C=3, W=7)
            self.g.value = 0.8 * self.g.value + jnp.tanh(bt.conv(x_ncw, self.k.value))
            flat = jnp.concatenate([self.h.value.reshape(2, -1), self.g.value.reshape(2, -1)], axis=-1)
            return self.out(flat)

    brainstate.random.seed(2)
    model = ConvNet()
    xs, ys = brainstate.random.randn(5, 2, 7, 2), brainstate.random.randn(5, 2, 2)
    learner = bt.compile(model, algo, xs[0], batch_size=2)

    def step_loss(x, y):
        return jnp.sum((learner(x) - y) ** 2)
    return learner.etrace_grad(xs, ys, step_fn=step_loss, return_value=True)


def op_values(bt):
    """Every ETP op called as braintrace documents it."""
    brainstate.random.seed(3)
    x = brainstate.random.randn(4, 6)
    w, b = brainstate.random.randn(6, 5), brainstate.random.randn(5)
    B, A = brainstate.random.randn(6, 2), brainstate.random.randn(2, 5)
    dense = np.asarray(brainstate.random.rand(6, 5) < 0.4, dtype=np.float32)
    csr = brainevent.CSR.fromdense(jnp.asarray(dense))
    xc, kc = brainstate.random.randn(2, 3, 9), brainstate.random.randn(4, 3, 3)
    x2, k2 = brainstate.random.randn(2, 2, 6, 5), brainstate.random.randn(4, 1, 3, 3)
    return [
        bt.matmul(x, w, b),
        bt.matmul(x, w, bias=b, weight_fn=jnp.abs, bias_fn=jnp.exp),
        bt.lora_matmul(x, B, A, alpha=0.5),
        bt.lora_matmul(x, B, A, bias=b, b_fn=jnp.tanh),
        bt.sparse_matmul(x, csr.data * 2., sparse_mat=csr),
        bt.sparse_matmul(x, csr.data, sparse_mat=csr, bias=b, weight_fn=jnp.tanh),
        bt.element_wise(b, weight_fn=jnp.tanh),
        bt.conv(xc, kc),
        bt.conv(xc, kc, jnp.arange(4.), strides=(2,), padding='VALID', rhs_dilation=(2,)),
        bt.conv(x2, k2, strides=(1, 1), feature_group_count=2, kernel_fn=jnp.tanh),
        bt.conv(jnp.transpose(x2, (0, 2, 3, 1)), jnp.transpose(k2, (2, 3, 1, 0)), strides=(1, 1),
                feature_group_count=2, dimension_numbers=('NHWC', 'HWIO', 'NHWC')),
    ]


def layer_values(bt):
    """Layers built after the same seed hold the same weights and compute the same outputs."""
    brainstate.random.seed(4)
    out = []
    mask = np.asarray(brainstate.random.rand(5, 4) < 0.7, dtype=np.float32)
    lin = bt.nn.Linear(5, 4, w_mask=mask)
    x = brainstate.random.randn(3, 5)
    out += [lin.weight.value, lin(x)]
    conv = bt.nn.Conv2d((6, 5, 4), 6, (3, 2), groups=2, rhs_dilation=(1, 2), padding=(1, 1),
                        b_init=braintools.init.Constant(0.1), w_mask=jnp.ones((3, 2, 2, 6)))
    xc = brainstate.random.randn(2, 6, 5, 4)
    out += [conv.weight.value, conv(xc), conv(xc[0]), conv.out_size, conv.in_channels, conv.kernel_shape]
    conv3 = bt.nn.Conv3d((4, 4, 4, 2), 3, 2, stride=2)
    out += [conv3(brainstate.random.randn(1, 4, 4, 4, 2))]
    csr = brainevent.CSR.fromdense(jnp.asarray(np.asarray(brainstate.random.rand(5, 4) < 0.5, np.float32)))
    sp = bt.nn.SparseLinear(csr, b_init=braintools.init.Constant(0.5))
    out += [sp.weight.value, sp(x)]
    with brainstate.environ.context(dt=1. * u.ms):
        ro = bt.nn.LeakyRateReadout(5, 3, tau=10. * u.ms)
        ro.init_state(batch_size=3)
        out += [ro.decay, ro.W.value, ro(x), ro(x)]
    signed = bt.nn.SignedWLinear(5, 4, w_sign=jnp.where(jnp.arange(20).reshape(5, 4) % 3 == 0, -1., 1.))
    lora = bt.nn.LoRA(5, 2, 4, base_module=bt.nn.Linear(5, 4))
    out += [signed(x), lora.weight.value, lora(x)]
    for name in ('ValinaRNNCell', 'GRUCell', 'LSTMCell', 'MGUCell', 'MiniGRU', 'MiniLSTM'):
        cell = getattr(bt.nn, name)(5, 4)           # braintrace's defaults (ValinaRNNCell: relu)
        brainstate.nn.init_all_states(cell, batch_size=3)
        out += [cell(x), cell(x)]
    return out


# ---------------------------------------------------------------- tests
PP_BRAINTRACE_FORM = {'normalized': True, 'bias_correction': True}

RNN_CASES = [
    ('ValinaRNNCell', 'd_rtrl', {}, {}),
    ('MGUCell', 'd_rtrl', {}, {}),
    ('MiniGRU', 'd_rtrl', {}, {}),
    ('MiniLSTM', 'pp_prop', {'decay_or_rank': 0.8}, PP_BRAINTRACE_FORM),
    ('ValinaRNNCell', 'eprop', {'kappa_filter_decay': 0.5}, {}),
    ('ValinaRNNCell', 'ostl_recurrent', {}, {}),
    ('ValinaRNNCell', 'ostl_feedforward', {}, {}),
    ('ValinaRNNCell', 'ostl_feedforward', {'decay_or_rank': 0.5}, PP_BRAINTRACE_FORM),
    ('ValinaRNNCell', 'pp_prop', {'decay_or_rank': 0.9}, PP_BRAINTRACE_FORM),
    ('MGUCell', 'pp_prop', {'decay_or_rank': 0.7}, PP_BRAINTRACE_FORM),
    ('ValinaRNNCell', 'd_rtrl', {'vmap': True}, {}),
    ('ValinaRNNCell', 'pp_prop', {'decay_or_rank': 0.9, 'vmap': True}, PP_BRAINTRACE_FORM),
]


@pytest.mark.parametrize('cell,algo,options,ours_extra', RNN_CASES)
def test_compile_and_etrace_grad_give_braintraces_numbers(cell, algo, options, ours_extra):
    (g1, l1, o1), (g2, l2, o2) = both(rnn_training, cell, algo, theirs=options, ours={**options, **ours_extra})
    assert sorted(g1) == sorted(g2)
    assert_same(l1, l2)
    assert_same(g1, g2, rtol=1e-4, atol=1e-5)
    assert_same(o1, o2)


def test_gru_reset_gate_gets_its_one_step_gradient_here_and_zero_in_braintrace():
    (g1, l1, _), (g2, l2, _) = both(rnn_training, 'GRUCell', 'd_rtrl')
    assert_same(l1, l2)
    for key in g1:
        if key[:2] == ('cell', 'Wr'):
            assert all(float(np.abs(a).max()) == 0 for a in _leaves(g1[key]))      # braintrace: no gradient
            assert all(float(np.abs(a).max()) > 0 for a in _leaves(g2[key]))       # ours: the immediate one
        else:
            assert_same(g1[key], g2[key], rtol=1e-4, atol=1e-5)


def plain_input_training(bt, T=5):
    """braintrace's reference-RNN style: the input weight read by plain ``x @ win``, the recurrent
    one by ``bt.matmul``; compile() on a batch, then etrace_grad with a step_fn."""
    class RNN(brainstate.nn.Module):
        def __init__(self):
            super().__init__()
            self.win = brainstate.ParamState(brainstate.random.randn(3, 5) * 0.5)
            self.wrec = brainstate.ParamState(brainstate.random.randn(5, 5) * 0.5)
            self.out = bt.nn.Linear(5, 2)

        def init_state(self, batch_size=None, **kwargs):
            self.h = brainstate.HiddenState(jnp.zeros((batch_size, 5)))

        def update(self, x):
            self.h.value = jnp.tanh(x @ self.win.value + bt.matmul(self.h.value, self.wrec.value))
            return self.out(self.h.value)

    brainstate.random.seed(0)
    model = RNN()
    xs, ys = brainstate.random.randn(T, 2, 3), brainstate.random.randn(T, 2, 2)
    learner = bt.compile(model, 'd_rtrl', xs[0], batch_size=2)

    def step_loss(x, y):
        return jnp.mean((learner(x) - y) ** 2)
    grads, losses = learner.etrace_grad(xs, ys, step_fn=step_loss, return_value=True)
    return grads, losses


def test_plain_jax_input_weight_gets_its_one_step_gradient_here_and_zero_in_braintrace():
    (g1, l1), (g2, l2) = both(plain_input_training)
    assert_same(l1, l2)
    assert set(g1) == set(g2)
    for key in g1:
        if key == ('win',):
            assert all(float(np.abs(a).max()) == 0 for a in _leaves(g1[key]))      # braintrace: no gradient
            assert all(float(np.abs(a).max()) > 0 for a in _leaves(g2[key]))       # ours: the immediate one
        else:
            assert_same(g1[key], g2[key], rtol=1e-4, atol=1e-5)


def test_pp_prop_default_is_braintraces_times_a_known_factor():
    """Our default output factor is ``ef = a D ef + Df``; braintrace's is ``(1 - a)`` times that,
    divided by ``1 - a^n``: equal after one step, different later (docs/compatibility.md)."""
    (g1, _, _), (g2, _, _) = both(rnn_training, 'ValinaRNNCell', 'pp_prop',
                                  theirs={'decay_or_rank': 0.9, 'T': 1}, ours={'decay_or_rank': 0.9, 'T': 1})
    assert_same(g1, g2, rtol=1e-4, atol=1e-5)
    (g1, _, _), (g2, _, _) = both(rnn_training, 'ValinaRNNCell', 'pp_prop',
                                  theirs={'decay_or_rank': 0.9}, ours={'decay_or_rank': 0.9})
    hidden = [k for k in g1 if k[0] == 'cell']
    assert not np.allclose(_by_value({k: g1[k] for k in hidden})[0], _by_value({k: g2[k] for k in hidden})[0])


@pytest.mark.parametrize('algo,options,ours_extra', [('d_rtrl', {}, {}), ('eprop', {}, {}),
                                                     ('es_d_rtrl', {'decay_or_rank': 0.99}, PP_BRAINTRACE_FORM)])
def test_seed_snn_training_steps_match(algo, options, ours_extra):
    (l1, w1), (l2, w2) = both(snn_training, algo, theirs=options, ours={**options, **ours_extra})
    assert_same(l1, l2)
    assert_same(w1, w2, rtol=1e-4, atol=1e-6)


def test_conv_models_match():
    (g1, l1), (g2, l2) = both(conv_training, 'd_rtrl')
    assert_same(l1, l2)
    assert_same(g1, g2, rtol=1e-4, atol=1e-5)


def test_ops_give_braintraces_values():
    a, b = both(op_values)
    for i, (x, y) in enumerate(zip(a, b)):
        np.testing.assert_allclose(np.asarray(y), np.asarray(x), rtol=1e-5, atol=1e-5, err_msg=f'op value {i}')


def test_layers_give_braintraces_values():
    a, b = both(layer_values)
    assert len(a) == len(b)
    for i, (x, y) in enumerate(zip(a, b)):
        if isinstance(x, (tuple, int)):
            assert tuple(np.atleast_1d(x)) == tuple(np.atleast_1d(y)), i
            continue
        assert_same(x, y)


def test_learner_members_match():
    def members(bt):
        brainstate.random.seed(5)
        model = bt.nn.GRUCell(3, 4)
        x = brainstate.random.randn(2, 3)
        learner = bt.compile(model, bt.D_RTRL, x, batch_size=2)
        keys = sorted(learner.param_states.keys())
        first = learner(x)
        learner.init_etrace_state()
        brainstate.nn.reset_all_states(model, batch_size=2)
        again = learner(x)
        return keys, first, again, len(learner.graph.hidden_groups)
    (k1, f1, a1, n1), (k2, f2, a2, n2) = both(members)
    assert k1 == k2 and n1 == n2
    assert_same(f1, f2)
    assert_same(a1, a2)
    assert_same(f2, a2)
