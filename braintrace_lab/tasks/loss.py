"""Loss and accuracy of network outputs on a task :class:`~braintrace_lab.tasks.base.Batch`.

jax is imported on first use; the kernels are jitted once per shape, so the helper is cheap
both eagerly (one compiled call, not one per op) and inside an outer ``jax.jit``.
"""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .base import Batch

__all__ = ['loss_and_accuracy']


@functools.lru_cache(maxsize=None)
def _kernels():
    """The jitted loss kernels, built on first use (one compile per shape, not one per op)."""
    import jax
    import jax.numpy as jnp

    def weighted_mean(x, weight):
        return jnp.sum(x * weight) / jnp.maximum(jnp.sum(weight), 1.0)

    @functools.partial(jax.jit, static_argnames='mode')
    def cross_entropy(logits, labels, mask, mode):
        logits = jnp.asarray(logits)
        if not jnp.issubdtype(logits.dtype, jnp.floating):
            logits = logits.astype(jnp.float32)
        labels = jnp.asarray(labels).astype(jnp.int32)
        if mode == 'last':                     # (B,) labels, logits (T, B, C) or (B, C)
            logits = logits[-1] if logits.ndim == 3 else logits
            weight = jnp.ones(labels.shape, logits.dtype)
        else:                                  # (T, B) weights; (B,) labels broadcast over time
            labels = jnp.broadcast_to(labels, logits.shape[:2])
            weight = (jnp.ones(labels.shape, logits.dtype) if mask is None
                      else jnp.asarray(mask).astype(logits.dtype))
        log_p = jax.nn.log_softmax(logits, axis=-1)
        nll = -jnp.take_along_axis(log_p, labels[..., None], axis=-1)[..., 0]
        correct = (jnp.argmax(logits, axis=-1) == labels).astype(logits.dtype)
        return weighted_mean(nll, weight), weighted_mean(correct, weight)

    @jax.jit
    def squared_error(outputs, targets):
        pred = jnp.asarray(outputs)
        if not jnp.issubdtype(pred.dtype, jnp.floating):
            pred = pred.astype(jnp.float32)
        pred = pred[-1] if pred.ndim == 3 else pred
        pred = pred[:, None] if pred.ndim == 1 else pred
        tgt = jnp.asarray(targets)
        tgt = tgt[:, None] if tgt.ndim == 1 else tgt
        loss = jnp.mean((pred - tgt.astype(pred.dtype)) ** 2)
        return loss, jnp.asarray(jnp.nan, dtype=loss.dtype)

    return cross_entropy, squared_error


def loss_and_accuracy(outputs, batch: Batch):
    """Return ``(loss, accuracy)`` of network ``outputs`` on ``batch``; differentiable in jax.

    Classification, ``outputs`` are logits ``(T, B, C)`` (or ``(B, C)``, already read out):
      * targets ``(B,)`` and no mask: softmax cross-entropy and accuracy at the **last step**;
      * targets ``(B,)`` with a ``(T, B)`` mask: every masked step is scored against the
        sequence label, ``loss = sum_t,b m_tb CE(y_tb, label_b) / sum_t,b m_tb``;
      * targets ``(T, B)``: per-step labels, averaged over the masked steps (all if no mask).

    Regression, ``outputs`` ``(T, B, D)`` / ``(B, D)`` / ``(B,)``: mean squared error at the
    last step against targets ``(B,)`` or ``(B, D)``; the accuracy is ``nan`` (compare the
    loss with ``task.chance_level`` instead). Works eagerly and inside ``jax.jit`` / ``jax.grad``.

    >>> loss, acc = loss_and_accuracy(jnp.zeros((11, 4, 3)), batch)   # doctest: +SKIP
    """
    out_shape = tuple(np.shape(outputs))
    tgt_shape = tuple(np.shape(batch.targets))
    mask_shape = None if batch.mask is None else tuple(np.shape(batch.mask))
    cross_entropy, squared_error = _kernels()
    if batch.kind == 'regression':
        pred = out_shape[-2:] if len(out_shape) == 3 else out_shape
        pred = pred + (1,) if len(pred) == 1 else pred
        tgt = tgt_shape + (1,) if len(tgt_shape) == 1 else tgt_shape
        if pred != tgt:
            raise ValueError(f'loss_and_accuracy: outputs of shape {out_shape} do not fit '
                             f'regression targets of shape {tgt_shape}; give outputs '
                             f'(T, B, D) or (B, D) with (B, D) = {tgt}.')
        return squared_error(outputs, batch.targets)
    if batch.kind != 'classification':
        raise ValueError(f"loss_and_accuracy: batch.kind must be 'classification' or 'regression', "
                         f'got {batch.kind!r}.')
    if len(out_shape) not in (2, 3):
        raise ValueError(f'loss_and_accuracy: classification outputs must be logits (T, B, C) or '
                         f'(B, C), got shape {out_shape}.')
    per_step = len(tgt_shape) == 2 or (mask_shape is not None and len(out_shape) == 3)
    if per_step and len(out_shape) != 3:
        raise ValueError(f'loss_and_accuracy: per-step targets or a mask need logits over time '
                         f'(T, B, C), got shape {out_shape}.')
    want = out_shape[:2] if per_step else out_shape[-2:-1]
    fits = (tgt_shape == want or (per_step and tgt_shape == want[1:])) and \
        (mask_shape is None or mask_shape == want)
    if not fits:
        raise ValueError(f'loss_and_accuracy: logits of shape {out_shape} do not fit targets '
                         f'{tgt_shape} and mask {mask_shape}; the leading axes of the logits '
                         f'must match the targets (T, B) or (B,) and the mask (T, B).')
    mode = 'steps' if per_step else 'last'
    return cross_entropy(outputs, batch.targets, batch.mask if per_step else None, mode)
