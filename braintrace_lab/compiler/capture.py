"""Capture one model step as a flat jaxpr with a known layout of states and inputs."""
from __future__ import annotations

import dataclasses
from typing import Any, Tuple

import brainstate
import jax

from .interpreter import flatten_jaxpr

__all__ = ['StepCapture', 'capture_step', 'state_path_names']


@dataclasses.dataclass
class StepCapture:
    """One traced model step.

    Input variables are ``[input leaves..., state leaves...]`` with the states in
    ``states`` order; outputs are ``[output leaves..., written-state leaves...]``
    with the written states in ``write_states`` order.
    """
    jaxpr: Any                    # ClosedJaxpr, nested jit calls inlined
    in_tree: Any                  # treedef of (args, kwargs)
    n_arg_leaves: int
    states: Tuple[Any, ...]
    state_trees: Tuple[Any, ...]
    state_leaf_slices: Tuple[slice, ...]
    write_states: Tuple[Any, ...]
    write_trees: Tuple[Any, ...]
    out_tree: Any
    n_out_leaves: int

    def state_invars(self, i):
        return self.jaxpr.jaxpr.invars[self.state_leaf_slices[i]]

    def write_outvars(self, j):
        start = self.n_out_leaves + sum(t.num_leaves for t in self.write_trees[:j])
        return self.jaxpr.jaxpr.outvars[start:start + self.write_trees[j].num_leaves]


def state_path_names(model) -> dict:
    """Map ``id(state)`` to a dotted path such as ``'neuron.V'`` for every state of ``model``."""
    names = {}
    for path, st in model.states().items():
        key = '.'.join(str(p) for p in (path if isinstance(path, tuple) else (path,)))
        names.setdefault(id(st), key)
    return names


def capture_step(model, *args, **kwargs) -> StepCapture:
    """Trace ``model(*args, **kwargs)`` once, recording which states it reads and writes."""
    sf = brainstate.transform.StatefulFunction(lambda *a, **k: model(*a, **k), name='braintrace_lab_step')
    sf.make_jaxpr(*args, **kwargs)
    closed = sf.get_jaxpr(*args, **kwargs)
    states = tuple(sf.get_states(*args, **kwargs))
    write_states = tuple(sf.get_write_states(*args, **kwargs))
    out_shapes = sf.get_out_shapes(*args, **kwargs)[0]
    in_tree = jax.tree.structure((args, kwargs))
    n_arg = in_tree.num_leaves
    state_trees, slices = [], []
    pos = n_arg
    for st in states:
        tree = jax.tree.structure(st.value)
        state_trees.append(tree)
        slices.append(slice(pos, pos + tree.num_leaves))
        pos += tree.num_leaves
    out_tree = jax.tree.structure(out_shapes)
    flat = flatten_jaxpr(closed)
    return StepCapture(
        jaxpr=flat, in_tree=in_tree, n_arg_leaves=n_arg, states=states,
        state_trees=tuple(state_trees), state_leaf_slices=tuple(slices),
        write_states=write_states, write_trees=tuple(jax.tree.structure(s.value) for s in write_states),
        out_tree=out_tree, n_out_leaves=out_tree.num_leaves,
    )
