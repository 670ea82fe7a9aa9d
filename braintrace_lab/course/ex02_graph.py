"""Tutorial 02's exercises: which weights of a gated cell get no trace, and how big an ALIF trace is.

* ``02-no-trace``: for the catalog's GRU, LSTM and MGU networks (``RecurrentNet``, 4
  inputs, 6 units, a linear readout), the weight paths whose status in
  ``learner.graph.params`` is not ``'traced'``.
* ``02-alif-bytes``: the bytes of D-RTRL's eligibility trace for the weight ``w`` of an
  ALIF layer (the catalog's ``SpikingNet``) with 40 inputs, 100 neurons and a batch of 16,
  read from ``learner.trace_memory()``.

>>> from braintrace_lab.course import check
>>> check('02-no-trace', {'gru': ..., 'lstm': ..., 'mgu': ...}).passed
02-no-trace: not yet solved (still `...`: ...). ...
False
"""
from __future__ import annotations

import functools

from .grading import Exercise, WrongAnswer, as_number, correct, how_far

__all__ = ['EXERCISES', 'statuses', 'alif_trace_bytes']

CELLS = ('gru', 'lstm', 'mgu')
ALIF = {'n_in': 40, 'n_hidden': 100, 'batch': 16}


@functools.lru_cache(maxsize=None)
def statuses(cell: str) -> dict:
    """``{weight path: status}`` of D-RTRL compiled on the catalog's ``RecurrentNet(cell)`` (batch 2)."""
    import brainstate
    import jax.numpy as jnp
    from .. import compile as compile_learner
    from ..models.catalog import RecurrentNet

    model = RecurrentNet(cell)
    brainstate.nn.init_all_states(model, batch_size=2)
    learner = compile_learner(model, 'd_rtrl', jnp.zeros((2, 4), jnp.float32))
    return {p.path: p.status for p in learner.graph.params}


@functools.lru_cache(maxsize=1)
def alif_trace_bytes() -> int:
    """Bytes of D-RTRL's trace for ``w`` on the ALIF layer of :data:`ALIF`."""
    import jax.numpy as jnp
    from .. import compile as compile_learner
    from ..models import get_fixture

    fx = get_fixture('alif')
    with fx.context():
        model = fx.build(batch_size=ALIF['batch'], n_in=ALIF['n_in'], n_hidden=ALIF['n_hidden'])
        x0 = jnp.zeros((ALIF['batch'], ALIF['n_in']), jnp.float32)
        return int(compile_learner(model, 'd_rtrl', x0).trace_memory()['w'])


def _as_paths(value, cell):
    if isinstance(value, str):
        return {value}
    try:
        paths = set(value)
    except TypeError:
        raise WrongAnswer(f"the answer for {cell!r} must be a set of weight paths such as "
                          f"{{'cell.Wz.weight'}}, got {type(value).__name__}.") from None
    bad = [p for p in paths if not isinstance(p, str)]
    if bad:
        raise WrongAnswer(f'the answer for {cell!r} must hold weight paths as strings, got {bad[0]!r}.')
    return paths


def _grade_no_trace(answer):
    name = '02-no-trace'
    if not isinstance(answer, dict):
        raise WrongAnswer("give a dict {'gru': {...}, 'lstm': {...}, 'mgu': {...}} of weight paths.")
    missing = [c for c in CELLS if c not in answer]
    if missing:
        raise WrongAnswer(f'the answer has no entry for {missing}: give one set of weight paths per model.')
    hints = []
    for cell in CELLS:
        status = statuses(cell)
        paths = _as_paths(answer[cell], cell)
        unknown = sorted(paths - set(status))
        if unknown:
            hints.append(f'{cell}: {unknown} is not a weight of this model; the paths are those of '
                         f'learner.graph.params (for example {sorted(status)[0]!r}).')
            continue
        expected = {p for p, s in status.items() if s != 'traced'}
        extra, left_out = sorted(paths - expected), len(expected - paths)
        if extra:
            hints.append(f'{cell}: {extra} do(es) get an eligibility trace: each reaches the hidden state '
                         f'directly through its own op. Look at its status in learner.graph.explain().')
        if left_out:
            hints.append(f'{cell}: {left_out} weight(s) that get no trace are missing. Look for statuses other '
                         f"than 'traced': a weight that reaches no hidden state, or one that reaches it only "
                         f'through another weight.')
    if hints:
        raise WrongAnswer(' '.join(hints))
    return correct(name, 'The GRU leaves out its reset gate (it reaches h only through W_h) and its readout; '
                         'the LSTM and the MGU trace every gate, and leave out only the readout.')


def _grade_alif_bytes(answer):
    name = '02-alif-bytes'
    value = as_number(answer, 'the number of bytes')
    expected = alif_trace_bytes()
    if value == expected:
        return correct(name, "Batch x (inputs + bias) x neurons x 2 states x 4 bytes: an ALIF trace is twice "
                             "a LIF trace of the same size.")
    n, o, bsz = ALIF['n_in'], ALIF['n_hidden'], ALIF['batch']
    per_item = expected // (bsz * (n + 1) * o * 2)            # bytes of one float
    known = {
        0.5: 'half of it: how many states does each ALIF neuron carry, and does the trace keep one entry per state?',
        n / (n + 1): 'just short: the bias has a trace too (one more "input" that is always 1).',
        1 / bsz: f'one batch element\'s worth: D-RTRL keeps a separate trace for each of the {bsz} sequences.',
        1 / per_item: f'a count of numbers, not bytes: each float32 takes {per_item} bytes.',
    }
    ratio = value / expected
    for r, text in known.items():
        if abs(ratio - r) < 1e-9:
            raise WrongAnswer(f'Your byte count is off: it is {text}')
    raise WrongAnswer(f'Your byte count is {how_far(value, expected)}. Count the trace of one weight entry '
                      f'(one number per state of its neuron), then multiply by the weights (inputs and bias '
                      f'times neurons), the batch and the bytes of a float32. learner.eligibility_traces() '
                      f'shows the shapes.')


EXERCISES = (
    Exercise('02-no-trace', '02_etrace_graph', 'Which weights of a gated cell get no trace',
             "a dict {'gru': set, 'lstm': set, 'mgu': set} of the weight paths whose status is not 'traced'",
             _grade_no_trace),
    Exercise('02-alif-bytes', '02_etrace_graph', 'The size of an ALIF layer\'s D-RTRL trace',
             'an integer: bytes of the trace of w for an ALIF layer, 40 inputs, 100 neurons, batch 16',
             _grade_alif_bytes),
)
