"""``compile_program`` and ``compile_etrace_graph``: trace one step of a model and describe how it
learns online (the :class:`~.program.Program` for the engine, its :class:`ETraceGraph` for users)."""
from __future__ import annotations

import dataclasses

import brainstate
import jax

from ..errors import NotSupportedError
from ..input_data import one_step_example
from .analysis import Analysis, analyse
from .capture import StepCapture, capture_step, state_path_names
from .program import Program, build_program
from .records import Diagnostic, ETraceGraph, HiddenGroup, OpRecord, ParamRecord, Relation

__all__ = ['compile_program', 'compile_etrace_graph', 'find_hidden_groups_from_module',
           'find_hidden_param_op_relations_from_module']


def _shape(v):
    return tuple(v.aval.shape)


def build_records(cap: StepCapture, an: Analysis) -> ETraceGraph:
    leaves = an.leaves
    groups = tuple(
        HiddenGroup(f'g{gi}', tuple(leaves[n].path for n in g), _shape(leaves[g[0]].invar),
                    tuple(an.hidden.index(n) for n in g))
        for gi, g in enumerate(an.groups))
    ops, relations = [], []
    for op in an.ops:
        spec = op.spec
        pnames = [leaves[p].state_path if p is not None else '<constant>' for p in op.weight_params]
        param = pnames[0] if pnames else '<none>'
        in_shape = _shape(op.eqn.invars[0]) if spec.n_inputs else None
        ops.append(OpRecord(op.index, spec.root().kind, param, tuple(spec.weight_names), in_shape,
                            _shape(op.eqn.outvars[0]), tuple(op.into_ops)))
        if all(p is None for p in op.weight_params):
            continue
        for gi in op.groups:
            relations.append(Relation(op.index, param, f'g{gi}', spec.root().kind))
    params = []
    by_state = {}
    for n, (status, reason) in an.param_status.items():
        by_state.setdefault(leaves[n].state_path, []).append((n, status, reason))
    rank = {'traced': 0, 'immediate_only': 1, 'non_temporal': 2, 'unused': 3}
    for spath, items in by_state.items():
        items.sort(key=lambda t: rank[t[1]])
        _, status, reason = items[0]
        rels = tuple(r.key for r in relations if r.param == spath)
        shapes = tuple(_shape(leaves[n].invar) for n, _, _ in sorted(items))
        extra = [f'{leaves[n].path}: {s}' for n, s, _ in items[1:] if s != status]
        if extra:
            reason = reason + ' (leaves differ: ' + '; '.join(extra) + ')'
        params.append(ParamRecord(spath, shapes, status, reason, rels))
    diags = []
    for op in an.ops:
        if all(p is None for p in op.weight_params):
            diags.append(Diagnostic('info', f'op{op.index}', 'its weight is not a ParamState: treated as a constant'))
        for gi in op.shape_mismatch:
            diags.append(Diagnostic('warning', f'op{op.index}',
                                    f'output shape {_shape(op.eqn.outvars[0])} differs from group g{gi} '
                                    f'varshape {groups[gi].varshape}: no trace kept for this path'))
        if op.groups and op.reaches_hidden_through_ops:
            diags.append(Diagnostic('info', f'op{op.index}', 'also reaches hidden states through another op; '
                                                             'that path is left out of its trace'))
    for gi in an.mixing_groups:
        diags.append(Diagnostic('warning', f'g{gi}',
                                f'its transition mixes positions outside any ETP op (through '
                                f'{", ".join(an.mixing_primitives[gi])}); D is taken as the exact diagonal of '
                                f'the Jacobian, which costs one JVP per unit'))
    hidden_states = tuple(leaves[n].path for n in an.hidden)
    others = tuple(dict.fromkeys(lf.state_path for lf in leaves if lf.kind == 'other'))
    return ETraceGraph(groups, tuple(ops), tuple(relations), tuple(params), tuple(diags),
                       hidden_states, others)


# braintrace's compiler options: (default, whether another value can be honoured here)
COMPILER_OPTIONS = {
    'include_hidden_perturb': (True, True),        # the record is the same either way
    'include_output_bypass': (True, False),
    'include_recurrent_mixing': (False, False),
    'sparse_n': (None, False),
    'snap_max_jacobian_elements': (None, True),     # a SnAp budget: nothing to budget here
    'control_flow': (None, False),
}


def split_compiler_options(kwargs):
    """Take braintrace's compiler options out of ``kwargs`` (the rest are model inputs); refuse
    a value this compiler cannot honour instead of passing it to the model."""
    rest = dict(kwargs)
    for name, (default, any_value) in COMPILER_OPTIONS.items():
        if name not in rest:
            continue
        value = rest.pop(name)
        if not any_value and value is not default and value != default:
            raise NotSupportedError(
                f'compiler option {name}={value!r} is not supported by braintrace_lab (only the default '
                f'{default!r}): recurrent mixing is handled exactly per group, SnAp sparsity and control-flow '
                f'policies have no counterpart here. See docs/compatibility.md.')
    return rest


def compile_program(model, *inputs, strict: bool = False, **kwargs) -> Program:
    """Trace ``model(*inputs, **kwargs)`` once and return its compiled :class:`~.program.Program`.

    ``strict=True`` refuses weights that reach a hidden state through plain JAX operations
    (otherwise they get the one-step gradient); braintrace's compiler options are accepted
    where they can be honoured, the other keywords are model inputs.
    """
    if not isinstance(strict, bool):
        raise TypeError(f'strict must be True or False, got {strict!r}.')
    kwargs = split_compiler_options(kwargs)
    inputs, kwargs = one_step_example((inputs, kwargs))     # SingleStepData / MultiStepData examples
    cap = capture_step(model, *inputs, **kwargs)
    names = state_path_names(model)
    an = analyse(cap, names, strict=strict)
    record = build_records(cap, an)
    seen = {id(st) for st in cap.states}
    unused = tuple(ParamRecord(names.get(id(st), '?'), tuple(tuple(jax.numpy.shape(x)) for x in jax.tree.leaves(st.value)),
                               'unused', 'never read by the step: its gradient is zero')
                   for st in model.states(brainstate.ParamState).values() if id(st) not in seen)
    if unused:
        record = dataclasses.replace(record, params=record.params + unused)
    return build_program(cap, an, record)



def compile_etrace_graph(model, *inputs, **kwargs) -> ETraceGraph:
    """Trace one step ``model(*inputs)`` and return its eligibility-trace graph record.

    The record lists hidden groups (states updated together position by
    position), ETP ops, relations ``param -> op -> group`` and, for every weight,
    how it learns and why (``traced``, ``non_temporal`` readout, ``immediate_only``
    for a weight through another weight or through plain JAX operations, ``unused``).
    ``strict=True`` refuses weights that reach a hidden state through plain JAX operations.

    >>> graph = compile_etrace_graph(model, x0)
    >>> print(graph.explain())
    """
    return compile_program(model, *inputs, **kwargs).graph


def find_hidden_groups_from_module(model, *inputs, **options):
    """braintrace's helper: ``(hidden groups, {state path tuple: its group})`` of one step."""
    groups = compile_etrace_graph(model, *inputs, **options).hidden_groups
    return list(groups), {path: g for g in groups for path in g.hidden_paths}


def find_hidden_param_op_relations_from_module(model, *inputs, **options):
    """braintrace's helper: the ``param -> op -> hidden group`` relations of one step (one per op and group)."""
    return list(compile_etrace_graph(model, *inputs, **options).hidden_param_op_relations)
