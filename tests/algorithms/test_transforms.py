"""jit, vmap batching and brainunit quantities give the same gradients as the plain path."""
import brainstate
import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np

import braintrace_lab as bl
from braintrace_lab import ops
from braintrace_lab.models import get_fixture, mse_loss
from braintrace_lab.models.seed_training import per_sample_learner, summed_step_grads
from braintrace_lab.oracle import relative_error

from engine_testutils import online_grads, worst_error


def test_jit_matches_eager():
    fx = get_fixture('alif')
    with fx.context():
        xs, ys = fx.data(T=8, seed=11)
        eager, _, _ = online_grads(fx, bl.D_RTRL, xs, ys)
        model = fx.build()
        learner = bl.D_RTRL(model)
        learner.compile_graph(xs[0])
        run = brainstate.transform.jit(lambda a, b: learner.etrace_grad(a, b, mse_loss))
        jitted, _ = run(xs, ys)
        again, _ = run(xs, ys)          # states carried on: a second window of the same data
        assert worst_error(jitted, eager) < 1e-6
        assert worst_error(again, eager) > 1e-6


def _seed_style_grads(fx, algo, xs, ys, **opts):
    """The seed tutorial's batching: vmap_new_states + brainstate.nn.Vmap, grad per step, scan."""
    model = fx.make()
    weights = model.states(brainstate.ParamState)

    @brainstate.transform.jit
    def step(inputs, targets):
        batched = per_sample_learner(model, algo(model, **opts), inputs[0, 0], inputs.shape[1])

        def loss_fn(xy):
            x, y = xy
            return jax.vmap(mse_loss)(batched(x), y).sum()

        return summed_step_grads(loss_fn, weights, (inputs, targets))[0]

    return step(xs, ys)


def test_vmap_batching_matches_batched_model():
    fx = get_fixture('lif')
    with fx.context():
        xs, ys = fx.data(T=6, seed=12, batch_size=3)
        for algo, opts in ((bl.D_RTRL, {}), (bl.pp_prop, {'decay_or_rank': 0.8})):
            native, _, _ = online_grads(fx, algo, xs, ys, batch_size=3, **opts)
            vmapped = _seed_style_grads(fx, algo, xs, ys, **opts)
            assert worst_error(vmapped, native) < 1e-5, algo


class Integrator(brainstate.nn.Module):
    """``v = 0.7 v + x W`` with or without units (W in mV, v in mV)."""

    def __init__(self, unit):
        super().__init__()
        w = jax.random.normal(jax.random.PRNGKey(0), (3, 4))
        self.unit = unit
        self.w = brainstate.ParamState(w * unit if unit is not None else w)
        self.v = brainstate.HiddenState(jnp.zeros(4) * unit if unit is not None else jnp.zeros(4))

    def update(self, x):
        self.v.value = 0.7 * self.v.value + jnp.tanh(ops.matmul(x, self.w.value) / (self.unit or 1.0)) * (self.unit or 1.0)
        v = self.v.value
        return (v / self.unit) if self.unit is not None else v


def test_units_give_the_plain_gradients():
    xs = jax.random.normal(jax.random.PRNGKey(1), (7, 3))
    ys = jax.random.normal(jax.random.PRNGKey(2), (7, 4))
    grads = []
    for unit in (None, u.mV):
        learner = bl.D_RTRL(Integrator(unit))
        learner.compile_graph(xs[0])
        g, _ = learner.etrace_grad(xs, ys, mse_loss)
        grads.append(np.ravel(getattr(g[('w',)], 'mantissa', g[('w',)])))
    assert relative_error(grads[1], grads[0]) < 1e-6
    assert np.abs(grads[0]).sum() > 0


def test_bfloat16_traces_halve_memory_and_stay_close():
    fx = get_fixture('lif')
    with fx.context():
        xs, ys = fx.data(T=8, seed=13)
        for algo, opts in ((bl.D_RTRL, {}), (bl.pp_prop, {'decay_or_rank': 0.9}), (bl.pp_prop, {'decay_or_rank': 3})):
            low, _, learner_low = online_grads(fx, algo, xs, ys, trace_dtype=jnp.bfloat16, **opts)
            full, _, learner_full = online_grads(fx, algo, xs, ys, **opts)
            assert 2 * learner_low.trace_memory()['w'] == learner_full.trace_memory()['w']
            assert 0 < worst_error(low, full) < 2e-2
