"""Resetting a learner: traces back to zero, compiled step re-bound to the model's current states.

``brainstate.nn.init_all_states(learner)`` calls the model's ``init_state`` (which may
replace its ``HiddenState`` objects) and then the learner's; ``reset_all_states`` the same
with ``reset_state``. The learner runs last (``call_order(9)``), zeroes its traces and
learning signals, and points its compiled step at the states the model now holds, so a
reset learner computes exactly what a freshly built one does.

>>> brainstate.nn.init_all_states(learner, batch_size=4)   # the batch size the learner was compiled for
>>> learner.init_etrace_state()                            # the traces only
"""
from __future__ import annotations

import brainstate
import jax
import jax.numpy as jnp
import numpy as np

from ..compiler.capture import state_path_names

__all__ = ['ResettableLearner']


class ResettableLearner:
    """Mixin of :class:`ETraceAlgorithm`: the reset hooks ``init_state`` / ``reset_state``."""

    def _remember_start(self):
        """Keep what a reset goes back to: the compiled traces, and each captured state's path."""
        cap = self._plan.cap
        self._initial_traces = self.etrace.value
        names = state_path_names(self.model)
        self._state_paths = (tuple(names.get(id(st)) for st in cap.states),
                             tuple(names.get(id(st)) for st in cap.write_states))
        self._state_avals = tuple(_avals(st.value) for st in cap.states)

    # ------------------------------------------------------------------ reset
    @brainstate.nn.call_order(9)    # the highest level: after every model state's own init
    def init_state(self, *args, **kwargs):
        """Called by ``brainstate.nn.init_all_states(learner)`` after the model's own
        ``init_state``: follow the model's new states and zero the traces."""
        self._restart()

    @brainstate.nn.call_order(9)
    def reset_state(self, *args, **kwargs):
        """Called by ``brainstate.nn.reset_all_states(learner)`` after the model's own
        ``reset_state``: zero the traces (and follow re-created states)."""
        self._restart()

    def init_etrace_state(self, *args, **kwargs):
        """Zero the eligibility traces and learning signals (braintrace's name); the model's
        hidden states are left as they are (reset them with ``reset_all_states(model)``)."""
        self._restart()

    def _restart(self):
        """Traces, probes and signals back to their values at compile time, states re-bound."""
        if self._plan is None:
            return
        self._rebind_states()
        self.etrace.value = self._initial_traces
        for st in (self.signal_probe, self.last_signal):
            st.value = jax.tree.map(jnp.zeros_like, st.value)
        for name in ('op_probe', 'op_inputs'):
            if hasattr(self, name):
                getattr(self, name).value = jax.tree.map(jnp.zeros_like, getattr(self, name).value)

    def _rebind_states(self):
        """Point the compiled step at the model's current state objects, and check their shapes.

        ``init_all_states`` may replace a model's ``HiddenState`` objects; a learner that
        kept stepping the old ones would read stale states and write where nobody looks.
        A state whose shape changed (another batch size, or none) needs a new compile.
        """
        cap = self._plan.cap
        names = state_path_names(self.model)
        current = {names[id(st)]: st for st in self.model.states().values()}
        for st, path, want in zip(cap.states, self._state_paths[0], self._state_avals):
            new = current.get(path, st) if path is not None else st
            got = _avals(new.value)
            if got != want:
                raise ValueError(
                    f'{self.display_name}: the model state {path!r} now has shape '
                    f'{[a[0] for a in got[1]]} but the learner was compiled for {[a[0] for a in want[1]]} '
                    f'(states reset with another batch size, or with none: pass the same batch_size to '
                    f'init_all_states / reset_all_states). To change the shape, compile again with an '
                    f'input of the new shape: learner.compile_graph(x0).')
        follow = lambda states, paths: tuple(st if p is None else current.get(p, st)
                                             for st, p in zip(states, paths))
        cap.states = follow(cap.states, self._state_paths[0])
        cap.write_states = follow(cap.write_states, self._state_paths[1])


def _avals(value):
    return (jax.tree.structure(value), [(np.shape(a), jnp.result_type(a)) for a in jax.tree.leaves(value)])
