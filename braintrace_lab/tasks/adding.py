"""Adding problem: add the values at the marked steps and report the sum at the end.

Channel 0 carries values ``x_t ~ U[0, 1)``, channel 1 carries markers ``m_t in {0, 1}``
with exactly ``n_markers`` ones at distinct random steps. The regression target is

.. math:: y = \\sum_t m_t x_t ,

read out at the last step. With ``K = n_markers`` the target has mean ``K / 2`` and
variance ``K / 12``, so the best constant predictor (``K / 2``) has mean squared error
``K / 12`` (= 1/6 for the classic two markers): that is ``chance_level``.

>>> task = AddingTask(n_steps=20)
>>> b = task.batch(4)
>>> b.inputs.shape, b.targets.shape, b.kind
((20, 4, 2), (4,), 'regression')
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ._checks import check_int
from .base import Batch, Task

__all__ = ['AddingTask']


@dataclasses.dataclass(frozen=True, kw_only=True)
class AddingTask(Task):
    """Sum the ``n_markers`` marked values of a ``n_steps`` long random sequence (regression).

    >>> AddingTask().chance_level   # 2 / 12
    0.16666666666666666
    """
    n_steps: int = 30
    n_markers: int = 2

    name = 'adding'
    kind = 'regression'

    def _validate(self):
        o = self._owner
        self._set('n_markers', check_int('n_markers', self.n_markers, minimum=1, owner=o,
                                         fix='mark at least one step, e.g. n_markers=2'))
        self._set('n_steps', check_int('n_steps', self.n_steps, minimum=max(2, self.n_markers),
                                       owner=o, fix=f'use n_steps >= max(2, n_markers={self.n_markers})'))

    @property
    def n_inputs(self) -> int:
        return 2

    @property
    def n_outputs(self) -> int:
        return 1

    @property
    def chance_level(self) -> float:
        """Mean squared error of the best constant prediction: ``n_markers / 12``."""
        return self.n_markers / 12.0

    def _story(self) -> str:
        return (f'Channel 0 carries random values in [0, 1), channel 1 marks {self.n_markers} of the '
                f'{self.n_steps} steps; at the last step the network must output the sum of the '
                f'marked values.')

    def _targets_doc(self) -> str:
        return 'the sum of the marked values, (B,) float32, scored by mean squared error at the last step'

    def _generate(self, rng, batch_size, split):
        T, K = self.n_steps, self.n_markers
        values = rng.random((T, batch_size)).astype(np.float32)
        # K distinct marked steps per sequence: the first K of a random permutation
        order = np.argsort(rng.random((T, batch_size)), axis=0)
        markers = np.zeros((T, batch_size), np.float32)
        np.put_along_axis(markers, order[:K], 1.0, axis=0)
        inputs = np.stack([values, markers], axis=-1)
        targets = (values * markers).sum(axis=0).astype(np.float32)
        return Batch(inputs, targets, None, self.kind)
