"""Online learning rules: presets over a few trace engines and learning-signal sources."""
from .base import ETraceAlgorithm, ETraceVjpAlgorithm, EligibilityTrace
from .engines import IODimEngine, LowRankEngine, ParamDimEngine
from .presets import D_RTRL, ES_D_RTRL, IODimVjpAlgorithm, ParamDimVjpAlgorithm, pp_prop
from .feedback import FixedRandomFeedback, TargetProjection
from .snn_traces import KappaFilter, PresynapticTrace
from .snn import EProp, OSTLFeedforward, OSTLRecurrent, OSTTP, OTPE, OTTT
from .references import BPTT, RTRL, TBPTT

__all__ = ['ETraceAlgorithm', 'ETraceVjpAlgorithm', 'EligibilityTrace', 'D_RTRL', 'ParamDimVjpAlgorithm',
           'ES_D_RTRL', 'IODimVjpAlgorithm', 'pp_prop', 'ParamDimEngine', 'IODimEngine', 'LowRankEngine',
           'EProp', 'OSTLRecurrent', 'OSTLFeedforward', 'OTPE', 'OTTT', 'OSTTP',
           'FixedRandomFeedback', 'KappaFilter', 'PresynapticTrace', 'TargetProjection', 'RTRL', 'TBPTT', 'BPTT']
