"""The named online rules as preset functions returning :class:`~.rule.Rule` values.

Each preset chooses a trace, a learning signal and a transition; a learner runs it with
``OnlineLearner(model, rule)`` or ``braintrace_lab.compile(model, rule, x0)``, and the
seed's classes (``D_RTRL``, ``pp_prop``, ``EProp``, ...) build these same values from
their options. Compose a rule without a name from the same parts:

>>> eprop(feedback='random', kappa=0.9)
Rule('e-prop', trace=FullTrace(decay=None, kappa=0.9), signal=RandomFeedback(seed=0, matrix=None), transition='cut')
>>> Rule('OTTT + random feedback', Presynaptic('leak'), RandomFeedback(seed=1))    # no name of its own
"""
from __future__ import annotations

from .options import check_decay_or_rank, check_flag
from .rule import (Backprop, FactorTrace, FullTrace, LowRankTrace, Presynaptic, ProjectedTarget, RandomFeedback,
                   Rule, RuleBinding, SignalComponent, TraceComponent, feedback_signal)

__all__ = ['d_rtrl', 'es_d_rtrl', 'eprop', 'ostl_recurrent', 'ostl_feedforward', 'otpe', 'ottt', 'osttp', 'rflo',
           'Rule', 'RuleBinding', 'TraceComponent', 'SignalComponent', 'FullTrace', 'FactorTrace', 'LowRankTrace',
           'Presynaptic', 'Backprop', 'RandomFeedback', 'ProjectedTarget']


def d_rtrl() -> Rule:
    """D-RTRL: the full per-weight trace through ``D`` (mixing cut), exact ``dL/dh``."""
    return Rule('D-RTRL', FullTrace(), Backprop(), 'cut')


def es_d_rtrl(decay_or_rank, normalized: bool = False, bias_correction: bool = False) -> Rule:
    """ES-D-RTRL (pp_prop): factor traces with a float decay, or a rank-``r`` trace with an int."""
    mode, value = check_decay_or_rank(decay_or_rank)
    normalized = check_flag('normalized', normalized, 'es_d_rtrl')
    bias_correction = check_flag('bias_correction', bias_correction, 'es_d_rtrl')
    if mode == 'rank':
        if normalized or bias_correction:
            raise ValueError(f'normalized=True / bias_correction=True shape the output-side factor; they apply '
                             f'to a float decay only, not to the rank form decay_or_rank={decay_or_rank}.')
        return Rule('ES-D-RTRL', LowRankTrace(value), Backprop(), 'cut')
    return Rule('ES-D-RTRL', FactorTrace(value, normalized, bias_correction), Backprop(), 'cut')


def eprop(feedback='symmetric', kappa: float = 0.0, feedback_seed: int = 0) -> Rule:
    """e-prop: the D-RTRL trace (mixing cut), an optional kappa filter, symmetric or random feedback."""
    return Rule('e-prop', FullTrace(kappa=kappa), feedback_signal(feedback, feedback_seed, 'e-prop'), 'cut')


def ostl_recurrent() -> Rule:
    """OSTL (recurrent): the full trace through the coupled per-position transition."""
    return Rule('OSTL (recurrent)', FullTrace(), Backprop(), 'coupled')


def ostl_feedforward(decay: float = 0.0, normalized: bool = False) -> Rule:
    """OSTL (feed-forward): factor traces with decay ``a`` (``0``: the one-step spatial term only)."""
    return Rule('OSTL (feed-forward)', FactorTrace(decay, normalized), Backprop(), 'cut')


def otpe(mode: str = 'full', decay=None) -> Rule:
    """OTPE: ``R = lam R + x (x) Df`` (``'full'``) or F-OTPE's factors (``'approx'``); ``lam`` the neuron's leak."""
    lam = 'leak' if decay is None else decay
    if mode == 'full':
        return Rule('OTPE', FullTrace(decay=lam), Backprop(), 'cut')
    if mode == 'approx':
        return Rule('F-OTPE', FactorTrace(lam, uses_D=False), Backprop(), 'cut')
    raise ValueError(f"OTPE: mode={mode!r}; choose 'full' (R = lam R + x Df, O(B I O)) or 'approx' "
                     f'(F-OTPE, O(B (I + O))).')


def ottt(mode: str = 'A', decay=None) -> Rule:
    """OTTT: a presynaptic trace ``a = lam a + x`` (``'A'``) or ``a = x`` (``'O'``), exact ``dL/dh``."""
    if mode not in ('A', 'O'):
        raise ValueError(f"OTTT: mode={mode!r}; choose 'A' (a = lam a + x) or 'O' (a = x).")
    lam = ('leak' if decay is None else decay) if mode == 'A' else 0.0
    return Rule('OTTT', Presynaptic(lam), Backprop(), 'cut')


def osttp(target_shape=None, projection_seed: int = 0) -> Rule:
    """OSTTP: the D-RTRL trace contracted with a fixed random projection of the target, ``y* P``."""
    return Rule('OSTTP', FullTrace(), ProjectedTarget(projection_seed, target_shape), 'cut')


def rflo(feedback='random', feedback_seed: int = 0) -> Rule:
    """RFLO (Murray 2019): e-prop's local trace with the output error sent back through a fixed random ``B``."""
    return Rule('RFLO', FullTrace(), feedback_signal(feedback, feedback_seed, 'RFLO'), 'cut')
