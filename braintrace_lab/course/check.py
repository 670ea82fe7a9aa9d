"""``check(name, answer)``: grade a student's answer, print the verdict, return it.

The verdict is one of three, always printed as one paragraph that starts with the
exercise name:

* ``correct.`` and why the answer is right;
* ``not yet solved.`` when the answer is still the stub (``...``, ``None``, a function
  returning one of them): nothing is graded and nothing raises;
* ``not yet.`` and a hint: which quantity is off, by how much (coarsely), and what to
  look at, never the expected answer.

An exception raised by the student's own code is reported the same way, as a hint.

>>> from braintrace_lab.course import check
>>> result = check('06-crossover', ...)
06-crossover: not yet solved. Replace the `...` with your answer and run the cell again.
>>> result.passed, result.attempted
(False, False)
"""
from __future__ import annotations

from .exercises import get_exercise
from .grading import CheckResult, StudentCodeError, Unsolved, WrongAnswer, is_unsolved, unsolved_parts

__all__ = ['check']

_STUB = 'Replace the `...` with your answer and run the cell again.'


def _unsolved(name: str, parts) -> CheckResult:
    where = f' (still `...`: {", ".join(map(repr, parts))})' if parts and parts != ['...'] else ''
    return CheckResult(name, False, f'{name}: not yet solved{where}. {_STUB}', attempted=False)


def grade(name: str, answer) -> CheckResult:
    """The verdict on ``answer`` for exercise ``name``, without printing it."""
    exercise = get_exercise(name)
    if is_unsolved(answer):
        return _unsolved(name, unsolved_parts(answer))
    try:
        return exercise.grade(answer)
    except Unsolved:
        return _unsolved(name, [])
    except (WrongAnswer, StudentCodeError) as e:
        return CheckResult(name, False, f'{name}: not yet. {e}')


def check(name: str, answer, quiet: bool = False) -> CheckResult:
    """Grade ``answer`` for exercise ``name``, print the verdict (unless ``quiet``) and return it."""
    result = grade(name, answer)
    if not quiet:
        print(result.message)
    return result
