"""Shared behaviour of the lab widgets: errors are caught and shown in the view, never raised.

A view observes a training loop or answers a control; if its own code fails, the failure
is written to the widget's ``error`` trait (shown as a red banner) and to ``errors``,
and the loop goes on.

>>> from braintrace_lab.widgets import GraphView
>>> view = GraphView(learner)
>>> with view.guarded('drawing'):
...     1 / 0             # an exception here ends up in view.error
>>> 'ZeroDivisionError' in view.error
True
"""
from __future__ import annotations

import contextlib
import traceback
from collections.abc import Mapping

import brainstate
import traitlets

from ..lab.data import DataSource
from ..models import Fixture
from ..tasks import Task

__all__ = ['SafeView', 'short_repr', 'check_learner', 'check_model_factory', 'check_data', 'check_panels']


def short_repr(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + '...'


# ------------------------------------------------------------------ what a view is given (checked at construction)
def _got(value) -> str:
    if isinstance(value, brainstate.nn.Module):
        return f'a model ({type(value).__name__})'
    return f'{type(value).__name__} {short_repr(value, 40)}'


def check_learner(who: str, value, graph_ok: bool = False):
    """Raise ``TypeError`` unless ``value`` is a learner (or, with ``graph_ok``, an ``ETraceGraph``)."""
    if graph_ok and hasattr(value, 'to_dict') and hasattr(value, 'relations'):
        return value
    if all(hasattr(value, a) for a in ('graph', 'eligibility_traces', 'trace_memory')):
        return value
    want = 'a compiled learner' + (' or its ETraceGraph (learner.graph)' if graph_ok else '')
    hint = (f" Compile the model first: {who}(braintrace_lab.compile(model, 'd_rtrl', x0))."
            if isinstance(value, brainstate.nn.Module) else
            " Build one with braintrace_lab.compile(model, 'd_rtrl', x0).")
    raise TypeError(f'{who} needs {want}, got {_got(value)}.{hint}')


def check_model_factory(who: str, value, optional: bool = False):
    """Raise ``TypeError`` unless ``value`` is a function ``batch_size -> model`` (or ``None`` if optional)."""
    if value is None and optional:
        return value
    if callable(value) and not isinstance(value, brainstate.nn.Module):
        return value
    hint = (' A model instance cannot be rebuilt for each learner and batch size: pass a function, e.g. '
            'lab.fixture_model(...) or lambda batch_size: build(batch_size).'
            if isinstance(value, brainstate.nn.Module) else '')
    none = ' (or None with a catalog fixture name as data)' if optional else ''
    raise TypeError(f'{who} needs model_factory, a function batch_size -> model{none}, got {_got(value)}.{hint}')


def check_data(who: str, name: str, value):
    """Raise ``TypeError`` unless ``value`` is a Task, a task or fixture name, a Fixture or an (xs, ys) pair."""
    if isinstance(value, (str, Task, Fixture, DataSource)):
        return value
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return value
    raise TypeError(f'{who} needs {name}: a Task, a task or fixture name (str), a Fixture or an (xs, ys) pair, '
                    f'got {_got(value)}.')


def check_panels(who: str, panels):
    """The panels as a list of dicts; ``TypeError`` / ``ValueError`` naming what is wrong."""
    if isinstance(panels, (Mapping, str)) or not isinstance(panels, (list, tuple)):
        raise TypeError(f"{who}(panels=...) needs a list of panel dicts such as [{{'title': 'loss', "
                        f"'xlabel': 'step'}}], got {_got(panels)}.")
    if not panels:
        raise ValueError(f"{who}(panels=[]) has nothing to draw: give at least one panel, e.g. [{{}}] or "
                         f"[{{'title': 'loss'}}].")
    bad = [i for i, p in enumerate(panels) if not isinstance(p, Mapping)]
    if bad:
        raise TypeError(f"{who}: panel {bad[0]} is {_got(panels[bad[0]])}; each panel is a dict such as "
                        f"{{'title': 'loss', 'xlabel': 'step', 'logy': True}}.")
    return [dict(p) for p in panels]


class SafeView(traitlets.HasTraits):
    """Mixin: :meth:`guarded` turns exceptions into a visible ``error`` message."""
    error = traitlets.Unicode('').tag(sync=True)

    def _init_safe(self):
        self.errors = []

    @contextlib.contextmanager
    def guarded(self, where: str):
        """Run a block; on an exception record ``'<where>: <Type>: <message>'`` in ``error``."""
        try:
            yield
        except Exception as err:  # views must not crash the code they observe
            msg = f'{type(self).__name__} failed while {where}: {type(err).__name__}: {err}'
            if not hasattr(self, 'errors'):
                self.errors = []
            self.errors.append(msg + '\n' + traceback.format_exc(limit=4))
            try:
                self.error = msg
            except Exception:
                pass

    def clear_error(self):
        self.error = ''
