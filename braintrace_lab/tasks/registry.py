"""Task registry: build any built-in task by name.

>>> available_tasks()
('copy', 'adding', 'dms', 'evidence', 'digits', 'digits_spikes', 'manifold', 'spike_patterns')
>>> get_task('digits_spikes', spike_steps=30).n_steps
30
"""
from __future__ import annotations

import dataclasses

from .adding import AddingTask
from .base import Task
from .copy_task import CopyTask
from .digits import SequentialDigits
from .dms import DelayedMatchToSample
from .evidence import EvidenceAccumulation
from .manifold import RandomManifold
from .spike_patterns import SpikePatterns

__all__ = ['get_task', 'available_tasks', 'TASKS']

# name -> (class, default keyword arguments); the order is the order of available_tasks()
TASKS = {
    'copy': (CopyTask, {}),
    'adding': (AddingTask, {}),
    'dms': (DelayedMatchToSample, {}),
    'evidence': (EvidenceAccumulation, {}),
    'digits': (SequentialDigits, {'encoding': 'rows'}),
    'digits_spikes': (SequentialDigits, {'encoding': 'rate'}),
    'manifold': (RandomManifold, {}),
    'spike_patterns': (SpikePatterns, {}),
}


def available_tasks() -> tuple:
    """Names accepted by :func:`get_task`, in a fixed order."""
    return tuple(TASKS)


def get_task(name: str, **kwargs) -> Task:
    """Build the task called ``name`` with its defaults, overridden by ``kwargs``.

    Names are case-insensitive and ``-`` may stand for ``_``. An unknown name or
    argument raises with the valid choices listed.

    >>> get_task('copy', delay=10, seed=3)
    CopyTask(seed=3, n_symbols=4, seq_len=3, delay=10)
    """
    if not isinstance(name, str):
        raise TypeError(f'get_task: name must be a string, got {name!r} of type {type(name).__name__}; '
                        f'use one of {", ".join(map(repr, TASKS))}.')
    key = name.strip().lower().replace('-', '_')
    if key not in TASKS:
        raise ValueError(f'get_task: unknown task name {name!r}; valid names are '
                         f'{", ".join(map(repr, TASKS))}.')
    cls, defaults = TASKS[key]
    valid = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(kwargs) - set(valid))
    if unknown:
        raise TypeError(f'get_task({key!r}): unknown argument(s) {", ".join(unknown)}; '
                        f'{cls.__name__} accepts {", ".join(valid)}.')
    return cls(**{**defaults, **kwargs})
