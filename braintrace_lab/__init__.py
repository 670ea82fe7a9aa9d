"""braintrace_lab: online learning in recurrent and spiking networks.

The names of the ``braintrace`` API are served here, so ``import braintrace_lab as
braintrace`` keeps code written for it working, with the same numbers; the names not
served raise an ``AttributeError`` that says what to use instead, and the deliberate
differences are listed in ``docs/compatibility.md``.
"""
import sys as _sys

from .algorithms import (D_RTRL, ES_D_RTRL, EligibilityTrace, ETraceAlgorithm, ETraceVjpAlgorithm,
                         IODimVjpAlgorithm, ParamDimVjpAlgorithm, pp_prop)
from .algorithms import (BPTT, OSTTP, OTPE, OTTT, RTRL, TBPTT, EProp, FixedRandomFeedback, KappaFilter,
                         OSTLFeedforward, OSTLRecurrent, PresynapticTrace)
from .algorithms import OnlineLearner, Rule, rules       # rules as values: rules.eprop(...), Rule(...)
from .algorithms.sequence import ETraceVmap, SequenceDriverMixin
from .compiler import (Diagnostic, ETraceGraph, HiddenGroup, OpRecord, ParamRecord, Relation,
                       compile_etrace_graph)
from .compiler.graph import find_hidden_groups_from_module, find_hidden_param_op_relations_from_module
from .errors import CompilationError, NotCompiledError, NotSupportedError
from .gradients import GradExpon
from .input_data import MultiStepData, SingleStepData
from .ops import conv, einsum, element_wise, embedding, lora_matmul, matmul, sparse_matmul
from .registry import algorithm_names, compile, register_algorithm

# ``braintrace_lab.rules``: the rule values' namespace (presets and components), importable by that name
_sys.modules[__name__ + '.rules'] = rules

__version__ = '0.1.0'
__version_info__ = tuple(int(part) for part in __version__.split('.'))

HiddenParamOpRelation = Relation      # braintrace's name for a param -> op -> hidden group relation

__all__ = [
    '__version__', '__version_info__',
    # learners
    'ETraceAlgorithm', 'ETraceVjpAlgorithm', 'EligibilityTrace', 'ETraceVmap', 'SequenceDriverMixin',
    'ParamDimVjpAlgorithm', 'D_RTRL', 'IODimVjpAlgorithm', 'ES_D_RTRL', 'pp_prop',
    'EProp', 'OSTLRecurrent', 'OSTLFeedforward', 'OTPE', 'OTTT', 'OSTTP',
    'FixedRandomFeedback', 'KappaFilter', 'PresynapticTrace', 'RTRL', 'TBPTT', 'BPTT',
    'OnlineLearner', 'Rule', 'rules',
    'compile', 'register_algorithm', 'algorithm_names',
    # ETP ops
    'matmul', 'conv', 'sparse_matmul', 'lora_matmul', 'element_wise', 'einsum', 'embedding',
    # inputs
    'SingleStepData', 'MultiStepData',
    # compiler records
    'compile_etrace_graph', 'ETraceGraph', 'HiddenGroup', 'HiddenParamOpRelation', 'Relation', 'OpRecord',
    'ParamRecord', 'Diagnostic', 'find_hidden_groups_from_module', 'find_hidden_param_op_relations_from_module',
    # utilities and errors
    'GradExpon', 'NotSupportedError', 'CompilationError', 'NotCompiledError',
    'nn',
]

_GRAPH = 'braintrace_lab.compile_etrace_graph(model, x0)'
_LEARNER = "a learner (braintrace_lab.compile(model, 'd_rtrl', x0)), which runs the step itself"
_SIGNALS = 'learner.learning_signals() after learner.etrace_grad(...) (dL/dh per hidden state)'
# braintrace names this package does not serve, with what to use instead
_NOT_SERVED = {
    'MatMulOp': 'braintrace_lab.matmul(x, weight) with the weight in a brainstate.ParamState',
    'ElemWiseOp': 'braintrace_lab.element_wise',
    'ConvOp': 'braintrace_lab.conv',
    'SpMatMulOp': 'braintrace_lab.sparse_matmul',
    'LoraOp': 'braintrace_lab.lora_matmul',
    'ETraceOp': 'the ETP op functions (braintrace_lab.matmul, conv, element_wise, ...)',
    'ETraceParam': 'a brainstate.ParamState read by an ETP op function',
    'ElemWiseParam': 'a brainstate.ParamState read by braintrace_lab.element_wise',
    'NonTempParam': 'a brainstate.ParamState used by plain JAX ops (a readout: exact per-step gradient)',
    'FakeETraceParam': 'a plain value used by plain JAX ops',
    'FakeElemWiseParam': 'a plain value used by plain JAX ops',
    'ETPPrimitive': 'the built-in ETP ops (matmul, conv, sparse_matmul, lora_matmul, element_wise); '
                    'custom ETP primitives are not supported',
    'register_primitive': 'the built-in ETP ops; custom ETP primitives are not supported',
    'grouped_matmul': 'one braintrace_lab.matmul per group (or a block-diagonal weight_fn)',
    'ETraceGraphExecutor': _LEARNER,
    'ETraceVjpGraphExecutor': _LEARNER,
    'ETraceConfig': "a rule by name or class: compile(model, 'd_rtrl' | 'pp_prop' | 'eprop' | ..., x0, "
                    "**its options), e.g. pp_prop(model, decay_or_rank=0.9), EProp(model, kappa=0.9)",
    'SnAp': "this package's SnAp rule by name, compile(model, 'snap', x0, n=2) (a dense, masked influence "
            "matrix: braintrace's defaults and memory differ; see docs/compatibility.md), or RTRL / D_RTRL",
    'UORO': "this package's UORO rule by name, compile(model, 'uoro', x0, seed=0) (its own random stream), "
            "or RTRL (exact) / pp_prop",
    'RandomProjectionVjpAlgorithm': "pp_prop(model, decay_or_rank=r) (a rank-r trace)",
    'ThreeFactor': "this package's three-factor rule by name, compile(model, 'three_factor', x0, sigma=0.05) "
                   "(node perturbation: reward -loss minus a running-average baseline; braintrace's modulator= "
                   "is not taken), or braintrace_lab.EProp (eligibility trace x learning signal)",
    'DNI': 'pp_prop or D_RTRL; synthetic gradients are not provided',
    'SyntheticGradient': 'pp_prop or D_RTRL; synthetic gradients are not provided',
    'train_synthetic_gradient': 'pp_prop or D_RTRL; synthetic gradients are not provided',
    'ControlFlowPolicy': 'nothing: scan and cond inside a step are traced as they are, and a while_loop '
                         'on the gradient path is refused at compile time (see docs/compatibility.md)',
    'ModuleInfo': f'{_GRAPH}, the whole compiled record',
    'extract_module_info': _GRAPH,
    'find_hidden_groups_from_minfo': f'{_GRAPH}.hidden_groups',
    'find_hidden_param_op_relations_from_minfo': f'{_GRAPH}.hidden_param_op_relations',
    'HiddenPerturbation': _SIGNALS,
    'add_hidden_perturbation_in_module': _SIGNALS,
    'add_hidden_perturbation_from_minfo': _SIGNALS,
    'CompilationRecord': 'braintrace_lab.ETraceGraph (compile_etrace_graph(model, x0); .explain(), .diagnostics)',
    'CompilationReport': 'braintrace_lab.ETraceGraph.explain() (or compile(..., verbose=1))',
    'DiagnosticKind': 'braintrace_lab.Diagnostic records in ETraceGraph.diagnostics (level, subject, message)',
    'DiagnosticLevel': "braintrace_lab.Diagnostic.level ('info' or 'warning')",
}

# rules this package has under braintrace's name but with other numbers: never served by that name,
# so code naming them fails loudly (docs/compatibility.md, row 17)
_OTHER_RULE_SAME_NAME = frozenset({'SnAp', 'UORO', 'ThreeFactor'})


def __getattr__(name):
    # heavier subpackages load on first use
    import importlib
    if name in ('nn', 'oracle', 'tasks', 'lab', 'widgets', 'models'):
        return importlib.import_module(f'.{name}', __name__)
    if name in _NOT_SERVED:
        from . import algorithms
        if name in getattr(algorithms, '__all__', ()) and name not in _OTHER_RULE_SAME_NAME:
            return getattr(algorithms, name)          # a rule of that name has since been added
        raise AttributeError(f'braintrace_lab does not provide braintrace\'s {name!r}; use {_NOT_SERVED[name]}.')
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


def __dir__():
    return sorted(set(globals()) | set(__all__))
