"""``ETraceAlgorithm``: a model wrapped so that ``grad`` of a step loss is the online gradient.

Use it exactly like the model, inside ``brainstate.transform.grad``::

    learner = D_RTRL(model)
    learner.compile_graph(x0)
    grads = brainstate.transform.grad(lambda: loss(learner(x), y), weights)()

Each call advances the model one step, updates the eligibility traces and, under
``grad``, returns for every traced weight ``sum_s dL/dh . eps`` (the learning
signal ``dL/dh^t`` times the trace), for a readout its exact gradient, and for a
weight reached only through another weight its one-step gradient.
"""
from __future__ import annotations

from typing import Dict, Optional

import brainstate
import jax
import jax.numpy as jnp
import numpy as np

from ..compiler.graph import compile_graph_internal
from ..errors import NotCompiledError
from ..input_data import single_step_inputs, window_inputs
from .batch_sum import batch_total, called_under_shared_vmap, summing_over_batch
from .engines import trace_nbytes
from .op_rules import rule_for
from .options import check_options
from .reset import ResettableLearner
from .sequence import LearnerDrivers
from .step import StepPlan

__all__ = ['ETraceAlgorithm', 'EligibilityTrace', 'ETraceVjpAlgorithm']


class EligibilityTrace(brainstate.ShortTermState):
    """The eligibility traces of a learner, one pytree per relation."""


class LearningSignal(brainstate.ShortTermState):
    """The last learning signal ``dL/dh`` recorded by a sequence driver."""


def _zero_cotangent(x):
    dt = jnp.result_type(x)
    if not jnp.issubdtype(dt, jnp.inexact):
        return np.zeros(np.shape(x), dtype=jax.dtypes.float0)
    return jnp.zeros(np.shape(x), dt)


class ETraceAlgorithm(ResettableLearner, LearnerDrivers, brainstate.nn.Module):
    """Base of every online learner: compile a model's graph, then step it online.

    Subclasses choose a trace engine per relation (:meth:`make_engine`) and may
    change the learning signal (:meth:`learning_signal`). Unknown keyword options are
    refused with the valid ones listed; ``brainstate.nn.init_all_states(learner)``,
    ``reset_all_states(learner)`` and :meth:`init_etrace_state` reset the traces with
    the model's states, so a reset learner computes what a fresh one does.
    """

    display_name = 'online rule'

    def __new__(cls, *args, **kwargs):
        check_options(cls, kwargs)
        return super().__new__(cls)
    vjp_methods = ('single-step', 'multi-step')
    coupled_transition = False   # True: D includes the per-position self term through ops (OSTL)
    batch_totals = True          # under grad(vmap(...)) return batch totals for shared weights (batch_sum.py)
    defers_products = True       # its step can leave weight products to etrace_grad(chunk=K) (chunked.py)
    runner_needs = None          # what each step needs that the lab's runner does not feed (rules_table.py)

    def __init__(self, model, name: Optional[str] = None, vjp_method: str = 'single-step',
                 trace_dtype=None):
        super().__init__(name=name)
        if not isinstance(model, brainstate.nn.Module):
            raise TypeError(f'{type(self).__name__} needs a brainstate.nn.Module, got {type(model).__name__}.')
        if vjp_method not in self.vjp_methods:
            raise ValueError(f'vjp_method={vjp_method!r} is not valid; choose one of {self.vjp_methods} '
                             f"('multi-step' takes a window of inputs with a leading time axis).")
        self.model = model
        self.vjp_method = vjp_method
        self.trace_dtype = trace_dtype
        self._plan: Optional[StepPlan] = None
        self.graph = None
        self._step_variants = {}
        self._deferred = frozenset()

    # ------------------------------------------------------------------ compile
    def make_engine(self, relation):
        raise NotImplementedError

    def compile_graph(self, *inputs, **kwargs):
        """Trace one step on example inputs (one time step, as ``learner(x)`` will get them)."""
        compiled = compile_graph_internal(self.model, *inputs, **kwargs)
        plan = StepPlan(compiled)
        self.validate_graph(compiled.record, plan)
        traces = {}
        for rel in plan.relations:
            rel.engine = self.make_engine(rel)
            S = len(plan.groups[rel.group])
            dtype = self.trace_dtype or plan.leaves[plan.hidden_ids[plan.groups[rel.group][0]]].invar.aval.dtype
            traces[rel.key] = rel.engine.init(rel.rule, S, rel.x_shape, dtype)
        self._plan = plan
        self.graph = compiled.record
        self.etrace = EligibilityTrace(traces)
        hidden_avals = [plan.leaves[n].invar.aval for n in plan.hidden_ids]
        self.signal_probe = brainstate.ShortTermState(tuple(jnp.zeros(a.shape, a.dtype) for a in hidden_avals))
        self.last_signal = LearningSignal(tuple(jnp.zeros(a.shape, a.dtype) for a in hidden_avals))
        # set by etrace_grad(chunk=K) for immediate-only ops it sums itself (chunked.py)
        self.op_probe = brainstate.ShortTermState(())
        self.op_inputs = brainstate.ShortTermState(())
        self._step_fn = self._build_step()
        self._step_variants = {}      # (batch totals, deferred products) -> step, built on first use
        self._remember_start()
        return self.graph

    def validate_graph(self, record, plan):
        """Hook for rules that cannot express some graphs (raise a clear error)."""

    def learning_signal(self, g, cot_out, plan):
        """Map the backpropagated ``dL/dh`` (per hidden leaf) to the signal the rule uses."""
        return g

    # ------------------------------------------------------------------ the step
    def _check_inputs(self, inputs, kwargs, window=False):
        plan = self._plan
        if plan is None:
            raise NotCompiledError(f'{type(self).__name__} was called before compile_graph(); call '
                                   f'learner.compile_graph(x0) with one example input first.')
        who = type(self).__name__
        unmark = window_inputs if window else single_step_inputs     # SingleStepData / MultiStepData
        inputs, kwargs = unmark((inputs, kwargs), who)
        leaves, tree = jax.tree.flatten((inputs, kwargs))
        if tree != plan.cap.in_tree:      # the message names a unit that differs (mA for A)
            raise ValueError(f'{who}: {plan.cap.input_mismatch((inputs, kwargs))}')
        want = [v.aval for v in plan.jaxpr.invars[:plan.n_args]]
        out = []
        for i, (x, a) in enumerate(zip(leaves, want)):
            xm = x.mantissa if hasattr(x, 'mantissa') else x
            shape = tuple(np.shape(xm))
            expect = tuple(a.shape)
            if window:
                if len(shape) != len(expect) + 1 or shape[1:] != expect:
                    raise ValueError(f'{type(self).__name__} (multi-step): input {i} has shape {shape}; '
                                     f'expected (window, {", ".join(map(str, expect))}).')
            elif shape != expect:
                raise ValueError(f'{type(self).__name__}: input {i} has shape {shape}, but the graph '
                                 f'was compiled for {expect}. Compile with an input of the shape you '
                                 f'will call with (one time step).')
            out.append(jnp.asarray(xm, dtype=a.dtype))
        return out

    def _build_step(self, summed: bool = False, deferred=frozenset()):
        """The online step as a ``custom_vjp`` function.

        ``summed=True`` builds the variant used under ``grad(vmap(learner))`` with
        shared weights: its backward pass returns batch totals for the weights
        (see :mod:`.batch_sum`), so trace contractions accumulate over the batch
        instead of writing out a weight-sized product per sample.
        ``deferred`` names what a sequence driver adds itself (``etrace_grad(chunk=K)``):
        relation keys (``str``), whose trace gradient the backward pass leaves out, and
        indices of immediate-only dense ops (``int``), whose weights get no one-step
        gradient here; instead the step returns each such op's input ``x`` as a fourth
        output and its output cotangent ``dy`` as the cotangent of a second probe
        (``probe = (signal probe, op probe)``), and the driver adds ``x^T dy``.
        """
        plan = self._plan
        algo = self
        imm_ops = tuple(sorted(k for k in deferred if isinstance(k, int)))
        op_rules = {op.index: rule_for(op.eqn) for op in plan.ops if op.index in imm_ops}

        def op_inputs(record):
            return tuple(op_rules[k].input_factor(record[k][0]) for k in imm_ops)

        def forward_parts(p, h, o, args, traces):
            e0 = tuple(jnp.zeros_like(x) for x in h)
            outs, vjp_signal, (writes, record) = jax.vjp(
                lambda pp, ee: plan.run_signal(pp, ee, h, o, args), p, e0, has_aux=True)
            D, Df = plan.transition_derivatives(p, h, o, args, record, coupled=algo.coupled_transition)
            # computed once per step: keep XLA from fusing (recomputing) them into every trace element
            D, Df = jax.lax.optimization_barrier((D, Df))
            new_traces = {}
            for rel in plan.relations:
                canon = rel.rule.canonical        # a conv's channel axis last (identity otherwise)
                new_traces[rel.key] = rel.engine.update(traces[rel.key], rel.rule, record[rel.op][0],
                                                        canon(D[rel.group], 2), canon(Df[rel.key], 1))
            return outs, writes, new_traces, record, vjp_signal

        @jax.custom_vjp
        def online_step(p, probe, h, o, args, traces):
            outs, writes, new_traces, record, _ = forward_parts(p, h, o, args, traces)
            return outs, writes, new_traces, op_inputs(record)

        def fwd(p, probe, h, o, args, traces):
            outs, writes, new_traces, record, vjp_signal = forward_parts(p, h, o, args, traces)
            operands = {k: record[k][0] for k in plan.rel_ops}
            vjp_weights = None
            if not plan.direct_weights:
                def weight_operands(pp):
                    rec = {}
                    plan.run(pp, h, o, args, op_record=rec)
                    return {k: rec[k][0][plan.ops[k].spec.n_inputs:plan.ops[k].spec.n_inputs
                                                   + plan.ops[k].spec.n_weights] for k in plan.rel_ops}
                _, vjp_weights = jax.vjp(weight_operands, p)
            vjp_immediate = None
            if plan.immediate_params or imm_ops:
                # deferred ops' outputs are inputs here: their weights get nothing, their outputs dy
                def new_hidden(pp, ys):
                    _, new_writes = plan.run(pp, h, o, args, op_override=dict(zip(imm_ops, ys)))
                    return plan.hidden_from_writes(new_writes)
                _, vjp_immediate = jax.vjp(new_hidden, p, tuple(record[k][1] for k in imm_ops))
            zeros = jax.tree.map(_zero_cotangent, (h, o, args, traces))
            res = (vjp_signal, vjp_weights, vjp_immediate, new_traces, operands, p, zeros,
                   (h, args) if summed else None)
            return (outs, writes, new_traces, op_inputs(record)), res

        def bwd(res, cots):
            if not summed:
                return bwd_parts(res, cots)
            with summing_over_batch():
                cot_p, *rest = bwd_parts(res, cots)
            refs = res[-1]       # the per-sample (batched) step operands
            totals = tuple(c if getattr(c, 'dtype', None) == jax.dtypes.float0 else batch_total(c, refs)
                           for c in cot_p)
            return (totals, *rest)

        def bwd_parts(res, cots):
            vjp_signal, vjp_weights, vjp_immediate, new_traces, operands, p, zeros, _ = res
            cot_out, cot_writes = cots[:2]
            cot_p, g_out = vjp_signal(tuple(cot_out))
            g = tuple(a + cot_writes[i] for a, i in zip(g_out, plan.hidden_write_pos))
            g = algo.learning_signal(g, cot_out, plan)
            cot_p = list(cot_p)
            op_cots = {}
            for rel in plan.relations:
                if rel.key in deferred:
                    continue
                gs = rel.rule.canonical(jnp.stack([g[i] for i in plan.groups[rel.group]], axis=-1), 1)
                cots_w = rel.engine.grads(new_traces[rel.key], rel.rule, operands[rel.op], gs)
                acc = op_cots.setdefault(rel.op, [None] * len(cots_w))
                for j, c in enumerate(cots_w):
                    if c is not None:
                        acc[j] = c if acc[j] is None else acc[j] + c
            if plan.direct_weights:
                for op in plan.ops:
                    if op.index not in op_cots:
                        continue
                    for j, (pid, c) in enumerate(zip(op.weight_params, op_cots[op.index])):
                        if pid is None or c is None:
                            continue
                        i = plan.param_pos[pid]
                        cot_p[i] = cot_p[i] + c.astype(cot_p[i].dtype)
            else:
                full = {}
                for op in plan.ops:
                    if op.index not in plan.rel_ops:
                        continue
                    n_in = op.spec.n_inputs
                    wvals = operands[op.index][n_in:n_in + op.spec.n_weights]
                    got = op_cots.get(op.index, [None] * len(wvals))
                    full[op.index] = tuple(jnp.zeros_like(v) if c is None else c.astype(v.dtype)
                                           for v, c in zip(wvals, got))
                (chain,) = vjp_weights(full)
                cot_p = [a + b for a, b in zip(cot_p, chain)]
            op_cots = ()
            if vjp_immediate is not None:
                imm, op_cots = vjp_immediate(g)
                for i in plan.immediate_params:
                    cot_p[i] = cot_p[i] + imm[i]
            h0, o0, a0, t0 = zeros
            probe_cot = (tuple(g), tuple(op_cots)) if imm_ops else tuple(g)
            return tuple(cot_p), probe_cot, h0, o0, a0, t0

        online_step.defvjp(fwd, bwd)
        self._forward_parts = forward_parts
        return online_step

    def _step_for(self, p, per_sample):
        """The step variant for this call: batch totals under ``vmap`` with shared weights,
        and without the weight gradients a chunking driver sums itself."""
        summed = bool(self.batch_totals and called_under_shared_vmap(p, per_sample))
        if not summed and not self._deferred:
            return self._step_fn
        key = (summed, self._deferred)
        if key not in self._step_variants:
            self._step_variants[key] = self._build_step(summed=summed, deferred=self._deferred)
        return self._step_variants[key]

    def update(self, *inputs, **kwargs):
        """One online step (or, with ``vjp_method='multi-step'``, one window of steps)."""
        if self.vjp_method == 'multi-step':
            return self._update_window(*inputs, **kwargs)
        args = self._check_inputs(inputs, kwargs)
        plan = self._plan
        p, h, o = plan.split(plan.read_state_leaves())
        step = self._step_for(p, (h, args))
        imm_ops = any(isinstance(k, int) for k in self._deferred)
        probe = (self.signal_probe.value, self.op_probe.value) if imm_ops else self.signal_probe.value
        outs, writes, new_traces, *op_inputs = step(p, probe, h, o, tuple(args), self.etrace.value)
        plan.write_states(list(writes))
        self.etrace.value = new_traces
        if imm_ops:
            self.op_inputs.value = op_inputs[0]
        return jax.tree.unflatten(plan.cap.out_tree, list(outs))

    def _update_window(self, *inputs, **kwargs):
        """First step through the online step; the rest of the window by ordinary backprop.

        The gradient is exact BPTT inside the window plus, at its first step, the
        learning signal of the whole window contracted with the rule's trace, which
        carries everything before the window. Traces are updated at every step.
        """
        args = self._check_inputs(inputs, kwargs, window=True)
        plan = self._plan
        p, h, o = plan.split(plan.read_state_leaves())
        first = tuple(a[0] for a in args)
        step = self._step_for(p, (h, first))
        outs0, writes, traces, *_ = step(p, self.signal_probe.value, h, o, first, self.etrace.value)
        forward_parts = self._forward_parts

        def body(carry, xs):
            writes_c, traces_c = carry
            h_c = plan.hidden_from_writes(writes_c)
            o_c = self._others_from_writes(writes_c, o)
            outs, writes_n = plan.run(p, h_c, o_c, xs)
            sg = jax.lax.stop_gradient
            _, _, traces_n, _, _ = forward_parts(sg(p), sg(h_c), sg(o_c), sg(xs), sg(traces_c))
            return (tuple(writes_n), traces_n), tuple(outs)

        rest = tuple(a[1:] for a in args)
        (writes, traces), outs_rest = jax.lax.scan(body, (tuple(writes), traces), rest)
        plan.write_states(list(writes))
        self.etrace.value = traces
        outs = [jnp.concatenate([a[None], b], axis=0) for a, b in zip(outs0, outs_rest)]
        return jax.tree.unflatten(plan.cap.out_tree, outs)

    def _others_from_writes(self, writes, o_prev):
        plan = self._plan
        o = list(o_prev)
        for j, n in enumerate(plan.other_ids):
            wp = plan.leaves[n].write_pos
            if wp is not None:
                o[j] = writes[wp]
        return tuple(o)

    # ------------------------------------------------------------------ introspection
    @property
    def is_compiled(self) -> bool:
        return self._plan is not None

    def _require(self):
        if self._plan is None:
            raise NotCompiledError(f'{type(self).__name__}: call compile_graph(x0) first.')
        return self._plan

    def eligibility_traces(self) -> Dict[str, dict]:
        """Current traces keyed by relation (``'param@opK->gN'``), as arrays."""
        self._require()
        return dict(self.etrace.value)

    def trace_memory(self) -> Dict[str, int]:
        """Bytes of eligibility trace kept per parameter path (all relations summed)."""
        plan = self._require()
        out = {}
        for rel in plan.relations:
            out[rel.param] = out.get(rel.param, 0) + trace_nbytes(self.etrace.value[rel.key])
        return out

    def learning_signals(self, by: str = 'param') -> Dict[str, jax.Array]:
        """The last learning signal ``dL/dh`` recorded by :meth:`etrace_grad`.

        ``by='param'``: per traced parameter, the signal of its hidden group
        ``(*varshape, S)``; ``by='hidden'``: per hidden state path.
        """
        plan = self._require()
        sig = self.last_signal.value
        if by == 'hidden':
            return {plan.leaves[n].path: s for n, s in zip(plan.hidden_ids, sig)}
        if by != 'param':
            raise ValueError(f"learning_signals(by={by!r}): choose 'param' or 'hidden'.")
        return {rel.param: jnp.stack([sig[i] for i in plan.groups[rel.group]], -1) for rel in plan.relations}

    def __repr__(self):
        state = 'compiled' if self._plan is not None else 'not compiled'
        return f'{type(self).__name__}(model={type(self.model).__name__}, {state})'


ETraceVjpAlgorithm = ETraceAlgorithm

