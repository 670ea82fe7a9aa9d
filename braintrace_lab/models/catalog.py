"""One catalog of small models shared by tests, tutorials and benchmarks.

Each :class:`Fixture` builds a fresh model with initialised states, makes inputs
and targets from a seed, and says in which regime each rule is exact on it.
Exact-class fixtures (``exact=True``) have a position-diagonal hidden transition
fed element-wise by their ETP ops, so D-RTRL equals BPTT there.

>>> fx = get_fixture('lif')
>>> with fx.context():
...     model = fx.build(); xs, ys = fx.data(T=20, seed=0)
"""
from __future__ import annotations

import contextlib
import dataclasses
import difflib
import inspect
import numbers
from typing import Callable, Dict, Optional

import brainpy
import brainstate
import braintools
import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np

from .. import ops
from .. import nn as bnn

__all__ = ['Fixture', 'CATALOG', 'get_fixture', 'fixture_names', 'mse_loss']


def mse_loss(out, y):
    """Sum of squared errors of one step (mantissas if ``out`` carries a unit)."""
    out = getattr(out, 'mantissa', out)
    return jnp.sum((out - y) ** 2)


def _normal(key, shape, scale, dtype):
    return (jax.random.normal(key, shape, dtype) * scale).astype(dtype)


class _Readout(brainstate.nn.Module):
    """Plain non-temporal readout ``y = h W`` (no hidden state)."""

    def __init__(self, n_in, n_out, key, dtype):
        super().__init__()
        self.weight = brainstate.ParamState(_normal(key, (n_in, n_out), 1.0 / np.sqrt(n_in), dtype))

    def update(self, h):
        return ops.matmul(h, self.weight.value)


class LeakyNet(brainstate.nn.Module):
    """Leaky integrator ``h = lam h + tanh(x W + b)`` driven feed-forward, linear readout."""

    def __init__(self, n_in=4, n_hidden=6, n_out=3, lam=0.8, seed=0, dtype=jnp.float32, op='matmul'):
        super().__init__()
        k = jax.random.split(jax.random.PRNGKey(seed), 4)
        self.n_in, self.n_hidden, self.lam, self.op, self.dtype = n_in, n_hidden, lam, op, dtype
        if op == 'matmul':
            self.w = brainstate.ParamState({'weight': _normal(k[0], (n_in, n_hidden), 0.7, dtype),
                                            'bias': _normal(k[1], (n_hidden,), 0.1, dtype)})
        elif op == 'lora':
            self.w = brainstate.ParamState({'lora_a': _normal(k[0], (n_in, 2), 0.7, dtype),
                                            'lora_b': _normal(k[1], (2, n_hidden), 0.7, dtype)})
            self.base = _normal(k[3], (n_in, n_hidden), 0.3, dtype)
        elif op == 'sparse':
            mask = np.array(jax.random.uniform(k[3], (n_in, n_hidden)) < 0.5)
            mask[0, :] = True
            self.rows, self.cols = (jnp.asarray(a, jnp.int32) for a in np.nonzero(mask))
            self.w = brainstate.ParamState({'values': _normal(k[0], (len(self.rows),), 0.8, dtype)})
        else:
            raise ValueError(f"LeakyNet op must be 'matmul', 'lora' or 'sparse', got {op!r}")
        self.readout = _Readout(n_hidden, n_out, k[2], dtype)

    def init_state(self, batch_size=None, **kwargs):
        shape = (self.n_hidden,) if batch_size is None else (batch_size, self.n_hidden)
        self.h = brainstate.HiddenState(jnp.zeros(shape, self.dtype))

    def drive(self, x):
        w = self.w.value
        if self.op == 'matmul':
            return ops.matmul(x, w['weight'], w['bias'])
        if self.op == 'lora':
            return ops.lora_matmul(x, w['lora_a'], w['lora_b'], alpha=0.5, base_weight=self.base)
        return ops.sparse_matmul(x, w['values'], self.rows, self.cols, self.n_hidden)

    def update(self, x):
        self.h.value = self.lam * self.h.value + jnp.tanh(self.drive(x))
        return self.readout(self.h.value)


class LinearLeakyNet(LeakyNet):
    """Linear leaky integrator ``h = lam h + x W + b`` (feed-forward, scalar leak), linear readout."""

    def update(self, x):
        self.h.value = self.lam * self.h.value + self.drive(x)
        return self.readout(self.h.value)


class ConvLeakyNet(brainstate.nn.Module):
    """1-D convolution feeding leaky units position by position, then a linear readout.

    lax's layout, as braintrace's ``conv`` reads it: input ``([N,] C_in, L)``, kernel
    ``(C_out, C_in, 3)``, state ``([N,] C_out, L)``.
    """

    def __init__(self, length=6, c_in=2, c_out=3, n_out=2, lam=0.7, seed=0, dtype=jnp.float32):
        super().__init__()
        k = jax.random.split(jax.random.PRNGKey(seed), 3)
        self.shape, self.lam, self.dtype = (c_out, length), lam, dtype
        self.kernel = brainstate.ParamState({'kernel': _normal(k[0], (c_out, c_in, 3), 0.6, dtype),
                                             'bias': _normal(k[1], (c_out,), 0.1, dtype)})
        self.readout = _Readout(length * c_out, n_out, k[2], dtype)

    def init_state(self, batch_size=None, **kwargs):
        shape = self.shape if batch_size is None else (batch_size,) + self.shape
        self.h = brainstate.HiddenState(jnp.zeros(shape, self.dtype))

    def update(self, x):
        kv = self.kernel.value
        self.h.value = self.lam * self.h.value + jnp.tanh(ops.conv(x, kv['kernel'], kv['bias']))
        flat = self.h.value.reshape(self.h.value.shape[:-2] + (-1,))
        return self.readout(flat)


class SpikingNet(brainstate.nn.Module):
    """A LIF (or two-state ALIF) layer driven feed-forward in mA, non-temporal readout."""

    def __init__(self, n_in=5, n_hidden=6, n_out=3, neuron='lif', scale=1.5, seed=0,
                 dtype=jnp.float32, tau=5. * u.ms):
        super().__init__()
        k = jax.random.split(jax.random.PRNGKey(seed), 3)
        self.w = brainstate.ParamState({'weight': _normal(k[0], (n_in, n_hidden), scale, dtype) * u.mA,
                                        'bias': jnp.full((n_hidden,), 0.2, dtype) * u.mA})
        cls = {'lif': brainpy.state.LIF, 'alif': brainpy.state.ALIF}[neuron]
        self.neuron = cls(n_hidden, tau=tau, R=1. * u.ohm, V_th=1. * u.mV, V_reset=0. * u.mV,
                          V_rest=0. * u.mV, spk_fun=braintools.surrogate.ReluGrad(), spk_reset='soft')
        self.readout = _Readout(n_hidden, n_out, k[1], dtype)

    def update(self, x):
        w = self.w.value
        spikes = self.neuron(ops.matmul(x, w['weight'], w['bias']))
        return self.readout(spikes)


_GATE_DRAW_ORDER = {'rnn': ('W',), 'gru': ('Wr', 'Wz', 'Wh'), 'lstm': ('Wi', 'Wf', 'Wg', 'Wo'), 'mgu': ('Wf', 'Wh')}


class RecurrentNet(brainstate.nn.Module):
    """A recurrent cell from ``braintrace_lab.nn`` (mixing through its recurrent weight) and a readout."""

    def __init__(self, cell='rnn', n_in=4, n_hidden=6, n_out=3, seed=0, dtype=jnp.float32):
        super().__init__()
        cells = {'rnn': bnn.VanillaRNNCell, 'gru': bnn.GRUCell, 'lstm': bnn.LSTMCell, 'mgu': bnn.MGUCell}
        xavier = braintools.init.XavierNormal()
        self.cell = cells[cell](n_in, n_hidden, w_init=xavier, activation='tanh')
        # the fixture's weights: XavierNormal gates drawn from ``seed`` in this order (the cells
        # themselves draw in braintrace's order, which differs for the GRU and the LSTM)
        brainstate.random.seed(seed)
        for gate in _GATE_DRAW_ORDER[cell]:
            lin = getattr(self.cell, gate)
            shape = lin.weight.value['weight'].shape
            lin.weight.value = {'weight': braintools.init.param(xavier, shape),
                                'bias': jnp.zeros(shape[-1:], lin.weight.value['bias'].dtype)}
        # the cell's initialisers pick their own float type: hold every weight in ``dtype``
        for st in self.cell.states(brainstate.ParamState).values():
            st.value = jax.tree.map(lambda w: jnp.asarray(w, dtype), st.value)
        self.readout = _Readout(n_hidden, n_out, jax.random.PRNGKey(seed + 1), dtype)

    def update(self, x):
        return self.readout(self.cell(x))


@dataclasses.dataclass(frozen=True)
class Fixture:
    """A named small model with data and the regime each rule is exact in."""
    name: str
    make: Callable
    n_in: int
    n_out: int
    exact: bool
    spiking: bool = False
    input_shape: tuple = ()
    description: str = ''
    cls: Optional[type] = None          # the model class ``make`` builds (its keywords are the options)

    def options(self) -> tuple:
        """The keywords :meth:`build` takes (``()`` when unknown: nothing is checked)."""
        if self.cls is None:
            return ()
        params = inspect.signature(self.cls.__init__).parameters
        return tuple(k for k in params if k not in _FIXED)

    def check_kwargs(self, kwargs: dict) -> dict:
        """``kwargs`` for :meth:`build`: unknown keywords and sizes that are not positive integers refused."""
        valid = self.options()
        if valid:
            unknown = sorted(set(kwargs) - set(valid))
            if unknown:
                close = difflib.get_close_matches(unknown[0], valid, n=1)
                hint = f' (did you mean {close[0]}?)' if close else ''
                raise TypeError(f'fixture {self.name!r}: unknown option(s) {", ".join(unknown)}{hint}; '
                                f'{self.cls.__name__} takes {", ".join(valid)}.')
        for k, v in kwargs.items():
            if k not in _SIZES + ('seed',):
                continue
            if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                raise TypeError(f'fixture {self.name!r}: {k}={v!r} ({type(v).__name__}) must be an integer; pass '
                                f'e.g. {k}={0 if k == "seed" else 16}.')
            if k != 'seed' and v < 1:
                raise ValueError(f'fixture {self.name!r}: {k}={v!r} must be a positive integer (>= 1); pass '
                                 f'e.g. {k}=16.')
        return kwargs

    @contextlib.contextmanager
    def context(self):
        with brainstate.environ.context(dt=1. * u.ms):
            yield

    def build(self, batch_size=None, dtype=jnp.float32, **kwargs):
        model = self.make(dtype=dtype, **self.check_kwargs(kwargs))
        brainstate.nn.init_all_states(model, batch_size=batch_size) if batch_size else \
            brainstate.nn.init_all_states(model)
        return model

    def data(self, T=10, seed=0, batch_size=None, dtype=jnp.float32):
        """``xs (T, [B,] *input_shape)`` and regression targets ``ys (T, [B,] n_out)``."""
        k1, k2 = jax.random.split(jax.random.PRNGKey(1000 + seed))
        lead = (T,) if batch_size is None else (T, batch_size)
        shape = lead + (self.input_shape or (self.n_in,))
        if self.spiking:
            xs = (jax.random.uniform(k1, shape) < 0.5).astype(dtype)
        else:
            xs = jax.random.normal(k1, shape, dtype)
        ys = jax.random.normal(k2, lead + (self.n_out,), dtype)
        return xs, ys


_FIXED = ('self', 'dtype', 'op', 'neuron', 'cell')      # set by the fixture itself
_SIZES = ('n_in', 'n_hidden', 'n_out', 'length', 'c_in', 'c_out')

CATALOG: Dict[str, Fixture] = {f.name: f for f in [
    Fixture('leaky', lambda **kw: LeakyNet(**kw), 4, 3, True, cls=LeakyNet,
            description='leaky integrator fed by a dense matmul'),
    Fixture('linear_leaky', lambda **kw: LinearLeakyNet(**kw), 4, 3, True, cls=LinearLeakyNet,
            description='linear leaky integrator h = lam h + x W + b (scalar leak, no nonlinearity)'),
    Fixture('leaky_lora', lambda **kw: LeakyNet(op='lora', **kw), 4, 3, True, cls=LeakyNet,
            description='leaky integrator fed by a LoRA matmul (trace on A @ B)'),
    Fixture('leaky_sparse', lambda **kw: LeakyNet(op='sparse', **kw), 4, 3, True, cls=LeakyNet,
            description='leaky integrator fed by a sparse matmul'),
    Fixture('conv_leaky', lambda **kw: ConvLeakyNet(**kw), 2, 2, True, input_shape=(2, 6), cls=ConvLeakyNet,
            description='1-D conv feeding leaky units position by position'),
    Fixture('lif', lambda **kw: SpikingNet(neuron='lif', **kw), 5, 3, True, spiking=True, cls=SpikingNet,
            description='LIF layer, feed-forward input in mA, surrogate gradient'),
    Fixture('alif', lambda **kw: SpikingNet(neuron='alif', **kw), 5, 3, True, spiking=True, cls=SpikingNet,
            description='two-state ALIF layer (V and adaptation a)'),
    Fixture('rnn', lambda **kw: RecurrentNet('rnn', **kw), 4, 3, False, cls=RecurrentNet,
            description='dense tanh RNN: recurrent mixing makes online rules approximate'),
    Fixture('gru', lambda **kw: RecurrentNet('gru', **kw), 4, 3, False, cls=RecurrentNet,
            description='GRU: mixing, and a reset gate reaching h only through another weight'),
]}


def fixture_names():
    return sorted(CATALOG)


def get_fixture(name: str) -> Fixture:
    """The catalog fixture called ``name`` (a ``ValueError`` listing the names, with the closest, if none)."""
    if not isinstance(name, str):
        raise TypeError(f'get_fixture: name must be a string, got {name!r} ({type(name).__name__}); use one of '
                        f'{", ".join(fixture_names())}.')
    key = name.strip().lower().replace('-', '_')
    if key not in CATALOG:
        close = difflib.get_close_matches(key, fixture_names(), n=1)
        hint = f' (did you mean {close[0]!r}?)' if close else ''
        raise ValueError(f'no fixture {name!r}{hint}; the fixtures are: {", ".join(fixture_names())}.')
    return CATALOG[key]
