"""GradientAgreement: controls changed from the browser recompute; results reach the chart buffer."""
import re

import base64

import numpy as np
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
    assert [s['axis'] for s in view.chart.series] == [0, 0, 0, 1]          # relative error: its own (log) axis
    scatter, per_window = view.chart.layout_spec['panels']
    assert scatter['title'] == 'gradient entries: D-RTRL vs BPTT' and scatter['diagonal']
    assert (scatter['xlabel'], scatter['ylabel']) == ('BPTT gradient entry', 'online gradient entry')
    assert per_window['ylabel'] == 'cosine to BPTT' and per_window['logy2'] and view.chart.notes == {}
    assert view.controls['algorithm'].options == (('D-RTRL', 'd_rtrl'), ('ES-D-RTRL (pp_prop)', 'pp_prop'))
    x, y = view.chart.arrays(panel=1)['cosine']
    np.testing.assert_array_equal(x, np.arange(6)) and np.testing.assert_allclose(y, 1, atol=1e-5)
    assert 'data-cosine="1.0000' in view.summary_html.value
    assert '>D-RTRL vs BPTT: cosine 1.0000' in view.summary_html.value       # the display name on the page


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
    assert '>ES-D-RTRL (a=0.3) vs BPTT: cosine ' in view.summary_html.value
    assert view.chart.layout_spec['panels'][0]['title'] == 'gradient entries: ES-D-RTRL (a=0.3) vs BPTT'
    view.controls['window'].set_state({'value': 3})
    assert view.window == 3 and view.n_computed == 4 and list(view.result.window_end) == [2, 5]
    assert view.chart.layout_spec['panels'][1]['title'] == 'agreement per window of 3 steps'


def test_one_window_over_the_whole_sequence_is_said_not_drawn(view):
    view.window = 6                                                    # window == T: a single value
    assert list(view.result.window_end) == [5] and view.error == ''
    note = view.chart.notes['1']
    assert note.startswith('One window covers the whole sequence (window 6, T = 6): a single value, cosine ')
    assert f'{view.result.per_step_cosine[0]:.6f}' in note
    fig = view.to_figure()
    assert any(note in t.get_text() for ax in fig.get_axes() for t in ax.texts)    # the static image says it too
    view.window = 2
    assert view.chart.notes == {} and len(view.result.window_end) == 3


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
    scatter, per_window = fig.get_axes()[:2]
    assert len(scatter.collections) == 2 and scatter.get_legend() is not None          # one point cloud per parameter
    assert [t.get_text() for t in scatter.get_legend().get_texts()] == ['readout.weight', 'w', 'y = x']
    assert per_window.get_xlabel() == 'time step (end of window)' and per_window.get_ylabel() == 'cosine to BPTT'
    assert '<table' in view.to_html() and '<img class="btl-static"' in view.to_html()
    data, _ = view.mime_bundle()
    assert base64.b64decode(data['image/png'])[:4] == b'\x89PNG'
    text = repr(view)
    assert text.startswith("GradientAgreement(algorithm='pp_prop'") and not re.search(r'0x[0-9a-f]+', text)
