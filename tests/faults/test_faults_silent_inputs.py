"""Inputs that used to be taken without a word (and changed results) are refused with the fix named."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import braintrace_lab as bl
from braintrace_lab import lab
from braintrace_lab.lab import fixture_model, make_learner
from braintrace_lab.oracle import OracleInputError, finite_difference_grad
from braintrace_lab.rules_table import _REGISTRY, lookup, register_algorithm
from braintrace_lab.tasks import get_task


@pytest.mark.parametrize('dtype', [jnp.int32, jnp.bool_, 'bf16'])
def test_a_trace_dtype_that_is_not_floating_is_refused(rnn, dtype):
    fx, model, xs, _ = rnn
    with fx.context(), pytest.raises(TypeError, match=r"trace_dtype=.* is not a floating dtype; give None"):
        bl.compile(model, 'd_rtrl', xs[0], trace_dtype=dtype)


def test_floating_trace_dtypes_still_compile(rnn):
    fx, model, xs, ys = rnn
    with fx.context():
        learner = bl.compile(model, 'd_rtrl', xs[0], trace_dtype='bfloat16')
        assert all(t.dtype == jnp.bfloat16 for t in jax.tree.leaves(learner.etrace.value))


def test_a_number_in_the_name_slot_points_at_the_option(rnn):
    fx, model, xs, _ = rnn
    with fx.context(), pytest.raises(TypeError, match=r'name must be a string or None, got 0.9 .*'
                                                      r'pp_prop\(model, decay_or_rank=0.9\)'):
        bl.D_RTRL(model, 0.9)


def test_pp_prop_without_its_decay_says_which_option_and_shows_one(rnn):
    fx, model, xs, _ = rnn
    want = r'needs the option decay_or_rank \(it has no default\), e.g. learner = pp_prop\(model, decay_or_rank=0.9\)'
    with fx.context():
        with pytest.raises(TypeError, match=want):
            bl.pp_prop(model)
        with pytest.raises(TypeError, match=want):
            bl.compile(model, 'pp_prop', xs[0])
    with pytest.raises(TypeError, match=want):          # at make_learner, not at the first training step
        make_learner(fixture_model('rnn'), 'pp_prop')
    assert bl.pp_prop(model, 0.9).decay_or_rank == 0.9   # by position, as before


def test_gradient_agreement_refuses_options_it_would_drop():
    with pytest.raises(ValueError, match="decay=0.5: decay and rank set ES-D-RTRL .* e-prop takes neither"):
        lab.gradient_agreement(None, 'rnn', algorithm='eprop', decay=0.5, T=4)
    with pytest.raises(ValueError, match='rank must be a positive integer'):
        lab.gradient_agreement(None, 'rnn', algorithm='pp_prop', rank=0, T=4)
    with pytest.raises(TypeError, match='an integer is a rank: pass rank=2'):
        lab.gradient_agreement(None, 'rnn', algorithm='pp_prop', decay=2, T=4)
    with pytest.raises(ValueError, match='not both'):
        lab.gradient_agreement(None, 'rnn', algorithm='pp_prop', decay=0.5, rank=2, T=4)
    with pytest.raises(TypeError, match='window must be a positive integer, got 2.5'):
        lab.gradient_agreement(None, 'rnn', window=2.5, T=4)
    for bad in (0, -1):
        with pytest.raises(ValueError, match=f'batch_size must be a positive integer .*got {bad}'):
            lab.gradient_agreement(None, 'rnn', batch_size=bad, T=4)
    with pytest.raises(ValueError, match='T must be a positive integer'):
        lab.gradient_agreement(None, 'rnn', T=-5)
    rank2 = lab.gradient_agreement(None, 'rnn', algorithm='pp_prop', rank=2, T=4)
    decay = lab.gradient_agreement(None, 'rnn', algorithm='pp_prop', T=4)
    assert rank2.summary().startswith('pp_prop(rank 2)') and decay.summary().startswith('pp_prop(0.9)')


def _arrays(batch=4, n_out=2, T=10):
    rng = np.random.default_rng(0)
    return rng.normal(size=(T, batch, 4)).astype('f4'), rng.normal(size=(T, batch, n_out)).astype('f4')


def _train(data, **kw):
    return lab.train(make_learner(fixture_model('leaky', n_in=4, n_out=2), 'd_rtrl'), data, n_steps=2,
                     progress=False, check_liveness=False, **kw)


def test_targets_that_would_broadcast_against_the_outputs_are_refused():
    xs, _ = _arrays()
    with pytest.raises(ValueError, match=r'the model puts out \(4, 2\) per step but the targets are \(4, 1\)'):
        _train((xs, _arrays(n_out=1)[1]))
    with pytest.raises(ValueError, match=r'shapes \(10, 4, 4\) and \(10, 1, 2\) do not pair up'):
        _train((xs, _arrays(batch=1)[1]))


def test_the_batch_of_fixed_arrays_is_the_batch_recorded():
    xs, ys = _arrays(batch=4)
    assert _train((xs, ys)).config['batch_size'] == 4
    with pytest.raises(ValueError, match='batch_size=16 but the .xs, ys. arrays hold a batch of 4; leave batch_size out'):
        _train((xs, ys), batch_size=16)
    cmp = lab.compare_algorithms(fixture_model('leaky', n_in=4, n_out=2), (xs, ys), ['d_rtrl'], n_steps=2,
                                 progress=False, check_liveness=False)
    assert cmp.config['batch_size'] == 4


@pytest.mark.parametrize('kw, message', [(dict(record_every=2.5), 'record_every must be a positive integer'),
                                         (dict(seed='a'), "seed must be an integer, got 'a'"),
                                         (dict(batch_size=2.7), 'batch_size must be a positive integer')])
def test_training_numbers_are_not_rounded_or_parsed_quietly(kw, message):
    with pytest.raises(TypeError, match=message):
        lab.train(make_learner(fixture_model('leaky', get_task('dms')), 'd_rtrl'), 'dms', n_steps=1,
                  progress=False, check_liveness=False, **kw)


def test_logits_with_another_class_count_are_refused():
    task = get_task('dms')
    batch = task.batch(4)
    with pytest.raises(ValueError, match=f'have 5 classes but the task has {task.n_outputs}'):
        task.loss_and_accuracy(jnp.zeros((batch.inputs.shape[0], 4, 5)), batch)
    loss, acc = task.loss_and_accuracy(jnp.zeros((batch.inputs.shape[0], 4, task.n_outputs)), batch)
    assert np.isfinite(loss)


@pytest.mark.parametrize('eps', [0.0, -1.0, float('nan'), 'a'])
def test_finite_differences_refuse_a_step_that_is_not_positive(rnn, eps):
    fx, model, xs, ys = rnn
    with fx.context(), pytest.raises(OracleInputError, match=f'eps={eps!r}: the finite-difference step'):
        finite_difference_grad(model, xs, lambda out, t: jnp.sum(out ** 2), eps=eps)


def test_a_built_in_name_is_not_rebound_by_accident():
    with pytest.raises(ValueError, match=r"'d_rtrl' \(D-RTRL\) already names another rule; .* replace=True"):
        register_algorithm(bl.EProp, 'd_rtrl')
    assert lookup('d_rtrl').display_name == 'D-RTRL'
    with pytest.raises(TypeError, match='names must be non-empty strings'):
        register_algorithm(bl.EProp, 5)
    try:                                    # on purpose, and a notebook cell run twice, are allowed
        register_algorithm(bl.EProp, 'probe_rebind')
        register_algorithm(bl.EProp, 'probe_rebind')
        register_algorithm(bl.OTTT, 'probe_rebind', replace=True)
        assert _REGISTRY['probe_rebind'] is bl.OTTT
    finally:
        _REGISTRY.pop('probe_rebind', None)


def test_a_pair_of_decays_is_refused_with_one_decay_suggested(rnn):
    fx, model, xs, _ = rnn
    with fx.context(), pytest.raises(TypeError, match=r"decay_or_rank=\(0.9, 0.5\): an \(input side, output side\) "
                                                      r"pair .* e.g. decay_or_rank=0.5"):
        bl.pp_prop(model, decay_or_rank=(0.9, 0.5))
