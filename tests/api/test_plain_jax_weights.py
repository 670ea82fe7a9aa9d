"""Weights that reach a hidden state through plain JAX operations (``x @ win``, a LayerNorm's
scale before a cell): accepted with their one-step (immediate) gradient, named in
``graph.explain()`` with the fix, never silently zero; ``strict=True`` refuses them."""
import brainstate
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import braintrace_lab as bl
from braintrace_lab.errors import CompilationError


class PlainInput(brainstate.nn.Module):
    """``h = tanh(x @ win + matmul(h, wrec))``: ``win`` by plain JAX, ``wrec`` by an ETP op."""

    def __init__(self, both_ways=False):
        super().__init__()
        self.both_ways = both_ways
        self.win = brainstate.ParamState(brainstate.random.randn(3, 4) * 0.5)
        self.wrec = brainstate.ParamState(brainstate.random.randn(4, 4) * 0.5)
        self.wout = brainstate.ParamState(brainstate.random.randn(4, 2) * 0.5)

    def init_state(self, batch_size=None, **kwargs):
        self.h = brainstate.HiddenState(jnp.zeros((4,)))

    def update(self, x):
        drive = x @ self.win.value
        if self.both_ways:          # the same weight also read by a traced op
            drive = drive + bl.matmul(self.h.value[:3], self.win.value)
        self.h.value = jnp.tanh(drive + bl.matmul(self.h.value, self.wrec.value))
        return self.h.value @ self.wout.value


def loss_fn(out, y):
    return jnp.mean((out - y) ** 2)


def bptt_grads(params, xs, ys):
    """The exact gradient of the summed loss, written out by hand for :class:`PlainInput`."""
    def total(p):
        def step(h, xy):
            x, y = xy
            h = jnp.tanh(x @ p['win'] + h @ p['wrec'])
            return h, loss_fn(h @ p['wout'], y)
        _, losses = jax.lax.scan(step, jnp.zeros(4), (xs, ys))
        return losses.sum()
    return jax.grad(total)(params)


def _data(T):
    brainstate.random.seed(7)
    return brainstate.random.randn(T, 3), brainstate.random.randn(T, 2)


def _learner(**options):
    brainstate.random.seed(0)
    model = PlainInput()
    return model, bl.compile(model, 'd_rtrl', jnp.ones(3), **options)


def _params(model):
    return {k: model.states(brainstate.ParamState)[(k,)].value for k in ('win', 'wrec', 'wout')}


def test_plain_weight_gets_exactly_bptts_gradient_at_the_first_step_after_reset():
    model, learner = _learner()
    xs, ys = _data(1)
    learner.init_etrace_state()
    grads, _ = learner.etrace_grad(xs, ys, loss_fn)
    ref = bptt_grads(_params(model), xs, ys)
    assert float(jnp.abs(ref['win']).sum()) > 0
    for k in ('win', 'wrec', 'wout'):
        np.testing.assert_allclose(grads[(k,)], ref[k], rtol=1e-5, atol=1e-7)


def test_plain_weight_gradient_is_one_step_only_over_a_longer_sequence():
    model, learner = _learner()
    xs, ys = _data(8)
    grads, _ = learner.etrace_grad(xs, ys, loss_fn)
    ref = bptt_grads(_params(model), xs, ys)
    win = np.asarray(grads[('win',)])
    assert np.abs(win).sum() > 0                       # never silently zero
    gap = np.abs(win - ref['win']).max() / np.abs(ref['win']).max()
    assert gap > 1e-2, gap                              # the history through h is left out
    np.testing.assert_allclose(grads[('wout',)], ref['wout'], rtol=1e-5, atol=1e-7)


def test_explain_names_the_plain_weight_with_the_reason_and_the_fix():
    _, learner = _learner()
    record = learner.graph.param('win')
    assert record.status == 'immediate_only'
    assert 'plain JAX operations' in record.reason and 'one-step (immediate) gradient' in record.reason
    text = learner.graph.explain()
    assert 'param win: immediate_only' in text
    assert 'Route it through an ETP op such as braintrace_lab.matmul to get a trace' in text
    assert learner.graph.param('wrec').status == 'traced'


def test_strict_refuses_plain_weights():
    with pytest.raises(CompilationError, match=r"'win' reaches hidden state\(s\) \['h'\] through plain JAX"):
        _learner(strict=True)
    brainstate.random.seed(0)
    model = PlainInput()
    brainstate.nn.init_all_states(model)
    with pytest.raises(CompilationError, match='strict=True'):
        bl.compile_etrace_graph(model, jnp.ones(3), strict=True)
    learner = bl.D_RTRL(model)
    with pytest.raises(CompilationError, match='through plain JAX'):
        learner.compile_graph(jnp.ones(3), strict=True)
    with pytest.raises(TypeError, match='strict must be True or False'):
        bl.compile_etrace_graph(model, jnp.ones(3), strict='yes')


def test_a_weight_both_traced_and_plain_is_refused_with_the_reason():
    brainstate.random.seed(0)
    model = PlainInput(both_ways=True)
    with pytest.raises(CompilationError, match='also read by a traced ETP op'):
        bl.compile(model, 'd_rtrl', jnp.ones(3))


class NormThenCell(brainstate.nn.Module):
    """A LayerNorm (its scale and bias are ParamStates) before a recurrent cell."""

    def __init__(self):
        super().__init__()
        self.norm = brainstate.nn.LayerNorm(3)
        self.cell = bl.nn.ValinaRNNCell(3, 4, activation='tanh')
        self.out = bl.nn.Linear(4, 2)

    def update(self, x):
        return self.out(self.cell(self.norm(x)))


def test_a_layernorm_before_a_cell_learns_by_its_one_step_gradient():
    brainstate.random.seed(0)
    model = NormThenCell()
    xs, ys = _data(5)
    learner = bl.compile(model, 'd_rtrl', xs[0])
    assert learner.graph.param('norm.weight').status == 'immediate_only'
    assert learner.graph.param('cell.W.weight').status == 'traced'
    learner.init_etrace_state()
    grads, _ = learner.etrace_grad(xs[:1], ys[:1], loss_fn)

    # BPTT at T=1 after reset: the plain gradient of one step from the initial state
    brainstate.nn.init_all_states(model)
    params = model.states(brainstate.ParamState)
    ref = brainstate.transform.grad(lambda: loss_fn(model(xs[0]), ys[0]), grad_states=params)()
    scale = grads[('norm', 'weight')]['scale']
    assert float(jnp.abs(scale).sum()) > 0
    for k in params:
        for a, b in zip(jax.tree.leaves(grads[k]), jax.tree.leaves(ref[k])):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)

