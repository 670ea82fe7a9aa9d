"""A learner vmapped over samples returns batch totals, and per-sample gradients stay per sample."""
import brainstate
import jax
import jax.numpy as jnp
import pytest

import braintrace_lab as bl
from braintrace_lab.algorithms import base
from braintrace_lab.algorithms.batch_sum import called_under_shared_vmap
from braintrace_lab.models import get_fixture, mse_loss

from engine_testutils import online_grads, worst_error
from test_transforms import _seed_style_grads

CASES = [('lif', bl.D_RTRL, {}), ('gru', bl.D_RTRL, {}), ('gru', bl.pp_prop, {'decay_or_rank': 0.7}),
         ('conv_leaky', bl.D_RTRL, {}), ('leaky_lora', bl.D_RTRL, {}), ('alif', bl.EProp, {}),
         ('lif', bl.OTPE, {}), ('lif', bl.OSTLRecurrent, {}), ('rnn', bl.RTRL, {})]


@pytest.mark.parametrize('name,algo,opts', CASES, ids=[f'{c[0]}-{c[1].__name__}' for c in CASES])
def test_batch_totals_equal_per_sample_cotangents(name, algo, opts, monkeypatch):
    """Seed-style Vmap training: the batch-total step gives what JAX's own batch sum gives."""
    built = []
    real = base.ETraceAlgorithm._build_step
    monkeypatch.setattr(base.ETraceAlgorithm, '_build_step',
                        lambda self, summed=False, **kw: built.append(summed) or real(self, summed, **kw))
    fx = get_fixture(name)
    with fx.context():
        xs, ys = fx.data(T=5, seed=21, batch_size=3)
        totals = _seed_style_grads(fx, algo, xs, ys, **opts)
        monkeypatch.setattr(algo, 'batch_totals', False)
        plain = _seed_style_grads(fx, algo, xs, ys, **opts)
    assert (True in built) == (algo is not bl.RTRL), 'the batch-total step was (not) used under vmap'
    assert worst_error(totals, plain) < 1e-5


@pytest.mark.parametrize('name,algo', [('lif', bl.D_RTRL), ('gru', bl.D_RTRL), ('conv_leaky', bl.D_RTRL)])
def test_vmapped_d_rtrl_equals_the_batched_model(name, algo):
    fx = get_fixture(name)
    with fx.context():
        xs, ys = fx.data(T=5, seed=21, batch_size=3)
        native, _, _ = online_grads(fx, algo, xs, ys, batch_size=3)
        vmapped = _seed_style_grads(fx, algo, xs, ys)
    assert worst_error(vmapped, native) < 1e-5


def test_batch_totals_only_for_grad_of_vmap_with_shared_weights():
    """The mode is chosen at the call: ``grad(vmap(f))`` with shared weights sums over the
    batch; ``vmap(grad(f))`` (per-sample gradients) and per-sample weights do not."""
    seen = []

    def f(p, x):
        seen.append(called_under_shared_vmap(p, x))
        return jnp.sum(jnp.tanh(x @ p))

    p = jnp.ones((3, 2))
    P, X = jnp.ones((4, 3, 2)), jnp.ones((4, 3))
    jax.grad(lambda w: jax.vmap(f, in_axes=(None, 0))(w, X).sum())(p)
    jax.vmap(jax.grad(f), in_axes=(None, 0))(p, X)
    jax.grad(lambda w: jax.vmap(f)(w, X).sum())(P)
    f(p, X[0])
    assert seen == [True, False, False, False]
