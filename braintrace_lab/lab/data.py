"""Data sources for the lab: one interface over tasks, catalog fixtures and fixed sequences.

Online rules learn from a loss that is a SUM over steps, ``L = sum_t L^t``. A task scores
a whole output sequence (:func:`braintrace_lab.tasks.loss_and_accuracy`); here that loss
is split into its exact per-step terms, e.g. for a label read at the last step

.. math:: L^t = [t = T-1] \\cdot \\frac{1}{B} \\sum_b \\mathrm{CE}(y^t_b, c_b),

so that ``sum_t L^t`` equals the task loss and the online gradient of the sum is the
gradient the task asks for.

>>> src = as_source(get_task('dms'))
>>> b = src.batch(8, index=0, seed=0)          # SourceBatch(inputs (T, B, F), targets, mask)
>>> total = sum(src.step_loss(out[t], t, b) for t in range(b.T))   # doctest: +SKIP
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

__all__ = ['SourceBatch', 'DataSource', 'TaskSource', 'SequenceSource', 'as_source']

EVAL_FIXTURE_SEED = -1          # fixtures' held-out stream (training batches use seeds >= 0)


@dataclasses.dataclass(frozen=True)
class SourceBatch:
    """One training batch: ``inputs (T, B, *F)``, ``targets`` and an optional ``(T, B)`` mask."""
    inputs: Any
    targets: Any
    mask: Any = None

    @property
    def T(self) -> int:
        return int(np.shape(self.inputs)[0])

    @property
    def batch_size(self) -> int:
        return int(np.shape(self.inputs)[1])

    def arrays(self):
        """``(inputs, targets, mask)`` as a tuple for a jitted function (``mask`` may be None)."""
        return self.inputs, self.targets, self.mask


def _mantissa(x):
    return getattr(x, 'mantissa', x)


class DataSource:
    """Interface: ``batch(batch_size, index, seed)``, ``eval_batch(n)``, ``step_loss``, ``metrics``."""
    name = 'data'
    kind = 'regression'
    n_inputs = None
    n_outputs = None
    fixed_batch_size = None      # the batch size the data itself fixes (fixed arrays), else None

    def batch(self, batch_size: int, index: int = 0, seed: int = 0) -> SourceBatch:
        raise NotImplementedError

    def eval_batch(self, n: int):
        """``n`` held-out sequences (a :class:`SourceBatch`) never used for training, or ``None`` if
        the source has none (fixed arrays): then no held-out metric is reported."""
        return None

    def step_loss(self, out_t, t, batch: SourceBatch):
        """Loss term ``L^t`` of one step (a jax scalar; ``t`` may be traced)."""
        raise NotImplementedError

    def metrics(self, outputs, batch: SourceBatch):
        """``(loss, accuracy)`` of the output sequence ``(T, B, C)``; accuracy ``nan`` for regression."""
        raise NotImplementedError

    def __repr__(self):
        return f'{type(self).__name__}({self.name})'


class TaskSource(DataSource):
    """A :class:`braintrace_lab.tasks.Task`: batches from its seeded stream, its own loss."""

    def __init__(self, task):
        self.task = task
        self.name = getattr(task, 'name', type(task).__name__)
        self.kind = task.kind
        self.n_inputs = task.n_inputs
        self.n_outputs = task.n_outputs

    def batch(self, batch_size, index=0, seed=0):
        return self._source_batch(self.task.batch(batch_size, index, seed=seed))

    def eval_batch(self, n):
        """The task's fixed evaluation set (:meth:`braintrace_lab.tasks.Task.eval_batch`)."""
        eval_batch = getattr(self.task, 'eval_batch', None)
        return None if eval_batch is None else self._source_batch(eval_batch(n))

    @staticmethod
    def _source_batch(b) -> SourceBatch:
        return SourceBatch(np.asarray(b.inputs, np.float32), np.asarray(b.targets),
                           None if b.mask is None else np.asarray(b.mask))

    def _as_task_batch(self, batch):
        from ..tasks import Batch
        return Batch(batch.inputs, batch.targets, batch.mask, self.kind)

    def metrics(self, outputs, batch):
        return self.task.loss_and_accuracy(_mantissa(outputs), self._as_task_batch(batch))

    def step_loss(self, out_t, t, batch):
        import jax
        import jax.numpy as jnp
        out = jnp.asarray(_mantissa(out_t))
        if not jnp.issubdtype(out.dtype, jnp.floating):
            out = out.astype(jnp.float32)
        T = batch.T
        tgt = jnp.asarray(batch.targets)
        if self.kind == 'regression':
            tgt = tgt.reshape(tgt.shape[0], -1).astype(out.dtype)
            pred = out.reshape(out.shape[0], -1)
            return jnp.where(t == T - 1, jnp.mean((pred - tgt) ** 2), 0.0)
        log_p = jax.nn.log_softmax(out, axis=-1)
        per_step_labels = tgt.ndim == 2
        labels = (tgt[t] if per_step_labels else tgt).astype(jnp.int32)
        nll = -jnp.take_along_axis(log_p, labels[:, None], axis=-1)[:, 0]
        if batch.mask is None and not per_step_labels:       # label read at the last step
            return jnp.where(t == T - 1, jnp.mean(nll), 0.0)
        w = (jnp.ones(tgt.shape if per_step_labels else (T,) + tgt.shape, out.dtype)
             if batch.mask is None else jnp.asarray(batch.mask).astype(out.dtype))
        return jnp.sum(w[t] * nll) / jnp.maximum(jnp.sum(w), 1.0)

    def __repr__(self):
        return f'TaskSource({self.task!r})'


def _check_output_shape(out_shape, target_shape) -> None:
    """A step's output and target must have one shape: broadcasting one against the other is no loss."""
    if tuple(out_shape) != tuple(target_shape):
        raise ValueError(f'the model puts out {tuple(out_shape)} per step but the targets are {tuple(target_shape)} '
                         f'per step (batch, outputs); size the model\'s readout to the targets '
                         f'(e.g. n_out={target_shape[-1] if target_shape else 1}) and give one target row per sequence.')


class SequenceSource(DataSource):
    """Regression on per-step targets ``ys (T, B, D)``: ``L^t = sum_{b,d} (y^t - ys^t)^2 / B``.

    Built from fixed arrays ``(xs, ys)`` (the same batch every step) or from a catalog
    :class:`~braintrace_lab.models.Fixture` (``fx.data`` with the step's seed).
    """

    def __init__(self, xs=None, ys=None, fixture=None, T: int = 20):
        if fixture is None and (xs is None or ys is None):
            raise ValueError('SequenceSource needs (xs, ys) arrays or a fixture.')
        self.fixture, self.T = fixture, T
        self.xs, self.ys = xs, ys
        self.name = fixture.name if fixture is not None else 'sequence'
        if fixture is not None:
            self.n_inputs, self.n_outputs = fixture.n_in, fixture.n_out
        else:
            x_shape, y_shape = tuple(np.shape(xs)), tuple(np.shape(ys))
            if len(x_shape) in (2, 3) and len(y_shape) == len(x_shape) and x_shape[0] != y_shape[0]:
                word = 'shorter' if y_shape[0] < x_shape[0] else 'longer'
                raise ValueError(f'the targets are {word} than the inputs: targets have {y_shape[0]} time steps '
                                 f'(shape {y_shape}), inputs have {x_shape[0]} (shape {x_shape}); give one target '
                                 f'per input step, both arrays time first.')
            if len(x_shape) not in (2, 3) or len(y_shape) != len(x_shape) or x_shape[:-1] != y_shape[:-1]:
                raise ValueError(f'(xs, ys) arrays of shapes {x_shape} and {y_shape} do not pair up: give both '
                                 f'time first, (T, B, features) and (T, B, outputs) (or (T, features) and '
                                 f'(T, outputs) for one sequence), with the same T and B.')
            self.n_inputs, self.n_outputs = x_shape[-1], y_shape[-1]
            self.fixed_batch_size = x_shape[1] if len(x_shape) == 3 else 1

    def batch(self, batch_size, index=0, seed=0):
        if self.fixture is None:
            xs, ys = np.asarray(self.xs, np.float32), np.asarray(self.ys, np.float32)
            if xs.ndim == 2:
                xs, ys = xs[:, None], ys[:, None]
            return SourceBatch(xs, ys)
        xs, ys = self.fixture.data(T=self.T, seed=seed * 100003 + index, batch_size=batch_size)
        return SourceBatch(np.asarray(xs), np.asarray(ys))

    def eval_batch(self, n):
        """A fixture's held-out sequences: drawn with a seed below every training batch's (they use
        ``seed * 100003 + index >= 0``); fixed arrays have none (``None``)."""
        if self.fixture is None:
            return None
        xs, ys = self.fixture.data(T=self.T, seed=EVAL_FIXTURE_SEED, batch_size=int(n))
        return SourceBatch(np.asarray(xs), np.asarray(ys))

    def step_loss(self, out_t, t, batch):
        import jax.numpy as jnp
        out = jnp.asarray(_mantissa(out_t))
        y = jnp.asarray(batch.targets)[t]
        _check_output_shape(out.shape, y.shape)
        return jnp.sum((out - y) ** 2) / batch.batch_size

    def metrics(self, outputs, batch):
        import jax.numpy as jnp
        out = jnp.asarray(_mantissa(outputs))
        _check_output_shape(out.shape[1:], np.shape(batch.targets)[1:])
        loss = jnp.sum((out - jnp.asarray(batch.targets)) ** 2) / batch.batch_size
        return loss, jnp.asarray(jnp.nan, loss.dtype)

    def __repr__(self):
        return f'SequenceSource({self.name}, T={self.T})' if self.fixture is not None else \
            f'SequenceSource(xs{tuple(np.shape(self.xs))}, ys{tuple(np.shape(self.ys))})'


def as_source(data, T: int = 20) -> DataSource:
    """Wrap a task, a task name, a fixture (or fixture name) or an ``(xs, ys)`` pair.

    >>> as_source('dms')              # a task by name
    >>> as_source('lif', T=20)        # a catalog fixture: per-step regression targets
    >>> as_source((xs, ys))           # fixed arrays, time first
    """
    if isinstance(data, DataSource):
        return data
    from .faults import check_positive_int
    T = check_positive_int(T, 'T', 20)          # the length of a fixture's sequences (a task sets its own)
    from ..models import CATALOG, Fixture
    from ..tasks import Task, available_tasks, get_task
    if isinstance(data, Task):
        return TaskSource(data)
    if isinstance(data, Fixture):
        return SequenceSource(fixture=data, T=T)
    if isinstance(data, str):
        if data in CATALOG:
            return SequenceSource(fixture=CATALOG[data], T=T)
        if data.strip().lower().replace('-', '_') in available_tasks():
            return TaskSource(get_task(data))
        raise ValueError(f'unknown data {data!r}: give a task name {available_tasks()}, a fixture '
                         f'name {tuple(sorted(CATALOG))}, a Task, a Fixture or an (xs, ys) pair.')
    if isinstance(data, (tuple, list)) and len(data) == 2:
        return SequenceSource(xs=data[0], ys=data[1])
    raise TypeError(f'cannot use {type(data).__name__} as training data: give a Task, a task or '
                    f'fixture name, a Fixture or an (xs, ys) pair.')
