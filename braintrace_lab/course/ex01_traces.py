"""Tutorial 01's exercises: the eligibility trace of a leaky neuron, and the learning signal of a readout.

Both are graded on the catalog's leaky integrator (``get_fixture('leaky')``, batch 2,
12 steps, data seed 0, per-step loss ``mse_loss``),

.. math:: h^t = \\lambda h^{t-1} + \\tanh(a^t), \\quad a^t = x^t W + b, \\quad y^t = h^t V,

by running the student's function inside the online gradient
``dL/dW = sum_t sum_j (dL^t/dh^t_j) eps^t_{ij}`` and comparing it with the oracle (BPTT,
which D-RTRL equals on this model).

>>> from braintrace_lab.course import check
>>> def trace_update(eps, x, a, lam):
...     return ...                      # the stub: reported as not yet solved
>>> check('01-trace-update', trace_update).passed
01-trace-update: not yet solved. ...
False
"""
from __future__ import annotations

import functools

import numpy as np

from .grading import (Exercise, StudentCodeError, Unsolved, WrongAnswer, as_array, call, correct, cosine,
                      how_far, relative_error, scale_of)

__all__ = ['EXERCISES', 'leaky_problem', 'online_weight_grad']

B, T = 2, 12
N_IN, N_HIDDEN, N_OUT, LAM = 4, 6, 3, 0.8       # the catalog leaky model's sizes and leak (leaky_problem)


@functools.lru_cache(maxsize=1)
def leaky_problem():
    """The graded problem: weights, data and BPTT's gradient of ``W``, as numpy arrays (computed once)."""
    from ..models import get_fixture, mse_loss
    from ..oracle import bptt_grad

    fx = get_fixture('leaky')
    with fx.context():
        model = fx.build(batch_size=B)
        xs, ys = fx.data(T=T, seed=0, batch_size=B)
        exact, _ = bptt_grad(model, xs, lambda out, t: mse_loss(out, ys[t]))
    w = model.w.value
    params = {'W': np.asarray(w['weight']), 'b': np.asarray(w['bias']),
              'V': np.asarray(model.readout.weight.value), 'lam': float(model.lam)}
    if (p_shape := (params['W'].shape, params['V'].shape[1], params['lam'])) != ((N_IN, N_HIDDEN), N_OUT, LAM):
        raise RuntimeError(f'the catalog leaky model changed to {p_shape}: update N_IN, N_HIDDEN, N_OUT, LAM')
    return params, np.asarray(xs), np.asarray(ys), np.asarray(exact[('w',)]['weight'])


def _signal_reference(h, V, y):
    """``dL^t/dh^t`` of ``L^t = sum (h V - y)^2``, by automatic differentiation."""
    import jax
    import jax.numpy as jnp
    return np.asarray(jax.grad(lambda hh: jnp.sum((hh @ V - y) ** 2))(jnp.asarray(h)))


def _trace_reference(eps, x, a, lam):
    """``eps^t`` of a leaky tanh unit: the old trace leaked by ``lam``, plus ``x`` times ``dh/da``."""
    import jax
    import jax.numpy as jnp
    slope = np.asarray(jax.vmap(jax.vmap(jax.grad(jnp.tanh)))(jnp.asarray(a)))
    return lam * eps + x[:, :, None] * slope[:, None, :]


def online_weight_grad(trace_update, learning_signal, what_trace='trace_update', what_signal='learning_signal'):
    """``sum_t sum_b sum_j signal^t[b, j] eps^t[b, i, j]`` on the graded problem, with the given pieces."""
    p, xs, ys, _ = leaky_problem()
    W, b, V, lam = p['W'], p['b'], p['V'], p['lam']
    n_in, n = W.shape
    h, eps, grad = np.zeros((B, n)), np.zeros((B, n_in, n)), np.zeros((n_in, n))
    for x, y in zip(xs.astype(np.float64), ys.astype(np.float64)):
        a = x @ W + b
        h = lam * h + np.tanh(a)
        eps = as_array(call(trace_update, eps, x, a, lam, what=what_trace), (B, n_in, n),
                       f'the trace returned by {what_trace}')
        sig = as_array(call(learning_signal, h, V, y, what=what_signal), (B, n),
                       f'the learning signal returned by {what_signal}')
        grad = grad + np.einsum('bij,bj->ij', eps, sig)
    return grad


def _grade_trace(answer):
    name = '01-trace-update'
    n_in, n, lam = N_IN, N_HIDDEN, LAM
    rng = np.random.default_rng(7)
    x, a = rng.normal(size=(B, n_in)), rng.normal(size=(B, n))
    # first a cheap probe (a stub stops here): the memory term alone, no input, a trace of ones
    kept = as_array(call(answer, np.ones((B, n_in, n)), np.zeros((B, n_in)), np.zeros((B, n)), lam),
                    (B, n_in, n), 'the trace your function returns')
    _, _, _, exact = leaky_problem()
    grad = online_weight_grad(answer, _signal_reference, what_trace='your trace_update')
    err = relative_error(grad, exact)
    if err < 1e-4:
        return correct(name, 'Your trace, times the learning signal and summed over time, gives D-RTRL\'s '
                             'gradient for W, which equals BPTT\'s on this leaky unit (relative error below 1e-4).')
    hints = [f'Your gradient for W is off: relative error {err:.2g} against BPTT '
             f'(cosine {cosine(grad, exact):.3f}).']
    leak = float(np.mean(kept))
    if not np.allclose(kept, lam, atol=1e-6):
        hints.append(f'The memory term is off: with no input your trace keeps {leak:.3g} of itself per step, '
                     f'but the unit keeps lambda = {lam:g} of its state. Look at the term that carries eps^(t-1).')
    else:
        new = as_array(call(answer, np.zeros((B, n_in, n)), x, a, lam), (B, n_in, n),
                       'the trace your function returns')
        ref = _trace_reference(np.zeros((B, n_in, n)), x, a, lam)
        s = scale_of(new, ref)
        flat_slope = x[:, :, None] * np.ones((1, 1, n))
        if relative_error(new, flat_slope) < 1e-6:
            hints.append('The new term ignores the nonlinearity: x enters the state through tanh(a), so it is '
                         'scaled by the slope D_f = dh/da of that step. Look at the derivative of tanh at a.')
        elif relative_error(new, s * ref) < 1e-6:
            hints.append(f'The new term (what one step of input adds) is proportional to dh^t/dW but '
                         f'{how_far(s, 1.0)}. Look at the factor that multiplies x.')
        elif relative_error(new, ref) > 1e-6:
            hints.append(f'The new term (what one step of input adds) does not point the same way as dh^t/dW '
                         f'(cosine {cosine(new, ref):.2f}). Look at which factor multiplies x and at its index: '
                         f'eps[b, i, j] pairs input i with unit j.')
    return _wrong(hints)


def _grade_signal(answer):
    name = '01-learning-signal'
    rng = np.random.default_rng(11)
    h, V, y = rng.normal(size=(B, N_HIDDEN)), rng.normal(size=(N_HIDDEN, N_OUT)), rng.normal(size=(B, N_OUT))
    got = as_array(call(answer, h, V, y, what='your learning_signal'), h.shape,
                   'the learning signal your function returns')
    ref = _signal_reference(h, V, y)
    err = relative_error(got, ref)
    if err < 1e-6:
        _, _, _, exact = leaky_problem()
        grad = online_weight_grad(_trace_reference, answer, what_signal='your learning_signal')
        if relative_error(grad, exact) < 1e-4:
            return correct(name, 'Your learning signal dL^t/dh^t, times the eligibility trace and summed over '
                                 'time, gives BPTT\'s gradient for W (relative error below 1e-4).')
        raise WrongAnswer('Your learning signal is right on one step but not along the sequence: does it '
                          'depend on anything other than its arguments h, V and y?')
    s = scale_of(got, ref)
    hints = [f'Your learning signal is off: relative error {err:.2g} against dL^t/dh^t on a random probe.']
    per_batch = _batch_scaling(answer, s, rng) if relative_error(got, s * ref) < 1e-6 else None
    if per_batch is not None:
        hints.append('It points the right way, but it shrinks as the batch grows: you divided by the batch size. '
                     'L^t sums over the batch (as mse_loss does), so the signal of one sequence does not depend '
                     'on how many others share the batch.')
        if abs(per_batch - 1) > 1e-3:
            hints.append(f'Without that division it would still be {how_far(per_batch, 1.0)}: look at the factors '
                         f'the chain rule brings through the square.')
    elif abs(s - 0.5) < 1e-3 and relative_error(got, 0.5 * ref) < 1e-6:
        hints.append('It points the right way but is half as large: differentiate the square in '
                     'L^t = sum (y - y*)^2 once more, carefully.')
    elif relative_error(got, s * ref) < 1e-6:
        hints.append(f'It is proportional to the right signal but {how_far(s, 1.0)}. Look at the factors '
                     f'the chain rule brings through the square and through y = h V.')
    else:
        hints.append(f'It does not point the same way (cosine {cosine(got, ref):.2f}). Look at the chain rule '
                     f'through y = h V: the signal for unit j collects the output errors through row j of V.')
    return _wrong(hints)


def _batch_scaling(answer, scale, rng):
    """``scale * B`` if the answer, probed again with another batch size, scales like ``1 / batch``; else None.

    The graded probe has batch ``B``; a signal divided by the batch size is then ``1 / B`` of the right one,
    which looks the same as a constant factor. A second probe with batch ``B + 1`` tells them apart.
    """
    b2 = B + 1
    h, V, y = rng.normal(size=(b2, N_HIDDEN)), rng.normal(size=(N_HIDDEN, N_OUT)), rng.normal(size=(b2, N_OUT))
    try:
        got = as_array(call(answer, h, V, y, what='your learning_signal'), h.shape, 'the learning signal')
    except (WrongAnswer, StudentCodeError, Unsolved):
        return None
    ref = _signal_reference(h, V, y)
    s2 = scale_of(got, ref)
    if relative_error(got, s2 * ref) > 1e-6 or abs(s2 - scale) < 1e-6 * abs(scale):
        return None
    per_batch = scale * B
    return per_batch if abs(s2 * b2 - per_batch) < 1e-6 * abs(per_batch) else None


def _wrong(hints):
    raise WrongAnswer(' '.join(hints))


EXERCISES = (
    Exercise('01-trace-update', '01_online_learning', 'The eligibility trace of a leaky tanh neuron',
             'a function trace_update(eps, x, a, lam) -> new eps, shapes (B, I, N), (B, I), (B, N)',
             _grade_trace),
    Exercise('01-learning-signal', '01_online_learning', 'The learning signal of a linear readout',
             'a function learning_signal(h, V, y_target) -> dL^t/dh^t of L^t = sum (h V - y*)^2, shape of h',
             _grade_signal),
)
