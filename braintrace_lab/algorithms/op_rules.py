"""How each ETP op kind looks to a trace engine.

Every op is seen per output position. Dense-like ops (``matmul``, ``lora_matmul``,
``conv``) are ``y[..., o] = sum_i xf[..., i] W[i, o]`` for an input factor ``xf``
(the input itself, or conv patches) and a dense weight ``W`` (the effective
``B @ A`` for LoRA, the kernel as a patch matrix for conv, ``weight_fn(W)`` for a
transformed matmul), so one trace form serves all of them; the rule maps the dense
gradient back to the op's own weight leaves through the VJP of that map. A conv's
output positions are seen channels last whatever its layout (:meth:`OpRule.canonical`).
Sparse ops keep one trace entry per non-zero; element-wise ops one per position.
"""
from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

import jax
import jax.numpy as jnp


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

    # ---- layout: arrays shaped like the op output, seen channels last
    def canonical(self, arr, n_trailing=0):
        """``arr (..., *y_shape, *trailing)`` with a conv's output channel axis moved last."""
        if self.kind == 'conv':
            return self.spec.canonical(arr, n_trailing)
        return arr

    def from_canonical(self, arr, n_trailing=0):
        """Inverse of :meth:`canonical`: back to the op output's own layout."""
        if self.kind == 'conv':
            return self.spec.canonical(arr, n_trailing, inverse=True)
        return arr

    # ---- dense family
    def input_factor(self, operands):
        x = operands[0]
        if self.kind == 'conv':
            return self.spec.patches(x, self.weight_shapes[0])
        return x

    def input_size(self, x_shape) -> int:
        """Width ``I`` of the input factor (conv: ``C_in * prod(window)``)."""
        if self.kind == 'conv':
            return self.spec.patch_size(x_shape, self.weight_shapes[0])
        return x_shape[-1]

    def dense_to_operands(self, operands, dW, db) -> Tuple:
        """Map ``dL/dW`` (and ``dL/db``) to cotangents of the op's weight operands, in order."""
        if self.kind == 'matmul':
            return (dW, db) if self.has_bias else (dW,)
        if self.kind not in ('conv', 'lora_matmul', 'matmul_fn'):
            raise TypeError(self.kind)
        spec, n_in = self.spec, self.spec.n_inputs
        weights = tuple(operands[n_in:n_in + spec.n_weights])

        def dense(*ws):
            if self.kind == 'conv':
                return spec.dense_kernel(ws[0]), (spec.dense_bias(ws[1]) if len(ws) > 1 else None)
            return spec.dense_weight(ws), spec.dense_bias(ws)
        (w_eff, b_eff), vjp = jax.vjp(dense, *weights)
        db_eff = None if b_eff is None else db.astype(b_eff.dtype)
        return tuple(vjp((dW.astype(w_eff.dtype), db_eff)))

    # ---- sparse family
    def sparse_indices(self, operands):
        return operands[2], operands[3]

    def sparse_to_operands(self, operands, g_values):
        """Gradient on the effective non-zeros -> gradient on the raw values (``weight_fn``)."""
        return self.spec.values_to_operands(operands[1], g_values)

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


_FAMILY = {'matmul': 'dense', 'matmul_fn': 'dense', 'lora_matmul': 'dense', 'conv': 'dense',
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
    out_shape = tuple(eqn.outvars[0].aval.shape)
    if spec.kind == 'conv':
        out_shape = spec.canonical_shape(out_shape)
    return OpRule(spec, fam, wshapes, out_shape)
