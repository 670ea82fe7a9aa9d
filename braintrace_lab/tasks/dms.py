"""Delayed match-to-sample: is the test stimulus the same as the sample seen before the delay?

Layout in time::

    sample_steps   one-hot sample stimulus a (of n_stimuli)
    delay_steps    silence
    test_steps     one-hot test stimulus b

The label is ``1`` (match) if ``b == a`` and ``0`` (non-match) otherwise, read out at the
last step. Labels are balanced within each batch (half match, half non-match; the odd
one at random), and a non-match test stimulus is uniform over the other stimuli, so the
chance accuracy is ``0.5``. Optional Gaussian input noise of std ``noise`` makes it harder.
The answer hangs on the conjunction of sample and test (an XOR for two stimuli), so no
linear read-out of the raw inputs solves it; with few stimuli one only beats chance a little.

>>> task = DelayedMatchToSample(n_stimuli=4)
>>> b = task.batch(10)
>>> b.inputs.shape, b.targets.shape, int(b.targets.sum())
((8, 10, 4), (10,), 5)
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ._checks import check_float, check_int
from .base import Batch, Task, balanced_labels

__all__ = ['DelayedMatchToSample']


@dataclasses.dataclass(frozen=True, kw_only=True)
class DelayedMatchToSample(Task):
    """Binary match / non-match of a sample and a test stimulus separated by a delay.

    >>> DelayedMatchToSample(delay_steps=10).n_steps
    14
    """
    n_stimuli: int = 4
    sample_steps: int = 2
    delay_steps: int = 4
    test_steps: int = 2
    noise: float = 0.0

    name = 'dms'
    kind = 'classification'

    def _validate(self):
        o = self._owner
        self._set('n_stimuli', check_int('n_stimuli', self.n_stimuli, minimum=2, owner=o,
                                         fix='use at least 2 stimuli so that a non-match exists'))
        for field in ('sample_steps', 'test_steps'):
            self._set(field, check_int(field, getattr(self, field), minimum=1, owner=o,
                                       fix=f'show the stimulus for at least one step, e.g. {field}=2'))
        self._set('delay_steps', check_int('delay_steps', self.delay_steps, minimum=0, owner=o,
                                           fix='use delay_steps=0 for no delay'))
        self._set('noise', check_float('noise', self.noise, low=0.0, owner=o,
                                       fix='use noise=0.0 for clean inputs or a small std such as 0.1'))

    @property
    def n_inputs(self) -> int:
        return self.n_stimuli

    @property
    def n_outputs(self) -> int:
        return 2

    @property
    def n_steps(self) -> int:
        return self.sample_steps + self.delay_steps + self.test_steps

    @property
    def chance_level(self) -> float:
        """Accuracy of guessing: ``0.5`` (balanced match / non-match labels)."""
        return 0.5

    def _story(self) -> str:
        return (f'A sample stimulus (one of {self.n_stimuli}) is shown for {self.sample_steps} steps, '
                f'then {self.delay_steps} silent steps, then a test stimulus for {self.test_steps} '
                f'steps; at the end the network says whether the test matched the sample.')

    def _targets_doc(self) -> str:
        return '(B,) int32 labels, 1 = match and 0 = non-match, scored at the last step'

    def _generate(self, rng, batch_size, split):
        S = self.n_stimuli
        labels = balanced_labels(rng, batch_size, 2)
        sample = rng.integers(0, S, size=batch_size)
        # a non-match adds a shift in 1..S-1, so the test is uniform over the other stimuli
        shift = rng.integers(1, S, size=batch_size)
        test = np.where(labels == 1, sample, (sample + shift) % S)
        inputs = np.zeros((self.n_steps, batch_size, S), np.float32)
        cols = np.arange(batch_size)
        inputs[:self.sample_steps, cols, sample] = 1.0
        inputs[self.n_steps - self.test_steps:, cols, test] = 1.0
        if self.noise > 0:
            inputs += rng.normal(0.0, self.noise, size=inputs.shape).astype(np.float32)
        return Batch(inputs, labels, None, self.kind)
