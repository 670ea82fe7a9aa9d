"""Statistics over seeds: Student-t intervals, curve bands, Spearman's rank correlation with a Fisher-z interval."""
import math

import numpy as np
import pytest
from scipy import stats as st

from braintrace_lab.lab.stats import curve_band, rank, spearman, t_interval

T975_DF2 = 4.302652729911275          # Student's t quantile 0.975 with 2 degrees of freedom (tables)


def test_t_interval_matches_the_textbook_formula():
    out = t_interval([1.0, 2.0, 3.0])                     # mean 2, sample sd 1
    assert out['mean'] == 2.0 and out['n'] == 3 and out['level'] == 0.95
    assert out['half_width'] == pytest.approx(T975_DF2 / math.sqrt(3), rel=1e-9)
    assert (out['lo'], out['hi']) == pytest.approx((2.0 - out['half_width'], 2.0 + out['half_width']))
    wider = t_interval([1.0, 2.0, 3.0], level=0.99)
    assert wider['half_width'] > out['half_width']


def test_t_interval_one_value_and_a_failed_seed():
    one = t_interval([0.7])
    assert one['mean'] == 0.7 and math.isnan(one['half_width']) and math.isnan(one['lo'])
    bad = t_interval([0.7, float('nan'), 0.8])           # a diverged seed is never averaged away
    assert math.isnan(bad['mean']) and math.isnan(bad['half_width'])
    with pytest.raises(ValueError, match=r'level=1.5: give the confidence level as a fraction in \(0, 1\)'):
        t_interval([1.0, 2.0], level=1.5)


def test_curve_band_is_the_interval_step_by_step_and_ends_where_a_seed_stopped():
    band = curve_band([[1.0, 2.0, 3.0], [3.0, 4.0, 5.0], [2.0, 3.0]])
    assert band['mean'][:2] == [2.0, 3.0] and math.isnan(band['mean'][2])
    assert band['hi'][0] - band['mean'][0] == pytest.approx(T975_DF2 / math.sqrt(3))
    assert all(lo <= m <= hi for lo, m, hi in zip(band['lo'][:2], band['mean'][:2], band['hi'][:2]))


def test_rank_gives_ties_their_average_rank():
    assert rank([10, 20, 20, 5]) == [2.0, 3.5, 3.5, 1.0]


def test_spearman_agrees_with_scipy_including_ties():
    rng = np.random.default_rng(0)
    x = np.round(rng.random(20), 1)                      # many ties
    y = x + rng.normal(0, 0.3, 20)
    ours = spearman(x, y)
    assert ours['rho'] == pytest.approx(st.spearmanr(x, y).statistic, abs=1e-12)
    # Fisher z with Bonett-Wright's variance (1 + rho^2 / 2) / (n - 3)
    z, s = math.atanh(ours['rho']), math.sqrt((1 + ours['rho'] ** 2 / 2) / 17)
    assert (ours['lo'], ours['hi']) == pytest.approx((math.tanh(z - 1.959963984540054 * s),
                                                      math.tanh(z + 1.959963984540054 * s)))
    assert ours['lo'] < ours['rho'] < ours['hi'] and ours['n'] == 20


def test_spearman_says_why_it_has_no_value():
    assert 'at least 3' in spearman([1, 2], [2, 1])['reason']
    flat = spearman([0.9, 0.8, 0.7, 0.6], [1.0, 1.0, 1.0, 1.0])
    assert math.isnan(flat['rho']) and 'same accuracy' in flat['reason']
    perfect = spearman([1, 2, 3, 4, 5], [2, 4, 6, 8, 10])
    assert perfect['rho'] == 1.0 and math.isnan(perfect['lo']) and 'undefined at |rho| = 1' in perfect['reason']
    few = spearman([1, 2, 3], [1, 3, 2])
    assert few['rho'] == pytest.approx(0.5) and 'at least 4 pairs' in few['reason']
    dropped = spearman([1, 2, float('nan'), 4, 5], [1, 2, 3, 5, 4])
    assert dropped['n'] == 4                            # a diverged run has no cosine: left out, counted out
    with pytest.raises(ValueError, match='must pair up'):
        spearman([1, 2, 3], [1, 2])
