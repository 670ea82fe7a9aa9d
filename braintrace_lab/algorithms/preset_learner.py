"""A preset function as a registrable learner: ``register_algorithm(my_preset, 'mine')`` needs no shell class.

A preset is a function returning a :class:`~.rule.Rule` (the named ones live in
:mod:`.rules`). :func:`preset_learner` wraps one in a class that the algorithm table,
``compile``, the lab and the command line read like any learner class: its keyword
options are the preset's parameters (plus the implementation's ``name``, ``vjp_method``,
``trace_dtype``), its display name is the name of the rule the preset returns with its
defaults, its description the preset's docstring. Calling it builds the rule and returns
``OnlineLearner(model, rule)`` (through :class:`~.presets.RedirectingMeta`; that hands a
target-driven signal or an influence trace to the learner that runs it).

>>> from braintrace_lab.rules import Backprop, FullTrace, Rule
>>> def leaky_eprop(kappa: float = 0.5):
...     '''e-prop with a low-pass filter on its trace.'''
...     return Rule('leaky e-prop', FullTrace(kappa=kappa), Backprop(), 'cut')
>>> LeakyEProp = preset_learner(leaky_eprop)     # what register_algorithm(leaky_eprop, 'leaky_eprop') keeps
>>> learner = LeakyEProp(model, kappa=0.8); learner.rule.trace
FullTrace(decay=None, kappa=0.8)
"""
from __future__ import annotations

import inspect

from .presets import OnlineLearner
from .rule import Rule

__all__ = ['preset_learner', 'IMPLEMENTATION']

IMPLEMENTATION = (('name', None), ('vjp_method', 'single-step'), ('trace_dtype', None))


def _rule_of(preset, *args, **options) -> Rule:
    rule = preset(*args, **options)
    if not isinstance(rule, Rule):
        raise TypeError(f'the preset {preset.__name__}() must return a Rule value (see braintrace_lab.rules), '
                        f'got {type(rule).__name__}.')
    return rule


def preset_learner(preset) -> type:
    """A learner class whose construction runs ``OnlineLearner(model, preset(**options))`` (see module doc)."""
    if isinstance(preset, type) or not callable(preset):
        raise TypeError(f'preset_learner takes a function returning a Rule, got {preset!r}.')
    params = list(inspect.signature(preset).parameters.values())
    taken = {'model'} | {n for n, _ in IMPLEMENTATION}
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY):
            raise TypeError(f'the preset {preset.__name__}() must name each option (no *args, **kwargs or '
                            f'positional-only parameters): {p} is not one.')
        if p.name in taken:
            raise TypeError(f'the preset {preset.__name__}() has an option {p.name!r}, a name the learner keeps '
                            f'for itself ({", ".join(sorted(taken))}); rename it.')
    # with every option defaulted, the rule it returns names the learner; a required option: the function's name
    required = any(p.default is inspect.Parameter.empty for p in params)
    default_rule = None if required else _rule_of(preset)

    def redirect(model, *args, name=None, vjp_method='single-step', trace_dtype=None, **options):
        rule = _rule_of(preset, *args, **options)
        return OnlineLearner(model, rule, name=name, vjp_method=vjp_method, trace_dtype=trace_dtype)

    def __init__(self, model, *args, **options):          # never runs: redirect builds the rule's learner
        raise TypeError('a preset learner is built by its redirect')

    signature = [inspect.Parameter('self', inspect.Parameter.POSITIONAL_OR_KEYWORD),
                 inspect.Parameter('model', inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    signature += [p.replace(annotation=inspect.Parameter.empty) for p in params]
    signature += [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=d) for n, d in IMPLEMENTATION]
    __init__.__signature__ = inspect.Signature(signature)
    attrs = {'redirect': staticmethod(redirect), '__init__': __init__,
             '__doc__': preset.__doc__ or f'The {preset.__name__} preset.',
             '__module__': preset.__module__, 'preset': staticmethod(preset),
             'display_name': default_rule.name if default_rule is not None else preset.__name__}
    if default_rule is not None and default_rule.signal.needs_target:
        attrs['runner_needs'] = 'the target at every step (set_target)'
    return type(preset.__name__, (OnlineLearner,), attrs)
