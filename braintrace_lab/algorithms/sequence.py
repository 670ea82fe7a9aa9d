"""braintrace's sequence drivers: ``etrace_grad(*sequences, step_fn=...)`` and ``etrace_evolve``.

The user's ``step_fn`` runs the model itself (one learner call per step) and returns
the step loss; the driver slices every sequence along its leading time axis, adds
up the per-step online gradients of ``mask[t] * loss_t`` and divides by the mask's
total (``reduction='mean'``). :class:`ETraceVmap` is a ``brainstate.nn.Vmap`` over a
learner that carries the same two drivers (what ``compile(..., vmap=True)`` returns).

>>> step_loss = lambda x, y: loss_fn(learner(x), y)          # calls the learner once per step
>>> grads, losses = learner.etrace_grad(xs, ys, step_fn=step_loss, return_value=True)
>>> learner.etrace_evolve(xs[:3])                           # a warm-up: states and traces, no gradient
"""
from __future__ import annotations

from typing import Callable, Optional

import brainstate
import jax
import jax.numpy as jnp

from ..input_data import MultiStepData, SingleStepData
from .time_driver import scan_time

__all__ = ['SequenceDriverMixin', 'ETraceVmap']

_REDUCTIONS = ('mean', 'sum')
_BRAINTRACE_ATTRIBUTES = {
    'report': "learner.graph (its .explain(), .diagnostics, .to_dict()) or learner.show_graph()",
    'executor': "learner.graph for the compiled record; the step itself is the learner's update",
    'graph_executor': "learner.graph for the compiled record; the step itself is the learner's update",
    'modulator': "the rule value, learner.rule (its trace, signal and transition)",
    'decay': "learner.decay_or_rank for ES-D-RTRL / pp_prop, or the rule value learner.rule",
}
_LOSS_OUTPUTS = ('per_step', 'masked', 'scalar')


def _chunk(chunk_size) -> Optional[int]:
    if chunk_size is None:
        return None
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int):
        raise TypeError(f'chunk_size must be None or a Python int, got {type(chunk_size).__name__} ({chunk_size!r}).')
    if chunk_size < 1:
        raise ValueError(f'chunk_size must be at least 1, got {chunk_size}.')
    return None if chunk_size == 1 else chunk_size


def _length(sequences) -> int:
    if not sequences:
        raise ValueError('etrace_grad/etrace_evolve needs at least one sequence (time-major arrays to slice), '
                         'e.g. learner.etrace_grad(inputs, targets, step_fn=step_loss).')
    length, origin = None, None
    for pos, seq in enumerate(sequences):
        if any(isinstance(leaf, (SingleStepData, MultiStepData))
               for leaf in jax.tree.leaves(seq, is_leaf=lambda v: isinstance(v, (SingleStepData, MultiStepData)))):
            raise TypeError(f'sequence {pos} is (or holds) a SingleStepData / MultiStepData wrapper; pass the '
                            f'raw arrays and wrap inside step_fn.')
        leaves = jax.tree_util.tree_flatten_with_path(seq)[0]
        if not leaves:
            raise ValueError(f'sequence {pos} holds no array to take a time axis from.')
        for path, leaf in leaves:
            name = f'sequence {pos}{jax.tree_util.keystr(path)}'
            shape = jnp.shape(leaf)
            if not shape:
                raise ValueError(f'{name} is a scalar: it has no leading time axis to slice. Close over '
                                 f'constants in step_fn instead.')
            if length is None:
                length, origin = shape[0], name
            elif shape[0] != length:
                raise ValueError(f'sequences must share a leading length: {origin} has {length}, {name} has '
                                 f'{shape[0]}.')
    if length == 0:
        raise ValueError('the sequences have zero time steps: there is nothing to drive.')
    return length


def _windows(sequences, chunk, length):
    return jax.tree.map(lambda a: a.reshape((length // chunk, chunk) + a.shape[1:]), sequences)


class SequenceDriverMixin:
    """``etrace_grad(*sequences, step_fn=...)`` and ``etrace_evolve(...)`` as braintrace has them.

    Hosts provide ``_seq_call`` (what one step calls), ``_seq_param_states`` (the weights
    differentiated by default) and ``_seq_vmapped`` (windows are refused under ``vmap``).
    """

    def _seq_check_window(self, chunk, length, for_grad):
        if chunk is None:
            return
        if self._seq_vmapped:
            raise ValueError('chunk_size >= 2 (window mode) is not available on a vmapped learner: its batch '
                             'axis would be read as the window.')
        if for_grad and getattr(self, 'vjp_method', None) != 'multi-step':
            raise ValueError(f"etrace_grad(chunk_size={chunk}) hands the learner windows: build it with "
                             f"vjp_method='multi-step'.")
        if length % chunk:
            raise ValueError(f'chunk_size={chunk} must divide the sequence length {length}.')

    def etrace_grad_steps(self, *sequences, step_fn: Callable, mask=None, chunk_size=None, weights=None,
                          reduction: str = 'mean', loss_output: str = 'per_step', has_aux: bool = False,
                          return_value: bool = False):
        """braintrace's ``etrace_grad``: the online gradient of ``sum_t mask_t loss_t`` (divided by
        ``max(sum mask, 1)`` for ``reduction='mean'``), and optionally the losses."""
        if not callable(step_fn):
            raise TypeError('etrace_grad needs step_fn=, a function that calls the learner once and returns '
                            'the step loss.')
        if reduction not in _REDUCTIONS:
            raise ValueError(f'reduction must be one of {_REDUCTIONS}, got {reduction!r}.')
        if loss_output not in _LOSS_OUTPUTS:
            raise ValueError(f'loss_output must be one of {_LOSS_OUTPUTS}, got {loss_output!r}.')
        chunk = _chunk(chunk_size)
        length = _length(sequences)
        self._seq_check_window(chunk, length, for_grad=True)
        mask = jnp.ones((length,)) if mask is None else jnp.asarray(mask)
        if mask.shape != (length,):
            raise ValueError(f'mask must have shape ({length},), got {mask.shape}.')
        if weights is None:
            weights = self._seq_param_states
        if chunk is None:
            xs = (sequences, mask)
        else:
            xs = (_windows(sequences, chunk, length), mask.reshape(length // chunk, chunk))

        def objective(slices, weight):
            out = step_fn(*slices)
            loss, aux = out if has_aux else (out, None)
            want = () if chunk is None else (chunk,)
            if jnp.shape(loss) != want:
                raise ValueError(f'step_fn must return a loss of shape {want} '
                                 f'({"a scalar" if chunk is None else "one per step of the window"}), '
                                 f'got {jnp.shape(loss)}.')
            return jnp.sum(weight * loss), (loss, aux)

        grad_fn = brainstate.transform.grad(objective, weights, has_aux=True)

        def body(total, x_t, t):
            grads, (loss, aux) = grad_fn(*x_t)
            return jax.tree.map(jnp.add, total, grads), (loss, aux)

        init = jax.tree.map(jnp.zeros_like, {k: v.value for k, v in weights.items()})
        total, (losses, aux) = scan_time(body, init, xs)      # a step is a window when chunk_size is given
        denom = jnp.maximum(jnp.sum(mask), 1.0)
        if reduction == 'mean':
            total = jax.tree.map(lambda g: g / denom, total)
        if not return_value:
            return (total, aux) if has_aux else total
        losses = losses.reshape((length,))
        if loss_output == 'per_step':
            value = losses
        elif loss_output == 'masked':
            value = losses * mask
        else:
            value = jnp.sum(losses * mask) / (denom if reduction == 'mean' else 1.0)
        return (total, value, aux) if has_aux else (total, value)

    def etrace_evolve(self, *sequences, step_fn: Optional[Callable] = None, chunk_size=None,
                      return_outputs: bool = False):
        """Advance states and traces over the sequences with no gradient; ``return_outputs=True``
        stacks what each step returned (``None`` otherwise)."""
        chunk = _chunk(chunk_size)
        length = _length(sequences)
        self._seq_check_window(chunk, length, for_grad=False)
        xs = sequences if chunk is None else _windows(sequences, chunk, length)
        call = self._seq_call

        def body(carry, slices, t):
            if step_fn is None:
                if chunk is not None:
                    slices = tuple(MultiStepData(s) for s in slices)
                out = call(*slices)
            else:
                out = step_fn(*slices)
            return carry, (out if return_outputs else None)

        return scan_time(body, None, tuple(xs))[1]


class ETraceVmap(SequenceDriverMixin, brainstate.nn.Vmap):
    """A ``brainstate.nn.Vmap`` over a learner, with the sequence drivers.

    Returned by ``compile(..., vmap=True)``: call it, and drive sequences with
    ``etrace_grad(..., step_fn=...)`` / ``etrace_evolve`` on the wrapper (``.module``
    is the per-sample learner).
    """

    @property
    def _seq_call(self):
        return self

    @property
    def _seq_param_states(self):
        return self.module.param_states

    _seq_vmapped = True
    vmap_batch_size = None            # set by compile(..., vmap=True): the size of axis 0 of every input

    def update(self, *args, **kwargs):
        """One step of the learner on every sample: the inputs' axis 0 must be the batch it was compiled for."""
        if self.vmap_batch_size is not None and self.in_axes == 0:
            for x in jax.tree.leaves((args, kwargs)):
                shape, b = tuple(jnp.shape(getattr(x, 'mantissa', x))), self.vmap_batch_size
                if not shape or shape[0] != b:
                    got, again = (f'batch {shape[0]}', shape[0]) if shape else ('no batch axis', 'B')
                    raise ValueError(f'this learner was compiled with vmap=True for a batch of {b} on axis 0, but '
                                     f'an input has shape {shape} ({got}); give inputs of {b} samples on axis 0, '
                                     f'or compile again with batch_size={again}.')
        return super().update(*args, **kwargs)

    def etrace_grad(self, *sequences, **kwargs):
        """braintrace's ``etrace_grad(*sequences, step_fn=...)`` over the vmapped learner."""
        return self.etrace_grad_steps(*sequences, **kwargs)


class LearnerDrivers(SequenceDriverMixin):
    """The drivers on a learner itself, with braintrace's state views.

    ``etrace_grad`` takes either form: braintrace's ``etrace_grad(*sequences,
    step_fn=...)`` or this package's ``etrace_grad(xs, ys, loss_fn)`` (per-step
    gradients summed, losses returned; see :func:`braintrace_lab.algorithms.driver.etrace_grad`).
    """

    _seq_vmapped = False

    @property
    def _seq_call(self):
        return self

    @property
    def _seq_param_states(self):
        return self.param_states

    @property
    def param_states(self):
        """The model's ``ParamState`` objects keyed by path (``brainstate.util.FlattedDict``)."""
        return self.model.states(brainstate.ParamState)

    @property
    def hidden_states(self):
        """The model's ``HiddenState`` objects keyed by path."""
        return self.model.states(brainstate.HiddenState)

    @property
    def other_states(self):
        """The model's states that are neither parameters nor hidden states, keyed by path."""
        return self.model.states().filter(
            lambda path, st: not isinstance(st, (brainstate.ParamState, brainstate.HiddenState)))

    @property
    def path_to_states(self):
        """Every state of the model keyed by path."""
        return self.model.states()

    @property
    def state_id_to_path(self):
        """``{id(state): path}`` for every state of the model."""
        return {id(st): path for path, st in self.model.states().items()}

    def __getattr__(self, name):
        # braintrace learner attributes with no counterpart here: say what to use (plain lookup failed)
        if name in _BRAINTRACE_ATTRIBUTES:
            raise AttributeError(f'{type(self).__name__} has no {name!r} (a braintrace learner attribute); '
                                 f'use {_BRAINTRACE_ATTRIBUTES[name]}.')
        raise AttributeError(f'{type(self).__name__!r} object has no attribute {name!r}')

    def show_graph(self):
        """Print the compiled graph's report (braintrace's name; :meth:`ETraceGraph.explain`)."""
        self._require()
        print(self.graph.explain())

    def get_etrace_of(self, weight):
        """The eligibility traces kept for ``weight`` (its ``ParamState``, or its path as a tuple or
        dotted string), keyed by relation (``'param@opK->gN'``); this package's trace layout."""
        plan = self._require()
        if isinstance(weight, brainstate.State):
            paths = [k for k, v in self.param_states.items() if v is weight]
            if not paths:
                raise ValueError(f'{type(self).__name__}.get_etrace_of: that ParamState is not a parameter of '
                                 f'the model.')
            weight = paths[0]
        name = '.'.join(map(str, weight)) if isinstance(weight, tuple) else str(weight)
        traces = self.eligibility_traces()
        out = {rel.key: traces[rel.key] for rel in plan.relations if rel.param == name}
        if not out:
            raise ValueError(f'{type(self).__name__}.get_etrace_of: no eligibility trace is kept for {name!r}; '
                             f'traced parameters: {sorted({rel.param for rel in plan.relations})}.')
        return out

    def etrace_grad(self, *args, step_fn: Optional[Callable] = None, **kwargs):
        """Online gradient over a sequence: ``etrace_grad(*sequences, step_fn=..., ...)`` (braintrace)
        or ``etrace_grad(xs, ys, loss_fn, params=None, window=None, chunk=None)``."""
        if step_fn is not None:
            return self.etrace_grad_steps(*args, step_fn=step_fn, **kwargs)
        from .driver import etrace_grad
        return etrace_grad(self, *args, **kwargs)
