"""The algorithm table: every registered learning rule as one inspectable record.

Rules are registered once, with :func:`register_algorithm` (the seed's rules in
:mod:`braintrace_lab.registry`, new ones anywhere). Everything else that needs a rule's
name reads this table: ``compile``'s error messages, the lab's rule texts and runner,
the comparison, the widgets' menus and the ``braintrace-lab`` command line. A record
(:class:`RuleEntry`) holds

* ``name``: the canonical name (the first name registered for the class) and its
  ``aliases`` (the other names of the same class);
* ``display_name``: the name people know (the class's ``display_name``, e.g. ``D-RTRL``);
* ``description``: the first line of the class's docstring;
* ``options``: the learning rule's keyword options with their defaults
  (:class:`RuleOption`), and ``implementation_options`` (``name``, ``vjp_method``,
  ``trace_dtype``: the Python API's, not the rule's);
* ``paths``: which of :data:`PATHS` can drive the rule, and ``lab_refusal``: why the
  lab's runner cannot, when it cannot.

What the lab's runner can drive follows from the class: a rule whose steps take windows
of inputs (``vjp_methods`` without ``'single-step'``) or that declares ``runner_needs``
(something each step needs that the runner does not feed, such as OSTTP's target) is
reachable from ``compile`` only. ``'bptt'`` is the exception: the lab trains it with its
own reverse-mode learner.

>>> from braintrace_lab.rules_table import lookup
>>> lookup('ES-D-RTRL').name, lookup('es_d_rtrl').display_name
('pp_prop', 'ES-D-RTRL (pp_prop)')
>>> [o.name for o in lookup('eprop').options][:3]
['feedback', 'kappa', 'feedback_seed']
"""
from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Optional, Tuple

from .algorithms.options import REQUIRED, option_defaults
from .algorithms.preset_learner import preset_learner
from .algorithms.references import BPTT

__all__ = ['register_algorithm', 'algorithm_names', 'rule_key', 'rule_table', 'lookup', 'find', 'for_class',
           'canonical_name', 'canonical_names', 'unknown_rule_message', 'RuleEntry', 'RuleOption', 'UnknownRuleError',
           'PATHS', 'IMPLEMENTATION_OPTIONS']

_REGISTRY: Dict[str, type] = {}

# where a rule can be driven from, and by what
PATHS = {
    'compile': "braintrace_lab.compile(model, NAME, x0) and the rule's class",
    'train': 'lab.train / Trainer (the lab runner: one input per step)',
    'compare': 'lab.compare_algorithms',
    'cli': 'braintrace-lab compare --algorithms',
    'arena': 'the AlgorithmArena widget',
    'agreement': "lab.gradient_agreement and the GradientAgreement widget's menu (online rules)",
}
_RUNNER_PATHS = ('train', 'compare', 'cli', 'arena')
# keywords every rule takes that are about the implementation, not the learning rule
IMPLEMENTATION_OPTIONS = ('name', 'vjp_method', 'trace_dtype')


class UnknownRuleError(ValueError):
    """A rule name that is not registered: the message lists the canonical names (aliases apart)."""


def rule_key(name: str) -> str:
    """The lookup key of a rule or option name: case-insensitive, ``-`` read as ``_``, spaces trimmed."""
    return name.strip().lower().replace('-', '_')


def _origin(cls) -> tuple:
    """Where a learner class (or the preset it wraps) was defined: a notebook cell run again
    defines a new object with the same origin, and may register it again under its names."""
    source = getattr(cls, 'preset', cls)
    return getattr(source, '__module__', None), getattr(source, '__qualname__', None)


def register_algorithm(cls, *names, replace: bool = False):
    """Make ``cls`` reachable from :func:`~braintrace_lab.compile`, the lab and the command line under each
    (case-insensitive) name; the first name of a class is its canonical name, the others its aliases.

    ``cls`` is a learner class, or a preset function returning a :class:`~.algorithms.rule.Rule`
    (wrapped by :func:`~.algorithms.preset_learner.preset_learner`; its parameters become the
    rule's options). A name that already belongs to another rule is refused unless
    ``replace=True``. Returns what was registered."""
    if not names:
        raise TypeError('register_algorithm(cls_or_preset, name, *aliases) needs at least one name.')
    bad = [n for n in names if not isinstance(n, str) or not n.strip()]
    if bad:
        raise TypeError(f'register_algorithm: names must be non-empty strings, got {bad!r}; e.g. '
                        f"register_algorithm(MyRule, 'my_rule', 'my-rule').")
    if not isinstance(cls, type):
        cls = preset_learner(cls)
    taken = {rule_key(n): _REGISTRY[rule_key(n)] for n in names
             if rule_key(n) in _REGISTRY and _origin(_REGISTRY[rule_key(n)]) != _origin(cls)}
    if taken and not replace:
        owners = ', '.join(f'{k!r} ({getattr(v, "display_name", v.__name__)})' for k, v in taken.items())
        raise ValueError(f'register_algorithm: {owners} already name{"s" if len(taken) == 1 else ""} another rule; '
                         f'pick another name, or pass replace=True to rebind it on purpose.')
    for n in names:
        _REGISTRY[rule_key(n)] = cls
    return cls


def algorithm_names():
    """Every registered name, aliases included, sorted."""
    return sorted(_REGISTRY)


@dataclasses.dataclass(frozen=True)
class RuleOption:
    """One keyword option of a rule and its default (``required``: it has none)."""
    name: str
    default: Any = None
    required: bool = False

    def __repr__(self):
        return f'{self.name} (required)' if self.required else f'{self.name}={self.default!r}'

    def to_dict(self) -> dict:
        default = self.default
        if not (default is None or isinstance(default, (bool, int, float, str))):
            default = repr(default)
        return {'name': self.name, 'default': None if self.required else default, 'required': self.required}


@dataclasses.dataclass(frozen=True)
class RuleEntry:
    """One row of the algorithm table (see the module docstring)."""
    name: str
    display_name: str
    description: str
    aliases: Tuple[str, ...]
    options: Tuple[RuleOption, ...]
    implementation_options: Tuple[str, ...]
    paths: Tuple[str, ...]
    lab_refusal: str
    rule: type = dataclasses.field(repr=False, compare=False)

    def __repr__(self):
        opts = ', '.join(map(repr, self.options)) or 'none'
        aliases = f", aliases={', '.join(self.aliases)}" if self.aliases else ''
        return (f'RuleEntry({self.name!r}, {self.display_name!r}{aliases}, options: {opts}; '
                f'paths: {", ".join(self.paths)}; class {self.rule.__name__})')

    @property
    def names(self) -> Tuple[str, ...]:
        """The canonical name, then the aliases."""
        return (self.name,) + self.aliases

    @property
    def option_names(self) -> Tuple[str, ...]:
        return tuple(o.name for o in self.options)

    def drives(self, path: str) -> bool:
        """Whether ``path`` (one of :data:`PATHS`) can drive this rule."""
        _check_path(path)
        return path in self.paths

    def to_dict(self) -> dict:
        """A plain (JSON-ready) dictionary of the record."""
        return {'name': self.name, 'display_name': self.display_name, 'description': self.description,
                'aliases': list(self.aliases), 'options': [o.to_dict() for o in self.options],
                'implementation_options': list(self.implementation_options), 'paths': list(self.paths),
                'lab_refusal': self.lab_refusal, 'class': f'{self.rule.__module__}.{self.rule.__qualname__}'}


def _check_path(path):
    if path is not None and path not in PATHS:
        raise ValueError(f'unknown path {path!r}; choose one of: {", ".join(PATHS)}.')


def _description(cls) -> str:
    lines = (cls.__doc__ or '').strip().splitlines()
    return lines[0].strip().replace('``', '') if lines else ''


def _display_name(cls) -> str:
    own = getattr(cls, 'display_name', None)
    # ETraceAlgorithm's generic 'online rule' is no name: a class that does not set its own shows its class name
    return own if own and own != 'online rule' else cls.__name__


def _lab_refusal(cls) -> str:
    """Why the lab's runner cannot drive ``cls`` ('' when it can)."""
    if issubclass(cls, BPTT):
        return ''                  # the lab trains 'bptt' with its own reverse-mode learner
    if 'single-step' not in tuple(getattr(cls, 'vjp_methods', ('single-step',))):
        return 'it takes windows of inputs (vjp_method multi-step); the runner steps one input at a time'
    needs = getattr(cls, 'runner_needs', None)
    return f'it needs {needs}, which the runner does not feed' if needs else ''


def _entry(cls, names: List[str]) -> RuleEntry:
    options, implementation = [], []
    for option, default in option_defaults(cls):
        if option in IMPLEMENTATION_OPTIONS:
            implementation.append(option)
        else:
            options.append(RuleOption(option, None if default is REQUIRED else default, default is REQUIRED))
    refusal = _lab_refusal(cls)
    paths = ('compile',)
    if not refusal:
        paths += _RUNNER_PATHS + (() if issubclass(cls, BPTT) else ('agreement',))
    return RuleEntry(name=names[0], display_name=_display_name(cls), description=_description(cls),
                     aliases=tuple(names[1:]), options=tuple(options), implementation_options=tuple(implementation),
                     paths=paths, lab_refusal=refusal, rule=cls)


_cache: dict = {}


def rule_table(path: Optional[str] = None) -> Tuple[RuleEntry, ...]:
    """Every registered rule, once: BPTT (the exact reference) first, then in registration order;
    with ``path``, only the rules that ``path`` (one of :data:`PATHS`) can drive."""
    _check_path(path)
    key = tuple((name, id(cls)) for name, cls in _REGISTRY.items())
    if _cache.get('key') != key:
        by_class: Dict[type, List[str]] = {}
        for name, cls in _REGISTRY.items():
            by_class.setdefault(cls, []).append(name)
        entries = [_entry(cls, names) for cls, names in by_class.items()]
        entries.sort(key=lambda e: e.rule is not BPTT)       # stable: registration order otherwise
        _cache.update(key=key, entries=tuple(entries))
    entries = _cache['entries']
    return entries if path is None else tuple(e for e in entries if path in e.paths)


def find(name: str) -> Optional[RuleEntry]:
    """The record of a canonical name or alias, or ``None`` when nothing is registered under it."""
    if not isinstance(name, str):
        return None
    key = rule_key(name)
    cls = _REGISTRY.get(key)
    return None if cls is None else for_class(cls)


def for_class(cls) -> Optional[RuleEntry]:
    """The record of the rule class ``cls`` itself (not of a subclass), or ``None`` when it is not registered."""
    return next((e for e in rule_table() if e.rule is cls), None)


def canonical_names(path: Optional[str] = None) -> List[str]:
    """The canonical names (aliases apart), of the rules ``path`` can drive when given."""
    return [e.name for e in rule_table(path)]


def unknown_rule_message(name, path: Optional[str] = None) -> str:
    """``unknown algorithm 'x'; valid algorithms: ... (aliases: ...)`` on one line; with ``path``, only the
    rules it can drive are valid and the others are named apart."""
    valid = rule_table(path)
    alias_text = '; '.join(f'{", ".join(e.aliases)} = {e.name}' for e in valid if e.aliases)
    text = (f'unknown algorithm {name!r}; valid algorithms: {", ".join(e.name for e in valid)}'
            + (f' (aliases: {alias_text})' if alias_text else ''))
    # the rules that take windows of inputs first, then those that need something the path does not feed
    others = [e.name for e in sorted(rule_table(), key=lambda e: 'single-step' in e.rule.vjp_methods)
              if e not in valid]
    if others:
        where = 'the lab runner' if path in _RUNNER_PATHS else PATHS[path].split(' (')[0]
        text += f'; not in {where}: {", ".join(others)}'
    return text


def lookup(name: str, path: Optional[str] = None) -> RuleEntry:
    """The record of a canonical name or alias; :class:`UnknownRuleError` (listing the canonical names) when
    none is registered, ``ValueError`` with the reason when ``path`` cannot drive the rule."""
    entry = find(name)
    if entry is None:
        raise UnknownRuleError(unknown_rule_message(name, path))
    if path is not None and not entry.drives(path):
        why = entry.lab_refusal or f"{entry.display_name} is the exact reference the online rules are compared with"
        raise ValueError(f'{name!r} cannot be used in {PATHS[path]}: {why}.')
    return entry


def canonical_name(name: str) -> str:
    """The canonical name of a registered name or alias (:class:`UnknownRuleError` otherwise)."""
    return lookup(name).name
