"""``SingleStepData`` / ``MultiStepData``: braintrace's input markers, accepted by every learner.

A plain array is one time step, as before. ``MultiStepData(xs)`` marks a window with a
leading time axis, for a learner built with ``vjp_method='multi-step'``;
``SingleStepData(x)`` marks one step and, in a window call, is given to every step of
the window (a constant input next to a time series). Both are pytree nodes, so they pass
through ``jit``, ``vmap`` and ``grad``.

>>> from braintrace_lab import D_RTRL
>>> learner = D_RTRL(model, vjp_method='multi-step')
>>> learner.compile_graph(MultiStepData(xs))          # traced on xs[0], one step
ETraceGraph(...)
>>> out = learner(MultiStepData(xs))                  # the window, one step after the other

A model whose ``update(x, c)`` takes a constant ``c`` beside the series is called as
``learner(MultiStepData(xs), SingleStepData(c))``.
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ['SingleStepData', 'MultiStepData', 'one_step_example', 'single_step_inputs', 'window_inputs']


class _Marked:
    """A pytree holding ``data`` (any pytree of arrays) and nothing else."""

    def __init__(self, data: Any):
        self.data = data

    def tree_flatten(self):
        return (self.data,), None

    @classmethod
    def tree_unflatten(cls, aux, children):
        return cls(children[0])

    def __repr__(self):
        shapes = jax.tree.map(lambda a: tuple(np.shape(a)), self.data)
        return f'{type(self).__name__}({shapes})'


@jax.tree_util.register_pytree_node_class
class SingleStepData(_Marked):
    """Input of one time step (the same as a plain array); repeated over a window in a window call."""


@jax.tree_util.register_pytree_node_class
class MultiStepData(_Marked):
    """Inputs of several time steps: every leaf has a leading time axis (a window)."""


def _marked(x) -> bool:
    return isinstance(x, _Marked)


def one_step_example(tree):
    """The tree with markers removed and windows cut to their first step (for ``compile_graph``)."""
    def unwrap(x):
        if isinstance(x, MultiStepData):
            return jax.tree.map(lambda a: a[0], x.data)
        return x.data if isinstance(x, SingleStepData) else x
    return jax.tree.map(unwrap, tree, is_leaf=_marked)


def single_step_inputs(tree, who: str):
    """The tree with ``SingleStepData`` unwrapped; a ``MultiStepData`` is an error here."""
    def unwrap(x):
        if isinstance(x, MultiStepData):
            raise ValueError(f'{who} was built with vjp_method=\'single-step\' and got MultiStepData (a window '
                             f'of inputs). Build it with vjp_method=\'multi-step\' for windows, or pass one '
                             f'step at a time.')
        return x.data if isinstance(x, SingleStepData) else x
    return jax.tree.map(unwrap, tree, is_leaf=_marked)


def window_inputs(tree, who: str):
    """The tree for a window call: windows unwrapped, ``SingleStepData`` repeated over the window.

    Plain arrays are windows here (a leading time axis), as ``MultiStepData`` is.
    """
    windows = [a for x in jax.tree.leaves(tree, is_leaf=_marked) if not isinstance(x, SingleStepData)
               for a in jax.tree.leaves(x.data if isinstance(x, MultiStepData) else x)]
    if not windows:
        raise ValueError(f'{who} (multi-step) got only SingleStepData inputs, so the window length is '
                         f'unknown: pass at least one input as MultiStepData(xs) with a leading time axis.')
    lengths = {int(np.shape(a)[0]) if np.ndim(a) else None for a in windows}
    if None in lengths or len(lengths) != 1:
        raise ValueError(f'{who} (multi-step): window inputs must share one leading time axis; got leading '
                         f'sizes {sorted(map(str, lengths))}. Wrap inputs that hold one step in '
                         f'SingleStepData.')
    (n,) = lengths

    def unwrap(x):
        if isinstance(x, SingleStepData):
            return jax.tree.map(lambda a: jnp.broadcast_to(a, (n,) + tuple(np.shape(a))), x.data)
        return x.data if isinstance(x, MultiStepData) else x
    return jax.tree.map(unwrap, tree, is_leaf=_marked)
