"""Online learning rules: presets over a few trace engines and learning-signal sources."""
from .base import ETraceAlgorithm, ETraceVjpAlgorithm, EligibilityTrace
from .engines import IODimEngine, LowRankEngine, ParamDimEngine
from .presets import D_RTRL, ES_D_RTRL, IODimVjpAlgorithm, ParamDimVjpAlgorithm, pp_prop

__all__ = ['ETraceAlgorithm', 'ETraceVjpAlgorithm', 'EligibilityTrace', 'D_RTRL', 'ParamDimVjpAlgorithm',
           'ES_D_RTRL', 'IODimVjpAlgorithm', 'pp_prop', 'ParamDimEngine', 'IODimEngine', 'LowRankEngine']
