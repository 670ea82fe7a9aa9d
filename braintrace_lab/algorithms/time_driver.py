"""One time driver: a per-step body scanned over a sequence, step by step, in chunks or in windows.

Every sequence driver of the package runs its loop here (``etrace_grad`` per step,
chunked and windowed, braintrace's ``etrace_grad(*sequences, step_fn=...)`` and
``etrace_evolve``, ThreeFactor's ``sequence_grads`` and the lab's ``sequence_grads``);
what happens at a step (the online gradient of one loss, a reward term, a plain call)
stays with the caller. The loop is ``brainstate.transform.scan``, so states written by
the body carry from step to step.

>>> import jax.numpy as jnp
>>> xs = jnp.arange(10.0)
>>> step = lambda total, x_t, t: (total + x_t, x_t * t)                # step(carry, x_t, t)
>>> total, outs = scan_time(step, 0.0, xs)
>>> float(total), outs.shape
(45.0, (10,))
>>> end_chunk = lambda total, outs: (total + 100.0, outs)              # once per block of 4 steps
>>> float(scan_time(step, 0.0, xs, chunk=4, end_chunk=end_chunk)[0])    # blocks of 4, 4 and 2
345.0
>>> window_step = lambda total, x_w, ts: (total + x_w.sum(), x_w * ts)  # window_step(carry, x_w, ts)
>>> float(scan_time(window_step, 0.0, xs, window=4)[0])
45.0
"""
from __future__ import annotations

from typing import Callable, Optional

import brainstate
import jax
import jax.numpy as jnp

__all__ = ['scan_time', 'sequence_length']


def sequence_length(xs) -> int:
    """The leading (time) length shared by the leaves of ``xs``."""
    return int(jax.tree.leaves(xs)[0].shape[0])


def _blocks(xs, start, n_blocks, size):
    """``xs[start:start + n_blocks * size]`` as ``(n_blocks, size, ...)`` and its step indices."""
    head = jax.tree.map(lambda a: a[start:start + n_blocks * size].reshape((n_blocks, size) + a.shape[1:]), xs)
    return head, jnp.arange(start, start + n_blocks * size).reshape(n_blocks, size)


def _flatten_time(tree):
    return jax.tree.map(lambda a: a.reshape((-1,) + a.shape[2:]), tree)


def _concat_time(parts):
    return parts[0] if len(parts) == 1 else jax.tree.map(lambda *a: jnp.concatenate(a), *parts)


def scan_time(step: Callable, carry, xs, *, chunk: Optional[int] = None, end_chunk: Optional[Callable] = None,
              window: Optional[int] = None, observe: Optional[Callable] = None):
    """Run ``step`` over the time axis of ``xs`` and return ``(carry, outputs stacked over time)``.

    * default: ``step(carry, x_t, t) -> (carry, out)`` at every step ``t`` (``x_t`` is ``xs``
      at ``t``, ``t`` a traced int);
    * ``chunk=K``: the same steps, in blocks of ``K`` (the last block holds ``T mod K``); after
      each block ``end_chunk(carry, outs) -> (carry, outs)`` sees the block's outputs, stacked;
    * ``window=K``: ``step(carry, x_w, ts) -> (carry, outs)`` takes ``K`` steps at once
      (``x_w`` with a leading window axis, ``ts`` their indices; the last window holds
      ``T mod K``); ``outs`` has one entry per step of the window.

    ``observe(out) -> value``, if given, runs after every step and its values come back
    next to the outputs: ``(carry, (outputs, observed))``.
    """
    if chunk is not None and window is not None:
        raise ValueError('scan_time: pass either chunk= (steps added up in blocks) or window= (steps taken '
                         'several at a time), not both.')
    if observe is not None:
        inner_step = step
        step = lambda c, x, t: _observed(inner_step(c, x, t), observe)
    T = sequence_length(xs)
    if chunk is None and window is None:
        return brainstate.transform.scan(lambda c, xt: step(c, *xt), carry, (xs, jnp.arange(T)))

    size = chunk if chunk is not None else window

    def block(c, xb_ts):
        if window is not None:
            return step(c, *xb_ts)
        c, outs = brainstate.transform.scan(lambda cc, xt: step(cc, *xt), c, xb_ts)
        return (c, outs) if end_chunk is None else end_chunk(c, outs)

    n_full, parts = T // size, []
    if n_full:
        carry, outs = brainstate.transform.scan(block, carry, _blocks(xs, 0, n_full, size))
        parts.append(_flatten_time(outs))
    if T % size:
        tail = jax.tree.map(lambda a: a[n_full * size:], xs)
        carry, outs = block(carry, (tail, jnp.arange(n_full * size, T)))
        parts.append(outs)
    return carry, _concat_time(parts)


def _observed(result, observe):
    carry, out = result
    return carry, (out, observe(out))
