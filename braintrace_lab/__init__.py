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
from .gradients import GradExpon
from .input_data import MultiStepData, SingleStepData
from .ops import conv, element_wise, lora_matmul, matmul, sparse_matmul
from .registry import algorithm_names, compile, register_algorithm

__version__ = '0.1.0'
__version_info__ = tuple(int(part) for part in __version__.split('.'))

HiddenParamOpRelation = Relation      # braintrace's name for a param -> op -> hidden group relation

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
    'ETraceGraphExecutor': 'a learner (braintrace_lab.compile(model, rule, x0)), which runs the step itself',
    'ETraceVjpGraphExecutor': 'a learner (braintrace_lab.compile(model, rule, x0)), which runs the step itself',
    'ModuleInfo': 'braintrace_lab.compile_etrace_graph(model, x0), the whole compiled record',
    'extract_module_info': 'braintrace_lab.compile_etrace_graph(model, x0)',
    'find_hidden_groups_from_module': 'braintrace_lab.compile_etrace_graph(model, x0).groups',
    'find_hidden_groups_from_minfo': 'braintrace_lab.compile_etrace_graph(model, x0).groups',
    'find_hidden_param_op_relations_from_module': 'braintrace_lab.compile_etrace_graph(model, x0).relations',
    'find_hidden_param_op_relations_from_minfo': 'braintrace_lab.compile_etrace_graph(model, x0).relations',
    'HiddenPerturbation': 'learner.learning_signals() after learner.etrace_grad(...) (dL/dh per hidden state)',
    'add_hidden_perturbation_in_module': 'learner.learning_signals() after learner.etrace_grad(...)',
    'add_hidden_perturbation_from_minfo': 'learner.learning_signals() after learner.etrace_grad(...)',
    'CompilationRecord': 'braintrace_lab.ETraceGraph (compile_etrace_graph(model, x0); .explain(), .diagnostics)',
    'DiagnosticKind': 'braintrace_lab.Diagnostic records in ETraceGraph.diagnostics (level, subject, message)',
    'DiagnosticLevel': "braintrace_lab.Diagnostic.level ('info' or 'warning')",
}


def __getattr__(name):
    # heavier subpackages load on first use
    import importlib
    if name in ('nn', 'oracle', 'tasks', 'lab', 'widgets', 'models'):
        return importlib.import_module(f'.{name}', __name__)
    if name in _NOT_SERVED:
        raise AttributeError(f'braintrace_lab does not provide braintrace\'s {name!r}; use {_NOT_SERVED[name]}.')
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
