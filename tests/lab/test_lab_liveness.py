"""A silent spiking network is reported in plain words before any training result is trusted."""
import warnings

import numpy as np
import pytest

from braintrace_lab import lab


def test_silent_network_warns_in_plain_words(dms):
    quiet = lab.fixture_model('lif', dms, n_hidden=8, scale=0.01)
    with pytest.warns(lab.LivenessWarning, match='silent') as caught:
        rec = lab.train(lab.make_learner(quiet, 'd_rtrl'), dms, n_steps=1, progress=False, batch_size=4)
    msg = str(caught[0].message)
    assert 'never spiked' in msg and 'scale up the input weights' in msg
    assert rec.warnings and 'silent' in rec.warnings[0] and 'warning: ' in repr(rec)


def test_warn_if_silent(make_lif, make_rnn, dms):
    xs = dms.batch(4).inputs
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        with make_lif.context():
            report = lab.warn_if_silent(make_lif(4), xs)
        assert report.is_live
        assert lab.warn_if_silent(make_rnn(4), xs) is None            # no spiking population
    with pytest.warns(lab.LivenessWarning, match='never spiked'):
        with make_lif.context():
            lab.warn_if_silent(make_lif(4), np.zeros_like(xs))
