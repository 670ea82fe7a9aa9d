"""Which transition derivatives the step computes once behind a barrier (and which it leaves to fusion)."""
import jax
import jax.numpy as jnp
import pytest

import braintrace_lab as bl
from braintrace_lab.algorithms.base import shield_broadcast_derivatives
from braintrace_lab.algorithms.engines import IODimEngine, ParamDimEngine
from braintrace_lab.algorithms.snn_traces import KappaFilter, PresynapticTrace
from braintrace_lab.models import get_fixture


def _relations(name, algo, **opts):
    fx = get_fixture(name)
    with fx.context():
        xs, _ = fx.data(T=2, seed=0)
        learner = algo(fx.build(), **opts)
        learner.compile_graph(xs[0])
    return learner._plan.relations


def _derivatives(relations):
    n_groups = 1 + max(rel.group for rel in relations)
    D = [jnp.full((3, 1, 1), 0.5 + g) for g in range(n_groups)]
    Df = {rel.key: jnp.full((3, 1), 2.0) for rel in relations}
    return D, Df


def _barriers(relations):
    D, Df = _derivatives(relations)
    jaxpr = jax.make_jaxpr(lambda d, f: shield_broadcast_derivatives(relations, d, f))(D, Df)
    return [e for e in jaxpr.eqns if e.primitive.name == 'optimization_barrier']


def test_factorised_traces_leave_derivatives_open():
    relations = _relations('gru', bl.pp_prop, decay_or_rank=0.9)
    assert relations and all(type(rel.engine) is IODimEngine for rel in relations)
    D, Df = _derivatives(relations)
    D2, Df2 = shield_broadcast_derivatives(relations, D, Df)
    assert D2 is D and Df2 is Df
    assert _barriers(relations) == []


def test_full_traces_get_their_derivatives_behind_one_barrier():
    relations = _relations('gru', bl.D_RTRL)
    (barrier,) = _barriers(relations)
    groups = {rel.group for rel in relations}
    assert len(barrier.invars) == len(groups) + len(relations)      # every D it spreads and every Df
    D, Df = _derivatives(relations)
    D2, Df2 = shield_broadcast_derivatives(relations, D, Df)
    assert len(D2) == len(D) and set(Df2) == set(Df)
    assert all(jnp.array_equal(a, b) for a, b in zip(D2, D))
    assert all(jnp.array_equal(Df2[k], Df[k]) for k in Df)


def test_engines_declare_whether_they_spread_derivatives():
    assert ParamDimEngine().broadcasts_derivatives
    assert not IODimEngine().broadcasts_derivatives
    assert not PresynapticTrace(decay=0.5).broadcasts_derivatives
    assert KappaFilter(inner=ParamDimEngine(), kappa=0.5).broadcasts_derivatives
    assert not KappaFilter(inner=IODimEngine(), kappa=0.5).broadcasts_derivatives


def test_kappa_filter_needs_an_inner_engine():
    with pytest.raises(TypeError, match=r'KappaFilter\(inner=ParamDimEngine\(\), kappa=0.5\)'):
        KappaFilter(ParamDimEngine(), kappa=0.5)        # the engine given where dtype goes
