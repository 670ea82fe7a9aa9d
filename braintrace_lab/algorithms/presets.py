"""D-RTRL and ES-D-RTRL (pp_prop): the two core rules as presets over the trace engines."""
from __future__ import annotations

import numbers

import numpy as np

from .base import ETraceAlgorithm
from .engines import IODimEngine, LowRankEngine, ParamDimEngine

__all__ = ['ParamDimVjpAlgorithm', 'D_RTRL', 'IODimVjpAlgorithm', 'ES_D_RTRL', 'pp_prop',
           'check_decay_or_rank', 'factor_engine', 'check_flag']


class ParamDimVjpAlgorithm(ETraceAlgorithm):
    """D-RTRL: a full eligibility trace per weight, ``eps^t = D^t eps^{t-1} + D_f^t (x) x^t``.

    Gradient ``sum_t dL^t/dh^t . eps^t``. Exact (equal to BPTT) when each hidden
    group's transition is position-diagonal and the op feeds it element-wise:
    leaky integrators, LIF/ALIF layers with feed-forward input. Memory ``O(B |theta| S)``.

    >>> learner = D_RTRL(model); learner.compile_graph(x0); y = learner(x0)
    """
    display_name = 'D-RTRL'

    def make_engine(self, relation):
        return ParamDimEngine(dtype=self.trace_dtype)


D_RTRL = ParamDimVjpAlgorithm


def check_decay_or_rank(decay_or_rank):
    """Validate ``decay_or_rank``: a float in (0, 1) is a decay, an int >= 1 a rank."""
    if isinstance(decay_or_rank, bool) or not isinstance(decay_or_rank, numbers.Real):
        raise TypeError(f'decay_or_rank must be a float decay in (0, 1) or an int rank >= 1, '
                        f'got {decay_or_rank!r} ({type(decay_or_rank).__name__}).')
    if isinstance(decay_or_rank, numbers.Integral):
        if decay_or_rank < 1:
            raise ValueError(f'decay_or_rank={decay_or_rank}: an integer rank must be >= 1 '
                             f'(or give a float decay in (0, 1), e.g. 0.9).')
        return 'rank', int(decay_or_rank)
    value = float(decay_or_rank)
    if not 0.0 < value < 1.0:
        raise ValueError(f'decay_or_rank={decay_or_rank}: a float decay must lie in (0, 1), e.g. 0.9 '
                         f'(or give an integer rank >= 1).')
    return 'decay', value


class IODimVjpAlgorithm(ETraceAlgorithm):
    """ES-D-RTRL (pp_prop): factorised traces of memory ``O(B (I + O S))``.

    With a float decay ``a``: ``ex^t = a ex^{t-1} + x^t``,
    ``ef^t = a D^t ef^{t-1} + D_f^t``, gradient ``ex (x) (dL/dh . ef)``. One step
    after a reset (``ex = x``, ``ef = D_f``) this is the exact gradient, as braintrace's
    first step is. ``normalized=True`` selects the form the seed documents,
    ``ef^t = a D^t ef^{t-1} + (1 - a) D_f^t``: every traced weight's gradient is then
    scaled by ``1 - a`` (exactly ``(1 - a)`` times the default's, at every step), which
    shrinks hidden weights' gradients against the readout's.
    With an int rank ``r``: the D-RTRL trace kept as ``r`` factor pairs, truncated
    to its top ``r`` singular modes each step (memory ``O(B r (I + O S))``);
    ``r = min(I, O S)`` reproduces D-RTRL.

    ``normalized=True, bias_correction=True`` is braintrace's form: ``ef`` with ``(1 - a) D_f``,
    divided by ``1 - a^n`` after ``n`` steps (exact at the first step, ``(1 - a)`` times
    the default's in the long run). An integer here is a rank; braintrace reads an
    integer ``r`` as the decay ``(r - 1) / (r + 1)``.

    >>> learner = pp_prop(model, decay_or_rank=0.9)   # or decay_or_rank=8 (rank)
    >>> learner = pp_prop(model, decay_or_rank=0.9, normalized=True, bias_correction=True)  # braintrace's numbers
    """
    display_name = 'ES-D-RTRL (pp_prop)'

    def __init__(self, model, decay_or_rank, name=None, vjp_method='single-step', trace_dtype=None,
                 normalized: bool = False, *, bias_correction: bool = False):
        self.mode, self.value = check_decay_or_rank(decay_or_rank)
        self.normalized = check_flag('normalized', normalized, type(self).__name__)
        self.bias_correction = check_flag('bias_correction', bias_correction, type(self).__name__)
        if (self.normalized or self.bias_correction) and self.mode == 'rank':
            raise ValueError(f'normalized=True / bias_correction=True shape the output-side factor; they apply '
                             f'to a float decay only, not to the rank form decay_or_rank={decay_or_rank}.')
        super().__init__(model, name=name, vjp_method=vjp_method, trace_dtype=trace_dtype)
        self.decay_or_rank = decay_or_rank

    def make_engine(self, relation):
        if self.mode == 'rank':
            return LowRankEngine(dtype=self.trace_dtype, rank=self.value)
        return factor_engine(self.value, self.normalized, self.trace_dtype, self.bias_correction)


def factor_engine(a: float, normalized: bool, dtype=None, bias_correction: bool = False) -> IODimEngine:
    """The factorised trace with decay ``a``: ``ef = a D ef + c D_f`` with ``c = 1`` (default, exact
    at the first step) or ``c = 1 - a`` (``normalized=True``, the seed's documented form);
    ``bias_correction=True`` divides ``ef`` by ``1 - a^n`` after ``n`` steps (braintrace's form
    together with ``normalized=True``, see :class:`~.bias_corrected.BiasCorrectedIODimEngine`)."""
    scale = 1.0 - a if normalized else 1.0
    if bias_correction:
        from .bias_corrected import BiasCorrectedIODimEngine
        return BiasCorrectedIODimEngine(dtype=dtype, x_decay=a, f_decay=a, f_scale=scale, f_uses_D=True)
    return IODimEngine(dtype=dtype, x_decay=a, f_decay=a, f_scale=scale, f_uses_D=True)


def check_flag(name: str, value, who: str) -> bool:
    """A real ``bool`` option (``0``/``'yes'`` refused: they hide typos)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f'{who}: {name} must be True or False, got {value!r} ({type(value).__name__}).')
    return bool(value)


ES_D_RTRL = IODimVjpAlgorithm
pp_prop = IODimVjpAlgorithm
