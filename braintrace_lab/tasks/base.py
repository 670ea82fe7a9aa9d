"""The common task interface: a :class:`Batch` record, a :class:`Task` base dataclass and the loss.

Every task is a frozen dataclass whose fields are its settings (all keyword-only,
with defaults small enough for a 2-CPU laptop) plus a ``seed``. Batches are made
offline with numpy from a seed sequence keyed by ``(task, seed, split, stream, index)``,
so the same arguments always give the same arrays and any change gives new ones.

>>> from braintrace_lab.tasks import AddingTask
>>> task = AddingTask(n_steps=20, seed=0)
>>> b = task.batch(32, 0)            # batch number 0 of the training stream
>>> b.inputs.shape, b.targets.shape  # (T, B, F), (B,)
((20, 32, 2), (32,))
"""
from __future__ import annotations

import dataclasses
import zlib
from typing import ClassVar, Iterator

import numpy as np

from ._checks import check_choice, check_int
from .loss import loss_and_accuracy

__all__ = ['Batch', 'Task', 'loss_and_accuracy', 'balanced_labels', 'SPLITS', 'MAX_SEED', 'EVAL_SEED',
           'EVAL_SIZE']

SPLITS = ('train', 'test')
MAX_SEED = 2 ** 32 - 1
EVAL_SEED = MAX_SEED        # the test split's stream reserved for the fixed evaluation set
EVAL_SIZE = 256             # default number of sequences in the evaluation set
_SPLIT_ID = {'train': 0, 'test': 1, 'fixed': 2}


@dataclasses.dataclass(frozen=True, eq=False)
class Batch:
    """One batch of a task: time-major inputs, targets, an optional step mask and the loss kind.

    ``inputs``: ``(T, B, F)`` float32. ``targets``: ``(B,)`` int32 labels (one per
    sequence), ``(T, B)`` int32 labels (one per step) or ``(B,)`` / ``(B, D)`` float32
    regression targets. ``mask``: ``None`` or ``(T, B)`` bool, the steps that count in
    the loss. ``kind``: ``'classification'`` or ``'regression'``.

    A Batch is a JAX pytree (``kind`` is static), so it can be passed to ``jax.jit``.
    """
    inputs: np.ndarray
    targets: np.ndarray
    mask: np.ndarray | None = None
    kind: str = 'classification'

    @property
    def n_steps(self) -> int:
        return int(self.inputs.shape[0])

    @property
    def batch_size(self) -> int:
        return int(self.inputs.shape[1])

    def __repr__(self) -> str:
        def shape(a):
            return None if a is None else f'{tuple(a.shape)} {a.dtype}'
        return (f'Batch(kind={self.kind!r}, inputs={shape(self.inputs)}, '
                f'targets={shape(self.targets)}, mask={shape(self.mask)})')


def _register_pytree() -> None:
    # jax is already imported by the braintrace_lab package; registering costs nothing more.
    try:
        from jax import tree_util
    except ImportError:  # pragma: no cover - jax is a hard dependency
        return
    tree_util.register_pytree_node(
        Batch,
        lambda b: ((b.inputs, b.targets, b.mask), b.kind),
        lambda kind, children: Batch(*children, kind=kind))


_register_pytree()


def balanced_labels(rng: np.random.Generator, batch_size: int, n_classes: int) -> np.ndarray:
    """Shuffled int32 labels with every class ``batch_size // n_classes`` times (the rest at random).

    >>> balanced_labels(np.random.default_rng(0), 6, 3).tolist().count(1)
    2
    """
    base = np.repeat(np.arange(n_classes), batch_size // n_classes)
    extra = rng.choice(n_classes, size=batch_size % n_classes, replace=False)
    return rng.permutation(np.concatenate([base, extra])).astype(np.int32)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Task:
    """Base of every built-in task; subclasses add their settings as keyword-only fields.

    A subclass sets ``name`` and ``kind``, implements ``n_inputs``, ``n_outputs``,
    ``n_steps``, ``chance_level``, ``_generate(rng, batch_size, split)`` and, for
    :meth:`describe`, ``_story()`` and ``_targets_doc()``; it checks its own fields
    in ``_validate()``.

    ``chance_level`` is, for classification, the expected accuracy of guessing
    (``1 / n_classes`` for the balanced tasks, which also is the accuracy of always
    guessing one class); for regression it is the mean squared error of the best
    constant predictor (the target variance).
    """
    seed: int = 0

    name: ClassVar[str] = 'task'
    kind: ClassVar[str] = 'classification'

    def __post_init__(self):
        self._set('seed', check_int('seed', self.seed, minimum=0, maximum=MAX_SEED, owner=self._owner))
        self._validate()

    # -- to implement --------------------------------------------------------------------
    def _validate(self) -> None:
        """Check (and normalise with ``self._set``) the subclass fields."""

    def _generate(self, rng: np.random.Generator, batch_size: int, split: str) -> Batch:
        raise NotImplementedError

    def _story(self) -> str:
        return ''

    def _targets_doc(self) -> str:
        return ''

    @property
    def n_inputs(self) -> int:
        raise NotImplementedError

    @property
    def n_outputs(self) -> int:
        raise NotImplementedError

    @property
    def n_steps(self) -> int:
        raise NotImplementedError

    @property
    def chance_level(self) -> float:
        raise NotImplementedError

    # -- helpers for subclasses ------------------------------------------------------------
    @property
    def _owner(self) -> str:
        return type(self).__name__

    def _set(self, field: str, value) -> None:
        object.__setattr__(self, field, value)

    def _rng(self, split: str = 'fixed', stream: int = 0, index: int = 0) -> np.random.Generator:
        """Generator keyed by ``(task name, seed, split, stream, index)``; ``'fixed'`` is for
        things drawn once per task (templates, patterns, data splits)."""
        tag = zlib.crc32(self.name.encode())
        key = [tag, self.seed, _SPLIT_ID[split], stream, index]
        return np.random.default_rng(np.random.SeedSequence(key))

    # -- public API ----------------------------------------------------------------------
    @property
    def n_classes(self) -> int:
        """Number of classes of a classification task (``n_outputs``); regression tasks have none."""
        if self.kind != 'classification':
            raise AttributeError(f'{self._owner} is a {self.kind} task and has no classes; '
                                 f'use n_outputs ({self.n_outputs}).')
        return self.n_outputs

    def batch(self, batch_size: int, index: int = 0, *, seed: int = 0, split: str = 'train') -> Batch:
        """Batch number ``index`` of the stream ``seed`` of ``split`` ('train' or 'test').

        Deterministic: the same ``(task, batch_size, index, seed, split)`` gives identical
        arrays. 'train' and 'test' draw from independent random streams (for the digits,
        from disjoint image sets).
        """
        batch_size, index, seed, split = self._batch_args('batch', batch_size, index, seed, split)
        return self._generate(self._rng(split, seed, index), batch_size, split)

    def _batch_args(self, method, batch_size, index, seed, split):
        owner = f'{self._owner}.{method}'
        return (check_int('batch_size', batch_size, minimum=1, owner=owner),
                check_int('index' if method == 'batch' else 'start', index, minimum=0,
                          maximum=MAX_SEED, owner=owner),
                check_int('seed', seed, minimum=0, maximum=MAX_SEED, owner=owner),
                check_choice('split', split, SPLITS, owner=owner))

    def batches(self, batch_size: int, n_batches: int, *, seed: int = 0, split: str = 'train',
                start: int = 0) -> Iterator[Batch]:
        """Iterator over ``n_batches`` batches: ``batch(batch_size, start + i, seed=seed, split=split)``.

        >>> task = AddingTask()                              # doctest: +SKIP
        >>> for b in task.batches(16, 3, seed=1):            # doctest: +SKIP
        ...     loss, _ = task.loss_and_accuracy(model(b.inputs), b)
        """
        # validate now, not lazily at the first next()
        n_batches = check_int('n_batches', n_batches, minimum=1, owner=self._owner + '.batches')
        batch_size, start, seed, split = self._batch_args('batches', batch_size, start, seed, split)

        def gen():
            for i in range(n_batches):
                yield self.batch(batch_size, start + i, seed=seed, split=split)
        return gen()

    def eval_batch(self, n: int = EVAL_SIZE) -> Batch:
        """The task's fixed evaluation set: ``n`` sequences that no training stream ever draws.

        ``eval_batch(n)`` is ``batch(n, 0, seed=EVAL_SEED, split='test')``: the 'test' split's
        random stream (independent of every 'train' stream; for the digits, images disjoint
        from the training images) with a seed kept for evaluation, so it is the same for
        every rule and training seed of a comparison. Where the task's inputs come from a
        small fixed set (the patterns of ``spike_patterns``, DMS's stimulus pairs) held-out
        sequences are new draws of that set, not new inputs.

        >>> task = get_task('evidence')                    # doctest: +SKIP
        >>> held_out = task.eval_batch(256)                # doctest: +SKIP
        """
        n = check_int('n', n, minimum=1, owner=f'{self._owner}.eval_batch',
                      fix='give the number of held-out sequences, e.g. 256')
        return self.batch(n, 0, seed=EVAL_SEED, split='test')

    def loss_and_accuracy(self, outputs, batch: Batch):
        """Same as :func:`loss_and_accuracy`; see there. The logits must have this task's class count."""
        shape = np.shape(outputs)
        if self.kind == 'classification' and shape and shape[-1] != self.n_outputs:
            raise ValueError(f'{self._owner}: logits of shape {tuple(shape)} have {shape[-1]} classes but the '
                             f'task has {self.n_outputs}; size the readout to task.n_outputs '
                             f'(e.g. fixture_model(name, task)).')
        return loss_and_accuracy(outputs, batch)

    def describe(self) -> str:
        """One paragraph for a notebook: what the task is, shapes and chance level."""
        if self.kind == 'classification':
            chance = (f'chance accuracy {self.chance_level:.3f} '
                      f'({self.n_outputs} classes)')
        else:
            chance = (f'chance loss {self.chance_level:.4f} '
                      f'(mean squared error of the best constant prediction)')
        return (f'{self._owner} ({self.kind}). {self._story()} '
                f'Inputs are (T={self.n_steps}, B, F={self.n_inputs}) float32; '
                f'targets are {self._targets_doc()}; the network needs {self.n_outputs} '
                f'output{"s" if self.n_outputs != 1 else ""}; {chance}. Seed {self.seed}.')
