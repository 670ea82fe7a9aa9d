"""Held-out evaluation: a trained model's loss and accuracy on sequences it never trained on.

:func:`evaluate` runs the trainer's model forward (no learning rule, no gradient) over a
held-out :class:`~braintrace_lab.lab.data.SourceBatch`, in chunks of the trainer's batch
size (the model's states are shaped for it), each from reset states like a training
batch, and scores the outputs with the data source's own metrics. The weights do not
change; the result is stored in the record (``heldout_loss``, ``heldout_accuracy``,
``heldout_size``).

>>> tr = Trainer(factory, task, batch_size=16); record = tr.run(20, progress=False)
>>> scores = evaluate(tr, tr.source.eval_batch(64))  # {'loss': ..., 'accuracy': ..., 'n': 64}
"""
from __future__ import annotations

import math

import brainstate
import jax.numpy as jnp
import numpy as np

from .data import SequenceSource, SourceBatch
from .devices import put_batch

__all__ = ['evaluate', 'eval_size_for']


def eval_size_for(n: int, batch_size: int) -> int:
    """``n`` rounded up to a whole number of batches (the evaluation runs batch by batch)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f'eval_size={n!r}: give the number of held-out sequences as a positive integer, '
                         f'e.g. eval_size=256.')
    return int(math.ceil(int(n) / batch_size) * batch_size)


def _make_eval_fn(trainer):
    model = trainer.model

    def fn(inputs, targets, mask):
        trainer._reset()
        batch = SourceBatch(inputs, targets, mask)

        def body(t):
            out = model(inputs[t])
            return getattr(out, 'mantissa', out)

        outs = brainstate.transform.for_loop(body, jnp.arange(inputs.shape[0]))
        loss, acc = trainer.source.metrics(outs, batch)
        trainer._reset()
        return jnp.stack([jnp.asarray(loss, jnp.float32), jnp.asarray(acc, jnp.float32)])

    return brainstate.transform.jit(fn)


def _targets_per_step(source, targets: np.ndarray) -> bool:
    """Whether ``targets`` are time-major (``(T, B, ...)``): per-step sequences and per-step labels."""
    return isinstance(source, SequenceSource) or (source.kind == 'classification' and targets.ndim == 2)


def _chunk(batch: SourceBatch, start: int, size: int, per_step: bool) -> tuple:
    """``(inputs, targets, mask)`` of sequences ``start:start + size``."""
    targets = np.asarray(batch.targets)
    tgt = targets[:, start:start + size] if per_step else targets[start:start + size]
    mask = None if batch.mask is None else np.asarray(batch.mask)[:, start:start + size]
    return np.asarray(batch.inputs)[:, start:start + size], tgt, mask


def evaluate(trainer, batch: SourceBatch) -> dict:
    """``{'loss', 'accuracy', 'n'}`` of ``trainer``'s model on ``batch`` (weights unchanged); also stored
    in ``trainer.record`` as ``heldout_loss``, ``heldout_accuracy`` and ``heldout_size``.

    The loss and accuracy are the means over chunks of ``trainer.batch_size`` sequences, so
    ``batch`` must hold a whole number of them (see :func:`eval_size_for`).
    """
    n, size = batch.batch_size, trainer.batch_size
    if n % size:
        raise ValueError(f'the held-out batch has {n} sequences, not a whole number of batches of {size}: '
                         f'draw {eval_size_for(n, size)} (eval_size_for(n, batch_size)) sequences instead.')
    fn = getattr(trainer, '_eval_fn', None)
    if fn is None:
        fn = trainer._eval_fn = _make_eval_fn(trainer)
    stats, per_step = [], _targets_per_step(trainer.source, np.asarray(batch.targets))
    with trainer._env():
        for start in range(0, n, size):
            args = put_batch(trainer, _chunk(batch, start, size, per_step))     # on the trainer's devices
            stats.append(np.asarray(fn(*args), dtype=float))
    loss, acc = np.mean(stats, axis=0).tolist()
    rec = trainer.record
    rec.heldout_loss, rec.heldout_accuracy, rec.heldout_size = float(loss), float(acc), int(n)
    return {'loss': float(loss), 'accuracy': float(acc), 'n': int(n)}
