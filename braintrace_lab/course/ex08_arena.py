"""Tutorial 08's exercises: the interval around a mean over seeds, and which rules the arena's model makes exact.

* ``08-half-width``: a function ``half_width(values)`` giving the half-width of the 95 %
  confidence interval of the mean of ``values`` (one per seed), as the lab computes it
  (Student's t with ``K - 1`` degrees of freedom); checked against
  :func:`braintrace_lab.lab.stats.t_interval` on several samples.
* ``08-exact-rules``: of the arena's online rules (:data:`RULES`), the ones whose summed
  gradient equals BPTT's (relative error below 1e-4) on the feed-forward LIF layer of the
  catalog (``get_fixture('lif')``, batch 2, 16 steps, data seed 0, ``mse_loss``).

>>> from braintrace_lab.course import check
>>> check('08-exact-rules', ...).passed
08-exact-rules: not yet solved. ...
False
"""
from __future__ import annotations

import functools
import math

import numpy as np

from .grading import Exercise, WrongAnswer, as_number, call, correct, how_far

__all__ = ['EXERCISES', 'RULES', 'rule_errors']

RULES = ('d_rtrl', 'pp_prop:0.9', 'eprop:feedback=random:kappa=0.9', 'ottt')
SAMPLES = ((0.81, 0.84, 0.79), (0.5, 0.7), (0.62, 0.66, 0.71, 0.64, 0.69), (1.0, 3.0, 2.0, 6.0))
B, T, EXACT = 2, 16, 1e-4


def _base(rule: str) -> str:
    return rule.split(':', 1)[0].split('(', 1)[0].strip().lower().replace('-', '_').replace(' ', '_')


@functools.lru_cache(maxsize=1)
def _aliases() -> dict:
    """``{normalised display name: base name}`` of the arena's rules: 'ES-D-RTRL' reads as pp_prop, 'e-prop' as eprop."""
    from ..lab.names import display_name
    return {_base(display_name(_base(r))): _base(r) for r in RULES}


def _shown(rule: str) -> str:
    """The display name of a base name, without its options: 'ES-D-RTRL' for pp_prop."""
    from ..lab.names import display_name
    return display_name(rule).split(' (', 1)[0]


def _rule_of(name) -> str:
    """The base name of a rule as the student wrote it: a registered name, a lab label or a display name."""
    base = _base(str(name))
    return _aliases().get(base, base)


@functools.lru_cache(maxsize=1)
def rule_errors() -> dict:
    """``{rule base name: relative error of its summed gradient against BPTT}`` on the catalog's LIF layer."""
    from .. import compile as compile_learner
    from ..lab import parse_algorithms
    from ..models import get_fixture, mse_loss
    from ..oracle import agreement, bptt_grad

    fx = get_fixture('lif')
    out = {}
    with fx.context():
        xs, ys = fx.data(T=T, seed=0, batch_size=B)
        exact, _ = bptt_grad(fx.build(batch_size=B), xs, lambda o, t: mse_loss(o, ys[t]))
        for _, rule, options in parse_algorithms(RULES):
            grads, _ = compile_learner(fx.build(batch_size=B), rule, xs[0], **options).etrace_grad(xs, ys, mse_loss)
            out[rule] = float(agreement(grads, exact).relative_error)
    return out


def _grade_half_width(answer):
    from scipy import stats

    name = '08-half-width'
    for values in SAMPLES:
        got = as_number(call(answer, list(values), what='your half_width'), f'half_width({list(values)})')
        x, k = np.asarray(values, float), len(values)
        want = float(stats.t.ppf(0.975, k - 1) * x.std(ddof=1) / math.sqrt(k))
        if abs(got - want) <= 1e-6 * want:
            continue
        if abs(got - 1.959964 * x.std(ddof=1) / math.sqrt(k)) <= 1e-4 * want:
            raise WrongAnswer(f'For {k} seeds you used the normal quantile 1.96. The spread itself is estimated '
                              f'from those few seeds: use Student\'s t quantile with K - 1 degrees of freedom.')
        if abs(got - float(stats.t.ppf(0.975, k - 1) * x.std(ddof=0) / math.sqrt(k))) <= 1e-6 * want:
            raise WrongAnswer('Your standard deviation divides by K; the sample standard deviation of K seeds '
                              'divides by K - 1 (numpy: ddof=1).')
        raise WrongAnswer(f'half_width({list(values)}) is {how_far(got, want)}. The half-width is a quantile '
                          f'times the standard error of the mean, s / sqrt(K).')
    return correct(name, "With K seeds the half-width is t(0.975, K - 1) s / sqrt(K): for 3 seeds the quantile is "
                         "4.3, not 1.96, so three seeds give wide intervals.")


def _grade_exact_rules(answer):
    name = '08-exact-rules'
    if isinstance(answer, str):
        answer = {answer}
    try:
        got = {_rule_of(r) for r in answer}
    except TypeError:
        raise WrongAnswer(f'give a set of rule names such as {{"d_rtrl"}}, got {type(answer).__name__}.') from None
    errors = rule_errors()
    unknown = sorted(got - set(errors))
    if unknown:
        raise WrongAnswer(f'{unknown[0]!r} is not one of the online rules of this arena: '
                          f'{", ".join(f"{r} ({_shown(r)})" for r in sorted(errors))}.')
    exact = {r for r, e in errors.items() if e < EXACT}
    if got - exact:
        r = sorted(got - exact)[0]
        raise WrongAnswer(f'{_shown(r)} ({r}) is not exact on this layer: its gradient differs from BPTT\'s by a relative error '
                          f'of {errors[r]:.2g}. Ask what it keeps of the trace, and what it multiplies it by.')
    if exact - got:
        raise WrongAnswer(f'{len(exact - got)} exact rule(s) missing. A feed-forward LIF layer has a diagonal '
                          f'Jacobian: which rules keep the full trace and multiply it by the true learning signal?')
    return correct(name, 'On a layer whose neurons depend only on their own past, D-RTRL keeps the whole influence '
                         'and equals BPTT; factorising the trace (ES-D-RTRL), sending the error back through '
                         'random weights and filtering it (e-prop as in its paper), or keeping only a presynaptic '
                         'trace (OTTT) each give up something, measured here.')


EXERCISES = (
    Exercise('08-half-width', '08_algorithm_arena', 'The interval around a mean over seeds',
             'a function half_width(values) -> the half-width of the 95 % t-interval of their mean',
             _grade_half_width),
    Exercise('08-exact-rules', '08_algorithm_arena', 'Which rules the feed-forward LIF layer makes exact',
             "a set of rule names: the arena's online rules whose gradient equals BPTT's on the LIF layer",
             _grade_exact_rules),
)
