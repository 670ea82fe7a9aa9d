"""gradient_agreement: per-parameter and per-step agreement of an online rule with the oracle."""
import json

import numpy as np
import pytest

from braintrace_lab import lab


def test_d_rtrl_is_exact_per_step_on_an_exact_fixture():
    res = lab.gradient_agreement(None, 'leaky', algorithm='d_rtrl', T=6)
    assert res.cosine > 0.999999 and res.relative_error < 1e-5
    assert res.per_step_cosine.shape == (6,) and np.all(res.per_step_cosine > 0.99999)
    assert list(res.window_end) == [0, 1, 2, 3, 4, 5]
    a, b = res.scatter['w']
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert res.summary().startswith('d_rtrl vs BPTT: cosine 1.0000')
    json.dumps(res.to_dict())


def test_window_and_decay_change_the_answer_on_a_mixing_rnn():
    cache = {}
    kw = dict(T=6, cache=cache)
    online = lab.gradient_agreement(None, 'rnn', algorithm='d_rtrl', **kw)
    oracle_model = cache['model']
    full = lab.gradient_agreement(None, 'rnn', algorithm='d_rtrl', window=6, **kw)
    assert cache['model'] is oracle_model                       # model and oracle computed once
    assert online.cosine < 0.999                                # recurrent mixing: approximate online
    assert full.relative_error < 1e-4                           # one window = the whole sequence = BPTT
    assert list(full.window_end) == [5] and full.label == 'd_rtrl'
    pp5 = lab.gradient_agreement(None, 'rnn', algorithm='pp_prop', decay=0.5, **kw)
    pp9 = lab.gradient_agreement(None, 'rnn', algorithm='pp_prop', decay=0.9, **kw)
    assert pp5.label == 'pp_prop(0.5)' and pp5.cosine != pytest.approx(pp9.cosine)


def test_agreement_rejects_bad_settings():
    with pytest.raises(ValueError, match='algorithm'):
        lab.gradient_agreement(None, 'leaky', algorithm='bptt')
    with pytest.raises(ValueError, match='window'):
        lab.gradient_agreement(None, 'leaky', window=0)
    with pytest.raises(ValueError, match='fixture'):
        lab.gradient_agreement(None, 'dms')
