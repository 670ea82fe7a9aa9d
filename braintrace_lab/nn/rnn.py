"""Recurrent cells whose weights reach the hidden state through the ETP ``matmul`` op.

Signatures, defaults and the order in which gate weights are drawn are braintrace's
(``ValinaRNNCell``: ``activation='relu'``; ``GRUCell`` and ``MGUCell``: ``Orthogonal``
weights; ``LSTMCell``: ``XavierNormal``), so a model built after the same
``brainstate.random.seed`` holds the same numbers in both packages.
"""
from __future__ import annotations

from typing import Optional

import brainstate
import braintools
import jax
import jax.numpy as jnp

from ._base import Layer, as_positive_int, check_batch, check_input, get_activation, init_param
from .linear import Linear

__all__ = ['RNNCell', 'VanillaRNNCell', 'ValinaRNNCell', 'GRUCell', 'LSTMCell', 'MGUCell', 'MiniGRU', 'MiniLSTM']


class RNNCell(Layer):
    """Base class of the recurrent cells: sizes, activation, hidden states.

    Subclasses list their hidden state names in ``state_names`` and their gate
    names in ``gate_names`` and implement ``update``; every gate group is a
    :class:`Linear` child fed ``[x, h]``.
    """

    state_names = ('h',)
    gate_names = ()
    _repr_hidden = frozenset({'num_in', 'num_out', 'activation', 'state_init', '_state_initializer'})
    _repr_rename = {'activation_name': 'activation'}

    def __init__(self, in_size, out_size, activation='tanh', state_init=braintools.init.ZeroInit(),
                 name: Optional[str] = None):
        super().__init__(name=name)
        label = type(self).__name__
        self.num_in = as_positive_int(in_size, 'in_size', label)
        self.num_out = as_positive_int(out_size, 'out_size', label)
        self.in_size = (self.num_in,)
        self.out_size = (self.num_out,)
        self.activation, self.activation_name = get_activation(activation, label)
        self.state_init = state_init
        self._state_initializer = state_init       # braintrace's name for it

    def _gate(self, n_gates, w_init, b_init):
        return Linear(self.num_in + self.num_out, n_gates * self.num_out, w_init=w_init, b_init=b_init)

    def _add_gates(self, w_init, b_init):
        """Add one :class:`Linear` child ``(in + out, out)`` per name in ``gate_names``, in that order
        (the order their weights are drawn in)."""
        for gate in self.gate_names:
            setattr(self, gate, self._gate(1, w_init, b_init))

    def _init_value(self, batch_size):
        return init_param(self.state_init, self.out_size, 'hidden state', type(self).__name__,
                          batch_size=batch_size)

    def init_state(self, batch_size: Optional[int] = None, **kwargs):
        for nm in self.state_names:
            setattr(self, nm, brainstate.HiddenState(self._init_value(batch_size)))

    def reset_state(self, batch_size: Optional[int] = None, **kwargs):
        for nm in self.state_names:
            getattr(self, nm).value = self._init_value(batch_size)

    def _check(self, x):
        label = type(self).__name__
        if not hasattr(self, self.state_names[0]):
            raise RuntimeError(f'{label}: call init_state() (or brainstate.nn.init_all_states) first.')
        lead = check_input(label, x, self.in_size)
        check_batch(label, lead, jnp.shape(getattr(self, self.state_names[0]).value), self.state_names[0])


class ValinaRNNCell(RNNCell):
    r"""Elman (vanilla) recurrent cell, braintrace's ``ValinaRNNCell``.

    .. math:: h_t = \phi(W [x_t, h_{t-1}] + b)

    braintrace's signature and defaults (``activation='relu'``). ``HiddenState`` ``h`` of
    shape ``(out,)`` or ``(batch, out)``; ``W`` is a :class:`Linear` child (``ParamState``
    ``W.weight = {'weight', 'bias'}``, weight shape ``(in + out, out)``).

    >>> cell = ValinaRNNCell(3, 16, activation='tanh')
    >>> brainstate.nn.init_all_states(cell, batch_size=4)
    >>> cell(jnp.ones((4, 3))).shape
    (4, 16)
    """

    gate_names = ('W',)

    def __init__(self, in_size, out_size, state_init=braintools.init.ZeroInit(),
                 w_init=braintools.init.XavierNormal(), b_init=braintools.init.ZeroInit(), activation='relu',
                 name: Optional[str] = None):
        super().__init__(in_size, out_size, activation, state_init, name=name)
        self._add_gates(w_init, b_init)

    def update(self, x):
        self._check(x)
        h = self.activation(self.W(jnp.concatenate([x, self.h.value], axis=-1)))
        self.h.value = h
        return h


VanillaRNNCell = ValinaRNNCell
"""The same cell under its usual spelling."""


class GRUCell(RNNCell):
    r"""Gated recurrent unit.

    .. math::
        z_t = \sigma(W_z [x_t, h_{t-1}] + b_z), \quad r_t = \sigma(W_r [x_t, h_{t-1}] + b_r) \\
        \tilde h_t = \phi(W_h [x_t, r_t \odot h_{t-1}] + b_h) \\
        h_t = (1 - z_t) \odot h_{t-1} + z_t \odot \tilde h_t

    ``HiddenState`` ``h``; ``Linear`` children ``Wz``, ``Wr`` and ``Wh``, each
    ``(in + out, out)``, one per gate so each gate's op feeds ``h`` position by
    position. ``W_r`` reaches ``h`` only through ``W_h``'s input (weight through
    weight): the compiler reports it and it learns from its one-step gradient.

    >>> cell = GRUCell(3, 16)
    >>> cell.init_state()
    >>> cell(jnp.ones(3)).shape
    (16,)
    """

    gate_names = ('Wz', 'Wr', 'Wh')

    def __init__(self, in_size, out_size, w_init=braintools.init.Orthogonal(), b_init=braintools.init.ZeroInit(),
                 state_init=braintools.init.ZeroInit(), activation='tanh', name: Optional[str] = None):
        super().__init__(in_size, out_size, activation, state_init, name=name)
        self._add_gates(w_init, b_init)

    def update(self, x):
        self._check(x)
        h = self.h.value
        xh = jnp.concatenate([x, h], axis=-1)
        z = jax.nn.sigmoid(self.Wz(xh))
        r = jax.nn.sigmoid(self.Wr(xh))
        cand = self.activation(self.Wh(jnp.concatenate([x, r * h], axis=-1)))
        h = (1. - z) * h + z * cand
        self.h.value = h
        return h


class LSTMCell(RNNCell):
    r"""Long short-term memory cell.

    .. math::
        a_t = W_a [x_t, h_{t-1}] + b_a \quad (a \in \{i, g, f, o\}) \\
        c_t = \sigma(f + b_f) \odot c_{t-1} + \sigma(i) \odot \phi(g) \\
        h_t = \sigma(o) \odot \phi(c_t)

    ``HiddenState`` ``h`` and ``c`` (one hidden group of two states per unit);
    ``Linear`` children ``Wi``, ``Wg``, ``Wf``, ``Wo``, each ``(in + out, out)``, one
    per gate so each feeds the group position by position; ``b_f`` is the constant
    ``forget_bias`` (default 1, as braintrace adds). Returns ``h``.

    >>> cell = LSTMCell(3, 16)
    >>> brainstate.nn.init_all_states(cell, batch_size=2)
    >>> cell(jnp.ones((2, 3))).shape
    (2, 16)
    """

    state_names = ('c', 'h')
    gate_names = ('Wi', 'Wg', 'Wf', 'Wo')

    def __init__(self, in_size, out_size, w_init=braintools.init.XavierNormal(), b_init=braintools.init.ZeroInit(),
                 state_init=braintools.init.ZeroInit(), activation='tanh', name: Optional[str] = None, *,
                 forget_bias: float = 1.0):
        super().__init__(in_size, out_size, activation, state_init, name=name)
        self.forget_bias = float(forget_bias)
        self._add_gates(w_init, b_init)

    def _check(self, x):
        label = type(self).__name__
        if not hasattr(self, 'h'):
            raise RuntimeError(f'{label}: call init_state() (or brainstate.nn.init_all_states) first.')
        lead = check_input(label, x, self.in_size)
        check_batch(label, lead, jnp.shape(self.h.value), 'h')

    def update(self, x):
        self._check(x)
        h, c = self.h.value, self.c.value
        xh = jnp.concatenate([x, h], axis=-1)
        i, g, f, o = self.Wi(xh), self.Wg(xh), self.Wf(xh), self.Wo(xh)
        c = jax.nn.sigmoid(f + self.forget_bias) * c + jax.nn.sigmoid(i) * self.activation(g)
        h = jax.nn.sigmoid(o) * self.activation(c)
        self.c.value = c
        self.h.value = h
        return h


class MGUCell(RNNCell):
    r"""Minimal gated unit (one forget gate).

    .. math::
        f_t = \sigma(W_f [x_t, h_{t-1}] + b_f) \\
        \tilde h_t = \phi(W_h [x_t, f_t \odot h_{t-1}] + b_h) \\
        h_t = (1 - f_t) \odot h_{t-1} + f_t \odot \tilde h_t

    ``HiddenState`` ``h``; ``Linear`` children ``Wf`` and ``Wh``, each ``(in + out, out)``.

    >>> cell = MGUCell(3, 16)
    >>> cell.init_state()
    >>> cell(jnp.ones(3)).shape
    (16,)
    """

    gate_names = ('Wf', 'Wh')

    def __init__(self, in_size, out_size, w_init=braintools.init.Orthogonal(), b_init=braintools.init.ZeroInit(),
                 state_init=braintools.init.ZeroInit(), activation='tanh', name: Optional[str] = None):
        super().__init__(in_size, out_size, activation, state_init, name=name)
        self._add_gates(w_init, b_init)

    def update(self, x):
        self._check(x)
        h = self.h.value
        f = jax.nn.sigmoid(self.Wf(jnp.concatenate([x, h], axis=-1)))
        cand = self.activation(self.Wh(jnp.concatenate([x, f * h], axis=-1)))
        h = (1. - f) * h + f * cand
        self.h.value = h
        return h


class MiniGRU(RNNCell):
    r"""Minimal GRU: the candidate depends on the input only.

    .. math::
        z_t = \sigma(W_z [x_t, h_{t-1}] + b_z), \quad
        h_t = (1 - z_t) \odot h_{t-1} + z_t \odot (W_x x_t + b_x)

    ``Linear`` children ``W_x`` (``(in, out)``) and ``W_z`` (``(in + out, out)``), drawn in
    that order (braintrace's).

    >>> cell = MiniGRU(3, 16)
    >>> cell.init_state()
    >>> cell(jnp.ones(3)).shape
    (16,)
    """

    def __init__(self, in_size, out_size, w_init=braintools.init.Orthogonal(), b_init=braintools.init.ZeroInit(),
                 state_init=braintools.init.ZeroInit(), name: Optional[str] = None):
        super().__init__(in_size, out_size, 'identity', state_init, name=name)
        self.W_x = Linear(self.num_in, self.num_out, w_init=w_init, b_init=b_init)
        self.W_z = self._gate(1, w_init, b_init)

    def update(self, x):
        self._check(x)
        h = self.h.value
        z = jax.nn.sigmoid(self.W_z(jnp.concatenate([x, h], axis=-1)))
        h = (1. - z) * h + z * self.W_x(x)
        self.h.value = h
        return h


class MiniLSTM(RNNCell):
    r"""Minimal LSTM: forget and input gates on ``[x, h]``, a candidate on the input only.

    .. math::
        f_t = \sigma(W_f [x_t, h_{t-1}] + b_f), \quad i_t = \sigma(W_i [x_t, h_{t-1}] + b_i) \\
        h_t = f_t \odot h_{t-1} + i_t \odot (W_x x_t + b_x)

    ``Linear`` children ``W_x``, ``W_f`` and ``W_i``, drawn in that order (braintrace's).

    >>> cell = MiniLSTM(3, 16)
    >>> cell.init_state()
    >>> cell(jnp.ones(3)).shape
    (16,)
    """

    def __init__(self, in_size, out_size, w_init=braintools.init.Orthogonal(), b_init=braintools.init.ZeroInit(),
                 state_init=braintools.init.ZeroInit(), name: Optional[str] = None):
        super().__init__(in_size, out_size, 'identity', state_init, name=name)
        self.W_x = Linear(self.num_in, self.num_out, w_init=w_init, b_init=b_init)
        self.W_f = self._gate(1, w_init, b_init)
        self.W_i = self._gate(1, w_init, b_init)

    def update(self, x):
        self._check(x)
        h = self.h.value
        xh = jnp.concatenate([x, h], axis=-1)
        f = jax.nn.sigmoid(self.W_f(xh))
        i = jax.nn.sigmoid(self.W_i(xh))
        h = f * h + i * self.W_x(x)
        self.h.value = h
        return h
