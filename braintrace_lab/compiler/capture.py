"""Capture one model step as a flat jaxpr with a known layout of states and inputs."""
from __future__ import annotations

import dataclasses
from typing import Any, Tuple

import brainstate
import brainunit as u
import jax
import numpy as np

from ..errors import CompilationError
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
    in_plain_tree: Any = None     # treedef of (args, kwargs) with quantities replaced by their mantissas
    in_units: Tuple[Any, ...] = ()  # unit of each input leaf (None for a plain array)

    def state_invars(self, i):
        return self.jaxpr.jaxpr.invars[self.state_leaf_slices[i]]

    def write_outvars(self, j):
        start = self.n_out_leaves + sum(t.num_leaves for t in self.write_trees[:j])
        return self.jaxpr.jaxpr.outvars[start:start + self.write_trees[j].num_leaves]

    def input_mismatch(self, tree) -> str:
        """Why ``tree`` (``(args, kwargs)`` of a call) does not fit the compiled inputs, or ``''``.

        Inputs that differ only by their units get a message naming the unit and the fix.
        """
        if jax.tree.structure(tree) == self.in_tree:
            return ''
        units = _units_of(tree)
        if self.in_plain_tree is None or jax.tree.structure(_strip_units(tree)) != self.in_plain_tree \
                or len(units) != len(self.in_units):
            return f'inputs have structure {jax.tree.structure(tree)}, but the graph was compiled for {self.in_tree}.'
        for i, (got, want) in enumerate(zip(units, self.in_units)):
            if got != want:
                return _unit_message(i, got, want)
        return f'inputs have structure {jax.tree.structure(tree)}, but the graph was compiled for {self.in_tree}.'


def _is_quantity(x) -> bool:
    return isinstance(x, u.Quantity)


def _units_of(tree) -> Tuple[Any, ...]:
    return tuple(x.unit if _is_quantity(x) else None for x in jax.tree.leaves(tree, is_leaf=_is_quantity))


def _strip_units(tree):
    return jax.tree.map(lambda x: x.mantissa if _is_quantity(x) else x, tree, is_leaf=_is_quantity)


def _unit_code(unit) -> str:
    name = str(unit)
    return f'u.{name}' if name.isidentifier() else f'the unit {name}'


def _unit_message(i: int, got, want) -> str:
    if want is None:
        return (f'input {i} has unit {got}, but the graph was compiled for a plain array (no unit); pass '
                f'the number the model was compiled with (e.g. x.to_decimal({_unit_code(got)})), or compile '
                f'with an input in {got}.')
    if got is None:
        return (f'input {i} is a plain array (no unit), but the graph was compiled for unit {want}; pass '
                f'x * {_unit_code(want)}, or compile with a plain array.')
    same_dim = getattr(got, 'dim', None) == getattr(want, 'dim', None)
    fix = (f'convert it with x.to({_unit_code(want)}) or pass the same unit' if same_dim else
           f'it is a different physical dimension: pass an input in {want}')
    return (f'input {i} has unit {got}, but the graph was compiled for {want}; {fix} (or compile with an '
            f'input in {got}).')


def state_path_names(model) -> dict:
    """Map ``id(state)`` to a dotted path such as ``'neuron.V'`` for every state of ``model``."""
    names = {}
    for path, st in model.states().items():
        key = '.'.join(str(p) for p in (path if isinstance(path, tuple) else (path,)))
        names.setdefault(id(st), key)
    return names


def _batch_mismatch(model, inputs) -> str:
    """Describe an example input whose leading (batch) axis differs from the hidden states' batch, or ''.

    The states' batch is the leading axis shared by every hidden leaf of two or more
    dimensions (``init_all_states(model, batch_size=B)`` gives them all ``B``).
    """
    names = state_path_names(model)
    hidden = [(names.get(id(st), '?'), tuple(np.shape(leaf)))
              for st in model.states(brainstate.HiddenState).values() for leaf in jax.tree.leaves(st.value)]
    batched = [(path, shape) for path, shape in hidden if len(shape) >= 2]
    if not batched or len({shape[0] for _, shape in batched}) != 1:
        return ''
    path, hshape = batched[0]
    batch = hshape[0]
    for i, leaf in enumerate(jax.tree.leaves(inputs)):
        shape = tuple(np.shape(leaf))
        if len(shape) >= 2 and shape[0] != batch:
            return (f'The example input {i} has shape {shape}, but hidden state {path!r} has shape {hshape}: '
                    f'the batch sizes differ ({shape[0]} vs {batch}), so one step cannot be traced. Initialise '
                    f'the states with the batch of the input, brainstate.nn.init_all_states(model, '
                    f'batch_size={shape[0]}), or compile with an input of batch {batch} (shape '
                    f'{(batch,) + shape[1:]}).')
    return ''


def capture_step(model, *args, **kwargs) -> StepCapture:
    """Trace ``model(*args, **kwargs)`` once, recording which states it reads and writes."""
    sf = brainstate.transform.StatefulFunction(lambda *a, **k: model(*a, **k), name='braintrace_lab_step')
    try:
        sf.make_jaxpr(*args, **kwargs)
    except TypeError as err:          # e.g. 'add got incompatible shapes for broadcasting'
        mismatch = _batch_mismatch(model, (args, kwargs))
        if not mismatch:
            raise
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CompilationError(f'{mismatch} (JAX: {first})') from err
    closed = sf.get_jaxpr(*args, **kwargs)
    states = tuple(sf.get_states(*args, **kwargs))
    write_states = tuple(sf.get_write_states(*args, **kwargs))
    out_shapes = sf.get_out_shapes(*args, **kwargs)[0]
    in_tree = jax.tree.structure((args, kwargs))
    in_plain_tree = jax.tree.structure(_strip_units((args, kwargs)))
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
        in_plain_tree=in_plain_tree, in_units=_units_of((args, kwargs)),
    )
