"""Fixtures for the oracle tests."""
import brainstate
import brainunit as u
import jax
import pytest


@pytest.fixture(scope='module')
def x64():
    """Run a module's float64 tests with ``jax_enable_x64`` on, restored afterwards."""
    old = jax.config.jax_enable_x64
    jax.config.update('jax_enable_x64', True)
    try:
        yield
    finally:
        jax.config.update('jax_enable_x64', old)


@pytest.fixture
def dt_ms():
    """``brainstate.environ`` with ``dt = 1 ms`` for spiking models."""
    with brainstate.environ.context(dt=1. * u.ms):
        yield
