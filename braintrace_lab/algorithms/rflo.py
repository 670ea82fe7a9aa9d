"""RFLO: random-feedback local online learning for leaky rate networks (Murray 2019), as an e-prop preset.

For a leaky rate network ``h^t = (1 - a) h^{t-1} + a (W r^{t-1} + U x^t)``,
``r = phi(h)`` and a readout ``y = r R``, RFLO keeps for each weight the local trace

.. math::  P_{ij}^t = (1 - a) P_{ij}^{t-1} + a\\,u_j^t ,

(``u`` the presynaptic factor: ``r^{t-1}`` for ``W``, ``x^t`` for ``U``), leaves out the
recurrent mixing through ``W``, and sends the output error back through a fixed random
matrix ``B`` instead of ``R^T``: ``dW_{ij} = sum_t (phi'(h) . (dL/dy B^T))_i P^t_{ij}``.
That is e-prop's trace (the group's own leak, mixing dropped, no filter) with random
feedback, so RFLO is the preset :func:`~.rules.rflo` (``FullTrace()``, ``RandomFeedback(seed)``, ``'cut'``);
``feedback='symmetric'`` gives the diagonal-trace gradient with the readout's transpose (e-prop's).

>>> learner = braintrace_lab.compile(model, 'rflo', x0, feedback_seed=3)
"""
from __future__ import annotations

from .rules import rflo
from .snn import EProp

__all__ = ['RFLO']


class RFLO(EProp):
    """RFLO (Murray 2019): e-prop's local trace with fixed random feedback of the output error.

    >>> learner = RFLO(model, feedback_seed=0)      # feedback='symmetric': the readout's transpose
    """
    display_name = 'RFLO'

    def __init__(self, model, feedback='random', feedback_seed: int = 0, name=None, vjp_method='single-step',
                 trace_dtype=None):
        super().__init__(model, feedback=feedback, kappa=0.0, feedback_seed=feedback_seed, name=name,
                         vjp_method=vjp_method, trace_dtype=trace_dtype)

    @staticmethod
    def _rule(feedback, kappa, feedback_seed):
        return rflo(feedback, feedback_seed)
