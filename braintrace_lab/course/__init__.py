"""The course: exercises for the tutorials, graded against the oracle or a known result.

``check(name, answer)`` prints ``correct``, ``not yet solved`` (the stub is untouched) or
a hint naming the quantity that is off, by how much and what to look at, and returns a
:class:`CheckResult` (``passed``, ``message``). ``EXERCISES`` lists every exercise; each
tutorial has at least two. No Jupyter import: the checks run anywhere.

>>> from braintrace_lab import course
>>> course.check('03-flat-loss', lambda n_classes: ...).passed
03-flat-loss: not yet solved. Replace the `...` with your answer and run the cell again.
False
>>> sorted({e.tutorial for e in course.EXERCISES.values()})[0]
'01_online_learning'
"""
from .check import check, grade
from .exercises import EXERCISES, by_tutorial, get_exercise
from .grading import CheckResult, Exercise

__all__ = ['check', 'grade', 'EXERCISES', 'by_tutorial', 'get_exercise', 'CheckResult', 'Exercise']
