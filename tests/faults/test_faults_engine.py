"""Faults of the engine that gave silently wrong numbers, each pinned by the behaviour it must have.

* One step after a reset there is no history to approximate: every rule in the registry,
  on every catalog model it accepts, equals BPTT (float64, 1e-9). The seed's normalised
  ES-D-RTRL form is the exception and gives exactly ``(1 - a)`` times it.
* Resetting a learner (``init_all_states``, ``reset_all_states``, ``init_etrace_state``)
  makes it compute what a fresh learner computes.
* Unknown keyword options are refused with the valid ones listed.
"""
import brainstate
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import braintrace_lab as bl
from braintrace_lab.errors import CompilationError
from braintrace_lab.models import fixture_names, get_fixture, mse_loss
from braintrace_lab.oracle import bptt_grad
from braintrace_lab.registry import _REGISTRY, compile as bl_compile

WARM = 3          # steps run before the reset, so the traces hold history that a reset must clear
# one step from rest must already reach the surrogate's window, or every gradient is 0 and the check vacuous
BUILD = {'lif': {'scale': 8.0}, 'alif': {'scale': 8.0}}


def _rules():
    """One canonical name per registered class (aliases name the same class)."""
    seen, out = set(), []
    for name in _REGISTRY:             # registration order: the canonical name comes first
        cls = _REGISTRY[name]
        if cls not in seen:
            seen.add(cls)
            out.append(name)
    return out


RULES = _rules()
# rules compared on their exact weights only (see the first-step test's docstring)
RANDOM_ESTIMATES = ('uoro', 'three_factor')


def _options(name):
    return {'tbptt': {'k': 1}, 'pp_prop': {'decay_or_rank': 0.9}, 'osttp': {'target_shape': (3,)},
            'ostl_feedforward': {'decay': 0.9}, 'otpe': {'mode': 'approx'},
            'three_factor': {'sigma': 1e-12},
            'rflo': {'feedback': 'symmetric'}}.get(name, {})     # RFLO's exact signal: the readout's transpose


def _model_options(name, fx):
    return {'target_shape': (fx.n_out,)} if name == 'osttp' else {}


def _leaves(tree):
    return [np.asarray(getattr(x, 'mantissa', x)) for x in jax.tree.leaves(tree)]


def _max_error(grads, ref, keys=None):
    """Largest entry-wise difference over the kept parameters, relative to the largest reference entry."""
    keys = list(ref) if keys is None else keys
    scale = max(float(np.abs(b).max()) for k in keys for b in _leaves(ref[k]))
    if scale == 0:
        return None                 # nothing to compare: the caller does not count this case
    diff = max(float(np.abs(a - b).max()) for k in keys for a, b in zip(_leaves(grads[k]), _leaves(ref[k])))
    return diff / scale


def _one_step_after_reset(fx, name, xs, ys, reset, **options):
    """Warm the learner up on ``WARM`` steps, reset it, then the gradient of step ``WARM`` alone."""
    model = fx.build(dtype=jnp.float64, **BUILD.get(fx.name, {}))
    learner = bl_compile(model, name, xs[0], **{**_options(name), **_model_options(name, fx), **options})
    learner.etrace_grad(xs[:WARM], ys[:WARM], mse_loss)
    reset(learner)
    grads, _ = learner.etrace_grad(xs[WARM:WARM + 1], ys[WARM:WARM + 1], mse_loss)
    return grads, learner


def _bptt_one_step(fx, xs, ys):
    model = fx.build(dtype=jnp.float64, **BUILD.get(fx.name, {}))
    return bptt_grad(model, xs[WARM:WARM + 1], lambda out, t: mse_loss(out, ys[WARM + t]))[0]


@pytest.fixture(scope='module')
def cases(x64_module):
    """Per fixture: its data and BPTT's one-step gradient (computed once)."""
    out = {}
    for fname in fixture_names():
        fx = get_fixture(fname)
        with fx.context():
            xs, ys = fx.data(T=WARM + 1, seed=5, dtype=jnp.float64)
            out[fname] = (fx, xs, ys, _bptt_one_step(fx, xs, ys))
    return out


RESETS = {
    'init_all_states': lambda learner: brainstate.nn.init_all_states(learner),
    'reset_all_states': lambda learner: brainstate.nn.reset_all_states(learner),
}
BATCHED_RESETS = {
    'init_all_states': lambda learner: brainstate.nn.init_all_states(learner, batch_size=2),
    'reset_all_states': lambda learner: brainstate.nn.reset_all_states(learner, batch_size=2),
}


@pytest.mark.parametrize('name', RULES)
def test_every_rule_equals_bptt_one_step_after_a_reset(cases, name):
    """The first-step property: no history, nothing to approximate, so every rule is exact.

    Two rules approximate something other than history, by design, and are compared on
    their exact weights only: OSTTP's hidden-layer signal is a fixed random projection of
    the target, not ``dL/dh`` (RFLO runs with ``feedback='symmetric'``, its exact signal;
    its random default is the negative control of ``tests/algorithms/test_one_step_every_rule.py``);
    UORO's influence estimate is ``nu nu^T I`` with random signs ``nu`` even at the first
    step (unbiased: ``tests/algorithms/test_influence_rules.py``). KF-RTRL's random signs enter
    only from the second step (at the first, ``u (x) A = z (x) D`` is the immediate influence), so it
    is checked on every weight. ThreeFactor's hidden weights learn from (reward - baseline) times a
    noise-driven trace (``tests/algorithms/test_three_factor.py``), its readout exactly at the
    explored state (here explored with ``sigma = 1e-12``).
    """
    accepted = []
    for fname, (fx, xs, ys, ref) in cases.items():
        with fx.context():
            try:
                grads, learner = _one_step_after_reset(fx, name, xs, ys, RESETS['init_all_states'])
            except CompilationError:
                continue          # the rule says at compile time that it cannot express this model
        keys = list(ref)
        if name == 'osttp':
            keys = [k for k in ref if _dotted(k) not in _projected_params(learner)]
        if name in RANDOM_ESTIMATES:      # a random estimate / a random feedback matrix, by design
            keys = [k for k in ref if _dotted(k).startswith('readout')]
        err = _max_error(grads, ref, keys)
        if err is None:      # OSTTP / UORO / RFLO / ... on a spiking net: no spike yet, the readout gets 0
            continue
        assert err < 1e-9, (name, fname, err)
        accepted.append(fname)
    # the property is vacuous if a rule is checked on nothing: each covers the exact-class layers,
    # the recurrent cells and (but OSTTP, see above) a spiking layer
    want = {'leaky', 'linear_leaky', 'rnn', 'gru'} | (set() if name in ('osttp',) + RANDOM_ESTIMATES else {'lif'})
    assert want <= set(accepted), (name, accepted)


def _dotted(key):
    return '.'.join(map(str, key)) if isinstance(key, tuple) else str(key)


def _projected_params(learner):
    """OSTTP's parameters whose signal is the target projection (hidden groups that are not outputs)."""
    plan = learner._plan
    return {r.param for r in plan.relations if r.group not in learner._out_groups}


@pytest.mark.parametrize('reset', sorted(RESETS))
@pytest.mark.parametrize('fname', ['gru', 'lif', 'rnn'])
def test_normalized_es_d_rtrl_is_exactly_one_minus_a_times_the_default(cases, fname, reset):
    fx, xs, ys, ref = cases[fname]
    a = 0.9
    with fx.context():
        plain, learner = _one_step_after_reset(fx, 'pp_prop', xs, ys, RESETS[reset], decay_or_rank=a)
        normed, _ = _one_step_after_reset(fx, 'pp_prop', xs, ys, RESETS[reset], decay_or_rank=a,
                                          normalized=True)
    assert _max_error(plain, ref) < 1e-9      # not None: the reference is non-zero
    traced = {r.param for r in learner._plan.relations}
    for key in ref:
        factor = (1 - a) if _dotted(key) in traced else 1.0          # readouts and one-step weights: unscaled
        for g, r in zip(_leaves(normed[key]), _leaves(ref[key])):
            np.testing.assert_allclose(g, factor * r, rtol=1e-9, atol=1e-12 * np.abs(r).max())
    assert traced, 'nothing was traced: the comparison above would not test the scale'


def test_normalized_scale_holds_at_every_step_not_only_the_first(x64):
    """Over a whole sequence the normalised form's traced gradients are exactly (1 - a) x the default's."""
    fx = get_fixture('rnn')
    with fx.context():
        xs, ys = fx.data(T=7, seed=2, dtype=jnp.float64)
        out = {}
        for normalized in (False, True):
            learner = bl.pp_prop(fx.build(dtype=jnp.float64), decay_or_rank=0.6, normalized=normalized)
            learner.compile_graph(xs[0])
            out[normalized] = learner.etrace_grad(xs, ys, mse_loss)[0]
    traced = {r.param for r in learner._plan.relations}
    key = next(k for k in out[False] if _dotted(k) in traced)
    for a, b in zip(_leaves(out[True][key]), _leaves(out[False][key])):
        np.testing.assert_allclose(a, 0.4 * b, rtol=1e-9)
    assert np.abs(_leaves(out[False][key])[0]).max() > 0


def test_normalized_needs_a_float_decay_and_a_bool():
    fx = get_fixture('leaky')
    with fx.context():
        model = fx.build()
        with pytest.raises(ValueError, match='float decay only'):
            bl.pp_prop(model, decay_or_rank=4, normalized=True)
        with pytest.raises(TypeError, match='normalized must be True or False'):
            bl.pp_prop(model, decay_or_rank=0.9, normalized=1)
        with pytest.raises(TypeError, match='normalized must be True or False'):
            bl.OSTLFeedforward(model, decay=0.9, normalized='yes')


# ---------------------------------------------------------------- reset = fresh
def _grads_on_second_sequence(name, reset, fname='gru', **options):
    fx = get_fixture(fname)
    with fx.context():
        xs, ys = fx.data(T=6, seed=3, batch_size=2)
        xs2, ys2 = fx.data(T=6, seed=4, batch_size=2)
        fresh = bl_compile(fx.build(batch_size=2), name, xs[0], **options)
        want, want_losses = fresh.etrace_grad(xs2, ys2, mse_loss)
        reused = bl_compile(fx.build(batch_size=2), name, xs[0], **options)
        reused.etrace_grad(xs, ys, mse_loss)
        reset(reused)
        got, got_losses = reused.etrace_grad(xs2, ys2, mse_loss)
    return got, want, got_losses, want_losses


RESETS_ALL = {
    **BATCHED_RESETS,
    'init_etrace_state + reset model': lambda learner: (brainstate.nn.reset_all_states(learner.model, 2),
                                                        learner.init_etrace_state()),
}


@pytest.mark.parametrize('reset', sorted(RESETS_ALL))
@pytest.mark.parametrize('name,options', [('pp_prop', {'decay_or_rank': 0.9}), ('d_rtrl', {}),
                                          ('eprop', {'kappa': 0.5}), ('rtrl', {})],
                         ids=['pp_prop', 'd_rtrl', 'eprop', 'rtrl'])
def test_a_reset_learner_computes_what_a_fresh_one_does(name, options, reset):
    got, want, got_losses, want_losses = _grads_on_second_sequence(name, RESETS_ALL[reset], **options)
    np.testing.assert_array_equal(np.asarray(got_losses), np.asarray(want_losses))
    for key in want:
        for a, b in zip(_leaves(got[key]), _leaves(want[key])):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7, err_msg=f'{name} {reset} {key}')


def test_without_a_reset_the_second_sequence_differs():
    """Negative control: the comparison above can fail (traces and states carry over)."""
    got, want, _, _ = _grads_on_second_sequence('pp_prop', lambda learner: None, decay_or_rank=0.9)
    assert max(float(np.abs(a - b).max()) for k in want for a, b in zip(_leaves(got[k]), _leaves(want[k]))) > 1e-3


def test_init_all_states_follows_the_models_new_state_objects():
    """``init_all_states`` replaces a GRU's hidden state object; the learner must step the new one."""
    fx = get_fixture('gru')
    with fx.context():
        xs, ys = fx.data(T=4, seed=1, batch_size=2)
        learner = bl.D_RTRL(fx.build(batch_size=2))
        learner.compile_graph(xs[0])
        learner.etrace_grad(xs, ys, mse_loss)
        brainstate.nn.init_all_states(learner, batch_size=2)
        h = learner.model.cell.h
        before = np.asarray(h.value)
        learner(xs[0])
        assert not np.array_equal(np.asarray(h.value), before), 'the learner stepped a stale state object'


@pytest.mark.parametrize('reset', [lambda m: brainstate.nn.init_all_states(m, batch_size=5),
                                   lambda m: brainstate.nn.reset_all_states(m)],
                         ids=['init with batch 5', 'reset with no batch'])
def test_a_reset_to_another_shape_names_the_fix(reset):
    fx = get_fixture('gru')
    with fx.context():
        xs, _ = fx.data(T=2, seed=1, batch_size=2)
        learner = bl.pp_prop(fx.build(batch_size=2), decay_or_rank=0.9)
        learner.compile_graph(xs[0])
        with pytest.raises(ValueError, match=r"'cell.h' now has shape \[\((5, 6|6,)\)\] but the learner was "
                                             r"compiled for \[\(2, 6\)\].*batch_size.*compile_graph\(x0\)"):
            reset(learner)


def test_reset_before_compiling_is_harmless():
    fx = get_fixture('leaky')
    with fx.context():
        learner = bl.D_RTRL(fx.build())
        brainstate.nn.init_all_states(learner)
        assert not learner.is_compiled


# ---------------------------------------------------------------- no ignored option
@pytest.mark.parametrize('name', RULES)
def test_unknown_options_are_refused_with_the_valid_ones_listed(name):
    fx = get_fixture('leaky')
    cls = _REGISTRY[name]
    with fx.context():
        model = fx.build()
        with pytest.raises(TypeError, match=r"unknown option 'decay_or_ranks'; valid options: .*name"):
            cls(model, decay_or_ranks=0.9, **_options(name))
        with pytest.raises(TypeError, match=r"unknown option 'foo'"):
            bl_compile(model, name, fx.data(T=1)[0][0], foo=1, **_options(name))


def test_the_refusal_names_the_rule_as_people_know_it():
    fx = get_fixture('leaky')
    with fx.context():
        with pytest.raises(TypeError, match=r"ES-D-RTRL \(pp_prop\) \(IODimVjpAlgorithm\) got unknown option "
                                            r"'rank'; valid options: decay_or_rank, .*normalized"):
            bl.pp_prop(fx.build(), 0.9, rank=3)


def test_the_lab_refuses_unknown_options_when_the_learner_is_described():
    """``make_learner`` checks at once, not at the first batch of a long run."""
    from braintrace_lab import lab
    from braintrace_lab.tasks import get_task
    make = lab.fixture_model('leaky', get_task('dms'))
    with pytest.raises(TypeError, match=r"unknown option 'decay'; valid options: .*decay_or_rank"):
        lab.make_learner(make, 'pp_prop', decay=0.9)
    with pytest.raises(TypeError, match='BPTT takes no options'):
        lab.make_learner(make, 'bptt', decay_or_rank=0.9)
    with pytest.raises(ValueError, match="unknown algorithm 'pp_propp'"):
        lab.make_learner(make, 'pp_propp')


@pytest.mark.parametrize('fname', ['gru', 'lif', 'rnn'])
def test_braintraces_bias_corrected_form_is_exact_one_step_after_a_reset(cases, fname):
    """``normalized=True, bias_correction=True`` (braintrace's numbers): its step counter restarts too."""
    fx, xs, ys, ref = cases[fname]
    with fx.context():
        grads, _ = _one_step_after_reset(fx, 'pp_prop', xs, ys, RESETS['init_all_states'], decay_or_rank=0.9,
                                         normalized=True, bias_correction=True)
    assert _max_error(grads, ref) < 1e-9
