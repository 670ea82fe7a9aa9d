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

from ..compiler.graph import compile_program
from ..errors import NotCompiledError
from ..input_data import single_step_inputs, window_inputs
from .engines import trace_nbytes
from .learner_step import OnlineStepping, op_slots
from .options import _who, check_learner_name, check_options, check_trace_dtype
from .reset import ResettableLearner
from .rule_driven import RuleDriven
from .sequence import LearnerDrivers
from .step import StepPlan

__all__ = ['ETraceAlgorithm', 'EligibilityTrace', 'ETraceVjpAlgorithm']


class EligibilityTrace(brainstate.ShortTermState):
    """The eligibility traces of a learner, one pytree per relation."""


class LearningSignal(brainstate.ShortTermState):
    """The last learning signal ``dL/dh`` recorded by a sequence driver."""


class ETraceAlgorithm(RuleDriven, OnlineStepping, ResettableLearner, LearnerDrivers, brainstate.nn.Module):
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
    batch_totals = True          # under grad(vmap(...)) return batch totals for shared weights (batch_sum.py)
    defers_products = True       # its step can leave weight products to etrace_grad(chunk=K) (chunked.py)
    runner_needs = None          # what each step needs that the lab's runner does not feed (rules_table.py)

    def __init__(self, model, name: Optional[str] = None, vjp_method: str = 'single-step',
                 trace_dtype=None):
        super().__init__(name=check_learner_name(name, _who(type(self))))
        if not isinstance(model, brainstate.nn.Module):
            raise TypeError(f'{type(self).__name__} needs a brainstate.nn.Module, got {type(model).__name__}.')
        if vjp_method not in self.vjp_methods:
            raise ValueError(f'vjp_method={vjp_method!r} is not valid; choose one of {self.vjp_methods} '
                             f"('multi-step' takes a window of inputs with a leading time axis).")
        self.model = model
        self.vjp_method = vjp_method
        self.trace_dtype = check_trace_dtype(trace_dtype, _who(type(self)))
        self._plan: Optional[StepPlan] = None
        self.graph = None
        self._step_variants = {}

    # ------------------------------------------------------------------ compile
    def compile_graph(self, *inputs, **kwargs):
        """Trace one step on example inputs (one time step, as ``learner(x)`` will get them)."""
        program = compile_program(self.model, *inputs, **kwargs)
        plan = StepPlan(program)
        self.validate_graph(program.graph, plan)
        traces = {}
        for rel in plan.relations:
            rel.engine = self.make_engine(rel)
            S = len(plan.groups[rel.group])
            dtype = self.trace_dtype or plan.leaves[plan.hidden_ids[plan.groups[rel.group][0]]].invar.aval.dtype
            traces[rel.key] = rel.engine.init(rel.rule, S, rel.x_shape, dtype)
        self._plan = plan
        self.graph = program.graph
        self.etrace = EligibilityTrace(traces)
        hidden_avals = [plan.leaves[n].invar.aval for n in plan.hidden_ids]
        self.signal_probe = brainstate.ShortTermState(tuple(jnp.zeros(a.shape, a.dtype) for a in hidden_avals))
        self.last_signal = LearningSignal(tuple(jnp.zeros(a.shape, a.dtype) for a in hidden_avals))
        # one slot per immediate-only op, for etrace_grad(chunk=K) to sum its products itself (chunked.py):
        # the structure is fixed here, so a jitted driver never sees these states change shape
        self.op_probe = brainstate.ShortTermState(op_slots(plan, 'output'))
        self.op_inputs = brainstate.ShortTermState(op_slots(plan, 'input'))
        self._step_fn = self._build_step()
        self._step_variants = {}      # (batch totals, deferred products) -> step, built on first use
        self._remember_start()
        return self.graph

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
        want = plan.program.input_avals
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

