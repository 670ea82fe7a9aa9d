"""The compiled ``Program``: one frozen record, typed relation keys, and the facts derived from the step."""
import ast
import dataclasses
import json
import pathlib

import brainstate
import jax.numpy as jnp
import pytest
import saiunit as u

import braintrace_lab as bl
from braintrace_lab.algorithms.step import StepPlan
from braintrace_lab.compiler import Program, RelationKey, compile_program
from braintrace_lab.models import get_fixture
from braintrace_lab.models.seed_snn import LiveSNN

PACKAGE = pathlib.Path(bl.__file__).resolve().parent


def _program(name, **kwargs):
    fx = get_fixture(name)
    with fx.context():
        xs, _ = fx.data(T=2)
        return compile_program(fx.build(), xs[0], **kwargs)


def _op_of(program, param):
    """The index of the one op whose weight is ``param``."""
    found = [op.index for op in program.ops
             if any(w is not None and program.leaves[w].state_path == param for w in op.weight_params)]
    assert len(found) == 1, found
    return found[0]


def _snn_program():
    brainstate.random.seed(0)
    with brainstate.environ.context(dt=1. * u.ms):
        model = LiveSNN(3, 6, 2)        # LIF spikes read by a leaky rate readout: two hidden groups
        brainstate.nn.init_all_states(model, batch_size=2)
        return compile_program(model, jnp.ones((2, 3)))


# ------------------------------------------------------------------ the record
def test_program_is_frozen_readable_and_json_ready():
    program = _program('rnn')
    assert isinstance(program, Program)
    with pytest.raises(dataclasses.FrozenInstanceError):
        program.readout_ops = ()
    text = repr(program)
    assert text.startswith('Program(') and '0x' not in text
    assert "'cell.W.weight@op0->g0'" in text and 'readout_ops=[1]' in text
    d = program.to_dict()
    again = json.loads(json.dumps(d))
    assert again['graph'] == json.loads(json.dumps(program.graph.to_dict()))
    assert [r['key'] for r in again['relations']] == ['cell.W.weight@op0->g0']
    assert again['input_avals'] == [{'shape': [4], 'dtype': 'float32'}]
    assert again['output_avals'] == [{'shape': [3], 'dtype': 'float32'}]
    assert program.explain() == program.graph.explain()


def test_compile_etrace_graph_is_the_programs_graph():
    fx = get_fixture('gru')
    with fx.context():
        xs, _ = fx.data(T=2)
        model = fx.build()
        graph = bl.compile_etrace_graph(model, xs[0])
        program = compile_program(model, xs[0])
    assert graph.to_dict() == program.graph.to_dict()


def test_the_step_plan_reads_every_index_from_the_program():
    program = _program('gru')
    plan = StepPlan(program)
    assert plan.program is program
    assert plan.groups == [list(g) for g in program.groups]
    assert plan.hidden_ids == list(program.hidden_ids) and plan.param_ids == list(program.param_ids)
    assert [r.key for r in plan.relations] == [str(r.key) for r in program.relations]
    assert [r.relation_key for r in plan.relations] == [r.key for r in program.relations]
    assert plan.immediate_params == list(program.immediate_params)
    with pytest.raises(TypeError, match='compile_program'):
        StepPlan(program.graph)


# ------------------------------------------------------------------ typed keys
def test_relation_keys_round_trip_through_their_text():
    key = RelationKey('cell.W.weight', 0, 2)
    assert str(key) == 'cell.W.weight@op0->g2'
    assert RelationKey.parse(str(key)) == key
    assert RelationKey.parse('w->g1') == RelationKey('w', None, 1) and str(RelationKey('w', None, 1)) == 'w->g1'
    assert RelationKey.param_of('a.b@op3->g0') == 'a.b'
    assert RelationKey.param_of('influence') == 'influence'        # an RTRL trace key: not a relation
    for bad in ('influence', 'w@op->g0', 'w@op1->h0', 'w@op1->g'):
        with pytest.raises(ValueError, match='param@opK->gN'):
            RelationKey.parse(bad)


def test_graph_relations_and_learner_traces_use_the_typed_keys():
    fx = get_fixture('gru')
    with fx.context():
        xs, _ = fx.data(T=2)
        learner = bl.D_RTRL(fx.build())
        learner.compile_graph(xs[0])
    program = learner._plan.program
    assert [RelationKey.parse(r.key) for r in learner.graph.relations] == [r.key for r in program.relations]
    assert [r.typed_key for r in learner.graph.relations] == [r.key for r in program.relations]
    keys = list(learner.eligibility_traces())
    assert all(isinstance(k, str) for k in keys)
    assert sorted(RelationKey.parse(k) for k in keys) == sorted(r.key for r in program.relations)
    rel = program.relation('cell.Wh.weight@op2->g0')
    assert rel.op == 2 and rel.group == 0 and rel.op_kind == 'matmul' and rel.x_shape == (10,)
    with pytest.raises(KeyError, match='cell.Wz.weight@op0->g0'):
        program.relation('cell.Wr.weight@op1->g0')


# ------------------------------------------------------------------ derived facts
def test_rnn_readout_and_recurrent_input_ops():
    program = _program('rnn')
    cell, readout = _op_of(program, 'cell.W.weight'), _op_of(program, 'readout.weight')
    assert program.readout_ops == (readout,)
    # [x, h] feeds the recurrent matmul; the readout reads the new h, computed from the old one
    assert program.recurrent_input_ops == (cell, readout)
    assert program.positionwise_inputs == (cell, readout)     # concatenate and tanh: no mixing
    assert program.feeding_groups == () and program.output_groups == () and program.mixing_groups == ()
    assert program.immediate_params == () and program.direct_weights
    assert [op.kind for op in program.ops] == ['matmul', 'matmul']
    assert program.ops[cell].input_avals[0].shape == (10,) and program.ops[cell].output_avals[0].shape == (6,)


def test_leaky_units_fed_by_the_input_only_have_no_recurrent_input_op():
    program = _program('leaky')
    drive = next(op.index for op in program.ops if op.groups)
    assert drive not in program.recurrent_input_ops
    assert program.readout_ops == tuple(op.index for op in program.ops if not op.groups)


def test_gru_reset_gate_is_immediate_and_the_readout_is_the_last_op():
    program = _program('gru')
    immediate = {program.leaves[program.param_ids[i]].state_path for i in program.immediate_params}
    assert immediate == {'cell.Wr.weight'}
    assert [str(r.key) for r in program.relations] == ['cell.Wz.weight@op0->g0', 'cell.Wh.weight@op2->g0']
    assert program.readout_ops == (_op_of(program, 'readout.weight'),)
    assert set(program.recurrent_input_ops) == {op.index for op in program.ops}
    assert program.feeding_groups == () and program.output_groups == ()


def test_spikes_read_by_a_leaky_readout_feed_the_readout_group():
    program = _snn_program()
    assert len(program.groups) == 2
    group_of = {program.leaves[program.hidden_ids[i]].state_path: gi
                for gi, g in enumerate(program.groups) for i in g}
    lif, out = group_of['neuron.V'], group_of['readout.r']
    assert program.feeding_groups == (lif,)        # the spikes reach the readout's new value in one step
    assert program.output_groups == (out,)         # the readout's state is the model output
    assert program.readout_ops == (_op_of(program, 'readout.weight'),)
    assert [str(r.key) for r in program.relations] == [f'linear.weight@op0->g{lif}',
                                                       f'readout.weight@op1->g{out}']
    assert [a.shape for a in program.output_avals] == [(2, 2)]


# ------------------------------------------------------------------ nothing else walks a jaxpr
def _jaxpr_walks(root):
    """``file:line: what`` for every jaxpr walk outside ``compiler/`` (ops may define the primitive)."""
    found = []
    for path in sorted(root.rglob('*.py')):
        rel = path.relative_to(root)
        if rel.parts[0] == 'compiler':
            continue
        tree = ast.parse(path.read_text(encoding='utf-8'), filename=str(path))
        for node in ast.walk(tree):
            what = None
            if isinstance(node, ast.Attribute) and node.attr == 'eqns':
                what = '.eqns'
            elif (isinstance(node, ast.Attribute) and node.attr in ('invars', 'outvars')
                  and getattr(node.value, 'attr', getattr(node.value, 'id', None)) == 'jaxpr'):
                what = f'jaxpr.{node.attr}'
            elif isinstance(node, (ast.Name, ast.Attribute, ast.alias)) and \
                    'propagate_bits' in (getattr(node, 'id', None), getattr(node, 'attr', None),
                                         getattr(node, 'name', None)):
                what = 'propagate_bits'
            elif isinstance(node, ast.ImportFrom) and (node.module or '').startswith('jax.extend'):
                names = {a.name for a in node.names}
                if not (rel.parts[0] == 'ops' and names == {'Primitive'}):
                    what = f'from {node.module} import {", ".join(sorted(names))}'
            elif isinstance(node, ast.Import) and any(a.name.startswith('jax.extend') for a in node.names):
                what = 'import jax.extend'
            if what:
                found.append(f'{rel}:{node.lineno}: {what}')
    return sorted(set(found))


def test_nothing_outside_the_compiler_walks_a_jaxpr():
    found = _jaxpr_walks(PACKAGE)
    assert not found, ('read these facts from the compiled Program (compiler/program.py) instead of '
                       'walking the jaxpr:\n' + '\n'.join(found))


def test_the_scan_finds_jaxpr_walks(tmp_path):
    """Negative control: each form of walk is reported outside compiler/, none inside it."""
    root = tmp_path / 'braintrace_lab'
    for part in ('algorithms', 'compiler', 'ops'):
        (root / part).mkdir(parents=True)
    (root / 'algorithms' / 'walk.py').write_text(
        'from jax.extend.core import Literal\n'
        'from ..compiler.derived import propagate_bits\n'
        'def f(plan):\n'
        '    return [e for e in plan.jaxpr.eqns], plan.jaxpr.invars\n')
    (root / 'compiler' / 'ok.py').write_text('from jax.extend.core import Literal\nx = j.eqns\n')
    (root / 'ops' / 'prim.py').write_text('from jax.extend.core import Primitive\n')
    assert _jaxpr_walks(root) == [
        'algorithms/walk.py:1: from jax.extend.core import Literal',
        'algorithms/walk.py:2: propagate_bits',
        'algorithms/walk.py:4: .eqns',
        'algorithms/walk.py:4: jaxpr.invars',
    ]
