"""braintrace's helper classes under their names: ``KappaFilter`` and ``FixedRandomFeedback`` built
and used as braintrace's own docs show give braintrace's numbers."""
import brainstate
import jax.numpy as jnp
import numpy as np
import pytest

import braintrace_lab

real = pytest.importorskip('braintrace')


def _kappa_run(pkg):
    f = pkg.KappaFilter(jnp.zeros((2, 3)), kappa=0.3)
    values = [np.asarray(f.update(x)) for x in (jnp.ones((2, 3)), jnp.arange(6.).reshape(2, 3))]
    f.reset_state(batch_size=4)
    return values, f.value.shape


def test_kappa_filter_is_braintraces_state_filter():
    (theirs, shape_t), (ours, shape_o) = _kappa_run(real), _kappa_run(braintrace_lab)
    for a, b in zip(theirs, ours):
        np.testing.assert_allclose(a, b, rtol=1e-7)
    assert shape_t == shape_o == (4, 3)
    with pytest.raises(ValueError, match=r'kappa=1.0 must be a float in \[0, 1\)'):
        braintrace_lab.KappaFilter(jnp.zeros(3), kappa=1.0)


def test_fixed_random_feedback_draws_and_projects_as_braintrace():
    out = {}
    for pkg in (real, braintrace_lab):
        brainstate.random.seed(0)
        fb = pkg.FixedRandomFeedback(2, 3, brainstate.random.split_key(), init_scale=0.2)
        out[pkg.__name__] = (np.asarray(fb.B), np.asarray(fb.project(jnp.array([1., -2.]))), fb.n_target, fb.n_layer)
    (B1, p1, *n1), (B2, p2, *n2) = out['braintrace'], out['braintrace_lab']
    np.testing.assert_allclose(B1, B2, rtol=1e-7)
    np.testing.assert_allclose(p1, p2, rtol=1e-6)
    assert n1 == n2 == [2, 3]
    ours = braintrace_lab.FixedRandomFeedback(np.asarray(B1).T)     # this package's form: (readout inputs, outputs)
    np.testing.assert_allclose(np.asarray(ours.B), B1)
    with pytest.raises(TypeError, match='needs a key'):
        braintrace_lab.FixedRandomFeedback(2, 3)
