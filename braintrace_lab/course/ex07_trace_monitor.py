"""Tutorial 07's exercises: which trace a silent network zeroes, and how large ES-D-RTRL's input factor grows.

* ``07-silent-trace``: the parameters whose eligibility-trace norm is exactly zero when the
  recurrent spiking network of the tutorial (``LiveSNNFactory`` on the evidence task, 16
  neurons) is silenced with ``input_scale=1``, after one D-RTRL training step (batch 8).
* ``07-factor-growth``: a function ``factor_after(a, T)`` giving ES-D-RTRL's input factor
  :math:`\\epsilon_x^T` after ``T`` steps of a constant input 1 from a reset
  (:math:`\\epsilon_x^t = a\\,\\epsilon_x^{t-1} + x^t`, :math:`\\epsilon_x^0 = 0`), checked
  against the recursion for several decays and lengths.

>>> from braintrace_lab.course import check
>>> check('07-silent-trace', ...).passed
07-silent-trace: not yet solved. ...
False
"""
from __future__ import annotations

import functools

from .grading import Exercise, WrongAnswer, as_number, call, correct, how_far

__all__ = ['EXERCISES', 'silent_trace_norms', 'factor_by_recursion']

SILENT = {'task': 'evidence', 'n_hidden': 16, 'input_scale': 1.0, 'batch_size': 8}
CASES = ((0.5, 3), (0.9, 47), (0.99, 47), (0.999, 47), (0.9, 200), (0.0, 5))


@functools.lru_cache(maxsize=1)
def silent_trace_norms() -> dict:
    """``{parameter: trace norm}`` after one D-RTRL step of the silenced network of :data:`SILENT`."""
    from ..lab import LiveSNNFactory, make_learner, train
    from ..tasks import get_task

    task = get_task(SILENT['task'])
    make = LiveSNNFactory(task.n_inputs, task.n_outputs, n_hidden=SILENT['n_hidden'],
                          input_scale=SILENT['input_scale'])
    record = train(make_learner(make, 'd_rtrl'), task, n_steps=1, batch_size=SILENT['batch_size'],
                   progress=False, check_liveness=False)
    return {p: float(v[-1]) for p, v in record.trace_norms.items()}


def factor_by_recursion(a: float, T: int) -> float:
    """ES-D-RTRL's input factor after ``T`` steps of input 1 from zero, by running the recursion."""
    eps = 0.0
    for _ in range(int(T)):
        eps = a * eps + 1.0
    return eps


def _as_names(value) -> set:
    if isinstance(value, str):
        return {value}
    try:
        names = set(value)
    except TypeError:
        raise WrongAnswer(f'give a set of parameter names such as {{"some.weight"}}, got '
                          f'{type(value).__name__}.') from None
    if not all(isinstance(n, str) for n in names):
        raise WrongAnswer('each parameter name must be a string, as the keys of record.trace_norms.')
    return names


def _grade_silent_trace(answer):
    name = '07-silent-trace'
    got = _as_names(answer)
    norms = silent_trace_norms()
    unknown = sorted(got - set(norms))
    if unknown:
        raise WrongAnswer(f'{unknown[0]!r} is not a traced parameter of this network; the traced ones are the '
                          f'keys of record.trace_norms: {", ".join(sorted(norms))}.')
    zero = {p for p, v in norms.items() if v == 0.0}
    if got - zero:
        p = sorted(got - zero)[0]
        raise WrongAnswer(f'The trace of {p!r} is not zero in the silent network: its input reaches it without '
                          f'passing through a spike. Ask what each weight multiplies.')
    if zero - got:
        raise WrongAnswer('Some parameter whose trace is exactly zero is missing. Which weight multiplies the '
                          'spikes of the hidden layer, and what are those spikes when nothing fires?')
    return correct(name, 'The readout multiplies the hidden spikes; a silent layer sends it zeros, so its trace '
                         '(the filtered presynaptic activity) is zero, its gradient is zero and the loss cannot '
                         'move. The input weights still have a trace: it filters the inputs, not the spikes.')


def _grade_factor(answer):
    name = '07-factor-growth'
    for a, T in CASES:
        got = as_number(call(answer, a, T, what='your factor_after'), f'factor_after({a}, {T})')
        want = factor_by_recursion(a, T)
        if abs(got - want) > 1e-6 * max(1.0, abs(want)):
            steady = 1.0 / (1.0 - a)
            extra = (' It looks like the steady state 1 / (1 - a), which a sequence this short has not reached.'
                     if abs(got - steady) < 1e-6 * steady and T < 5 / max(1e-9, 1 - a) else '')
            raise WrongAnswer(f'factor_after({a}, {T}) is {how_far(got, want)}.{extra} Unroll the recursion '
                              f'for a few steps and sum the geometric series.')
    return correct(name, 'The factor is a geometric sum, (1 - a^T) / (1 - a): about T while T is short against '
                         '1 / (1 - a), saturating at 1 / (1 - a) after that. As a approaches 1 the trace stops '
                         'forgetting and grows with the sequence.')


EXERCISES = (
    Exercise('07-silent-trace', '07_trace_monitor', 'The trace a silent network switches off',
             'a set of parameter names: those whose trace norm is exactly zero in the silenced network',
             _grade_silent_trace),
    Exercise('07-factor-growth', '07_trace_monitor', "How large ES-D-RTRL's input factor grows",
             'a function factor_after(a, T) -> the input factor after T steps of input 1 from a reset',
             _grade_factor),
)
