"""Tutorial 10's exercises: where SnAp-n becomes exact RTRL, and how UORO's error of the mean shrinks.

* ``10-snap-exact-n``: on a ring of 6 tanh units (each unit coupled to itself and its two
  neighbours, so the farthest unit is 3 hops away), the smallest ``n`` at which SnAp-n's
  summed gradient equals exact RTRL's (relative error below ``1e-5``, 8 steps, float32).
* ``10-uoro-average``: the number of seeded UORO runs whose mean has half the error of the
  mean of 16 runs (independent runs of an unbiased estimate: error ``~ 1/sqrt(R)`` for ``R`` runs).

>>> from braintrace_lab.course.ex10_rtrl_zoo import snap_ring_error
>>> snap_ring_error(4) < 1e-5 < snap_ring_error(3)
True
"""
from __future__ import annotations

import functools

import numpy as np

from .grading import Exercise, WrongAnswer, as_number, correct, how_far

__all__ = ['EXERCISES', 'snap_ring_error', 'ring_model', 'N_RING']

N_RING, N_IN, T, EXACT, BASE_RUNS = 6, 2, 8, 1e-5, 16


def ring_model():
    """A fresh ring of ``N_RING`` tanh units (self-loops and two neighbours each), states initialised."""
    import brainstate
    import jax
    import jax.numpy as jnp

    from ..ops import matmul

    class Ring(brainstate.nn.Module):
        """``h = tanh(h (W * A) + x U)``, ``y = h R``, ``A`` the ring's adjacency with self-loops."""

        def __init__(self):
            super().__init__()
            k = jax.random.split(jax.random.PRNGKey(0), 3)
            i = np.arange(N_RING)
            d = (i[:, None] - i[None, :]) % N_RING
            self.A = jnp.asarray((d == 0) | (d == 1) | (d == N_RING - 1), jnp.float32)
            self.w = brainstate.ParamState(jax.random.normal(k[0], (N_RING, N_RING)) * 0.6)
            self.u = brainstate.ParamState(jax.random.normal(k[1], (N_IN, N_RING)))
            self.r = brainstate.ParamState(jax.random.normal(k[2], (N_RING, 1)) * 0.5)

        def init_state(self, *args, **kwargs):
            self.h = brainstate.HiddenState(jnp.zeros(N_RING))

        def update(self, x):
            self.h.value = jnp.tanh(matmul(self.h.value, self.w.value * self.A) + matmul(x, self.u.value))
            return matmul(self.h.value, self.r.value)

    model = Ring()
    brainstate.nn.init_all_states(model)
    return model


@functools.lru_cache(maxsize=None)
def _ring_problem():
    import jax.numpy as jnp

    from .. import compile as compile_learner
    from ..models import mse_loss

    rng = np.random.default_rng(0)
    xs = jnp.asarray(rng.standard_normal((T, N_IN)), jnp.float32)
    ys = jnp.asarray(rng.standard_normal((T, 1)), jnp.float32)
    exact, _ = compile_learner(ring_model(), 'rtrl', xs[0]).etrace_grad(xs, ys, mse_loss)
    return xs, ys, exact


@functools.lru_cache(maxsize=None)
def snap_ring_error(n: int) -> float:
    """Relative error of SnAp-n's summed gradient on the ring against exact RTRL's."""
    from .. import compile as compile_learner
    from ..models import mse_loss
    from ..oracle import agreement

    xs, ys, exact = _ring_problem()
    learner = compile_learner(ring_model(), 'snap', xs[0], n=int(n), engine='dense')
    grads, _ = learner.etrace_grad(xs, ys, mse_loss)
    return float(agreement(grads, exact).relative_error)


def _grade_snap(answer):
    name = '10-snap-exact-n'
    n = as_number(answer, 'n')
    if n != int(n) or n < 1:
        raise WrongAnswer(f'n counts steps of the recurrence kept in the pattern: a whole number >= 1, not {n:g}.')
    n = int(n)
    err = snap_ring_error(n)
    if err >= EXACT:
        raise WrongAnswer(f'At n = {n} SnAp-n is still approximate on the ring (relative error {err:.2g}): its '
                          f'pattern keeps the units at most n - 1 hops from the unit a weight drives. How many '
                          f'hops away is the farthest unit of a ring of {N_RING}?')
    if n > 1 and snap_ring_error(n - 1) < EXACT:
        raise WrongAnswer(f'n = {n} is exact, but it is not the smallest: a lower n keeps every entry too. '
                          f'Count the hops to the farthest unit.')
    return correct(name, f'A weight drives one unit at the first step; each further step of the recurrence '
                         f'reaches one more hop. The farthest unit is {n - 1} hops away, so n = {n} keeps every '
                         f'entry the influence matrix ever fills, and SnAp-n is exact RTRL.')


def _grade_uoro(answer):
    name = '10-uoro-average'
    n = as_number(answer, 'the number of runs')
    want = 4 * BASE_RUNS
    if n == 2 * BASE_RUNS:
        raise WrongAnswer(f'Twice the runs does not halve the error: the error of a mean of R independent runs '
                          f'falls like 1/sqrt(R), not 1/R.')
    if n != want:
        raise WrongAnswer(f'{n:g} runs is {how_far(n, want)}: for a mean of independent unbiased runs, write the '
                          f'error as sigma / sqrt(R) and solve for the R that halves it.')
    return correct(name, f'The variance of a mean of R runs is Var / R, its error sigma / sqrt(R): halving it '
                         f'takes four times the runs, {want}. Unbiased does not mean cheap.')


EXERCISES = (
    Exercise('10-snap-exact-n', '10_rtrl_zoo', 'Where SnAp-n becomes exact RTRL',
             'an integer n: the smallest at which SnAp-n equals exact RTRL on the ring of 6 units',
             _grade_snap),
    Exercise('10-uoro-average', '10_rtrl_zoo', 'Averaging UORO runs',
             f'a number of runs: the mean of that many UORO runs has half the error of the mean of {BASE_RUNS}',
             _grade_uoro),
)
