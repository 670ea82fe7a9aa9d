"""Agreement metrics on hand-made vectors with known answers, and the report's formatting."""
import math

import brainunit as u
import jax.numpy as jnp
import numpy as np
import pytest

from braintrace_lab.oracle import (AgreementReport, agreement, cosine, path_str, per_step_agreement, relative_error,
                                   sign_agreement)


def test_relative_error():
    assert relative_error(jnp.array([1., 1.]), jnp.array([1., 0.])) == pytest.approx(1.0)
    assert relative_error(jnp.array([3., 4.]), jnp.array([3., 4.])) == 0.0
    assert relative_error(jnp.array([2., 0.]), jnp.array([4., 0.])) == pytest.approx(0.5)
    assert relative_error(jnp.zeros(3), jnp.zeros(3)) == 0.0
    assert relative_error(jnp.ones(1), jnp.zeros(1)) > 1e20       # reference zero: divides by a tiny floor


def test_cosine():
    assert cosine(jnp.array([1., 0.]), jnp.array([1., 1.])) == pytest.approx(1 / math.sqrt(2))
    assert cosine(jnp.array([1., 2.]), jnp.array([-1., -2.])) == pytest.approx(-1.0)
    assert cosine(jnp.array([1., 0.]), jnp.array([0., 5.])) == pytest.approx(0.0)
    assert cosine(jnp.zeros(2), jnp.zeros(2)) == 1.0
    assert cosine(jnp.zeros(2), jnp.ones(2)) == 0.0


def test_sign_agreement():
    # third entry: the reference is 0 and carries no sign, so it is skipped
    assert sign_agreement(jnp.array([1., -1., 5.]), jnp.array([2., 3., 0.])) == pytest.approx(0.5)
    assert sign_agreement(jnp.array([-1., 1.]), jnp.array([1e-12, 1.])) == 1.0      # ~0 relative to max|ref|
    assert sign_agreement(jnp.array([1., 2., -3., 4.]), jnp.array([1., -2., -3., 4.])) == pytest.approx(0.75)
    assert math.isnan(sign_agreement(jnp.ones(3), jnp.zeros(3)))


def test_metrics_on_pytrees_and_quantities():
    a = {'w': jnp.array([1., 0.]) * u.mV, 'b': {'x': jnp.array([0.])}}
    b = {'w': jnp.array([1., 1.]) * u.mV, 'b': {'x': jnp.array([0.])}}
    assert cosine(a, b) == pytest.approx(1 / math.sqrt(2))
    assert relative_error(a, b) == pytest.approx(1 / math.sqrt(2))
    assert sign_agreement(a, b) == pytest.approx(0.5)
    with pytest.raises(ValueError, match='leaf shapes differ'):
        cosine({'w': jnp.ones(2)}, {'w': jnp.ones(3)})


def test_path_str():
    assert path_str(('linear', 'weight')) == 'linear.weight'
    assert path_str(('layers', 0, 'w')) == 'layers.0.w'
    assert path_str('w') == 'w'


def make_report() -> AgreementReport:
    ref = {('linear', 'weight'): {'weight': jnp.array([[1., 2.], [3., 4.]]), 'bias': jnp.array([1., -1.])},
           ('w_out',): jnp.array([0., 2.])}
    est = {('linear', 'weight'): {'weight': jnp.array([[1., 2.], [3., 4.]]), 'bias': jnp.array([1., 1.])},
           ('w_out',): jnp.array([0., 1.])}
    return agreement(est, ref)


def test_agreement_rows_and_overall():
    report = make_report()
    assert [r.path for r in report.rows] == ['linear.weight', 'w_out']
    lw = report.row('linear.weight')
    assert lw.size == 6
    assert lw.relative_error == pytest.approx(2 / math.sqrt(32))
    assert lw.sign_agreement == pytest.approx(5 / 6)
    assert lw.norm == pytest.approx(math.sqrt(32)) and lw.ref_norm == pytest.approx(math.sqrt(32))
    wo = report.row('w_out')
    assert wo.relative_error == pytest.approx(0.5) and wo.cosine == pytest.approx(1.0)
    assert wo.sign_agreement == 1.0                           # the 0 entry is skipped
    assert report.relative_error == pytest.approx(math.sqrt(5) / 6)
    assert report.max_relative_error == pytest.approx(0.5)
    with pytest.raises(KeyError):
        report.row('nope')


def test_agreement_report_formatting():
    report = make_report()
    table = report.to_table()
    lines = table.splitlines()
    assert lines[0].split() == ['parameter', 'size', 'rel.err', 'cosine', 'sign', '|grad|', '|ref|']
    assert lines[2].startswith('linear.weight') and lines[-1].startswith('overall')
    assert '5.00e-01' in table
    assert repr(report).startswith('AgreementReport(2 parameters)') and table in repr(report)
    d = report.to_dict()
    assert set(d) == {'overall', 'params'} and set(d['params']) == {'linear.weight', 'w_out'}
    assert d['params']['w_out']['relative_error'] == pytest.approx(0.5)
    with pytest.raises(AttributeError):
        report.rows = ()                                      # frozen


def test_agreement_key_mismatch():
    with pytest.raises(ValueError, match=r"missing \['b'\]"):
        agreement({'a': jnp.ones(2)}, {'a': jnp.ones(2), 'b': jnp.ones(1)})
    with pytest.raises(TypeError, match='dicts keyed by parameter path'):
        agreement(jnp.ones(2), jnp.ones(2))


def test_per_step_agreement():
    ref = {'w': jnp.array([[1., 0.], [1., 1.], [0., 2.]])}        # T = 3
    est = {'w': jnp.array([[1., 0.], [1., 0.], [0., -2.]])}
    cos, rel = per_step_agreement(est, ref)
    np.testing.assert_allclose(cos, [1.0, 1 / math.sqrt(2), -1.0])
    np.testing.assert_allclose(rel, [0.0, 1 / math.sqrt(2), 2.0])
    with pytest.raises(ValueError, match='leading time axis'):
        per_step_agreement({'w': jnp.ones((3, 2)), 'b': jnp.ones((2,))}, {'w': jnp.ones((3, 2)), 'b': jnp.ones((2,))})
