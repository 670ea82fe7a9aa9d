"""Bad input gets a clear exception naming the problem and the fix."""
import brainstate
import jax.numpy as jnp
import pytest

import braintrace_lab as bl
from braintrace_lab import ops
from braintrace_lab.models import get_fixture


class NoHidden(brainstate.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = brainstate.ParamState(jnp.ones((3, 2)))

    def update(self, x):
        return ops.matmul(x, self.w.value)


class WritesParam(brainstate.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = brainstate.ParamState(jnp.ones((3, 2)))
        self.h = brainstate.HiddenState(jnp.zeros(2))

    def update(self, x):
        self.h.value = 0.5 * self.h.value + ops.matmul(x, self.w.value)
        self.w.value = self.w.value * 0.99
        return self.h.value


class PlainWeight(brainstate.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = brainstate.ParamState(jnp.ones((3, 2)))
        self.h = brainstate.HiddenState(jnp.zeros(2))

    def update(self, x):
        self.h.value = 0.5 * self.h.value + x @ self.w.value     # not an ETP op
        return self.h.value


def test_model_without_hidden_state():
    with pytest.raises(bl.CompilationError, match='no HiddenState'):
        bl.D_RTRL(NoHidden()).compile_graph(jnp.ones(3))


def test_param_written_inside_update():
    with pytest.raises(bl.CompilationError, match="ParamState 'w' is written"):
        bl.D_RTRL(WritesParam()).compile_graph(jnp.ones(3))


def test_non_etp_trainable_weight():
    with pytest.raises(bl.CompilationError, match=r"'w' reaches hidden state.*ETP op"):
        bl.D_RTRL(PlainWeight()).compile_graph(jnp.ones(3), strict=True)
    learner = bl.D_RTRL(PlainWeight())                      # by default: its one-step gradient
    learner.compile_graph(jnp.ones(3))
    assert learner.graph.param('w').status == 'immediate_only'


def test_call_before_compile_and_wrong_shape():
    fx = get_fixture('leaky')
    with fx.context():
        learner = bl.D_RTRL(fx.build())
        with pytest.raises(bl.NotCompiledError, match='compile_graph'):
            learner(jnp.ones(4))
        learner.compile_graph(jnp.ones(4))
        with pytest.raises(ValueError, match=r'shape \(5,\).*compiled for \(4,\)'):
            learner(jnp.ones(5))
        window = bl.D_RTRL(fx.build(), vjp_method='multi-step')
        window.compile_graph(jnp.ones(4))
        with pytest.raises(ValueError, match='window'):
            window(jnp.ones(4))


def test_unknown_algorithm_lists_valid_names():
    fx = get_fixture('leaky')
    with fx.context():
        with pytest.raises(ValueError, match=r"unknown algorithm 'dtrl'.*d_rtrl.*pp_prop"):
            bl.compile(fx.build(), 'dtrl', jnp.ones(4))
        with pytest.raises(ValueError, match='vjp_method'):
            bl.D_RTRL(fx.build(), vjp_method='sometimes')


@pytest.mark.parametrize('value, exc', [(0, ValueError), (1.5, ValueError), (-1, ValueError),
                                        ('0.9', TypeError), (1.0, ValueError), (True, TypeError)])
def test_bad_decay_or_rank(value, exc):
    fx = get_fixture('leaky')
    with fx.context():
        with pytest.raises(exc, match='decay_or_rank'):
            bl.pp_prop(fx.build(), decay_or_rank=value)


def test_validation_survives_python_O():
    import pathlib
    import re
    src = pathlib.Path(bl.__file__).parent
    offenders = [str(p) for p in src.rglob('*.py') if re.search(r'^\s*assert\s', p.read_text(), re.M)]
    assert not offenders, f'assert used for validation in {offenders}'


def test_engine_options_come_before_dtype():
    """``dtype`` is keyword-only: a positional option lands in the engine's own field."""
    import jax.numpy as jnp
    from braintrace_lab.algorithms.engines import IODimEngine, LowRankEngine, ParamDimEngine
    from braintrace_lab.algorithms.snn_traces import KappaTraceFilter, PresynapticTrace
    assert ParamDimEngine(0.9) == ParamDimEngine(decay=0.9) and ParamDimEngine(0.9).dtype is None
    assert IODimEngine(0.0, 0.0, 1.0) == IODimEngine(x_decay=0.0, f_decay=0.0, f_scale=1.0)
    assert PresynapticTrace(0.5).decay == 0.5 and LowRankEngine(2).rank == 2
    assert KappaTraceFilter(ParamDimEngine(), 0.5) == KappaTraceFilter(inner=ParamDimEngine(), kappa=0.5)
    assert ParamDimEngine(0.9, dtype=jnp.bfloat16).dtype == jnp.bfloat16
    with pytest.raises(TypeError):
        ParamDimEngine(0.9, jnp.bfloat16)          # dtype only by name
    with pytest.raises(TypeError, match=r'KappaTraceFilter\(inner=ParamDimEngine\(\), kappa=0.5\)'):
        KappaTraceFilter(kappa=0.5)                     # nothing to filter
