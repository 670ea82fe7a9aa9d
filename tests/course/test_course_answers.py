"""Right answers pass however they are written, and the numbers a hint prints agree with its words.

The cases here are answers a careful student gives: a decay typed as text or as a float32,
a sequence length as a float, the display names the notebooks print ('ES-D-RTRL',
'e-prop'). The graders compute their references with the oracle: seconds per exercise.
"""
import re

import numpy as np
import pytest

from braintrace_lab import course
from braintrace_lab.course import ex04_agreement

pytestmark = pytest.mark.slow


def test_the_es_decay_grid_falls_at_every_step_and_keeps_clear_of_the_threshold():
    """What the exercise states and what keeps its answer stable under rounding."""
    cos = [ex04_agreement.es_cosine(a) for a in ex04_agreement.GRID]
    assert all(a > b for a, b in zip(cos, cos[1:])), cos
    assert min(abs(c - ex04_agreement.THRESHOLD) for c in cos) > 0.01, cos


@pytest.mark.parametrize('answer', [0.6, '0.6', np.float32(0.6), 0.6000000001, np.array(0.6)])
def test_the_largest_decay_on_the_grid_passes_in_any_form(answer):
    assert course.check('04-es-decay', answer, quiet=True).passed


@pytest.mark.parametrize('answer', [0.1, 0.3, 0.5, 0.7, 0.8, 0.9, 0.61, 0.65, 0.0, 1.0])
def test_every_other_decay_is_rejected(answer):
    result = course.check('04-es-decay', answer, quiet=True)
    assert result.attempted and not result.passed, result.message


@pytest.mark.parametrize('answer', [0.7, 0.8, 0.9])
def test_a_cosine_called_below_the_threshold_prints_below_it(answer):
    message = course.check('04-es-decay', answer, quiet=True).message
    printed = float(re.search(r'cosine to BPTT is ([0-9.]+)', message).group(1))
    assert 'below 0.9' in message and printed < 0.9, message


@pytest.mark.parametrize('answer', [21, '21', 21.0, np.int64(21)])
def test_the_crossover_is_the_length_of_equal_memory(answer):
    assert course.check('06-crossover', answer, quiet=True).passed


def test_the_first_length_where_bptt_stores_more_is_told_apart_from_a_miscount():
    first_more = course.check('06-crossover', 22, quiet=True).message
    far_more = course.check('06-crossover', 30, quiet=True).message
    assert 'first length' in first_more and 'first length' not in far_more


@pytest.mark.parametrize('divide', [lambda h: len(h), lambda h: h.shape[0], lambda h: float(h.shape[0])])
def test_a_learning_signal_averaged_over_the_batch_is_named_as_such(divide):
    result = course.check('01-learning-signal', lambda h, V, y: 2 * (h @ V - y) @ V.T / divide(h), quiet=True)
    assert not result.passed and 'divided by the batch size' in result.message
    assert 'half as large' not in result.message


def test_the_learning_signal_passes_written_another_way():
    assert course.check('01-learning-signal', lambda h, V, y: -2 * np.einsum('bo,no->bn', y - h @ V, V),
                        quiet=True).passed


@pytest.mark.parametrize('answer', [{'d_rtrl'}, {'D-RTRL'}, ['d_rtrl'], 'D-RTRL', ('d_rtrl',)])
def test_the_exact_rule_passes_by_code_name_or_display_name(answer):
    assert course.check('08-exact-rules', answer, quiet=True).passed


@pytest.mark.parametrize('extra, shown', [('ES-D-RTRL', 'ES-D-RTRL'), ('ES-D-RTRL (a=0.9)', 'ES-D-RTRL'),
                                          ('e-prop', 'e-prop'), ('pp_prop(0.9)', 'ES-D-RTRL'),
                                          ('eprop(feedback=random,kappa=0.9)', 'e-prop'), ('OTTT', 'OTTT')])
def test_a_display_name_is_read_as_the_rule_it_names(extra, shown):
    result = course.check('08-exact-rules', {'d_rtrl', extra}, quiet=True)
    assert not result.passed and f'{shown} (' in result.message and 'is not exact' in result.message
    assert 'not one of the online rules' not in result.message
