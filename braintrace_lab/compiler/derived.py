"""Facts derived from a captured step's jaxpr, beyond hidden groups and relations.

Every walk over the step's equations that the engine, the lab or the widgets need
lives here (the rest of the package reads the results from the compiled
:class:`~braintrace_lab.compiler.program.Program`):

* :func:`propagate_bits`: forward bit-set propagation, the tool of every pass;
* :func:`mixing_groups`: groups whose op-cut transition mixes positions;
* :func:`feeding_groups`: groups whose new value reaches another group's new value
  within the step (spikes read by a leaky readout);
* :func:`readout_ops`: ETP ops that read hidden states' new values out to a model
  output through no other ETP op; :func:`output_groups`: groups whose new value reaches a model output
  through no ETP op;
* :func:`positionwise_inputs`: ops whose input is built from the state without mixing
  positions (OSTL's two-pass self term applies);
* :func:`recurrent_input_ops`: ops whose input depends on a hidden state of the same step.
"""
from __future__ import annotations

from typing import Dict, Sequence, Tuple

import numpy as np
from jax.extend.core import Literal

from ..ops._primitive import etp_op_p

__all__ = ['ELEMENTWISE', 'propagate_bits', 'bits_of', 'or_bits', 'mixing_groups', 'feeding_groups',
           'readout_ops', 'output_groups', 'input_is_positionwise', 'positionwise_inputs', 'recurrent_input_ops']

# primitives that act position by position (and size-preserving reshapes)
ELEMENTWISE = frozenset('''
    abs add sub mul div neg max min exp exp2 log log1p expm1 tanh logistic sin cos tan sqrt rsqrt cbrt
    pow integer_pow square sign floor ceil round clamp erf erfc erf_inv is_finite select_n
    convert_element_type copy copy_p stop_gradient eq ne lt le gt ge and or not xor nextafter
    custom_jvp_call custom_vjp_call custom_vjp_call_jaxpr heaviside_surrogate_gradient
    reshape squeeze expand_dims real imag atan2 rem
'''.split())

# primitives after which every output element still depends on one input element
_POSITIONWISE = ELEMENTWISE | {'concatenate', 'slice'}


def bits_of(bits, v) -> int:
    return 0 if isinstance(v, Literal) else bits.get(v, 0)


def or_bits(bits) -> int:
    out = 0
    for b in bits:
        out |= b
    return out


def propagate_bits(jaxpr, seeds: Dict[object, int], etp_rule):
    """Forward bit-set propagation; ``etp_rule(eqn, k, in_bits) -> out_bits`` for ETP ops.

    ``seeds`` may name input variables (their starting bits) and equation outputs (bits
    added to whatever the equation produces).
    """
    invars = set(jaxpr.invars)
    bits = {v: b for v, b in seeds.items() if v in invars}
    k = 0
    for eqn in jaxpr.eqns:
        in_bits = [bits_of(bits, v) for v in eqn.invars]
        if eqn.primitive is etp_op_p:
            out = etp_rule(eqn, k, in_bits)
            k += 1
        else:
            out = or_bits(in_bits)
        for v in eqn.outvars:
            bits[v] = out | seeds.get(v, 0)
    return bits


def _size_preserving(eqn) -> bool:
    src = eqn.invars[0]
    return isinstance(src, Literal) or int(np.prod(src.aval.shape)) == int(np.prod(eqn.outvars[0].aval.shape))


def mixing_groups(jaxpr, cut, hidden_outvars, group_bits):
    """``{group: primitive names}`` for groups whose op-cut transition passes a primitive that is
    not position-wise.

    Walks backwards from the hidden outputs (stopping at ETP ops, which are cut)
    and inspects every equation that consumes a previous hidden value on the way.
    """
    reaches = set(v for v in hidden_outvars if not isinstance(v, Literal))
    found: Dict[int, set] = {}
    for eqn in reversed(jaxpr.eqns):
        if eqn.primitive is etp_op_p or not any(v in reaches for v in eqn.outvars):
            continue
        in_bits = 0
        for v in eqn.invars:
            if not isinstance(v, Literal):
                reaches.add(v)
                in_bits |= cut.get(v, 0)
        if not in_bits:
            continue
        name = eqn.primitive.name
        elementwise = name in ELEMENTWISE
        if name == 'broadcast_in_dim':
            elementwise = not bits_of(cut, eqn.invars[0]) or _size_preserving(eqn)
        if not elementwise:
            for gi, bits in group_bits.items():
                if in_bits & bits:
                    found.setdefault(gi, set()).add(name)
    return {gi: tuple(sorted(names)) for gi, names in found.items()}


def _group_outvar_bits(group_outvars: Sequence[Sequence[object]]) -> Dict[object, int]:
    """``{new-value variable: bits of its hidden groups}`` (literals left out)."""
    seeds: Dict[object, int] = {}
    for gi, outvars in enumerate(group_outvars):
        for v in outvars:
            if v is not None and not isinstance(v, Literal):
                seeds[v] = seeds.get(v, 0) | (1 << gi)
    return seeds


def feeding_groups(jaxpr, group_outvars) -> Tuple[int, ...]:
    """Groups whose new value reaches another group's new value within one step (through an op).

    ``group_outvars[g]`` lists the new-value variables of group ``g``'s hidden leaves.
    """
    invars = set(jaxpr.invars)
    seeds = {v: b for v, b in _group_outvar_bits(group_outvars).items() if v not in invars}
    bits = propagate_bits(jaxpr, seeds, lambda eqn, k, in_bits: or_bits(in_bits))
    found = set()
    for v, own in seeds.items():
        found |= {gi for gi in range(len(group_outvars)) if (bits.get(v, 0) & ~own) >> gi & 1}
    return tuple(sorted(found))


def _cut_reach(jaxpr, n_out, seeds, op_bit) -> int:
    """Bits reaching the model outputs when every ETP op output carries only ``op_bit(k)``."""
    bits = propagate_bits(jaxpr, seeds, lambda eqn, k, in_bits: op_bit(k))
    return or_bits(bits_of(bits, v) for v in jaxpr.outvars[:n_out])


def readout_ops(jaxpr, n_out, n_ops, group_outvars) -> Tuple[int, ...]:
    """Indices of the ETP ops that read the network out: their output reaches a model output
    through no other ETP op and their input carries a hidden group's new value
    (``group_outvars[g]``: group ``g``'s new-value variables). An input or recurrent op (``x W``, ``z^{t-1} W``) also reaches the
    output when plain JAX reads the states out (``spike @ w_out``), but it is no readout."""
    reach = _cut_reach(jaxpr, n_out, {}, lambda k: 1 << k)
    found = [k for k in range(n_ops) if reach >> k & 1]
    invars = set(jaxpr.invars)
    seeds = {v: 1 for v in _group_outvar_bits(group_outvars) if v not in invars}
    bits = propagate_bits(jaxpr, seeds, lambda eqn, k, in_bits: or_bits(in_bits))
    op_eqns = [eqn for eqn in jaxpr.eqns if eqn.primitive is etp_op_p]
    return tuple(k for k in found if any(bits_of(bits, v) for v in
                                         op_eqns[k].invars[:op_eqns[k].params['spec'].n_inputs]))


def output_groups(jaxpr, n_out, group_outvars) -> Tuple[int, ...]:
    """Hidden groups whose new value reaches a model output through no ETP op."""
    reach = _cut_reach(jaxpr, n_out, _group_outvar_bits(group_outvars), lambda k: 0)
    return tuple(gi for gi in range(len(group_outvars)) if reach >> gi & 1)


def input_is_positionwise(jaxpr, op_eqn) -> bool:
    """Whether ``op_eqn``'s input is built without mixing positions (ETP ops are cut)."""
    wanted = {v for v in op_eqn.invars[:1] if not isinstance(v, Literal)}
    for eqn in reversed(jaxpr.eqns):
        if eqn is op_eqn or not any(v in wanted for v in eqn.outvars):
            continue
        if eqn.primitive is etp_op_p:
            continue                      # its output is held fixed: no path to the state
        name = eqn.primitive.name
        if name == 'broadcast_in_dim':
            if not _size_preserving(eqn):
                return False
        elif name in ('pjit', 'jit', 'closed_call'):
            return False                  # nested programs: not inspected, take the safe path
        elif name not in _POSITIONWISE:
            return False
        wanted.update(v for v in eqn.invars if not isinstance(v, Literal))
    return True


def positionwise_inputs(jaxpr, op_eqns) -> Tuple[int, ...]:
    """Indices (into ``op_eqns``) of the ops whose input is built without mixing positions."""
    return tuple(k for k, eqn in enumerate(op_eqns) if eqn.params['spec'].n_inputs
                 and input_is_positionwise(jaxpr, eqn))


def recurrent_input_ops(jaxpr, hidden_invars, op_eqns) -> Tuple[int, ...]:
    """Indices (into ``op_eqns``) of the ops whose input operand depends on a hidden state's
    previous value within the step (recurrent mixing through the op's weight)."""
    tainted = set(hidden_invars)
    for eqn in jaxpr.eqns:
        if any(not isinstance(v, Literal) and v in tainted for v in eqn.invars):
            tainted.update(eqn.outvars)
    return tuple(k for k, eqn in enumerate(op_eqns)
                 if any(not isinstance(v, Literal) and v in tainted
                        for v in eqn.invars[:eqn.params['spec'].n_inputs]))
