"""Display names of learning rules, for everything a person reads: tables, reports, legends and progress bars.

The lab keys its results by short labels (``'pp_prop(0.5)'``,
``'eprop(feedback=random,kappa=0.9)'``, see :func:`~braintrace_lab.lab.algorithm_label`);
people know the rules by the names of their papers. :func:`display_name` turns a
registered name with its options, or a lab label, into that name with the options that
tell two runs apart; a label it does not know (a custom one) comes back unchanged.

>>> display_name('d_rtrl')
'D-RTRL'
>>> display_name('pp_prop', {'decay_or_rank': 0.5})
'ES-D-RTRL (a=0.5)'
>>> display_name('pp_prop(rank 4)')
'ES-D-RTRL (rank 4)'
>>> display_name('eprop(feedback=random,kappa=0.9)')
'e-prop (feedback=random, kappa=0.9)'
>>> display_name('my run')
'my run'
"""
from __future__ import annotations

import re
from typing import Dict, Iterable, Optional

from .learners import algorithm_label

__all__ = ['display_name', 'display_names', 'parse_label']

_LABEL = re.compile(r'^([A-Za-z_][A-Za-z0-9_]*)\((.*)\)$')
_NUMBER = re.compile(r'^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$')


def _value(text: str):
    """A label's option value: a number where it reads as one, else the text."""
    text = text.strip()
    if _NUMBER.match(text):
        return int(text) if re.match(r'^[-+]?\d+$', text) else float(text)
    return text


def parse_label(label: str) -> Optional[tuple]:
    """``(name, options)`` of a lab label such as ``'pp_prop(0.5)'``; ``None`` when it has no options part.

    >>> parse_label('pp_prop(rank 8)')
    ('pp_prop', {'decay_or_rank': 8})
    >>> parse_label('ottt(mode=O)')
    ('ottt', {'mode': 'O'})
    """
    m = _LABEL.match(label.strip())
    if not m:
        return None
    name, inner = m.groups()
    options = {}
    for i, part in enumerate(p for p in inner.split(',') if p.strip()):
        if '=' in part:
            key, value = part.split('=', 1)
            options[key.strip()] = _value(value)
        elif i == 0 and part.strip().startswith('rank '):
            options['decay_or_rank'] = int(float(part.strip()[5:]))
        elif i == 0:
            options['decay_or_rank'] = _value(part)
        else:
            return None
    return name, options


def _format(key: str, value) -> str:
    if key == 'decay_or_rank':
        if isinstance(value, int) and not isinstance(value, bool):
            return f'rank {value}'
        return f'a={value:g}' if isinstance(value, float) else f'a={value}'
    return f'{key}={value:g}' if isinstance(value, float) else f'{key}={value}'


def display_name(name: str, options: Optional[dict] = None) -> str:
    """The rule's display name with the options that set it apart: ``'ES-D-RTRL (a=0.5)'``.

    ``name`` is a registered name (``'pp_prop'``, ``'eprop'``) with ``options``, or a lab
    label (``'pp_prop(0.5)'``) on its own. Anything that names no registered rule (a custom
    label) comes back unchanged.
    """
    from ..registry import algorithm_names, resolve_algorithm
    if not isinstance(name, str):
        return str(name)
    text = name
    if options is None:
        parsed = parse_label(name)
        name, options = parsed if parsed is not None else (name, {})
    try:
        cls = resolve_algorithm(name)
    except (ValueError, TypeError):
        return text
    title = getattr(cls, 'display_name', None) or cls.__name__
    if title == 'online rule':
        title = name
    if not options:
        return title
    m = re.match(r'^(.*) \(([A-Za-z_]+)\)$', title)
    if m and m.group(2).lower() in algorithm_names():          # 'ES-D-RTRL (pp_prop)': the alias gives way
        title = m.group(1)
    extras = ', '.join(_format(k, v) for k, v in options.items())
    if title.endswith(')'):                                    # 'OSTL (recurrent)' -> 'OSTL (recurrent, ...)'
        return f'{title[:-1]}, {extras})'
    return f'{title} ({extras})'


def display_names(labels: Iterable[str], specs: Iterable = ()) -> Dict[str, str]:
    """``{label: display name}``; ``specs`` (``(label, name, options)`` triples) name the rule behind a label.

    A custom label given in ``specs`` is kept as the user wrote it; two labels that would
    read the same keep their labels instead, so the names stay distinct.
    """
    known = {s[0]: s for s in specs if len(s) == 3}
    out = {}
    for label in labels:
        spec = known.get(label)
        if spec is not None:
            out[label] = display_name(spec[1], spec[2]) if label == algorithm_label(spec[1], spec[2]) else label
        else:
            out[label] = display_name(label)
    seen = {}
    for label, title in out.items():
        seen.setdefault(title, []).append(label)
    return {label: (label if len(seen[title]) > 1 else title) for label, title in out.items()}
