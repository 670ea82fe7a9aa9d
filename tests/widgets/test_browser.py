"""All four lab widgets in a real browser: Voila serves ``browser_lab.ipynb``, Chromium drives it.

Needs Debian's Chromium at /usr/bin/chromium (``apt-get install -y chromium``) plus the
``voila`` and ``playwright`` packages (never ``playwright install``). Without them the
test is skipped, unless ``BTL_REQUIRE_BROWSER=1`` makes a missing piece a failure.
Screenshots go to ``artifacts/`` (git-ignored). Run it alone with::

    BTL_REQUIRE_BROWSER=1 .venv/bin/python -m pytest -p no:nbval -m browser tests/widgets/test_browser.py
"""
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
NOTEBOOK = HERE / 'browser_lab.ipynb'
ARTIFACTS = ROOT / 'artifacts'
CHROMIUM = '/usr/bin/chromium'
CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage']
# Voila's page asks a CDN for Font Awesome; there is no network here, so those loads fail harmlessly.
ALLOWED_FAILED_REQUESTS = ('cdn.jsdelivr.net/npm/@fortawesome',)
PAGE_TIMEOUT_MS = 240_000


def _require_browser():
    missing = []
    if not os.path.exists(CHROMIUM):
        missing.append(f'{CHROMIUM} (apt-get install -y chromium)')
    for mod in ('playwright', 'voila'):
        if importlib.util.find_spec(mod) is None:
            missing.append(f'the {mod} package (pip install {mod})')
    if missing:
        reason = 'real-browser test needs ' + ' and '.join(missing)
        if os.environ.get('BTL_REQUIRE_BROWSER') == '1':
            pytest.fail(reason + ' (BTL_REQUIRE_BROWSER=1 is set)')
        pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, proc, timeout: float = 90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f'voila exited with code {proc.returncode}')
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=1):
                return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f'voila did not listen on 127.0.0.1:{port} within {timeout:.0f} s')


@pytest.fixture
def voila_url(tmp_path):
    """A Voila server for the notebook on 127.0.0.1 and a free port; stopped (with its kernel) at the end."""
    _require_browser()
    port = _free_port()
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / 'runtime'), PYTHONWARNINGS='ignore')
    log = open(tmp_path / 'voila.log', 'w')
    proc = subprocess.Popen([sys.executable, '-m', 'voila', str(NOTEBOOK), '--no-browser', f'--port={port}',
                             '--Voila.ip=127.0.0.1'],
                            cwd=str(HERE), env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_for_port(port, proc)
        yield f'http://127.0.0.1:{port}/'
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)      # our own process group: voila and its kernel
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        log.close()


def _text(page, selector) -> str:
    return page.inner_text(selector).strip()


def test_lab_widgets_in_chromium(voila_url):
    from playwright.sync_api import sync_playwright
    ARTIFACTS.mkdir(exist_ok=True)
    page_errors, failed = [], []
    t_start = time.monotonic()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={'width': 1200, 'height': 2400})
            page.on('pageerror', lambda err: page_errors.append(str(err)))
            page.on('requestfailed', lambda req: failed.append(req.url))
            page.goto(voila_url, timeout=PAGE_TIMEOUT_MS)

            # 1. the graph names the parameters and the hidden group
            page.wait_for_selector('.btl-graph-view svg g[data-id="param:w"]', timeout=PAGE_TIMEOUT_MS)
            page.wait_for_selector('.btl-agreement-summary .btl-summary', timeout=PAGE_TIMEOUT_MS)
            labels = page.locator('.btl-graph-view svg g.btl-node text').all_text_contents()
            for name in ('w', 'readout.weight', 'g0: neuron.V', 'op0:matmul'):
                assert name in labels, labels
            assert 'readout.weight (non_temporal)' in _text(page, '.btl-graph-view')
            page.click('.btl-graph-view g[data-id="param:w"]')          # selection round-trips through Python
            page.wait_for_selector('.btl-details-title', timeout=30_000)
            details = _text(page, '.btl-details')
            assert 'parameter: w' in details and 'exact' in details and 'trace memory bytes' in details
            page.screenshot(path=str(ARTIFACTS / 'browser_lab_loaded.png'), full_page=True)

            # 2. the trace view updates while training runs
            heat = page.locator('.btl-trace-monitor canvas.btl-heatmap').first
            heat_before = heat.evaluate('c => c.toDataURL()')
            page.evaluate("""() => {
                const el = document.querySelector('.btl-trace-monitor .btl-summary');
                window.btlSteps = [];
                new MutationObserver((ms) => ms.forEach((m) => window.btlSteps.push(m.oldValue)))
                    .observe(el, {attributes: true, attributeOldValue: true, attributeFilter: ['data-step']});
            }""")
            page.click('.btl-train')
            page.wait_for_function(
                "() => document.querySelector('.btl-trace-monitor .btl-summary').textContent.includes('done')",
                timeout=120_000)
            final = page.get_attribute('.btl-trace-monitor .btl-summary', 'data-step')
            seen = [int(v) for v in page.evaluate('() => window.btlSteps') + [final]]
            assert seen[-1] == 149 and 'done' in _text(page, '.btl-trace-monitor .btl-summary'), seen
            assert len([s for s in seen if 0 <= s < 149]) >= 2, f'no intermediate updates: {seen}'
            assert heat.evaluate('c => c.toDataURL()') != heat_before
            page.screenshot(path=str(ARTIFACTS / 'browser_lab_trained.png'), full_page=True)

            # 3. a control change reaches Python and changes the displayed agreement
            before = _text(page, '.btl-agreement-summary .btl-summary')
            assert before.startswith('d_rtrl vs BPTT')
            page.select_option('.widget-dropdown select', 'pp_prop')
            page.wait_for_function(
                "b => { const e = document.querySelector('.btl-agreement-summary .btl-summary');"
                " return e && e.textContent !== b; }", arg=before, timeout=120_000)
            after = _text(page, '.btl-agreement-summary .btl-summary')
            assert after.startswith('pp_prop(0.9) vs BPTT') and after != before

            # 4. the arena trains side by side and shows the table
            page.click('.btl-arena-run')
            page.wait_for_selector('.btl-arena-table table', timeout=180_000)
            table = _text(page, '.btl-arena-table')
            for name in ('bptt', 'd_rtrl', 'pp_prop(0.9)', 'cos(BPTT)'):
                assert name in table, table
            assert int(page.get_attribute('.btl-live-chart >> nth=1', 'data-points')) > 0
            page.screenshot(path=str(ARTIFACTS / 'browser_lab_done.png'), full_page=True)

            # 5. no view reported an error and the page raised nothing unexpected
            assert page.locator('.btl-error:visible').count() == 0
        finally:
            browser.close()
    assert page_errors == [], page_errors
    unexpected = [u for u in failed if not any(a in u for a in ALLOWED_FAILED_REQUESTS)]
    assert unexpected == [], unexpected
    print(f'browser test took {time.monotonic() - t_start:.1f} s')
