"""Tutorials 07-09: wrong answers fail with a hint naming what is off, and never the answer.

Each case is a mistake a student makes (the steady state instead of the sum after T steps,
the normal quantile for three seeds, Pearson instead of Spearman...). The check must
reject it, say what to look at, and print nothing from which the answer can be read off.
"""
import math

import numpy as np
import pytest
from scipy import stats

from braintrace_lab import course
from hints import assert_wrong_with_hint

pytestmark = pytest.mark.slow


def _ordinal_ranks(v):
    """Ranks 1..n without averaging ties (a common mistake)."""
    return np.argsort(np.argsort(v)) + 1.0


CASES = [
    ('07-silent-trace', {'linear.weight'}, ['not zero', 'multiplies'], ['readout']),
    ('07-silent-trace', {'linear.weight', 'readout.weight'}, ["'linear.weight'", 'not zero'], []),
    ('07-silent-trace', set(), ['missing', 'spikes'], ['readout']),
    ('07-silent-trace', {'neuron.V'}, ['not a traced parameter'], []),
    ('07-factor-growth', lambda a, T: 1 / (1 - a), ['steady state', 'geometric'], []),
    ('07-factor-growth', lambda a, T: a ** T, ['too small', 'geometric'], []),
    ('07-factor-growth', lambda a, T: T, ['factor_after(0.5, 3)'], []),
    ('08-half-width', lambda v: 1.959964 * np.std(v, ddof=1) / math.sqrt(len(v)), ['normal quantile', "Student's t"],
     []),
    ('08-half-width', lambda v: stats.t.ppf(0.975, len(v) - 1) * np.std(v) / math.sqrt(len(v)), ['ddof=1'], []),
    ('08-half-width', lambda v: np.std(v, ddof=1), ['standard error'], []),
    ('08-exact-rules', {'d_rtrl', 'ottt'}, ['OTTT (ottt) is not exact'], []),
    ('08-exact-rules', {'d_rtrl', 'ES-D-RTRL'}, ['ES-D-RTRL (pp_prop) is not exact'], ['not one of the online']),
    ('08-exact-rules', {'D-RTRL', 'e-prop (feedback=random, kappa=0.9)'}, ['e-prop (eprop) is not exact'],
     ['not one of the online']),
    ('08-exact-rules', set(), ['missing', 'diagonal'], ['d_rtrl']),
    ('08-exact-rules', {'bptt_online'}, ['not one of the online rules'], []),
    ('09-spearman', lambda x, y: stats.pearsonr(x, y)[0], ['Pearson correlation of the values', 'ranks'], []),
    ('09-spearman', lambda x, y: float(np.corrcoef(_ordinal_ranks(x), _ordinal_ranks(y))[0, 1]), ['ties'], []),
    ('09-runs-needed', 10, ['More runs', 'tanh'], ['16']),
    ('09-runs-needed', 20, ['so are 19', 'lower'], []),
    ('09-runs-needed', 12.5, ['whole number'], []),
]


@pytest.mark.parametrize('name, answer, words, never', CASES, ids=[f'{c[0]}-{i}' for i, c in enumerate(CASES)])
def test_a_wrong_answer_fails_with_a_hint(name, answer, words, never, capsys):
    assert_wrong_with_hint(name, answer, words, never)


def test_the_right_answers_pass():
    """The reference answers, written independently of the tutorials' solution cells."""
    assert course.check('07-factor-growth', lambda a, T: sum(a ** k for k in range(T)), quiet=True).passed
    assert course.check('08-half-width', lambda v: stats.sem(v) * stats.t.ppf(0.975, len(v) - 1), quiet=True).passed
    assert course.check('09-spearman', lambda x, y: stats.spearmanr(x, y)[0], quiet=True).passed
    assert course.check('09-runs-needed', 16, quiet=True).passed
