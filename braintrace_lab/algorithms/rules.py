"""The named online rules as preset functions returning :class:`~.rule.Rule` values.

Each preset chooses a trace, a learning signal and a transition; a learner runs it with
``OnlineLearner(model, rule)`` or ``braintrace_lab.compile(model, rule, x0)``, and the
seed's classes (``D_RTRL``, ``pp_prop``, ``EProp``, ...) build these same values from
their options. The RTRL family's presets (:func:`rtrl`, :func:`snap`, :func:`uoro`, :func:`kf_rtrl`,
:func:`three_factor`) hold an influence trace of :mod:`.influence_traces` with the
``'full'`` transition. Compose a rule without a name from the same parts:

>>> eprop(feedback='random', kappa=0.9)
Rule('e-prop', trace=FullTrace(decay=None, kappa=0.9), signal=RandomFeedback(seed=0, matrix=None), transition='cut')
>>> Rule('OTTT + random feedback', Presynaptic('leak'), RandomFeedback(seed=1))    # no name of its own
"""
from __future__ import annotations

from .influence_traces import (ExactInfluence, InfluenceTrace, KroneckerInfluence, NodePerturbation, RankOneInfluence,
                               Reward, SparseInfluence)
from .options import check_decay_or_rank, check_flag
from .rule import (Backprop, FactorTrace, FullTrace, LowRankTrace, Presynaptic, ProjectedTarget, RandomFeedback,
                   Rule, RuleBinding, SignalComponent, TraceComponent, feedback_signal)

__all__ = ['d_rtrl', 'es_d_rtrl', 'eprop', 'ostl_recurrent', 'ostl_feedforward', 'otpe', 'ottt', 'osttp', 'rflo',
           'rtrl', 'snap', 'uoro', 'kf_rtrl', 'three_factor',
           'Rule', 'RuleBinding', 'TraceComponent', 'SignalComponent', 'FullTrace', 'FactorTrace', 'LowRankTrace',
           'Presynaptic', 'Backprop', 'RandomFeedback', 'ProjectedTarget', 'InfluenceTrace', 'ExactInfluence',
           'SparseInfluence', 'RankOneInfluence', 'KroneckerInfluence', 'NodePerturbation', 'Reward']


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


def ostl_feedforward(decay: float = 0.0, normalized: bool = False, bias_correction: bool = False) -> Rule:
    """OSTL (feed-forward): factor traces with decay ``a`` (``0``: the one-step spatial term only)."""
    return Rule('OSTL (feed-forward)', FactorTrace(decay, normalized, bias_correction), Backprop(), 'cut')


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


# ------------------------------------------------------------------ the RTRL family (transition 'full')
def rtrl(max_entries: float = 5e7) -> Rule:
    """Exact RTRL: the whole influence matrix through the full step Jacobian (equal to BPTT)."""
    return Rule('exact RTRL', ExactInfluence(max_entries), Backprop(), 'full')


def snap(n: int = 1, engine: str = 'auto', pattern_seed: int = 0, max_entries: float = 5e7) -> Rule:
    """SnAp-n: the influence entries of units reachable within ``n`` steps (exact RTRL at the diameter)."""
    return Rule('SnAp-n', SparseInfluence(n, engine, pattern_seed, max_entries), Backprop(), 'full')


def uoro(seed: int = 0) -> Rule:
    """UORO: an unbiased random rank-one estimate of the influence matrix."""
    return Rule('UORO', RankOneInfluence(seed), Backprop(), 'full')


def kf_rtrl(seed: int = 0) -> Rule:
    """KF-RTRL: each weight matrix's influence as an unbiased random Kronecker product."""
    return Rule('KF-RTRL', KroneckerInfluence(seed), Backprop(), 'full')


def three_factor(sigma: float = 0.05, baseline_decay: float = 0.9, trace_decay: float = 1.0,
                 baseline_steps: int = 1024, seed: int = 0) -> Rule:
    """Three-factor: a node-perturbation trace times the reward minus a running-average baseline."""
    return Rule('three-factor (reward-modulated)', NodePerturbation(sigma, trace_decay, seed),
                Reward(baseline_decay, baseline_steps), 'full')
