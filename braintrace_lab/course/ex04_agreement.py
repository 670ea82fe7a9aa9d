"""Tutorial 04's exercises: where ES-D-RTRL stops agreeing with BPTT, and the rank that loses nothing.

Both use the catalog's leaky integrator (``get_fixture('leaky')``), batch 2, 16 steps,
data seed 0, per-step loss ``mse_loss``, gradients summed over the sequence
(``learner.etrace_grad``) and compared with ``bptt_grad`` by ``agreement``:

* ``04-es-decay``: the largest decay ``a`` on the grid 0.1, 0.2, ..., 0.9 at which
  ES-D-RTRL's cosine to BPTT, over all parameters, is at least 0.9. On that grid the cosine
  falls at every step, and no grid value lies within 0.015 of the threshold (0.9160 at
  0.6, 0.8808 at 0.7), so rounding in the last digits cannot move the answer.
* ``04-lossless-rank``: the smallest integer rank ``r`` for which ``pp_prop`` with
  ``decay_or_rank=r`` equals BPTT on the same model with 3 hidden units (``n_hidden=3``).

>>> from braintrace_lab.course.ex04_agreement import es_cosine
>>> round(es_cosine(0.5), 2)
0.94
"""
from __future__ import annotations

import functools

from .grading import Exercise, WrongAnswer, as_number, correct

__all__ = ['EXERCISES', 'es_cosine', 'rank_error']

B, T, THRESHOLD, N_RANK = 2, 16, 0.9, 3
GRID = tuple(round(0.1 * k, 1) for k in range(1, 10))     # the decays the exercise asks about


@functools.lru_cache(maxsize=None)
def _problem(n_hidden=None):
    from ..models import get_fixture, mse_loss
    from ..oracle import bptt_grad

    fx = get_fixture('leaky')
    kw = {} if n_hidden is None else {'n_hidden': n_hidden}
    with fx.context():
        xs, ys = fx.data(T=T, seed=0, batch_size=B)
        exact, _ = bptt_grad(fx.build(batch_size=B, **kw), xs, lambda out, t: mse_loss(out, ys[t]))
    return fx, kw, xs, ys, exact


def _online(decay_or_rank, n_hidden=None):
    from .. import compile as compile_learner
    from ..models import mse_loss
    from ..oracle import agreement

    fx, kw, xs, ys, exact = _problem(n_hidden)
    with fx.context():
        learner = compile_learner(fx.build(batch_size=B, **kw), 'pp_prop', xs[0], decay_or_rank=decay_or_rank)
        grads, _ = learner.etrace_grad(xs, ys, mse_loss)
    return agreement(grads, exact)


@functools.lru_cache(maxsize=None)
def es_cosine(decay: float) -> float:
    """Cosine, over all parameters, between ES-D-RTRL's summed gradient (decay ``decay``) and BPTT's."""
    return float(_online(float(decay)).cosine)


@functools.lru_cache(maxsize=None)
def rank_error(rank: int) -> float:
    """Relative error against BPTT of ``pp_prop`` with integer rank ``rank`` on the 3-unit leaky model."""
    return float(_online(int(rank), N_RANK).relative_error)


def _grade_es_decay(answer):
    name = '04-es-decay'
    a = as_number(answer, 'the decay')
    if not 0 < a < 1:
        raise WrongAnswer(f'a decay lies strictly between 0 and 1; {a:g} does not.')
    on_grid = [g for g in GRID if abs(a - g) < 1e-6]
    if not on_grid:
        raise WrongAnswer(f'{a:g} is not on the grid 0.1, 0.2, ..., 0.9: give the largest decay of that grid '
                          f'at which the cosine is at least {THRESHOLD}.')
    a = on_grid[0]
    cos_a = es_cosine(a)
    if cos_a < THRESHOLD:
        raise WrongAnswer(f'At decay {a:g} the cosine to BPTT is {cos_a:.4f}, below {THRESHOLD}: look for the '
                          f'answer at a smaller decay.')
    above = GRID.index(a) + 1
    if above < len(GRID) and es_cosine(GRID[above]) >= THRESHOLD:
        raise WrongAnswer(f'At decay {a:g} the cosine to BPTT is {cos_a:.4f}, at or above {THRESHOLD}, and it stays '
                          f'there at the next decay of the grid: the largest such decay is larger. Run es_cosine '
                          f'on the decays above yours.')
    return correct(name, f'Your decay is the last on the grid whose cosine stays at or above {THRESHOLD}; the next '
                         f'one falls below. The longer the factors remember, the more the product of two leaky '
                         f'sums differs from the true trace, and the larger the traced weights\' gradients grow '
                         f'against the exact readout\'s.')


def _grade_rank(answer):
    name = '04-lossless-rank'
    r = as_number(answer, 'the rank')
    if r != int(r) or r < 1:
        raise WrongAnswer(f'a rank is a whole number of factor pairs, at least 1; {r:g} is not.')
    r = int(r)
    err = rank_error(r)
    if err > 1e-4:
        raise WrongAnswer(f'At rank {r} the gradient is still approximate (relative error {err:.2g} against '
                          f'BPTT): the trace of one sequence is an I x (O S) matrix, and rank {r} truncates it. '
                          f'Look at its shape for this model.')
    if r > 1 and rank_error(r - 1) <= 1e-4:
        raise WrongAnswer(f'Rank {r} loses nothing, but neither does {r - 1}: the smallest is lower. What is the '
                          f'largest rank an I x (O S) matrix can have?')
    return correct(name, 'A trace of one sequence is an I x (O S) matrix; its rank is at most min(I, O S), so '
                         'that many factor pairs hold it exactly, and one fewer cannot.')


EXERCISES = (
    Exercise('04-es-decay', '04_gradient_agreement', 'Where ES-D-RTRL stops agreeing with BPTT',
             'a decay a on the grid 0.1, 0.2, ..., 0.9: the largest whose cosine to BPTT is at least 0.9',
             _grade_es_decay),
    Exercise('04-lossless-rank', '04_gradient_agreement', 'The smallest rank that loses nothing',
             'an integer r: the smallest pp_prop rank equal to BPTT on the leaky model with 3 hidden units',
             _grade_rank),
)
