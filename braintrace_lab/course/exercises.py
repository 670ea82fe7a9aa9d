"""The table of exercises: one entry per exercise name, two or more per tutorial.

Each entry (an :class:`~braintrace_lab.course.grading.Exercise`) names its tutorial,
says in one line what the answer must be, and carries the function that grades it.
The graders live one tutorial per module (``ex01_traces`` ... ``ex06_memory``).

>>> from braintrace_lab.course.exercises import EXERCISES, by_tutorial
>>> sorted(EXERCISES)[:2]
['01-learning-signal', '01-trace-update']
>>> [e.name for e in by_tutorial('02')]
['02-no-trace', '02-alif-bytes']
"""
from __future__ import annotations

from typing import Dict, List

from . import ex01_traces, ex02_graph, ex03_liveness, ex04_agreement, ex05_snn, ex06_memory
from . import ex07_trace_monitor, ex08_arena, ex09_agreement_accuracy
from . import ex10_rtrl_zoo
from .grading import Exercise

__all__ = ['EXERCISES', 'get_exercise', 'by_tutorial']

_MODULES = (ex01_traces, ex02_graph, ex03_liveness, ex04_agreement, ex05_snn, ex06_memory,
            ex07_trace_monitor, ex08_arena, ex09_agreement_accuracy, ex10_rtrl_zoo)

EXERCISES: Dict[str, Exercise] = {e.name: e for m in _MODULES for e in m.EXERCISES}


def get_exercise(name: str) -> Exercise:
    """The exercise called ``name``; a ``KeyError`` listing the names if there is none."""
    try:
        return EXERCISES[name]
    except KeyError:
        raise KeyError(f'no exercise {name!r}; the exercises are: {", ".join(sorted(EXERCISES))}') from None


def by_tutorial(prefix: str) -> List[Exercise]:
    """The exercises of the tutorial whose file name starts with ``prefix`` (``'01'``, ``'03_snn'``), in order."""
    return [e for e in EXERCISES.values() if e.tutorial.startswith(prefix)]
