"""A per-unit parameter read through ``element_wise`` in a batched layer keeps its trace.

The op's output ``(H,)`` broadcasts over the batch ``(B, H)``: every row has its own
eligibility trace for it, and the parameter's gradient is their sum. So a batched
learner's gradient equals the sum of the same learner run on each sequence alone,
for every deterministic rule, and exact RTRL equals BPTT.
"""
import brainstate
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import braintrace_lab as bl
from braintrace_lab.oracle import bptt_grad

I, H, T, B = 4, 5, 6, 3
RULES = ('d_rtrl', 'pp_prop', 'eprop', 'ostl_recurrent', 'ostl_feedforward', 'otpe', 'ottt', 'rtrl', 'snap')
OPTIONS = {'pp_prop': {'decay_or_rank': 0.9}}


class LeakyWithTau(brainstate.nn.Module):
    """``h = a h + (1 - a) tanh(x W_in + h W_rec)`` with a learnable per-unit leak ``a = sigmoid(tau)``."""

    def __init__(self, tau_shape=(H,)):
        super().__init__()
        self.win = brainstate.ParamState(brainstate.random.randn(I, H) * 0.5)
        self.wr = brainstate.ParamState(brainstate.random.randn(H, H) * 0.3)
        self.tau = brainstate.ParamState(brainstate.random.randn(*tau_shape))

    def init_state(self, batch_size=None, **kwargs):
        self.h = brainstate.HiddenState(jnp.zeros((batch_size, H) if batch_size else (H,)))

    def update(self, x):
        a = bl.element_wise(self.tau.value, weight_fn=jax.nn.sigmoid)
        h = self.h.value
        self.h.value = a * h + (1 - a) * jnp.tanh(bl.matmul(x, self.win.value) + bl.matmul(h, self.wr.value))
        return self.h.value


XS = jax.random.normal(jax.random.PRNGKey(2), (T, B, I))
YS = jax.random.normal(jax.random.PRNGKey(3), (T, B, H))


def _grads(rule, row=None, tau_shape=(H,)):
    brainstate.random.seed(5)
    model = LeakyWithTau(tau_shape)
    xs, ys = (XS, YS) if row is None else (XS[:, row], YS[:, row])
    batch = {'batch_size': B} if row is None else {}
    learner = bl.compile(model, rule, xs[0], **batch, **OPTIONS.get(rule, {}))
    grads = learner.etrace_grad(xs, ys, step_fn=lambda x, y: jnp.sum((learner(x) - y) ** 2), reduction='sum')
    return {k[0]: np.asarray(v) for k, v in grads.items()}, learner


def test_the_per_unit_parameter_is_traced_with_no_warning():
    _, learner = _grads('d_rtrl')
    status = {p.path[0] if isinstance(p.path, tuple) else p.path: p.status for p in learner.graph.params}
    assert status['tau'] == 'traced', status
    assert not [d for d in learner.graph.diagnostics if d.level == 'warning']


@pytest.mark.parametrize('rule', RULES)
def test_a_batched_learner_is_the_sum_of_its_rows(rule):
    _check_rows(rule, (H,))


@pytest.mark.parametrize('rule', ['d_rtrl', 'rtrl'])
def test_a_leak_shared_by_all_units_is_traced_too(rule):
    """A scalar ``tau`` broadcasts over units (and rows): the same per-position trace, summed to ``()``."""
    _check_rows(rule, ())


def _check_rows(rule, tau_shape):
    batched, _ = _grads(rule, tau_shape=tau_shape)
    rows = [_grads(rule, b, tau_shape=tau_shape)[0] for b in range(B)]
    for name, g in batched.items():
        total = sum(r[name] for r in rows)
        assert np.abs(total).max() > 0
        np.testing.assert_allclose(g, total, rtol=2e-5, atol=2e-6 * np.abs(total).max(), err_msg=f'{rule}: {name}')


@pytest.mark.parametrize('tau_shape', [(H,), ()])
def test_exact_rtrl_through_the_broadcast_equals_bptt(tau_shape):
    online, learner = _grads('rtrl', tau_shape=tau_shape)
    brainstate.random.seed(5)
    model = LeakyWithTau(tau_shape)
    brainstate.nn.init_all_states(model, batch_size=B)
    exact = bptt_grad(model, XS, lambda out, t: jnp.sum((out - YS[t]) ** 2))[0]
    exact = {k[0]: np.asarray(v) for k, v in exact.items()}
    for name in ('tau', 'win', 'wr'):
        np.testing.assert_allclose(online[name], exact[name], rtol=1e-4, atol=1e-5 * np.abs(exact[name]).max())
