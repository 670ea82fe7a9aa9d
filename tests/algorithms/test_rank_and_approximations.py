"""pp_prop's rank form, and negative controls for the approximate regimes."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import braintrace_lab as bl
from braintrace_lab.models import get_fixture
from braintrace_lab.oracle import agreement, cosine, relative_error

from engine_testutils import online_grads, reference, worst_error


def _flat(grads, key):
    return np.concatenate([np.ravel(getattr(x, 'mantissa', x)) for x in jax.tree.leaves(grads[key])])


def test_full_rank_reproduces_d_rtrl_and_error_shrinks_with_rank():
    fx = get_fixture('leaky')           # trace of W (I=4, O=6): rank up to min(I, O) = 4
    with fx.context():
        xs, ys = fx.data(T=12, seed=5)
        d_rtrl, _, _ = online_grads(fx, bl.D_RTRL, xs, ys)
        errors, memory = {}, {}
        for r in (1, 2, 3):
            g, _, learner = online_grads(fx, bl.pp_prop, xs, ys, decay_or_rank=r)
            errors[r] = relative_error(_flat(g, ('w',)), _flat(d_rtrl, ('w',)))
            memory[r] = learner.trace_memory()['w']
        g, _, _ = online_grads(fx, bl.pp_prop, xs, ys, decay_or_rank=4)
        assert worst_error(g, d_rtrl) < 1e-5
        assert errors[1] > errors[2] > errors[3] > 1e-5, errors
        # memory linear in r: equal increments per rank (the bias trace is the constant part)
        assert memory[2] - memory[1] == memory[3] - memory[2] > 0


def test_lossless_rank_equals_bptt_on_exact_fixture():
    fx = get_fixture('leaky')            # I = 4, O = 6, S = 1 -> rank 4 is lossless
    with fx.context():
        xs, ys = fx.data(T=8, seed=6)
        ref, _ = reference(fx, xs, ys)
        g, _, _ = online_grads(fx, bl.pp_prop, xs, ys, decay_or_rank=4)
        assert worst_error(g, ref) < 1e-5


@pytest.mark.parametrize('name', ['rnn', 'gru'])
def test_approximate_regimes_differ_from_bptt_and_decay_matters(name, capsys):
    fx = get_fixture(name)
    with fx.context():
        xs, ys = fx.data(T=12, seed=7)
        ref, _ = reference(fx, xs, ys)
        d_rtrl, _, _ = online_grads(fx, bl.D_RTRL, xs, ys)
        pp_a, _, learner = online_grads(fx, bl.pp_prop, xs, ys, decay_or_rank=0.3)
        pp_b, _, _ = online_grads(fx, bl.pp_prop, xs, ys, decay_or_rank=0.9)
        traced = {tuple(p.path.split('.')) for p in learner.graph.params if p.status == 'traced'}
        recurrent = [k for k in ref if k[0] == 'cell']
        assert traced and traced <= set(recurrent)
        for k in recurrent:
            assert relative_error(_flat(d_rtrl, k), _flat(ref, k)) > 1e-3, f'{k}: D-RTRL equals BPTT on {name}?'
        for k in traced:
            assert relative_error(_flat(pp_a, k), _flat(pp_b, k)) > 1e-3, f'{k}: decay has no effect'
        # the readout is outside every trace: exact in every rule
        for g in (d_rtrl, pp_a, pp_b):
            assert relative_error(_flat(g, ('readout', 'weight')), _flat(ref, ('readout', 'weight'))) < 1e-5
        with capsys.disabled():
            print(f'\n[{name}] cosine to BPTT: D_RTRL {cosine(d_rtrl, ref):.3f}, '
                  f'pp_prop(0.3) {cosine(pp_a, ref):.3f}, pp_prop(0.9) {cosine(pp_b, ref):.3f}')


def test_gru_reset_gate_is_reported_and_still_learns():
    fx = get_fixture('gru')
    with fx.context():
        xs, ys = fx.data(T=6, seed=8)
        g, _, learner = online_grads(fx, bl.D_RTRL, xs, ys)
        graph = learner.graph
        statuses = {p.path: p.status for p in graph.params}
        immediate = [p for p in graph.params if p.status == 'immediate_only']
        assert immediate, statuses
        assert 'another trainable op' in immediate[0].reason
        for p in graph.params:       # nothing is silently zero
            assert float(np.abs(_flat(g, tuple(p.path.split('.')))).sum()) > 0, p.path
