"""TraceMonitor: live buffers while training, throttling, static images, and a broken view never stops training."""
import base64
import re

import numpy as np
import pytest

from braintrace_lab.lab.views import downsample, trace_heatmap
from braintrace_lab.widgets import TraceMonitor


def test_monitor_updates_in_place_while_training(trainer, record_comm):
    mon = TraceMonitor(min_interval=0.0)
    rec = record_comm(mon)
    trainer.add_callback(mon)                             # attaches to the learner
    try:
        start = trainer.step_index
        trainer.run(4, progress=False)
    finally:
        trainer.remove_callback(mon)
    assert mon.learner is trainer.learner and mon.step == start + 3 and mon.status == 'done'
    assert mon.n_rows == 4 and mon.n_updates == 1 + 4 + 1      # attach, every row, the end
    assert mon.curve_names == ['loss', 'signal w', 'trace w']
    np.testing.assert_allclose(mon.curve_arrays()['loss'][1], trainer.record.loss[-4:], rtol=1e-5)
    steps, trace = mon.curve_arrays()['trace w']
    np.testing.assert_array_equal(steps, np.arange(start, start + 4))
    np.testing.assert_allclose(trace, trainer.record.trace_norms['w'][-4:], rtol=1e-5)
    # the heatmap travels as a binary float32 buffer equal to the reduced trace
    (panel,) = mon.panels
    key = panel['key']
    sent = np.frombuffer(rec.last_buffers('heatmaps'), np.float32).reshape(panel['rows'], panel['cols'])
    expect = downsample(trace_heatmap(trainer.learner.eligibility_traces()[key]), mon.max_size)
    np.testing.assert_allclose(sent, expect, rtol=1e-6)
    assert sent.shape == (4, 8) and np.all(sent >= 0) and sent.max() > 0
    assert len(rec.states()) >= 5 and any('step' in s for s in rec.states())


def test_throttling_by_time(trainer):
    mon = TraceMonitor(trainer.learner, min_interval=1e9)
    for i in range(5):
        mon.on_step({'step': i, 'trace_norms': {'w': 1.0 + i}, 'signal_norms': {'w': 0.5}})
    assert mon.n_updates == 1 and mon.n_rows == 5            # only the attach push so far
    mon.on_end()
    assert mon.n_updates == 2 and mon.step == 4
    np.testing.assert_allclose(mon.curve_arrays()['trace w'][1], [1, 2, 3, 4, 5])


def test_rows_without_norms_read_the_learner(trainer):
    mon = TraceMonitor(trainer.learner, min_interval=0)
    mon.on_step({'step': 7})
    (_, vals), = [v for k, v in mon.curve_arrays().items() if k == 'trace w']
    assert vals[0] > 0 and mon.step == 7


def test_a_broken_view_never_stops_training(trainer, monkeypatch):
    mon = TraceMonitor(trainer.learner, min_interval=0)

    def boom():
        raise RuntimeError('trace buffer unavailable')

    trainer.add_callback(mon)
    monkeypatch.setattr(mon, '_curve_buffers', boom)
    try:
        before = trainer.record.n_steps
        trainer.run(2, progress=False)
    finally:
        trainer.remove_callback(mon)
    assert trainer.record.n_steps == before + 2
    assert 'trace buffer unavailable' in mon.error and mon.errors
    assert 'error' in repr(mon)


def test_static_figure_and_repr(trainer):
    mon = TraceMonitor(trainer.learner, min_interval=0)
    mon.on_step({'step': 0, 'loss': 0.7, 'trace_norms': {'w': 2.0}, 'signal_norms': {'w': 0.1}})
    assert mon.title == 'eligibility traces (D-RTRL)'           # the rule's display name, not its class
    fig = mon.to_figure()
    titles = [ax.get_title() for ax in fig.get_axes()]
    assert 'w: op0 → g0 (4 × 8)' in titles and 'training loss' in titles and 'eligibility-trace norm' in titles
    bar = next(ax for ax in fig.get_axes() if ax.get_ylabel() == 'mean |ε|')       # the heatmap's colour bar
    assert bar.get_ylim()[1] == pytest.approx(mon.heatmap_arrays()['w@op0->g0'].max(), rel=1e-5)
    heat = next(ax for ax in fig.get_axes() if ax.get_title().startswith('w: '))
    assert (heat.get_xlabel(), heat.get_ylabel()) == ('output unit', 'input unit')
    assert mon.to_html().startswith('<img class="btl-static"')
    data, _ = mon.mime_bundle()
    assert base64.b64decode(data['image/png'])[:8] == b'\x89PNG\r\n\x1a\n'
    text = repr(mon)
    assert text.startswith('TraceMonitor(D-RTRL, step 0, 1 heatmap(s)')
    assert not re.search(r'0x[0-9a-f]+', text)


def test_custom_title_is_kept(trainer):
    mon = TraceMonitor(trainer.learner, title='my traces')
    assert mon.title == 'my traces'


def test_static_image_is_refreshed_only_from_a_running_cell(trainer, monkeypatch):
    """After training from a cell the output's image is re-sent; from a widget message it is not."""
    from braintrace_lab.widgets import _static
    mon = TraceMonitor(trainer.learner, min_interval=0)
    sent = []
    monkeypatch.setattr(_static, 'display', lambda data, **kw: sent.append(('display', data, kw)))
    monkeypatch.setattr(_static, 'update_display', lambda data, **kw: sent.append(('update', data, kw)))
    mon._ipython_display_()
    assert [s[0] for s in sent] == ['display'] and sent[0][2]['display_id'] == mon.display_id
    assert 'image/png' in sent[0][1] and 'application/vnd.jupyter.widget-view+json' in sent[0][1]
    monkeypatch.setattr(_static, 'in_running_cell', lambda: False)       # e.g. a button's handler
    mon.on_step({'step': 0, 'loss': 0.5, 'trace_norms': {'w': 1.0}})
    mon.on_end()
    assert len(sent) == 1
    monkeypatch.setattr(_static, 'in_running_cell', lambda: True)        # a cell called train(...)
    mon.on_end()
    assert [s[0] for s in sent] == ['display', 'update'] and sent[1][2]['display_id'] == mon.display_id
    assert 'step 0' in sent[1][1]['text/plain']
