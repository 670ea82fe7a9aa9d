"""The one JAX primitive behind every ETP op.

An ETP op is an ordinary JAX function to its user, ``y = f(x, W)``, but it binds
``etp_op`` so that the compiler can find it in a jaxpr, also after ``jit`` and
``vmap``. The primitive carries an :class:`OpSpec`, a small hashable record that
knows how to compute the op and how the op's weights shape an eligibility trace.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend.core import Primitive
from jax.interpreters import ad, batching, mlir

__all__ = ['etp_op_p', 'OpSpec', 'bind_op', 'is_etp_eqn']

etp_op_p = Primitive('etp_op')


@dataclasses.dataclass(frozen=True)
class OpSpec:
    """Static description of one ETP op.

    ``kind`` names the rule family (``'matmul'``, ``'conv'`` ...). ``n_inputs``
    leading operands are op inputs (may be zero), the next ``n_weights`` are
    trainable weight leaves, the rest are constant operands (sparse indices,
    frozen base weights). ``weight_names`` name the weight leaves in order.
    ``batch_axes`` records the operand axes added by ``vmap`` (``None`` for an
    unbatched operand); such specs compute by ``vmap`` of the base spec.
    """
    kind: str
    n_inputs: int
    weight_names: tuple
    config: tuple = ()
    batch_axes: tuple = ()
    base: Any = None

    @property
    def n_weights(self) -> int:
        return len(self.weight_names)

    def compute(self, *operands):
        if self.base is not None:
            fn = self.base.compute
            return jax.vmap(fn, in_axes=self.batch_axes, out_axes=0)(*operands)
        return self._compute(*operands)

    def _compute(self, *operands):  # pragma: no cover - abstract
        raise NotImplementedError

    def root(self) -> 'OpSpec':
        spec = self
        while spec.base is not None:
            spec = spec.base
        return spec


def is_etp_eqn(eqn) -> bool:
    return eqn.primitive is etp_op_p


def bind_op(spec: OpSpec, *operands):
    """Bind the ETP primitive; operands must be plain arrays (units stripped)."""
    return etp_op_p.bind(*operands, spec=spec)


def _impl(*operands, spec):
    return spec.compute(*operands)


def _abstract_eval(*avals, spec):
    out = jax.eval_shape(spec.compute, *[jax.ShapeDtypeStruct(a.shape, a.dtype) for a in avals])
    return jax.core.ShapedArray(out.shape, out.dtype)


def _is_int(x) -> bool:
    return not jnp.issubdtype(jnp.result_type(x), jnp.inexact)


def _jvp(primals, tangents, *, spec):
    """Forward-mode rule: differentiate ``spec.compute`` in the operands that carry a tangent only.

    Symbolic-zero tangents (``ad.Zero``: an operand the caller does not differentiate,
    such as the weights in a JVP in the states) and integer operands are closed over
    as constants, so no zero tangent is built and no product with it is computed.
    """
    out = etp_op_p.bind(*primals, spec=spec)
    live = [i for i, (p, t) in enumerate(zip(primals, tangents)) if type(t) is not ad.Zero and not _is_int(p)]
    if not live:
        return out, ad.Zero(jax.typeof(out).to_tangent_aval())

    def of_live(*values):
        operands = list(primals)
        for i, v in zip(live, values):
            operands[i] = v
        return spec.compute(*operands)

    _, t_out = jax.jvp(of_live, tuple(primals[i] for i in live), tuple(tangents[i] for i in live))
    return out, t_out


def _batch(args, dims, *, spec):
    """Keep the op visible under vmap.

    Op inputs may carry extra leading axes natively (they are positions to the
    trace engines), so a batch of inputs re-binds the same spec. Batched weights
    or constants re-bind a wrapper spec that maps the base op.
    """
    n_in = spec.n_inputs
    args = list(args)
    for i in range(n_in):
        if dims[i] is not None:
            args[i] = jnp.moveaxis(args[i], dims[i], 0)
    rest_batched = any(d is not None for d in dims[n_in:])
    if not rest_batched:
        size = next(a.shape[0] for a, d in zip(args, dims) if d is not None)
        for i in range(n_in):
            if dims[i] is None:
                args[i] = jnp.broadcast_to(args[i], (size,) + np.shape(args[i]))
        if n_in == 0:  # pragma: no cover - unreachable: nothing batched
            return etp_op_p.bind(*args, spec=spec), None
        return etp_op_p.bind(*args, spec=spec), 0
    axes = tuple(None if d is None else (0 if i < n_in else d) for i, d in enumerate(dims))
    wrapped = dataclasses.replace(spec, batch_axes=axes, base=spec)
    return etp_op_p.bind(*args, spec=wrapped), 0


etp_op_p.def_impl(_impl)
etp_op_p.def_abstract_eval(_abstract_eval)
ad.primitive_jvps[etp_op_p] = _jvp
batching.primitive_batchers[etp_op_p] = _batch
mlir.register_lowering(etp_op_p, mlir.lower_fun(_impl, multiple_results=False))
