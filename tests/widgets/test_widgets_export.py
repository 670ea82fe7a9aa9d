"""Exported notebooks show a figure where each widget was: a tiny notebook is executed, then nbconvert'ed to HTML.

The notebook is executed as JupyterLab leaves it by default (no widget state saved), so the
HTML exporter falls back from the widget view to the other formats of the same output: the
PNG or SVG each view adds. Views updated by later cells (training, a run) re-send their image.
"""
import base64
import re

import nbformat
import pytest
from nbclient import NotebookClient
from nbconvert import HTMLExporter

WIDGET = 'application/vnd.jupyter.widget-view+json'
CELLS = [
    """import warnings
warnings.filterwarnings('ignore')
import numpy as np
from IPython.display import display
from braintrace_lab import lab
from braintrace_lab.tasks import get_task
from braintrace_lab.widgets import AlgorithmArena, GradientAgreement, GraphView, LiveChart, TraceMonitor
task = get_task('dms')
make = lab.fixture_model('rnn', task, n_hidden=6)
learner = lab.make_learner(make, 'd_rtrl')(task.batch(4).inputs[0])""",
    "GraphView(learner)",
    "monitor = TraceMonitor(learner)\ndisplay(monitor)",
    "record = lab.train(learner, task, n_steps=3, callbacks=[monitor], progress=False, check_liveness=False)",
    "GradientAgreement(None, 'leaky', T=4, window=4)",
    "arena = AlgorithmArena(make, task, algorithms=('bptt', 'd_rtrl'), n_steps=2, batch_size=4)\ndisplay(arena)",
    "arena.run();",
    """x = np.linspace(0, 6, 50)
chart = LiveChart(panels=[{'title': 'a sine', 'xlabel': 'x (rad)', 'ylabel': 'sin x'}])
chart.set_series([{'name': 'sin', 'x': x, 'y': np.sin(x)}])
chart""",
]


@pytest.fixture(scope='module')
def executed(tmp_path_factory):
    folder = tmp_path_factory.mktemp('export')
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    nb.metadata['kernelspec'] = {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'}
    NotebookClient(nb, timeout=600, kernel_name='python3', store_widget_state=False,
                   resources={'metadata': {'path': str(folder)}}).execute()
    html, _ = HTMLExporter(template_name='lab').from_notebook_node(nb)
    (folder / 'export.html').write_text(html, encoding='utf-8')
    return nb, html


def widget_outputs(nb):
    return [(i, o) for i, c in enumerate(nb.cells) for o in c.get('outputs', []) if WIDGET in o.get('data', {})]


def test_every_widget_output_carries_an_image(executed):
    nb, _ = executed
    outputs = widget_outputs(nb)
    assert [i for i, _ in outputs] == [1, 2, 4, 5, 7]          # graph, monitor, agreement, arena, chart
    for i, out in outputs:
        data = out['data']
        assert 'image/png' in data or 'image/svg+xml' in data, (i, sorted(data))
        if 'image/png' in data:
            assert base64.b64decode(data['image/png'])[:8] == b'\x89PNG\r\n\x1a\n'
    assert nb.cells[1].outputs[0]['data']['image/svg+xml'].startswith('<svg')


def test_views_updated_by_later_cells_show_their_final_state(executed):
    """The monitor's and the arena's outputs were re-sent when training ended in a later cell."""
    nb, _ = executed
    monitor = nb.cells[2].outputs[0]['data']['text/plain']
    arena = nb.cells[5].outputs[0]['data']['text/plain']
    assert monitor.startswith('TraceMonitor(D-RTRL, step 2,'), monitor
    assert "AlgorithmArena(['bptt', 'd_rtrl'], 2 steps, done: 2 steps" in arena, arena


def test_nbconvert_html_shows_a_figure_in_each_widget_cell(executed):
    nb, html = executed
    assert WIDGET not in html and 'Error displaying widget' not in html
    chunks = re.split(r'<div class="jp-Cell ', html)[1:]
    assert len(chunks) == len(nb.cells)
    for i, _ in widget_outputs(nb):
        figures = chunks[i].count('<img') + chunks[i].count('<svg')
        assert figures >= 1, f'cell {i} ({nb.cells[i].source.splitlines()[-1]}) shows no figure'
    svg = re.search(r'data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)', chunks[1]) or \
        re.search(r'(<svg.*?</svg>)', chunks[1], re.S)                    # the graph (templates differ)
    text = svg.group(1) if svg.group(1).startswith('<svg') else base64.b64decode(svg.group(1)).decode()
    assert 'eligibility-trace relation' in text and 'readout.weight' in text
    for i in (2, 4, 5, 7):
        assert 'src="data:image/png;base64,' in chunks[i], i
