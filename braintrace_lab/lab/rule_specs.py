"""Rules written as text: ``NAME[:VALUE][:OPTION=VALUE]...``, as the command line and ``compare_algorithms`` take them.

>>> parse_rule('eprop:feedback=random:kappa=0.5')
('eprop', {'feedback': 'random', 'kappa': 0.5})
>>> parse_rule('pp_prop:0.5')                 # a bare value: ES-D-RTRL's decay (a float) or rank (an int)
('pp_prop', {'decay_or_rank': 0.5})
>>> parse_rule('ottt:mode=O:decay=0.8')
('ottt', {'mode': 'O', 'decay': 0.8})

Names are case-insensitive and ``-`` may stand for ``_``. Values read as ``true`` /
``false``, an integer, a number, else text. An unknown rule lists the canonical names
once, their aliases apart (:func:`rule_names`); an unknown option lists the rule's valid
ones; a bad value is refused by the rule's own checks, before anything is built.
"""
from __future__ import annotations

import re
from typing import Dict, List, Tuple

import brainstate

from ..rules_table import find, rule_key, rule_table, unknown_rule_message as _unknown

__all__ = ['RuleSpecError', 'parse_rule', 'rule_names', 'cli_options', 'format_rule', 'unknown_rule_message']


_BARE_VALUE_OPTION = 'decay_or_rank'


class RuleSpecError(ValueError):
    """A rule written as text that cannot be used: the message names the problem and the fix."""


def rule_names() -> Tuple[List[str], Dict[str, str]]:
    """``(canonical names, {alias: canonical name})`` from the algorithm table (``'bptt'`` first)."""
    table = rule_table()
    return [e.name for e in table], {a: e.name for e in table for a in e.aliases}


def unknown_rule_message(name: str) -> str:
    """``unknown algorithm 'x'; valid algorithms: ...; aliases: ...`` (one line): the lab runner's rules."""
    return _unknown(name, 'train')


def _rule_class(key: str):
    """The registered class of ``key`` (``None`` for the lab's ``'bptt'``, which the lab trains itself)."""
    entry = find(key)
    if entry is None:
        raise KeyError(key)
    return None if entry.name == 'bptt' else entry.rule


def cli_options(key: str) -> Tuple[str, ...]:
    """The options of rule ``key`` that text may set (the rule's own, without the implementation ones)."""
    entry = find(key)
    return () if entry is None or entry.name == 'bptt' else entry.option_names


def _value(text: str):
    t = text.strip()
    if t.lower() in ('true', 'false'):
        return t.lower() == 'true'
    if re.fullmatch(r'[+-]?\d+', t):
        return int(t)
    try:
        return float(t)
    except ValueError:
        return t


def _probe_model():
    return brainstate.nn.Module()


def _check_values(spec: str, key: str, opts: dict) -> None:
    """Build the rule on an empty model: its constructor checks every value before any graph is traced."""
    cls = _rule_class(key)
    if cls is None or not opts:
        return
    try:
        cls(_probe_model(), **opts)
    except (TypeError, ValueError) as err:
        valid = ', '.join(cli_options(key))
        raise RuleSpecError(f'{spec!r}: {str(err).rstrip(".")}; options of {key}: {valid}') from None


def parse_rule(spec: str) -> Tuple[str, dict]:
    """``(name, options)`` of ``'NAME[:VALUE][:OPTION=VALUE]...'``; :class:`RuleSpecError` when unusable."""
    if not isinstance(spec, str) or not spec.strip():
        raise RuleSpecError(f'algorithm {spec!r} is empty or not text: give a name such as "bptt", '
                            f'"pp_prop:0.9" or "eprop:feedback=random:kappa=0.5".')
    name, *parts = spec.strip().split(':')
    key = rule_key(name)
    entry = find(key)
    if entry is None:
        raise RuleSpecError(unknown_rule_message(name.strip()))
    if not entry.drives('train'):
        raise RuleSpecError(f'algorithm {name.strip()!r} cannot be compared in the lab runner: {entry.lab_refusal}; '
                            f'use the Python API (see tutorial 05)')
    valid = cli_options(key)
    opts: dict = {}
    for part in parts:
        option, eq, text = part.partition('=')
        if not eq and rule_key(part) in valid and rule_key(part) != _BARE_VALUE_OPTION:   # 'eprop:kappa'
            raise RuleSpecError(f'{spec!r}: option {part.strip()!r} has no value; write {key}:{part.strip()}=VALUE '
                                f'(options of {key}: {", ".join(valid)})')
        if not eq:
            if _BARE_VALUE_OPTION not in valid:
                example = 'decay' if 'decay' in valid else valid[0] if valid else ''
                hint = (f'name the option, e.g. {key}:{example}={part} (options of {key}: {", ".join(valid)})'
                        if valid else f'{key} takes no options')
                raise RuleSpecError(f'{spec!r}: only pp_prop / es_d_rtrl take a value without a name (the decay '
                                    f'or rank, e.g. pp_prop:0.9 or pp_prop:8); {hint}')
            option, text = _BARE_VALUE_OPTION, part
        option = rule_key(option)
        if not text.strip():
            raise RuleSpecError(f'{spec!r}: option {option!r} has no value; write {key}:{option}=VALUE')
        if option not in valid:
            listed = ', '.join(valid) if valid else 'none'
            raise RuleSpecError(f'{spec!r}: {key} has no option {option!r}; valid options of {key}: {listed}')
        if option in opts:
            raise RuleSpecError(f'{spec!r}: option {option!r} is given twice; give it once')
        opts[option] = _value(text)
    _check_values(spec, key, opts)
    return key, opts


def format_rule(name: str, options: dict) -> str:
    """The text that :func:`parse_rule` reads back as ``(name, options)``: ``'eprop:feedback=random:kappa=0.5'``,
    ``'pp_prop:0.9'`` (the decay or rank bare)."""
    options = dict(options)
    bare = [str(options.pop(_BARE_VALUE_OPTION))] if _BARE_VALUE_OPTION in options else []
    return ':'.join([name] + bare + [f'{k}={v}' for k, v in options.items()])
