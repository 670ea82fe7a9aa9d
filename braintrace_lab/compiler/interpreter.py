"""Evaluate a jaxpr equation by equation, with hooks on ETP ops and hidden outputs.

This is how the engine gets at the quantities the rules need without asking the
user to restructure the model: the op inputs ``x^t``, the op outputs ``y^t`` (which
can be overridden, to take ``dh/dy`` and ``dh/dh_prev`` with the op path cut), and
the new hidden values (to which a perturbation can be added, whose gradient is the
learning signal ``dL/dh^t``).
"""
from __future__ import annotations

import contextlib
from typing import Callable, Dict, Optional

import jax
from jax.extend.core import Literal

from ..ops._primitive import etp_op_p

__all__ = ['evaluate', 'flatten_jaxpr', 'INLINE_PRIMITIVES']

INLINE_PRIMITIVES = ('pjit', 'jit', 'closed_call', 'core_call')

try:   # keeps the user's source line on re-traced equations (compile errors can point at it)
    from jax.extend.source_info_util import user_context as _user_context
except ImportError:  # pragma: no cover - a JAX without it only loses the line numbers
    _user_context = None


def _source_of(eqn):
    tb = getattr(getattr(eqn, 'source_info', None), 'traceback', None)
    if _user_context is None or tb is None:
        return contextlib.nullcontext()
    return _user_context(tb)


def _inner_closed(eqn):
    inner = eqn.params.get('jaxpr', None) or eqn.params.get('call_jaxpr', None)
    if inner is None:
        return None, ()
    if hasattr(inner, 'jaxpr'):
        return inner.jaxpr, inner.consts
    return inner, ()


def evaluate(jaxpr, consts, args, *, op_override: Optional[Dict[int, object]] = None,
             op_record: Optional[Dict[int, tuple]] = None,
             op_perturb: Optional[Dict[int, object]] = None,
             var_perturb: Optional[Dict[object, object]] = None,
             var_transform: Optional[Callable] = None,
             inline: bool = True, _counter=None):
    """Evaluate ``jaxpr`` on ``args``.

    ETP equations are numbered in evaluation order (0, 1, ...). ``op_override[k]``
    replaces op ``k``'s output; ``op_perturb[k]`` is added to it; ``op_record[k]``
    receives ``(operands, output)``. ``var_perturb[var]`` is added to a top-level
    variable as soon as it is produced (or read, for an input variable);
    ``var_transform(var, value)`` may rewrite a top-level produced value first.
    Nested ``jit`` calls are inlined so their ETP ops are numbered too.
    """
    counter = _counter if _counter is not None else [0]
    env = {}

    def read(v):
        if isinstance(v, Literal):
            return v.val
        return env[v]

    def write(v, val, top=True):
        if top and var_transform is not None:
            val = var_transform(v, val)
        if top and var_perturb is not None and v in var_perturb:
            val = val + var_perturb[v]
        env[v] = val

    for v, c in zip(jaxpr.constvars, consts):
        write(v, c)
    for v, a in zip(jaxpr.invars, args):
        write(v, a)
    top = _counter is None
    for eqn in jaxpr.eqns:
        invals = [read(v) for v in eqn.invars]
        if eqn.primitive is etp_op_p:
            k = counter[0]
            counter[0] += 1
            if op_override is not None and k in op_override:
                out = op_override[k]
            else:
                out = eqn.primitive.bind(*invals, **eqn.params)
            if op_perturb is not None and k in op_perturb:
                out = out + op_perturb[k]
            if op_record is not None:
                op_record[k] = (tuple(invals), out)
            outs = [out]
        elif inline and eqn.primitive.name in INLINE_PRIMITIVES and _inner_closed(eqn)[0] is not None:
            inner, inner_consts = _inner_closed(eqn)
            outs = evaluate(inner, inner_consts, invals, op_override=op_override, op_record=op_record,
                            op_perturb=op_perturb, inline=True, _counter=counter)
        else:
            with _source_of(eqn):
                ans = eqn.primitive.bind(*invals, **eqn.primitive.get_bind_params(eqn.params))
            outs = ans if eqn.primitive.multiple_results else [ans]
        for v, val in zip(eqn.outvars, outs):
            write(v, val, top=top)
    return [read(v) for v in jaxpr.outvars]


def flatten_jaxpr(closed_jaxpr):
    """Inline nested ``jit`` calls: returns a ClosedJaxpr whose ETP ops are all top level."""
    jaxpr, consts = closed_jaxpr.jaxpr, closed_jaxpr.consts
    has_nested = any(e.primitive.name in INLINE_PRIMITIVES for e in jaxpr.eqns)
    if not has_nested:
        return closed_jaxpr
    avals = [v.aval for v in jaxpr.invars]
    fn = lambda *args: evaluate(jaxpr, consts, args)
    return jax.make_jaxpr(fn)(*[jax.ShapeDtypeStruct(a.shape, a.dtype) for a in avals])
