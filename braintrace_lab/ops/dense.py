"""Dense ETP ops: ``matmul`` and ``lora_matmul``, with braintrace's keywords.

Both are seen by the trace engines as ``y = x @ W_eff (+ b_eff)``. A plain matmul
is its own dense form; with ``weight_fn`` / ``bias_fn`` (kind ``'matmul_fn'``) or
as a LoRA product the spec maps the raw weight leaves to ``W_eff`` and ``b_eff``,
and the engines' dense gradients go back to the leaves through that map's VJP.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Optional

import jax.numpy as jnp

from ._primitive import OpSpec, bind_op
from ._units import attach, product_unit, strip, to_unit

__all__ = ['matmul', 'lora_matmul', 'MatMulSpec', 'LoraSpec']


def _identity(w):
    return w


@dataclasses.dataclass(frozen=True)
class MatMulSpec(OpSpec):
    """``y = x @ weight_fn(W) (+ bias_fn(b))``; ``x`` may carry leading position (batch) axes.

    ``config`` is ``()`` for the plain product, ``(weight_fn, bias_fn)`` otherwise.
    """

    def _fns(self):
        return self.config if self.config else (_identity, _identity)

    def _compute(self, x, w, *rest):
        wf, bf = self._fns()
        y = jnp.matmul(x, wf(w))
        if 'bias' in self.weight_names:
            y = y + bf(rest[0])
        return y

    def dense_weight(self, weights):
        return self._fns()[0](weights[0])

    def dense_bias(self, weights):
        return self._fns()[1](weights[1]) if len(weights) > 1 else None


@dataclasses.dataclass(frozen=True)
class LoraSpec(OpSpec):
    """``y = x @ W0 + alpha * x @ b_fn(B) @ a_fn(A) (+ bias_fn(b))``; trainable: ``B``, ``A`` (and ``b``).

    ``config = (alpha, has_base, b_fn, a_fn, bias_fn)``; the frozen base ``W0`` is the
    last (constant) operand.
    """

    def dense_weight(self, weights):
        alpha, _, b_fn, a_fn, _ = self.config
        return alpha * jnp.matmul(b_fn(weights[0]), a_fn(weights[1]))

    def dense_bias(self, weights):
        return self.config[4](weights[2]) if len(weights) > 2 else None

    def _compute(self, x, *rest):
        n = self.n_weights
        weights, const = rest[:n], rest[n:]
        alpha, has_base, b_fn, a_fn, _ = self.config
        y = alpha * jnp.matmul(jnp.matmul(x, b_fn(weights[0])), a_fn(weights[1]))
        if has_base:
            y = y + jnp.matmul(x, const[0])
        b = self.dense_bias(weights)
        return y if b is None else y + b


def matmul(x, weight, bias=None, *, weight_fn: Optional[Callable] = None, bias_fn: Optional[Callable] = None):
    """ETP matrix product ``x @ weight_fn(weight) + bias_fn(bias)``.

    ``weight`` has shape ``(in, out)``; ``x`` has shape ``(..., in)`` (braintrace
    takes ``(in,)`` or ``(batch, in)``; more leading axes are positions here).
    ``weight_fn`` / ``bias_fn`` are element-wise transforms applied inside the op:
    traces and gradients are taken with respect to the raw weights. Quantities are
    accepted: the result carries ``unit(x) * unit(weight)`` and ``bias`` must be
    convertible to that unit.

    >>> y = matmul(jnp.ones((2, 3)), jnp.ones((3, 4)))                 # (2, 4)
    >>> x, w = jnp.ones((2, 3)), -jnp.ones((3, 4))
    >>> y = matmul(x, w, weight_fn=jnp.abs)                            # x @ |w|
    """
    xm, xu = strip(x)
    wm, wu = strip(weight)
    _check_dense(xm, wm, 'matmul', 'weight')
    operands = [xm, wm]
    names = ('weight',)
    out_unit = product_unit(xu, wu)
    if bias is not None:
        bm = to_unit(bias, out_unit)
        if jnp.shape(bm) != (wm.shape[-1],):
            raise ValueError(f'matmul: bias shape {jnp.shape(bm)} does not match the weight output '
                             f'width {wm.shape[-1]}; give a bias of shape ({wm.shape[-1]},).')
        operands.append(bm)
        names = ('weight', 'bias')
    _check_fns('matmul', weight_fn=weight_fn, bias_fn=bias_fn)
    if weight_fn is None and bias_fn is None:
        spec = MatMulSpec('matmul', 1, names)
    else:
        spec = MatMulSpec('matmul_fn', 1, names, config=(weight_fn or _identity, bias_fn or _identity))
    y = bind_op(spec, *operands)
    return attach(y, xu, wu)


def lora_matmul(x, B=None, A=None, *, alpha: float = 1.0, bias=None, b_fn: Optional[Callable] = None,
                a_fn: Optional[Callable] = None, bias_fn: Optional[Callable] = None, base_weight=None,
                lora_a=None, lora_b=None):
    """ETP low-rank product ``x @ W0 + alpha * x @ b_fn(B) @ a_fn(A) + bias_fn(bias)``.

    Braintrace's argument order and names: ``B`` is ``(in, r)`` and ``A`` is
    ``(r, out)``. ``lora_a=`` / ``lora_b=`` are this package's earlier names for the
    same two factors (``lora_a`` the ``(in, r)`` one). ``base_weight`` ``W0``
    (``(in, out)``, optional) is frozen. The eligibility trace lives on the effective
    weight ``alpha * B @ A``; gradients reach both factors (and the bias).

    >>> x, B, A = jnp.ones((2, 3)), jnp.ones((3, 1)), jnp.ones((1, 4))      # rank 1
    >>> y = lora_matmul(x, B, A, alpha=0.5)
    """
    if lora_a is not None or lora_b is not None:
        if B is not None or A is not None:
            raise TypeError('lora_matmul: give the factors either as B, A (braintrace) or as '
                            'lora_a=, lora_b=, not both.')
        B, A = lora_a, lora_b
    if B is None or A is None:
        raise TypeError('lora_matmul needs both factors: lora_matmul(x, B, A) with B (in, r) and A (r, out).')
    xm, xu = strip(x)
    bm_, bu = strip(B)
    am_, au = strip(A)
    _check_dense(xm, bm_, 'lora_matmul', 'B')
    if jnp.ndim(am_) != 2 or bm_.shape[1] != am_.shape[0]:
        raise ValueError(f'lora_matmul: B {jnp.shape(bm_)} and A {jnp.shape(am_)} disagree on the rank; '
                         f'B must be (in, r) and A (r, out).')
    _check_fns('lora_matmul', b_fn=b_fn, a_fn=a_fn, bias_fn=bias_fn)
    operands = [xm, bm_, am_]
    names = ('lora_a', 'lora_b')      # the (in, r) and (r, out) factors
    if bias is not None:
        bias_m = to_unit(bias, product_unit(xu, bu, au))
        if jnp.shape(bias_m) != (am_.shape[1],):
            raise ValueError(f'lora_matmul: bias shape {jnp.shape(bias_m)} must be ({am_.shape[1]},).')
        operands.append(bias_m)
        names = names + ('bias',)
    if base_weight is not None:
        w0, _ = strip(base_weight)
        if w0.shape != (bm_.shape[0], am_.shape[1]):
            raise ValueError(f'lora_matmul: base_weight shape {w0.shape} must be {(bm_.shape[0], am_.shape[1])}.')
        operands.append(w0)
    spec = LoraSpec('lora_matmul', 1, names,
                    config=(float(alpha), base_weight is not None, b_fn or _identity, a_fn or _identity,
                            bias_fn or _identity))
    return attach(bind_op(spec, *operands), xu, bu, au)


def _check_fns(op, **fns):
    for name, fn in fns.items():
        if fn is not None and not callable(fn):
            raise TypeError(f'{op}: {name} must be callable, got {type(fn).__name__}.')


def _check_dense(xm, wm, op, name):
    if jnp.ndim(wm) != 2:
        raise ValueError(f'{op}: {name} must be 2-D (in, out), got shape {jnp.shape(wm)}.')
    if jnp.ndim(xm) < 1 or jnp.shape(xm)[-1] != jnp.shape(wm)[0]:
        raise ValueError(f'{op}: input of shape {jnp.shape(xm)} does not fit {name} of shape '
                         f'{jnp.shape(wm)}; the last input axis must be {jnp.shape(wm)[0]}.')
