"""A learning rule as a value: a trace engine, a learning-signal source and a transition treatment.

The online rules of this package differ along three axes, and a :class:`Rule` is one
frozen, hashable choice on each:

* a **trace** component says what each relation keeps between steps and how it
  contracts the signal: :class:`FullTrace` (``eps = D eps + Df (x) x``, D-RTRL, e-prop,
  OSTL, OTPE), :class:`FactorTrace` (``ex``, ``ef`` factors, ES-D-RTRL, OSTL feed-forward,
  F-OTPE), :class:`LowRankTrace` (ES-D-RTRL's rank form) and :class:`Presynaptic`
  (OTTT's presynaptic trace ``a = lam a + x``);
* a **signal** component says what the trace is contracted with: :class:`Backprop`
  (``dL/dh`` through the readout), :class:`RandomFeedback` (the readout's transpose
  replaced by a frozen ``B``, e-prop / RFLO) or :class:`ProjectedTarget` (``y* P``, OSTTP);
* a **transition**: ``'cut'`` (``D`` leaves recurrent mixing through ops out),
  ``'coupled'`` (``D`` includes each position's self term through ops, OSTL) or ``'full'``
  (the whole step Jacobian, for the RTRL family's influence traces of :mod:`.influence_traces`:
  exact RTRL, SnAp-n, UORO, KF-RTRL, node perturbation with a reward signal).

Decays are a float, or ``'leak'``: the leak of the neuron that owns the hidden group
(:func:`~.snn_traces.leak_decays`). A rule is bound to a compiled graph by
:meth:`Rule.bind`, which checks that the graph fits and builds each relation's engine
(the engine classes of :mod:`.engines` and :mod:`.snn_traces`).

>>> rule = Rule('OTTT with random feedback', Presynaptic('leak'), RandomFeedback(seed=3), 'cut')
>>> learner = braintrace_lab.compile(model, rule, x0)        # or OnlineLearner(model, rule)
"""
from __future__ import annotations

import dataclasses
import functools
import numbers
from typing import Optional, Tuple, Union

import jax.numpy as jnp
import numpy as np

from ..errors import CompilationError
from .bias_corrected import BiasCorrectedIODimEngine
from .engines import IODimEngine, LowRankEngine, ParamDimEngine
from .feedback import FeedbackPlan, FixedRandomFeedback, TargetProjection, build_feedback, output_groups
from .options import check_flag
from .snn_traces import KappaTraceFilter, PresynapticTrace, ProjectedSignal, check_unit_interval, leak_decays

__all__ = ['Rule', 'RuleBinding', 'TraceComponent', 'SignalComponent', 'FullTrace', 'FactorTrace', 'LowRankTrace',
           'Presynaptic', 'Backprop', 'RandomFeedback', 'ProjectedTarget', 'TRANSITIONS', 'feedback_signal',
           'factor_engine']

TRANSITIONS = ('cut', 'coupled', 'full')
Decay = Union[None, float, str]


def _decay(value, who: str, allow_d: bool = False):
    """A decay option: a float in ``[0, 1)``, ``'leak'`` (the neuron's own), or ``None`` (use ``D``) if allowed."""
    if value is None and allow_d:
        return None
    if isinstance(value, str):
        if value == 'leak':
            return value
        raise ValueError(f"{who}: decay={value!r}; give a float in [0, 1) or 'leak' (the neuron's own leak)"
                         + (", or None (the group's transition D)" if allow_d else '') + '.')
    return check_unit_interval('decay', value, who)


def _plain(value):
    """A JSON-ready form of a component field."""
    if isinstance(value, FixedRandomFeedback):
        return {'matrix_shape': list(value.shape)}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def factor_engine(a: float, normalized: bool, dtype=None, bias_correction: bool = False,
                  uses_D: bool = True) -> IODimEngine:
    """The factorised trace with decay ``a``: ``ef = a T(ef) + c D_f``, ``T = D`` (``uses_D``) or the
    identity, ``c = 1`` (exact at the first step) or ``c = 1 - a`` (``normalized=True``);
    ``bias_correction=True`` divides ``ef`` by ``1 - a^n`` after ``n`` steps (braintrace's form
    together with ``normalized=True``, see :class:`~.bias_corrected.BiasCorrectedIODimEngine`)."""
    cls = BiasCorrectedIODimEngine if bias_correction else IODimEngine
    return cls(dtype=dtype, x_decay=a, f_decay=a, f_scale=1.0 - a if normalized else 1.0, f_uses_D=uses_D)


class _Component:
    """Shared by the components: a plain-dict form and a kind name."""

    def to_dict(self) -> dict:
        return {'kind': type(self).__name__,
                **{f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}}


class TraceComponent(_Component):
    """What a relation keeps between steps: subclasses build the engine of one relation."""
    per_step_parts = False     # True: its engines keep this step's factor in the trace for one step only
    whole_network = False      # True: one trace for the whole network, run by its own learner (the RTRL family)

    def check_rule(self, rule) -> None:
        """Raise ``ValueError`` when ``rule``'s signal or transition does not go with this trace."""
        if rule.transition == 'full':
            raise ValueError(f"Rule {rule.name!r}: transition='full' carries the whole step Jacobian, which only an "
                             f"influence trace keeps (ExactInfluence(), SparseInfluence(n), RankOneInfluence()); "
                             f"{type(self).__name__} takes 'cut' or 'coupled'.")
        if not rule.signal.per_relation:
            raise ValueError(f'Rule {rule.name!r}: the signal {rule.signal!r} is a scalar reward, which goes with '
                             f'NodePerturbation(), not with {type(self).__name__}.')

    def check_graph(self, record, plan, who: str) -> None:
        """Raise :class:`CompilationError` when this trace cannot express the compiled graph."""

    def engine(self, binding: 'RuleBinding', relation):
        raise NotImplementedError(f'{type(self).__name__}.engine(binding, relation) must return a trace engine.')


class SignalComponent(_Component):
    """What the trace is contracted with: may wrap the plan, each engine, or map ``dL/dh``."""
    needs_target = False      # True: the learner must be given the target at each step (OSTTP)
    per_relation = True       # False: a scalar signal for the whole network (a reward)

    def prepare(self, plan, dtype, who: str, **options):
        """Per-graph state (matrices drawn for this graph); ``None`` when there is none."""
        return None

    def wrap_plan(self, plan, state):
        return plan

    def wrap_engine(self, engine, relation, state):
        return engine

    def learning_signal(self, g, cot_out, plan, state):
        return g

    def learner_options(self) -> dict:
        """Keyword options a whole-network learner takes from this signal (the three-factor rule's reward)."""
        return {}


# ------------------------------------------------------------------ traces
@dataclasses.dataclass(frozen=True)
class FullTrace(TraceComponent):
    """A per-weight trace ``eps = T(eps) + Df (x) x`` (``T`` = ``D`` for ``decay=None``, else a scalar leak),
    optionally low-passed, ``e_bar = kappa e_bar + eps`` (e-prop's filter). Memory ``O(B |theta| S)``."""
    decay: Decay = None
    kappa: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, 'decay', _decay(self.decay, 'FullTrace', allow_d=True))
        object.__setattr__(self, 'kappa', check_unit_interval('kappa', self.kappa, 'FullTrace'))

    def engine(self, binding, relation):
        inner = ParamDimEngine(dtype=binding.dtype, decay=binding.decay(self.decay, relation))
        return KappaTraceFilter(inner=inner, kappa=self.kappa) if self.kappa > 0 else inner


@dataclasses.dataclass(frozen=True)
class FactorTrace(TraceComponent):
    """Factors ``ex = a ex + x`` and ``ef = a T(ef) + c Df`` (``T = D`` when ``uses_D``), gradient
    ``ex (x) (g . ef)``; ``normalized``: ``c = 1 - a``; ``bias_correction``: ``ef / (1 - a^n)``.
    Memory ``O(B (I + O S))``."""
    decay: Decay = 0.0
    normalized: bool = False
    bias_correction: bool = False
    uses_D: bool = True

    def __post_init__(self):
        object.__setattr__(self, 'decay', _decay(self.decay, 'FactorTrace'))
        for name in ('normalized', 'bias_correction', 'uses_D'):
            object.__setattr__(self, name, check_flag(name, getattr(self, name), 'FactorTrace'))

    def engine(self, binding, relation):
        return factor_engine(binding.decay(self.decay, relation), self.normalized, binding.dtype,
                             self.bias_correction, self.uses_D)


@dataclasses.dataclass(frozen=True)
class LowRankTrace(TraceComponent):
    """The per-weight trace kept as ``rank`` factor pairs, truncated to its top singular modes each step."""
    rank: int = 1

    def __post_init__(self):
        if isinstance(self.rank, bool) or not isinstance(self.rank, numbers.Integral) or self.rank < 1:
            raise ValueError(f'LowRankTrace: rank={self.rank!r} must be an integer >= 1, e.g. LowRankTrace(8).')
        object.__setattr__(self, 'rank', int(self.rank))

    def engine(self, binding, relation):
        return LowRankEngine(dtype=binding.dtype, rank=self.rank)


@dataclasses.dataclass(frozen=True)
class Presynaptic(TraceComponent):
    """OTTT's presynaptic trace: only ``a = decay a + x`` is carried (``O(B I)``); gradient
    ``a (x) (g . Df)`` with this step's ``Df``. One state per neuron only."""
    decay: Decay = 'leak'
    per_step_parts = True

    def __post_init__(self):
        object.__setattr__(self, 'decay', _decay(self.decay, 'Presynaptic'))

    def check_graph(self, record, plan, who):
        for rel in plan.relations:
            g = record.groups[rel.group]
            if g.num_states > 1:
                raise CompilationError(
                    f'{who} keeps one presynaptic trace and one postsynaptic factor per neuron, but hidden '
                    f'group {g.name} ({", ".join(g.states)}) has {g.num_states} states per position (an '
                    f'adaptive neuron such as ALIF), fed by {rel.param!r}. {who} cannot express it: use '
                    f'D_RTRL or EProp for this model.')

    def engine(self, binding, relation):
        return PresynapticTrace(dtype=binding.dtype, decay=binding.decay(self.decay, relation))


# ------------------------------------------------------------------ signals
@dataclasses.dataclass(frozen=True)
class Backprop(SignalComponent):
    """``dL/dh`` by backprop through the readout (the exact one-step learning signal)."""


@dataclasses.dataclass(frozen=True)
class RandomFeedback(SignalComponent):
    """The readout's transpose replaced by a frozen random ``B`` (feedback alignment): drawn per dense
    readout from ``seed``, or the given ``matrix`` (readout inputs, readout outputs)."""
    seed: int = 0
    matrix: Optional[FixedRandomFeedback] = None

    def __post_init__(self):
        if isinstance(self.seed, bool) or not isinstance(self.seed, numbers.Integral):
            raise TypeError(f'RandomFeedback: seed must be an int, got {self.seed!r}.')
        object.__setattr__(self, 'seed', int(self.seed))
        if self.matrix is not None and not isinstance(self.matrix, FixedRandomFeedback):
            object.__setattr__(self, 'matrix', FixedRandomFeedback(self.matrix))

    def prepare(self, plan, dtype, who, **options):
        return build_feedback(plan, 'random' if self.matrix is None else self.matrix, self.seed, who)

    def wrap_plan(self, plan, state):
        return FeedbackPlan(plan, state)


@dataclasses.dataclass(frozen=True)
class _TargetState:
    """What :class:`ProjectedTarget` fixes for one graph."""
    projection: TargetProjection
    target_shape: Tuple[int, ...]
    target_dtype: object
    out_groups: frozenset
    projected: Tuple[int, ...]
    groups: tuple


@dataclasses.dataclass(frozen=True)
class ProjectedTarget(SignalComponent):
    """OSTTP's signal: ``L = y* P`` with a frozen random ``P`` per hidden state that is not an output
    (no backprop across layers); output groups keep ``dL/dh``. The learner stores ``y*``."""
    seed: int = 0
    target_shape: Optional[Tuple[int, ...]] = None
    needs_target = True

    def __post_init__(self):
        if isinstance(self.seed, bool) or not isinstance(self.seed, numbers.Integral):
            raise TypeError(f'ProjectedTarget: seed must be an int, got {self.seed!r}.')
        object.__setattr__(self, 'seed', int(self.seed))
        if self.target_shape is not None:
            sizes = [s.item() if isinstance(s, np.generic) else s for s in np.atleast_1d(np.asarray(self.target_shape,
                                                                                              dtype=object))]
            if not sizes or any(isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1 for s in sizes):
                raise ValueError(f'target_shape={self.target_shape!r}: give the target\'s shape as positive integer '
                                 f'sizes, e.g. target_shape=(n_out,) (or leave it out: the shape of the model\'s '
                                 f'output).')
            object.__setattr__(self, 'target_shape', tuple(int(s) for s in sizes))

    def prepare(self, plan, dtype, who, target_shape=None, **options):
        shape = tuple(target_shape or self.target_shape or ())
        if not shape:
            raise CompilationError(f'{who}: the projected target needs its shape; give '
                                   f'ProjectedTarget(target_shape=(n_out,)).')
        outs = output_groups(plan)
        projected = tuple(i for gi, g in enumerate(plan.groups) if gi not in outs for i in g)
        tdtype = jnp.dtype(dtype or plan.leaves[plan.hidden_ids[0]].invar.aval.dtype)
        return _TargetState(TargetProjection(plan, shape, projected, self.seed, who), shape, tdtype,
                            frozenset(outs), projected, tuple(tuple(g) for g in plan.groups))

    def wrap_engine(self, engine, relation, state):
        if relation.group in state.out_groups:
            return engine
        projs = [functools.partial(state.projection.signal, i) for i in state.groups[relation.group]]
        return ProjectedSignal(engine, projs, state.target_shape, state.target_dtype)


def feedback_signal(feedback, seed: int, who: str) -> SignalComponent:
    """e-prop's ``feedback=`` option as a signal: ``'symmetric'``, ``'random'`` or a matrix."""
    if isinstance(feedback, str):
        if feedback == 'symmetric':
            return Backprop()
        if feedback == 'random':
            return RandomFeedback(seed=seed)
        raise ValueError(f"{who}: feedback={feedback!r}; choose 'symmetric', 'random' or a FixedRandomFeedback.")
    return RandomFeedback(seed=seed, matrix=feedback)


# ------------------------------------------------------------------ the rule
@dataclasses.dataclass(frozen=True)
class Rule:
    """A learning rule as a value: ``Rule(name, trace, signal, transition)`` (see the module docstring).

    >>> Rule('e-prop', FullTrace(kappa=0.9), RandomFeedback(seed=3), 'cut')
    """
    name: str
    trace: TraceComponent
    signal: SignalComponent = Backprop()
    transition: str = 'cut'

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f'Rule: name must be a non-empty string (shown in tables and messages), '
                            f'got {self.name!r}.')
        if not isinstance(self.trace, TraceComponent):
            raise TypeError(f'Rule {self.name!r}: trace must be a trace component (FullTrace(), FactorTrace(0.9), '
                            f"LowRankTrace(8), Presynaptic('leak')), got {self.trace!r}.")
        if not isinstance(self.signal, SignalComponent):
            raise TypeError(f'Rule {self.name!r}: signal must be a signal component (Backprop(), '
                            f'RandomFeedback(seed=0), ProjectedTarget(target_shape=(n_out,))), got {self.signal!r}.')
        if self.transition not in TRANSITIONS:
            raise ValueError(f"Rule {self.name!r}: transition={self.transition!r}; choose 'cut' (recurrent "
                             f"mixing left out of D), 'coupled' (D includes each position's self term) or 'full' "
                             f"(the whole step Jacobian, with an influence trace).")
        self.trace.check_rule(self)

    @property
    def coupled(self) -> bool:
        return self.transition == 'coupled'

    def __repr__(self):
        return f'Rule({self.name!r}, trace={self.trace!r}, signal={self.signal!r}, transition={self.transition!r})'

    def to_dict(self) -> dict:
        """A plain (JSON-ready) dictionary of the rule."""
        return {'name': self.name, 'trace': self.trace.to_dict(), 'signal': self.signal.to_dict(),
                'transition': self.transition}

    def bind(self, model, record, plan, dtype=None, who: Optional[str] = None, **signal_options) -> 'RuleBinding':
        """Fix the rule to one compiled graph (raises :class:`CompilationError` if it cannot express it)."""
        return RuleBinding(self, model, record, plan, dtype, who or self.name, signal_options)


class RuleBinding:
    """A rule fixed to one compiled graph: its decays per relation, the signal's state, each relation's engine."""

    def __init__(self, rule: Rule, model, record, plan, dtype, who: str, signal_options: dict):
        self.rule, self.dtype, self.who = rule, dtype, who
        rule.trace.check_graph(record, plan, who)
        uses_leak = getattr(rule.trace, 'decay', None) == 'leak'
        self.leaks = leak_decays(model, plan, None) if uses_leak else {}
        self.signal_state = rule.signal.prepare(plan, dtype, who, **signal_options)

    def decay(self, spec, relation):
        """A component's decay for ``relation``: ``None`` and floats as given, ``'leak'`` resolved."""
        return self.leaks[relation.key] if spec == 'leak' else spec

    def engine(self, relation):
        return self.rule.signal.wrap_engine(self.rule.trace.engine(self, relation), relation, self.signal_state)

    def wrap_plan(self, plan):
        return self.rule.signal.wrap_plan(plan, self.signal_state)

    def learning_signal(self, g, cot_out, plan):
        return self.rule.signal.learning_signal(g, cot_out, plan, self.signal_state)
