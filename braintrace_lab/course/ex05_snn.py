"""Tutorial 05's exercises: OTTT's presynaptic trace, and how much memory it saves over D-RTRL.

* ``05-ottt-trace``: a function ``ottt_update(a, x, tau, dt)`` (``tau`` and ``dt`` in ms)
  giving the next presynaptic trace; run over the catalog LIF layer's input spikes
  (``get_fixture('lif')``: tau = 5 ms, dt = 1 ms, batch 2, 12 steps, data seed 0), its
  last value must equal the trace the OTTT learner keeps (``eligibility_traces()``).
* ``05-memory-ratio``: how many times more trace memory D-RTRL keeps than OTTT for a
  LIF layer with 40 inputs and 100 neurons (batch 4), read from ``trace_memory()``.

>>> from braintrace_lab.course import check
>>> check('05-memory-ratio', None).passed
05-memory-ratio: not yet solved. ...
False
"""
from __future__ import annotations

import functools
import math

import numpy as np

from .grading import (Exercise, WrongAnswer, as_array, as_number, call, correct, how_far, relative_error,
                      scale_of)

__all__ = ['EXERCISES', 'ottt_problem', 'memory_ratio']

B, T, TAU_MS, DT_MS = 2, 12, 5.0, 1.0
N_IN = 5                      # the catalog LIF layer's inputs (ottt_problem)
WIDE = {'n_in': 40, 'n_hidden': 100, 'batch': 4}


@functools.lru_cache(maxsize=1)
def ottt_problem():
    """``(xs, trace)``: the LIF layer's input spikes ``(T, B, I)`` and OTTT's presynaptic trace after them."""
    from .. import compile as compile_learner
    from ..models import get_fixture, mse_loss

    fx = get_fixture('lif')
    with fx.context():
        xs, ys = fx.data(T=T, seed=0, batch_size=B)
        learner = compile_learner(fx.build(batch_size=B), 'ottt', xs[0])
        learner.etrace_grad(xs, ys, mse_loss)
        (trace,) = learner.eligibility_traces().values()
    if xs.shape[-1] != N_IN:
        raise RuntimeError(f'the catalog LIF layer now has {xs.shape[-1]} inputs: update N_IN')
    return np.asarray(xs, np.float64), np.asarray(trace['x'], np.float64)


@functools.lru_cache(maxsize=1)
def memory_ratio() -> float:
    """D-RTRL's trace bytes over OTTT's, for the weight ``w`` of the LIF layer of :data:`WIDE`."""
    import jax.numpy as jnp
    from .. import compile as compile_learner
    from ..models import get_fixture

    fx = get_fixture('lif')
    sizes = {'n_in': WIDE['n_in'], 'n_hidden': WIDE['n_hidden']}
    x0 = jnp.zeros((WIDE['batch'], WIDE['n_in']), jnp.float32)
    with fx.context():
        mem = {rule: compile_learner(fx.build(batch_size=WIDE['batch'], **sizes), rule, x0).trace_memory()['w']
               for rule in ('d_rtrl', 'ottt')}
    return mem['d_rtrl'] / mem['ottt']


def _grade_ottt(answer):
    name = '05-ottt-trace'
    shape = (B, N_IN)
    call(answer, np.zeros(shape), np.ones(shape), TAU_MS, DT_MS, what='your ottt_update')   # a stub stops here
    xs, expected = ottt_problem()
    a = np.zeros(shape)
    for x in xs:
        a = as_array(call(answer, a, x, TAU_MS, DT_MS, what='your ottt_update'), shape,
                     'the trace your ottt_update returns')
    err = relative_error(a, expected)
    if err < 1e-5:
        return correct(name, 'Your trace is the one OTTT keeps: the input spikes, leaked by the neuron\'s own '
                             'decay over one step. One number per input, whatever the number of neurons.')
    lam = math.exp(-DT_MS / TAU_MS)
    kept = as_array(call(answer, np.ones(shape), np.zeros(shape), TAU_MS, DT_MS, what='your ottt_update'),
                    shape, 'the trace your ottt_update returns')
    hints = [f'Your trace after {T} steps is off: relative error {err:.2g} against the OTTT learner\'s.']
    leak = float(np.mean(kept))
    if not np.allclose(kept, lam, rtol=1e-6):
        hints.append(f'With no input, your trace keeps {leak:.4g} of itself per step, {how_far(leak, lam)} '
                     f'compared with the fraction the neuron\'s membrane keeps over one step. Look at how '
                     f'section 1 defines lambda from tau and dt.')
    else:
        added = as_array(call(answer, np.zeros(shape), xs[0], TAU_MS, DT_MS, what='your ottt_update'), shape,
                         'the trace your ottt_update returns')
        s = scale_of(added, xs[0])
        hints.append(f'The leak is right; the input enters {how_far(s, 1.0)}. Look at how a spike is added '
                     f'to the trace in section 1\'s table.')
    raise WrongAnswer(' '.join(hints))


def _grade_memory(answer):
    name = '05-memory-ratio'
    value = as_number(answer, 'the ratio')
    expected = memory_ratio()
    if abs(value - expected) <= 0.01 * expected:
        return correct(name, 'D-RTRL keeps (inputs + 1) x neurons numbers per sequence, OTTT (inputs + 1): the '
                             'ratio is the number of neurons, so OTTT\'s saving grows with the layer.')
    if abs(value * expected - 1) < 0.01:
        raise WrongAnswer('Your ratio is upside down: the question asks D-RTRL\'s memory over OTTT\'s.')
    raise WrongAnswer(f'Your ratio is {how_far(value, expected)}. Count what each rule keeps per batch '
                      f'element for the weight w: D-RTRL one number per weight (bias included), OTTT one per '
                      f'input (the bias counts as an input that is always 1).')


EXERCISES = (
    Exercise('05-ottt-trace', '05_snn_family', "OTTT's presynaptic trace",
             'a function ottt_update(a, x, tau, dt) -> the next trace (tau and dt in ms), shape of a',
             _grade_ottt),
    Exercise('05-memory-ratio', '05_snn_family', 'How much memory OTTT saves',
             "a number: D-RTRL's trace bytes over OTTT's, LIF layer with 40 inputs, 100 neurons, batch 4",
             _grade_memory),
)
