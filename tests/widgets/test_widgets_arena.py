"""AlgorithmArena: a click on Run trains side by side; curves and the table reach the view."""
import re

import plotly.graph_objects as go

from braintrace_lab import lab
from braintrace_lab.widgets import AlgorithmArena


def test_run_button_trains_side_by_side(dms, record_comm):
    make = lab.fixture_model('rnn', dms, n_hidden=6)
    arena = AlgorithmArena(make, dms, algorithms=('bptt', 'd_rtrl'), n_steps=5, batch_size=4, min_interval=0)
    rec = record_comm(arena.chart)
    arena.set_state({'n_steps': 3})                      # the steps box, as the browser would set it
    assert arena.steps_box.value == 3
    arena.button.click()                                  # the user presses Run
    cmp = arena.comparison
    assert [r['algorithm'] for r in cmp.rows] == ['bptt', 'd_rtrl'] and cmp.rows[0]['n_steps'] == 3
    assert arena.status.startswith('done: 3 steps') and not arena.running and not arena.button.disabled
    assert '<table' in arena.table_html.value and 'd_rtrl' in arena.table_html.value
    loss = arena.chart.arrays(panel=0)
    assert set(loss) == {'bptt', 'd_rtrl'} and list(loss['bptt'][0]) == [0, 1, 2]
    assert len(rec.messages) >= 2                          # live redraws during training, then the final one
    assert arena.steps_done == 3
    fig = arena.to_figure()
    assert isinstance(fig, go.Figure) and len(fig.data) == 4
    assert '<table' in arena.to_html()
    text = repr(arena)
    assert text.startswith("AlgorithmArena(['bptt', 'd_rtrl'], 3 steps, done") and not re.search(r'0x[0-9a-f]+', text)


def test_errors_are_shown_not_raised(dms):
    def broken(batch_size):
        raise RuntimeError('no model today')

    arena = AlgorithmArena(broken, dms, algorithms=('d_rtrl',), n_steps=2)
    assert arena.run() is None
    assert 'no model today' in arena.error and 'btl-error' in arena.error_html.value
    assert arena.status == 'stopped by an error (see below)' and not arena.running
