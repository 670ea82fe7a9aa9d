"""How each ETP op kind looks to a trace engine.

Every op is seen per output position. Dense-like ops (``matmul``, ``lora_matmul``,
``conv``) are ``y[..., o] = sum_i xf[..., i] W[i, o]`` for an input factor ``xf``
(the input itself, or conv patches) and a dense weight ``W`` (the effective
``A @ B`` for LoRA, the reshaped kernel for conv), so one trace form serves all
three; the rule maps the dense gradient back to the op's own weight leaves.
Sparse ops keep one trace entry per non-zero; element-wise ops one per position.
"""
from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

import jax
import jax.numpy as jnp

from ..ops.conv import conv_patches, matrix_as_kernel

__all__ = ['OpRule', 'rule_for']


@dataclasses.dataclass(frozen=True)
class OpRule:
    """Static view of one op for the trace engines (``family``: 'dense', 'sparse', 'elementwise')."""
    spec: object
    family: str
    weight_shapes: Tuple[Tuple[int, ...], ...]
    out_shape: Tuple[int, ...]

    @property
    def kind(self):
        return self.spec.kind

    @property
    def has_bias(self) -> bool:
        return 'bias' in self.spec.weight_names

    # ---- dense family
    def input_factor(self, operands):
        x = operands[0]
        if self.kind == 'conv':
            return conv_patches(self.spec, x, self.weight_shapes[0])
        return x

    def input_size(self, x_shape) -> int:
        """Width ``I`` of the input factor (conv: ``C_in * prod(window)``)."""
        if self.kind == 'conv':
            k = self.weight_shapes[0]
            size = 1
            for d in k[:-1]:
                size *= d
            return size
        return x_shape[-1]

    def dense_to_operands(self, operands, dW, db) -> Tuple:
        """Map ``dL/dW`` (and ``dL/db``) to cotangents of the op's weight operands, in order."""
        if self.kind == 'matmul':
            return (dW, db) if self.has_bias else (dW,)
        if self.kind == 'conv':
            dk = matrix_as_kernel(dW, self.weight_shapes[0])
            return (dk, db) if self.has_bias else (dk,)
        if self.kind == 'lora_matmul':
            alpha = self.spec.config[0]
            a, b = operands[1], operands[2]
            return (alpha * dW @ b.T, alpha * a.T @ dW)
        raise TypeError(self.kind)

    # ---- sparse family
    def sparse_indices(self, operands):
        return operands[2], operands[3]

    # ---- element-wise family
    def local_derivative(self, operands):
        """``dy/dw`` position by position (exact when ``fn`` is element-wise)."""
        n_in = self.spec.n_inputs
        w = operands[n_in]
        fn = lambda ww: self.spec.compute(*operands[:n_in], ww, *operands[n_in + 1:])
        _, dy = jax.jvp(fn, (w,), (jnp.ones_like(w),))
        return dy

    def reduce_to_weight(self, grad_y):
        """Sum a position-shaped gradient down to the weight's (broadcast) shape."""
        shape = self.weight_shapes[0]
        extra = grad_y.ndim - len(shape)
        g = grad_y.sum(axis=tuple(range(extra))) if extra > 0 else grad_y
        axes = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
        if axes:
            g = g.sum(axis=axes, keepdims=True)
        return g.reshape(shape)


_FAMILY = {'matmul': 'dense', 'lora_matmul': 'dense', 'conv': 'dense',
           'sparse_matmul': 'sparse', 'element_wise': 'elementwise'}


def rule_for(eqn) -> OpRule:
    spec = eqn.params['spec']
    root = spec.root()
    if root is not spec:
        from ..errors import NotSupportedError
        raise NotSupportedError(
            f'ETP op {root.kind} was traced with batched weights (a vmap over the weights); the engine '
            f'keeps traces for shared weights only. vmap the learner over inputs and states instead.')
    fam = _FAMILY.get(spec.kind)
    if fam is None:
        from ..errors import NotSupportedError
        raise NotSupportedError(f'no trace rule for ETP op kind {spec.kind!r}; known kinds: {sorted(_FAMILY)}')
    n_in = spec.n_inputs
    wshapes = tuple(tuple(v.aval.shape) for v in eqn.invars[n_in:n_in + spec.n_weights])
    return OpRule(spec, fam, wshapes, tuple(eqn.outvars[0].aval.shape))
