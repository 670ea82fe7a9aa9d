"""Spike patterns: memorise the labels of one fixed set of random spike patterns.

Once per task (from ``seed``) ``n_patterns`` patterns are drawn, each ``n_steps x n_in``
independent Bernoulli spikes with probability ``p``, and every pattern gets a label in
``0..n_classes-1`` (each class ``n_patterns // n_classes`` times, the rest at random).
A batch draws patterns uniformly with replacement; with ``flip_prob > 0`` every spike
bit is flipped with that probability, so no two presentations are identical.

There is nothing to generalise to: 'train' and 'test' show the same patterns (with fresh
flips). This is the task that makes a random-spike SNN demo learnable. Labels ``(B,)``
int32 are scored at the last step. Chance accuracy is the share of the most common
label among the patterns, ``max_c n_c / n_patterns`` (= ``1 / n_classes`` when
``n_classes`` divides ``n_patterns``).

>>> task = SpikePatterns(n_patterns=8, n_steps=20, n_in=10, p=0.1, n_classes=2)
>>> b = task.batch(5)
>>> b.inputs.shape, task.patterns.shape, task.chance_level
((20, 5, 10), (8, 20, 10), 0.5)
"""
from __future__ import annotations

import dataclasses
import functools

import numpy as np

from ._checks import check_float, check_int
from ._spike_classification import SpikeClassification
from .base import Batch, balanced_labels

__all__ = ['SpikePatterns']


@dataclasses.dataclass(frozen=True, kw_only=True)
class SpikePatterns(SpikeClassification):
    """Classify (memorise) ``n_patterns`` fixed random spike patterns into ``n_classes`` classes.

    >>> SpikePatterns(n_patterns=6, n_classes=3).labels.tolist().count(0)
    2
    """
    n_patterns: int = 16
    n_steps: int = 25
    n_in: int = 20
    p: float = 0.1
    n_classes: int = 2
    flip_prob: float = 0.0

    name = 'spike_patterns'

    def _validate(self):
        self._check_classes_and_shape()
        o = self._owner
        self._set('n_patterns', check_int('n_patterns', self.n_patterns, minimum=self.n_classes, owner=o,
                                          fix=f'give every class a pattern: n_patterns >= '
                                              f'n_classes={self.n_classes}'))
        self._set('p', check_float('p', self.p, low=0.0, high=1.0, low_open=True, high_open=True, owner=o,
                                   fix='a spike probability per step such as 0.1'))
        self._set('flip_prob', check_float('flip_prob', self.flip_prob, low=0.0, high=0.5, high_open=True,
                                           owner=o, fix='use 0.0 for exact patterns or a small value '
                                                        'such as 0.02'))

    @property
    def chance_level(self) -> float:
        """Accuracy of always guessing the most common label: ``max_c n_c / n_patterns``."""
        return float(np.bincount(self.labels, minlength=self.n_classes).max() / self.n_patterns)

    @functools.cached_property
    def _fixed(self):
        rng = self._rng('fixed')
        patterns = rng.random((self.n_patterns, self.n_steps, self.n_in)) < self.p
        labels = balanced_labels(rng, self.n_patterns, self.n_classes)
        patterns.setflags(write=False)
        labels.setflags(write=False)
        return patterns, labels

    @property
    def patterns(self) -> np.ndarray:
        """The fixed patterns, ``(n_patterns, n_steps, n_in)`` bool."""
        return self._fixed[0]

    @property
    def labels(self) -> np.ndarray:
        """The label of each pattern, ``(n_patterns,)`` int32."""
        return self._fixed[1]

    def dataset(self) -> Batch:
        """All patterns once, in order, without flips: ``inputs (T, n_patterns, n_in)``."""
        inputs = np.transpose(self.patterns, (1, 0, 2)).astype(np.float32)
        return Batch(inputs, self.labels.copy(), None, self.kind)

    def _story(self) -> str:
        noise = f', each spike bit flipped with probability {self.flip_prob:g}' if self.flip_prob else ''
        return (f'{self.n_patterns} fixed random spike patterns ({self.n_steps} steps x {self.n_in} '
                f'channels, spike probability {self.p:g}) carry fixed labels in {self.n_classes} classes; '
                f'batches replay them in random order{noise}, and the network must memorise the labels.')

    def _targets_doc(self) -> str:
        return f'(B,) int32 pattern labels 0-{self.n_classes - 1}, scored at the last step'

    def _generate(self, rng, batch_size, split):
        which = rng.integers(0, self.n_patterns, size=batch_size)
        spikes = np.transpose(self.patterns[which], (1, 0, 2))
        if self.flip_prob > 0:
            spikes = spikes ^ (rng.random(spikes.shape) < self.flip_prob)
        return Batch(spikes.astype(np.float32), self.labels[which].copy(), None, self.kind)
