"""Evidence accumulation (cue accumulation): which side showed more cues?

Four groups of ``n_per_group`` spiking input channels (values 0 / 1):

* ``left``  fires with probability ``cue_rate`` per step while a left cue is on,
* ``right`` likewise for right cues,
* ``recall`` fires with probability ``cue_rate`` during the final ``recall_steps``,
* ``noise`` fires with probability ``noise_rate`` at every step.

``n_cues`` (odd, so there are no ties) cues of ``cue_steps`` steps follow each other with
``gap_steps`` silent steps after each, then ``delay_steps`` of silence and the recall
period: ``T = n_cues (cue_steps + gap_steps) + delay_steps + recall_steps``.

The label is ``0`` if most cues were left, ``1`` if most were right; labels are balanced
per batch and, given the label, the cue sides are i.i.d. fair coins conditioned on that
majority (so close calls such as 4 against 3 are common). The ``(T, B)`` mask is True
during the recall period: the loss and accuracy average the decision over those steps.
Chance accuracy is ``0.5``.

>>> task = EvidenceAccumulation()
>>> b = task.batch(6)
>>> b.inputs.shape, b.targets.shape, b.mask.shape
((47, 6, 32), (6,), (47, 6))
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ._checks import check_float, check_int
from .base import Batch, Task, balanced_labels

__all__ = ['EvidenceAccumulation']


@dataclasses.dataclass(frozen=True, kw_only=True)
class EvidenceAccumulation(Task):
    """Count left and right cue spike bursts over time; decide the majority side at recall.

    >>> EvidenceAccumulation(n_cues=3).n_steps
    27
    """
    n_cues: int = 7
    cue_steps: int = 3
    gap_steps: int = 2
    delay_steps: int = 8
    recall_steps: int = 4
    n_per_group: int = 8
    cue_rate: float = 0.4
    noise_rate: float = 0.05

    name = 'evidence'
    kind = 'classification'

    def _validate(self):
        o = self._owner
        n_cues = check_int('n_cues', self.n_cues, minimum=1, owner=o, fix='use an odd number such as 7')
        if n_cues % 2 == 0:
            raise ValueError(f'{o}: n_cues must be odd so that one side always has more cues, '
                             f'got {n_cues}; use n_cues={n_cues + 1} or {n_cues - 1}.')
        self._set('n_cues', n_cues)
        self._set('cue_steps', check_int('cue_steps', self.cue_steps, minimum=1, owner=o))
        self._set('gap_steps', check_int('gap_steps', self.gap_steps, minimum=0, owner=o))
        self._set('delay_steps', check_int('delay_steps', self.delay_steps, minimum=0, owner=o))
        self._set('recall_steps', check_int('recall_steps', self.recall_steps, minimum=1, owner=o))
        self._set('n_per_group', check_int('n_per_group', self.n_per_group, minimum=1, owner=o))
        self._set('cue_rate', check_float('cue_rate', self.cue_rate, low=0.0, high=1.0, low_open=True,
                                          owner=o, fix='a spike probability per step such as 0.4'))
        self._set('noise_rate', check_float('noise_rate', self.noise_rate, low=0.0, high=1.0, owner=o,
                                            fix='a spike probability per step such as 0.05'))

    @property
    def n_inputs(self) -> int:
        return 4 * self.n_per_group

    @property
    def n_outputs(self) -> int:
        return 2

    @property
    def n_steps(self) -> int:
        return self.n_cues * (self.cue_steps + self.gap_steps) + self.delay_steps + self.recall_steps

    @property
    def chance_level(self) -> float:
        """Accuracy of guessing: ``0.5`` (balanced left / right labels)."""
        return 0.5

    @property
    def groups(self) -> dict:
        """Channel slices of the four input groups: left, right, recall, noise."""
        g = self.n_per_group
        return {'left': slice(0, g), 'right': slice(g, 2 * g),
                'recall': slice(2 * g, 3 * g), 'noise': slice(3 * g, 4 * g)}

    def _story(self) -> str:
        return (f'{self.n_cues} cues, each a {self.cue_steps}-step burst of spikes on the left or the '
                f'right input group, are followed by {self.delay_steps} silent steps and a '
                f'{self.recall_steps}-step recall cue; the network must report the side with more cues '
                f'(spiking inputs, background noise on a fourth group).')

    def _targets_doc(self) -> str:
        return ('(B,) int32 labels, 0 = left and 1 = right, with a (T, B) mask over the recall '
                'steps (loss and accuracy are averaged over them)')

    def _cue_sides(self, rng, labels) -> np.ndarray:
        """(n_cues, B) sides (0 left, 1 right) whose majority is ``labels``."""
        sides = rng.integers(0, 2, size=(self.n_cues, labels.shape[0]))
        majority = (sides.sum(axis=0) * 2 > self.n_cues).astype(labels.dtype)
        flip = majority != labels           # the mirror image has the other majority
        return np.where(flip[None, :], 1 - sides, sides)

    def _generate(self, rng, batch_size, split):
        T, B, g = self.n_steps, batch_size, self.n_per_group
        labels = balanced_labels(rng, B, 2)
        sides = self._cue_sides(rng, labels)
        rate = np.zeros((T, B, 4 * g), np.float32)
        period = self.cue_steps + self.gap_steps
        for k in range(self.n_cues):
            t0 = k * period
            for side, sl in ((0, self.groups['left']), (1, self.groups['right'])):
                on = (sides[k] == side)[None, :, None]
                rate[t0:t0 + self.cue_steps, :, sl] = np.where(on, self.cue_rate, 0.0)
        rate[T - self.recall_steps:, :, self.groups['recall']] = self.cue_rate
        rate[:, :, self.groups['noise']] = self.noise_rate
        inputs = (rng.random(rate.shape) < rate).astype(np.float32)
        mask = np.zeros((T, B), bool)
        mask[T - self.recall_steps:] = True
        return Batch(inputs, labels, mask, self.kind)
