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
          'PresynapticTrace', 'NotSupportedError', 'CompilationError', 'nn', 'find_hidden_groups_from_module',
          'find_hidden_param_op_relations_from_module'}


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
             'Conv1d', 'Conv2d', 'Conv3d', 'LoRA', 'SignedWLinear', 'MiniGRU', 'MiniLSTM']
NN_NOT_SERVED = ['ScaledWSLinear', 'GroupedLinear', 'Embedding', 'MinimalRNNCell',
                 'URLSTMCell', 'CFNCell', 'LRUCell']


@pytest.mark.parametrize('name', NN_SERVED + NN_NOT_SERVED)
def test_braintrace_nn_names_are_served_or_explained(name):
    if name in NN_SERVED:
        assert isinstance(getattr(braintrace.nn, name), type)
        return
    with pytest.raises(AttributeError, match=rf"does not provide braintrace.nn's '{name}'; use \S"):
        getattr(braintrace.nn, name)


# ---- braintrace's own lists: the installed package's when there is one, else the 0.2.8 lists stored here
STORED_ALL = """__version__ __version_info__ ETraceConfig ETraceAlgorithm EligibilityTrace ETraceVmap SequenceDriverMixin
ETraceVjpAlgorithm ETraceVjpGraphExecutor ParamDimVjpAlgorithm D_RTRL pp_prop ES_D_RTRL IODimVjpAlgorithm SnAp
RandomProjectionVjpAlgorithm UORO ThreeFactor DNI SyntheticGradient train_synthetic_gradient compile matmul
grouped_matmul embedding einsum element_wise conv sparse_matmul lora_matmul ETPPrimitive register_primitive
SingleStepData MultiStepData ETraceGraphExecutor ControlFlowPolicy ETraceGraph compile_etrace_graph HiddenGroup
find_hidden_groups_from_minfo find_hidden_groups_from_module HiddenParamOpRelation
find_hidden_param_op_relations_from_minfo find_hidden_param_op_relations_from_module ModuleInfo
extract_module_info HiddenPerturbation add_hidden_perturbation_from_minfo add_hidden_perturbation_in_module
CompilationRecord CompilationReport DiagnosticKind DiagnosticLevel GradExpon EProp OSTLRecurrent OSTLFeedforward
FixedRandomFeedback KappaFilter NotSupportedError CompilationError nn""".split()
STORED_NN_ALL = """Conv1d Conv2d Conv3d Linear GroupedLinear SignedWLinear ScaledWSLinear SparseLinear LoRA Embedding
LeakyRateReadout ValinaRNNCell GRUCell MGUCell LSTMCell URLSTMCell MinimalRNNCell MiniGRU MiniLSTM LRUCell
CFNCell""".split()


def _braintrace_lists():
    try:
        import braintrace as real
        import braintrace.nn as real_nn
    except ImportError:
        return STORED_ALL, STORED_NN_ALL
    return list(real.__all__), list(real_nn.__all__)


BT_ALL, BT_NN_ALL = _braintrace_lists()


@pytest.mark.parametrize('name', sorted(set(BT_ALL) | set(STORED_ALL)))
def test_each_name_of_braintraces_all_is_served_or_names_a_replacement(name):
    try:
        value = getattr(braintrace, name)
    except AttributeError as err:
        assert f"does not provide braintrace's '{name}'; use " in str(err), str(err)
        assert len(str(err).split('; use ', 1)[1]) > 5
        return
    assert value is not None


@pytest.mark.parametrize('name', sorted(set(BT_NN_ALL) | set(STORED_NN_ALL)))
def test_each_name_of_braintrace_nn_all_is_served_or_names_a_replacement(name):
    try:
        value = getattr(braintrace.nn, name)
    except AttributeError as err:
        assert f"does not provide braintrace.nn's '{name}'; use " in str(err), str(err)
        return
    assert isinstance(value, type)


def test_all_lists_resolvable_names_and_star_import_works():
    assert '__all__' in vars(braintrace) and len(braintrace.__all__) == len(set(braintrace.__all__))
    for name in braintrace.__all__:
        assert getattr(braintrace, name) is not None, name
    space = {}
    exec('from braintrace_lab import *', space)
    assert {'compile', 'matmul', 'D_RTRL', 'ETraceVmap', 'nn'} <= set(space)
    for name in braintrace.nn.__all__:
        assert isinstance(getattr(braintrace.nn, name), type) or name == 'ACTIVATIONS'


def test_forwarded_nn_names_are_the_same_objects():
    import brainpy.state
    import brainstate
    from braintrace_lab.nn import FORWARDED_TO_BRAINPY_STATE, FORWARDED_TO_BRAINSTATE_NN
    with pytest.warns(DeprecationWarning, match='brainpy.state.LIF'):
        assert braintrace.nn.LIF is brainpy.state.LIF
    for name in FORWARDED_TO_BRAINPY_STATE:
        if hasattr(brainpy.state, name):
            assert getattr(braintrace.nn, name) is getattr(brainpy.state, name)
    for name in FORWARDED_TO_BRAINSTATE_NN:
        if hasattr(brainstate.nn, name):
            assert getattr(braintrace.nn, name) is getattr(brainstate.nn, name)


def test_forwarded_nn_names_match_braintraces_forwarding():
    real_nn = pytest.importorskip('braintrace.nn')
    import warnings
    from braintrace_lab.nn import FORWARDED_TO_BRAINPY_STATE, FORWARDED_TO_BRAINSTATE_NN
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        for name in FORWARDED_TO_BRAINPY_STATE + FORWARDED_TO_BRAINSTATE_NN:
            try:
                theirs = getattr(real_nn, name)
            except AttributeError:
                continue
            assert getattr(braintrace.nn, name) is theirs, name


def test_record_answers_to_braintraces_attribute_names():
    import brainstate
    import jax.numpy as jnp
    from braintrace_lab.models import get_fixture
    fx = get_fixture('leaky')
    with fx.context():
        graph = braintrace.compile_etrace_graph(fx.build(), jnp.ones(4), include_hidden_perturb=False)
    assert graph.hidden_groups == graph.groups and graph.hidden_param_op_relations == graph.relations
    g = graph.hidden_groups[0]
    assert g.index == 0 and g.num_state == g.num_states and g.hidden_paths == (('h',),)
    assert graph.dict() == graph.to_dict()
    assert isinstance(graph.hidden_param_op_relations[0], braintrace.HiddenParamOpRelation)


def test_compiler_options_never_reach_the_model():
    import brainstate
    import jax.numpy as jnp

    class Strict(brainstate.nn.Module):         # update() takes no keyword: an option would be a TypeError
        def __init__(self):
            super().__init__()
            self.w = brainstate.ParamState(jnp.ones((3, 2)))

        def init_state(self, *args, **kwargs):
            self.h = brainstate.HiddenState(jnp.zeros(2))

        def update(self, x):
            self.h.value = 0.5 * self.h.value + braintrace.matmul(x, self.w.value)
            return self.h.value

    model = Strict()
    brainstate.nn.init_all_states(model)
    graph = braintrace.compile_etrace_graph(model, jnp.ones(3), include_hidden_perturb=False,
                                            include_output_bypass=True, include_recurrent_mixing=False)
    assert graph.relations
    with pytest.raises(braintrace.NotSupportedError, match='sparse_n'):
        braintrace.compile_etrace_graph(model, jnp.ones(3), sparse_n=2)


def test_module_helpers_and_learner_introspection(capsys):
    import jax.numpy as jnp
    from braintrace_lab.models import get_fixture
    fx = get_fixture('leaky')
    with fx.context():
        model = fx.build()
        groups, path_map = braintrace.find_hidden_groups_from_module(model, jnp.ones(4))
        relations = braintrace.find_hidden_param_op_relations_from_module(model, jnp.ones(4))
        learner = braintrace.compile(model, 'd_rtrl', jnp.ones(4))
    assert [g.index for g in groups] == [0] and path_map[('h',)] is groups[0]
    assert relations[0].param == 'w' and relations[0].group == 'g0'
    learner.show_graph()
    assert 'relation w -> op0' in capsys.readouterr().out
    traces = learner.get_etrace_of(model.w)
    assert list(traces) == [r.key for r in learner.graph.relations if r.param == 'w']
    assert learner.get_etrace_of(('w',)).keys() == traces.keys() == learner.get_etrace_of('w').keys()
    with pytest.raises(ValueError, match='no eligibility trace'):
        learner.get_etrace_of('readout.weight')
