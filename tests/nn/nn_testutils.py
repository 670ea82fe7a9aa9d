"""Helpers shared by the ``braintrace_lab.nn`` tests (imported as a plain module)."""
import brainstate
import brainunit as u
import jax
import numpy as np
import jax.numpy as jnp

import braintrace_lab.nn as nn


def etp_eqns(jaxpr):
    """The ``etp_op`` equations of a (closed) jaxpr, top level only."""
    inner = getattr(jaxpr, 'jaxpr', jaxpr)
    return [e for e in inner.eqns if e.primitive.name == 'etp_op']


def step_jaxpr(model, *args):
    """Jaxpr of one ``model(*args)`` step, and the states it touches, in invar order."""
    jaxpr, states = brainstate.transform.make_jaxpr(model)(*args)
    return jaxpr, states


def param_invars(jaxpr, states, args):
    """Map each ParamState leaf to its jaxpr input variable."""
    inner = jaxpr.jaxpr
    n_args = len(jax.tree.leaves(args))
    invars = list(inner.invars[n_args:])
    out = {}
    pos = 0
    for st in states:
        for leaf_path, _ in jax.tree_util.tree_flatten_with_path(st.value)[0]:
            if isinstance(st, brainstate.ParamState):
                out[(id(st), jax.tree_util.keystr(leaf_path))] = invars[pos]
            pos += 1
    assert pos == len(invars)
    return out


def consumers(jaxpr, var):
    return [e for e in jaxpr.jaxpr.eqns if any(v is var for v in e.invars)]


class NpNormal:
    """A NumPy initializer: no JAX random kernels to compile per shape keeps the tests fast."""

    def __init__(self, scale=0.5, seed=0):
        self.scale = scale
        self.rng = np.random.RandomState(seed)

    def __call__(self, shape, **kwargs):
        return (self.scale * self.rng.standard_normal(shape)).astype(np.float32)


def np_init(scale=0.5, seed=0):
    return NpNormal(scale, seed)


def rand(*shape, seed=0):
    return jnp.asarray(np.random.RandomState(seed).rand(*shape).astype(np.float32))


# (factory, number of etp_op equations in one unbatched step)
LAYERS = {
    'Linear': (lambda: nn.Linear(5, 3, w_init=np_init(), b_init=np_init()), 1),
    'LinearNoBias': (lambda: nn.Linear(5, 3, w_init=np_init(), use_bias=False), 1),
    'SparseLinear': (lambda: nn.SparseLinear(5, 3, prob=0.6, seed=1, w_init=np_init()), 1),
    'LoRALinear': (lambda: nn.LoRALinear(5, 3, rank=2, alpha=0.5, base_weight=np.ones((5, 3), np.float32),
                                         a_init=np_init(), b_init=np_init()), 1),
    'Conv1d': (lambda: nn.Conv1d((9, 2), 4, kernel_size=3, stride=2, w_init=np_init(), b_init=np_init()), 1),
    'Conv2d': (lambda: nn.Conv2d((6, 5, 2), 3, kernel_size=(3, 2), padding='VALID', w_init=np_init(),
                                 b_init=np_init()), 1),
    'LeakyRateReadout': (lambda: nn.LeakyRateReadout(5, 3, tau=20. * u.ms, w_init=np_init()), 1),
    'VanillaRNNCell': (lambda: nn.VanillaRNNCell(5, 3, w_init=np_init(), b_init=np_init()), 1),
    'GRUCell': (lambda: nn.GRUCell(5, 3, w_init=np_init(), b_init=np_init()), 3),
    'LSTMCell': (lambda: nn.LSTMCell(5, 3, w_init=np_init(), b_init=np_init()), 4),
    'MGUCell': (lambda: nn.MGUCell(5, 3, w_init=np_init(), b_init=np_init()), 2),
}
