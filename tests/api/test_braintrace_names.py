"""``import braintrace_lab as braintrace``: every name of braintrace's public API is served,
or fails with an AttributeError that says what to use instead."""
import pytest

import braintrace_lab as braintrace

# braintrace 0.2's ``__all__`` as listed in the seed documents, and its v0.1 names
SEED_NAMES = """__version__ __version_info__ ETraceAlgorithm EligibilityTrace ETraceVjpAlgorithm ETraceVjpGraphExecutor
ParamDimVjpAlgorithm D_RTRL pp_prop ES_D_RTRL IODimVjpAlgorithm compile matmul element_wise conv sparse_matmul
lora_matmul ETPPrimitive register_primitive SingleStepData MultiStepData ETraceGraphExecutor ETraceGraph
compile_etrace_graph HiddenGroup find_hidden_groups_from_minfo find_hidden_groups_from_module HiddenParamOpRelation
find_hidden_param_op_relations_from_minfo find_hidden_param_op_relations_from_module ModuleInfo extract_module_info
HiddenPerturbation add_hidden_perturbation_from_minfo add_hidden_perturbation_in_module CompilationRecord
DiagnosticKind DiagnosticLevel GradExpon EProp OSTLRecurrent OSTLFeedforward OTPE OTTT OSTTP FixedRandomFeedback
KappaFilter PresynapticTrace NotSupportedError CompilationError nn
MatMulOp ElemWiseOp ConvOp SpMatMulOp LoraOp ETraceOp ETraceParam ElemWiseParam NonTempParam FakeETraceParam
FakeElemWiseParam""".split()

SERVED = {'__version__', '__version_info__', 'ETraceAlgorithm', 'EligibilityTrace', 'ETraceVjpAlgorithm',
          'ParamDimVjpAlgorithm', 'D_RTRL', 'pp_prop', 'ES_D_RTRL', 'IODimVjpAlgorithm', 'compile', 'matmul',
          'element_wise', 'conv', 'sparse_matmul', 'lora_matmul', 'SingleStepData', 'MultiStepData',
          'ETraceGraph', 'compile_etrace_graph', 'HiddenGroup', 'HiddenParamOpRelation', 'GradExpon', 'EProp',
          'OSTLRecurrent', 'OSTLFeedforward', 'OTPE', 'OTTT', 'OSTTP', 'FixedRandomFeedback', 'KappaFilter',
          'PresynapticTrace', 'NotSupportedError', 'CompilationError', 'nn'}


@pytest.mark.parametrize('name', SEED_NAMES)
def test_every_braintrace_name_is_served_or_explained(name):
    if name in SERVED:
        assert getattr(braintrace, name) is not None
        return
    with pytest.raises(AttributeError, match=rf"does not provide braintrace's '{name}'; use \S"):
        getattr(braintrace, name)


def test_unknown_names_still_fail_plainly():
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        braintrace.no_such_name


def test_version_info_matches_version():
    assert '.'.join(map(str, braintrace.__version_info__)) == braintrace.__version__


NN_SERVED = ['Linear', 'SparseLinear', 'LeakyRateReadout', 'ValinaRNNCell', 'GRUCell', 'LSTMCell', 'MGUCell',
             'Conv1d', 'Conv2d', 'Conv3d']
NN_NOT_SERVED = ['LoRA', 'SignedWLinear', 'ScaledWSLinear', 'GroupedLinear', 'Embedding', 'MinimalRNNCell',
                 'URLSTMCell', 'CFNCell', 'LRUCell', 'MiniGRU', 'MiniLSTM']


@pytest.mark.parametrize('name', NN_SERVED + NN_NOT_SERVED)
def test_braintrace_nn_names_are_served_or_explained(name):
    if name in NN_SERVED:
        assert isinstance(getattr(braintrace.nn, name), type)
        return
    with pytest.raises(AttributeError, match=rf"does not provide braintrace.nn's '{name}'; use \S"):
        getattr(braintrace.nn, name)
