"""Keyword options of a rule: which a constructor takes, a refusal that lists them, and value checks."""
from __future__ import annotations

import inspect
import numbers

import jax.numpy as jnp
import numpy as np

__all__ = ['rule_options', 'option_defaults', 'check_options', 'REQUIRED', 'check_flag', 'check_decay_or_rank',
           'check_trace_dtype', 'check_learner_name', 'check_required', 'missing_option']

REQUIRED = inspect.Parameter.empty     # the default of an option the rule cannot do without


def option_defaults(cls) -> tuple:
    """``((option, default), ...)`` of ``cls(model, ...)`` in signature order (``model`` left out);
    an option without a default has :data:`REQUIRED`."""
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    return tuple((p.name, p.default) for p in params
                 if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != 'model')


def rule_options(cls) -> tuple:
    """The keyword options ``cls(model, ...)`` accepts (``model`` itself left out)."""
    return tuple(name for name, _ in option_defaults(cls))


def _who(cls) -> str:
    """``'ES-D-RTRL (IODimVjpAlgorithm)'``: the name people know, then the class."""
    display = getattr(cls, 'display_name', None)
    return f'{display} ({cls.__name__})' if display and display != cls.__name__ else cls.__name__


def check_options(cls, options) -> None:
    """Refuse keywords ``cls`` does not take, listing the ones it does (no option is ignored)."""
    valid = rule_options(cls)
    unknown = sorted(k for k in options if k not in valid)
    if unknown:
        names = ', '.join(repr(k) for k in unknown)
        raise TypeError(f'{_who(cls)} got unknown option{"s" if len(unknown) > 1 else ""} {names}; '
                        f'valid options: {", ".join(valid) or "none"}.')


def missing_option(cls, name: str) -> TypeError:
    """The error for a required option left out, with the class's own doctest line that sets it."""
    example = next((' '.join(line.strip()[4:].split()) for line in (cls.__doc__ or '').splitlines()
                    if line.strip().startswith('>>> ') and f'{name}=' in line), None)
    return TypeError(f'{_who(cls)} needs the option {name} (it has no default)'
                     + (f', e.g. {example}' if example else '') + '.')


def check_required(cls, options) -> None:
    """Refuse, before anything is built, keyword options that leave out one ``cls`` cannot do without."""
    for name, default in option_defaults(cls):
        if default is REQUIRED and name not in options:
            raise missing_option(cls, name)


def check_flag(name: str, value, who: str) -> bool:
    """A real ``bool`` option (``0``/``'yes'`` refused: they hide typos)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f'{who}: {name} must be True or False, got {value!r} ({type(value).__name__}).')
    return bool(value)


def check_decay_or_rank(decay_or_rank):
    """Validate ``decay_or_rank``: a float in (0, 1) is a decay, an int >= 1 a rank."""
    if isinstance(decay_or_rank, (tuple, list)):
        raise TypeError(f'decay_or_rank={decay_or_rank!r}: an (input side, output side) pair of decays is '
                        f"braintrace's form; here both factors share one decay. Pass one float in (0, 1), "
                        f'e.g. decay_or_rank={decay_or_rank[-1] if decay_or_rank else 0.9!r} (the output side), '
                        f'or an int rank >= 1 (docs/compatibility.md).')
    if isinstance(decay_or_rank, bool) or not isinstance(decay_or_rank, numbers.Real):
        raise TypeError(f'decay_or_rank must be a float decay in (0, 1) or an int rank >= 1, '
                        f'got {decay_or_rank!r} ({type(decay_or_rank).__name__}).')
    if isinstance(decay_or_rank, numbers.Integral):
        if decay_or_rank < 1:
            raise ValueError(f'decay_or_rank={decay_or_rank}: an integer rank must be >= 1 '
                             f'(or give a float decay in (0, 1), e.g. 0.9).')
        return 'rank', int(decay_or_rank)
    value = float(decay_or_rank)
    if not 0.0 < value < 1.0:
        raise ValueError(f'decay_or_rank={decay_or_rank}: a float decay must lie in (0, 1), e.g. 0.9 '
                         f'(or give an integer rank >= 1).')
    return 'decay', value


def check_trace_dtype(trace_dtype, who: str):
    """``None`` (the states' dtype) or a floating dtype for the traces; anything else refused
    (an integer or boolean trace would round every update away without a word)."""
    if trace_dtype is None:
        return None
    try:
        dtype = np.dtype(trace_dtype)
    except TypeError:
        dtype = None
    if dtype is None or not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"{who}: trace_dtype={trace_dtype!r} is not a floating dtype; give None (the states' "
                        f"dtype), jnp.float32, jnp.float64 or jnp.bfloat16 ('bfloat16').")
    return trace_dtype


def check_learner_name(name, who: str):
    """``None`` or a string: a number in ``name``'s place is usually a rule option given by position."""
    if name is not None and not isinstance(name, str):
        hint = (f' Options go by keyword; a decay or rank belongs to ES-D-RTRL / pp_prop, e.g. '
                f'pp_prop(model, decay_or_rank={name!r}).' if isinstance(name, (int, float)) else '')
        raise TypeError(f'{who}: name must be a string or None, got {name!r} ({type(name).__name__}).{hint}')
    return name
