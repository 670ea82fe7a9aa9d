"""Shared base of the tasks that classify spike trains of ``n_in`` channels into ``n_classes`` classes."""
from __future__ import annotations

import dataclasses

from ._checks import check_int
from .base import Task

__all__ = ['SpikeClassification']


@dataclasses.dataclass(frozen=True, kw_only=True)
class SpikeClassification(Task):
    """Task base whose subclasses declare ``n_classes``, ``n_in`` and ``n_steps`` fields.

    Inputs are the ``n_in`` channels and outputs the ``n_classes`` class scores.
    """

    kind = 'classification'

    @property
    def n_inputs(self) -> int:
        return self.n_in

    @property
    def n_outputs(self) -> int:
        return self.n_classes

    def _check_classes_and_shape(self) -> None:
        """Check ``n_classes``, ``n_in`` and ``n_steps``; the fixes suggest the field defaults."""
        o = self._owner
        defaults = {f.name: f.default for f in dataclasses.fields(self)}
        self._set('n_classes', check_int('n_classes', self.n_classes, minimum=2, owner=o,
                                         fix='use at least 2 classes'))
        for field in ('n_in', 'n_steps'):
            self._set(field, check_int(field, getattr(self, field), minimum=1, owner=o,
                                       fix=f'e.g. {field}={defaults[field]}'))
