"""Statistics for comparisons over seeds: t-intervals of means, bands of curves, Spearman's rank correlation.

* :func:`t_interval` - the mean of ``K`` seeds' values and its two-sided confidence interval
  from Student's t with ``K - 1`` degrees of freedom,
  :math:`\\bar x \\pm t_{K-1, (1+c)/2} \\, s / \\sqrt{K}` (``s`` the sample standard deviation);
* :func:`curve_band` - the same, step by step, for learning curves recorded on the same steps;
* :func:`spearman` - Spearman's rank correlation (ties get their average rank) with a Fisher-z
  interval: :math:`\\tanh(\\operatorname{atanh}\\rho \\pm z_{(1+c)/2}\\,\\sigma)`,
  :math:`\\sigma = \\sqrt{(1 + \\rho^2/2)/(n-3)}` (Bonett and Wright's variance for rank correlations).

A value that is not finite (a diverged run) makes the mean and interval NaN: a failure is
never averaged away.

>>> t_interval([0.81, 0.84, 0.79])['half_width']     # doctest: +ELLIPSIS
0.06...
>>> spearman([0.9, 0.8, 0.7, 0.95], [0.85, 0.8, 0.6, 0.9])['rho']
1.0
"""
from __future__ import annotations

import math
from typing import List, Sequence

import numpy as np
from scipy import stats as st

__all__ = ['t_interval', 'curve_band', 'spearman', 'rank', 'INTERVAL_LEVEL']

INTERVAL_LEVEL = 0.95


def _check_level(level) -> float:
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0.0 < float(level) < 1.0:
        raise ValueError(f'level={level!r}: give the confidence level as a fraction in (0, 1), e.g. 0.95.')
    return float(level)


def t_interval(values: Sequence[float], level: float = INTERVAL_LEVEL) -> dict:
    """``{'mean', 'lo', 'hi', 'half_width', 'n', 'level'}`` of ``values`` (one per seed).

    One value gives its mean and a NaN interval; a value that is not finite makes all NaN.
    """
    level = _check_level(level)
    x = np.asarray([float(v) for v in values], dtype=float)
    n = int(x.size)
    out = {'mean': math.nan, 'lo': math.nan, 'hi': math.nan, 'half_width': math.nan, 'n': n, 'level': level}
    if n == 0 or not np.all(np.isfinite(x)):
        return out
    out['mean'] = float(x.mean())
    if n >= 2:
        half = float(st.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))
        out.update(lo=out['mean'] - half, hi=out['mean'] + half, half_width=half)
    return out


def curve_band(curves: Sequence[Sequence[float]], level: float = INTERVAL_LEVEL) -> dict:
    """``{'mean', 'lo', 'hi'}`` lists: :func:`t_interval` of the seeds' values at every recorded step.

    ``curves`` are the seeds' values on the same steps; a shorter curve (a run that stopped)
    counts as NaN where it has no value, so the band ends where the first seed stopped.
    """
    n = max((len(c) for c in curves), default=0)
    cols = [[c[i] if i < len(c) else math.nan for c in curves] for i in range(n)]
    stats = [t_interval(col, level) for col in cols]
    return {k: [s[k] for s in stats] for k in ('mean', 'lo', 'hi')}


def rank(values: Sequence[float]) -> List[float]:
    """Ranks 1..n of ``values``; tied values share the average of their ranks."""
    x = np.asarray(values, dtype=float)
    order = np.argsort(x, kind='mergesort')
    ranks = np.empty(x.size, dtype=float)
    i = 0
    while i < x.size:
        j = i
        while j + 1 < x.size and x[order[j + 1]] == x[order[i]]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks.tolist()


def spearman(xs: Sequence[float], ys: Sequence[float], level: float = INTERVAL_LEVEL) -> dict:
    """Spearman's rho of the pairs ``(xs[i], ys[i])`` with finite values, and its Fisher-z interval.

    Returns ``{'rho', 'lo', 'hi', 'n', 'level', 'method', 'reason'}``: ``rho`` is NaN (with
    ``reason``) for fewer than 3 pairs or when one side is constant; the interval needs
    ``n >= 4``. The interval treats the pairs as independent.
    """
    level = _check_level(level)
    if len(xs) != len(ys):
        raise ValueError(f'spearman: xs and ys must pair up, got {len(xs)} and {len(ys)} values.')
    pairs = [(float(a), float(b)) for a, b in zip(xs, ys) if math.isfinite(float(a)) and math.isfinite(float(b))]
    n = len(pairs)
    out = {'rho': math.nan, 'lo': math.nan, 'hi': math.nan, 'n': n, 'level': level,
           'method': 'Fisher z, variance (1 + rho^2/2)/(n - 3)', 'reason': ''}
    if n < 3:
        out['reason'] = f'{n} pair(s) with finite values; a rank correlation needs at least 3'
        return out
    rx, ry = np.asarray(rank([p[0] for p in pairs])), np.asarray(rank([p[1] for p in pairs]))
    if rx.std() == 0 or ry.std() == 0:
        side = 'agreement' if rx.std() == 0 else 'accuracy'
        out['reason'] = f'every run has the same {side}, so ranks cannot correlate'
        return out
    rho = float(np.corrcoef(rx, ry)[0, 1])
    if abs(abs(rho) - 1.0) < 1e-12:              # round-off of a perfect (anti-)agreement of the ranks
        rho = math.copysign(1.0, rho)
    out['rho'] = rho
    if n < 4:
        out['reason'] = 'an interval needs at least 4 pairs'
        return out
    if abs(rho) == 1.0:
        out['reason'] = 'the ranks agree perfectly; the Fisher-z interval is undefined at |rho| = 1'
        return out
    sigma = math.sqrt((1.0 + rho * rho / 2.0) / (n - 3))
    z, q = math.atanh(rho), float(st.norm.ppf(0.5 + level / 2))
    out.update(lo=math.tanh(z - q * sigma), hi=math.tanh(z + q * sigma))
    return out
