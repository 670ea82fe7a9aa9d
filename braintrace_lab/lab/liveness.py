"""Warn, in plain words, when a spiking network is silent (or saturated) before training it.

A silent spiking layer has zero surrogate activity downstream of its threshold, so every
learning rule receives (almost) no signal and all comparisons between rules are
meaningless. :func:`warn_if_silent` runs :func:`braintrace_lab.oracle.check_liveness`
on the first inputs and issues a :class:`LivenessWarning` that says what to change.

>>> report = warn_if_silent(model, xs)      # warns if a population never spikes
"""
from __future__ import annotations

import warnings
from typing import Optional

__all__ = ['LivenessWarning', 'warn_if_silent', 'has_spiking_populations', 'check_trainer_liveness']


class LivenessWarning(UserWarning):
    """A spiking population is silent, too quiet or saturated on the training inputs."""


def has_spiking_populations(model) -> bool:
    from ..oracle import find_spiking_populations
    try:
        return bool(find_spiking_populations(model))
    except Exception:
        return False


def liveness_message(report) -> str:
    """Plain-words explanation of a non-live :class:`~braintrace_lab.oracle.LivenessReport`."""
    statuses = {p.status for p in report.populations if p.status != 'live'}
    if statuses <= {'saturated'}:
        head = 'The spiking network is saturated: its neurons fire on most steps, so the surrogate ' \
               'gradients carry little information.'
    else:
        head = ('The spiking network is silent or nearly so: neurons that never cross threshold pass ' \
                'no gradient, so the learning rules have (almost) nothing to learn from.')
    return f'{head} {report.message}.'


def warn_if_silent(model, xs, low: float = 0.001, high: float = 0.5, stacklevel: int = 2) -> Optional[object]:
    """Check a spiking model on ``xs (T, ...)``; warn with :class:`LivenessWarning` unless live.

    Returns the :class:`~braintrace_lab.oracle.LivenessReport` (``None`` for a model
    without spiking populations). The model's states are left unchanged.
    """
    if not has_spiking_populations(model):
        return None
    from ..oracle import check_liveness
    report = check_liveness(model, xs, low=low, high=high)
    if not report.is_live:
        warnings.warn(liveness_message(report), LivenessWarning, stacklevel=stacklevel)
    return report


def check_trainer_liveness(trainer, batch) -> None:
    """A :class:`~braintrace_lab.lab.Trainer`'s network on its first batch: the report is kept in
    ``trainer.liveness``; a silent or saturated network adds a warning to the record and warns."""
    if not has_spiking_populations(trainer.model):
        return
    from ..oracle import check_liveness
    report = trainer.liveness = check_liveness(trainer.model, batch.inputs)
    if not report.is_live:
        msg = liveness_message(report)
        trainer.record.warnings.append(msg)
        warnings.warn(msg, LivenessWarning, stacklevel=4)
