"""RFLO against a NumPy re-derivation, step by step, and its symmetric-feedback limit."""
import brainstate
import jax
import jax.numpy as jnp
import numpy as np

import braintrace_lab as bl
from braintrace_lab.oracle import agreement

N_IN, N, N_OUT, T, A = 3, 5, 2, 7, 0.3


class LeakyRate(brainstate.nn.Module):
    """``h = (1 - a) h + a (phi(h) W + x U)``, ``y = phi(h) R``: Murray's leaky rate network."""

    def __init__(self, seed=0):
        super().__init__()
        k = jax.random.split(jax.random.PRNGKey(seed), 3)
        self.w = brainstate.ParamState(jax.random.normal(k[0], (N, N), jnp.float64) * 0.7)
        self.u = brainstate.ParamState(jax.random.normal(k[1], (N_IN, N), jnp.float64))
        self.r = brainstate.ParamState(jax.random.normal(k[2], (N, N_OUT), jnp.float64) * 0.5)

    def init_state(self, *args, **kwargs):
        self.h = brainstate.HiddenState(jnp.zeros(N, jnp.float64))

    def update(self, x):
        h = self.h.value
        self.h.value = (1 - A) * h + A * (bl.matmul(jnp.tanh(h), self.w.value) + bl.matmul(x, self.u.value))
        return bl.matmul(jnp.tanh(self.h.value), self.r.value)


def loss(out, y):
    return 0.5 * jnp.sum((out - y) ** 2)


def _data():
    rng = np.random.default_rng(4)
    return jnp.asarray(rng.standard_normal((T, N_IN))), jnp.asarray(rng.standard_normal((T, N_OUT)))


def _run(rule, **options):
    model = LeakyRate()
    brainstate.nn.init_all_states(model)
    xs, ys = _data()
    learner = bl.compile(model, rule, xs[0], **options)
    return learner, learner.etrace_grad(xs, ys, loss)[0], model


def _numpy_rflo(model, B):
    """Murray's RFLO: ``P = (1 - a) P + a u``, ``dW_ij += (phi'(h_j) (e B^T)_j) P_ij`` summed over time."""
    W, U, R = (np.asarray(model.w.value), np.asarray(model.u.value), np.asarray(model.r.value))
    xs, ys = map(np.asarray, _data())
    h = np.zeros(N)
    PW, PU = np.zeros((N, N)), np.zeros((N_IN, N))
    dW, dU, dR = np.zeros_like(W), np.zeros_like(U), np.zeros_like(R)
    for t in range(T):
        r_prev = np.tanh(h)
        h = (1 - A) * h + A * (r_prev @ W + xs[t] @ U)
        PW = (1 - A) * PW + A * r_prev[:, None]
        PU = (1 - A) * PU + A * xs[t][:, None]
        err = np.tanh(h) @ R - ys[t]
        sig = (1 - np.tanh(h) ** 2) * (err @ B.T)            # the error through the fixed feedback
        dW += PW * sig[None, :]
        dU += PU * sig[None, :]
        dR += np.outer(np.tanh(h), err)                      # the readout learns by its exact gradient
    return {('w',): dW, ('u',): dU, ('r',): dR}


def test_rflo_matches_its_numpy_rederivation(x64):
    learner, grads, model = _run('rflo', feedback_seed=7)
    (B,) = learner.feedback_matrices.values()
    assert B.shape == (N, N_OUT)
    want = _numpy_rflo(model, np.asarray(B, np.float64))
    for key, value in want.items():
        np.testing.assert_allclose(np.asarray(grads[key]), value, rtol=1e-9, atol=1e-12, err_msg=str(key))


def test_with_the_readouts_transpose_rflo_is_the_diagonal_trace_gradient(x64):
    learner, grads, model = _run('rflo', feedback='symmetric')
    want = _numpy_rflo(model, np.asarray(model.r.value))
    for key, value in want.items():
        np.testing.assert_allclose(np.asarray(grads[key]), value, rtol=1e-9, atol=1e-12, err_msg=str(key))
    _, eprop, _ = _run('eprop')
    assert agreement(grads, eprop).relative_error < 1e-12


def test_random_feedback_changes_the_gradient_and_the_seed_matters(x64):
    """Negative control: the feedback matrix really enters (and is not the readout's transpose)."""
    _, sym, _ = _run('rflo', feedback='symmetric')
    _, r1, _ = _run('rflo', feedback_seed=1)
    _, r2, _ = _run('rflo', feedback_seed=2)
    assert agreement(r1, sym).relative_error > 0.1
    assert agreement(r1, r2).relative_error > 0.1
    np.testing.assert_allclose(np.asarray(r1[('r',)]), np.asarray(sym[('r',)]), rtol=1e-12)   # readout exact
