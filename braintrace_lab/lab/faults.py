"""Failures the lab never hides: non-finite training steps, interrupts, bad run arguments.

* :class:`NonFiniteError` - a training step produced a non-finite loss or gradient; it
  names the step, the rule and the first parameter whose gradient went non-finite;
* :class:`TrainingInterrupted` - a ``KeyboardInterrupt`` that carries what had finished
  (``.record`` of :func:`~braintrace_lab.lab.train`, ``.comparison`` of
  :func:`~braintrace_lab.lab.compare_algorithms`);
* :class:`CheckpointError` - a checkpoint that cannot be read or belongs to another run;
* :class:`CheckpointWriteError` - a checkpoint that could not be written, with ``.record``;
* argument checks (``n_steps``, learning rates, ``on_nonfinite``) whose messages name the
  value and the fix, and the jit-side helpers :func:`finite_flags` / :func:`keep_if`.

The finite check costs one reduction per parameter inside the jitted step: a vector of
booleans ``[loss finite, grad_0 finite, ...]`` comes back with the loss, and only when it
holds a ``False`` does the host look at which entry it is.
"""
from __future__ import annotations

import math
import numbers
from typing import Optional, Sequence

__all__ = ['NonFiniteError', 'TrainingInterrupted', 'CheckpointError', 'CheckpointWriteError', 'NONFINITE_MODES',
           'check_n_steps', 'check_positive_int', 'check_int', 'check_learning_rate', 'check_on_nonfinite',
           'check_sequences', 'finite_flags', 'keep_if', 'nonfinite_message']

NONFINITE_MODES = ('raise', 'record')


class NonFiniteError(FloatingPointError):
    """A training step produced a non-finite (NaN or infinite) loss or gradient.

    ``step`` is the step index, ``algorithm`` the rule's label, ``parameter`` the path of
    the first parameter whose gradient was not finite (``None`` when only the loss was),
    ``record`` the :class:`~braintrace_lab.lab.TrainingRecord` up to and including the
    failing step (its row is marked ``nonfinite``). The update of that step was not
    applied: the weights are still those of the last finite step.
    """

    def __init__(self, message: str, step: Optional[int] = None, algorithm: Optional[str] = None,
                 parameter: Optional[str] = None, record=None, comparison=None):
        super().__init__(message)
        self.step, self.algorithm, self.parameter = step, algorithm, parameter
        self.record, self.comparison = record, comparison


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training, with what had finished: ``.record`` (one run) or ``.comparison``.

    A subclass of ``KeyboardInterrupt``, so code that stops on an interrupt still stops;
    code that wants the finished steps catches this class and reads ``.record`` (marked
    ``interrupted``) or ``.comparison`` (the finished rows, ``interrupted=True``).
    """

    def __init__(self, message: str, record=None, comparison=None, step: Optional[int] = None):
        super().__init__(message)
        self.record, self.comparison, self.step = record, comparison, step


class CheckpointError(ValueError):
    """A checkpoint that cannot be read (truncated, not a checkpoint) or was written by another run."""


class CheckpointWriteError(OSError):
    """A checkpoint could not be written (disk full, folder gone ...) during or at the end of training.

    Training stopped there; ``.record`` holds the finished steps (``.comparison`` the
    finished rows of a comparison) and ``step`` the number of steps done, as with
    :class:`TrainingInterrupted`.
    """

    def __init__(self, message: str, record=None, comparison=None, step: Optional[int] = None):
        super().__init__(message)
        self.record, self.comparison, self.step = record, comparison, step

    def __str__(self):
        return self.args[0]


# ---------------------------------------------------------------------------- argument checks
def check_positive_int(value, name: str, example: int = 100) -> int:
    """``value`` as an ``int`` >= 1; ``bool``, floats and strings are refused (TypeError)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f'{name} must be a positive integer, got {value!r} ({type(value).__name__}); '
                        f'pass e.g. {name}={example}.')
    if int(value) < 1:
        raise ValueError(f'{name} must be a positive integer (>= 1), got {int(value)}; pass e.g. '
                         f'{name}={example}.')
    return int(value)


def check_int(value, name: str, example: int = 0) -> int:
    """``value`` as an ``int`` (a seed, say); ``bool``, floats and strings are refused (TypeError)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f'{name} must be an integer, got {value!r} ({type(value).__name__}); pass e.g. '
                        f'{name}={example}.')
    return int(value)


def resolve_batch_size(batch_size, compiled=None, data=None, default: int = 16) -> int:
    """The batch to train with: ``batch_size`` if given (a positive integer), else what the compiled
    learner or the data arrays fix, else ``default``; a batch_size that disagrees with them is refused."""
    if batch_size is not None:
        batch_size = check_positive_int(batch_size, 'batch_size', default)
    fixed = [(n, what, fix) for n, what, fix in (
        (compiled, 'the learner was compiled for a batch of', f'compile it on a batch of {batch_size}'),
        (data, 'the (xs, ys) arrays hold a batch of', f'give arrays of {batch_size} sequences')) if n is not None]
    for n, what, fix in fixed:
        if batch_size is not None and batch_size != n:
            raise ValueError(f'batch_size={batch_size} but {what} {n}; leave batch_size out (it follows '
                             f'the learner or the arrays), or {fix}.')
    if len(fixed) == 2 and fixed[0][0] != fixed[1][0]:
        raise ValueError(f'{fixed[0][1]} {fixed[0][0]} but {fixed[1][1]} {fixed[1][0]}; compile the learner '
                         f'on one step of the arrays (xs[0]).')
    return batch_size or (fixed[0][0] if fixed else default)


def check_n_steps(n_steps) -> int:
    """The number of training steps: a positive integer."""
    return check_positive_int(n_steps, 'n_steps')


def check_learning_rate(lr) -> float:
    """A learning rate given as a number: finite and > 0 (ValueError naming the value otherwise)."""
    try:
        value = float(lr)
    except OverflowError:                  # an int beyond float range
        value = math.inf
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f'optimizer={lr!r}: a learning rate must be a finite number > 0; pass e.g. '
                         f'optimizer=1e-2, or a braintools optimizer object to choose another rule.')
    return value


def check_on_nonfinite(mode: str, allowed: Sequence[str] = NONFINITE_MODES) -> str:
    if mode not in allowed:
        raise ValueError(f'on_nonfinite={mode!r}: choose one of {tuple(allowed)} '
                         f'("raise" stops at the first non-finite step, "record" marks it and goes on).')
    return mode


def check_sequences(batch, source) -> None:
    """Refuse batches without time steps, and per-step targets of another length than the inputs."""
    import numpy as np
    x_shape = tuple(np.shape(batch.inputs))
    if not x_shape or x_shape[0] == 0:
        raise ValueError(f'the training data has sequences of length 0 (inputs of shape {x_shape}, time '
                         f'first); every batch needs at least one time step: give arrays whose first '
                         f'axis is time with length >= 1, or T >= 1 for a fixture.')
    from .data import SequenceSource
    if isinstance(source, SequenceSource):
        y_shape = tuple(np.shape(batch.targets))
        if not y_shape or y_shape[0] != x_shape[0]:
            t_y = y_shape[0] if y_shape else 0
            word = 'shorter' if t_y < x_shape[0] else 'longer'
            raise ValueError(f'the targets are {word} than the inputs: targets have {t_y} time steps '
                             f'(shape {y_shape}), inputs have {x_shape[0]} (shape {x_shape}); give one '
                             f'target per input step, both arrays time first.')


# ---------------------------------------------------------------------------- inside the jitted step
def finite_flags(loss, grads: dict, keys: Sequence):
    """``bool[1 + len(keys)]``: ``[loss finite, grads[keys[0]] finite, ...]`` (call inside a jit)."""
    import jax
    import jax.numpy as jnp
    flags = [jnp.isfinite(jnp.asarray(loss)).all()]
    for k in keys:
        leaves = [jnp.isfinite(jnp.asarray(x)).all() for x in jax.tree.leaves(grads[k])]
        flags.append(jnp.stack(leaves).all() if leaves else jnp.asarray(True))
    return jnp.stack(flags)


def keep_if(ok, states, old_values) -> None:
    """Set each state to its new value where ``ok``, else back to ``old_values`` (inside a jit)."""
    import jax
    import jax.numpy as jnp
    for st, old in zip(states, old_values):
        st.value = jax.tree.map(lambda new, prev: jnp.where(ok, new, prev), st.value, old)


def nonfinite_message(step: int, algorithm: str, loss: float, parameters: Sequence[str], mode: str) -> str:
    """What went non-finite at ``step`` and what to do about it."""
    if parameters:
        more = f' (and {len(parameters) - 1} more parameter(s))' if len(parameters) > 1 else ''
        what = f'the gradient of parameter {parameters[0]!r} is not finite{more}; loss {loss:.4g}'
    else:
        what = f'the loss is not finite ({loss})'
    tail = ('the update was skipped and training continues (on_nonfinite="record")' if mode == 'record' else
            'the update was not applied and training stopped; lower the learning rate or the input '
            'scale, or pass on_nonfinite="record" to mark such steps and keep going')
    return f'step {step} of {algorithm}: {what}: {tail}.'
