"""What every exercise grader shares: the result object, the three ways an answer can fall short, and the wording.

A grader receives the student's answer and returns a :class:`CheckResult` (built with
:func:`correct`) or raises one of:

* :class:`Unsolved`: the answer is still the stub (``...`` or ``None``, or a function
  that returns one of them or raises ``NotImplementedError``);
* :class:`WrongAnswer`: the answer is wrong; its message names the quantity that is
  off, by how much and what to look at, and never gives the expected value;
* :class:`StudentCodeError`: the student's own code raised (wrapped by :func:`call`).

Any other exception is a bug in the grader and propagates.

>>> from braintrace_lab.course.grading import how_far, is_unsolved
>>> is_unsolved(...), is_unsolved({'a': 1, 'b': ...}), is_unsolved(3)
(True, True, False)
>>> how_far(1.3, 1.0)
'between 10 % and a factor 2 too large'
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

__all__ = ['Exercise', 'CheckResult', 'Unsolved', 'WrongAnswer', 'StudentCodeError', 'is_unsolved',
           'unsolved_parts', 'call', 'correct', 'how_far', 'as_array', 'as_number', 'relative_error', 'cosine',
           'scale_of']


@dataclasses.dataclass(frozen=True)
class Exercise:
    """One exercise: its name, tutorial, what the answer must be, and the function that grades it."""
    name: str
    tutorial: str
    title: str
    asks: str
    grade: object = dataclasses.field(repr=False)


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """The verdict on one answer: ``passed``, the printed ``message``, and whether it was attempted.

    >>> r = CheckResult('01-trace-update', True, '01-trace-update: correct.')
    >>> r
    CheckResult('01-trace-update', passed=True)
    >>> print(r)
    01-trace-update: correct.
    """
    name: str
    passed: bool
    message: str
    attempted: bool = True

    def __repr__(self) -> str:
        state = 'passed=True' if self.passed else ('passed=False' if self.attempted else 'not yet solved')
        return f'CheckResult({self.name!r}, {state})'

    def __str__(self) -> str:
        return self.message


class Unsolved(Exception):
    """The answer is still the stub; the message (optional) says which part."""


class WrongAnswer(Exception):
    """The answer is wrong; the message is the hint printed to the student."""


class StudentCodeError(Exception):
    """The student's code raised; the message names the exception."""


def _is_stub(value) -> bool:
    return value is None or value is Ellipsis


def is_unsolved(answer) -> bool:
    """True for ``...`` or ``None``, or a dict / list / tuple / set holding one at its top level."""
    return _is_stub(answer) or bool(unsolved_parts(answer))


def unsolved_parts(answer) -> list:
    """The keys (for a dict) or positions still ``...``/``None`` in a container answer."""
    if isinstance(answer, dict):
        return [k for k, v in answer.items() if _is_stub(v)]
    if isinstance(answer, (list, tuple)):
        return [i for i, v in enumerate(answer) if _is_stub(v)]
    if isinstance(answer, (set, frozenset)):
        return ['...'] if any(_is_stub(v) for v in answer) else []
    return []


def call(fn, *args, what='your function'):
    """Call the student's ``fn``; a stub result raises :class:`Unsolved`, an exception :class:`StudentCodeError`."""
    if not callable(fn):
        raise WrongAnswer(f'{what} must be a function (def ...), got {type(fn).__name__}.')
    try:
        out = fn(*args)
    except NotImplementedError:
        raise Unsolved() from None
    except Exception as e:  # the student's code: report it, never crash the notebook
        raise StudentCodeError(f'{what} raised {type(e).__name__}: {e}') from None
    if _is_stub(out):
        raise Unsolved()
    return out


def correct(name: str, detail: str) -> CheckResult:
    """A passing result with its message."""
    return CheckResult(name, True, f'{name}: correct. {detail}')


def how_far(value: float, expected: float) -> str:
    """A coarse distance (never precise enough to recover ``expected`` from ``value``)."""
    if expected == 0:
        return 'not zero' if value != 0 else 'equal'
    r = value / expected
    if r <= 0:
        return 'of the wrong sign' if r < 0 else 'zero'
    word = 'large' if r > 1 else 'small'
    big = max(r, 1 / r)
    if big < 1.1:
        return f'within 10 % but still too {word}'
    if big < 1.9:
        return f'between 10 % and a factor 2 too {word}'
    if big < 2.1:
        return f'about a factor 2 too {word}'
    if big < 10:
        return f'between a factor 2 and 10 too {word}'
    return f'more than 10 times too {word}'


def as_array(value, shape, what: str) -> np.ndarray:
    """``value`` as a float array of ``shape``, else :class:`WrongAnswer` naming the shape it should have."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except Exception:
        raise WrongAnswer(f'{what} must be an array of numbers, got {type(value).__name__}.') from None
    if arr.shape != tuple(shape):
        raise WrongAnswer(f'{what} has shape {arr.shape}; it must have shape {tuple(shape)}.')
    if not np.all(np.isfinite(arr)):
        raise WrongAnswer(f'{what} contains NaN or infinite values.')
    return arr


def as_number(value, what: str) -> float:
    """``value`` as a finite float, else :class:`WrongAnswer`."""
    if isinstance(value, bool):
        raise WrongAnswer(f'{what} must be a number, got a boolean.')
    try:
        out = float(np.asarray(value).reshape(()))
    except Exception:
        raise WrongAnswer(f'{what} must be a single number, got {type(value).__name__}.') from None
    if not math.isfinite(out):
        raise WrongAnswer(f'{what} must be a finite number, got {out}.')
    return out


def relative_error(a, b) -> float:
    """``|a - b| / |b|`` over flattened arrays."""
    a, b = np.ravel(np.asarray(a, np.float64)), np.ravel(np.asarray(b, np.float64))
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def cosine(a, b) -> float:
    """Cosine of the angle between two flattened arrays (0 when either is zero)."""
    a, b = np.ravel(np.asarray(a, np.float64)), np.ravel(np.asarray(b, np.float64))
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(a @ b / (na * nb)) if na > 0 and nb > 0 else 0.0


def scale_of(value, expected) -> float:
    """The least-squares factor ``s`` with ``value ~ s * expected``."""
    v, e = np.ravel(np.asarray(value, np.float64)), np.ravel(np.asarray(expected, np.float64))
    return float(v @ e / max(e @ e, 1e-30))
