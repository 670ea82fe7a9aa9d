"""Tutorial 09's exercises: Spearman's rank correlation by hand, and how many runs a useful interval needs.

* ``09-spearman``: a function ``spearman_rho(x, y)`` giving Spearman's rho of paired
  values (ties share their average rank), checked against
  :func:`braintrace_lab.lab.stats.spearman` on samples with and without ties.
* ``09-runs-needed``: the smallest number of runs ``n`` for which the lab's 95 % Fisher-z
  interval around an observed rho of 0 (standard error
  :math:`\\sqrt{(1 + \\rho^2/2)/(n - 3)}`, Bonett and Wright) lies within [-0.5, +0.5].

>>> from braintrace_lab.course import check
>>> check('09-runs-needed', ...).passed
09-runs-needed: not yet solved. ...
False
"""
from __future__ import annotations

import math

from scipy import stats as st

from ..lab.stats import spearman
from .grading import Exercise, WrongAnswer, as_number, call, correct, how_far

__all__ = ['EXERCISES', 'upper_end_at_zero']

SAMPLES = (
    ([0.99, 0.95, 0.62, 0.88, 0.40], [0.86, 0.84, 0.80, 0.83, 0.78]),
    ([1.0, 0.9, 0.8, 0.7], [0.1, 0.4, 0.2, 0.3]),
    ([0.9, 0.9, 0.5, 0.7, 0.2, 0.9], [0.8, 0.6, 0.6, 0.9, 0.1, 0.7]),     # ties on both sides
    ([3.0, 1.0, 2.0], [30.0, 20.0, 10.0]),
)
HALF = 0.5


def upper_end_at_zero(n: int) -> float:
    """The upper end of the lab's 95 % Fisher-z interval for an observed rho of 0 over ``n`` runs."""
    return math.tanh(float(st.norm.ppf(0.975)) * math.sqrt(1.0 / (n - 3)))


def _grade_spearman(answer):
    name = '09-spearman'
    for x, y in SAMPLES:
        got = as_number(call(answer, list(x), list(y), what='your spearman_rho'), f'spearman_rho({x}, {y})')
        want = spearman(x, y)['rho']
        if abs(got - want) <= 1e-9:
            continue
        pearson = float(st.pearsonr(x, y)[0])
        if abs(got - pearson) < 1e-9:
            raise WrongAnswer('That is the Pearson correlation of the values themselves. Spearman correlates '
                              'their ranks: replace each value by its rank first.')
        tied = len(set(x)) < len(x) or len(set(y)) < len(y)
        extra = (' This sample has ties: tied values share the average of the ranks they occupy.'
                 if tied else '')
        raise WrongAnswer(f'spearman_rho on {len(x)} pairs is {how_far(got, want)}.{extra} Rank each side '
                          f'(1 = smallest), then take the Pearson correlation of the ranks.')
    return correct(name, 'Rho is the correlation of ranks: it asks only whether higher agreement goes with higher '
                         'accuracy, not by how much, so one rule far off in cosine cannot dominate it.')


def _grade_runs(answer):
    name = '09-runs-needed'
    n = as_number(answer, 'the number of runs')
    if n != int(n) or n < 4:
        raise WrongAnswer(f'the interval needs a whole number of runs, at least 4; {n:g} is not one.')
    n = int(n)
    hi = upper_end_at_zero(n)
    if hi > HALF:
        raise WrongAnswer(f'With {n} runs the interval around rho = 0 reaches +/-{hi:.2f}, wider than +/-{HALF}. '
                          f'More runs are needed: solve tanh(1.96 sigma) <= {HALF} for n.')
    if upper_end_at_zero(n - 1) <= HALF:
        raise WrongAnswer(f'{n} runs are enough, but so are {n - 1}: the smallest number is lower.')
    return correct(name, f'Below that, a rank correlation of 0 cannot be told apart from +/-{HALF}. Six rules '
                         f'with four seeds give 24 runs, an interval of about +/-0.4 around 0: enough to see a '
                         f'strong correlation, not to rule out a moderate one.')


EXERCISES = (
    Exercise('09-spearman', '09_does_agreement_predict_learning', "Spearman's rank correlation by hand",
             "a function spearman_rho(x, y) -> Spearman's rho of the pairs (ties get their average rank)",
             _grade_spearman),
    Exercise('09-runs-needed', '09_does_agreement_predict_learning', 'How many runs a useful interval needs',
             'an integer n: the fewest runs for which the 95 % interval around rho = 0 lies within +/-0.5',
             _grade_runs),
)
