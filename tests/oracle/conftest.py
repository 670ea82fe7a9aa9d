"""Fixtures for the oracle tests."""
import brainstate
import brainunit as u
import pytest


@pytest.fixture
def dt_ms():
    """``brainstate.environ`` with ``dt = 1 ms`` for spiking models."""
    with brainstate.environ.context(dt=1. * u.ms):
        yield
