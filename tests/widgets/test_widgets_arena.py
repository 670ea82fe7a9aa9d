"""AlgorithmArena: a click on Run trains side by side; curves and the table reach the view."""
import re

import numpy as np
import pytest
from matplotlib.collections import PolyCollection

from braintrace_lab import lab
from braintrace_lab.lab import figures
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
    assert '<table' in arena.table_html.value and '<td>D-RTRL</td>' in arena.table_html.value    # display names
    loss = arena.chart.arrays(panel=0)
    assert set(loss) == {'bptt', 'd_rtrl'} and list(loss['bptt'][0]) == [0, 1, 2]
    drawn = [s for s in arena.chart.series if s['panel'] == 0]
    assert [s['label'] for s in drawn] == ['D-RTRL', 'BPTT']      # display names; the oracle drawn last, on top
    assert [s.get('dash') for s in drawn] == [None, [6.0, 4.0]]   # and dashed, so an exact rule under it shows
    assert [s['color'] for s in drawn] == list(figures.PALETTE[1::-1])   # each rule keeps its place's colour
    assert len(rec.messages) >= 2                          # live redraws during training, then the final one
    assert arena.steps_done == 3 and arena.progress.value == 3 and arena.progress.max == 3
    fig = arena.to_figure()
    loss_ax, acc_ax = fig.get_axes()[:2]
    assert loss_ax.get_yscale() == 'log' and acc_ax.get_ylim() == (0, 1)
    assert loss_ax.get_legend() is None and acc_ax.get_legend() is None        # one legend for both panels
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ['D-RTRL', 'BPTT']
    assert [ln.get_linestyle() for ln in loss_ax.get_lines()] == ['-', '--']
    assert '<table' in arena.to_html() and '<img class="btl-static"' in arena.to_html()
    text = repr(arena)
    assert text.startswith("AlgorithmArena(['bptt', 'd_rtrl'], 3 steps, done") and not re.search(r'0x[0-9a-f]+', text)


def test_phases_say_compiling_before_training(dms):
    """Each step that compiles is announced before it runs, with the rule; training starts after the last one."""
    make = lab.fixture_model('rnn', dms, n_hidden=6)
    arena = AlgorithmArena(make, dms, algorithms=('bptt', 'd_rtrl', ('pp_prop', {'decay_or_rank': 0.5})),
                           n_steps=6, batch_size=4, record_every=2, min_interval=0)
    assert arena.phase == 'ready' and 'data-phase="ready"' in arena.status_html.value
    arena.run()
    phases = [p for p, _ in arena.phases]
    texts = [t for _, t in arena.phases]
    # the first step of each rule, then (record_every > 1) each rule's first unrecorded step, then training
    assert phases[:7] == ['compiling'] * 6 + ['training'] and phases[-1] == 'done'
    assert 'compiling' not in phases[7:]
    assert texts[0].startswith('compiling BPTT (1 of 3)')
    assert 'BPTT compiled in' in texts[1] and 'compiling D-RTRL (2 of 3)' in texts[1]
    assert 'compiling ES-D-RTRL (a=0.5) (3 of 3)' in texts[2]
    assert texts[3].endswith('compiling BPTT: the step used between recorded steps ...')
    assert texts[5].endswith('compiling ES-D-RTRL (a=0.5): the step used between recorded steps ...')
    assert texts[6].startswith('ES-D-RTRL (a=0.5) compiled in') and texts[6].endswith('training: step 1 of 6')
    assert set(arena.compile_seconds) == {'bptt', 'd_rtrl', 'pp_prop(0.5)'}
    assert all(s > 0 for s in arena.compile_seconds.values())
    assert texts[-1].startswith('done: 6 steps of BPTT, D-RTRL, ES-D-RTRL (a=0.5) in ')
    assert 'data-phase="done"' in arena.status_html.value
    assert [s['label'] for s in arena.chart.series if s['panel'] == 0] == ['D-RTRL', 'ES-D-RTRL (a=0.5)', 'BPTT']
    assert '<td>ES-D-RTRL (a=0.5)</td>' in arena.table_html.value            # the table: display names too


def test_static_image_before_a_run_says_so(dms):
    arena = AlgorithmArena(lab.fixture_model('rnn', dms, n_hidden=6), dms, algorithms=('bptt', 'd_rtrl'))
    fig = arena.to_figure()
    (ax,) = fig.get_axes()
    assert 'not run yet' in ax.texts[0].get_text() and 'BPTT, D-RTRL' in ax.texts[0].get_text()
    data, _ = arena.mime_bundle()
    assert 'image/png' in data and 'application/vnd.jupyter.widget-view+json' in data


def test_errors_are_shown_not_raised(dms):
    def broken(batch_size):
        raise RuntimeError('no model today')

    arena = AlgorithmArena(broken, dms, algorithms=('d_rtrl',), n_steps=2)
    assert arena.run() is None
    assert 'no model today' in arena.error and 'btl-error' in arena.error_html.value
    assert arena.status == 'stopped by an error (see below)' and not arena.running


def test_several_seeds_show_mean_and_band(dms, record_comm):
    """seeds=2: each rule's line is the mean over seeds, with its t-interval band live and in the static figure."""
    make = lab.fixture_model('rnn', dms, n_hidden=6)
    arena = AlgorithmArena(make, dms, algorithms=('bptt', 'd_rtrl'), n_steps=3, batch_size=4, seeds=2,
                           min_interval=0)
    assert all('mean of 2 seeds, band 95 % t-interval' in p['title'] for p in arena.chart.layout_spec['panels'])
    rec = record_comm(arena.chart)
    cmp = arena.run()
    assert arena.status.startswith('done: 3 steps') and len(cmp.seed_records['bptt']) == 2
    # live redraws: the first seed alone draws plain lines; once the second seed trains, bands follow
    banded = [any(s.get('band') == 'hi' for s in st['series']) for st in rec.states() if 'series' in st]
    assert not banded[0] and banded[-1] and sum(banded) >= 2                # not only the final redraw
    loss = arena.chart.arrays(panel=0)
    assert set(loss) == {'bptt', 'bptt:lo', 'bptt:hi', 'd_rtrl', 'd_rtrl:lo', 'd_rtrl:hi'}
    bands = [s for s in arena.chart.series if s.get('band')]
    assert {(s['of'], s['band'], s['panel']) for s in bands} == {
        (r, side, p) for r in ('bptt', 'd_rtrl') for side in ('lo', 'hi') for p in (0, 1)}
    for rule in ('bptt', 'd_rtrl'):
        curve = cmp.curves[rule]
        per_seed = np.array(curve['per_seed']['loss'])
        assert np.allclose(loss[rule][1], per_seed.mean(axis=0), rtol=1e-5)            # the mean over seeds
        hi = np.array(curve['band']['loss']['hi'])
        assert np.allclose(loss[rule + ':hi'][1], hi, rtol=1e-5) and np.all(hi >= per_seed.max(axis=0) - 1e-6)
        lo = loss[rule + ':lo'][1]
        assert np.all(lo > 0) and np.all(lo <= loss[rule][1])                           # drawable on the log axis
    fig = arena.to_figure()
    for ax in fig.get_axes()[:2]:
        assert sum(isinstance(c, PolyCollection) for c in ax.collections) == 2              # one band per rule
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ['D-RTRL', 'BPTT']     # bounds are not lines


def test_one_seed_draws_no_band(dms):
    arena = AlgorithmArena(lab.fixture_model('rnn', dms, n_hidden=6), dms, algorithms=('bptt',), n_steps=2,
                           batch_size=4, min_interval=0)
    arena.run()
    assert not any(s.get('band') for s in arena.chart.series) and set(arena.chart.arrays()) == {'bptt'}
    assert arena.chart.layout_spec['panels'][0]['title'] == 'training loss'
    assert not any(isinstance(c, PolyCollection) for ax in arena.to_figure().get_axes() for c in ax.collections)


def test_seeds_must_be_a_positive_whole_number(dms):
    with pytest.raises(ValueError, match='seeds must be a whole number >= 1'):
        AlgorithmArena(lab.fixture_model('rnn', dms, n_hidden=6), dms, seeds=0)
