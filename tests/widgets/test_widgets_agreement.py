"""GradientAgreement: controls changed from the browser recompute; results reach the chart buffer."""
import re

import numpy as np
import plotly.graph_objects as go
import pytest

from braintrace_lab.widgets import GradientAgreement


@pytest.fixture(scope='module')
def view():
    return GradientAgreement(None, 'leaky', T=6)


def test_initial_result_on_an_exact_fixture(view):
    assert view.n_computed == 1 and view.error == ''
    assert view.summary.startswith('d_rtrl vs BPTT: cosine 1.0000') and view.cosine > 0.99999
    assert view.controls['decay'].disabled                  # the decay only applies to pp_prop
    names = [s['name'] for s in view.chart.series]
    assert names == ['readout.weight', 'w', 'cosine', 'relative error']
    x, y = view.chart.arrays(panel=1)['cosine']
    np.testing.assert_array_equal(x, np.arange(6)) and np.testing.assert_allclose(y, 1, atol=1e-5)
    assert 'data-cosine="1.0000' in view.summary_html.value


def test_browser_control_changes_recompute(view, record_comm):
    rec = record_comm(view.chart)
    before = view.cosine
    view.controls['algorithm'].set_state({'index': 1})     # the user picks pp_prop (dropdowns sync an index)
    assert view.algorithm == 'pp_prop' and view.n_computed == 2
    assert view.summary.startswith('pp_prop(0.9) vs BPTT') and view.cosine < before
    assert not view.controls['decay'].disabled
    data = np.frombuffer(rec.last_buffers('data'), np.float32)
    assert data.size == sum(2 * s['length'] for s in view.chart.series)
    view.set_state({'decay': 0.3})                                  # a synced trait set by the front end
    assert view.controls['decay'].value == pytest.approx(0.3) and view.n_computed == 3
    assert view.summary.startswith('pp_prop(0.3)')
    view.controls['window'].set_state({'value': 3})
    assert view.window == 3 and view.n_computed == 4 and list(view.result.window_end) == [2, 5]


def test_decay_is_ignored_by_d_rtrl():
    view = GradientAgreement(None, 'leaky', T=4, compute=False)
    assert view.n_computed == 0 and view.summary == ''
    view.decay = 0.5
    assert view.n_computed == 0


def test_errors_are_shown_not_raised():
    def broken(batch_size):
        raise RuntimeError('cannot build the model')

    view = GradientAgreement(broken, 'dms', T=4)
    assert 'cannot build the model' in view.error and view.result is None
    assert 'btl-error' in view.error_html.value and 'no result' in view.summary_html.value
    assert 'error: ' in repr(view)


def test_static_rendering_and_repr(view):
    fig = view.to_figure()
    assert isinstance(fig, go.Figure) and len(fig.data) == 2 + 1 + 2
    assert '<table' in view.to_html()
    text = repr(view)
    assert text.startswith("GradientAgreement(algorithm='pp_prop'") and not re.search(r'0x[0-9a-f]+', text)
