"""``course.check``: the three verdicts, the result object, the registry. Fast: nothing here is graded for real."""
import pytest

from braintrace_lab import course
from braintrace_lab.course import grading

TUTORIALS = ('01_online_learning', '02_etrace_graph', '03_snn_seed_done_right', '04_gradient_agreement',
             '05_snn_family', '06_memory_and_speed', '07_trace_monitor', '08_algorithm_arena',
             '09_does_agreement_predict_learning', '10_rtrl_zoo')


def test_every_tutorial_has_at_least_two_exercises_named_after_it():
    for tutorial in TUTORIALS:
        found = course.by_tutorial(tutorial[:2])
        assert len(found) >= 2, tutorial
        assert all(e.tutorial == tutorial and e.name.startswith(tutorial[:2] + '-') for e in found)
    assert len(course.EXERCISES) == sum(len(course.by_tutorial(t[:2])) for t in TUTORIALS)


def test_the_tutorials_of_the_registry_exist():
    from nb_cells import tutorial_paths
    assert {e.tutorial for e in course.EXERCISES.values()} == {p.stem for p in tutorial_paths()}


def _stub_function(*args):
    return ...


def _returns_none(*args):
    return None


def _not_implemented(*args):
    raise NotImplementedError


FUNCTION_EXERCISES = ('01-trace-update', '01-learning-signal', '03-flat-loss', '05-ottt-trace',
                      '07-factor-growth', '08-half-width', '09-spearman')
STUBS = [(name, stub) for name in sorted(course.EXERCISES) for stub in ('ellipsis', 'none')] + \
        [(name, stub) for name in FUNCTION_EXERCISES
         for stub in ('function-returning-ellipsis', 'function-returning-none', 'not-implemented')]
_STUB_VALUES = {'ellipsis': ..., 'none': None, 'function-returning-ellipsis': _stub_function,
                'function-returning-none': _returns_none, 'not-implemented': _not_implemented}


def test_the_function_exercises_are_those_whose_answer_is_a_function():
    assert {n for n, e in course.EXERCISES.items() if e.asks.startswith('a function')} == set(FUNCTION_EXERCISES)


@pytest.mark.parametrize('name, stub', STUBS, ids=[f'{n}-{s}' for n, s in STUBS])
def test_an_untouched_stub_is_reported_not_yet_solved_and_never_raises(name, stub, capsys):
    result = course.check(name, _STUB_VALUES[stub])
    out = capsys.readouterr().out
    assert not result.passed and not result.attempted
    assert out.strip() == result.message
    assert result.message.startswith(f'{name}: not yet solved.')


def test_a_container_with_a_stub_names_the_parts_still_missing(capsys):
    result = course.check('06-width-growth', {'D-RTRL': 50.0, 'ES-D-RTRL': ...})
    assert not result.attempted and "'ES-D-RTRL'" in result.message


def test_an_exception_in_the_students_code_is_a_hint_not_a_crash(capsys):
    def flat_loss(n_classes):
        return 1 / 0
    result = course.check('03-flat-loss', flat_loss)
    assert result.attempted and not result.passed
    assert 'ZeroDivisionError' in result.message and 'flat_loss' in result.message


def test_a_function_where_a_value_is_expected_is_a_wrong_answer(capsys):
    result = course.check('06-crossover', lambda: 21)
    assert result.attempted and not result.passed and 'number' in result.message


def test_an_unknown_exercise_name_raises_and_lists_the_names():
    with pytest.raises(KeyError, match='01-trace-update'):
        course.check('01-no-such-exercise', 3)


def test_quiet_prints_nothing_and_grade_is_the_same_verdict(capsys):
    result = course.check('03-flat-loss', None, quiet=True)
    assert capsys.readouterr().out == ''
    assert course.grade('03-flat-loss', None) == result


def test_the_result_reads_well():
    ok = grading.CheckResult('01-trace-update', True, '01-trace-update: correct. Fine.')
    assert repr(ok) == "CheckResult('01-trace-update', passed=True)"
    assert str(ok) == '01-trace-update: correct. Fine.'
    assert repr(grading.CheckResult('x', False, 'm')) == "CheckResult('x', passed=False)"
    assert repr(grading.CheckResult('x', False, 'm', attempted=False)) == "CheckResult('x', not yet solved)"


@pytest.mark.parametrize('value, expected, words', [
    (1.05, 1.0, 'within 10 % but still too large'),
    (0.7, 1.0, 'between 10 % and a factor 2 too small'),
    (2.0, 1.0, 'about a factor 2 too large'),
    (0.2, 1.0, 'between a factor 2 and 10 too small'),
    (50.0, 1.0, 'more than 10 times too large'),
    (-1.0, 1.0, 'of the wrong sign'),
])
def test_how_far_is_coarse(value, expected, words):
    assert grading.how_far(value, expected) == words
