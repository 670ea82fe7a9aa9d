"""Exact references under the learner interface: RTRL, truncated BPTT and BPTT.

* :class:`RTRL` keeps the full influence matrix ``M = ds/dtheta`` over every
  recurrent leaf ``s`` (hidden states and any other float state the step writes)
  and every parameter leaf: ``M^t = J^t M^{t-1} + ds^t/dtheta|_step`` with the full
  ``J^t = ds^t/ds^{t-1}`` (reverse-mode Jacobians of one step, no time unrolling);
  the gradient of step ``t`` is ``dL^t/dtheta|_direct + dL^t/ds^t M^t``. Equal to
  BPTT on every model; memory ``O(B N |theta|)``, small models only.
* :class:`TBPTT` runs windows of ``k`` steps (``vjp_method='multi-step'``) and keeps
  no trace across windows (an engine with only the immediate term,
  ``IODimEngine(0, 0, 1)``): the gradient of each window's losses with the state at
  the window start held fixed. :class:`BPTT` is one window over the whole sequence.

>>> rtrl = braintrace_lab.compile(model, 'rtrl', x0)
>>> tbptt = braintrace_lab.compile(model, 'tbptt', x0, k=5)
>>> grads, losses = tbptt.etrace_grad(xs, ys, loss_fn)          # windows of 5
"""
from __future__ import annotations

import numbers

import brainstate
import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from ..compiler.graph import compile_program
from ..errors import CompilationError
from .base import EligibilityTrace, ETraceAlgorithm, LearningSignal
from .online_step import zero_cotangent as _zero_cotangent
from .engines import IODimEngine
from .rules import rtrl
from .step import StepPlan

__all__ = ['RTRL', 'TBPTT', 'BPTT']


class RTRL(ETraceAlgorithm):
    """Exact real-time recurrent learning with the full influence matrix (a reference learner).

    ``M^t = J^t M^{t-1} + ds^t/dtheta``, gradient ``dL^t/dtheta|_direct + dL^t/ds^t M^t``.
    Raises :class:`CompilationError` when ``H * P > max_entries``.

    >>> learner = RTRL(model); learner.compile_graph(x0)
    >>> grads = brainstate.transform.grad(lambda: loss(learner(x), y), weights)()
    """
    display_name = 'exact RTRL'
    vjp_methods = ('single-step',)
    batch_totals = False      # its own step: per-sample cotangents, summed by JAX
    defers_products = False   # its own step: every gradient is computed in it
    tree_influence = False    # True: the hooks take per-leaf tuples (influence_update_tree / influence_grad_tree)

    def __init__(self, model, max_entries: float = 5e7, name=None, vjp_method='single-step', trace_dtype=None):
        if self.rule is None:                 # a subclass sets its own rule value before calling this
            self.rule = rtrl(max_entries)
        super().__init__(model, name=name, vjp_method=vjp_method, trace_dtype=trace_dtype)
        self.max_entries = max_entries

    def make_engine(self, relation):          # pragma: no cover - RTRL keeps one influence matrix
        raise NotImplementedError

    def compile_graph(self, *inputs, **kwargs):
        program = compile_program(self.model, *inputs, **kwargs)
        plan = StepPlan(program)
        leaves = plan.leaves
        self._tracked = [j for j, n in enumerate(plan.other_ids)
                         if leaves[n].write_pos is not None
                         and jnp.issubdtype(leaves[n].invar.aval.dtype, jnp.inexact)]
        state_avals = [leaves[n].invar.aval for n in plan.hidden_ids] + \
                      [leaves[plan.other_ids[j]].invar.aval for j in self._tracked]
        param_avals = [leaves[n].invar.aval for n in plan.param_ids]
        H = int(sum(np.prod(a.shape, dtype=int) for a in state_avals))
        P = int(sum(np.prod(a.shape, dtype=int) for a in param_avals))
        if H * P > self.max_entries:
            hid = ', '.join(f'{leaves[n].path}{tuple(leaves[n].invar.aval.shape)}' for n in plan.hidden_ids)
            raise CompilationError(
                f'RTRL: the influence matrix would have H x P = {H} x {P} = {H * P:,} entries, above '
                f'max_entries={int(self.max_entries):,} (states: {hid}). Use a smaller model, raise '
                f'max_entries, or use an approximate rule (D_RTRL, pp_prop, EProp).')
        dtype = self.trace_dtype or jnp.result_type(*[a.dtype for a in state_avals + param_avals])
        self._sizes = {leaves[n].state_path: 0 for n in plan.param_ids}
        for n, a in zip(plan.param_ids, param_avals):
            self._sizes[leaves[n].state_path] += int(np.prod(a.shape, dtype=int))
        self._H = H
        self._plan = plan
        self.graph = program.graph
        self._P = P
        self.etrace = EligibilityTrace(self.init_influence(H, P, dtype))
        hidden_avals = [leaves[n].invar.aval for n in plan.hidden_ids]
        self.signal_probe = brainstate.ShortTermState(tuple(jnp.zeros(a.shape, a.dtype) for a in hidden_avals))
        self.last_signal = LearningSignal(tuple(jnp.zeros(a.shape, a.dtype) for a in hidden_avals))
        self._step_fn = self._build_step()
        self._remember_start()
        return self.graph

    def init_influence(self, H, P, dtype):
        """The trace at a reset: the ``H x P`` influence matrix, zero."""
        return {'influence': jnp.zeros((H, P), dtype)}

    def influence_update(self, f, p_vec, s_vec, traces):
        """``M^t = J^t M^{t-1} + ds^t/dtheta`` from the step map ``f``; returns ``(traces, aux)``."""
        (J_p, J_s), aux = jax.jacrev(f, argnums=(0, 1), has_aux=True)(p_vec, s_vec)
        M = traces['influence']
        return {'influence': self.mask_influence(J_s.astype(M.dtype) @ M + J_p.astype(M.dtype))}, aux

    def mask_influence(self, M):
        """Exact RTRL keeps every entry (SnAp-n overrides this with its sparsity pattern)."""
        return M

    def influence_grad(self, g_vec, traces):
        """``dL^t/ds^t M^t`` as a flat parameter vector."""
        M = traces['influence']
        return g_vec.astype(M.dtype) @ M

    def _build_step(self, summed: bool = False, **modes):
        # no trace engine: every step mode (learner_step.StepMode) runs this same step
        plan = self._plan
        algo = self
        tracked = self._tracked
        nh = len(plan.hidden_ids)
        write_pos = list(plan.hidden_write_pos) + [plan.leaves[plan.other_ids[j]].write_pos for j in tracked]
        outvar_index = dict(plan.hidden_outvar_index)
        for m, j in enumerate(tracked):
            outvar_index.setdefault(plan.leaves[plan.other_ids[j]].outvar, nh + m)

        def states(h, o):
            return tuple(h) + tuple(o[j] for j in tracked)

        def with_states(h, o, s):
            o = list(o)
            for j, v in zip(tracked, s[nh:]):
                o[j] = v
            return tuple(s[:nh]), tuple(o)

        def step_map(p, h, o, args):
            """``f(p_vec, s_vec) -> (new s_vec, (outs, writes))``: one step on flat parameters and states."""
            p_vec, unravel_p = ravel_pytree(tuple(p))
            s_vec, unravel_s = ravel_pytree(states(h, o))

            def f(pv, sv):
                hh, oo = with_states(h, o, unravel_s(sv))
                outs, writes = plan.run(unravel_p(pv), hh, oo, args)
                new = ravel_pytree(tuple(writes[i] for i in write_pos))[0].astype(sv.dtype)
                return new, (outs, writes)
            return f, p_vec, s_vec

        def tree_map_step(p, h, o, args):
            """``f(p, s) -> (new s, (outs, writes))`` on the leaves themselves: no flat vectors."""
            s0 = states(h, o)

            def f(pp, ss):
                hh, oo = with_states(h, o, ss)
                outs, writes = plan.run(tuple(pp), hh, oo, args)
                return tuple(writes[i].astype(a.dtype) for i, a in zip(write_pos, s0)), (outs, writes)
            return f, tuple(p), s0

        self._step_map = step_map
        tree_hooks = algo.tree_influence

        def forward(p, h, o, args, traces):
            if tree_hooks:
                f, p_t, s_t = tree_map_step(p, h, o, args)
                new_traces, (outs, writes) = algo.influence_update_tree(f, p_t, s_t, traces)
            else:
                f, p_vec, s_vec = step_map(p, h, o, args)
                new_traces, (outs, writes) = algo.influence_update(f, p_vec, s_vec, traces)
            return tuple(outs), tuple(writes), new_traces

        def signal(pp, e, h, o, args):
            def transform(v, val):
                i = outvar_index.get(v)
                return val if i is None else jax.lax.stop_gradient(val) + e[i]
            outs, _ = plan.run(pp, h, o, args, var_transform=transform)
            return tuple(outs)

        @jax.custom_vjp
        def online_step(p, probe, h, o, args, traces):
            return forward(p, h, o, args, traces)

        def fwd(p, probe, h, o, args, traces):
            outs, writes, new_traces = forward(p, h, o, args, traces)
            e0 = tuple(jnp.zeros_like(s) for s in states(h, o))
            _, vjp_signal = jax.vjp(lambda pp, ee: signal(pp, ee, h, o, args), p, e0)
            zeros = jax.tree.map(_zero_cotangent, (h, o, args, traces))
            return (outs, writes, new_traces), (vjp_signal, new_traces, tuple(p), zeros)

        def bwd(res, cots):
            vjp_signal, new_traces, p, zeros = res
            cot_out, cot_writes, _ = cots
            cot_p, g = vjp_signal(tuple(cot_out))
            g = tuple(a + cot_writes[i] for a, i in zip(g, write_pos))
            g_vec = ravel_pytree(g)[0]
            if tree_hooks:
                through = algo.influence_grad_tree(g_vec, new_traces, p)
            else:
                _, unravel_p = ravel_pytree(p)
                through = unravel_p(algo.influence_grad(g_vec, new_traces))
            cot_p = tuple(a + b.astype(a.dtype) for a, b in zip(cot_p, through))
            h0, o0, a0, t0 = zeros
            return cot_p, g[:nh], h0, o0, a0, t0

        online_step.defvjp(fwd, bwd)
        return online_step

    def trace_memory(self):
        """Bytes of the influence matrix per parameter path: ``H x |theta_path| x itemsize``."""
        self._require()
        item = self.etrace.value['influence'].dtype.itemsize
        return {path: self._H * size * item for path, size in self._sizes.items()}


class TBPTT(ETraceAlgorithm):
    """Truncated BPTT over windows of ``k`` steps, no trace carried across windows.

    Each call takes a window ``(k, ...)`` of inputs: exact backprop inside the
    window, the state at its start held fixed (the engine keeps only the immediate
    term ``x (x) Df``). ``etrace_grad`` uses ``window=k`` by default.

    >>> learner = TBPTT(model, k=5); learner.compile_graph(x0)
    >>> grads, losses = learner.etrace_grad(xs, ys, loss_fn)
    """
    display_name = 'truncated BPTT'
    vjp_methods = ('multi-step',)

    def __init__(self, model, k: int = None, name=None, vjp_method='multi-step', trace_dtype=None):
        who = type(self).__name__
        if k is not None and (isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1):
            raise ValueError(f'{who}: k={k!r} must be a window length >= 1 (or None for BPTT over the '
                             f'whole sequence).')
        if k is None and type(self) is TBPTT:
            raise ValueError('TBPTT needs the window length k, e.g. TBPTT(model, k=10); use BPTT(model) for '
                             'the whole sequence.')
        if vjp_method != 'multi-step':
            raise ValueError(f"{who} runs windows of inputs: vjp_method must be 'multi-step', got "
                             f'{vjp_method!r}.')
        super().__init__(model, name=name, vjp_method='multi-step', trace_dtype=trace_dtype)
        self.k = None if k is None else int(k)

    def make_engine(self, relation):
        return IODimEngine(dtype=self.trace_dtype, x_decay=0.0, f_decay=0.0, f_scale=1.0, f_uses_D=True)

    def etrace_grad(self, xs, ys=None, loss_fn=None, params=None, window=None, chunk=None):
        """Summed gradient over windows of ``k`` steps (``k = T`` for :class:`BPTT`) and the losses."""
        if window is None:
            window = self.k if self.k is not None else int(jax.tree.leaves(xs)[0].shape[0])
        return super().etrace_grad(xs, ys, loss_fn, params=params, window=window, chunk=chunk)


class BPTT(TBPTT):
    """Backpropagation through time: one window over the whole sequence (``TBPTT`` with ``k = T``).

    ``trace_memory()`` counts only the immediate factors of one step; what BPTT
    keeps is the window's activations, ``O(T B N)``.

    >>> learner = BPTT(model); learner.compile_graph(x0)
    ETraceGraph(...)
    >>> grads, losses = learner.etrace_grad(xs, ys, loss_fn)
    """
    display_name = 'BPTT'

    def __init__(self, model, name=None, vjp_method='multi-step', trace_dtype=None):
        super().__init__(model, k=None, name=name, vjp_method=vjp_method, trace_dtype=trace_dtype)
