"""The RTRL family as rule components: one influence matrix over the whole network, exact or estimated.

The per-relation traces of :mod:`.rule` keep one trace for each weight and the hidden
group it feeds, and cut or couple the transition ``D``. The RTRL family keeps instead one
influence matrix ``M = ds/dtheta`` over every recurrent state ``s`` and parameter, carried
through the full step Jacobian ``J = ds^t/ds^{t-1}`` (transition ``'full'``):

.. math::  M^t = J^t M^{t-1} + \\frac{\\partial s^t}{\\partial \\theta}\\Big|_{\\text{step}},
           \\qquad \\nabla_\\theta L^t = \\frac{\\partial L^t}{\\partial \\theta}\\Big|_{\\text{direct}}
           + \\frac{\\partial L^t}{\\partial s^t} M^t .

Each component says how ``M`` is kept (Marschall, Cho & Savin 2020 frame these as one family):

* :class:`ExactInfluence`: all of it (RTRL, Williams & Zipser 1989);
* :class:`SparseInfluence`: the entries reachable within ``n`` steps (SnAp-n, Menick et al. 2021);
* :class:`RankOneInfluence`: an unbiased random rank-one product (UORO, Tallec & Ollivier 2018);
* :class:`KroneckerInfluence`: a random Kronecker product per weight matrix (KF-RTRL, Mujika et al. 2018);
* :class:`NodePerturbation`: no ``M`` at all, a noise-correlation trace whose signal is a scalar
  reward, :class:`Reward` (the three-factor rule, Fiete & Seung 2006).

An influence trace cannot be split over relations, so a rule holding one is run by that
trace's own learner (:meth:`InfluenceTrace.learner`): ``OnlineLearner(model, rule)`` and
``compile(model, rule, x0)`` hand it over. Its signal is :class:`~.rule.Backprop`
(``dL/ds`` is exact) except for node perturbation's :class:`Reward`.

>>> from braintrace_lab.rules import Rule, SparseInfluence, Backprop
>>> Rule('SnAp-2', SparseInfluence(n=2), Backprop(), 'full')
Rule('SnAp-2', trace=SparseInfluence(n=2, engine='auto', pattern_seed=0, max_entries=50000000.0), signal=Backprop(), transition='full')
"""
from __future__ import annotations

import dataclasses
import importlib
import numbers

from .rule import Backprop, SignalComponent, TraceComponent

__all__ = ['InfluenceTrace', 'ExactInfluence', 'SparseInfluence', 'RankOneInfluence', 'KroneckerInfluence',
           'NodePerturbation', 'Reward', 'check_n', 'check_seed', 'check_positive', 'check_baseline_decay',
           'check_count']


# ------------------------------------------------------------------ option checks (the learners use them too)
def check_n(n, who: str) -> int:
    """SnAp's ``n``: an integer >= 1."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f'{who}: n={n!r} must be an integer >= 1 (SnAp-1 keeps the immediate influence, each '
                         f'further step of the recurrence one more ring of units).')
    return int(n)


def check_seed(seed, who: str, name: str = 'seed') -> int:
    """A random stream's seed: an int (``name``: the option that holds it, for the message)."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f'{who}: {name} must be an int, got {seed!r} ({type(seed).__name__}); pass e.g. {name}=0.')
    return int(seed)


def check_positive(value, name: str, who: str, upper=None) -> float:
    """A number ``> 0`` (and ``<= upper`` when given)."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and value > 0
    if not ok or (upper is not None and value > upper):
        bound = f' and <= {upper}' if upper is not None else ''
        raise ValueError(f'{who}: {name}={value!r} must be a number > 0{bound}.')
    return float(value)


def check_baseline_decay(value, who: str) -> float:
    """The reward baseline's running-average factor, in ``[0, 1)``."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not 0 <= value < 1:
        raise ValueError(f'{who}: baseline_decay={value!r} must be in [0, 1) (0: the baseline is the last reward '
                         f'of that step; 0.9: a running average over about 10 visits).')
    return float(value)


def check_count(value, name: str, who: str) -> int:
    """An int ``>= 1``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f'{who}: {name}={value!r} must be an int >= 1.')
    return int(value)


# ------------------------------------------------------------------ traces
class InfluenceTrace(TraceComponent):
    """A trace of the whole network's influence (the RTRL family): transition ``'full'``, its own learner."""
    whole_network = True
    learner_path = ''          # 'module:Class' of the learner that runs it, inside braintrace_lab.algorithms
    signal_type = Backprop     # the one signal it runs with

    def check_rule(self, rule) -> None:
        kind = type(self).__name__
        if rule.transition != 'full':
            raise ValueError(f"Rule {rule.name!r}: {kind} carries the influence through the full step Jacobian; "
                             f"give transition='full' (not {rule.transition!r}).")
        if type(rule.signal) is not self.signal_type:
            raise ValueError(f'Rule {rule.name!r}: {kind} runs with the signal {self.signal_type.__name__}(), '
                             f'not {rule.signal!r}; for random feedback use a per-relation trace '
                             f"(FullTrace(), e-prop / RFLO) with transition 'cut'.")

    def engine(self, binding, relation):
        raise TypeError(f'{type(self).__name__} keeps one influence matrix for the whole network, not one trace '
                        f'per relation: run it with OnlineLearner(model, rule), which hands it to its learner.')

    def options(self) -> dict:
        """The learner's keyword options this component fixes."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def learner(self, model, rule, **implementation):
        """The learner that runs ``rule`` on ``model``; ``implementation``: ``name``, ``vjp_method``,
        ``trace_dtype``."""
        module, cls = self.learner_path.split(':')
        # imported here: those learner modules import the presets, which import this module
        learner_cls = getattr(importlib.import_module(f'.{module}', __package__), cls)
        learner = learner_cls(model, **self.options(), **rule.signal.learner_options(), **implementation)
        learner.rule = rule
        return learner


@dataclasses.dataclass(frozen=True)
class ExactInfluence(InfluenceTrace):
    """RTRL's whole influence matrix ``H x P`` (refused above ``max_entries`` entries). Memory ``O(B H P)``."""
    max_entries: float = 5e7
    learner_path = 'references:RTRL'

    def __post_init__(self):
        object.__setattr__(self, 'max_entries', check_positive(self.max_entries, 'max_entries', 'ExactInfluence'))


@dataclasses.dataclass(frozen=True)
class SparseInfluence(InfluenceTrace):
    """SnAp-n: the influence entries of units reachable within ``n`` steps of the recurrence; ``engine='auto'``
    runs SnAp-1 on the OSTL-recurrent engine where the two are equal, ``'dense'`` keeps the masked matrix."""
    n: int = 1
    engine: str = 'auto'
    pattern_seed: int = 0
    max_entries: float = 5e7
    learner_path = 'influence:SnAp'

    def __post_init__(self):
        object.__setattr__(self, 'n', check_n(self.n, 'SnAp'))
        if self.engine not in ('auto', 'dense'):
            raise ValueError(f"SnAp: engine={self.engine!r} must be 'auto' (SnAp-1 on the OSTL-recurrent engine "
                             f"where the two are equal) or 'dense' (the masked influence matrix).")
        object.__setattr__(self, 'pattern_seed', check_seed(self.pattern_seed, 'SnAp'))
        object.__setattr__(self, 'max_entries', check_positive(self.max_entries, 'max_entries', 'SnAp'))


@dataclasses.dataclass(frozen=True)
class RankOneInfluence(InfluenceTrace):
    """UORO: ``M ~ s~ (x) theta~``, refreshed with random signs drawn from ``seed``. Memory ``O(B (H + P))``."""
    seed: int = 0
    learner_path = 'influence:UORO'

    def __post_init__(self):
        object.__setattr__(self, 'seed', check_seed(self.seed, 'UORO'))


@dataclasses.dataclass(frozen=True)
class KroneckerInfluence(InfluenceTrace):
    """KF-RTRL: each weight matrix's influence as a random Kronecker product ``u (x) A`` (signs from ``seed``)."""
    seed: int = 0
    learner_path = 'kf_rtrl:KFRTRL'

    def __post_init__(self):
        object.__setattr__(self, 'seed', check_seed(self.seed, 'KF-RTRL'))


@dataclasses.dataclass(frozen=True)
class Reward(SignalComponent):
    """A scalar third factor: the reward ``-L^t`` minus a running-average baseline per step of the sequence
    (``baseline_decay``; ``baseline_steps`` steps get a baseline of their own). Only with :class:`NodePerturbation`."""
    baseline_decay: float = 0.9
    baseline_steps: int = 1024
    per_relation = False

    def __post_init__(self):
        object.__setattr__(self, 'baseline_decay', check_baseline_decay(self.baseline_decay, 'ThreeFactor'))
        object.__setattr__(self, 'baseline_steps', check_count(self.baseline_steps, 'baseline_steps', 'ThreeFactor'))

    def learner_options(self) -> dict:
        return {'baseline_decay': self.baseline_decay, 'baseline_steps': self.baseline_steps}


@dataclasses.dataclass(frozen=True)
class NodePerturbation(InfluenceTrace):
    """Node perturbation: Gaussian noise ``sigma xi`` on every hidden state, ``e = trace_decay e + xi^T ds/dtheta``;
    with a :class:`Reward` signal, the three-factor rule. Memory ``O(B P)``."""
    sigma: float = 0.05
    trace_decay: float = 1.0
    seed: int = 0
    learner_path = 'three_factor:ThreeFactor'
    signal_type = Reward

    def __post_init__(self):
        object.__setattr__(self, 'sigma', check_positive(self.sigma, 'sigma', 'ThreeFactor'))
        object.__setattr__(self, 'trace_decay', check_positive(self.trace_decay, 'trace_decay', 'ThreeFactor',
                                                               upper=1.0))
        object.__setattr__(self, 'seed', check_seed(self.seed, 'ThreeFactor'))
