"""Shared behaviour of the lab widgets: errors are caught and shown in the view, never raised.

A view observes a training loop or answers a control; if its own code fails, the failure
is written to the widget's ``error`` trait (shown as a red banner) and to ``errors``,
and the loop goes on.

>>> with view.guarded('drawing'):
...     risky()           # an exception here ends up in view.error
"""
from __future__ import annotations

import contextlib
import traceback

import traitlets

__all__ = ['SafeView', 'short_repr']


def short_repr(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + '...'


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
