"""Refuse at compile time a step whose gradient would need reverse mode through a ``while`` loop.

Every learner differentiates the captured step in reverse mode (``jax.vjp`` of the
step with respect to the weights and a perturbation of the new hidden values, see
``ETraceAlgorithm._build_step``). JAX cannot transpose ``lax.while_loop`` (nor
``fori_loop`` with a traced trip count, which lowers to it): such a model would
compile, run forward, and fail in the first backward pass. No part of the gradient
can be given instead without silently dropping the paths through the loop, so the
compiler refuses the model and says where the loop is and what to use instead.

Only loops that carry a value computed from a weight or a hidden state are refused
(dependence on floating-point values is followed through ``pjit``, ``scan``, ``cond``
and call-like primitives); a loop over inputs, integer counters or values behind
``stop_gradient`` gets no cotangent and is fine. The bodies of ``custom_jvp`` / ``custom_vjp`` functions are not
searched: reverse mode differentiates their rules, never their primal loops.

The compiler calls ``check_reverse_mode(jaxpr, {param_invar: 'w', hidden_invar: 'h'})`` on the
step's jaxpr, naming each weight and hidden-state input variable for its messages.
"""
from __future__ import annotations

import os
from typing import Dict, List, Sequence

import numpy as np
from jax.extend.core import Literal, jaxprs_in_params

from ..errors import CompilationError

__all__ = ['check_reverse_mode']

# reverse mode uses their differentiation rules, not the bodies
_RULE_PRIMITIVES = frozenset({'custom_jvp_call', 'custom_vjp_call', 'custom_vjp_call_jaxpr', 'custom_lin'})


class _Found(Exception):
    def __init__(self, eqn, bits):
        super().__init__()
        self.eqn, self.bits = eqn, bits


def _differentiable(v) -> bool:
    dtype = getattr(getattr(v, 'aval', None), 'dtype', None)
    return dtype is not None and np.issubdtype(dtype, np.inexact)


def _open(j):
    return getattr(j, 'jaxpr', j)


def _or(bits: Sequence[int]) -> int:
    out = 0
    for b in bits:
        out |= b
    return out


def _has_while(jaxpr) -> bool:
    for eqn in _open(jaxpr).eqns:
        if eqn.primitive.name == 'while' or any(_has_while(j) for j in jaxprs_in_params(eqn.params)):
            return True
    return False


def _scan_counts(p, ins):
    """``(number of constants, number of carries)`` of a scan equation, or ``None`` if unknown."""
    if 'num_consts' in p:
        return p['num_consts'], p['num_carry']
    try:                        # newer JAX: a flat tree of (consts, carry, xs) in 'ft_in'
        consts, carry, _ = (list(part) for part in p['ft_in'].update(list(ins)).unpack())
    except Exception:  # an unknown layout: the caller falls back to the conservative rule
        return None
    return len(consts), len(carry)


def _walk(jaxpr, in_bits: Sequence[int]) -> List[int]:
    """Dependence bits of ``jaxpr``'s outputs given its inputs' (floating-point values only)."""
    jaxpr = _open(jaxpr)
    env = {v: (b if _differentiable(v) else 0) for v, b in zip(jaxpr.invars, in_bits)}

    def read(v):
        return 0 if isinstance(v, Literal) else env.get(v, 0)

    for eqn in jaxpr.eqns:
        outs = _eqn_bits(eqn, [read(v) for v in eqn.invars])
        for v, b in zip(eqn.outvars, outs):
            env[v] = b if _differentiable(v) else 0
    return [read(v) for v in jaxpr.outvars]


def _eqn_bits(eqn, ins: List[int]) -> List[int]:
    name, p = eqn.primitive.name, eqn.params
    n_out = len(eqn.outvars)
    if name == 'while':
        carried = _or(ins[p['cond_nconsts']:])      # body constants and the initial carry
        if carried:
            raise _Found(eqn, carried)
        return [0] * n_out
    if name == 'scan' and _scan_counts(p, ins) is not None:
        nc, nk = _scan_counts(p, ins)
        bits = list(ins)
        while True:                                   # carries may pick up dependence each iteration
            out = _walk(p['jaxpr'], bits)
            carry = [a | b for a, b in zip(bits[nc:nc + nk], out[:nk])]
            if carry == bits[nc:nc + nk]:
                return carry + out[nk:]
            bits[nc:nc + nk] = carry
    if name == 'cond':
        outs = [0] * n_out
        for branch in p['branches']:
            outs = [a | b for a, b in zip(outs, _walk(branch, ins[1:]))]
        return outs
    if name in _RULE_PRIMITIVES:
        return [_or(ins)] * n_out
    if name == 'stop_gradient':
        return [0] * n_out                          # no cotangent flows back through it
    subs = list(jaxprs_in_params(p))
    if len(subs) == 1 and len(_open(subs[0]).invars) == len(ins) and len(_open(subs[0]).outvars) == n_out:
        return _walk(subs[0], ins)                  # pjit, closed_call, checkpoint ...
    if _or(ins) and any(_has_while(j) for j in subs):
        raise _Found(eqn, _or(ins))                 # an unknown primitive around a loop: refuse
    return [_or(ins)] * n_out


def _where(eqn) -> str:
    try:
        from jax.extend import source_info_util
        text = source_info_util.summarize(eqn.source_info)
    except Exception:  # source locations are a courtesy: never fail the compile over them
        return ''
    inside_compiler = f'braintrace_lab{os.sep}compiler{os.sep}' in (text or '')
    return f' at {text}' if text and not inside_compiler else ''


def check_reverse_mode(jaxpr, sources: Dict[object, str]) -> None:
    """Raise :class:`CompilationError` if a ``while`` loop carries a value computed from ``sources``.

    ``sources`` maps input variables of ``jaxpr`` (weights, hidden states) to their names.
    """
    names = list(sources.values())
    bit = {v: 1 << i for i, v in enumerate(sources)}
    try:
        _walk(jaxpr, [bit.get(v, 0) for v in _open(jaxpr).invars])
    except _Found as found:
        via = [n for i, n in enumerate(names) if found.bits >> i & 1]
        kind = found.eqn.primitive.name
        what = 'a jax.lax.while_loop' if kind == 'while' else f'a {kind!r} holding a jax.lax.while_loop'
        raise CompilationError(
            f'The model step contains {what}{_where(found.eqn)} whose loop carries values computed from '
            f'{", ".join(repr(n) for n in via)}. Every learner takes the gradient of the step in reverse mode, '
            f'and reverse-mode differentiation through a while_loop is impossible in JAX (the step would run '
            f'forward and fail in its first backward pass). Use jax.lax.scan, or jax.lax.fori_loop with a '
            f'static (Python int) trip count, or move the loop out of the model (apply it to the outputs '
            f'outside the learner).') from None
