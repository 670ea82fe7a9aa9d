"""A pure, non-destructive view of a stateful model step, shared by every oracle.

A ``brainstate`` model keeps its parameters and recurrent state in ``State``
objects and is stepped by ``out = model(x_t)``. The oracles need the same step
as a pure function::

    step(theta, h, other, x_t, t) -> (out, h_new, other_new, probe)

``theta`` are the selected ``ParamState`` values, ``h`` the *recurrent* values
(every floating-point non-parameter state the step writes: all written
``HiddenState`` values, and also e.g. a written ``ShortTermState``, so that no
path from the parameters through time is missed), ``other`` everything else the
step reads (parameters that are not differentiated, integer counters, random
keys). Step ``t`` runs inside ``brainstate.environ.context(i=t, t=t * dt)``
(``t=`` only when ``dt`` is set), as ``brainstate.transform.for_loop`` users
do, so models that read the time (refractory neurons) work. The step is
traced once with ``brainstate.transform.StatefulFunction``;
evaluating the traced program never writes a ``State``, and
:func:`preserved_states` restores every state value anyway, also on error.
"""
from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any, Callable, NamedTuple, Optional, Sequence

import brainstate
import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np

__all__ = ['OracleInputError', 'StepProgram', 'Setup', 'prepare', 'preserved_states',
           'select_params', 'check_xs', 'scalar_loss', 'loss_sequence']


class OracleInputError(ValueError):
    """Bad input to an oracle function (model, ``xs``, ``params`` or ``loss_fn``)."""


@contextlib.contextmanager
def preserved_states(model):
    """Restore the value of every state of ``model`` on exit (also on error).

    >>> with preserved_states(model):
    ...     model(x)          # the states move ...
    >>> # ... and are back to their old values here
    """
    _check_module(model)
    saved = [(st, st.value) for st in model.states().values()]
    try:
        yield
    finally:
        for st, val in saved:
            st.restore_value(val)


def _check_module(model):
    if not isinstance(model, brainstate.nn.Module):
        raise OracleInputError(f'model must be a brainstate.nn.Module, got {type(model).__name__}.')


def select_params(model, params=None):
    """Return ``(keys, states)`` of the parameters to differentiate.

    ``params`` is ``None`` (all ``model.states(brainstate.ParamState)``), a
    mapping ``key -> ParamState`` (e.g. a filtered ``model.states(ParamState)``),
    or an iterable of ``ParamState`` objects (keys looked up in the model).
    """
    all_params = model.states(brainstate.ParamState)
    if len(all_params) == 0:
        raise OracleInputError(
            f'{type(model).__name__} has no brainstate.ParamState: there is nothing to differentiate.')
    key_of = {id(st): key for key, st in all_params.items()}
    if params is None:
        items = list(all_params.items())
    elif isinstance(params, Mapping):
        items = list(params.items())
    else:
        items = []
        for st in params:
            if id(st) not in key_of:
                raise OracleInputError(f'params: {st!r} is not a ParamState of {type(model).__name__}.')
            items.append((key_of[id(st)], st))
    if not items:
        raise OracleInputError('params is empty: select at least one ParamState.')
    seen = set()
    for key, st in items:
        if not isinstance(st, brainstate.ParamState):
            raise OracleInputError(f'params[{key!r}] is a {type(st).__name__}, expected a brainstate.ParamState.')
        if id(st) not in key_of:
            raise OracleInputError(f'params[{key!r}] is not a ParamState of {type(model).__name__}.')
        if id(st) in seen:
            raise OracleInputError(f'params lists the ParamState at {key!r} twice.')
        seen.add(id(st))
    return [k for k, _ in items], [s for _, s in items]


def _shapes(tree) -> list:
    return [tuple(np.shape(leaf)) for leaf in jax.tree.leaves(tree)]


def check_xs(xs):
    """Validate ``xs`` (a pytree of arrays with a leading time axis); return ``(xs, T)``."""
    xs = jax.tree.map(jnp.asarray, xs)
    shapes = _shapes(xs)
    if not shapes:
        raise OracleInputError('xs is empty: give an array (or pytree of arrays) of shape (T, ...).')
    if any(len(s) == 0 for s in shapes):
        raise OracleInputError(f'xs must have a leading time axis, shape (T, ...); got leaf shapes {shapes}.')
    lengths = sorted({s[0] for s in shapes})
    if len(lengths) != 1:
        raise OracleInputError(f'all leaves of xs must share the leading time axis; got leaf shapes {shapes}.')
    if lengths[0] == 0:
        raise OracleInputError(f'xs has zero time steps (leaf shapes {shapes}).')
    return xs, lengths[0]


def scalar_loss(value):
    """Mantissa of a per-step loss value, checked to be a scalar."""
    m = jnp.asarray(u.get_mantissa(value))
    if m.shape != ():
        raise OracleInputError(
            f'loss_fn(out, t) must return a scalar, got shape {m.shape}; reduce over the batch and '
            f'output axes inside loss_fn (e.g. .mean()).')
    return m


def _is_float_tree(value) -> bool:
    leaves = jax.tree.leaves(value)
    return bool(leaves) and all(jnp.issubdtype(jnp.result_type(x), jnp.inexact) for x in leaves)


class StepProgram:
    """The traced, pure form of ``model(x_t)`` (see the module docstring).

    ``probe`` is an optional zero-argument callable evaluated right after the
    model call (inside the trace); its result is returned as the fourth output.
    """

    def __init__(self, model, x0, param_states: Sequence = (), probe: Optional[Callable] = None):
        self.model = model
        self.param_states = list(param_states)

        def call(x, i):
            dt = brainstate.environ.get('dt', default=None)
            clock = {'i': i} if dt is None else {'i': i, 't': i * dt}
            with brainstate.environ.context(**clock):
                out = model(x)
                return out, (probe() if probe is not None else None)

        self._sf = brainstate.transform.StatefulFunction(call, return_only_write=False, name='oracle_step')
        i0 = jnp.asarray(0, dtype=jnp.int32)
        try:
            self._sf.make_jaxpr(x0, i0)
        except OracleInputError:
            raise
        except Exception as err:
            raise OracleInputError(
                f'model(x_t) failed for one time step x_t = xs[0] with leaf shapes {_shapes(x0)}: '
                f'{type(err).__name__}: {err}\nxs must be laid out (T, ...) with the time axis first; '
                f'each step feeds xs[t] to model(...).') from err
        states = self._sf.get_states(x0, i0)
        written = {id(st) for st in self._sf.get_write_states(x0, i0)}
        pos = {id(st): i for i, st in enumerate(self.param_states)}
        self._states = states
        self._slots = []  # per traced state: ('theta'|'h'|'o', index)
        self.h_states, self.o_states = [], []
        for st in states:
            if id(st) in pos:
                self._slots.append(('theta', pos[id(st)]))
            elif id(st) in written and _is_float_tree(st.value):
                self._slots.append(('h', len(self.h_states)))
                self.h_states.append(st)
            else:
                self._slots.append(('o', len(self.o_states)))
                self.o_states.append(st)
        theta, h, o = self.current_values()
        out_shapes = jax.eval_shape(self.step, theta, h, o, x0, i0)
        self.out_shape, self.probe_shape = out_shapes[0], out_shapes[3]
        self._h_avals, self._o_avals = out_shapes[1], out_shapes[2]

    def current_values(self):
        """``(theta, h, other)``: the states' current values, as tuples."""
        theta = tuple(st.value for st in self.param_states)
        return theta, tuple(st.value for st in self.h_states), tuple(st.value for st in self.o_states)

    def initial(self):
        """Current values with the carry cast to the step's output dtypes (scan-ready)."""
        theta, h, o = self.current_values()
        cast = lambda v, a: jnp.asarray(v, dtype=a.dtype)
        return theta, jax.tree.map(cast, h, self._h_avals), jax.tree.map(cast, o, self._o_avals)

    def step(self, theta, h, o, x, t):
        """Pure step: ``(theta, h, other, x_t, t) -> (out, h_new, other_new, probe)``."""
        source = {'theta': theta, 'h': h, 'o': o}
        vals = [source[kind][i] for kind, i in self._slots]
        new_vals, (out, probed) = self._sf.jaxpr_call(vals, x, jnp.asarray(t, dtype=jnp.int32))
        h_new = tuple(new_vals[j] for j, (kind, _) in enumerate(self._slots) if kind == 'h')
        o_new = tuple(new_vals[j] for j, (kind, _) in enumerate(self._slots) if kind == 'o')
        return out, h_new, o_new, probed


class Setup(NamedTuple):
    """Everything an oracle needs after validation: program, keys, initial values, inputs."""
    program: StepProgram
    keys: list
    theta0: tuple
    h0: tuple
    o0: tuple
    xs: Any
    T: int

    def as_dict(self, theta_like) -> dict:
        """Map a tuple shaped like ``theta`` onto the parameter keys."""
        return {k: v for k, v in zip(self.keys, theta_like)}


def prepare(model, xs, params=None, probe=None, need_params=True) -> Setup:
    """Validate the inputs and trace one step of ``model``."""
    _check_module(model)
    if len(model.states(brainstate.HiddenState)) == 0:
        raise OracleInputError(
            f'{type(model).__name__} has no brainstate.HiddenState: the oracle needs a recurrent model. '
            f'Did you forget brainstate.nn.init_all_states(model)?')
    keys, param_states = select_params(model, params) if need_params else ([], [])
    xs, T = check_xs(xs)
    x0 = jax.tree.map(lambda a: a[0], xs)
    program = StepProgram(model, x0, param_states, probe=probe)
    theta0, h0, o0 = program.initial()
    return Setup(program, keys, theta0, h0, o0, xs, T)


def loss_sequence(program: StepProgram, loss_fn: Callable, T: int):
    """``losses(theta, h0, o0, xs) -> (T,)`` array of per-step losses ``L^t``."""

    def losses(theta, h0, o0, xs):
        def body(carry, inp):
            h, o = carry
            x, t = inp
            out, h, o, _ = program.step(theta, h, o, x, t)
            return (h, o), scalar_loss(loss_fn(out, t))

        _, ls = jax.lax.scan(body, (h0, o0), (xs, jnp.arange(T, dtype=jnp.int32)))
        return ls

    return losses
