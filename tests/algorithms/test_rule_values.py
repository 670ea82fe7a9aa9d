"""Rules as values: every named rule is a preset ``Rule`` that its class runs, and compositions without a
name run through the same step.

Checked here: each seed class computes what ``OnlineLearner(model, preset)`` computes (gradients over
T=5 on a tanh RNN and a LIF layer); one step after a reset every composition of a trace, a signal
(backprop, or random feedback set to the readout itself) and a transition equals BPTT; OTTT's
presynaptic trace with e-prop's random feedback, a rule with no name, equals its NumPy re-derivation,
equals OTTT when its feedback matrix is the readout, and differs with a random one; rule values are
frozen, hashable and readable; bad components are refused with the fix.
"""
import dataclasses
import json

import brainstate
import jax
import numpy as np
import pytest

import braintrace_lab as bl
from braintrace_lab.algorithms import OnlineLearner
from braintrace_lab.algorithms.rflo import RFLO
from braintrace_lab.errors import CompilationError
from braintrace_lab.models import get_fixture, mse_loss
from braintrace_lab.oracle import bptt_grad, relative_error
from braintrace_lab.rules import (Backprop, FactorTrace, FullTrace, LowRankTrace, Presynaptic, ProjectedTarget,
                                  RandomFeedback, Rule, TraceComponent, d_rtrl, eprop, es_d_rtrl, osttp,
                                  ostl_feedforward, ostl_recurrent, otpe, ottt, rflo)

from engine_testutils import as_np, flat, sequence_grads, worst_error


_np, _flat, _grads = as_np, flat, sequence_grads


# ------------------------------------------------------------------ each shell runs its preset
SHELLS = [
    ('D-RTRL', lambda m: bl.D_RTRL(m), d_rtrl()),
    ('ES-D-RTRL decay', lambda m: bl.pp_prop(m, decay_or_rank=0.9), es_d_rtrl(0.9)),
    ('ES-D-RTRL braintrace form', lambda m: bl.pp_prop(m, 0.8, normalized=True, bias_correction=True),
     es_d_rtrl(0.8, normalized=True, bias_correction=True)),
    ('ES-D-RTRL rank', lambda m: bl.ES_D_RTRL(m, decay_or_rank=2), es_d_rtrl(2)),
    ('e-prop', lambda m: bl.EProp(m, feedback='random', kappa=0.7, feedback_seed=3), eprop('random', 0.7, 3)),
    ('e-prop braintrace keywords', lambda m: bl.EProp(m, kappa_filter_decay=0.5), eprop(kappa=0.5)),
    ('OSTL recurrent', lambda m: bl.OSTLRecurrent(m), ostl_recurrent()),
    ('OSTL feed-forward', lambda m: bl.OSTLFeedforward(m, decay=0.6), ostl_feedforward(0.6)),
    ('OTPE', lambda m: bl.OTPE(m), otpe()),
    ('F-OTPE', lambda m: bl.OTPE(m, mode='approx', decay=0.7), otpe('approx', 0.7)),
    ('OTTT A', lambda m: bl.OTTT(m, mode='A'), ottt('A')),
    ('OTTT O', lambda m: bl.OTTT(m, mode='O'), ottt('O')),
    ('OSTTP', lambda m: bl.OSTTP(m, projection_seed=2), osttp(projection_seed=2)),
    ('RFLO', lambda m: RFLO(m, feedback_seed=1), rflo(feedback_seed=1)),
]


@pytest.mark.parametrize('fname', ['rnn', 'lif'])
@pytest.mark.parametrize('label, make, preset', SHELLS, ids=[s[0] for s in SHELLS])
def test_each_seed_class_computes_what_its_preset_value_computes(fname, label, make, preset):
    fx = get_fixture(fname)
    shell_grads, shell = _grads(fx, make)
    assert shell.rule == preset and hash(shell.rule) == hash(preset)
    value_grads, generic = _grads(fx, lambda m: OnlineLearner(m, preset))
    assert generic.display_name == preset.name
    assert jax.tree.structure(shell_grads) == jax.tree.structure(value_grads)
    for a, b in zip(jax.tree.leaves(shell_grads), jax.tree.leaves(value_grads)):
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-6, atol=1e-7, err_msg=label)
    assert np.abs(_flat(value_grads)).sum() > 0


def test_a_changed_knob_changes_the_gradient():
    """Negative control for the comparison above: neighbouring presets give other gradients."""
    fx = get_fixture('rnn')
    pairs = [(es_d_rtrl(0.9), es_d_rtrl(0.5)), (d_rtrl(), ostl_recurrent()), (eprop(), eprop(kappa=0.7)),
             (ottt('A', decay=0.9), ottt('O')), (otpe(decay=0.9), otpe('approx', decay=0.9))]
    for one, other in pairs:
        a, _ = _grads(fx, lambda m: OnlineLearner(m, one))
        b, _ = _grads(fx, lambda m: OnlineLearner(m, other))
        assert relative_error(_flat(a), _flat(b)) > 1e-3, (one, other)


# ------------------------------------------------------------------ one step after a reset
TRACES = [FullTrace(), FullTrace(kappa=0.5), FullTrace(decay=0.3), FactorTrace(0.9),
          FactorTrace(0.8, normalized=True, bias_correction=True), FactorTrace('leak', uses_D=False),
          LowRankTrace(2), Presynaptic('leak')]


def _one_step(fx, rule):
    with fx.context():
        xs, ys = fx.data(T=1, seed=7)
        ref, _ = bptt_grad(fx.build(), xs, lambda out, t: mse_loss(out, ys[t]))
        model = fx.build()
        learner = OnlineLearner(model, rule)
        learner.compile_graph(xs[0])
        brainstate.nn.init_all_states(learner)
        grads, _ = learner.etrace_grad(xs, ys, mse_loss)
    return grads, ref


@pytest.mark.parametrize('fname', ['rnn', 'lif', 'leaky'])
def test_one_step_after_a_reset_every_composition_equals_bptt(fname):
    fx = get_fixture(fname)
    readout = _np(fx.build().readout.weight.value)
    signals = [Backprop(), RandomFeedback(matrix=readout.astype(np.float32))]    # B = W: the exact signal
    combos = [(t, s, 'cut') for t in TRACES for s in signals] + [(t, Backprop(), 'coupled') for t in TRACES]
    for trace, signal, transition in combos:
        grads, ref = _one_step(fx, Rule('composed', trace, signal, transition))
        assert worst_error(grads, ref) < 1e-5, (fname, trace, signal, transition)
    # negative control: a random B is not the readout, so the hidden weights' gradient moves away from BPTT
    grads, ref = _one_step(fx, Rule('composed', FullTrace(), RandomFeedback(seed=5), 'cut'))
    if fname != 'lif':            # a LIF layer may not spike at the first step: nothing for B to change
        assert worst_error(grads, ref) > 1e-2


# ------------------------------------------------------------------ a rule with no name
def _numpy_presynaptic_random_feedback(xs, ys, W, b, Wo, lam, B):
    """OTTT's presynaptic trace with the readout error sent back through ``B``, summed over the steps."""
    h, z, one = np.zeros(W.shape[1]), np.zeros(W.shape[0]), 0.0
    gW, gb, gWo = np.zeros_like(W), np.zeros_like(b), np.zeros_like(Wo)
    for x, ystar in zip(xs, ys):
        y = np.tanh(x @ W + b)
        h = lam * h + y
        cot = 2.0 * (h @ Wo - ystar)
        z, one = lam * z + x, lam * one + 1.0
        signal = (cot @ B.T) * (1.0 - y ** 2)        # L . Df: the random feedback times this step's Df
        gW, gb, gWo = gW + np.outer(z, signal), gb + one * signal, gWo + np.outer(h, cot)
    return gW, gb, gWo


def _unnamed(B=None, seed=0):
    return Rule('OTTT + random feedback', Presynaptic('leak'), RandomFeedback(seed=seed, matrix=B), 'cut')


def test_an_unnamed_composition_runs_through_compile_and_equals_its_numpy_rederivation():
    fx = get_fixture('leaky')
    with fx.context():
        xs, ys = fx.data(T=6, seed=11)
        model = fx.build()
        learner = bl.compile(model, _unnamed(seed=4), xs[0])
        assert isinstance(learner, OnlineLearner) and learner.display_name == 'OTTT + random feedback'
        assert 'OTTT + random feedback' in repr(learner)
        W, b = (_np(model.w.value[k]) for k in ('weight', 'bias'))
        Wo = _np(model.readout.weight.value)
        (B,) = [np.asarray(fb.matrix, np.float64) for fb in learner.rule_binding.signal_state.values()]
        grads, _ = learner.etrace_grad(xs, ys, mse_loss)
    gW, gb, gWo = _numpy_presynaptic_random_feedback(_np(xs), _np(ys), W, b, Wo, model.lam, B)
    np.testing.assert_allclose(_np(grads[('w',)]['weight']), gW, rtol=2e-4, atol=2e-5)
    np.testing.assert_allclose(_np(grads[('w',)]['bias']), gb, rtol=2e-4, atol=2e-5)
    np.testing.assert_allclose(_np(grads[('readout', 'weight')]), gWo, rtol=2e-4, atol=2e-5)
    assert np.abs(gW).sum() > 0
    # the trace carries only the presynaptic factor between steps (this step's Df is dropped)
    assert set(learner.eligibility_traces()['w@op0->g0']) == {'x', 'one'}


def test_with_the_readout_as_feedback_the_composition_is_ottt_and_a_random_b_is_not():
    fx = get_fixture('leaky')
    readout = _np(fx.build().readout.weight.value).astype(np.float32)
    same, _ = _grads(fx, lambda m: OnlineLearner(m, _unnamed(B=readout)), T=6)
    want, _ = _grads(fx, lambda m: bl.OTTT(m), T=6)
    other, _ = _grads(fx, lambda m: OnlineLearner(m, _unnamed(seed=2)), T=6)
    assert relative_error(_flat(same), _flat(want)) < 1e-6
    assert relative_error(_flat(other[('w',)]), _flat(want[('w',)])) > 1e-2
    np.testing.assert_allclose(_np(other[('readout', 'weight')]), _np(want[('readout', 'weight')]), rtol=1e-5)


def test_a_target_driven_composition_gets_the_target_shell():
    fx = get_fixture('lif')
    rule = Rule('projected F-OTPE', FactorTrace('leak', uses_D=False), ProjectedTarget(seed=1), 'cut')
    with fx.context():
        xs, ys = fx.data(T=5, seed=3)
        learner = OnlineLearner(fx.build(), rule)
        assert type(learner).__name__ == 'TargetOnlineLearner' and isinstance(learner, OnlineLearner)
        learner.compile_graph(xs[0])
        with pytest.raises(RuntimeError, match='set_target'):
            learner(xs[0])
        grads, _ = learner.etrace_grad(xs, ys, mse_loss)
    assert learner.target_shape == (3,) and np.abs(_flat(grads)).sum() > 0


# ------------------------------------------------------------------ values
def test_rule_values_are_frozen_hashable_and_readable():
    rule = eprop(feedback='random', kappa=0.9, feedback_seed=3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.name = 'other'
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.trace.kappa = 0.1
    assert rule == eprop('random', 0.9, 3) and rule != eprop('random', 0.9, 4)
    table = {preset: preset.name for preset in (d_rtrl(), es_d_rtrl(0.9), ottt(), osttp(), rule)}
    assert table[eprop('random', 0.9, 3)] == 'e-prop'
    assert repr(rule) == ("Rule('e-prop', trace=FullTrace(decay=None, kappa=0.9), "
                          "signal=RandomFeedback(seed=3, matrix=None), transition='cut')")
    plain = osttp(target_shape=10).to_dict()
    assert json.loads(json.dumps(plain)) == plain == {
        'name': 'OSTTP', 'trace': {'kind': 'FullTrace', 'decay': None, 'kappa': 0.0},
        'signal': {'kind': 'ProjectedTarget', 'seed': 0, 'target_shape': [10]}, 'transition': 'cut'}
    given = RandomFeedback(matrix=np.ones((6, 3), np.float32)).to_dict()
    assert given == {'kind': 'RandomFeedback', 'seed': 0, 'matrix': {'matrix_shape': [6, 3]}}
    assert ottt('O').trace == Presynaptic(0.0) and otpe('approx').trace == FactorTrace('leak', uses_D=False)
    assert ostl_recurrent().coupled and not d_rtrl().coupled


def test_the_seed_names_build_their_rule_values():
    fx = get_fixture('leaky')
    with fx.context():
        x0 = fx.data(T=1, seed=0)[0][0]
        assert bl.compile(fx.build(), 'eprop', x0).rule == eprop()
        assert bl.compile(fx.build(), 'e-prop', x0, kappa=0.9).rule == eprop(kappa=0.9)
        assert bl.pp_prop(fx.build(), decay_or_rank=0.9).rule == es_d_rtrl(0.9)
        learner = bl.OSTLFeedforward(fx.build(), decay_or_rank=3)        # braintrace's rank: (r - 1) / (r + 1)
        assert learner.rule == ostl_feedforward(0.5)
        assert bl.OSTLRecurrent(fx.build()).coupled_transition and not bl.D_RTRL(fx.build()).coupled_transition


def test_bad_components_are_refused_with_the_fix():
    with pytest.raises(ValueError, match="'leak'"):
        FullTrace(decay='fast')
    with pytest.raises(ValueError, match=r'kappa=1.5 must lie in \[0, 1\)'):
        FullTrace(kappa=1.5)
    with pytest.raises(TypeError, match='normalized must be True or False'):
        FactorTrace(0.9, normalized=1)
    with pytest.raises(ValueError, match='integer >= 1'):
        LowRankTrace(0)
    with pytest.raises(ValueError, match='2-D float matrix'):
        RandomFeedback(matrix=np.ones(3))
    with pytest.raises(TypeError, match='trace must be a trace component'):
        Rule('mine', 'full')
    with pytest.raises(TypeError, match='signal must be a signal component'):
        Rule('mine', FullTrace(), 'random')
    with pytest.raises(ValueError, match="choose 'cut'"):
        Rule('mine', FullTrace(), Backprop(), 'diagonal')
    with pytest.raises(ValueError, match='float decay only'):
        es_d_rtrl(4, normalized=True)
    with pytest.raises(ValueError, match="choose 'full'"):
        otpe('fast')
    with pytest.raises(ValueError, match="choose 'symmetric', 'random'"):
        eprop(feedback='backward')
    assert issubclass(FullTrace, TraceComponent)
    fx = get_fixture('alif')
    with fx.context():
        x0 = fx.data(T=1, seed=0)[0][0]
        with pytest.raises(CompilationError, match='presynaptic trace.*ALIF'):
            bl.compile(fx.build(), _unnamed(), x0)
        with pytest.raises(TypeError, match='runs a Rule value'):
            OnlineLearner(fx.build(), 'd_rtrl')
        with pytest.raises(TypeError, match=r"unknown option 'kappa'; valid options: rule, name"):
            bl.compile(fx.build(), d_rtrl(), x0, kappa=0.9)
