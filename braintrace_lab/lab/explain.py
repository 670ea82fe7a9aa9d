"""Why the rows of a comparison differ: the model in words, and which rules are exact on it.

Each rule's verdict is *measured*: a rule is exact on this model when its summed gradient
matched the oracle's at every recorded step of every seed (cosine >= ``1 - 1e-4`` and
relative error <= ``1e-3``, float32 round-off). The *reason* comes from what the rule
keeps (:data:`RULE_FACTS`) and what the model is: a model factory may say so with
``describe()`` (words) and ``recurrent`` (whether a hidden layer's output feeds its own
input through trainable weights).

>>> lines = explain_rules(comparison.seed_records, model_factory)     # doctest: +SKIP
"""
from __future__ import annotations

import math
import re
from typing import Dict, List, Optional

from .names import display_names
from ..rules_table import find, rule_key

__all__ = ['explain_rules', 'describe_model', 'is_recurrent', 'exact_on_record', 'RULE_FACTS']

COSINE_TOL, REL_TOL = 1e-4, 1e-3

# canonical rule name -> (what it keeps, when it is exact, what it drops on a recurrent layer)
RULE_FACTS: Dict[str, tuple] = {
    'bptt': ('the whole sequence and backpropagates through it', 'It is the exact gradient by construction.', ''),
    'rtrl': ('the full RTRL influence matrix', 'It is exact on any model (at O(n^4) cost).', ''),
    'd_rtrl': ('a full eligibility trace per weight through each neuron\'s own state',
               'It is exact when each neuron\'s state depends only on its own past and its inputs (leaky '
               'integrators, LIF/ALIF layers fed forward).',
               'D-RTRL leaves out every path through another neuron\'s state'),
    'pp_prop': ('D-RTRL\'s trace factorised into an input trace and an output trace with one decay',
                'It is exact only one step after a reset (or with a full rank), so it is approximate even where '
                'D-RTRL is exact.', 'it also leaves out the paths through other neurons'),
    'eprop': ('D-RTRL\'s trace, optionally low-pass filtered (kappa), with a learning signal sent back through '
              'a fixed random feedback matrix (feedback=random) instead of the readout\'s transposed weights',
              'With symmetric feedback and kappa = 0 it is exact where D-RTRL is; with random feedback or a filter '
              'the hidden weights never get the exact gradient (the readout still does).',
              'it also leaves out the paths through other neurons'),
    'ostl_recurrent': ('D-RTRL\'s trace plus each neuron\'s recurrent connection to itself',
                       'It is exact when a weight\'s only recurrence is a neuron\'s connection to itself.',
                       'the all-to-all recurrent weights also reach other neurons, and OSTL leaves those paths out '
                       '(it adds one self-connection per neuron to D-RTRL, so with many recurrent inputs per neuron '
                       'it stays close to D-RTRL)'),
    'ostl_feedforward': ('an input trace times a one-step postsynaptic factor',
                         'It is exact only one step after a reset: it drops the recursion through time.',
                         'it also drops the paths through other neurons'),
    'ottt': ('a presynaptic trace times this step\'s postsynaptic factor (O(B I) memory)',
             'It is not exact for neurons with memory: how the membrane carries earlier inputs is replaced by the '
             'presynaptic trace\'s fixed leak.', 'it also drops the paths through other neurons'),
    'otpe': ('a per-weight trace with one scalar leak in place of each neuron\'s transition',
             'It is exact only when a neuron\'s own transition is that leak.',
             'it also drops the paths through other neurons'),
    'snap': ('the RTRL influence entries of a sparsity pattern', 'It is exact when the pattern holds every '
             'non-zero influence.', ''),
    'uoro': ('an unbiased rank-one random estimate of RTRL', 'It is never exact (a noisy, unbiased estimate).', ''),
    'kf_rtrl': ('an unbiased random estimate of RTRL, one Kronecker product per weight matrix',
                'It is exact only one step after a reset (a noisy, unbiased estimate afterwards).', ''),
    'three_factor': ('a node-perturbation eligibility trace times the reward (minus the loss) less a running-average '
                     'baseline', 'It is never exact: its mean over the exploration noise approaches BPTT\'s '
                     'gradient as the noise shrinks (its readout learns exactly).', ''),
}


def describe_model(model_factory) -> str:
    """The model in words: ``model_factory.describe()`` when it has one, else its repr."""
    describe = getattr(model_factory, 'describe', None)
    if callable(describe):
        try:
            return str(describe())
        except Exception:            # a describe() that fails must not lose a finished comparison
            pass
    return re.sub(r' at 0x[0-9a-fA-F]+', '', repr(model_factory))


def is_recurrent(model_factory) -> Optional[bool]:
    """``model_factory.recurrent`` (True/False) when it says, else ``None`` (unknown)."""
    value = getattr(model_factory, 'recurrent', None)
    return None if value is None else bool(value)


def exact_on_record(rec) -> Optional[bool]:
    """Whether ``rec``'s gradient matched the oracle at every recorded step; ``None`` without an oracle."""
    pairs = [(c, e) for c, e in zip(rec.cosine, rec.relative_error) if not (math.isnan(c) and math.isnan(e))]
    if not pairs:
        return None
    return all(math.isfinite(c) and math.isfinite(e) and c >= 1 - COSINE_TOL and e <= REL_TOL for c, e in pairs)


def _canonical(name: str) -> str:
    entry = find(name)
    return rule_key(name) if entry is None else entry.name


def _display(name: str) -> str:
    entry = find(name)
    return name if entry is None else entry.display_name


def _measured(records) -> str:
    cos = [c for rec in records for c in rec.cosine if math.isfinite(c)]
    err = [e for rec in records for e in rec.relative_error if math.isfinite(e)]
    if not cos:
        return 'no finite agreement was recorded'
    return f'cosine to BPTT {min(cos):.4f} to {max(cos):.4f}, relative error up to {max(err):.3g}'


def _rule_line(label: str, records: list, recurrent: Optional[bool], title: Optional[str] = None) -> str:
    name = records[0].config.get('algorithm', label)
    options = records[0].config.get('options') or {}
    key = _canonical(name)
    what, when, drops = RULE_FACTS.get(key, ('', '', ''))
    title = title or label
    head = title if title != label else f'{label} ({_display(key)})'
    if key == 'bptt':
        return f'{head}: exact by construction; it is the reference the others are measured against.'
    verdicts = [exact_on_record(r) for r in records]
    facts = f'It keeps {what}. {when}' if what else 'No facts are recorded for this rule.'
    if key == 'eprop' and options.get('feedback', 'symmetric') == 'symmetric' and not options.get('kappa'):
        facts += ' With these options it computes what D-RTRL does.'
    if all(v is None for v in verdicts):
        return f'{head}: not measured (no oracle). {facts}'
    exact = all(v for v in verdicts if v is not None)
    if not exact and recurrent and drops:
        facts += f' This model is recurrent, and {drops}.'
    verdict = 'exact on this model' if exact else 'not exact on this model'
    return f'{head}: {verdict} ({_measured(records)}). {facts}'


def explain_rules(seed_records: Dict[str, list], model_factory=None) -> List[str]:
    """Lines for a report: the model in words, then per rule whether it is exact here and why."""
    recurrent = is_recurrent(model_factory) if model_factory is not None else None
    lines = []
    if model_factory is not None:
        shape = {True: ' It is recurrent: a hidden layer\'s output feeds its own input through trainable weights.',
                 False: ' It has no recurrent weights: each hidden unit depends on its own past and its inputs.',
                 None: ''}[recurrent]
        lines.append(f'Model: {describe_model(model_factory)}.{shape}')
    titles = display_names(seed_records, [(k, r[0].config.get('algorithm', k), r[0].config.get('options') or {})
                                          for k, r in seed_records.items() if r])
    exact, inexact = [], []
    for label, records in seed_records.items():
        if not records:
            continue
        verdicts = [exact_on_record(r) for r in records]
        if records[0].config.get('algorithm') == 'bptt' or (any(v is not None for v in verdicts)
                                                             and all(v is not False for v in verdicts)):
            exact.append(titles[label])
        elif any(v is False for v in verdicts):
            inexact.append(titles[label])
    if exact or inexact:
        lines.append(f'Exact on this model: {", ".join(exact) or "none"}; not exact: {", ".join(inexact) or "none"} '
                     f'(measured: an online rule is exact when its gradient matched BPTT\'s at every recorded '
                     f'step of every seed, cosine >= {1 - COSINE_TOL:g} and relative error <= {REL_TOL:g}).')
    for label, records in seed_records.items():
        if records:
            lines.append(_rule_line(label, records, recurrent, titles[label]))
    return lines
