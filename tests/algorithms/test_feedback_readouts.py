"""Random feedback replaces a readout's transpose: only ops that read the states out count as readouts.

In braintrace's e-prop tutorial network the output is ``spike @ w_out`` in plain JAX. The
input and recurrent ops (``x W_in``, ``z^{t-1} W_rec``) reach that output too, but they
are no readout: random feedback put there would leave the learning signal unchanged.
"""
import brainstate
import braintools
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import braintrace_lab as bl
from braintrace_lab.compiler import compile_program
from braintrace_lab.errors import CompilationError


class SmallSNN(brainstate.nn.Module):
    def __init__(self, n_in=2, n_rec=6, linear_readout=False):
        super().__init__()
        self.n_rec = n_rec
        self.w_in = brainstate.ParamState(0.3 * brainstate.random.randn(n_in, n_rec))
        self.w_rec = brainstate.ParamState(0.1 * brainstate.random.randn(n_rec, n_rec))
        self.w_out = brainstate.ParamState(0.2 * brainstate.random.randn(n_rec, 1))
        self.linear_readout = linear_readout
        self.surrogate = braintools.surrogate.ReluGrad()

    def init_state(self, **kwargs):
        self.v = brainstate.HiddenState(jnp.zeros(self.n_rec))
        self.z = brainstate.HiddenState(jnp.zeros(self.n_rec))

    def update(self, x):
        drive = bl.matmul(x, self.w_in.value) + bl.matmul(self.z.value, self.w_rec.value)
        self.v.value = 0.9 * self.v.value + drive - self.z.value
        self.z.value = self.surrogate(self.v.value - 0.45)
        if self.linear_readout:
            return bl.matmul(self.z.value, self.w_out.value)
        return self.z.value @ self.w_out.value


def _model(**kwargs):
    brainstate.random.seed(21)
    model = SmallSNN(**kwargs)
    brainstate.nn.init_all_states(model)
    return model


XS = (jax.random.uniform(jax.random.PRNGKey(0), (16, 2)) < 0.35).astype(jnp.float32)
TARGETS = jnp.full((16, 1), 0.25)


def test_input_and_recurrent_ops_are_not_readouts():
    plain = compile_program(_model(), XS[0])
    assert plain.readout_ops == ()
    linear = compile_program(_model(linear_readout=True), XS[0])
    assert linear.readout_ops == (2,) and linear.ops[2].groups == ()


def test_random_feedback_without_a_readout_op_is_refused():
    with pytest.raises(CompilationError, match=r'no ETP op reads the hidden states out .* spike @ w_out.*'
                                               r"braintrace_lab.nn.Linear, or use feedback='symmetric'"):
        bl.compile(_model(), bl.EProp, XS[0], feedback='random')


def test_random_feedback_through_a_readout_op_changes_the_hidden_gradients():
    grads = {}
    for fb in ('symmetric', 'random'):
        model = _model(linear_readout=True)
        learner = bl.compile(model, bl.EProp, XS[0], feedback=fb)
        grads[fb] = {k[0]: np.asarray(v) for k, v in learner.etrace_grad(
            XS, TARGETS, step_fn=lambda x, t: jnp.mean((learner(x) - t) ** 2)).items()}
    for name in ('w_in', 'w_rec'):                 # the signal to the hidden units goes through B
        assert np.abs(grads['random'][name] - grads['symmetric'][name]).max() > 1e-3 * np.abs(
            grads['symmetric'][name]).max()
    np.testing.assert_allclose(grads['random']['w_out'], grads['symmetric']['w_out'], rtol=1e-6)
