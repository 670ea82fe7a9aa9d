"""braintrace's learner surface on this package's learners: compile(batch_size=, vmap=, seed=,
verbose=), param_states, etrace_grad(step_fn=...), etrace_evolve, init_etrace_state and the
constructor keywords braintrace spells differently."""
import brainstate
import braintools
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import braintrace_lab as braintrace
from braintrace_lab.algorithms.three_factor import ThreeFactor
from braintrace_lab.models import get_fixture, mse_loss
from braintrace_lab.registry import resolve_algorithm


class RNN(brainstate.nn.Module):
    def __init__(self):
        super().__init__()
        self.cell = braintrace.nn.ValinaRNNCell(3, 5, activation='tanh')
        self.out = braintrace.nn.Linear(5, 2)

    def update(self, x):
        return x >> self.cell >> self.out


def _data(T=6, B=2, seed=0):
    k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
    return jax.random.normal(k1, (T, B, 3)), jax.random.normal(k2, (T, B, 2))


def _close(a, b, rtol=1e-5, atol=1e-6):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol)


def test_compile_initialises_states_with_the_batch_size():
    brainstate.random.seed(0)
    model = RNN()                                   # never initialised by hand
    xs, _ = _data()
    learner = braintrace.compile(model, 'd_rtrl', xs[0], batch_size=2)
    assert model.cell.h.value.shape == (2, 5)
    assert learner(xs[0]).shape == (2, 2)
    with pytest.raises(ValueError, match='batch_size'):
        braintrace.compile(model, 'd_rtrl', xs[0], vmap=True)
    with pytest.raises(ValueError, match='verbose'):
        braintrace.compile(model, 'd_rtrl', xs[0], batch_size=2, verbose=3)


def test_compile_keeps_the_batch_of_states_initialised_by_hand():
    fx = get_fixture('leaky')
    with fx.context():
        model = fx.build(batch_size=3)
        learner = braintrace.compile(model, 'd_rtrl', jnp.ones((3, 4)))
    assert model.h.value.shape == (3, 6) and learner.is_compiled


def test_compile_seed_makes_state_initialisation_reproducible(capsys):
    class Noisy(RNN):
        def __init__(self):
            super().__init__()
            self.cell = braintrace.nn.ValinaRNNCell(3, 5, state_init=braintools.init.Normal(0.0, 1.0), activation='tanh')
    xs, _ = _data()
    first = braintrace.compile(Noisy(), 'd_rtrl', xs[0], batch_size=2, seed=4).model.cell.h.value
    again = braintrace.compile(Noisy(), 'd_rtrl', xs[0], batch_size=2, seed=4, verbose=1).model.cell.h.value
    np.testing.assert_array_equal(first, again)
    assert 'relation' in capsys.readouterr().out


def test_compile_refuses_a_model_with_nothing_to_learn_online():
    class ReadoutOnly(brainstate.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = brainstate.ParamState(jnp.ones((3, 2)))

        def init_state(self, *args, **kwargs):
            self.h = brainstate.HiddenState(jnp.zeros(3))

        def update(self, x):
            self.h.value = 0.5 * self.h.value + x          # no trainable weight reaches it
            return braintrace.matmul(self.h.value, self.w.value)
    with pytest.raises(braintrace.CompilationError, match='nothing to learn online'):
        braintrace.compile(ReadoutOnly(), 'd_rtrl', jnp.ones(3))


def test_compile_names_what_to_use_for_braintrace_rules_not_served():
    with pytest.raises(ValueError, match='no .dni. rule'):
        braintrace.compile(RNN(), 'dni', jnp.ones((2, 3)), batch_size=2)


def test_three_factor_by_name_is_this_packages_rule_and_braintraces_class_is_not_served():
    """braintrace's ThreeFactor is D-RTRL with a caller-given modulator in place of dL/dh; this
    package's 'three_factor' is node perturbation: same name, other numbers (docs/compatibility.md)."""
    assert resolve_algorithm('three_factor') is ThreeFactor
    with pytest.raises(AttributeError, match="does not provide braintrace's 'ThreeFactor'; use .*node perturbation"):
        braintrace.ThreeFactor


def test_etrace_grad_with_step_fn_is_the_mean_of_the_summed_online_gradient():
    xs, ys = _data()
    brainstate.random.seed(0)
    ours = braintrace.compile(RNN(), 'd_rtrl', xs[0], batch_size=2)
    summed, losses = ours.etrace_grad(xs, ys, lambda out, y: jnp.mean((out - y) ** 2))
    brainstate.random.seed(0)
    learner = braintrace.compile(RNN(), 'd_rtrl', xs[0], batch_size=2)

    def step_loss(x, y):
        return jnp.mean((learner(x) - y) ** 2)
    grads, per_step = learner.etrace_grad(xs, ys, step_fn=step_loss, return_value=True)
    _close(grads, jax.tree.map(lambda g: g / xs.shape[0], summed))
    _close(per_step, losses)
    assert set(grads) == set(learner.param_states)


def test_etrace_grad_mask_reduction_and_loss_outputs():
    xs, ys = _data()
    mask = jnp.array([1., 0., 1., 1., 0., 1.])
    results = {}
    for reduction in ('sum', 'mean'):
        brainstate.random.seed(0)
        learner = braintrace.compile(RNN(), 'd_rtrl', xs[0], batch_size=2)
        step = lambda x, y, lr=learner: jnp.mean((lr(x) - y) ** 2)
        results[reduction] = learner.etrace_grad(xs, ys, step_fn=step, mask=mask, reduction=reduction,
                                                 loss_output='scalar', return_value=True)
    (g_sum, v_sum), (g_mean, v_mean) = results['sum'], results['mean']
    _close(g_mean, jax.tree.map(lambda g: g / 4.0, g_sum))
    np.testing.assert_allclose(v_mean, v_sum / 4.0, rtol=1e-6)
    with pytest.raises(ValueError, match='mask'):
        learner.etrace_grad(xs, ys, step_fn=lambda x, y: 0.0, mask=jnp.ones(3))
    with pytest.raises(ValueError, match='share a leading length'):
        learner.etrace_grad(xs, ys[:3], step_fn=lambda x, y: 0.0)


def test_etrace_grad_windows_need_a_multi_step_learner():
    xs, ys = _data()
    brainstate.random.seed(0)
    learner = braintrace.compile(RNN(), 'd_rtrl', xs[0], batch_size=2)
    with pytest.raises(ValueError, match="multi-step"):
        learner.etrace_grad(xs, ys, step_fn=lambda x, y: 0.0, chunk_size=2)
    brainstate.random.seed(0)
    windowed = braintrace.compile(RNN(), 'd_rtrl', xs[0], batch_size=2, vjp_method='multi-step')

    def window_loss(x, y):
        return jnp.mean((windowed(braintrace.MultiStepData(x)) - y) ** 2, axis=(1, 2))
    grads = windowed.etrace_grad(xs, ys, step_fn=window_loss, chunk_size=3)
    assert set(grads) == set(windowed.param_states)


def test_etrace_evolve_advances_states_like_calling_the_learner():
    xs, _ = _data()
    brainstate.random.seed(0)
    a = braintrace.compile(RNN(), 'd_rtrl', xs[0], batch_size=2)
    outs = a.etrace_evolve(xs, return_outputs=True)
    brainstate.random.seed(0)
    b = braintrace.compile(RNN(), 'd_rtrl', xs[0], batch_size=2)
    want = jnp.stack([b(x) for x in xs])
    _close(outs, want)
    _close(a.etrace.value, b.etrace.value)
    assert a.etrace_evolve(xs) is None


def test_vmap_compile_returns_a_vmapped_learner_with_the_drivers():
    xs, ys = _data()
    brainstate.random.seed(0)
    batched = braintrace.compile(RNN(), 'd_rtrl', xs[0], batch_size=2)
    brainstate.random.seed(0)
    mapped = braintrace.compile(RNN(), 'd_rtrl', xs[0], batch_size=2, vmap=True)
    assert isinstance(mapped, braintrace.ETraceVmap) and isinstance(mapped, brainstate.nn.Vmap)
    assert isinstance(mapped.module, braintrace.D_RTRL)
    g1 = batched.etrace_grad(xs, ys, step_fn=lambda x, y: jnp.mean((batched(x) - y) ** 2))
    g2 = mapped.etrace_grad(xs, ys, step_fn=lambda x, y: jnp.mean((mapped(x) - y) ** 2))
    _close(g1, g2, rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match='vmapped'):
        mapped.etrace_evolve(xs, chunk_size=2)


def test_init_etrace_state_zeroes_traces_and_leaves_the_model_states():
    xs, _ = _data()
    brainstate.random.seed(0)
    learner = braintrace.compile(RNN(), 'd_rtrl', xs[0], batch_size=2)
    learner.etrace_evolve(xs)
    h = learner.model.cell.h.value
    assert any(float(jnp.abs(t).max()) > 0 for t in jax.tree.leaves(learner.etrace.value))
    learner.init_etrace_state()
    assert all(float(jnp.abs(t).max()) == 0 for t in jax.tree.leaves(learner.etrace.value))
    np.testing.assert_array_equal(learner.model.cell.h.value, h)


def test_param_states_are_the_models_parameters_by_path():
    brainstate.random.seed(0)
    learner = braintrace.compile(RNN(), 'd_rtrl', jnp.ones((2, 3)), batch_size=2)
    assert dict(learner.param_states) == dict(learner.model.states(brainstate.ParamState))
    assert set(learner.hidden_states) == {('cell', 'h')}


def test_eprop_and_ostl_take_braintraces_keywords():
    fx = get_fixture('leaky')
    with fx.context():
        xs, ys = fx.data(T=5, seed=1)
        grads = {}
        for name, options in [('kappa', {'kappa': 0.5}), ('bt', {'kappa_filter_decay': 0.5})]:
            learner = braintrace.EProp(fx.build(), **options)
            learner.compile_graph(xs[0])
            grads[name] = learner.etrace_grad(xs, ys, mse_loss)[0]
        _close(grads['kappa'], grads['bt'])
        assert braintrace.EProp(fx.build(), random_feedback_key=jax.random.PRNGKey(3)).feedback_seed == 3
        with pytest.raises(TypeError, match='once'):
            braintrace.EProp(fx.build(), kappa=0.2, kappa_filter_decay=0.5)
        assert braintrace.OSTLFeedforward(fx.build(), decay_or_rank=0.5).decay == 0.5
        assert braintrace.OSTLFeedforward(fx.build(), decay_or_rank=3).decay == 0.5     # rank r: (r-1)/(r+1)


def test_bias_corrected_pp_prop_is_exact_first_and_a_known_multiple_later():
    """braintrace's form: ``(1 - a) / (1 - a^n)`` times the default output factor at step ``n``."""
    fx = get_fixture('linear_leaky')
    a = 0.8
    with fx.context():
        xs, ys = fx.data(T=4, seed=2)

        def per_step(**options):
            learner = braintrace.pp_prop(fx.build(), decay_or_rank=a, **options)
            learner.compile_graph(xs[0])
            out = []
            for t in range(xs.shape[0]):
                out.append(learner.etrace_grad(xs[t:t + 1], ys[t:t + 1], mse_loss)[0])
            return out
        plain, corrected = per_step(), per_step(normalized=True, bias_correction=True)
    for n, (p, c) in enumerate(zip(plain, corrected), start=1):
        factor = (1 - a) / (1 - a ** n)
        np.testing.assert_allclose(np.asarray(c[('w',)]['weight']), factor * np.asarray(p[('w',)]['weight']),
                                   rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match='rank'):
        braintrace.pp_prop(fx.build(), decay_or_rank=3, bias_correction=True)


def test_lstm_one_step_gradient_is_exact():
    """The c -> h path inside one step is counted once (braintrace 0.2.8 counts it twice)."""
    brainstate.random.seed(0)
    cell = braintrace.nn.LSTMCell(3, 4)
    x, y = jax.random.normal(jax.random.PRNGKey(0), (2, 3)), jax.random.normal(jax.random.PRNGKey(1), (2, 4))
    learner = braintrace.compile(cell, 'd_rtrl', x, batch_size=2)
    grads = learner.etrace_grad(x[None], y[None], step_fn=lambda a, b: jnp.sum((learner(a) - b) ** 2),
                                reduction='sum')
    brainstate.nn.init_all_states(cell, batch_size=2)
    exact = brainstate.transform.grad(lambda: jnp.sum((cell(x) - y) ** 2), cell.states(brainstate.ParamState))()
    _close(grads, exact, rtol=1e-5, atol=1e-6)
