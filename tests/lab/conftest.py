"""Fixtures for the lab tests: a tiny RNN and one trained record (the DMS task and LIF model are shared)."""
import warnings

import pytest

from braintrace_lab import lab


@pytest.fixture(scope='session')
def make_rnn(dms):
    """A dense tanh RNN of 8 units (recurrent mixing: online rules are approximate)."""
    return lab.fixture_model('rnn', dms, n_hidden=8)


@pytest.fixture(scope='session')
def lif_record(make_lif, dms):
    """D-RTRL on the LIF net for 12 steps, recording every 4th step against BPTT."""
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter('error', lab.LivenessWarning)       # the fixture network must be live
        rec = lab.train(lab.make_learner(make_lif, 'd_rtrl'), dms, n_steps=12, optimizer=0.05, record_every=4,
                        oracle='bptt', progress=False, on_step=rows.append, batch_size=8)
    return rec, rows
