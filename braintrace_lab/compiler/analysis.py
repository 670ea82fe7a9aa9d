"""Dependency analysis over a captured step: hidden groups, relations, weight status.

Three propagations of bit sets over the flat jaxpr answer every question:

* ``cut``: ETP op outputs start fresh (they carry only their own op bit). A hidden
  output depending on a previous hidden value in this pass is coupled to it
  without passing a trainable op: the two are one hidden group. An op bit reaching
  a hidden output here means ``y -> h`` without another op on the way: a relation.
* ``through``: op bits flow through everything; an op that reaches a hidden state
  only here reaches it through another weight (a GRU reset gate).
* ``plain``: parameter bits flow through everything except ETP weight operands; a
  parameter reaching a hidden output here is a trainable weight the engine
  cannot trace: it gets its one-step (immediate) gradient (``immediate_only``, the
  fix named in its reason), or, with ``strict=True``, the compile is refused.
"""
from __future__ import annotations

import dataclasses
from typing import Dict, List, Optional, Tuple

import brainstate
import numpy as np

from ..errors import CompilationError
from ..ops._primitive import etp_op_p
from .capture import StepCapture
from .derived import bits_of as _bits_of, mixing_groups, or_bits, propagate_bits
from .reverse_mode import check_reverse_mode

__all__ = ['LeafInfo', 'OpInfo', 'Analysis', 'analyse']


@dataclasses.dataclass(frozen=True)
class LeafInfo:
    """One array leaf of a state the step reads (``invar``) and perhaps writes (``outvar``)."""
    state_index: int
    leaf_index: int
    path: str             # dotted state path, plus '.key' for dict leaves
    state_path: str
    kind: str             # 'param' | 'hidden' | 'other'
    invar: object
    outvar: object = None  # jaxpr outvar of its new value (written states only)
    write_pos: Optional[int] = None  # index into the written-state leaves

    @property
    def aval(self):
        """Shape and dtype of the leaf (``aval.shape``, ``aval.dtype``)."""
        return self.invar.aval


@dataclasses.dataclass(frozen=True)
class OpInfo:
    """One ETP op of the step; ``eqn`` is kept for the op rules (they read its operands)."""
    index: int
    eqn: object
    spec: object
    weight_params: Tuple[Optional[int], ...]   # global leaf index of each weight operand's parameter
    weight_direct: Tuple[bool, ...]            # operand var is the parameter leaf itself
    groups: Tuple[int, ...] = ()               # hidden groups reached directly
    reaches_hidden_through_ops: bool = False
    reaches_output: bool = False
    shape_mismatch: Tuple[int, ...] = ()
    into_ops: Tuple[int, ...] = ()             # traced ops whose input it feeds (weight through weight)

    @property
    def kind(self) -> str:
        return self.spec.root().kind

    @property
    def input_avals(self) -> tuple:
        """Avals of the op's operands (inputs, then weights, then the rest)."""
        return tuple(v.aval for v in self.eqn.invars)

    @property
    def output_avals(self) -> tuple:
        return tuple(v.aval for v in self.eqn.outvars)


@dataclasses.dataclass
class Analysis:
    leaves: List[LeafInfo]
    hidden: List[int]                  # leaf indices of hidden leaves, in group-building order
    groups: List[List[int]]            # each a list of leaf indices (into `leaves`)
    ops: List[OpInfo]
    param_status: Dict[int, Tuple[str, str]]   # leaf index -> (status, reason)
    mixing_groups: Tuple[int, ...] = ()        # groups whose cut transition mixes positions
    mixing_primitives: Dict[int, Tuple[str, ...]] = dataclasses.field(default_factory=dict)


def _fits_group(spec, y_shape, h_shape) -> bool:
    """Whether an op's output ``y`` lines up with a hidden group position by position: the same shape,
    or (element-wise ops) a shape that broadcasts to it, as a per-unit parameter ``(H,)`` does over a
    batch ``(B, H)``: each position's ``y`` then feeds the same unit in every row, and the trace is
    kept at the group's shape (``algorithms/step.py``)."""
    if y_shape == h_shape:
        return True
    if spec.root().kind != 'element_wise' or len(y_shape) > len(h_shape):
        return False
    try:
        return np.broadcast_shapes(y_shape, h_shape) == h_shape
    except ValueError:
        return False

def _leaf_key_names(tree, value):
    import jax
    paths = [jax.tree_util.keystr(p, simple=True, separator='.') for p, _ in
             jax.tree_util.tree_flatten_with_path(value)[0]]
    return paths


def analyse(cap: StepCapture, names: Dict[int, str], strict: bool = False) -> Analysis:
    """Classify states, build hidden groups and relations and give every weight its status.

    ``strict=True`` refuses a weight that reaches a hidden state through plain JAX
    operations instead of giving it the one-step (immediate) gradient.
    """
    jaxpr = cap.jaxpr.jaxpr
    write_index = {id(s): j for j, s in enumerate(cap.write_states)}

    # ---- classify every state leaf
    leaves: List[LeafInfo] = []
    write_leaf_base = []
    pos = 0
    for tree in cap.write_trees:
        write_leaf_base.append(pos)
        pos += tree.num_leaves
    for i, st in enumerate(cap.states):
        spath = names.get(id(st), f'state{i}')
        written = id(st) in write_index
        if isinstance(st, brainstate.ParamState):
            if written:
                raise CompilationError(
                    f'ParamState {spath!r} is written inside update(). Weights must only be read '
                    f'during a step (the learner owns their updates); keep running quantities in a '
                    f'brainstate.ShortTermState or HiddenState instead.')
            kind = 'param'
        elif isinstance(st, brainstate.HiddenState) and written:
            kind = 'hidden'
        else:
            kind = 'other'
        leaf_names = _leaf_key_names(cap.state_trees[i], st.value) if cap.state_trees[i].num_leaves > 1 else ['']
        invars = cap.state_invars(i)
        outvars = cap.write_outvars(write_index[id(st)]) if written else [None] * len(invars)
        for li, (iv, ov) in enumerate(zip(invars, outvars)):
            suffix = leaf_names[li] if li < len(leaf_names) else ''
            path = spath + ('.' + suffix if suffix else '')
            wp = write_leaf_base[write_index[id(st)]] + li if written else None
            leaves.append(LeafInfo(i, li, path, spath, kind, iv, ov, wp))

    hidden = [n for n, lf in enumerate(leaves) if lf.kind == 'hidden']
    params = [n for n, lf in enumerate(leaves) if lf.kind == 'param']
    if not hidden:
        raise CompilationError(
            'The model has no HiddenState written during a step, so there is nothing to keep an '
            'eligibility trace for. Store recurrent state in brainstate.HiddenState (for example '
            'brainpy.state.LIF or braintrace_lab.nn cells), and call '
            'brainstate.nn.init_all_states(model) before compiling.')
    check_reverse_mode(jaxpr, {lf.invar: lf.path for lf in leaves if lf.kind in ('param', 'hidden')})

    # ---- pass 1: cut at ETP ops (hidden bits, op bits)
    seeds = {leaves[n].invar: 1 << b for b, n in enumerate(hidden)}
    n_h = len(hidden)
    cut = propagate_bits(jaxpr, seeds, lambda eqn, k, ib: 1 << (n_h + k))

    # union-find over hidden leaves
    parent = list(range(n_h))

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for b, n in enumerate(hidden):
        deps = _bits_of(cut, leaves[n].outvar)
        for b2 in range(n_h):
            if deps >> b2 & 1:
                parent[find(b)] = find(b2)
    roots = {}
    groups: List[List[int]] = []
    for b, n in enumerate(hidden):
        r = find(b)
        if r not in roots:
            roots[r] = len(groups)
            groups.append([])
        groups[roots[r]].append(n)
    group_of = {}
    for gi, g in enumerate(groups):
        shapes = {tuple(leaves[n].invar.aval.shape) for n in g}
        if len(shapes) > 1:
            desc = ', '.join(f'{leaves[n].path} {tuple(leaves[n].invar.aval.shape)}' for n in g)
            raise CompilationError(
                f'Hidden states {desc} are coupled within one step but have different shapes; a '
                f'hidden group needs one shape per position. Give them the same shape, or couple '
                f'them through an ETP op (braintrace_lab.matmul/element_wise).')
        for n in g:
            group_of[n] = gi

    # ---- pass 2: op bits through everything
    through = propagate_bits(jaxpr, {}, lambda eqn, k, ib: or_bits(ib) | (1 << k))
    # ---- pass 3: parameter bits, not through ETP weight operands; pass 4: through everything
    pseeds = {leaves[n].invar: 1 << b for b, n in enumerate(params)}

    def plain_rule(eqn, k, ib):
        n_in = eqn.params['spec'].n_inputs
        out = or_bits(ib[:n_in])
        n_w = eqn.params['spec'].n_weights
        return out | or_bits(ib[n_in + n_w:])

    plain = propagate_bits(jaxpr, pseeds, plain_rule)
    full = propagate_bits(jaxpr, pseeds, lambda eqn, k, ib: or_bits(ib))
    param_bit = {n: b for b, n in enumerate(params)}

    out_vars = jaxpr.outvars[:cap.n_out_leaves]
    other_written = [lf.outvar for lf in leaves if lf.kind != 'hidden' and lf.outvar is not None]

    # ---- ops
    ops: List[OpInfo] = []
    k = 0
    for eqn in jaxpr.eqns:
        if eqn.primitive is not etp_op_p:
            continue
        spec = eqn.params['spec']
        n_in, n_w = spec.n_inputs, spec.n_weights
        wparams, wdirect = [], []
        for v in eqn.invars[n_in:n_in + n_w]:
            b = _bits_of(full, v)
            owners = [n for n in params if b >> param_bit[n] & 1]
            if len(owners) > 1:
                raise CompilationError(
                    f'The weight operand of ETP op {k} ({spec.kind}) mixes parameters '
                    f'{[leaves[n].path for n in owners]}; give each ETP op weight operand exactly one '
                    f'ParamState leaf.')
            wparams.append(owners[0] if owners else None)
            wdirect.append(bool(owners) and v is leaves[owners[0]].invar)
        gset, mismatch = [], []
        y = eqn.outvars[0]
        for n in hidden:
            if _bits_of(cut, leaves[n].outvar) >> (n_h + k) & 1:
                gi = group_of[n]
                if gi in gset or gi in mismatch:
                    continue
                if _fits_group(spec, tuple(y.aval.shape), tuple(leaves[n].invar.aval.shape)):
                    gset.append(gi)
                else:
                    mismatch.append(gi)
        via = any(_bits_of(through, leaves[n].outvar) >> k & 1 for n in hidden)
        reach_out = any(_bits_of(through, v) >> k & 1 for v in out_vars + other_written)
        ops.append(OpInfo(k, eqn, spec, tuple(wparams), tuple(wdirect), tuple(gset),
                          via and not gset, reach_out, tuple(mismatch)))
        k += 1

    # ---- weight through weight: the traced ops whose inputs carry such an op's output
    for i, op in enumerate(ops):
        if op.reaches_hidden_through_ops:
            ops[i] = dataclasses.replace(op, into_ops=tuple(
                o.index for o in ops if o is not op and o.groups and
                any(_bits_of(through, v) >> op.index & 1 for v in o.eqn.invars)))

    # ---- parameter status
    status: Dict[int, Tuple[str, str]] = {}
    for n in params:
        b = 1 << param_bit[n]
        bad = [leaves[h].path for h in hidden if _bits_of(plain, leaves[h].outvar) & b]
        mine = [op for op in ops if n in op.weight_params]
        traced = any(op.groups for op in mine)
        if bad and (strict or traced):
            why = ('compile(..., strict=True) refuses such weights; without it they get the one-step '
                   '(immediate) gradient. ' if not traced else
                   'It is also read by a traced ETP op, and one weight cannot mix a trace with an untraced '
                   'path. ')
            raise CompilationError(
                f'Trainable weight {leaves[n].path!r} reaches hidden state(s) {bad} through plain JAX '
                f'operations, so no eligibility trace can be kept for it. {why}Route it through an ETP op '
                f'(braintrace_lab.matmul / conv / element_wise ...), or, if it should not be trained, '
                f'store it as a constant or a brainstate.State instead of a ParamState.')
        if traced:
            gl = sorted({gi for op in mine for gi in op.groups})
            status[n] = ('traced', f'eligibility trace through op(s) {[op.index for op in mine if op.groups]} '
                                   f'into hidden group(s) {["g%d" % g for g in gl]}')
        elif bad:
            status[n] = ('immediate_only', f'reaches hidden state(s) {", ".join(bad)} through plain JAX '
                                           f'operations (no ETP op), so no eligibility trace can be kept: it '
                                           f'gets the one-step (immediate) gradient only. Route it through an '
                                           f'ETP op such as braintrace_lab.matmul to get a trace')
        elif any(op.shape_mismatch for op in mine):
            status[n] = ('immediate_only', 'its op output does not match the hidden group shape position by '
                                           'position, so only the one-step (immediate) gradient is used')
        elif any(op.reaches_hidden_through_ops for op in mine):
            status[n] = ('immediate_only', 'reaches hidden states only through another trainable op '
                                           '(weight through weight, e.g. a GRU reset gate): it gets the '
                                           'one-step (immediate) gradient, no eligibility trace')
        elif any(_bits_of(full, v) & b for v in out_vars + other_written):
            status[n] = ('non_temporal', 'does not reach any hidden state (a readout): exact gradient '
                                         'of each step loss by ordinary backprop')
        else:
            status[n] = ('unused', 'not used by the step: its gradient is zero')
    group_bits = {gi: sum(1 << hidden.index(n) for n in g) for gi, g in enumerate(groups)}
    mixing = mixing_groups(jaxpr, cut, [leaves[n].outvar for n in hidden], group_bits)
    return Analysis(leaves, hidden, groups, ops, status, tuple(sorted(mixing)), mixing)

