"""Random-manifold spike classification: each class is a small family of smooth rate patterns.

Once per task (from ``seed``) every class ``c`` gets ``n_templates`` smooth random rate
templates ``r_{c,k}(t, i)`` over ``n_steps`` steps and ``n_in`` channels:

.. math:: r_{c,k}(t, i) = p_{max} \\, \\sigma(2 z_{c,k}(t, i)),

where ``z`` is white Gaussian noise smoothed in time by a Gaussian kernel of width
``smooth_steps`` steps and scaled to unit variance, and ``sigma`` is the logistic function.
A sample of class ``c`` mixes its templates with random weights ``w ~ Dirichlet(1, ..., 1)``
(a point on the class's manifold) and draws Bernoulli ("Poisson") spikes with probability
``sum_k w_k r_{c,k}(t, i)`` per step. Labels ``(B,)`` int32 are balanced per batch and
scored at the last step; chance accuracy is ``1 / n_classes``.

>>> task = RandomManifold(n_classes=3, n_in=10, n_steps=30)
>>> b = task.batch(9)
>>> b.inputs.shape, sorted(b.targets.tolist()) == [0, 0, 0, 1, 1, 1, 2, 2, 2]
((30, 9, 10), True)
"""
from __future__ import annotations

import dataclasses
import functools

import numpy as np

from ._checks import check_float, check_int
from ._spike_classification import SpikeClassification
from .base import Batch, balanced_labels

__all__ = ['RandomManifold']


def smooth_noise(rng: np.random.Generator, n_steps: int, shape: tuple, width: float) -> np.ndarray:
    """Unit-variance Gaussian noise ``(n_steps, *shape)`` smoothed in time by a Gaussian of std ``width``.

    >>> smooth_noise(np.random.default_rng(0), 50, (3,), 4.0).shape
    (50, 3)
    """
    if width <= 0:
        return rng.standard_normal((n_steps, *shape))
    pad = int(np.ceil(3 * width))
    n_raw = n_steps + 2 * pad
    t = np.arange(n_steps)[:, None] + pad
    s = np.arange(n_raw)[None, :]
    kernel = np.exp(-0.5 * ((t - s) / width) ** 2)
    kernel /= np.linalg.norm(kernel, axis=1, keepdims=True)       # unit variance per step
    raw = rng.standard_normal((n_raw, int(np.prod(shape))))
    return (kernel @ raw).reshape(n_steps, *shape)


@dataclasses.dataclass(frozen=True, kw_only=True)
class RandomManifold(SpikeClassification):
    """Classify spike trains drawn from per-class families of smooth random rate templates.

    >>> RandomManifold().templates.shape   # (n_classes, n_templates, n_steps, n_in)
    (4, 3, 40, 20)
    """
    n_classes: int = 4
    n_in: int = 20
    n_steps: int = 40
    n_templates: int = 3
    smooth_steps: float = 4.0
    max_rate: float = 0.3

    name = 'manifold'

    def _validate(self):
        self._check_classes_and_shape()
        o = self._owner
        self._set('n_templates', check_int('n_templates', self.n_templates, minimum=1, owner=o,
                                           fix='use n_templates=1 for a single template per class'))
        self._set('smooth_steps', check_float('smooth_steps', self.smooth_steps, low=0.0, owner=o,
                                              fix='a width in steps such as 4.0 (0 for white noise)'))
        self._set('max_rate', check_float('max_rate', self.max_rate, low=0.0, high=1.0, low_open=True,
                                          owner=o, fix='a spike probability per step such as 0.3'))

    @property
    def chance_level(self) -> float:
        """Accuracy of guessing: ``1 / n_classes`` (balanced labels)."""
        return 1.0 / self.n_classes

    @functools.cached_property
    def templates(self) -> np.ndarray:
        """Spike probabilities per step, ``(n_classes, n_templates, n_steps, n_in)`` float32, fixed by ``seed``."""
        rng = self._rng('fixed')
        z = smooth_noise(rng, self.n_steps, (self.n_classes, self.n_templates, self.n_in),
                         self.smooth_steps)                          # (T, C, K, F)
        rates = self.max_rate / (1.0 + np.exp(-2.0 * z))
        rates = np.ascontiguousarray(np.transpose(rates, (1, 2, 0, 3)), dtype=np.float32)
        rates.setflags(write=False)
        return rates

    def _story(self) -> str:
        return (f'Each of {self.n_classes} classes is a family of {self.n_templates} smooth random rate '
                f'patterns over {self.n_in} channels; a sample mixes its class patterns at random and '
                f'emits Bernoulli spikes (peak probability {self.max_rate:g} per step); the network '
                f'names the class at the end.')

    def _targets_doc(self) -> str:
        return f'(B,) int32 class labels 0-{self.n_classes - 1}, scored at the last step'

    def _generate(self, rng, batch_size, split):
        labels = balanced_labels(rng, batch_size, self.n_classes)
        weights = rng.dirichlet(np.ones(self.n_templates), size=batch_size)      # (B, K)
        rates = np.einsum('bk,bktf->tbf', weights, self.templates[labels])        # (T, B, F)
        inputs = (rng.random(rates.shape) < rates).astype(np.float32)
        return Batch(inputs, labels, None, self.kind)
