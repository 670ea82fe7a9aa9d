"""Fixtures for the ``braintrace_lab.nn`` tests."""
import brainstate
import brainunit as u
import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _dt():
    """Every test runs with dt = 1 ms (LeakyRateReadout and LIF need it)."""
    with brainstate.environ.context(dt=1. * u.ms):
        yield


@pytest.fixture(autouse=True)
def _seed():
    brainstate.random.seed(0)
    np.random.seed(0)
    yield
