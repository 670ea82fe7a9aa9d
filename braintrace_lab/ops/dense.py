"""Dense ETP ops: ``matmul`` and ``lora_matmul``."""
from __future__ import annotations

import dataclasses

import jax.numpy as jnp

from ._primitive import OpSpec, bind_op
from ._units import attach, product_unit, strip, to_unit

__all__ = ['matmul', 'lora_matmul', 'MatMulSpec', 'LoraSpec']


@dataclasses.dataclass(frozen=True)
class MatMulSpec(OpSpec):
    """``y = x @ W (+ b)``; ``x`` may carry leading position (batch) axes."""

    def _compute(self, x, w, *rest):
        y = jnp.matmul(x, w)
        if self.weight_names == ('weight', 'bias'):
            y = y + rest[0]
        return y


@dataclasses.dataclass(frozen=True)
class LoraSpec(OpSpec):
    """``y = x @ W0 + alpha * (x @ A) @ B``; the trainable leaves are ``A`` and ``B``.

    ``config = (alpha, has_base)``; the frozen base ``W0`` is a constant operand.
    """

    def _compute(self, x, a, b, *rest):
        alpha, has_base = self.config
        y = alpha * jnp.matmul(jnp.matmul(x, a), b)
        if has_base:
            y = y + jnp.matmul(x, rest[0])
        return y


def matmul(x, weight, bias=None):
    """ETP matrix product ``x @ weight + bias``.

    ``weight`` has shape ``(in, out)``; ``x`` has shape ``(..., in)``. Quantities
    are accepted: the result carries ``unit(x) * unit(weight)`` and ``bias`` must
    be convertible to that unit.

    >>> y = matmul(jnp.ones((2, 3)), jnp.ones((3, 4)))   # (2, 4)
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
    y = bind_op(MatMulSpec('matmul', 1, names), *operands)
    return attach(y, xu, wu)


def lora_matmul(x, lora_a, lora_b, alpha=1.0, base_weight=None):
    """ETP low-rank adapted product ``x @ W0 + alpha * x @ A @ B``.

    ``A`` is ``(in, r)``, ``B`` is ``(r, out)``; the frozen ``W0`` is optional and
    not trained. The eligibility trace lives on the effective weight ``A @ B``.
    """
    xm, xu = strip(x)
    am, au = strip(lora_a)
    bm, bu = strip(lora_b)
    _check_dense(xm, am, 'lora_matmul', 'lora_a')
    if am.shape[1] != bm.shape[0]:
        raise ValueError(f'lora_matmul: lora_a {am.shape} and lora_b {bm.shape} disagree on the rank.')
    operands = [xm, am, bm]
    if base_weight is not None:
        w0, _ = strip(base_weight)
        if w0.shape != (am.shape[0], bm.shape[1]):
            raise ValueError(f'lora_matmul: base_weight shape {w0.shape} must be {(am.shape[0], bm.shape[1])}.')
        operands.append(w0)
    spec = LoraSpec('lora_matmul', 1, ('lora_a', 'lora_b'), config=(float(alpha), base_weight is not None))
    return attach(bind_op(spec, *operands), xu, au, bu)


def _check_dense(xm, wm, op, name):
    if jnp.ndim(wm) != 2:
        raise ValueError(f'{op}: {name} must be 2-D (in, out), got shape {jnp.shape(wm)}.')
    if jnp.ndim(xm) < 1 or jnp.shape(xm)[-1] != jnp.shape(wm)[0]:
        raise ValueError(f'{op}: input of shape {jnp.shape(xm)} does not fit {name} of shape '
                         f'{jnp.shape(wm)}; the last input axis must be {jnp.shape(wm)[0]}.')
