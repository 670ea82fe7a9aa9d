"""Online learning rules: rule values (a trace, a learning signal, a transition) and the learners that run them."""
from .base import ETraceAlgorithm, ETraceVjpAlgorithm, EligibilityTrace
from .engines import IODimEngine, LowRankEngine, ParamDimEngine
from .rule import (Backprop, FactorTrace, FullTrace, LowRankTrace, Presynaptic, ProjectedTarget, RandomFeedback,
                   Rule, SignalComponent, TraceComponent)
from . import rules          # the presets: rules.d_rtrl(), rules.eprop(...), ... (rflo.py is RFLO's shell)
from .presets import D_RTRL, ES_D_RTRL, IODimVjpAlgorithm, OnlineLearner, ParamDimVjpAlgorithm, pp_prop
from .feedback import FixedRandomFeedback, TargetProjection
from .signal_filter import KappaFilter
from .snn_traces import KappaTraceFilter, PresynapticTrace
from .snn import EProp, OSTLFeedforward, OSTLRecurrent, OSTTP, OTPE, OTTT
from .references import BPTT, RTRL, TBPTT

__all__ = ['ETraceAlgorithm', 'ETraceVjpAlgorithm', 'EligibilityTrace', 'D_RTRL', 'ParamDimVjpAlgorithm',
           'ES_D_RTRL', 'IODimVjpAlgorithm', 'pp_prop', 'ParamDimEngine', 'IODimEngine', 'LowRankEngine',
           'EProp', 'OSTLRecurrent', 'OSTLFeedforward', 'OTPE', 'OTTT', 'OSTTP',
           'FixedRandomFeedback', 'KappaFilter', 'KappaTraceFilter', 'PresynapticTrace', 'TargetProjection',
           'RTRL', 'TBPTT', 'BPTT',
           # rules as values
           'OnlineLearner', 'Rule', 'TraceComponent', 'SignalComponent', 'FullTrace', 'FactorTrace', 'LowRankTrace',
           'Presynaptic', 'Backprop', 'RandomFeedback', 'ProjectedTarget', 'rules']
