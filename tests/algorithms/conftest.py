import jax
import pytest


@pytest.fixture
def x64():
    """float64 for one test, restored afterwards."""
    old = jax.config.jax_enable_x64
    jax.config.update('jax_enable_x64', True)
    try:
        yield
    finally:
        jax.config.update('jax_enable_x64', old)
