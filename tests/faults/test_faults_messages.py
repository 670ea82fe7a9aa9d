"""Engine-side faults: bad sequences, batches, units, widget arguments and while loops get messages that name them."""
import brainstate
import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import braintrace_lab as bl
from braintrace_lab import lab, ops
from braintrace_lab.models import get_fixture, mse_loss
from braintrace_lab.widgets import AlgorithmArena, GradientAgreement, GraphView, LiveChart, TraceMonitor


def _flat(tree):
    return np.concatenate([np.ravel(np.asarray(getattr(a, 'mantissa', a))) for a in jax.tree.leaves(tree)])


@pytest.fixture(scope='module')
def leaky():
    """A compiled D-RTRL learner on the unbatched leaky fixture (4 inputs, 3 outputs) and a 6-step sequence."""
    fx = get_fixture('leaky')
    with fx.context():
        learner = bl.compile(fx.build(), 'd_rtrl', jnp.ones(4))
        xs, ys = fx.data(T=6)
    return learner, xs, ys


# ------------------------------------------------------------------ 1. sequence lengths in etrace_grad
def test_targets_shorter_than_inputs_are_refused(leaky):
    learner, xs, ys = leaky
    with pytest.raises(ValueError, match=r'ys has 4 time steps \(shape \(4, 3\)\) but xs has 6.*\(T, batch, \.\.\.\)'):
        learner.etrace_grad(xs, ys[:4], mse_loss)


def test_every_leaf_of_ys_is_checked(leaky):
    learner, xs, ys = leaky
    pair = {'a': ys, 'b': ys[:5]}
    with pytest.raises(ValueError, match=r"ys\['b'\] has 5 time steps.*xs has 6"):
        learner.etrace_grad(xs, pair, lambda out, y: mse_loss(out, y['a']) + mse_loss(out, y['b']))


def test_zero_time_steps_are_refused(leaky):
    learner, xs, ys = leaky
    with pytest.raises(ValueError, match=r'xs has zero time steps \(shape \(0, 4\)\).*\(T, batch, \.\.\.\)'):
        learner.etrace_grad(xs[:0], ys[:0], mse_loss)


def test_osttp_targets_are_checked_against_the_inputs():
    fx = get_fixture('leaky')
    with fx.context():
        learner = bl.compile(fx.build(), 'osttp', jnp.ones(4), target_shape=(3,))
        xs, ys = fx.data(T=6)
        with pytest.raises(ValueError, match=r'targets has 4 time steps.*xs has 6'):
            learner.etrace_grad(xs, ys, mse_loss, targets=ys[:4])
        with pytest.raises(ValueError, match=r'targets has 5 time steps.*xs has 6'):
            learner.etrace_grad(xs, ys[:5], mse_loss)      # the targets default to ys


# ------------------------------------------------------------------ 2. messages that point at the problem
def test_example_input_batch_differs_from_the_states_batch():
    fx = get_fixture('leaky')
    with fx.context():
        model = fx.build(batch_size=4)
        with pytest.raises(bl.CompilationError,
                           match=r"input 0 has shape \(8, 4\), but hidden state 'h' has shape \(4, 6\).*"
                                 r"init_all_states\(model, batch_size=8\).*batch 4"):
            bl.compile(model, 'd_rtrl', jnp.ones((8, 4)))
        learner = bl.compile(model, 'd_rtrl', jnp.ones((4, 4)))       # the matching batch compiles
        assert learner.graph.groups[0].varshape == (4, 6)


class CurrentDriven(brainstate.nn.Module):
    """``h = 0.5 h + tanh((x / A) W)``: the input is a current."""

    def __init__(self):
        super().__init__()
        self.w = brainstate.ParamState(jnp.full((3, 4), 0.3))

    def init_state(self, batch_size=None, **kwargs):
        self.h = brainstate.HiddenState(jnp.zeros(4))

    def update(self, x):
        self.h.value = 0.5 * self.h.value + jnp.tanh(ops.matmul(x / u.amp, self.w.value))
        return self.h.value


def test_an_input_in_another_unit_is_named():
    model = CurrentDriven()
    brainstate.nn.init_all_states(model)
    learner = bl.compile(model, 'd_rtrl', jnp.ones(3) * u.amp)
    out = learner(jnp.ones(3) * u.amp)                                # the compiled unit works
    np.testing.assert_allclose(np.asarray(out), np.tanh(0.9), rtol=1e-6)
    with pytest.raises(ValueError, match=r'input 0 has unit mA, but the graph was compiled for A; convert it '
                                         r'with x\.to\(u\.A\)'):
        learner(jnp.ones(3) * u.mA)
    with pytest.raises(ValueError, match=r'input 0 is a plain array \(no unit\), but the graph was compiled for '
                                         r'unit A; pass x \* u\.A'):
        learner(jnp.ones(3))
    with pytest.raises(ValueError, match=r'input 0 has unit mV.*different physical dimension'):
        learner(jnp.ones(3) * u.mV)


def test_widgets_refuse_the_wrong_kind_of_object():
    fx = get_fixture('leaky')
    with fx.context():
        model = fx.build()
    with pytest.raises(TypeError, match=r'GraphView needs a compiled learner or its ETraceGraph.*got a model '
                                        r"\(LeakyNet\).*braintrace_lab\.compile\(model, 'd_rtrl', x0\)"):
        GraphView(model)
    with pytest.raises(TypeError, match=r"GraphView needs .*got str 'w'"):
        GraphView('w')
    with pytest.raises(TypeError, match=r'TraceMonitor needs a compiled learner, got a model \(LeakyNet\)'):
        TraceMonitor(model)
    with pytest.raises(TypeError, match=r'GradientAgreement needs model_factory, a function batch_size -> model.*'
                                        r'got a model \(LeakyNet\)'):
        GradientAgreement(model, 'leaky', compute=False)
    with pytest.raises(TypeError, match=r'GradientAgreement needs data: a Task.*got int 42'):
        GradientAgreement(None, 42, compute=False)
    with pytest.raises(TypeError, match=r'AlgorithmArena needs model_factory.*got a model \(LeakyNet\)'):
        AlgorithmArena(model, 'dms')
    with pytest.raises(TypeError, match=r'AlgorithmArena needs task: .*got float 3\.0'):
        AlgorithmArena(lab.fixture_model('leaky'), 3.0)


def test_widgets_still_take_what_they_document(leaky):
    learner = leaky[0]
    assert GraphView(learner).error == '' and GraphView(learner.graph).param_names
    assert TraceMonitor().learner is None and TraceMonitor(learner, min_interval=1e9).learner is learner
    view = GradientAgreement(None, 'leaky', algorithms='pp_prop', compute=False)   # one name is one algorithm
    assert view.algorithms == ('pp_prop',) and view.algorithm == 'pp_prop'


def test_live_chart_panels_are_checked():
    with pytest.raises(TypeError, match=r"LiveChart\(panels=\.\.\.\) needs a list of panel dicts.*got NoneType"):
        LiveChart(panels=None)
    with pytest.raises(TypeError, match=r'needs a list of panel dicts.*got dict'):
        LiveChart(panels={'title': 'loss'})
    with pytest.raises(ValueError, match=r'panels=\[\]\) has nothing to draw'):
        LiveChart(panels=[])
    with pytest.raises(TypeError, match=r"panel 1 is str 'accuracy'; each panel is a dict"):
        LiveChart(panels=[{'title': 'loss'}, 'accuracy'])
    chart = LiveChart(panels=[{'title': 'loss'}])
    assert chart.layout_spec['panels'] == [{'title': 'loss'}]


# ------------------------------------------------------------------ 3. while loops and reverse mode
def _shrink_while(y):
    return jax.lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, c[1] * 0.9), (0, y))[1]


@jax.custom_jvp
def _shrink_custom(y):
    return _shrink_while(y)


@_shrink_custom.defjvp
def _shrink_custom_jvp(primals, tangents):
    return _shrink_custom(primals[0]), tangents[0] * 0.9 ** 3


POST = {
    'scale': lambda y, x: y * 0.9 ** 3,
    'fori_static': lambda y, x: jax.lax.fori_loop(0, 3, lambda i, c: c * 0.9, y),   # a scan: reversible
    'custom_jvp': lambda y, x: _shrink_custom(y),             # reverse mode uses the rule, not the loop
    'while_on_input': lambda y, x: y * 0.9 ** 3 + 0 * _shrink_while(x).sum(),        # no weight in the loop
    'while_stopped': lambda y, x: y * 0.9 ** 3 + 0 * _shrink_while(jax.lax.stop_gradient(y)),
    'while': lambda y, x: _shrink_while(y),
    'while_in_jit': lambda y, x: jax.jit(_shrink_while)(y),
    'while_in_cond': lambda y, x: jax.lax.cond(x.sum() > 0, _shrink_while, lambda v: v, y),
    'while_in_scan': lambda y, x: jax.lax.scan(lambda c, _: (_shrink_while(c), None), y, None, length=1)[0],
}


class ReadoutPost(brainstate.nn.Module):
    """A leaky layer, a readout, then post-processing of the readout (``POST[mode]``)."""

    def __init__(self, mode):
        super().__init__()
        self.mode = mode
        self.w = brainstate.ParamState(jnp.linspace(-0.5, 0.5, 12).reshape(3, 4))
        self.r = brainstate.ParamState(jnp.linspace(-0.4, 0.6, 8).reshape(4, 2))

    def init_state(self, batch_size=None, **kwargs):
        self.h = brainstate.HiddenState(jnp.zeros(4))

    def update(self, x):
        self.h.value = 0.5 * self.h.value + jnp.tanh(ops.matmul(x, self.w.value))
        return POST[self.mode](ops.matmul(self.h.value, self.r.value), x)


def _post_learner(mode):
    model = ReadoutPost(mode)
    brainstate.nn.init_all_states(model)
    return bl.compile(model, 'd_rtrl', jnp.ones(3))


@pytest.mark.parametrize('mode', ['while', 'while_in_jit', 'while_in_cond', 'while_in_scan'])
def test_a_while_loop_on_the_gradient_path_is_refused_at_compile_time(mode):
    with pytest.raises(bl.CompilationError, match=r"while_loop.*computed from 'h', 'w', 'r'.*reverse-mode "
                                                  r'differentiation through a while_loop is impossible.*'
                                                  r'jax\.lax\.scan.*fori_loop with a static'):
        _post_learner(mode)


def test_the_refusal_points_at_the_loop():
    with pytest.raises(bl.CompilationError, match=r'while_loop at .*test_faults_messages\.py:\d+'):
        _post_learner('while_in_jit')          # even inside a jit, which the compiler inlines


def test_models_without_a_reversed_while_loop_are_unaffected():
    xs = jnp.sin(jnp.arange(15.0)).reshape(5, 3)
    ys = jnp.cos(jnp.arange(10.0)).reshape(5, 2)
    ref, ref_losses = _post_learner('scale').etrace_grad(xs, ys, mse_loss)
    for mode in ('fori_static', 'custom_jvp', 'while_on_input', 'while_stopped'):
        grads, losses = _post_learner(mode).etrace_grad(xs, ys, mse_loss)
        np.testing.assert_allclose(np.asarray(losses), np.asarray(ref_losses), rtol=1e-5, err_msg=mode)
        assert set(grads) == set(ref)
        for k in ref:
            np.testing.assert_allclose(_flat(grads[k]), _flat(ref[k]), rtol=1e-5, atol=1e-7, err_msg=f'{mode} {k}')
        assert all(np.abs(_flat(g)).sum() > 0 for g in grads.values())


# ------------------------------------------------------------------ 4. OSTTP's default target shape
def test_osttp_defaults_to_the_output_width():
    fx = get_fixture('leaky')
    with fx.context():
        xs, ys = fx.data(T=5, seed=3)
        default = bl.compile(fx.build(), 'osttp', jnp.ones(4))
        explicit = bl.compile(fx.build(), 'osttp', jnp.ones(4), target_shape=(3,))
        assert default.target_shape == (3,) == explicit.target_shape
        g1, l1 = default.etrace_grad(xs, ys, mse_loss)
        g2, l2 = explicit.etrace_grad(xs, ys, mse_loss)
        np.testing.assert_allclose(np.asarray(l1), np.asarray(l2), rtol=1e-6)
        assert set(g1) == set(g2)
        for k in g2:
            np.testing.assert_allclose(_flat(g1[k]), _flat(g2[k]), rtol=1e-6, err_msg=str(k))
        assert all(np.abs(_flat(g)).sum() > 0 for g in g1.values())
        batched = bl.compile(fx.build(batch_size=2), 'osttp', jnp.ones((2, 4)))
        assert batched.target_shape == (2, 3)                 # one target per sample: (batch, n_out)


class TwoOutputs(ReadoutPost):
    def update(self, x):
        return super().update(x), self.h.value


def test_osttp_without_a_single_output_asks_for_target_shape():
    model = TwoOutputs('scale')
    brainstate.nn.init_all_states(model)
    with pytest.raises(bl.CompilationError, match=r'2 output array\(s\) of shape\(s\) \[\(2,\), \(4,\)\].*'
                                                  r'target_shape=\(n_out,\)'):
        bl.compile(model, 'osttp', jnp.ones(3))
