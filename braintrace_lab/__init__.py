"""braintrace_lab: online learning in recurrent and spiking networks.

The names of the ``braintrace`` API are served here, so ``import braintrace_lab as
braintrace`` keeps code written for it working.
"""
from .algorithms import (D_RTRL, ES_D_RTRL, EligibilityTrace, ETraceAlgorithm, ETraceVjpAlgorithm,
                         IODimVjpAlgorithm, ParamDimVjpAlgorithm, pp_prop)
from .algorithms import (BPTT, OSTTP, OTPE, OTTT, RTRL, TBPTT, EProp, FixedRandomFeedback, KappaFilter,
                         OSTLFeedforward, OSTLRecurrent, PresynapticTrace)
from .compiler import (Diagnostic, ETraceGraph, HiddenGroup, OpRecord, ParamRecord, Relation,
                       compile_etrace_graph)
from .errors import CompilationError, NotCompiledError, NotSupportedError
from .ops import conv, element_wise, lora_matmul, matmul, sparse_matmul
from .registry import algorithm_names, compile, register_algorithm

__version__ = '0.1.0'


def __getattr__(name):
    # heavier subpackages load on first use
    import importlib
    if name in ('nn', 'oracle', 'tasks', 'lab', 'widgets', 'models'):
        return importlib.import_module(f'.{name}', __name__)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
