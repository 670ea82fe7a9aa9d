"""One step after a reset: what the rules that are not exact there do instead, and why.

After a reset no history is left to approximate: the first step's gradient needs only the
immediate influence ``dh^1/dtheta`` and the signal ``dL/dh^1``, which every rule built on
backprop's signal has exactly. That every registered rule equals BPTT there (or, for the
rules listed below, on its exact weights) is tested in
``tests/faults/test_faults_engine.py::test_every_rule_equals_bptt_one_step_after_a_reset``
(float64, after a warm start and a reset, every fixture). This file tests the exceptions,
reading the algorithm table (:func:`braintrace_lab.rules_table.canonical_names`, at
collection time) so that the lists below stay honest; a rule with a required or a
``feedback`` option must say here what to use (:data:`OPTIONS`). On the 'rnn', 'lif' and
'leaky' fixtures, float32, T = 1:

* a random feedback matrix (e-prop's ``feedback='random'``, RFLO's default) moves the
  hidden weights' gradient away from BPTT (negative control, 'rnn');
* UORO and the three-factor rule are random even at one step: one draw is far from BPTT,
  the mean over draws closes in on it as 1/sqrt(N) predicts;
* OSTTP's hidden layers learn from a random projection of the target: their gradient is
  that signal times the exact immediate influence, re-derived here with autodiff.
"""
import functools

import brainstate
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import braintrace_lab as bl
from braintrace_lab.models import get_fixture, mse_loss
from braintrace_lab.oracle import bptt_grad
from braintrace_lab.rules_table import canonical_names, lookup

from engine_testutils import worst_error

FIXTURES = ('rnn', 'lif', 'leaky')
NAMES = canonical_names()            # every registered rule, aliases apart, read at collection time
EXACT_TOL = 1e-5                     # float32, as in test_rule_values.py

# The options each rule is built with here. A rule registered with a required option (no default) or
# with a ``feedback`` option fails test_one_step_after_a_reset until its entry says what to use.
OPTIONS = {
    'pp_prop': {'decay_or_rank': 0.9},       # ES-D-RTRL's decay (required)
    'tbptt': {'k': 1},                       # windows of one step: at T = 1 that is the whole sequence
    'eprop': {'feedback': 'symmetric'},      # dL/dh through the readout's transpose: the exact signal
    'rflo': {'feedback': 'symmetric'},       # as e-prop (RFLO's default feedback is random)
    'osttp': {'projection_seed': 2},         # see NOT_BPTT: its projection is re-derived from this seed
}

# Rules that are random even at one step; each has a statistical test below. Every other rule must be exact.
STOCHASTIC = {
    'uoro': 'M^1 = nu nu^T I: a rank-one random compression (signs nu) of the immediate influence I',
    'three_factor': 'node perturbation: dL/dh is estimated from the loss change that exploration noise causes',
}
# Rules whose one-step gradient is not BPTT's by design; each has a test of what it is instead.
NOT_BPTT = {
    'osttp': "the hidden layers' signal is y* P, a fixed random projection of the target, not dL/dh",
}
READOUT = ('readout', 'weight')      # the fixtures' non-temporal readout: outside every hidden state


# ------------------------------------------------------------------ helpers
@functools.lru_cache(maxsize=None)
def _data_and_bptt(fname):
    """One step of data (T = 1) on fixture ``fname`` and BPTT's gradient on it."""
    fx = get_fixture(fname)
    with fx.context():
        xs, ys = fx.data(T=1, seed=7)
        ref, _ = bptt_grad(fx.build(), xs, lambda out, t: mse_loss(out, ys[t]))
    return xs, ys, ref


def _options(name):
    """``OPTIONS[name]``, refusing (with the fix) a rule whose required or feedback option is not set."""
    entry = lookup(name)
    given = OPTIONS.get(name, {})
    unknown = sorted(set(given) - set(entry.option_names))
    if unknown:
        pytest.fail(f"OPTIONS[{name!r}] sets {unknown}, which {entry.display_name} does not take (its options: "
                    f"{list(entry.option_names)}): update OPTIONS in {__name__}.")
    missing = [o.name for o in entry.options if o.required and o.name not in given]
    if missing:
        pytest.fail(f"{entry.display_name} ({name!r}) has required option(s) {missing} with no default: add "
                    f"them to OPTIONS in {__name__}, e.g. OPTIONS[{name!r}] = {{{missing[0]!r}: ...}}.")
    if 'feedback' in entry.option_names and 'feedback' not in given:
        pytest.fail(f"{entry.display_name} ({name!r}) has a feedback option: one step after a reset it equals "
                    f"BPTT only with the exact signal. Add the value that sends dL/dh back (e.g. "
                    f"OPTIONS[{name!r}] = {{'feedback': 'symmetric'}}) to OPTIONS in {__name__}.")
    return given


def _one_step(fname, name, options):
    """The gradient of one step after a reset, ``compile(model, name, x0, **options)``, and BPTT's."""
    xs, ys, ref = _data_and_bptt(fname)
    fx = get_fixture(fname)
    with fx.context():
        learner = bl.compile(fx.build(), name, xs[0], **options)
        grads, _ = learner.etrace_grad(xs, ys, mse_loss)
    return grads, ref


def _flat(grads, keys):
    return np.concatenate([np.ravel(np.asarray(getattr(x, 'mantissa', x), np.float64))
                           for k in keys for x in jax.tree.leaves(grads[k])])


def _error(a, b):
    """``|a - b| / |b|`` over flat vectors."""
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


# ------------------------------------------------------------------ every rule of the table
def test_the_table_is_read_and_the_lists_name_registered_rules():
    assert NAMES[0] == 'bptt' and len(NAMES) == len(set(NAMES)) > 10
    for listed in (OPTIONS, STOCHASTIC, NOT_BPTT):
        stale = sorted(set(listed) - set(NAMES))
        assert not stale, f'{stale} are not canonical names in the algorithm table ({NAMES}); update {__name__}'
    assert not set(STOCHASTIC) & set(NOT_BPTT)


@pytest.mark.parametrize('fname', FIXTURES)
def test_bptt_gives_the_hidden_weights_a_gradient_at_one_step(fname):
    """The comparisons below are not empty: BPTT's one-step gradient reaches the weights inside the
    recurrence (on 'lif' the readout's is zero: no spike yet, but the surrogate carries the hidden one)."""
    ref = _data_and_bptt(fname)[2]
    hidden = [k for k in ref if k != READOUT]
    assert hidden and np.abs(_flat(ref, hidden)).max() > 1e-3


@pytest.mark.parametrize('name', [n for n in NAMES if 'feedback' in lookup(n).option_names])
def test_random_feedback_is_not_bptt_at_one_step(name):
    """Negative control for the exact feedback above: a random ``B`` in place of the readout's transpose."""
    assert _options(name)['feedback'] != 'random'
    defaults = {o.name: o.default for o in lookup(name).options}
    # the rule's own default where that is random (RFLO as published), else feedback='random' (e-prop)
    control = {} if defaults['feedback'] == 'random' else {'feedback': 'random'}
    grads, ref = _one_step('rnn', name, control)
    assert worst_error(grads, ref) > 1e-2, (name, control)


# ------------------------------------------------------------------ random at one step: the mean does the work
def test_uoro_one_step_is_random_and_its_mean_over_seeds_closes_in_on_bptt():
    """UORO's first step keeps ``s~ theta~^T = nu nu^T I`` (signs ``nu``, immediate influence ``I``):
    ``E[nu nu^T] = 1`` makes it unbiased, one seed is not BPTT. 16 seeds (``seed=`` option), as 4 groups of 4:
    the error of the 16-seed mean is below 0.8 x the RMS error of the 4-seed means (1/sqrt(N) predicts 0.5;
    the triangle inequality alone guarantees only 1). Measured: one seed 0.75 .. 2.3 (median 1.07), the
    4-seed means RMS 0.67, the 16-seed mean 0.36; over 64 seeds no single one came closer than 0.54."""
    xs, ys, ref = _data_and_bptt('rnn')
    keys = list(ref)
    exact = _flat(ref, keys)
    seeded = [_one_step('rnn', 'uoro', {'seed': seed})[0] for seed in range(16)]
    for grads in seeded:            # the readout reaches no hidden state: no estimate enters its gradient
        np.testing.assert_allclose(_flat(grads, [READOUT]), _flat(ref, [READOUT]), rtol=1e-5, atol=1e-7)
    runs = np.stack([_flat(g, keys) for g in seeded])
    assert min(_error(g, exact) for g in runs) > 0.3
    group_rms = np.sqrt(np.mean([_error(g, exact) ** 2 for g in runs.reshape(4, 4, -1).mean(axis=1)]))
    mean_error = _error(runs.mean(axis=0), exact)
    assert mean_error < 0.8 * group_rms, (mean_error, group_rms)
    assert mean_error < 0.8, mean_error


def test_three_factor_one_step_is_random_and_its_mean_over_draws_closes_in_on_bptt():
    """The first visit of a step sets its baseline to its own reward: ``r - b = 0``, no hidden gradient.
    Afterwards each reset draws new exploration noise (the ``seed``'s stream, which resets do not restart),
    so 1024 draws after a reset are independent samples: one is far from BPTT (measured >= 0.3), the RMS
    error of 64-draw means is 0.3 .. 0.75 times that of 16-draw means (1/sqrt(4) = 0.5; measured 0.42 ..
    0.59 over resampled draws; 0.53 here), the mean of all within 0.2 of BPTT (measured 0.05: the estimate
    is unbiased to first order in sigma)."""
    xs, ys, ref = _data_and_bptt('rnn')
    keys = list(ref)
    exact = _flat(ref, keys)
    fx = get_fixture('rnn')
    with fx.context():
        model = fx.build()
        learner = bl.compile(model, 'three_factor', xs[0], seed=0)
        start = {k: st.value for k, st in model.states().items() if not isinstance(st, brainstate.ParamState)}

        @brainstate.transform.jit
        def one_step_after_a_reset():
            for k, value in start.items():
                model.states()[k].value = value
            learner.init_etrace_state()
            return learner.etrace_grad(xs, ys, mse_loss)[0]

        first = one_step_after_a_reset()
        runs = np.stack([_flat(one_step_after_a_reset(), keys) for _ in range(1024)])
    hidden = [k for k in keys if k != READOUT]
    assert np.all(_flat(first, hidden) == 0) and np.abs(_flat(first, [READOUT])).max() > 1e-3
    assert min(_error(g, exact) for g in runs) > 0.1

    def rms_error_of_means(n):
        means = runs.reshape(-1, n, runs.shape[1]).mean(axis=1)
        return np.sqrt(np.mean([_error(m, exact) ** 2 for m in means]))

    ratio = rms_error_of_means(64) / rms_error_of_means(16)
    assert 0.3 < ratio < 0.75, ratio
    assert _error(runs.mean(axis=0), exact) < 0.2


# ------------------------------------------------------------------ not BPTT by design
@pytest.mark.parametrize('fname', FIXTURES)
def test_osttp_one_step_is_its_projected_target_times_the_exact_influence(fname):
    """OSTTP's hidden layers learn from ``L = y* P`` (``P (K, N)``: NumPy seed ``projection_seed + i`` for
    hidden group ``i``, entries ``N(0, 1/K)``) in place of ``dL/dh``: that is the rule (a target, not an
    error, reaches the hidden layers), so one step after a reset its hidden weights get
    ``L . dh^1/dtheta``, the exact immediate influence times its own signal, re-derived here as the gradient
    of ``sum(L * h^1)``; the readout keeps the exact signal and equals BPTT."""
    xs, ys, ref = _data_and_bptt(fname)
    grads, _ = _one_step(fname, 'osttp', _options('osttp'))
    fx = get_fixture(fname)
    with fx.context():
        model = fx.build()
        (state,) = model.states(brainstate.HiddenState).values()          # each fixture: one hidden group
        width, n_out = np.shape(state.value)[-1], ys.shape[-1]
        P = np.random.default_rng(OPTIONS['osttp']['projection_seed']).standard_normal((n_out, width))
        signal = jnp.matmul(ys[0], jnp.asarray(P / np.sqrt(n_out), ys.dtype))
        params = model.states(brainstate.ParamState)

        def projected_target_times_state():
            model(xs[0])
            return jnp.sum(signal * getattr(state.value, 'mantissa', state.value))

        hidden_grads = brainstate.transform.grad(projected_target_times_state, params)()
    want = {k: ref[k] if k == READOUT else hidden_grads[k] for k in ref}
    assert worst_error(grads, want) < EXACT_TOL
    assert worst_error(grads, ref) > 0.1
