"""Sequential digits: scikit-learn's bundled 8x8 handwritten digits, fed to a network over time.

The 1797 images of ``sklearn.datasets.load_digits()`` ship with scikit-learn (nothing
is downloaded). Pixel intensities are scaled to ``x in [0, 1]``. Three encodings:

* ``'rows'``: one image row per step, ``8`` features, each row held for ``repeat``
  steps (``T = 8 * repeat``); analogue inputs.
* ``'rate'``: all ``64`` pixels as spiking channels for ``spike_steps`` steps, each a
  Bernoulli spike train with probability ``max_rate * x`` per step.
* ``'latency'``: all ``64`` pixels, a pixel with ``x > 0`` fires exactly once, at step
  ``round((1 - x) (spike_steps - 1))`` (bright pixels fire first); dark pixels never fire.

The images are split once per ``seed`` into a stratified train and test set
(``test_fraction`` of every class goes to test); ``batch(..., split='test')`` only ever
draws test images. Labels ``(B,)`` int32 in ``0..9`` are scored at the last step. The
ten classes hold 174 to 183 images each, so the chance accuracy is ``0.1`` (always
guessing the most common digit scores at most 0.102).

>>> task = SequentialDigits(encoding='rows', repeat=2)
>>> b = task.batch(16)
>>> b.inputs.shape, b.targets.shape
((16, 16, 8), (16,))
"""
from __future__ import annotations

import dataclasses
import functools

import numpy as np

from ._checks import check_choice, check_float, check_int
from .base import MAX_SEED, SPLITS, Batch, Task

__all__ = ['SequentialDigits', 'ENCODINGS']

ENCODINGS = ('rows', 'rate', 'latency')


@functools.lru_cache(maxsize=1)
def _load_digits():
    """(images (1797, 8, 8) float32 in [0, 1], labels (1797,) int32), read-only, loaded once."""
    from sklearn.datasets import load_digits
    data = load_digits()
    images = (np.asarray(data.images, np.float32) / 16.0)
    labels = np.asarray(data.target, np.int32)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


@dataclasses.dataclass(frozen=True, kw_only=True)
class SequentialDigits(Task):
    """Classify 8x8 digits shown row by row (``'rows'``) or as spike trains (``'rate'``, ``'latency'``).

    >>> SequentialDigits(encoding='rate', spike_steps=25).n_inputs
    64
    """
    encoding: str = 'rows'
    repeat: int = 1
    spike_steps: int = 20
    max_rate: float = 0.5
    test_fraction: float = 0.25

    name = 'digits'
    kind = 'classification'

    def _validate(self):
        o = self._owner
        check_choice('encoding', self.encoding, ENCODINGS, owner=o)
        self._set('repeat', check_int('repeat', self.repeat, minimum=1, owner=o,
                                      fix='use repeat=1 for one step per row'))
        self._set('spike_steps', check_int('spike_steps', self.spike_steps, minimum=1, owner=o,
                                           fix='use a few tens of steps, e.g. spike_steps=20'))
        self._set('max_rate', check_float('max_rate', self.max_rate, low=0.0, high=1.0, low_open=True,
                                          owner=o, fix='a spike probability per step such as 0.5'))
        self._set('test_fraction', check_float('test_fraction', self.test_fraction, low=0.0, high=1.0,
                                               low_open=True, high_open=True, owner=o,
                                               fix='a fraction such as 0.25'))

    # -- sizes -------------------------------------------------------------------------
    @property
    def n_inputs(self) -> int:
        return 8 if self.encoding == 'rows' else 64

    @property
    def n_outputs(self) -> int:
        return 10

    @property
    def n_steps(self) -> int:
        return 8 * self.repeat if self.encoding == 'rows' else self.spike_steps

    @property
    def chance_level(self) -> float:
        """Accuracy of guessing: ``0.1`` (ten nearly balanced classes)."""
        return 0.1

    # -- data split --------------------------------------------------------------------
    @functools.cached_property
    def _split_indices(self) -> dict:
        _, labels = _load_digits()
        rng = self._rng('fixed')
        train, test = [], []
        for c in range(10):
            idx = rng.permutation(np.flatnonzero(labels == c))
            n_test = min(max(int(round(self.test_fraction * idx.size)), 1), idx.size - 1)
            test.append(idx[:n_test])
            train.append(idx[n_test:])
        return {'train': rng.permutation(np.concatenate(train)),
                'test': rng.permutation(np.concatenate(test))}

    @property
    def n_train(self) -> int:
        return int(self._split_indices['train'].size)

    @property
    def n_test(self) -> int:
        return int(self._split_indices['test'].size)

    def arrays(self, split: str = 'train'):
        """The raw ``(images (N, 8, 8) in [0, 1], labels (N,))`` of a split, e.g. for sklearn baselines."""
        split = check_choice('split', split, SPLITS, owner=self._owner + '.arrays')
        images, labels = _load_digits()
        idx = self._split_indices[split]
        return images[idx], labels[idx]

    def dataset(self, split: str = 'test', seed: int = 0) -> Batch:
        """The whole split as one Batch, in a fixed order (``seed`` picks the spike draw)."""
        split = check_choice('split', split, SPLITS, owner=self._owner + '.dataset')
        seed = check_int('seed', seed, minimum=0, maximum=MAX_SEED, owner=self._owner + '.dataset')
        images, labels = self.arrays(split)
        rng = self._rng('fixed', stream=1 + SPLITS.index(split), index=seed)
        return Batch(self.encode(images, rng), labels.copy(), None, self.kind)

    # -- encoding ----------------------------------------------------------------------
    def encode(self, images: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """Encode ``(B, 8, 8)`` images in ``[0, 1]`` as ``(T, B, F)`` float32 inputs.

        ``rng`` is needed for the ``'rate'`` encoding only.
        """
        images = np.asarray(images, np.float32)
        B = images.shape[0]
        if self.encoding == 'rows':
            rows = np.transpose(images, (1, 0, 2))                      # (8, B, 8)
            return np.ascontiguousarray(np.repeat(rows, self.repeat, axis=0))
        pixels = images.reshape(B, 64)
        T = self.spike_steps
        if self.encoding == 'rate':
            if rng is None:
                raise ValueError(f"{self._owner}.encode: the 'rate' encoding draws random spikes; "
                                 f'pass rng=np.random.default_rng(seed).')
            p = self.max_rate * pixels
            return (rng.random((T, B, 64)) < p[None]).astype(np.float32)
        spikes = np.zeros((T, B, 64), np.float32)
        t_fire = np.rint((1.0 - pixels) * (T - 1)).astype(np.int64)
        b_idx, f_idx = np.nonzero(pixels > 0)
        spikes[t_fire[b_idx, f_idx], b_idx, f_idx] = 1.0
        return spikes

    def _story(self) -> str:
        how = {'rows': f'row by row (8 features per step, each row held {self.repeat} step(s))',
               'rate': f'as Bernoulli rate-coded spikes of all 64 pixels over {self.spike_steps} steps '
                       f'(peak probability {self.max_rate:g} per step)',
               'latency': f'as one latency-coded spike per lit pixel over {self.spike_steps} steps '
                          f'(brighter fires earlier)'}[self.encoding]
        return (f'The 8x8 handwritten digits of scikit-learn ({self.n_train} train / {self.n_test} test '
                f'images) are shown {how}; the network names the digit at the end.')

    def _targets_doc(self) -> str:
        return '(B,) int32 digit labels 0-9, scored at the last step'

    def _generate(self, rng, batch_size, split):
        idx = self._split_indices[split]
        if batch_size > idx.size:
            raise ValueError(f'{self._owner}.batch: batch_size must be at most the {idx.size} images of '
                             f'the {split!r} split, got {batch_size}; use dataset({split!r}) for all.')
        images, labels = _load_digits()
        chosen = idx[rng.choice(idx.size, size=batch_size, replace=False)]
        return Batch(self.encode(images[chosen], rng), labels[chosen].copy(), None, self.kind)
