"""The functional step behind every learner: run, cut and differentiate one model step.

Given a compiled program, :class:`StepPlan` evaluates the model step as a pure
function of ``(param leaves, hidden leaves, other state leaves, input leaves)``
and provides the pieces the rules need: the forward values and op operands, the
per-position transition ``D`` of each hidden group (op outputs held fixed, so
recurrent mixing through trainable ops is left out) and ``Df = dh/dy`` of each
relation, both by forward-mode JVPs with all-ones tangents, which are exact
when the cut transition is position-diagonal (the compiler checks the structure).
It analyses nothing itself: every index and structural fact comes from the program.
"""
from __future__ import annotations

import dataclasses
from typing import List

import jax
import jax.numpy as jnp

from ..compiler.interpreter import evaluate
from ..compiler.program import Program
from .coupled import matmul_self_term
from .op_rules import OpRule, rule_for

__all__ = ['StepPlan', 'RelationPlan', 'input_is_positionwise']


@dataclasses.dataclass
class RelationPlan:
    """A relation of the program with the engine attached: ``key`` is the text ``'param@opK->gN'``
    traces are indexed by (``relation_key`` the typed form)."""
    key: str
    param: str
    op: int
    group: int
    rule: OpRule
    x_shape: tuple
    engine: object = None
    relation_key: object = None


def input_is_positionwise(program: Program, op_index: int) -> bool:
    """Whether op ``op_index``'s input is built from the state without mixing positions."""
    return op_index in program.positionwise_inputs


class StepPlan:
    """Pure step functions over one compiled :class:`~braintrace_lab.compiler.program.Program`.

    Every index and derived fact is read from the program; the attributes below are
    copies of its fields, under the names the rules use (``relations`` carry the engines).
    """

    def __init__(self, program: Program):
        if not isinstance(program, Program):
            raise TypeError(f'StepPlan needs the Program that compile_program(model, x0) returns, got '
                            f'{type(program).__name__}.')
        self.program = program
        self.cap = program.capture
        self.jaxpr = program.jaxpr
        self.consts = program.consts
        self.n_args = program.n_args
        self.n_out = program.n_out
        self.leaves = program.leaves
        self.param_ids = list(program.param_ids)
        self.hidden_ids = list(program.hidden_ids)
        self.other_ids = list(program.other_ids)
        self.n_write = sum(t.num_leaves for t in self.cap.write_trees)
        self.hidden_write_pos = list(program.hidden_write_pos)
        self.groups = [list(g) for g in program.groups]
        self.ops = program.ops
        eqns = {op.index: op.eqn for op in program.ops}
        self.relations: List[RelationPlan] = [
            RelationPlan(str(r.key), r.param, r.op, r.group, self._group_rule(rule_for(eqns[r.op]), r.group),
                         r.x_shape, relation_key=r.key) for r in program.relations]
        self.rel_ops = sorted({r.op for r in self.relations})
        self.param_pos = {n: i for i, n in enumerate(self.param_ids)}
        self.direct_weights = program.direct_weights
        self.immediate_params = list(program.immediate_params)
        self.hidden_outvar_index = {v: i for i, v in enumerate(program.hidden_outvars)}
        self.mixing_groups = tuple(program.mixing_groups)
        self.feeding_groups = tuple(program.feeding_groups)

    def _group_rule(self, rule: OpRule, group: int) -> OpRule:
        """``rule`` with the group's shape as its output shape where an element-wise op's output
        broadcasts over the group (a per-unit parameter in a batched layer): the trace is then kept
        per row, as ``Df`` is, and its gradient summed back to the weight."""
        varshape = tuple(self.leaves[self.hidden_ids[self.groups[group][0]]].invar.aval.shape)
        if rule.family == 'elementwise' and rule.out_shape != varshape:
            return dataclasses.replace(rule, out_shape=varshape)
        return rule

    # ---------------------------------------------------------------- values
    def read_state_leaves(self):
        vals = []
        for st in self.cap.states:
            vals.extend(jax.tree.leaves(st.value))
        return vals

    def split(self, state_leaves):
        p = tuple(state_leaves[n] for n in self.param_ids)
        h = tuple(state_leaves[n] for n in self.hidden_ids)
        o = tuple(state_leaves[n] for n in self.other_ids)
        return p, h, o

    def assemble(self, p, h, o, args):
        vals = [None] * len(self.leaves)
        for n, v in zip(self.param_ids, p):
            vals[n] = v
        for n, v in zip(self.hidden_ids, h):
            vals[n] = v
        for n, v in zip(self.other_ids, o):
            vals[n] = v
        return list(args) + vals

    def write_states(self, write_leaves):
        pos = 0
        for st, tree in zip(self.cap.write_states, self.cap.write_trees):
            st.value = jax.tree.unflatten(tree, write_leaves[pos:pos + tree.num_leaves])
            pos += tree.num_leaves

    def hidden_from_writes(self, writes):
        return tuple(writes[i] for i in self.hidden_write_pos)

    # ---------------------------------------------------------------- functions
    def run(self, p, h, o, args, **hooks):
        """Plain evaluation: ``(out leaves, written leaves)``."""
        outs = evaluate(self.jaxpr, self.consts, self.assemble(p, h, o, args), **hooks)
        return outs[:self.n_out], outs[self.n_out:]

    def run_signal(self, p, e, h, o, args, value_hook=None):
        """Evaluation whose new hidden values are ``stop_gradient(h_new) + e``.

        Differentiating the outputs w.r.t. ``e`` gives the part of the learning
        signal that flows through the outputs; w.r.t. ``p`` the direct (readout)
        gradients, with every path through the new hidden state cut. A group whose
        new value feeds another group's new value through an ETP op within the step
        (spikes read by a leaky readout) gets its signal from a second pass that
        keeps those paths (they are in no trace, so nothing is counted twice).
        ``value_hook(var, value, record)`` may rewrite any produced value first.
        """
        index = self.hidden_outvar_index
        sg = jax.lax.stop_gradient
        feeding = self.feeding_groups

        def transform_for(record, live, keep):
            def transform(v, val):
                if value_hook is not None:
                    val = value_hook(v, val, record)
                i = index.get(v)
                if i is None or i in keep:
                    return val
                return sg(val) + (live[i] if i in live else jnp.zeros_like(val))
            return transform

        record = {}
        fed = {i for gi in feeding for i in self.groups[gi]}
        live = {i: e[i] for i in range(len(e)) if i not in fed}
        outs, writes = self.run(p, h, o, args, op_record=record, var_transform=transform_for(record, live, ()))
        outs = tuple(outs)
        for gi in feeding:                       # e of group gi only; other groups' values not cut
            mine = set(self.groups[gi])
            rec = {}
            keep = set(range(len(e))) - mine
            extra, _ = self.run(*sg((p, h, o, args)), op_record=rec,
                                var_transform=transform_for(rec, {i: e[i] for i in mine}, keep))
            outs = tuple(a + (b - sg(b)) for a, b in zip(outs, extra))
        return outs, (tuple(writes), record)

    def transition_derivatives(self, p, h, o, args, record, coupled: bool = False):
        """``D`` per group ``(*varshape, S, S)`` and ``Df`` per relation ``(*varshape, S)``.

        ``coupled=True`` adds to ``D`` the self term through each op (``W_jj`` for a
        recurrent matmul): the per-position block of the full transition.
        """
        ys_all = {k: record[k][1] for k in record}
        rel_ops = self.rel_ops

        def T(hh, ys):
            override = dict(ys_all)
            override.update(dict(zip(rel_ops, ys)))
            _, writes = self.run(p, hh, o, args, op_override=override)
            return self.hidden_from_writes(writes)

        ys0 = tuple(ys_all[k] for k in rel_ops)

        def column(fn, x):
            # one JVP per input with an all-ones tangent and every other input closed over:
            # XLA then sees only the paths from that input (no stacked one-hot tangents to multiply through)
            return jax.jvp(fn, (x,), (jnp.ones_like(x),))[1]

        def with_h(i):
            return lambda v: T(tuple(v if k == i else x for k, x in enumerate(h)), ys0)

        def with_y(j):
            return lambda v: T(tuple(h), tuple(v if k == j else y for k, y in enumerate(ys0)))

        D = []
        for gi, g in enumerate(self.groups):
            if gi in self.mixing_groups:     # states mixed through a non-diagonal op: exact block
                D.append(self._exact_block(lambda hh: T(hh, ys0), h, g, g))
                continue
            cols = []
            for i in g:
                out = column(with_h(i), h[i])
                cols.append(jnp.stack([out[k] for k in g], axis=-1))       # (*vs, S_out)
            D.append(jnp.stack(cols, axis=-1))                             # (*vs, S_out, S_in)
        Df = {}
        for j, k in enumerate(rel_ops):
            out = column(with_y(j), ys0[j])
            for r in self.relations:
                if r.op == k:
                    Df[r.key] = jnp.stack([out[i] for i in self.groups[r.group]], axis=-1)
        if coupled:
            for r in self.relations:
                self_term = self._self_term(r, p, h, o, args, record)            # (*vs, S_in)
                D[r.group] = D[r.group] + Df[r.key][..., :, None] * self_term[..., None, :]
        return D, Df

    def _self_term(self, r, p, h, o, args, record):
        """``dy_j/dh_j`` of relation ``r``'s op for each state of its group (other ops held fixed)."""
        ys_all = {k: v[1] for k, v in record.items()}
        op = next(op for op in self.ops if op.index == r.op)
        if r.rule.family == 'elementwise' and tuple(op.eqn.outvars[0].aval.shape) != r.rule.out_shape:
            # an output broadcast over the group's rows cannot depend on any one row's state: no self term
            h0 = h[self.groups[r.group][0]]
            return jnp.zeros(h0.shape + (len(self.groups[r.group]),), h0.dtype)
        weight = record[r.op][0][op.spec.n_inputs] if op.spec.n_inputs else None
        if (op.spec.kind == 'matmul' and not op.spec.batch_axes and weight is not None and weight.ndim == 2
                and input_is_positionwise(self.program, op.index)):
            def op_input(hh):
                rec = {}
                self.run(p, hh, o, args, op_override=ys_all, op_record=rec)
                return rec[r.op][0][0]
            return jnp.stack([matmul_self_term(op_input, h, i, weight) for i in self.groups[r.group]], axis=-1)
        others = {k: v for k, v in ys_all.items() if k != r.op}

        def Y(hh):
            rec = {}
            self.run(p, hh, o, args, op_override=others, op_record=rec)
            return (rec[r.op][1],)
        return self._exact_block(Y, h, [0], self.groups[r.group])[..., 0, :]

    @staticmethod
    def _exact_block(fn, h, out_ids, in_ids):
        """Per-position diagonal of ``d fn(h)[out] / d h[in]`` as ``(*varshape, S_out, S_in)``."""
        cols = []
        for i in in_ids:
            def f(v, _i=i):
                hh = list(h)
                hh[_i] = v
                return fn(tuple(hh))
            jac = jax.jacfwd(f)(h[i])                      # tuple over outputs, each (*vs, *vs)
            rows = []
            for j in out_ids:
                n = h[i].size
                rows.append(jnp.diagonal(jac[j].reshape(n, n)).reshape(h[i].shape))
            cols.append(jnp.stack(rows, axis=-1))          # (*vs, S_out)
        return jnp.stack(cols, axis=-1)                    # (*vs, S_out, S_in)

    def operands(self, record, op):
        return record[op][0]
