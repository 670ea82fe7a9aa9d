"""Argument checks shared by the tasks: clear TypeError / ValueError, never ``assert``.

Every message names the argument, shows the bad value and says how to fix it,
e.g. ``CopyTask: n_symbols must be an int >= 2, got 1; use at least 2 symbols.``
"""
from __future__ import annotations

import numbers

__all__ = ['check_int', 'check_float', 'check_choice']


def _where(owner: str) -> str:
    return f'{owner}: ' if owner else ''


def check_int(name: str, value, *, minimum: int | None = None, maximum: int | None = None,
              owner: str = '', fix: str = '') -> int:
    """Return ``value`` as a Python int, or raise if it is not an int in ``[minimum, maximum]``.

    Booleans and floats are refused with TypeError (``3.0`` is not a count).

    >>> check_int('n_steps', 10, minimum=1)
    10
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f'{_where(owner)}{name} must be an int, got {value!r} of type '
                        f'{type(value).__name__}; pass a whole number such as {name}='
                        f'{minimum if minimum is not None else 1}.')
    value = int(value)
    too_low = minimum is not None and value < minimum
    too_high = maximum is not None and value > maximum
    if too_low or too_high:
        if minimum is not None and maximum is not None:
            rng = f'between {minimum} and {maximum}'
        elif minimum is not None:
            rng = f'>= {minimum}'
        else:
            rng = f'<= {maximum}'
        hint = fix or f'choose {name} {rng}'
        raise ValueError(f'{_where(owner)}{name} must be an int {rng}, got {value}; {hint}.')
    return value


def check_float(name: str, value, *, low: float | None = None, high: float | None = None,
                low_open: bool = False, high_open: bool = False, owner: str = '',
                fix: str = '') -> float:
    """Return ``value`` as a float, or raise if it is not a finite real number in the interval.

    ``low_open`` / ``high_open`` exclude the end points, e.g. a probability that must
    be positive is ``check_float('p', p, low=0, high=1, low_open=True)``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f'{_where(owner)}{name} must be a real number, got {value!r} of type '
                        f'{type(value).__name__}; pass a float such as {name}=0.1.')
    value = float(value)
    bad = value != value or value in (float('inf'), float('-inf'))
    if low is not None:
        bad = bad or (value <= low if low_open else value < low)
    if high is not None:
        bad = bad or (value >= high if high_open else value > high)
    if bad:
        left = '(' if low_open else '['
        right = ')' if high_open else ']'
        lo = '-inf' if low is None else f'{low:g}'
        hi = 'inf' if high is None else f'{high:g}'
        interval = f'{left}{lo}, {hi}{right}'
        hint = fix or f'choose {name} in {interval}'
        raise ValueError(f'{_where(owner)}{name} must be a finite number in {interval}, '
                         f'got {value!r}; {hint}.')
    return value


def check_choice(name: str, value, choices, *, owner: str = '') -> str:
    """Return ``value`` if it is one of ``choices`` (strings), else raise ValueError listing them."""
    if not isinstance(value, str):
        raise TypeError(f'{_where(owner)}{name} must be a string, got {value!r} of type '
                        f'{type(value).__name__}; use one of {", ".join(map(repr, choices))}.')
    if value not in choices:
        raise ValueError(f'{_where(owner)}{name} must be one of {", ".join(map(repr, choices))}, '
                         f'got {value!r}.')
    return value
