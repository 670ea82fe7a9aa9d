"""The compiler's records: groups, relations, weight status, diagnostics, and the trap-2 fix."""
import json

import brainstate
import jax
import jax.numpy as jnp
import numpy as np

import braintrace_lab as bl
from braintrace_lab import ops
from braintrace_lab.models import get_fixture, mse_loss
from braintrace_lab.oracle import agreement, bptt_grad


def _graph(name):
    fx = get_fixture(name)
    with fx.context():
        xs, _ = fx.data(T=2)
        return bl.compile_etrace_graph(fx.build(), xs[0])


def test_alif_is_one_group_of_two_states_and_readout_is_non_temporal():
    g = _graph('alif')
    assert len(g.groups) == 1 and g.groups[0].num_states == 2
    assert set(g.groups[0].states) == {'neuron.V', 'neuron.a'}
    assert [r.key for r in g.relations] == ['w@op0->g0']
    assert g.param('w').status == 'traced'
    assert g.param('readout.weight').status == 'non_temporal'
    assert 'readout' in g.param('readout.weight').reason
    text = g.explain()
    assert 'neuron.V' in text and 'non_temporal' in text


def test_records_are_plain_and_json_ready():
    g = _graph('gru')
    d = g.to_dict()
    json.dumps(d)
    assert {p['path']: p['status'] for p in d['params']} == {
        'cell.Wr.weight': 'immediate_only', 'cell.Wz.weight': 'traced', 'cell.Wh.weight': 'traced',
        'readout.weight': 'non_temporal'}
    excluded = {e['param']: e['reason'] for e in d['excluded']}
    assert 'weight through weight' in excluded['cell.Wr.weight']
    assert repr(g).startswith('ETraceGraph(') and '0x' not in repr(g)


def test_a_reset_gate_is_recorded_feeding_the_candidate_op_not_the_state():
    """The GRU's W_r reaches h only through W_h's input (r * h): the record names that op, and the graph
    view draws the one-step edge into it, never straight into the hidden group."""
    from braintrace_lab.lab.views import graph_view_model
    g = _graph('gru')
    by_param = {o.param: o for o in g.ops}
    assert by_param['cell.Wr.weight'].into_ops == (by_param['cell.Wh.weight'].index,)
    assert all(o.into_ops == () for p, o in by_param.items() if p != 'cell.Wr.weight')
    assert g.to_dict()['ops'][by_param['cell.Wr.weight'].index]['into_ops'] == [by_param['cell.Wh.weight'].index]
    r_op, h_op = f"op:{by_param['cell.Wr.weight'].index}", f"op:{by_param['cell.Wh.weight'].index}"
    edges = [(e['source'], e['target'], e['kind']) for e in graph_view_model(g)['edges']]
    assert (r_op, h_op, 'immediate') in edges
    assert not [e for e in edges if e[0] == r_op and e[1].startswith('group:')]


def test_compiler_sees_ops_under_vmap():
    fx = get_fixture('leaky')
    with fx.context():
        model = fx.build(batch_size=3)
        xs, _ = fx.data(T=2, batch_size=3)
        g = bl.compile_etrace_graph(model, xs[0])
        assert [r.op_kind for r in g.relations] == ['matmul']
        assert g.groups[0].varshape == (3, 6)


class FixedMixing(brainstate.nn.Module):
    """tanh units coupled through a fixed (non-trainable) matrix outside any ETP op."""

    def __init__(self, diagonal):
        super().__init__()
        self.w = brainstate.ParamState(jax.random.normal(jax.random.PRNGKey(0), (3, 4)))
        m = 0.5 * jnp.eye(4) + 0.3 * jax.random.normal(jax.random.PRNGKey(3), (4, 4))
        self.m = jnp.diag(jnp.diag(m)) if diagonal else m
        self.h = brainstate.HiddenState(jnp.zeros(4))

    def update(self, x):
        self.h.value = jnp.tanh(self.h.value @ self.m + ops.matmul(x, self.w.value))
        return self.h.value


def _rel_err(model_factory, mixing_override=None):
    xs = jax.random.normal(jax.random.PRNGKey(1), (6, 3))
    ys = jax.random.normal(jax.random.PRNGKey(2), (6, 4))
    ref, _ = bptt_grad(model_factory(), xs, lambda o, t: mse_loss(o, ys[t]))
    learner = bl.D_RTRL(model_factory())
    learner.compile_graph(xs[0])
    if mixing_override is not None:
        learner._plan.mixing_groups = mixing_override
    g, _ = learner.etrace_grad(xs, ys, mse_loss)
    return agreement(g, ref).max_relative_error, learner


def test_mixing_outside_ops_uses_exact_diagonal_not_column_sums():
    # a diagonal fixed matrix: the transition is position-wise, D-RTRL is exact
    err, learner = _rel_err(lambda: FixedMixing(diagonal=True))
    assert err < 1e-5
    assert any('mixes positions' in d.message for d in learner.graph.diagnostics)
    # negative control: column sums of the same Jacobian over-count when the matrix mixes
    exact_diag, _ = _rel_err(lambda: FixedMixing(diagonal=False))
    column_sums, _ = _rel_err(lambda: FixedMixing(diagonal=False), mixing_override=())
    assert column_sums > 1.1 * exact_diag, (column_sums, exact_diag)


def test_introspection_traces_signals_memory():
    fx = get_fixture('alif')
    with fx.context():
        xs, ys = fx.data(T=5)
        learner = bl.D_RTRL(fx.build())
        learner.compile_graph(xs[0])
        learner.etrace_grad(xs, ys, mse_loss)
        traces = learner.eligibility_traces()
        assert set(traces) == {'w@op0->g0'}
        assert traces['w@op0->g0']['w'].shape == (5, 6, 2)            # (I, O, S)
        assert float(jnp.abs(traces['w@op0->g0']['w']).sum()) > 0
        # bytes: weight trace I*O*S + bias trace O*S, float32
        assert learner.trace_memory() == {'w': (5 * 6 * 2 + 6 * 2) * 4}
        sig = learner.learning_signals()
        assert sig['w'].shape == (6, 2) and float(jnp.abs(sig['w']).sum()) > 0
        assert set(learner.learning_signals(by='hidden')) == {'neuron.V', 'neuron.a'}


class WithUnused(brainstate.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = brainstate.ParamState(jnp.ones((3, 2)))
        self.extra = brainstate.ParamState(jnp.ones(4))
        self.h = brainstate.HiddenState(jnp.zeros(2))

    def update(self, x):
        self.h.value = 0.5 * self.h.value + ops.matmul(x, self.w.value)
        return self.h.value


def test_unused_parameter_is_reported_and_gets_a_zero_gradient():
    learner = bl.D_RTRL(WithUnused())
    learner.compile_graph(jnp.ones(3))
    assert learner.graph.param('extra').status == 'unused'
    grads, _ = learner.etrace_grad(jnp.ones((4, 3)), jnp.ones((4, 2)), mse_loss)
    assert float(jnp.abs(grads[('extra',)]).sum()) == 0.0
    assert float(jnp.abs(grads[('w',)]).sum()) > 0.0
