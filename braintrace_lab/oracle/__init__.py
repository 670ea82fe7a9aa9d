"""The exact oracle: reference gradients and checks that online learning rules are judged against.

Conventions shared by every function here:

* ``model`` is a ``brainstate.nn.Module`` stepped by ``out = model(x_t)``;
  its current state values are the initial condition and are left unchanged
  (every function restores all state values, also on error).
* ``xs`` has a leading time axis (``T, ...``); a pytree of arrays is allowed.
* step ``t`` runs inside ``brainstate.environ.context(i=t, t=t * dt)`` (``t=``
  only when ``dt`` is set), so models that read the time work.
* ``loss_fn(out, t) -> scalar`` with ``t`` the (traced) integer STEP INDEX, NOT A TARGET
  (``learner.etrace_grad(xs, ys, loss_fn)`` calls ``loss_fn(out, y)`` instead): index the
  targets yourself, ``lambda out, t: loss(out, ys[t])``; a ``loss(out, y)`` passed as it
  is runs without error against the integer ``t``. The total loss is the SUM over steps,
  ``L = sum_t L^t`` (not the mean).
* ``params`` (optional) selects parameters; gradients come back as a plain
  ``dict`` keyed like ``model.states(brainstate.ParamState)``, each value
  shaped like the ``ParamState``'s value.

>>> grads, losses = bptt_grad(model, xs, lambda out, t: ((out - ys[t]) ** 2).sum())
>>> rtrl, _ = rtrl_grad(model, xs, lambda out, t: ((out - ys[t]) ** 2).sum())
>>> print(agreement(rtrl, grads))
"""
from ._program import OracleInputError
from .bptt import bptt_grad, bptt_grad_per_step
from .finite_diff import finite_difference_grad
from .liveness import (LivenessReport, PopulationActivity, SilentNetworkError, check_liveness,
                       find_spiking_populations, require_live)
from .metrics import (AgreementReport, AgreementRow, PerStepAgreement, agreement, cosine, path_str,
                      per_step_agreement, relative_error, sign_agreement)
from .rtrl import InfluenceMatrixTooLarge, rtrl_grad, rtrl_grad_per_step

__all__ = [
    'bptt_grad', 'bptt_grad_per_step', 'rtrl_grad', 'rtrl_grad_per_step', 'finite_difference_grad',
    'relative_error', 'cosine', 'sign_agreement', 'agreement', 'per_step_agreement', 'path_str',
    'AgreementReport', 'AgreementRow', 'PerStepAgreement',
    'check_liveness', 'require_live', 'find_spiking_populations', 'LivenessReport',
    'PopulationActivity', 'SilentNetworkError',
    'OracleInputError', 'InfluenceMatrixTooLarge',
]
