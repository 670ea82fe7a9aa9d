"""Pure NumPy view models behind the widgets: a laid-out ETP graph and trace heatmaps.

Nothing here imports Jupyter: the widgets only ship these dicts and buffers to the
browser, so every number a view shows can be unit-tested here.

* :func:`graph_view_model` lays out parameters -> ops -> hidden groups in three
  columns and attaches, per node, shapes, trace memory and the exactness regime of
  the learning rule for it.
* :func:`trace_heatmap` reduces one relation's eligibility trace to an ``I x O`` map
  of mean magnitudes ``|eps_io| = mean_{b,s} |eps_{b,i,o,s}|`` (for factorised traces
  the magnitude of ``x (x) f``), and :func:`downsample` block-averages it to at most
  ``64 x 64``.

>>> vm = graph_view_model(learner)                # dict: nodes, edges, excluded, ...
>>> heat = trace_heatmap(learner.eligibility_traces()['w@op0->g0'])
"""
from __future__ import annotations

from typing import Dict, Optional

import numpy as np

from ..compiler.records import RelationKey

__all__ = ['graph_view_model', 'exactness_regimes', 'recurrent_input_ops', 'trace_heatmap',
           'downsample', 'heatmap_payload', 'learner_algorithm']


def learner_algorithm(learner) -> str:
    """``'d_rtrl'``, ``'pp_prop'``, ``'bptt'`` or the class name."""
    name = type(learner).__name__
    return {'ParamDimVjpAlgorithm': 'd_rtrl', 'IODimVjpAlgorithm': 'pp_prop', 'BPTT': 'bptt'}.get(name, name)


def recurrent_input_ops(learner) -> Optional[set]:
    """Indices of ETP ops whose input depends on a hidden state of the same step (recurrent mixing).

    The compiler marks every op whose input operand is computed from a hidden state's
    previous value: such an op mixes positions through its weight, which no diagonal
    trace captures. ``None`` when the learner has no compiled step to inspect.
    """
    plan = getattr(learner, '_plan', None)
    program = getattr(plan, 'program', None)
    if program is None:
        return None
    return set(program.recurrent_input_ops)


_RULE = {'d_rtrl': 'D-RTRL', 'pp_prop': 'pp_prop (ES-D-RTRL)', 'bptt': 'BPTT'}


def exactness_regimes(graph, learner=None, algorithm: Optional[str] = None) -> Dict[str, dict]:
    """Per parameter path: ``{'regime': 'exact'|'approximate'|'one-step'|'none', 'text': ...}``."""
    algorithm = algorithm or (learner_algorithm(learner) if learner is not None else 'd_rtrl')
    rule = _RULE.get(algorithm, algorithm)
    mixing = recurrent_input_ops(learner) if learner is not None else None
    decay = getattr(learner, 'decay_or_rank', None)
    out = {}
    for p in graph.params:
        if p.status == 'non_temporal':
            out[p.path] = ('exact', 'exact for every rule: a readout that reaches no hidden state gets the '
                                    'exact gradient of each step loss by ordinary backprop')
        elif p.status == 'immediate_only':
            out[p.path] = ('one-step', f'approximate for every online rule: it {p.reason}')
        elif p.status == 'unused':
            out[p.path] = ('none', 'no gradient: it does not influence the loss')
        elif algorithm == 'bptt':
            out[p.path] = ('exact', 'exact: BPTT differentiates the whole sequence')
        else:
            ops = {int(r.op) for r in graph.relations if r.param == p.path and r.op is not None}
            mixes = None if mixing is None else bool(ops & mixing)
            if mixes:
                out[p.path] = ('approximate', f'approximate with {rule}: the op input carries the hidden '
                                              f'state (recurrent mixing), whose cross-position terms the '
                                              f'trace drops')
            elif algorithm == 'd_rtrl':
                out[p.path] = ('exact', 'exact with D-RTRL (equals BPTT): a position-diagonal transition fed '
                                        'element-wise by its op' + ('' if mixes is not None else
                                                                     ' (assumed: structure not inspected)'))
            elif algorithm == 'pp_prop' and isinstance(decay, int) and not isinstance(decay, bool):
                out[p.path] = ('approximate', f'approximate with pp_prop rank {decay}: the D-RTRL trace '
                                              f'truncated to its top {decay} singular modes (exact when '
                                              f'rank >= min(I, O S))')
            elif algorithm == 'pp_prop':
                a = f' {decay:g}' if isinstance(decay, float) else ''
                out[p.path] = ('approximate', f'approximate with pp_prop: input and output factors are '
                                              f'leaked separately with decay{a}; the trace keeps only an '
                                              f'outer product of them')
            else:
                out[p.path] = ('approximate', f'online estimate of {rule}')
    return {k: {'regime': r, 'text': t} for k, (r, t) in out.items()}


def _shapes(tree):
    import jax
    return [list(np.shape(getattr(x, 'mantissa', x))) for x in jax.tree.leaves(tree)]


def graph_view_model(learner_or_graph, algorithm: Optional[str] = None) -> dict:
    """JSON-ready layout of an ETP graph (params | ops | hidden groups, plus an output node).

    Node ``x`` is the column (0, 1, 2), ``y`` in ``[0, 1]``; each node carries ``details``.
    """
    learner = None if hasattr(learner_or_graph, 'to_dict') and hasattr(learner_or_graph, 'relations') \
        else learner_or_graph
    graph = learner_or_graph if learner is None else learner.graph
    if graph is None:
        raise ValueError(f'{type(learner).__name__} has no ETP graph (BPTT keeps none, or the learner '
                         f'is not compiled: call compile_graph(x0) first).')
    algorithm = algorithm or (learner_algorithm(learner) if learner is not None else None)
    regimes = exactness_regimes(graph, learner, algorithm)
    memory = learner.trace_memory() if learner is not None else {}
    traces = learner.eligibility_traces() if learner is not None else {}
    nodes, edges = [], []

    def column(items, x):
        n = len(items)
        for i, node in enumerate(items):
            node['x'], node['y'] = x, (i + 1) / (n + 1)
            nodes.append(node)

    params = []
    for p in graph.params:
        rels = list(p.relations)
        params.append({'id': f'param:{p.path}', 'kind': 'param', 'label': p.path, 'status': p.status,
                       'details': {'name': p.path, 'kind': 'parameter', 'status': p.status, 'reason': p.reason,
                                   'shapes': [list(s) for s in p.shapes], 'relations': rels,
                                   'trace_memory_bytes': int(memory.get(p.path, 0)),
                                   'trace_shapes': {k: _shapes(traces[k]) for k in rels if k in traces},
                                   'regime': regimes[p.path]['regime'], 'regime_text': regimes[p.path]['text']}})
    column(params, 0)
    column([{'id': f'op:{o.index}', 'kind': 'op', 'label': o.name, 'status': '',
             'details': {'name': o.name, 'kind': 'op', 'op_kind': o.kind, 'param': o.param,
                         'weight_leaves': list(o.weight_leaves), 'input_shape': o.input_shape and list(o.input_shape),
                         'output_shape': list(o.output_shape),
                         'reaches_state_through': [f'op{j}' for j in getattr(o, 'into_ops', ())]}}
            for o in graph.ops], 1)
    groups = []
    for g in graph.groups:
        rels = [r.key for r in graph.relations if r.group == g.name]
        groups.append({'id': f'group:{g.name}', 'kind': 'group', 'label': f'{g.name}: {", ".join(g.states)}',
                       'status': '', 'details': {'name': g.name, 'kind': 'hidden group', 'states': list(g.states),
                                                 'varshape': list(g.varshape), 'num_states': g.num_states,
                                                 'relations': rels,
                                                 'trace_memory_bytes': int(sum(
                                                     memory.get(r.param, 0) for r in graph.relations
                                                     if r.group == g.name))}})
    groups.append({'id': 'output', 'kind': 'output', 'label': 'output / loss', 'status': '',
                   'details': {'name': 'output', 'kind': 'output',
                               'readouts': [p.path for p in graph.params if p.status == 'non_temporal']}})
    column(groups, 2)
    status = {p.path: p.status for p in graph.params}
    traced_ops = {r.op for r in graph.relations}
    for o in graph.ops:
        edges.append({'source': f'param:{o.param}', 'target': f'op:{o.index}', 'kind': status.get(o.param, '')})
        if o.index in traced_ops:
            continue
        st = status.get(o.param)
        if st == 'non_temporal':
            edges.append({'source': f'op:{o.index}', 'target': 'output', 'kind': 'readout'})
        elif st == 'immediate_only' and getattr(o, 'into_ops', ()):   # weight through weight: into another op
            for j in o.into_ops:
                edges.append({'source': f'op:{o.index}', 'target': f'op:{j}', 'kind': 'immediate'})
        elif st == 'immediate_only':
            for g in graph.groups:
                edges.append({'source': f'op:{o.index}', 'target': f'group:{g.name}', 'kind': 'immediate'})
    for r in graph.relations:
        edges.append({'source': f'op:{r.op}', 'target': f'group:{r.group}', 'kind': 'relation', 'key': r.key})
    for g in graph.groups:
        edges.append({'source': f'group:{g.name}', 'target': 'output', 'kind': 'hidden'})
    return {'algorithm': algorithm or '', 'nodes': nodes, 'edges': edges,
            'excluded': [{'param': p.path, 'status': p.status, 'reason': p.reason} for p in graph.excluded],
            'diagnostics': [d.to_dict() for d in graph.diagnostics],
            'summary': f'{len(graph.groups)} hidden group(s), {len(graph.ops)} ETP op(s), '
                       f'{len(graph.relations)} relation(s), {len(graph.excluded)} weight(s) without a trace'}


# ---------------------------------------------------------------------------- traces
def _np(x):
    return np.abs(np.asarray(getattr(x, 'mantissa', x), dtype=np.float32))


def _to_2d(a: np.ndarray) -> np.ndarray:
    if a.ndim == 0:
        return a.reshape(1, 1)
    if a.ndim == 1:
        return a[None, :]
    return a.reshape(-1, a.shape[-2], a.shape[-1]).mean(0)


def trace_heatmap(trace: dict, op_kind: str = '') -> np.ndarray:
    """Mean magnitude of one relation's trace as a 2-D float32 map (inputs x outputs).

    * full trace ``w (..., I, O, S)``: ``mean_{..., s} |w|`` (sparse ops: ``(..., nnz, S)``
      gives one row of ``nnz`` values);
    * factorised ``x (..., I)``, ``f (..., O, S)``: ``mean_{...} |x_i| mean_s |f_os|``;
    * low-rank ``u (..., I, r)``, ``v (..., r, O, S)``: ``|u v|`` averaged likewise;
    * element-wise ``ew (..., O, S)`` and anything else: the magnitude folded to 2-D.

    >>> trace_heatmap({'x': np.ones((2, 3)), 'f': np.ones((2, 4, 1))}).shape
    (3, 4)
    """
    if 'w' in trace and 'sparse' in op_kind:
        w = _np(trace['w']).mean(-1)
        return w.reshape(-1, w.shape[-1]).mean(0)[None, :]
    if 'w' in trace and np.ndim(_np(trace['w'])) >= 3:
        m = _np(trace['w']).mean(-1)
        return m.reshape(-1, m.shape[-2], m.shape[-1]).mean(0)
    if 'x' in trace and 'f' in trace:
        x = _np(trace['x'])
        x = x.reshape(-1, x.shape[-1])
        f = _np(trace['f']).mean(-1)
        f = f.reshape(x.shape[0], -1)
        return np.einsum('ni,no->io', x, f) / x.shape[0]
    if 'u' in trace and 'v' in trace:
        u, v = np.asarray(trace['u'], np.float32), np.asarray(trace['v'], np.float32)
        full = np.abs(np.einsum('...ik,...kos->...ios', u, v)).mean(-1)
        return full.reshape(-1, full.shape[-2], full.shape[-1]).mean(0)
    if 'ew' in trace:
        return _to_2d(_np(trace['ew']).mean(-1))
    import jax
    leaves = sorted(jax.tree.leaves(trace), key=lambda a: -np.size(a))
    return _to_2d(_np(leaves[0])) if leaves else np.zeros((1, 1), np.float32)


def downsample(a: np.ndarray, max_size: int = 64) -> np.ndarray:
    """Block-average ``a`` so that neither side exceeds ``max_size`` (float32, C order)."""
    a = np.asarray(a, np.float32)
    if a.ndim != 2:
        a = _to_2d(a)
    for axis in (0, 1):
        n = a.shape[axis]
        if n > max_size:
            k = int(np.ceil(n / max_size))
            pad = (-n) % k
            widths = [(0, 0), (0, 0)]
            widths[axis] = (0, pad)
            padded = np.pad(a, widths, mode='edge')
            shape = list(padded.shape)
            shape[axis:axis + 1] = [shape[axis] // k, k]
            a = padded.reshape(shape).mean(axis=axis + 1)
    return np.ascontiguousarray(a, dtype=np.float32)


def heatmap_payload(traces: dict, max_size: int = 64, op_kinds: Optional[dict] = None):
    """``(panels, buffer)``: per relation ``{key, param, rows, cols, offset, vmax}`` and float32 bytes.

    ``op_kinds`` maps relation keys to their op kind (sparse ops need it).
    """
    panels, chunks, offset = [], [], 0
    op_kinds = op_kinds or {}
    for key in sorted(traces):
        h = downsample(trace_heatmap(traces[key], op_kinds.get(key, '')), max_size)
        vmax = float(np.max(h)) if h.size else 0.0
        panels.append({'key': key, 'param': RelationKey.param_of(key), 'rows': int(h.shape[0]),
                       'cols': int(h.shape[1]), 'offset': offset, 'vmax': vmax if np.isfinite(vmax) else 0.0})
        chunks.append(h.tobytes())
        offset += h.size
    return panels, b''.join(chunks)
