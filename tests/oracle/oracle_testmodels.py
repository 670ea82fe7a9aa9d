"""Tiny models for the oracle tests: every kind of state the oracle must handle."""
import brainpy
import brainstate
import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np

from braintrace_lab import ops


def rand(rng, shape, scale=1.0, dtype=None):
    dtype = dtype or jnp.float32
    return jnp.asarray(scale * rng.standard_normal(shape), dtype=dtype)


class LeakyIntegrator(brainstate.nn.Module):
    """``h = lam * h + x @ W`` (an ETP matmul) with a linear readout ``y = h @ W_out``."""

    def __init__(self, n_in=3, n_h=4, n_out=2, lam=0.8, dtype=None, seed=0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.n_h, self.lam, self.dtype = n_h, lam, dtype or jnp.float32
        self.w_in = brainstate.ParamState(rand(rng, (n_in, n_h), 0.5, dtype))
        self.w_out = brainstate.ParamState(rand(rng, (n_h, n_out), 0.5, dtype))

    def init_state(self, *args, **kwargs):
        self.h = brainstate.HiddenState(jnp.zeros(self.n_h, self.dtype))

    def update(self, x):
        self.h.value = self.lam * self.h.value + ops.matmul(x, self.w_in.value)
        return self.h.value @ self.w_out.value


class TanhRNN(brainstate.nn.Module):
    """Dense tanh RNN with a ``brainstate.nn.Linear`` readout (a dict-valued ParamState)."""

    def __init__(self, n_in=3, n_h=5, n_out=2, dtype=None, seed=1):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.n_h, self.dtype = n_h, dtype or jnp.float32
        self.w_in = brainstate.ParamState(rand(rng, (n_in, n_h), 0.6, dtype))
        self.w_rec = brainstate.ParamState(rand(rng, (n_h, n_h), 0.5, dtype))
        self.bias = brainstate.ParamState(rand(rng, (n_h,), 0.1, dtype))
        self.readout = brainstate.nn.Linear(n_h, n_out)
        self.readout.weight.value = {'weight': rand(rng, (n_h, n_out), 0.5, dtype),
                                     'bias': rand(rng, (n_out,), 0.1, dtype)}

    def init_state(self, *args, **kwargs):
        self.h = brainstate.HiddenState(jnp.zeros(self.n_h, self.dtype))

    def update(self, x):
        self.h.value = jnp.tanh(x @ self.w_in.value + self.h.value @ self.w_rec.value + self.bias.value)
        return self.readout(self.h.value)


class GRULike(brainstate.nn.Module):
    """A GRU cell written with jnp; all gate weights in one dict-valued ParamState."""

    def __init__(self, n_in=3, n_h=4, n_out=2, dtype=None, seed=2):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.n_h, self.dtype = n_h, dtype or jnp.float32
        gates = {}
        for g in 'zrc':
            gates['W' + g] = rand(rng, (n_in, n_h), 0.6, dtype)
            gates['U' + g] = rand(rng, (n_h, n_h), 0.5, dtype)
        self.gates = brainstate.ParamState(gates)
        self.w_out = brainstate.ParamState(rand(rng, (n_h, n_out), 0.5, dtype))

    def init_state(self, *args, **kwargs):
        self.h = brainstate.HiddenState(jnp.zeros(self.n_h, self.dtype))

    def update(self, x):
        p, h = self.gates.value, self.h.value
        z = jax.nn.sigmoid(x @ p['Wz'] + h @ p['Uz'])
        r = jax.nn.sigmoid(x @ p['Wr'] + h @ p['Ur'])
        c = jnp.tanh(x @ p['Wc'] + (r * h) @ p['Uc'])
        self.h.value = (1 - z) * h + z * c
        return self.h.value @ self.w_out.value


class UnitIntegrator(brainstate.nn.Module):
    """Leaky integrator in physical units plus a ShortTermState low-pass trace.

    ``V = lam V + x @ W`` (``W`` in mV, ``V`` a HiddenState in mV); the trace
    ``s = 0.7 s + tanh(V / mV)`` is a ShortTermState that carries the
    parameters' influence through time on its own; ``y = s @ W_out``.
    """

    def __init__(self, n_in=3, n_h=4, n_out=2, dtype=None, seed=3):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.n_h, self.dtype = n_h, dtype or jnp.float32
        self.w_in = brainstate.ParamState(rand(rng, (n_in, n_h), 0.5, dtype) * u.mV)
        self.w_out = brainstate.ParamState(rand(rng, (n_h, n_out), 0.5, dtype))

    def init_state(self, *args, **kwargs):
        self.V = brainstate.HiddenState(jnp.zeros(self.n_h, self.dtype) * u.mV)
        self.trace = brainstate.ShortTermState(jnp.zeros(self.n_h, self.dtype))

    def update(self, x):
        self.V.value = 0.9 * self.V.value + x @ self.w_in.value
        self.trace.value = 0.7 * self.trace.value + jnp.tanh(self.V.value / u.mV)
        return self.trace.value @ self.w_out.value


class LIFNet(brainstate.nn.Module):
    """Input weights (in mA) -> ``brainpy.state.LIF`` (or ``neuron``) -> linear readout of the spikes.

    Build and run inside ``brainstate.environ.context(dt=1. * u.ms)``.
    """

    def __init__(self, n_in=4, n_rec=6, n_out=2, w_scale=1.0, seed=4, neuron=None):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.w_in = brainstate.ParamState(jnp.asarray(w_scale * rng.uniform(0.2, 1.0, (n_in, n_rec)),
                                                      jnp.float32) * u.mA)
        self.neuron = neuron or brainpy.state.LIF(n_rec, tau=5. * u.ms, V_th=1. * u.mV)
        self.w_out = brainstate.ParamState(rand(rng, (n_rec, n_out), 0.5))

    def update(self, x):
        spk = self.neuron(x @ self.w_in.value)
        return spk @ self.w_out.value


class FeedForward(brainstate.nn.Module):
    """No HiddenState at all (the oracle must refuse it)."""

    def __init__(self):
        super().__init__()
        self.w = brainstate.ParamState(jnp.ones((3, 2)))

    def update(self, x):
        return x @ self.w.value


class NoParams(brainstate.nn.Module):
    """A HiddenState but no ParamState (nothing to differentiate)."""

    def __init__(self):
        super().__init__()
        self.h = brainstate.HiddenState(jnp.zeros(3))

    def update(self, x):
        self.h.value = 0.5 * self.h.value + x
        return self.h.value


def make(cls, *args, seed_state=None, **kwargs):
    """Build a model, initialise its states and optionally give them a random non-zero start."""
    model = cls(*args, **kwargs)
    brainstate.nn.init_all_states(model)
    if seed_state is not None:
        rng = np.random.default_rng(seed_state)
        for st in model.states(brainstate.HiddenState).values():
            val = st.value
            m = jnp.asarray(0.3 * rng.standard_normal(np.shape(u.get_mantissa(val))),
                            jnp.result_type(u.get_mantissa(val)))
            st.value = m * u.get_unit(val) if isinstance(val, u.Quantity) else m
    return model


def snapshot(model):
    """Every state value of the model, as numpy (mantissas), keyed by path."""
    return {k: [np.asarray(x) for x in jax.tree.leaves(st.value)] for k, st in model.states().items()}


def same_snapshot(a, b) -> bool:
    return a.keys() == b.keys() and all(
        len(a[k]) == len(b[k]) and all(np.array_equal(x, y) for x, y in zip(a[k], b[k])) for k in a)


def mse_loss(ys):
    """Per-step squared error against targets ``ys[t]``."""
    return lambda out, t: jnp.sum((out - ys[t]) ** 2)
