"""The RTRL family as rule values: exact RTRL, SnAp-n, UORO, KF-RTRL and the three-factor rule.

Each learner class holds its preset's value, ``OnlineLearner(model, preset)`` builds that
same learner and computes the same gradient; the components refuse the signals and
transitions they cannot run; a preset function registers by name with no shell class.
"""
import json

import jax
import numpy as np
import pytest

import braintrace_lab as bl
from braintrace_lab.algorithms import OnlineLearner
from braintrace_lab.algorithms.influence import UORO, SnAp
from braintrace_lab.algorithms.kf_rtrl import KFRTRL
from braintrace_lab.algorithms.three_factor import ThreeFactor
from braintrace_lab.models import get_fixture
from braintrace_lab.oracle import relative_error
from braintrace_lab.rules import (Backprop, ExactInfluence, FullTrace, KroneckerInfluence, NodePerturbation,
                                  RandomFeedback, RankOneInfluence, Reward, Rule, SparseInfluence, eprop, kf_rtrl,
                                  rtrl, snap, three_factor, uoro)
from braintrace_lab.rules_table import _REGISTRY, lookup, register_algorithm, rule_key, rule_table

from engine_testutils import as_np, flat, sequence_grads


_np, _flat, _grads = as_np, flat, sequence_grads


SHELLS = [
    ('exact RTRL', lambda m: bl.RTRL(m), rtrl(), bl.RTRL),
    ('SnAp-2', lambda m: SnAp(m, n=2), snap(2), SnAp),
    ('SnAp-1 dense', lambda m: SnAp(m, n=1, engine='dense'), snap(1, 'dense'), SnAp),
    ('SnAp-1 on the OSTL engine', lambda m: SnAp(m, n=1), snap(1), SnAp),
    ('UORO', lambda m: UORO(m, seed=3), uoro(3), UORO),
    ('KF-RTRL', lambda m: KFRTRL(m, seed=2), kf_rtrl(2), KFRTRL),
    ('three-factor', lambda m: ThreeFactor(m, sigma=0.1, baseline_decay=0.5, seed=1),
     three_factor(0.1, baseline_decay=0.5, seed=1), ThreeFactor),
]


@pytest.mark.parametrize('label, make, preset, cls', SHELLS, ids=[s[0] for s in SHELLS])
def test_each_influence_learner_computes_what_its_preset_value_computes(label, make, preset, cls):
    fx = get_fixture('rnn')
    shell_grads, shell = _grads(fx, make)
    assert shell.rule == preset and hash(shell.rule) == hash(preset) and preset.transition == 'full'
    value_grads, generic = _grads(fx, lambda m: OnlineLearner(m, preset))
    assert type(generic) is cls and generic.rule is preset          # the value went to its trace's learner
    for a, b in zip(jax.tree.leaves(shell_grads), jax.tree.leaves(value_grads), strict=True):
        np.testing.assert_array_equal(_np(a), _np(b), err_msg=label)
    assert np.abs(_flat(value_grads)).sum() > 0
    json.dumps(preset.to_dict())


def test_a_changed_knob_changes_the_gradient():
    """Negative control for the equality above: other seeds or another n give other gradients on a dense RNN."""
    fx = get_fixture('rnn')
    for one, other in [(uoro(3), uoro(4)), (kf_rtrl(2), kf_rtrl(5)), (snap(1, 'dense'), rtrl()),
                       (three_factor(0.1, seed=1), three_factor(0.1, seed=2))]:
        a, _ = _grads(fx, lambda m: OnlineLearner(m, one))
        b, _ = _grads(fx, lambda m: OnlineLearner(m, other))
        assert relative_error(_flat(a), _flat(b)) > 1e-3, (one, other)


def test_compile_takes_an_influence_rule_value_and_its_implementation_options():
    fx = get_fixture('leaky')
    with fx.context():
        xs, _ = fx.data(T=2, seed=0)
        learner = bl.compile(fx.build(), snap(2, engine='dense'), xs[0])
        assert type(learner) is SnAp and learner.n == 2 and learner.engine == 'dense'
        named = OnlineLearner(fx.build(), uoro(7), 'mine', trace_dtype=np.float64)
        assert type(named) is UORO and named.seed == 7 and named.trace_dtype == np.float64


def test_components_refuse_what_they_cannot_run():
    with pytest.raises(ValueError, match="give transition='full'"):
        Rule('x', ExactInfluence(), Backprop(), 'cut')
    with pytest.raises(ValueError, match="only an influence trace keeps"):
        Rule('x', FullTrace(), Backprop(), 'full')
    with pytest.raises(ValueError, match='runs with the signal Backprop'):
        Rule('x', RankOneInfluence(), RandomFeedback(seed=1), 'full')
    with pytest.raises(ValueError, match='runs with the signal Reward'):
        Rule('x', NodePerturbation(), Backprop(), 'full')
    with pytest.raises(ValueError, match='goes with NodePerturbation'):
        Rule('x', FullTrace(), Reward(), 'cut')
    with pytest.raises(ValueError, match='n=0 must be an integer >= 1'):
        SparseInfluence(n=0)
    with pytest.raises(ValueError, match="engine='fast' must be 'auto'"):
        snap(2, engine='fast')
    with pytest.raises(TypeError, match='seed must be an int'):
        KroneckerInfluence(seed=1.5)
    with pytest.raises(ValueError, match=r'baseline_decay=1 must be in \[0, 1\)'):
        three_factor(baseline_decay=1)
    with pytest.raises(ValueError, match='sigma=-0.1 must be a number > 0'):
        ThreeFactor(None, sigma=-0.1)
    with pytest.raises(TypeError, match='not one trace per relation'):
        ExactInfluence().engine(None, None)


# ------------------------------------------------------------------ a preset registered by name
def _unregister(*names):
    for n in names:
        _REGISTRY.pop(rule_key(n), None)


def test_a_preset_function_registers_by_name_without_a_shell_class():
    def leaky_eprop(kappa: float = 0.5, feedback_seed: int = 0):
        """e-prop whose trace is low-passed with kappa."""
        return Rule('leaky e-prop', FullTrace(kappa=kappa), Backprop(), 'cut')

    try:
        register_algorithm(leaky_eprop, 'leaky_eprop', 'lep')
        entry = lookup('LEP')
        assert entry.name == 'leaky_eprop' and entry.aliases == ('lep',)
        assert entry.display_name == 'leaky e-prop'
        assert entry.description == 'e-prop whose trace is low-passed with kappa.'
        assert [(o.name, o.default) for o in entry.options] == [('kappa', 0.5), ('feedback_seed', 0)]
        assert entry.implementation_options == ('name', 'vjp_method', 'trace_dtype') and entry.drives('train')
        assert entry in rule_table('cli')
        fx = get_fixture('rnn')
        by_name, learner = _grads(fx, lambda m: bl.compile(m, 'leaky_eprop', np.zeros(4, np.float32), kappa=0.8))
        assert learner.rule == Rule('leaky e-prop', FullTrace(kappa=0.8), Backprop(), 'cut')
        by_value, _ = _grads(fx, lambda m: OnlineLearner(m, eprop(kappa=0.8)))
        np.testing.assert_array_equal(_flat(by_name), _flat(by_value))
        with pytest.raises(TypeError, match=r"unknown option 'kapa'; valid options: kappa, feedback_seed"):
            bl.compile(fx.build(), 'leaky_eprop', np.zeros(4, np.float32), kapa=0.8)
    finally:
        _unregister('leaky_eprop', 'lep')


def test_a_registered_influence_preset_builds_its_learner():
    try:
        register_algorithm(snap, 'snap_again')
        assert lookup('snap_again').display_name == 'SnAp-n'
        fx = get_fixture('leaky')
        _, learner = _grads(fx, lambda m: bl.compile(m, 'snap_again', np.zeros(4, np.float32), n=2))
        assert type(learner) is SnAp and learner.n == 2
    finally:
        _unregister('snap_again')


def test_register_refuses_what_is_not_a_preset():
    with pytest.raises(TypeError, match='needs at least one name'):
        register_algorithm(rtrl)

    def no_rule(k: int = 1):
        return k

    def clash(name: str = 'x'):
        return rtrl()

    with pytest.raises(TypeError, match='must return a Rule value'):
        register_algorithm(no_rule, 'no_rule')
    with pytest.raises(TypeError, match="an option 'name', a name the learner keeps"):
        register_algorithm(clash, 'clash')
    assert 'no_rule' not in _REGISTRY and 'clash' not in _REGISTRY
