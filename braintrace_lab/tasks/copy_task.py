"""Copy task: see a short sequence of symbols, wait, then reproduce it step by step.

Layout in time (``L = seq_len``, ``D = delay``, ``T = 2 L + D``)::

    steps 0 .. L-1        one-hot symbol s_k on channels 0 .. n_symbols-1
    steps L .. L+D-1      silence (the memory period)
    steps L+D .. T-1      the recall cue (last channel) is on; target at step L+D+k is s_k

Inputs have ``n_symbols + 1`` channels. Targets are per-step labels ``(T, B)`` int32
with a ``(T, B)`` mask that is True at the ``L`` recall steps only, so the loss is the
mean cross-entropy over recall steps. Symbols are drawn uniformly and independently,
so the chance accuracy per recall step is ``1 / n_symbols``.

>>> task = CopyTask(n_symbols=4, seq_len=3, delay=5)
>>> b = task.batch(8)
>>> b.inputs.shape, b.targets.shape, int(b.mask.sum())
((11, 8, 5), (11, 8), 24)
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ._checks import check_int
from .base import Batch, Task

__all__ = ['CopyTask']


@dataclasses.dataclass(frozen=True, kw_only=True)
class CopyTask(Task):
    """Remember ``seq_len`` symbols (of ``n_symbols``) over ``delay`` silent steps and replay them.

    >>> CopyTask(delay=10).n_steps
    16
    """
    n_symbols: int = 4
    seq_len: int = 3
    delay: int = 5

    name = 'copy'
    kind = 'classification'

    def _validate(self):
        o = self._owner
        self._set('n_symbols', check_int('n_symbols', self.n_symbols, minimum=2, owner=o,
                                         fix='use at least 2 symbols, e.g. n_symbols=4'))
        self._set('seq_len', check_int('seq_len', self.seq_len, minimum=1, owner=o,
                                       fix='copy at least one symbol, e.g. seq_len=3'))
        self._set('delay', check_int('delay', self.delay, minimum=0, owner=o,
                                     fix='use delay=0 for no memory period'))

    @property
    def n_inputs(self) -> int:
        return self.n_symbols + 1

    @property
    def n_outputs(self) -> int:
        return self.n_symbols

    @property
    def n_steps(self) -> int:
        return 2 * self.seq_len + self.delay

    @property
    def chance_level(self) -> float:
        """Per-recall-step accuracy of guessing: ``1 / n_symbols``."""
        return 1.0 / self.n_symbols

    def _story(self) -> str:
        return (f'A sequence of {self.seq_len} symbols (of {self.n_symbols}) is shown one per step, '
                f'followed by {self.delay} silent steps; when the recall cue comes on, the network '
                f'must output the symbols again in order.')

    def _targets_doc(self) -> str:
        return ('per-step labels (T, B) int32 with a (T, B) mask that is True at the '
                f'{self.seq_len} recall steps (loss and accuracy are averaged over them)')

    def _generate(self, rng, batch_size, split):
        L, D, S = self.seq_len, self.delay, self.n_symbols
        T = self.n_steps
        symbols = rng.integers(0, S, size=(L, batch_size))
        inputs = np.zeros((T, batch_size, S + 1), np.float32)
        t_idx, b_idx = np.meshgrid(np.arange(L), np.arange(batch_size), indexing='ij')
        inputs[t_idx, b_idx, symbols] = 1.0
        inputs[L + D:, :, S] = 1.0
        targets = np.zeros((T, batch_size), np.int32)
        targets[L + D:] = symbols
        mask = np.zeros((T, batch_size), bool)
        mask[L + D:] = True
        return Batch(inputs, targets, mask, self.kind)
