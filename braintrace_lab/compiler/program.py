"""``Program``: the one compiled form of a model step that the engine, the lab and the widgets read.

The compiler (:func:`~braintrace_lab.compiler.graph.compile_program`) traces one step,
analyses it once and returns a frozen :class:`Program`: the user-facing
:class:`~braintrace_lab.compiler.records.ETraceGraph` (``program.graph``), the captured
step to evaluate, the index bookkeeping (which state leaves are weights, hidden states or
other states, the hidden groups, where each hidden state is written), the ETP ops, the
relations with typed keys, and every fact derived from the step's equations (readout ops,
output groups, feeding groups, position-wise op inputs, recurrent-input ops). Nothing
outside the compiler walks the jaxpr: it reads these fields.

>>> from braintrace_lab.compiler import compile_program
>>> program = compile_program(model, x0)
>>> program.relations[0].key
RelationKey(param='w', op=0, group=0)
>>> str(program.relations[0].key), program.readout_ops      # the text traces are indexed by
('w@op0->g0', (1,))
>>> report = program.explain()                  # the graph's report; program.to_dict(): plain data
"""
from __future__ import annotations

import dataclasses
from typing import Any, Tuple

from .analysis import Analysis, LeafInfo, OpInfo
from .capture import StepCapture
from .derived import (feeding_groups, output_groups, positionwise_inputs, readout_ops,
                      recurrent_input_ops)
from .records import ETraceGraph, RelationKey

__all__ = ['Program', 'ProgramRelation', 'build_program']


@dataclasses.dataclass(frozen=True)
class ProgramRelation:
    """One relation ``param -> op -> hidden group`` as the engine keeps a trace for it."""
    key: RelationKey
    op_kind: str
    x_shape: Tuple[int, ...]      # the op input's shape (``()`` for an op without input)

    @property
    def param(self) -> str:
        return self.key.param

    @property
    def op(self) -> int:
        return self.key.op

    @property
    def group(self) -> int:
        return self.key.group

    def to_dict(self):
        return {'key': str(self.key), 'param': self.param, 'op': self.op, 'group': self.group,
                'op_kind': self.op_kind, 'x_shape': list(self.x_shape)}


def _aval_dict(aval):
    return {'shape': list(aval.shape), 'dtype': str(aval.dtype)}


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Program:
    """A compiled model step: its graph record, its evaluation and every derived fact.

    Index conventions: ``leaves`` lists every state leaf the step reads;
    ``param_ids``/``hidden_ids``/``other_ids`` index into it; ``groups[g]`` lists
    positions in ``hidden_ids``; ``hidden_write_pos[i]`` is where hidden leaf ``i`` is
    written among the step's written-state outputs; ``immediate_params`` are positions
    in ``param_ids``; op and group facts are op indices and group indices.
    """
    graph: ETraceGraph
    capture: StepCapture
    leaves: Tuple[LeafInfo, ...]
    param_ids: Tuple[int, ...]
    hidden_ids: Tuple[int, ...]
    other_ids: Tuple[int, ...]
    groups: Tuple[Tuple[int, ...], ...]
    hidden_write_pos: Tuple[int, ...]
    ops: Tuple[OpInfo, ...]
    relations: Tuple[ProgramRelation, ...]
    param_status: Tuple[Tuple[int, str, str], ...]       # (leaf, status, reason) per weight leaf read
    immediate_params: Tuple[int, ...]
    direct_weights: bool                                  # every traced op reads its weight leaf as it is
    mixing_groups: Tuple[int, ...]
    mixing_primitives: Tuple[Tuple[int, Tuple[str, ...]], ...]
    feeding_groups: Tuple[int, ...]
    readout_ops: Tuple[int, ...]
    output_groups: Tuple[int, ...]
    positionwise_inputs: Tuple[int, ...]
    recurrent_input_ops: Tuple[int, ...]
    input_avals: Tuple[Any, ...]
    output_avals: Tuple[Any, ...]

    # ------------------------------------------------------------ evaluation
    @property
    def jaxpr(self):
        """The flat step (for :func:`~braintrace_lab.compiler.interpreter.evaluate`)."""
        return self.capture.jaxpr.jaxpr

    @property
    def consts(self):
        return self.capture.jaxpr.consts

    @property
    def n_args(self) -> int:
        return self.capture.n_arg_leaves

    @property
    def n_out(self) -> int:
        return self.capture.n_out_leaves

    @property
    def hidden_outvars(self) -> tuple:
        """The variable holding each hidden leaf's new value, in ``hidden_ids`` order."""
        return tuple(self.leaves[n].outvar for n in self.hidden_ids)

    # ------------------------------------------------------------ reading
    def relation(self, key) -> ProgramRelation:
        """The relation named by a :class:`RelationKey` or its text ``'param@opK->gN'``."""
        want = key if isinstance(key, RelationKey) else RelationKey.parse(key)
        for r in self.relations:
            if r.key == want:
                return r
        raise KeyError(f'no relation {str(want)!r}; relations: {[str(r.key) for r in self.relations]}')

    def explain(self) -> str:
        """The graph's readable report (see :meth:`ETraceGraph.explain`)."""
        return self.graph.explain()

    def to_dict(self):
        """Everything the program knows, as JSON-ready data (the graph's dict under ``'graph'``)."""
        leaves = [{'path': lf.path, 'kind': lf.kind, **_aval_dict(lf.aval), 'write_pos': lf.write_pos}
                  for lf in self.leaves]
        ops = [{'index': op.index, 'kind': op.kind, 'weight_params': list(op.weight_params),
                'weight_direct': list(op.weight_direct), 'groups': list(op.groups),
                'inputs': [_aval_dict(a) for a in op.input_avals],
                'outputs': [_aval_dict(a) for a in op.output_avals]} for op in self.ops]
        return {
            'graph': self.graph.to_dict(),
            'leaves': leaves,
            'param_ids': list(self.param_ids), 'hidden_ids': list(self.hidden_ids),
            'other_ids': list(self.other_ids),
            'groups': [list(g) for g in self.groups],
            'hidden_write_pos': list(self.hidden_write_pos),
            'ops': ops,
            'relations': [r.to_dict() for r in self.relations],
            'param_status': [{'leaf': n, 'status': s, 'reason': why} for n, s, why in self.param_status],
            'immediate_params': list(self.immediate_params),
            'direct_weights': self.direct_weights,
            'mixing_groups': {str(g): list(p) for g, p in self.mixing_primitives},
            'feeding_groups': list(self.feeding_groups),
            'readout_ops': list(self.readout_ops),
            'output_groups': list(self.output_groups),
            'positionwise_inputs': list(self.positionwise_inputs),
            'recurrent_input_ops': list(self.recurrent_input_ops),
            'input_avals': [_aval_dict(a) for a in self.input_avals],
            'output_avals': [_aval_dict(a) for a in self.output_avals],
        }

    def __repr__(self):
        groups = ', '.join(f'g{gi}: {len(g)} state(s) {tuple(self.leaves[self.hidden_ids[g[0]]].aval.shape)}'
                           for gi, g in enumerate(self.groups))
        return (f'Program(groups=[{groups}], ops={len(self.ops)}, '
                f'relations={[str(r.key) for r in self.relations]}, readout_ops={list(self.readout_ops)}, '
                f'output_groups={list(self.output_groups)}, feeding_groups={list(self.feeding_groups)}, '
                f'immediate_params={[self.leaves[self.param_ids[i]].path for i in self.immediate_params]})')


def build_program(cap: StepCapture, an: Analysis, graph: ETraceGraph) -> Program:
    """Assemble the :class:`Program` of an analysed step (runs the derived passes once)."""
    leaves = tuple(an.leaves)
    param_ids = tuple(n for n, lf in enumerate(leaves) if lf.kind == 'param')
    hidden_ids = tuple(an.hidden)
    other_ids = tuple(n for n, lf in enumerate(leaves) if lf.kind == 'other')
    hidden_pos = {n: i for i, n in enumerate(hidden_ids)}
    groups = tuple(tuple(hidden_pos[n] for n in g) for g in an.groups)
    relations = []
    for op in an.ops:
        owners = [p for p in op.weight_params if p is not None]
        if not owners:
            continue
        x_shape = tuple(op.eqn.invars[0].aval.shape) if op.spec.n_inputs else ()
        for gi in op.groups:
            relations.append(ProgramRelation(RelationKey(leaves[owners[0]].state_path, op.index, gi),
                                             op.kind, x_shape))
    rel_ops = {r.op for r in relations}
    param_pos = {n: i for i, n in enumerate(param_ids)}
    jaxpr = cap.jaxpr.jaxpr
    op_eqns = [op.eqn for op in an.ops]
    group_outvars = [[leaves[hidden_ids[i]].outvar for i in g] for g in groups]
    return Program(
        graph=graph, capture=cap, leaves=leaves, param_ids=param_ids, hidden_ids=hidden_ids,
        other_ids=other_ids, groups=groups,
        hidden_write_pos=tuple(leaves[n].write_pos for n in hidden_ids),
        ops=tuple(an.ops), relations=tuple(relations),
        param_status=tuple((n, s, why) for n, (s, why) in an.param_status.items()),
        immediate_params=tuple(param_pos[n] for n, (s, _) in an.param_status.items() if s == 'immediate_only'),
        direct_weights=all(d or p is None for op in an.ops if op.index in rel_ops
                           for d, p in zip(op.weight_direct, op.weight_params)),
        mixing_groups=tuple(an.mixing_groups),
        mixing_primitives=tuple(sorted(an.mixing_primitives.items())),
        feeding_groups=feeding_groups(jaxpr, group_outvars),
        readout_ops=readout_ops(jaxpr, cap.n_out_leaves, len(an.ops), group_outvars),
        output_groups=output_groups(jaxpr, cap.n_out_leaves, group_outvars),
        positionwise_inputs=positionwise_inputs(jaxpr, op_eqns),
        recurrent_input_ops=recurrent_input_ops(jaxpr, [leaves[n].invar for n in hidden_ids], op_eqns),
        input_avals=tuple(v.aval for v in jaxpr.invars[:cap.n_arg_leaves]),
        output_avals=tuple(v.aval for v in jaxpr.outvars[:cap.n_out_leaves]),
    )
