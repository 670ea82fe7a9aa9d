"""The engine's accelerator contraction paths, checked on any machine.

Off the CPU, ``position_sum`` contracts a trace with the learning signal as one
fused multiply-reduce (no optimisation barrier, no loop over positions). These
tests switch that path on here and hold it to BPTT and to the CPU path.
"""
import jax.numpy as jnp
import pytest

import braintrace_lab as bl
from braintrace_lab.algorithms import engines
from braintrace_lab.models import get_fixture

from engine_testutils import assert_matches_bptt, online_grads, worst_error

T = 7


@pytest.fixture
def accelerator_paths(monkeypatch):
    monkeypatch.setattr(engines, 'on_cpu', lambda: False)


@pytest.mark.parametrize('name', ['leaky', 'alif', 'leaky_lora', 'conv_leaky'])
def test_d_rtrl_accelerator_path_equals_bptt(name, accelerator_paths):
    assert_matches_bptt(get_fixture(name), bl.D_RTRL, seed=4, T=T)


@pytest.mark.parametrize('dtype', [jnp.float32, jnp.bfloat16])
def test_accelerator_path_equals_the_cpu_path(dtype, monkeypatch):
    """Same rule, same data: the two contraction strategies give the same gradient,
    also for a rule with a scalar trace leak (OTPE) and with bfloat16 traces."""
    fx = get_fixture('lif')
    with fx.context():
        xs, ys = fx.data(T=T, seed=5)
        for rule, opts in ((bl.D_RTRL, {}), (bl.OTPE, {}), (bl.EProp, {})):
            cpu, _, _ = online_grads(fx, rule, xs, ys, trace_dtype=dtype, **opts)
            monkeypatch.setattr(engines, 'on_cpu', lambda: False)
            acc, _, _ = online_grads(fx, rule, xs, ys, trace_dtype=dtype, **opts)
            monkeypatch.undo()
            tol = 1e-5 if dtype == jnp.float32 else 2e-2
            assert worst_error(acc, cpu) < tol, rule.__name__
