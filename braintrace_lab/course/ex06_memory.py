"""Tutorial 06's exercises: how trace memory grows with width, and when BPTT's memory catches up with D-RTRL's.

Both use the catalog's dense tanh RNN (``get_fixture('rnn')``: 4 inputs, one recurrent
matmul on ``[x, h]`` with a bias) with a batch of 8, and ``learner.trace_memory()``:

* ``06-width-growth``: the factors ``{'D-RTRL': ..., 'ES-D-RTRL': ...}`` by which each
  rule's trace grows when the RNN goes from 16 to 128 hidden units (to within 1 %).
* ``06-crossover``: the sequence length ``T`` at which BPTT's stored hidden states (one
  ``(B, N)`` state per step, ``N = 16``) take exactly as many bytes as D-RTRL's trace
  (one step longer and BPTT stores more).

>>> from braintrace_lab.course.ex06_memory import trace_bytes
>>> trace_bytes('d_rtrl', 16)
10752
"""
from __future__ import annotations

import functools

from .grading import Exercise, WrongAnswer, as_number, correct, how_far

__all__ = ['EXERCISES', 'trace_bytes', 'bptt_step_bytes']

B, N_BASE, N_WIDE = 8, 16, 128
RULES = {'D-RTRL': ('d_rtrl', {}), 'ES-D-RTRL': ('pp_prop', {'decay_or_rank': 0.9})}


@functools.lru_cache(maxsize=None)
def trace_bytes(rule: str, n_hidden: int) -> int:
    """Total trace bytes of ``rule`` (``'d_rtrl'`` or ``'pp_prop'`` with decay 0.9) on the RNN, batch 8."""
    from .. import compile as compile_learner
    from ..models import get_fixture

    options = {'pp_prop': {'decay_or_rank': 0.9}}.get(rule, {})
    fx = get_fixture('rnn')
    with fx.context():
        xs, _ = fx.data(T=1, seed=0, batch_size=B)
        learner = compile_learner(fx.build(batch_size=B, n_hidden=n_hidden), rule, xs[0], **options)
        return int(sum(learner.trace_memory().values()))


@functools.lru_cache(maxsize=1)
def bptt_step_bytes(n_hidden: int = N_BASE) -> int:
    """Bytes BPTT keeps per step: the RNN's hidden state ``(B, N)``, one copy per step of the sequence."""
    import brainstate
    import jax
    import numpy as np
    from ..models import get_fixture

    fx = get_fixture('rnn')
    with fx.context():
        model = fx.build(batch_size=B, n_hidden=n_hidden)
    return int(sum(x.size * np.dtype(x.dtype).itemsize
                   for st in model.states(brainstate.HiddenState).values() for x in jax.tree.leaves(st.value)))


def _grade_growth(answer):
    name = '06-width-growth'
    if not isinstance(answer, dict) or set(answer) != set(RULES):
        raise WrongAnswer(f"give a dict with exactly the keys {sorted(RULES)}, one growth factor each.")
    hints = []
    for label, (rule, _) in RULES.items():
        value = as_number(answer[label], f'the factor for {label}')
        expected = trace_bytes(rule, N_WIDE) / trace_bytes(rule, N_BASE)
        if abs(value - expected) > 0.01 * expected:
            what = ('one number per weight: (inputs + N) x N, plus N for the bias, and only part of the '
                    'input side grows with N' if label == 'D-RTRL' else
                    'an input factor (inputs + N), an output factor (N) and one number for the bias')
            hints.append(f'{label}: your factor is {how_far(value, expected)}. Count its trace per batch '
                         f'element at N = {N_BASE} and at N = {N_WIDE}: {what}.')
    if hints:
        raise WrongAnswer(' '.join(hints))
    return correct(name, 'D-RTRL grows about as N squared (one entry per weight), ES-D-RTRL about as N (two '
                         'factors); the 4 inputs that do not grow keep both below the pure powers.')


def _grade_crossover(answer):
    name = '06-crossover'
    value = as_number(answer, 'the sequence length')
    if value != int(value) or value < 1:
        raise WrongAnswer(f'a sequence length is a whole number of steps; {value:g} is not.')
    t = int(value)
    per_step, trace = bptt_step_bytes(), trace_bytes('d_rtrl', N_BASE)
    if t * per_step == trace:
        return correct(name, 'BPTT stores one hidden state per step; D-RTRL one trace entry per weight, which '
                             'for this layer is inputs + N + 1 hidden states\' worth. Longer sequences than '
                             'that favour D-RTRL, and BPTT keeps growing while D-RTRL does not.')
    side = 'less' if t * per_step < trace else 'more'
    if (t - 1) * per_step == trace:
        raise WrongAnswer(f'At T = {t} BPTT stores more than D-RTRL\'s trace: it is the first length at which BPTT '
                          f'needs more. The exercise asks for the length at which the two take the same number of '
                          f'bytes.')
    raise WrongAnswer(f'At T = {t} BPTT stores {side} than D-RTRL\'s trace ({how_far(t * per_step, trace)}). '
                      f'Count both per batch element: BPTT N numbers per step, D-RTRL one number per weight of '
                      f'the recurrent layer, bias included.')


EXERCISES = (
    Exercise('06-width-growth', '06_memory_and_speed', 'How trace memory grows with width',
             "a dict {'D-RTRL': factor, 'ES-D-RTRL': factor}: trace growth from 16 to 128 hidden units",
             _grade_growth),
    Exercise('06-crossover', '06_memory_and_speed', "When BPTT's memory catches up with D-RTRL's",
             "an integer T: the sequence length at which BPTT's stored states equal D-RTRL's trace (N = 16)",
             _grade_crossover),
)
