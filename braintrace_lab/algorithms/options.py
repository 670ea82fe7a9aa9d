"""Keyword options of a rule: which a constructor takes, and a refusal that lists them."""
from __future__ import annotations

import inspect

__all__ = ['rule_options', 'option_defaults', 'check_options', 'REQUIRED']

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
