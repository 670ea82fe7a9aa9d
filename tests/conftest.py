"""Fixtures shared by several test folders: float64 switches and a small live LIF set-up on the DMS task."""
import contextlib

import jax
import pytest

from braintrace_lab.tasks import get_task


@contextlib.contextmanager
def _jax_x64():
    """Turn ``jax_enable_x64`` on, restoring the previous setting on exit."""
    old = jax.config.jax_enable_x64
    jax.config.update('jax_enable_x64', True)
    try:
        yield
    finally:
        jax.config.update('jax_enable_x64', old)


@pytest.fixture
def x64():
    """float64 for one test, restored afterwards."""
    with _jax_x64():
        yield


@pytest.fixture(scope='module')
def x64_module():
    """float64 for all the tests of a module that use it, restored after the module."""
    with _jax_x64():
        yield


@pytest.fixture(scope='module', autouse=True)
def _release_compiled_code():
    """Drop JAX's compiled executables after each test module.

    Every XLA CPU executable keeps a few memory mappings; the whole suite compiles
    thousands of steps, enough to reach the kernel's per-process mapping limit
    (``vm.max_map_count``, 65530 by default) and fail with 'Cannot allocate memory'.
    """
    yield
    jax.clear_caches()


@pytest.fixture(scope='session')
def dms():
    """Delayed match-to-sample: T=8 steps, 4 inputs, 2 classes (label read at the last step)."""
    return get_task('dms')


@pytest.fixture(scope='session')
def make_lif(dms):
    """A LIF layer of 8 neurons sized for the DMS task (exact class for D-RTRL), live on its inputs."""
    from braintrace_lab import lab        # imported here so that folders without lab tests never load it
    return lab.fixture_model('lif', dms, n_hidden=8, scale=3.0)
