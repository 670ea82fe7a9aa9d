"""The wrong kind of object, or a value that does not fit an option, is refused naming what was given and the fix.

Each of these used to reach an internal traceback (``'str' object has no attribute ...``, an
``MLIRError``, ``invalid literal for int()``), a quoted ``KeyError`` or, for two of them, no error at all.
"""
import jax.numpy as jnp
import numpy as np
import pytest

import braintrace_lab as bl
from braintrace_lab import lab, oracle
from braintrace_lab.lab import compare_algorithms, fixture_model, make_learner, parse_algorithms
from braintrace_lab.lab.rule_specs import RuleSpecError
from braintrace_lab.models import get_fixture

QUIET = dict(n_steps=2, batch_size=2, progress=False)


@pytest.fixture(scope='module')
def leaky(dms):
    return fixture_model('leaky', dms, n_hidden=4)


# ---------------------------------------------------------------------------- C10: lab entry points
def test_train_refuses_a_model_factory_naming_make_learner(leaky, dms):
    with pytest.raises(TypeError, match=r"the learner is a model factory \(fixture_model\('leaky'.*choose the rule: "
                                        r"train\(make_learner\(fixture_model\('leaky'.*'d_rtrl'\)"):
        lab.train(leaky, dms, **QUIET)


def test_train_refuses_a_model_instance_and_a_rule_name(leaky, dms):
    with pytest.raises(TypeError, match=r'the learner is a LeakyNet model \(a network, not a learner\); compile it '
                                        r"with a rule: train\(braintrace_lab.compile\(model, 'd_rtrl', x0\)"):
        lab.train(leaky(2), dms, **QUIET)
    with pytest.raises(TypeError, match=r"the learner is the string 'd_rtrl'; a rule name alone has no model: pass "
                                        r"make_learner\(fixture_model\('leaky', task\), 'd_rtrl'\)"):
        lab.train('d_rtrl', dms, **QUIET)
    with pytest.raises(TypeError, match=r'the learner is 3 \(int\); pass a learner factory'):
        lab.train(3, dms, **QUIET)


def test_compare_refuses_a_learner_factory_and_a_name_where_the_model_factory_goes(leaky, dms):
    with pytest.raises(TypeError, match=r'compare_algorithms needs a model factory.*got a learner factory '
                                        r"\(make_learner\(.*pass the model factory inside, fixture_model\('leaky'"):
        compare_algorithms(make_learner(leaky, 'd_rtrl'), dms, ['d_rtrl'], **QUIET)
    with pytest.raises(TypeError, match=r"got the string 'leaky' \(for a catalog model: "
                                        r"fixture_model\('leaky', task\)\)"):
        compare_algorithms('leaky', dms, ['d_rtrl'], **QUIET)
    with pytest.raises(TypeError, match='make_learner needs a model factory.*got a LeakyNet model'):
        make_learner(leaky(2), 'd_rtrl')


# ---------------------------------------------------------------------------- C13: fixtures
def test_a_fixture_typo_is_a_value_error_listing_the_names_with_the_closest():
    for call in (lambda: get_fixture('leakyy'), lambda: fixture_model('leakyy')):
        with pytest.raises(ValueError, match=r"^no fixture 'leakyy' \(did you mean 'leaky'\?\); the fixtures are: "
                                             r"alif, conv_leaky, gru, leaky,"):
            call()
    assert get_fixture('Linear-Leaky').name == 'linear_leaky'


@pytest.mark.parametrize('kw, error, words', [
    (dict(n_hidden=0), ValueError, "n_hidden=0 must be a positive integer"),
    (dict(n_hidden=-3), ValueError, "n_hidden=-3 must be a positive integer"),
    (dict(n_hidden='8'), TypeError, r"n_hidden='8' \(str\) must be an integer; pass e.g. n_hidden=16"),
    (dict(seed=0.5), TypeError, r'seed=0.5 \(float\) must be an integer'),
    (dict(hidden=8), TypeError, r'unknown option\(s\) hidden \(did you mean n_hidden\?\); LeakyNet takes n_in, '
                                r'n_hidden, n_out, lam, seed'),
])
def test_fixture_options_are_checked_when_the_factory_is_made(kw, error, words):
    with pytest.raises(error, match=words):
        fixture_model('leaky', **kw)                 # before any model is built
    with pytest.raises(error, match=words):
        get_fixture('leaky').build(batch_size=2, **kw)


def test_fixture_model_takes_a_task_by_name_and_refuses_other_objects(dms):
    by_name = fixture_model('leaky', 'dms', n_hidden=4)
    assert (by_name.kwargs['n_in'], by_name.kwargs['n_out']) == (dms.n_inputs, dms.n_outputs)
    with pytest.raises(ValueError, match="unknown task name 'dmz'"):
        fixture_model('leaky', 'dmz')
    with pytest.raises(TypeError, match=r'task must be a task \(get_task\("dms"\)\) or a task name, got 5 \(int\)'):
        fixture_model('leaky', 5)


# ---------------------------------------------------------------------------- C14, D16, D17
def test_a_negative_sequence_length_is_refused_before_xla(leaky):
    with pytest.raises(ValueError, match=r'T must be a positive integer \(>= 1\), got -3; pass e.g. T=20'):
        lab.train(make_learner(fixture_model('leaky'), 'd_rtrl'), 'leaky', T=-3, **QUIET)


def test_compare_and_train_agree_on_record_every_zero(leaky, dms):
    for call in (lambda: compare_algorithms(leaky, dms, ['d_rtrl'], record_every=0, **QUIET),
                 lambda: lab.train(make_learner(leaky, 'd_rtrl'), dms, record_every=0, **QUIET)):
        with pytest.raises(ValueError, match=r'record_every must be a positive integer \(>= 1\), got 0'):
            call()
    cmp = compare_algorithms(leaky, dms, ['d_rtrl'], record_every=None, eval_size=0, **QUIET)
    assert cmp.config['record_every'] == 1                # None: the default (n_steps // 20, at least 1)


def test_an_option_without_its_value_is_told_to_take_one():
    with pytest.raises(RuleSpecError, match=r"'eprop:kappa': option 'kappa' has no value; write eprop:kappa=VALUE"):
        parse_algorithms('eprop:kappa')
    with pytest.raises(RuleSpecError, match='only pp_prop / es_d_rtrl take a value without a name'):
        parse_algorithms('eprop:0.5')                   # a bare value is still the decay's form


def test_a_comma_separated_string_lists_rules_as_the_command_line_does(leaky, dms):
    assert [s[0] for s in parse_algorithms('bptt, d_rtrl,pp_prop:0.5')] == ['bptt', 'd_rtrl', 'pp_prop(0.5)']
    assert [s[0] for s in parse_algorithms(['bptt,d_rtrl', ('pp_prop', {'decay_or_rank': 0.5})])] == \
        ['bptt', 'd_rtrl', 'pp_prop(0.5)']
    cmp = compare_algorithms(leaky, dms, 'bptt,d_rtrl', eval_size=0, **QUIET)
    assert [r['algorithm'] for r in cmp.rows] == ['bptt', 'd_rtrl']


# ---------------------------------------------------------------------------- C15: option values named
@pytest.mark.parametrize('rule, kw, error, words', [
    ('eprop', dict(feedback_seed='a'), TypeError, r"EProp: feedback_seed must be an int, got 'a' \(str\); pass e.g. "
                                                  r"feedback_seed=0"),
    ('osttp', dict(projection_seed='a'), TypeError, r"OSTTP: projection_seed must be an int, got 'a'"),
    ('uoro', dict(seed='x'), TypeError, r"compile: seed='x' \(str\) must be an int \(or None\); pass e.g. seed=0"),
    ('d_rtrl', dict(seed=1.5), TypeError, r"compile: seed=1.5 \(float\) must be an int"),
    ('osttp', dict(target_shape=(-1,)), ValueError, r"target_shape=\(-1,\): give the target's shape as positive "
                                                    r"integer sizes, e.g. target_shape=\(n_out,\)"),
    ('osttp', dict(target_shape=('a',)), ValueError, r"target_shape=\('a',\): give the target's shape"),
])
def test_option_values_are_refused_naming_the_option(rnn, rule, kw, error, words):
    fx, model, xs, _ = rnn
    with fx.context(), pytest.raises(error, match=words):
        bl.compile(model, rule, xs[0], **kw)


def test_compile_refuses_a_function_as_the_model_and_reads_a_list_as_an_array(rnn):
    fx, model, xs, _ = rnn
    with pytest.raises(TypeError, match=r'compile: model must be a brainstate.nn.Module .*got function'):
        bl.compile(lambda x: x, 'd_rtrl', xs[0])
    with fx.context():
        learner = bl.compile(model, 'd_rtrl', np.asarray(xs[0]).tolist())      # nested lists of numbers
        assert learner.is_compiled and learner(xs[0]).shape == (2, fx.n_out)


def test_etrace_grad_params_must_be_a_mapping_of_states(rnn):
    fx, model, xs, ys = rnn
    with fx.context():
        learner = bl.compile(model, 'd_rtrl', xs[0])
        with pytest.raises(TypeError, match=r"params must map names to the model's ParamStates.*got list. "
                                            r'Leave params=None'):
            learner.etrace_grad(xs, ys, lambda o, y: jnp.sum((o - y) ** 2), params=[1, 2])


def test_train_resume_true_explains_the_path_form(leaky, dms):
    with pytest.raises(TypeError, match=r"resume=True: lab.train takes resume=PATH, the checkpoint file of the run "
                                        r"to continue.*compare_algorithms's form"):
        lab.train(make_learner(leaky, 'd_rtrl'), dms, resume=True, **QUIET)


def test_a_vmap_learner_given_another_batch_names_both():
    fx = get_fixture('leaky')
    with fx.context():
        learner = bl.compile(fx.make(dtype=jnp.float32), 'd_rtrl', jnp.ones((4, fx.n_in)), batch_size=4, vmap=True)
        assert learner(jnp.ones((4, fx.n_in))).shape == (4, fx.n_out)
        with pytest.raises(ValueError, match=r'compiled with vmap=True for a batch of 4 on axis 0, but an input has '
                                             r'shape \(2, 4\) \(batch 2\).*compile again with batch_size=2'):
            learner(jnp.ones((2, fx.n_in)))


# ---------------------------------------------------------------------------- 18: the oracles' loss_fn
@pytest.mark.parametrize('fn', [oracle.bptt_grad, oracle.bptt_grad_per_step, oracle.rtrl_grad,
                                oracle.rtrl_grad_per_step, oracle.finite_difference_grad])
def test_oracle_docstrings_say_loss_fn_gets_the_step_index(fn):
    doc = ' '.join(fn.__doc__.split())
    first_paragraph_after_summary = ' '.join(fn.__doc__.split('\n\n')[1].split())
    assert first_paragraph_after_summary.startswith('``loss_fn(out, t)`` IS CALLED WITH THE STEP INDEX ``t``')
    assert 'NOT A TARGET' in doc and 'lambda out, t: loss(out, ys[t])' in doc
