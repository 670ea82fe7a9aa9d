"""Tutorial 03's exercises: why a silent network's loss is flat, and how much input makes it spike.

* ``03-flat-loss``: a function ``flat_loss(n_classes)`` giving the cross-entropy a network
  shows when its readout sees no spike (zero output), checked against the loss of zero
  logits for several class counts.
* ``03-input-scale``: the smallest power of two ``s`` for which ``LiveSNN(50, 128, 10,
  input_scale=s)`` (``brainstate.random.seed(0)``, ``dt = 1 ms``) is live by
  ``check_liveness`` on the seed's random spikes: ``numpy.random.default_rng(0)``,
  ``binomial(1, 0.1, (50, 8, 50))``.

>>> from braintrace_lab.course import check
>>> check('03-input-scale', ...).passed
03-input-scale: not yet solved. ...
False
"""
from __future__ import annotations

import functools
import math

import numpy as np

from .grading import Exercise, WrongAnswer, as_number, call, correct, how_far

__all__ = ['EXERCISES', 'seed_spikes', 'liveness_at']

CLASSES = (2, 5, 10)


def _zero_output_loss(n_classes: int) -> float:
    import braintools
    import jax.numpy as jnp
    logits = jnp.zeros((4, n_classes))
    labels = jnp.arange(4) % n_classes
    return float(braintools.metric.softmax_cross_entropy_with_integer_labels(logits, labels).mean())


def _grade_flat_loss(answer):
    name = '03-flat-loss'
    got = {c: as_number(call(answer, c, what='your flat_loss'), f'flat_loss({c})') for c in CLASSES}
    expected = {c: _zero_output_loss(c) for c in CLASSES}
    wrong = [c for c in CLASSES if abs(got[c] - expected[c]) > 1e-4 * expected[c]]
    if not wrong:
        return correct(name, 'A zero output gives every class the same probability, so the loss is the same '
                             'for every label and every weight change that keeps the output at zero: flat.')
    c = wrong[0]
    if len({round(v, 9) for v in got.values()}) == 1:
        raise WrongAnswer('Your flat loss does not depend on the number of classes, but the loss of a zero '
                          'output does. Look at the softmax of a vector of C zeros.')
    if all(abs(got[k] - 1 / k) < 1e-9 for k in CLASSES):
        raise WrongAnswer('You give the probability of each class; the loss is the cross-entropy of the true '
                          'class under that probability.')
    if any(all(abs(got[k] - expected[k] / math.log(base)) < 1e-5 for k in CLASSES) for base in (2, 10)):
        raise WrongAnswer('Right idea, wrong logarithm: the cross-entropy here uses the natural logarithm.')
    raise WrongAnswer(f'For {c} classes your flat loss is {how_far(got[c], expected[c])}. Look at the softmax '
                      f'of a vector of {c} zeros and at the cross-entropy of one class under it.')


@functools.lru_cache(maxsize=1)
def seed_spikes():
    """The seed tutorial's random input spikes, ``(T=50, B=8, n_in=50)`` with probability 0.1."""
    rng = np.random.default_rng(0)
    return rng.binomial(1, 0.1, (50, 8, 50)).astype(np.float32)


@functools.lru_cache(maxsize=None)
def liveness_at(scale: float):
    """``(is_live, status, message)`` of the live seed network with ``input_scale=scale``."""
    import brainstate
    import brainunit as u
    import jax.numpy as jnp
    from ..models.seed_snn import LiveSNN
    from ..oracle import check_liveness

    xs = jnp.asarray(seed_spikes())
    with brainstate.environ.context(dt=1. * u.ms):
        brainstate.random.seed(0)
        net = LiveSNN(50, 128, 10, input_scale=float(scale))
        brainstate.nn.init_all_states(net, batch_size=xs.shape[1])
        report = check_liveness(net, xs)
    return report.is_live, report.populations[0].status, report.message


def _grade_input_scale(answer):
    name = '03-input-scale'
    s = as_number(answer, 'the input scale')
    if s <= 0 or abs(math.log2(s) - round(math.log2(s))) > 1e-9:
        raise WrongAnswer(f'give a power of two (1, 2, 4, 8, ...); {s:g} is not one.')
    live, status, message = liveness_at(s)
    if not live:
        raise WrongAnswer(f"At input_scale={s:g} the network is not live: the liveness check calls it "
                          f"'{status}' ({message}). Look for a larger scale.")
    below, status_below, _ = liveness_at(s / 2)
    if below:
        raise WrongAnswer(f'input_scale={s:g} makes the network live, but so does {s / 2:g}: '
                          f'the smallest power of two is lower.')
    return correct(name, f"Below it the liveness check finds the network '{status_below}': input currents too "
                         f"small to reach the 1 mV threshold. From there on the neurons spike, the readout "
                         f"sees them, and the loss can move.")


EXERCISES = (
    Exercise('03-flat-loss', '03_snn_seed_done_right', 'The loss of a silent network',
             'a function flat_loss(n_classes) -> the cross-entropy of a network whose output is zero',
             _grade_flat_loss),
    Exercise('03-input-scale', '03_snn_seed_done_right', 'Enough input to make the seed network spike',
             'the smallest power of two input_scale at which LiveSNN(50, 128, 10) is live on the seed spikes',
             _grade_input_scale),
)
