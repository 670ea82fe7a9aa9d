"""Helpers shared by the engine tests: run a rule and the oracle on a catalog fixture."""
import brainstate
import jax
import jax.numpy as jnp
import numpy as np

import braintrace_lab as bl
from braintrace_lab.models import get_fixture, mse_loss
from braintrace_lab.oracle import agreement, bptt_grad, rtrl_grad


def online_grads(fx, algo_cls, xs, ys, window=None, dtype=jnp.float32, batch_size=None, **options):
    model = fx.build(dtype=dtype, batch_size=batch_size)
    method = 'single-step' if window is None else 'multi-step'
    learner = algo_cls(model, vjp_method=method, **options)
    learner.compile_graph(xs[0])
    grads, losses = learner.etrace_grad(xs, ys, mse_loss, window=window)
    return grads, losses, learner


def reference(fx, xs, ys, kind='bptt', dtype=jnp.float32, batch_size=None):
    model = fx.build(dtype=dtype, batch_size=batch_size)
    fn = bptt_grad if kind == 'bptt' else rtrl_grad
    grads, losses = fn(model, xs, lambda out, t: mse_loss(out, ys[t]))
    return grads, losses


def worst_error(grads, ref):
    return max(r.relative_error for r in agreement(grads, ref).rows)


def assert_matches_bptt(fx, algo_cls, seed, T, windows=(None, 3), tol=1e-5):
    """Run ``algo_cls`` on fixture ``fx`` single-step and windowed; each must equal BPTT. Returns the last learner."""
    with fx.context():
        xs, ys = fx.data(T=T, seed=seed)
        ref, _ = reference(fx, xs, ys)
        for window in windows:
            grads, _, learner = online_grads(fx, algo_cls, xs, ys, window=window)
            assert worst_error(grads, ref) < tol, (fx.name, window)
    return learner


def as_np(x):
    """A gradient leaf as float64 NumPy (a brainunit quantity's mantissa)."""
    return np.asarray(getattr(x, 'mantissa', x), dtype=np.float64)


def flat(grads):
    """Every leaf of a gradient tree, raveled end to end."""
    return np.concatenate([np.ravel(as_np(x)) for x in jax.tree.leaves(grads)])


def sequence_grads(fx, make, T=5, seed=3):
    """``etrace_grad`` of the learner ``make(model)`` on fixture ``fx``'s data; returns ``(grads, learner)``."""
    with fx.context():
        xs, ys = fx.data(T=T, seed=seed)
        learner = make(fx.build())
        learner.compile_graph(xs[0])
        grads, _ = learner.etrace_grad(xs, ys, mse_loss)
    return grads, learner
