"""The seed tutorial's training loop: per-sample learners, per-step gradients summed over a sequence.

Every sample of a batch gets its own model and learner states (``vmap_new_states``
plus ``brainstate.nn.Vmap``); at each step the online gradient of the step loss is
taken and the gradients are summed over the sequence before one optimizer update.

>>> batched = per_sample_learner(model, learner, xs[0, 0], batch_size=xs.shape[1])   # doctest: +SKIP
>>> loss = cross_entropy_update(batched, weights, opt, xs, labels)                     # doctest: +SKIP
"""
from __future__ import annotations

import brainstate
import braintools
import jax
import jax.numpy as jnp

__all__ = ['per_sample_learner', 'summed_step_grads', 'cross_entropy_update']


def per_sample_learner(model, learner, example_input, batch_size: int) -> brainstate.nn.Vmap:
    """Give each of ``batch_size`` samples its own states and compiled graph; return the batched learner."""
    @brainstate.transform.vmap_new_states(state_tag='new', axis_size=batch_size)
    def init():
        brainstate.nn.init_all_states(model)
        learner.compile_graph(example_input)

    init()
    return brainstate.nn.Vmap(learner, vmap_states='new')


def summed_step_grads(loss_fn, weights, xs):
    """Scan ``loss_fn(x)`` over the leading axis of ``xs``: ``(gradients summed over steps, step losses)``."""
    def body(acc, x):
        g, loss = brainstate.transform.grad(loss_fn, weights, return_value=True)(x)
        return jax.tree.map(jnp.add, acc, g), loss

    zero = jax.tree.map(jnp.zeros_like, weights.to_dict_values())
    return brainstate.transform.scan(body, zero, xs)


def cross_entropy_update(batched, weights, optimizer, inputs, labels, max_grad_norm: float = 1.0):
    """One update on integer ``labels`` scored at every step: summed gradients, clipped, applied; mean loss."""
    def loss_fn(x):
        return braintools.metric.softmax_cross_entropy_with_integer_labels(batched(x), labels).mean()

    grads, losses = summed_step_grads(loss_fn, weights, inputs)
    optimizer.update(brainstate.nn.clip_grad_norm(grads, max_grad_norm))
    return losses.mean()
