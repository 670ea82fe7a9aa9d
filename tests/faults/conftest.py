"""Shared fixtures of the fault tests."""
import pytest

from braintrace_lab.models import get_fixture


@pytest.fixture(scope='module')
def rnn():
    """``(fixture, model, xs, ys)``: the catalog RNN with 5 units on a batch of 2, and a 3-step sequence."""
    fx = get_fixture('rnn')
    with fx.context():
        model = fx.build(batch_size=2, n_hidden=5)
        xs, ys = fx.data(T=3, seed=0, batch_size=2)
    return fx, model, xs, ys
