"""Plain, inspectable records of a compiled eligibility-trace graph."""
from __future__ import annotations

import dataclasses
import re
from typing import Optional, Tuple

__all__ = ['RelationKey', 'HiddenGroup', 'OpRecord', 'Relation', 'ParamRecord', 'Diagnostic', 'ETraceGraph']

_KEY = re.compile(r'^(?P<param>[^@]+?)(?:@op(?P<op>\d+))?->g(?P<group>\d+)$')


@dataclasses.dataclass(frozen=True, order=True)
class RelationKey:
    """The typed name of a relation ``param -> op -> hidden group``.

    ``str(key)`` is the text traces are indexed by, ``'param@opK->gN'`` (``'param->gN'``
    when no op is named); :meth:`parse` reads it back.

    >>> str(RelationKey('cell.W', 0, 1))
    'cell.W@op0->g1'
    >>> RelationKey.parse('cell.W@op0->g1').group
    1
    """
    param: str
    op: Optional[int]
    group: int

    def __str__(self) -> str:
        if self.op is None:
            return f'{self.param}->g{self.group}'
        return f'{self.param}@op{self.op}->g{self.group}'

    @property
    def group_name(self) -> str:
        return f'g{self.group}'

    @classmethod
    def parse(cls, text: str) -> 'RelationKey':
        """The key written as ``'param@opK->gN'`` (or ``'param->gN'``)."""
        m = _KEY.match(str(text))
        if m is None:
            raise ValueError(f'{text!r} is not a relation key; relation keys read \'param@opK->gN\', for '
                             f'example \'cell.W@op0->g0\' (see learner.graph.relations for the valid ones).')
        op = m.group('op')
        return cls(m.group('param'), None if op is None else int(op), int(m.group('group')))

    @classmethod
    def param_of(cls, text: str) -> str:
        """The parameter named by a trace key: a relation key's ``param``, any other key as it is."""
        try:
            return cls.parse(text).param
        except ValueError:
            return str(text)


def _shape(s):
    return list(s) if s is not None else None


@dataclasses.dataclass(frozen=True)
class HiddenGroup:
    """Hidden states updated together, position by position: shape ``(*varshape, S)``."""
    name: str
    states: Tuple[str, ...]          # dotted state paths (one per hidden leaf)
    varshape: Tuple[int, ...]
    leaf_ids: Tuple[int, ...]        # indices into the list of hidden leaves

    @property
    def num_states(self) -> int:
        return len(self.states)

    # braintrace's names
    @property
    def num_state(self) -> int:
        return len(self.states)

    @property
    def index(self) -> int:
        return int(self.name[1:])

    @property
    def hidden_paths(self) -> Tuple[Tuple[str, ...], ...]:
        """The states' paths as key tuples, e.g. ``('neuron', 'V')``."""
        return tuple(tuple(p.split('.')) for p in self.states)

    def to_dict(self):
        return {'name': self.name, 'states': list(self.states), 'varshape': _shape(self.varshape),
                'num_states': self.num_states}


@dataclasses.dataclass(frozen=True)
class OpRecord:
    """One ETP op found in the jaxpr."""
    index: int
    kind: str
    param: str                       # dotted ParamState path
    weight_leaves: Tuple[str, ...]   # names of the trainable operands ('weight', 'bias' ...)
    input_shape: Optional[Tuple[int, ...]]
    output_shape: Tuple[int, ...]
    into_ops: Tuple[int, ...] = ()   # an op reaching the hidden state only through these traced ops' inputs

    @property
    def name(self):
        return f'op{self.index}:{self.kind}'

    def to_dict(self):
        return {'index': self.index, 'name': self.name, 'kind': self.kind, 'param': self.param,
                'weight_leaves': list(self.weight_leaves), 'input_shape': _shape(self.input_shape),
                'output_shape': _shape(self.output_shape), 'into_ops': list(self.into_ops)}


@dataclasses.dataclass(frozen=True)
class Relation:
    """parameter -> op -> hidden group: the unit an eligibility trace is kept for."""
    op: int
    param: str
    group: str
    op_kind: str

    @property
    def typed_key(self) -> RelationKey:
        return RelationKey(self.param, self.op, int(self.group[1:]))

    @property
    def key(self) -> str:
        return str(self.typed_key)

    def to_dict(self):
        return {'key': self.key, 'op': self.op, 'param': self.param, 'group': self.group,
                'op_kind': self.op_kind}


@dataclasses.dataclass(frozen=True)
class ParamRecord:
    """How one ParamState learns: ``status`` is 'traced', 'non_temporal', 'immediate_only' or 'unused'."""
    path: str
    shapes: Tuple[Tuple[int, ...], ...]
    status: str
    reason: str
    relations: Tuple[str, ...] = ()

    def to_dict(self):
        return {'path': self.path, 'shapes': [list(s) for s in self.shapes], 'status': self.status,
                'reason': self.reason, 'relations': list(self.relations)}


@dataclasses.dataclass(frozen=True)
class Diagnostic:
    level: str      # 'info' | 'warning'
    subject: str
    message: str

    def to_dict(self):
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class ETraceGraph:
    """The compiled graph: hidden groups, ETP ops, relations and how every weight learns.

    ``explain()`` gives a readable report; ``to_dict()`` a JSON-ready dict (the
    graph widget renders it).
    """
    groups: Tuple[HiddenGroup, ...]
    ops: Tuple[OpRecord, ...]
    relations: Tuple[Relation, ...]
    params: Tuple[ParamRecord, ...]
    diagnostics: Tuple[Diagnostic, ...]
    hidden_states: Tuple[str, ...]
    other_states: Tuple[str, ...]

    # braintrace's names for the same records (its relations are per op; these are per op and group)
    @property
    def hidden_groups(self) -> Tuple[HiddenGroup, ...]:
        return self.groups

    @property
    def hidden_param_op_relations(self) -> Tuple[Relation, ...]:
        return self.relations

    def dict(self):
        """braintrace's name for :meth:`to_dict`."""
        return self.to_dict()

    @property
    def excluded(self) -> Tuple[ParamRecord, ...]:
        """Weights that get no eligibility trace (with the reason), readouts included."""
        return tuple(p for p in self.params if p.status != 'traced')

    def param(self, path: str) -> ParamRecord:
        for p in self.params:
            if p.path == path:
                return p
        raise KeyError(f'no parameter {path!r}; parameters: {[p.path for p in self.params]}')

    def to_dict(self):
        return {
            'hidden_groups': [g.to_dict() for g in self.groups],
            'ops': [o.to_dict() for o in self.ops],
            'relations': [r.to_dict() for r in self.relations],
            'params': [p.to_dict() for p in self.params],
            'excluded': [{'param': p.path, 'status': p.status, 'reason': p.reason} for p in self.excluded],
            'diagnostics': [d.to_dict() for d in self.diagnostics],
            'hidden_states': list(self.hidden_states),
            'other_states': list(self.other_states),
        }

    def explain(self) -> str:
        lines = [f'ETraceGraph: {len(self.groups)} hidden group(s), {len(self.ops)} ETP op(s), '
                 f'{len(self.relations)} relation(s)']
        for g in self.groups:
            lines.append(f'  group {g.name}: states {", ".join(g.states)}; varshape {tuple(g.varshape)}, '
                         f'{g.num_states} state(s) per position')
        for r in self.relations:
            lines.append(f'  relation {r.param} -> op{r.op} ({r.op_kind}) -> {r.group}')
        for p in self.params:
            lines.append(f'  param {p.path}: {p.status} - {p.reason}')
        for d in self.diagnostics:
            lines.append(f'  {d.level}: {d.subject}: {d.message}')
        return '\n'.join(lines)

    def __repr__(self):
        return (f'ETraceGraph(groups={[g.name for g in self.groups]}, '
                f'relations={[r.key for r in self.relations]}, '
                f'excluded={[p.path for p in self.excluded]})')
