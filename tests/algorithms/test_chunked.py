"""``etrace_grad(chunk=K)``: the deferred factor products give the per-step driver's sum."""
import jax.numpy as jnp
import pytest

import braintrace_lab as bl
from braintrace_lab.algorithms import chunked
from braintrace_lab.models import get_fixture, mse_loss

from engine_testutils import worst_error

# (fixture, rule, options, weight products the driver sums itself; the rest keep per-step gradients).
# The GRU's reset gate Wr (immediate-only: one-step gradient) is deferred under every rule but RTRL.
CASES = [('rnn', bl.pp_prop, {'decay_or_rank': 0.8}, 1), ('gru', bl.pp_prop, {'decay_or_rank': 0.8}, 3),
         ('leaky', bl.pp_prop, {'decay_or_rank': 0.6}, 1), ('linear_leaky', bl.ES_D_RTRL, {'decay_or_rank': 0.5}, 1),
         ('lif', bl.pp_prop, {'decay_or_rank': 0.9}, 1), ('alif', bl.EProp, {}, 0),
         ('conv_leaky', bl.pp_prop, {'decay_or_rank': 0.7}, 0), ('leaky_sparse', bl.pp_prop, {'decay_or_rank': 0.5}, 0),
         ('gru', bl.D_RTRL, {}, 1), ('gru', bl.RTRL, {}, 0)]


def _grads(fx, algo, xs, ys, chunk, batch_size=None, **opts):
    learner = algo(fx.build(batch_size=batch_size), **opts)
    learner.compile_graph(xs[0])
    grads, losses = learner.etrace_grad(xs, ys, mse_loss, chunk=chunk)
    return grads, losses, learner


@pytest.mark.parametrize('name,algo,opts,n_deferred', CASES, ids=[f'{c[0]}-{c[1].__name__}' for c in CASES])
@pytest.mark.parametrize('chunk', [1, 3, 10])
def test_chunked_sum_equals_per_step_sum(name, algo, opts, n_deferred, chunk):
    import brainstate
    fx = get_fixture(name)
    with fx.context():
        xs, ys = fx.data(T=7, seed=5)
        ref, ref_losses, learner = _grads(fx, algo, xs, ys, None, **opts)
        deferred = chunked.deferrable(learner, learner.model.states(brainstate.ParamState))
        assert len(deferred) == n_deferred, [item.key for item in deferred]
        got, losses, _ = _grads(fx, algo, xs, ys, chunk, **opts)
    assert jnp.allclose(losses, ref_losses, rtol=1e-6, atol=1e-7)
    assert worst_error(got, ref) < 1e-5


def test_batched_model_and_the_deferred_part_is_really_added(monkeypatch):
    import brainstate
    fx = get_fixture('rnn')
    with fx.context():
        xs, ys = fx.data(T=6, seed=3, batch_size=3)
        ref, _, learner = _grads(fx, bl.pp_prop, xs, ys, None, batch_size=3, decay_or_rank=0.8)
        deferred = chunked.deferrable(learner, learner.model.states(brainstate.ParamState))
        assert deferred, 'the RNN weight should be deferred under pp_prop'
        got, _, _ = _grads(fx, bl.pp_prop, xs, ys, 4, batch_size=3, decay_or_rank=0.8)
        assert worst_error(got, ref) < 1e-5
        # negative control: without the chunk products the deferred weights lose their gradient
        monkeypatch.setattr(chunked, '_add_chunk', lambda acc, deferred, factors: acc)
        broken, _, _ = _grads(fx, bl.pp_prop, xs, ys, 4, batch_size=3, decay_or_rank=0.8)
    assert worst_error(broken, ref) > 0.5


def test_immediate_only_weight_is_deferred_not_dropped(monkeypatch):
    """The GRU reset gate's one-step gradient, added per chunk: equal to the per-step one, and gone
    (not silently kept per step as well) when the chunk products are skipped."""
    import brainstate
    fx = get_fixture('gru')
    with fx.context():
        xs, ys = fx.data(T=6, seed=2, batch_size=2)
        ref, _, learner = _grads(fx, bl.D_RTRL, xs, ys, None, batch_size=2)
        [item] = chunked.deferrable(learner, learner.model.states(brainstate.ParamState))
        assert item.immediate and {t[0] for t in item.targets} == {('cell', 'Wr', 'weight')}
        wr = ('cell', 'Wr', 'weight')
        assert float(jnp.abs(ref[wr]['weight']).max()) > 1e-4
        got, _, _ = _grads(fx, bl.D_RTRL, xs, ys, 4, batch_size=2)
        assert worst_error(got, ref) < 1e-5
        monkeypatch.setattr(chunked, '_add_chunk', lambda acc, deferred, factors: acc)
        broken, _, _ = _grads(fx, bl.D_RTRL, xs, ys, 4, batch_size=2)
    assert float(jnp.abs(broken[wr]['weight']).max()) == 0.0
    assert float(jnp.abs(broken[wr]['bias']).max()) == 0.0
    others = {k: v for k, v in ref.items() if k != wr}
    assert worst_error({k: broken[k] for k in others}, others) < 1e-5


def test_chunk_errors_name_the_option():
    fx = get_fixture('rnn')
    with fx.context():
        xs, ys = fx.data(T=4, seed=1)
        learner = bl.pp_prop(fx.build(), decay_or_rank=0.8)
        learner.compile_graph(xs[0])
        with pytest.raises(ValueError, match='chunk must be a positive int'):
            learner.etrace_grad(xs, ys, mse_loss, chunk=0)
        with pytest.raises(ValueError, match='not both'):
            learner.etrace_grad(xs, ys, mse_loss, chunk=2, window=2)


@pytest.mark.parametrize('cell,n_deferred', [('lstm', 4), ('mgu', 2)])
def test_chunked_sum_on_the_other_gated_cells(cell, n_deferred):
    """LSTM and MGU (nn cells, not catalog fixtures): every gate weight deferred, same sum."""
    import brainstate
    from braintrace_lab.models.catalog import RecurrentNet
    fx = get_fixture('gru')                   # its data and dt; the model is built here
    with fx.context():
        xs, ys = fx.data(T=7, seed=4, batch_size=3)

        def grads(chunk):
            model = RecurrentNet(cell, n_in=4, n_hidden=6, n_out=3, seed=1)
            brainstate.nn.init_all_states(model, batch_size=3)
            learner = bl.pp_prop(model, decay_or_rank=0.7)
            learner.compile_graph(xs[0])
            return learner.etrace_grad(xs, ys, mse_loss, chunk=chunk)[0], learner

        ref, learner = grads(None)
        assert len(chunked.deferrable(learner, learner.model.states(brainstate.ParamState))) == n_deferred
        for chunk in (3, 5):
            assert worst_error(grads(chunk)[0], ref) < 1e-5


def test_chunked_driver_runs_under_jit_with_a_deferred_reset_gate():
    """The deferred reset gate's probe keeps one structure from compile on, so a jitted
    ``etrace_grad(chunk=K)`` traces (it used to fail: the probe changed from () to a tuple)
    and gives the eager driver's gradients."""
    import brainstate
    import jax
    fx = get_fixture('gru')
    xs, ys = fx.data()

    def learner():
        lr = bl.pp_prop(fx.build(), decay_or_rank=0.8)
        lr.compile_graph(xs[0])
        return lr

    eager, eager_losses = learner().etrace_grad(xs, ys, mse_loss, chunk=4)
    jitted_learner = learner()
    assert any(item.immediate for item in chunked.deferrable(
        jitted_learner, jitted_learner.model.states(brainstate.ParamState)))
    got, losses = brainstate.transform.jit(lambda a, b: jitted_learner.etrace_grad(a, b, mse_loss, chunk=4))(xs, ys)
    assert worst_error(got, eager) < 1e-6
    assert float(jnp.max(jnp.abs(losses - eager_losses))) < 1e-6
    assert jax.tree.structure(got) == jax.tree.structure(eager)
