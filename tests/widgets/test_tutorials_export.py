"""Every executed tutorial, exported with nbconvert, shows a figure in each widget output.

The executed copies are the ones ``make test`` writes to ``build/executed/`` while nbval runs
the tutorials (``tutorials/conftest.py``). A copy that is missing or older than the tutorial
or the package is executed again first with ``tutorials/executed_copies.py`` (slow: every
tutorial runs), so the export is always of the present code. Each copy is converted with the
``lab`` template as JupyterLab users export it (no widget state), and each widget output's
HTML must hold an ``<img>`` or ``<svg>``: the static image the view adds to its mime bundle.

A negative control strips the image from one widget output of a copy and checks that the
count drops and the check fails, so the test can tell a missing figure.
"""
from __future__ import annotations

import copy
import importlib.util
import re
from pathlib import Path

import nbformat
import pytest
from nbconvert import HTMLExporter
from nbconvert.preprocessors import CoalesceStreamsPreprocessor
from test_widgets_export import WIDGET, widget_outputs

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ('image/png', 'image/svg+xml', 'image/jpeg', 'image/gif')


def _executed_copies_module():
    """``tutorials/executed_copies.py``, loaded by path (the tutorials folder is not a package)."""
    spec = importlib.util.spec_from_file_location('executed_copies', ROOT / 'tutorials' / 'executed_copies.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


executed_copies = _executed_copies_module()
TUTORIALS = executed_copies.tutorials()


def figure_counts(nb) -> tuple[int, int, list[str]]:
    """Export ``nb`` to HTML (lab template); return (widget outputs, those showing a figure, the ones without).

    Outputs are matched to the HTML by position: the exporter writes one ``jp-OutputArea-child``
    per output of a cell, after merging consecutive stream outputs, which is done here first too.
    """
    nb = copy.deepcopy(nb)
    CoalesceStreamsPreprocessor().preprocess(nb, {})
    html, _ = HTMLExporter(template_name='lab').from_notebook_node(nb)
    cells = re.split(r'<div class="jp-Cell ', html)[1:]
    if len(cells) != len(nb.cells):
        raise ValueError(f'the exported HTML has {len(cells)} cells for {len(nb.cells)} notebook cells; '
                         'the lab template changed its markup: update the cell pattern in this test')
    widgets = widget_outputs(nb)
    missing = []
    for i in sorted({i for i, _ in widgets}):
        children = re.split(r'<div class="jp-OutputArea-child', cells[i])[1:]
        outputs = nb.cells[i].outputs
        if len(children) != len(outputs):
            raise ValueError(f'cell {i}: {len(children)} exported outputs for {len(outputs)} outputs; '
                             'the lab template changed its output markup: update the output pattern')
        for k, out in enumerate(outputs):
            if WIDGET in out.get('data', {}) and '<img' not in children[k] and '<svg' not in children[k]:
                missing.append(f'cell {i} output {k} ({nb.cells[i].source.splitlines()[-1][:60]!r})')
    return len(widgets), len(widgets) - len(missing), missing


def check_figures(counts: dict) -> None:
    """Fail unless every tutorial's widget outputs all show a figure, and there is at least one."""
    total = sum(w for w, _, _ in counts.values())
    assert total > 0, 'no tutorial has a widget output: the executed copies lost their widgets'
    problems = {name: missing for name, (w, f, missing) in counts.items() if w != f}
    assert not problems, f'widget outputs without a figure in the exported HTML: {problems}'


@pytest.fixture(scope='module')
def copies():
    """The package digest and the executed copy of every tutorial, (re)executed first where missing or stale."""
    digest = executed_copies._package_digest()         # the package as it was when the copies were made
    paths = executed_copies.ensure(TUTORIALS)
    return digest, {p.name: nbformat.read(str(p), as_version=4) for p in paths}


def test_every_tutorial_has_a_current_executed_copy(copies):
    digest, notebooks = copies
    assert sorted(notebooks) == [t.name for t in TUTORIALS] and len(notebooks) >= 10
    stale = [t.name for t in TUTORIALS if not executed_copies.is_current(t, digest)]
    assert not stale, f'executed copies older than their tutorial or the package: {stale}'


def test_nbconvert_html_shows_a_figure_in_every_widget_output(copies):
    counts = {name: figure_counts(nb) for name, nb in copies[1].items()}
    check_figures(counts)
    for name, (widgets, figures, _) in counts.items():
        assert widgets == figures, (name, widgets, figures)
    # the widget tutorials do have widget outputs
    for name in ('07_trace_monitor.ipynb', '08_algorithm_arena.ipynb'):
        assert counts[name][0] >= 1, (name, counts[name])


def test_a_widget_output_without_its_image_is_caught(copies):
    """Negative control: remove the static image from one widget output of a copy; the count drops."""
    name, nb = next((n, nb) for n, nb in copies[1].items() if widget_outputs(nb))
    widgets, figures, missing = figure_counts(nb)
    assert widgets == figures and not missing
    broken = copy.deepcopy(nb)
    i, out = widget_outputs(broken)[0]
    for mime in IMAGES:
        out['data'].pop(mime, None)
    b_widgets, b_figures, b_missing = figure_counts(broken)
    assert (b_widgets, b_figures) == (widgets, figures - 1), (name, b_widgets, b_figures)
    assert len(b_missing) == 1 and b_missing[0].startswith(f'cell {i} '), b_missing
    with pytest.raises(AssertionError, match='without a figure'):
        check_figures({name: (b_widgets, b_figures, b_missing)})
