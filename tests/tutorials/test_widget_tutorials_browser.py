"""Tutorials 07 and 08 in real JupyterLab in Chromium: run every cell, see the widgets render and update.

A JupyterLab server is started on copies of the two notebooks in a temporary folder (autosave
never touches ``tutorials/``), with the news and update prompts off. Chromium opens each
notebook, runs it with *Run > Run All Cells* and watches the page:

* 07: the first ``TraceMonitor`` renders its heatmaps and curves, its step counter changes
  while the cell trains (seen by a ``MutationObserver``) and ends at the last step, *done*;
* 08: the ``AlgorithmArena`` says it is compiling, then training, then done; its curves
  grow (points counted in the DOM) and its comparison table appears;
* every cell ran (an execution count on each), no output holds a traceback and no checked
  claim printed ``False``.

The helpers (Chromium's path and flags, the checks of the charts' titles and ticks) come
from ``tests/widgets/test_browser.py``. Needs Debian's Chromium and the ``playwright`` package
(never ``playwright install``); skipped without them unless ``BTL_REQUIRE_BROWSER=1``.

    BTL_REQUIRE_BROWSER=1 .venv/bin/python -m pytest -p no:nbval -m browser tests/tutorials/test_widget_tutorials_browser.py
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, require_browser, stop_process_group

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tests' / 'widgets'))

import test_browser as wb  # noqa: E402  (tests/widgets/test_browser.py: Chromium set-up and chart checks)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TUTORIALS = ROOT / 'tutorials'
NOTEBOOKS = ('07_trace_monitor.ipynb', '08_algorithm_arena.ipynb')
RUN_TIMEOUT_MS = 420_000
NOTIFICATIONS = {'checkForUpdates': False, 'fetchNews': 'false'}


@pytest.fixture(scope='module')
def lab_url(tmp_path_factory):
    """A JupyterLab server on copies of the notebooks (no token, 127.0.0.1); stopped with its kernels at the end."""
    require_browser('the tutorial browser test', ('playwright', 'jupyterlab'))
    if shutil.which('jupyter-lab', path=str(Path(sys.executable).parent)) is None:
        pytest.skip('JupyterLab is not installed (pip install jupyterlab)')
    tmp = tmp_path_factory.mktemp('lab')
    work = tmp / 'course'
    work.mkdir()
    for name in NOTEBOOKS:
        shutil.copy(TUTORIALS / name, work / name)
    settings = tmp / 'settings' / '@jupyterlab' / 'apputils-extension'
    settings.mkdir(parents=True)
    (settings / 'notification.jupyterlab-settings').write_text(json.dumps(NOTIFICATIONS))
    port = wb._free_port()
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp / 'runtime'), JUPYTERLAB_SETTINGS_DIR=str(tmp / 'settings'),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp / 'workspaces'), PYTHONWARNINGS='ignore')
    log = open(tmp / 'lab.log', 'w')
    proc = subprocess.Popen([sys.executable, '-m', 'jupyterlab', '--no-browser', f'--port={port}',
                             '--ServerApp.ip=127.0.0.1', '--IdentityProvider.token=', '--ServerApp.password=',
                             '--ServerApp.disable_check_xsrf=True', '--allow-root', f'--ServerApp.root_dir={work}'],
                            cwd=str(work), env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wb._wait_for_port(port, proc)
        yield f'http://127.0.0.1:{port}/lab/'
    finally:
        stop_process_group(proc, log)               # our own process group: the server and its kernels


@pytest.fixture(scope='module')
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


# Records every change of the attributes the widgets use to say where they are (before any cell runs).
WATCH = """() => {
    window.btlChanges = [];
    const note = (attr, el) => window.btlChanges.push({attr: attr, now: el.getAttribute(attr)});
    new MutationObserver((ms) => ms.forEach((m) => {
        if (m.type === 'attributes') { note(m.attributeName, m.target); return; }
        m.addedNodes.forEach((n) => {                  // the arena's status line is replaced, not changed
            if (n.nodeType !== 1) return;
            [n, ...n.querySelectorAll('[data-phase]')].filter((e) => e.hasAttribute('data-phase'))
                .forEach((e) => note('data-phase', e));
        });
    })).observe(document.body, {subtree: true, childList: true, attributes: true,
                                attributeFilter: ['data-step', 'data-phase', 'data-points']});
}"""

IDLE = """() => [...document.querySelectorAll('.jp-StatusBar-TextItem')].some((e) => /\\| Idle/.test(e.textContent))"""

# Every code cell whose input shows (solution cells open collapsed) has an execution count, and the kernel is idle.
ALL_RAN = """() => {
    const prompts = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputArea-prompt')]
        .map((e) => e.textContent);
    const idle = [...document.querySelectorAll('.jp-StatusBar-TextItem')].some((e) => /\\| Idle/.test(e.textContent));
    return prompts.length > 0 && prompts.every((p) => /\\[\\d+\\]/.test(p)) && idle;
}"""


def _open_and_run(browser, url: str, name: str):
    """Open ``name`` in JupyterLab, start watching, run all cells, wait until every cell ran."""
    page = browser.new_page(viewport={'width': 1400, 'height': 2000})
    errors = []
    page.on('pageerror', lambda err: errors.append(str(err)))
    # a workspace of its own: JupyterLab would otherwise reopen the other tutorial's tab beside it
    page.goto(f'{url}workspaces/{name[:2]}/tree/{name}?reset', timeout=wb.PAGE_TIMEOUT_MS)
    page.wait_for_selector('.jp-Notebook .jp-CodeCell', timeout=wb.PAGE_TIMEOUT_MS)
    page.wait_for_function(IDLE, timeout=wb.PAGE_TIMEOUT_MS)           # the kernel has started
    page.evaluate(WATCH)
    page.click('.jp-Notebook .jp-Cell >> nth=0')                          # the notebook has the focus
    page.click('.lm-MenuBar-item:has-text("Run")')
    page.click('.lm-Menu-item[data-command="runmenu:run-all"]')
    page.wait_for_function(ALL_RAN, timeout=RUN_TIMEOUT_MS, polling=1000)
    return page, errors


def _outputs(page) -> str:
    return '\n'.join(page.locator('.jp-Notebook .jp-OutputArea-output').all_text_contents())


def _check_ran_cleanly(page, errors):
    text = _outputs(page)
    assert 'Traceback' not in text, text[-3000:]
    checked = [line for line in text.splitlines() if line.rstrip().endswith((': True', ': False'))]
    assert checked and not [line for line in checked if line.rstrip().endswith(': False')], checked
    assert 'correct.' in text                                   # the solution cells' verdicts
    assert page.locator('.btl-error:visible').count() == 0
    assert errors == [], errors


def test_trace_monitor_tutorial_renders_and_updates(lab_url, browser):
    wb.ARTIFACTS.mkdir(exist_ok=True)
    page, errors = _open_and_run(browser, lab_url, NOTEBOOKS[0])
    try:
        monitors = page.locator('.btl-trace-monitor')
        assert monitors.count() == 3                            # healthy, silent, exploding
        first = monitors.first
        summary = first.locator('.btl-summary')
        assert summary.text_content().startswith('healthy: live network, D-RTRL')
        page.wait_for_function("() => document.querySelector('.btl-trace-monitor .btl-summary')"
                               ".textContent.includes('done')", timeout=60_000)
        assert summary.get_attribute('data-step') == '59'
        steps = [c for c in page.evaluate('() => window.btlChanges') if c['attr'] == 'data-step']
        assert steps, 'no trace monitor changed its step while the notebook ran'
        assert len({c['now'] for c in steps}) >= 2, steps      # several steps shown, not only the last
        assert first.locator('.btl-heatmap-map canvas').count() == 2     # one heatmap per traced weight
        loss = first.locator('.btl-chart[data-title="training loss"]')
        assert int(loss.get_attribute('data-points')) >= 20
        assert wb._check_charts(page, '.btl-trace-monitor') == 9
        first.screenshot(path=str(wb.ARTIFACTS / 'tutorial07_trace_monitor.png'))
        _check_ran_cleanly(page, errors)
    finally:
        page.close()


def test_algorithm_arena_tutorial_renders_and_updates(lab_url, browser):
    wb.ARTIFACTS.mkdir(exist_ok=True)
    page, errors = _open_and_run(browser, lab_url, NOTEBOOKS[1])
    try:
        arena = page.locator('.btl-arena')
        assert arena.count() == 1
        page.wait_for_selector('.btl-arena .btl-arena-table table', timeout=60_000)
        changes = page.evaluate('() => window.btlChanges')
        phases = [c['now'] for c in changes if c['attr'] == 'data-phase']
        assert phases and phases[-1] == 'done', phases
        assert 'compiling' in phases and 'training' in phases, phases
        assert phases.index('training') > phases.index('compiling'), phases
        points = sorted({int(c['now'] or 0) for c in changes if c['attr'] == 'data-points'})
        assert len(points) >= 3, f'the curves did not grow while the arena trained: {points}'
        table = arena.locator('.btl-arena-table').text_content()
        assert 'cos(BPTT)' in table and '3 seeds' in table, table
        legend = {t.strip() for t in arena.locator('.u-legend .u-series th').all_text_contents()}
        assert {'BPTT', 'D-RTRL', 'OTTT'} <= legend, legend
        assert wb._check_charts(page, '.btl-arena') == 2
        arena.screenshot(path=str(wb.ARTIFACTS / 'tutorial08_algorithm_arena.png'))
        _check_ran_cleanly(page, errors)
    finally:
        page.close()
