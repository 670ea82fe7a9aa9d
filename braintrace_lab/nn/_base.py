"""Shared helpers for the ``braintrace_lab.nn`` layers: size checks, initialisation,
activation lookup, input validation, and the ``x >> layer`` chaining base class."""
from __future__ import annotations

import numbers

import brainstate
import braintools
import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np

__all__ = ['Layer', 'as_size', 'as_positive_int', 'init_param', 'get_activation',
           'ACTIVATIONS', 'check_input', 'check_batch', 'shape_of']


class Layer(brainstate.nn.Module):
    """Base class of the ``braintrace_lab.nn`` layers.

    Calling a layer runs ``update``; ``x >> layer`` is the same as ``layer(x)``
    for JAX and NumPy arrays (NumPy is told to defer the ``>>`` operator to the
    layer instead of mapping it element-wise). For a brainunit quantity that
    carries a unit, call ``layer(x)``: ``Quantity.__rshift__`` runs first and
    treats ``>>`` as a bit shift of the mantissa.
    """

    # Makes ``np.ndarray >> layer`` call ``layer.__rrshift__`` instead of
    # broadcasting ``>>`` over the array's elements.
    __array_ufunc__ = None

    def __rrshift__(self, other):
        return self(other)

    # attribute names left out of the pretty repr (redundant or noisy), and
    # attribute names shown under another name
    _repr_hidden = frozenset()
    _repr_rename = {}

    def __pretty_repr_item__(self, name, value):
        if name in self._repr_hidden:
            return None
        item = super().__pretty_repr_item__(name, value)
        if item is None:
            return None
        name, value = item
        return self._repr_rename.get(name, name), value

    def _set_vector_sizes(self, in_size, out_size) -> tuple:
        """Check single-axis ``in_size`` and ``out_size``, store them as 1-tuples and return both ints."""
        label = type(self).__name__
        n_in = as_positive_int(in_size, 'in_size', label)
        n_out = as_positive_int(out_size, 'out_size', label)
        self.in_size = (n_in,)
        self.out_size = (n_out,)
        return n_in, n_out


def _is_int(v) -> bool:
    return isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, (bool, np.bool_))


def as_positive_int(value, what: str, layer: str) -> int:
    """``value`` as a positive Python int, or a ValueError naming ``layer``."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    if not _is_int(value) or int(value) <= 0:
        raise ValueError(f'{layer}: {what} must be a positive integer, got {value!r}.')
    return int(value)


def as_size(value, what: str, layer: str) -> tuple:
    """``value`` (an int or a sequence of ints) as a tuple of positive ints."""
    if _is_int(value):
        items = (value,)
    elif isinstance(value, (tuple, list)) and len(value) > 0:
        items = tuple(value)
    else:
        raise ValueError(f'{layer}: {what} must be a positive integer or a non-empty tuple of '
                         f'positive integers, got {value!r}.')
    if not all(_is_int(v) and int(v) > 0 for v in items):
        raise ValueError(f'{layer}: {what} must contain positive integers only, got {value!r}.')
    return tuple(int(v) for v in items)


def init_param(init, shape: tuple, what: str, layer: str, batch_size=None):
    """Initialise an array of ``shape`` (plus a leading ``batch_size`` axis) from an
    initializer, a callable, a scalar or an array (broadcast to ``shape``).

    Integer results are cast to the default float type; brainunit quantities keep
    their unit."""
    if init is None:
        raise ValueError(f'{layer}: {what} initializer must not be None.')
    full = tuple(shape) if batch_size is None else (int(batch_size),) + tuple(shape)
    try:
        value = braintools.init.param(init, tuple(shape), batch_size=batch_size, allow_none=False)
    except (ValueError, TypeError) as err:
        raise ValueError(f'{layer}: cannot initialise {what} of shape {full} from {init!r}: {err}') from err
    if isinstance(value, brainstate.State):
        value = value.value
    mantissa, unit = (value.mantissa, value.unit) if isinstance(value, u.Quantity) else (value, None)
    mantissa = jnp.asarray(mantissa)
    if not jnp.issubdtype(mantissa.dtype, jnp.inexact):
        mantissa = mantissa.astype(brainstate.environ.dftype())
    # a strong dtype: a weakly typed state changes type after one step and makes a
    # jitted training step compile twice
    mantissa = jax.lax.convert_element_type(mantissa, mantissa.dtype)
    if mantissa.shape != full:
        try:
            mantissa = jnp.broadcast_to(mantissa, full)
        except ValueError as err:
            raise ValueError(f'{layer}: {what} initializer gave shape {mantissa.shape}, '
                             f'which does not broadcast to {full}.') from err
    return mantissa if unit is None else u.Quantity(mantissa, unit=unit)


def _identity(x):
    return x


ACTIVATIONS = {
    'tanh': jnp.tanh,
    'relu': jax.nn.relu,
    'sigmoid': jax.nn.sigmoid,
    'identity': _identity,
}


def get_activation(activation, layer: str):
    """Return ``(fn, name)`` for an activation given by name (this module's table, then
    ``brainstate.nn``'s functions, as braintrace reads names) or as a callable."""
    if isinstance(activation, str):
        key = activation.lower()
        if key in ACTIVATIONS:
            return ACTIVATIONS[key], key
        fn = getattr(brainstate.nn, activation, None)        # braintrace looks names up there
        if callable(fn) and not isinstance(fn, type):
            return fn, activation
        raise ValueError(f'{layer}: unknown activation {activation!r}; valid names are '
                         f'{sorted(ACTIVATIONS)}, a function of brainstate.nn (e.g. \'gelu\'), or a callable.')
    if callable(activation):
        return activation, getattr(activation, '__name__', type(activation).__name__)
    raise ValueError(f'{layer}: activation must be a name from {sorted(ACTIVATIONS)} or a callable, '
                     f'got {activation!r}.')


def shape_of(x) -> tuple:
    return tuple(u.math.shape(x))


def check_input(layer: str, x, trailing: tuple) -> tuple:
    """Raise a ValueError unless ``x`` has shape ``(..., *trailing)``; return its leading shape."""
    shape = shape_of(x)
    n = len(trailing)
    if len(shape) < n or shape[len(shape) - n:] != tuple(trailing):
        expect = '(..., ' + ', '.join(str(t) for t in trailing) + ')'
        raise ValueError(f'{layer}: expected an input of shape {expect}, got shape {shape}.')
    return shape[:len(shape) - n]


def check_batch(layer: str, x_lead: tuple, state_shape: tuple, state_name: str):
    """Raise a ValueError when the input's leading (batch) axes differ from the state's."""
    s_lead = tuple(state_shape[:-1])
    if tuple(x_lead) != s_lead:
        raise ValueError(
            f'{layer}: input batch shape {tuple(x_lead)} does not match the batch shape {s_lead} of '
            f'state {state_name!r}; initialise the states for this batch with '
            f'brainstate.nn.init_all_states(model, batch_size=...) (or none for an unbatched input).')
