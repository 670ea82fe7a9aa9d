"""How a learner steps: the variant of its online step for each call, and the public way to ask for one.

:class:`OnlineStepping` is mixed into :class:`~.base.ETraceAlgorithm`. A call of the
learner (``update``) picks its :class:`~.online_step.StepMode` when it is traced: batch
totals when it sees ``grad(vmap(learner))`` with shared weights, plus whatever the
enclosing :meth:`OnlineStepping.stepping` context asks for (deferred weight products
for a chunking driver, a batch split over devices). Each variant is built once by
:func:`~.online_step.build_online_step` and kept; choosing one costs nothing inside a
jitted step.

>>> import brainstate
>>> params = learner.model.states(brainstate.ParamState)
>>> with learner.stepping(partitioned=True):      # the lab's many-device path
...     grads = brainstate.transform.grad(lambda: loss(learner(x), y), params)()
>>> sorted(grads) == sorted(params)
True
"""
from __future__ import annotations

import contextlib

import jax
import jax.numpy as jnp

from .batch_sum import called_under_shared_vmap
from .online_step import StepMode, build_online_step

__all__ = ['OnlineStepping', 'op_slots']


def op_slots(plan, side: str) -> dict:
    """Zeros shaped like each immediate-only op's output (``side='output'``) or input, keyed by op index.

    These ops (a weight reaching a hidden state only through another op, such as a GRU
    reset gate) are the ones a chunking driver may take the weight products of itself.
    """
    slots = {}
    for op in plan.ops:
        if op.index in plan.rel_ops or all(p is None for p in op.weight_params):
            continue
        aval = op.output_avals[0] if side == 'output' else op.input_avals[0]
        slots[op.index] = jnp.zeros(aval.shape, aval.dtype)
    return slots


class OnlineStepping:
    """The step builder and the step variants of an online learner (see the module docstring)."""

    _step_request = StepMode()       # what the enclosing stepping() context asks for (the plain step)

    # ------------------------------------------------------------------ building
    def plan_for_step(self):
        """The plan the online step runs on; a rule may return a wrapped plan (e.g. e-prop's feedback)."""
        return self._plan

    def _build_step(self, summed: bool = False, deferred=frozenset(), partitioned: bool = False):
        """The online step as a ``custom_vjp`` function for one :class:`~.online_step.StepMode`."""
        mode = StepMode(summed=bool(summed), deferred=frozenset(deferred), partitioned=bool(partitioned))
        step, self._forward_parts = build_online_step(self, self.plan_for_step(), mode)
        return step

    def step_variant(self, summed: bool = False, deferred=(), partitioned: bool = False):
        """The online step function for a mode, built on first use and kept (the plain step for the defaults).

        ``summed``: batch totals under ``grad(vmap(...))``; ``deferred``: relation keys and
        immediate-only op indices whose weight products the caller adds itself
        (:mod:`.chunked`); ``partitioned``: batch sums traced for a batch split over devices.
        """
        self._require()
        deferred = frozenset(deferred)
        if not (summed or deferred or partitioned):
            return self._step_fn
        key = (bool(summed), deferred, bool(partitioned))
        if key not in self._step_variants:
            modes = {'deferred': deferred} if deferred else {}
            if partitioned:
                modes['partitioned'] = True
            self._step_variants[key] = self._build_step(bool(summed), **modes)
        return self._step_variants[key]

    @contextlib.contextmanager
    def stepping(self, deferred=None, partitioned=None):
        """Calls of the learner inside this context run the step variant asked for (``None``: as outside).

        ``deferred`` (relation keys and immediate-only op indices, :func:`.chunked.deferrable`):
        the backward pass leaves those weight products out; for a deferred op ``k``,
        differentiating ``op_probe`` gives its output cotangent ``dy`` at key ``k``, and
        ``op_inputs.value[k]`` holds its input ``x`` after a step. ``partitioned=True``: the batch is
        split over devices. Enter it around the tracing of the steps (inside or outside ``jit``);
        the mode is fixed at trace time.
        """
        self._require()
        outer = self._step_request
        request = StepMode(deferred=outer.deferred if deferred is None else frozenset(deferred),
                           partitioned=outer.partitioned if partitioned is None else bool(partitioned))
        missing = [k for k in request.deferred_ops if k not in self.op_probe.value]
        if missing:
            raise ValueError(f'stepping(deferred=...): ops {missing} are not immediate-only ops of this '
                             f'learner; choose from {sorted(self.op_probe.value)} (see chunked.deferrable).')
        self._step_request = request
        try:
            yield self
        finally:
            self._step_request = outer

    def _step_for(self, p, per_sample):
        """The step variant for this call: batch totals under ``vmap`` with shared weights, and what the
        enclosing :meth:`stepping` context asks for."""
        request = self._step_request
        summed = bool(self.batch_totals and called_under_shared_vmap(p, per_sample))
        return self.step_variant(summed, request.deferred, request.partitioned)

    # ------------------------------------------------------------------ stepping
    def update(self, *inputs, **kwargs):
        """One online step (or, with ``vjp_method='multi-step'``, one window of steps)."""
        if self.vjp_method == 'multi-step':
            return self._update_window(*inputs, **kwargs)
        args = self._check_inputs(inputs, kwargs)
        plan = self._plan
        p, h, o = plan.split(plan.read_state_leaves())
        step = self._step_for(p, (h, args))
        imm_ops = self._step_request.deferred_ops
        probe = self.signal_probe.value
        if imm_ops:
            probe = (probe, tuple(self.op_probe.value[k] for k in imm_ops))
        outs, writes, new_traces, *op_inputs = step(p, probe, h, o, tuple(args), self.etrace.value)
        plan.write_states(list(writes))
        self.etrace.value = new_traces
        if imm_ops:
            self.op_inputs.value = {**self.op_inputs.value, **dict(zip(imm_ops, op_inputs[0]))}
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
