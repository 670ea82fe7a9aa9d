"""What every real-browser test shares: Debian's Chromium, its flags, the skip-or-fail rule, process clean-up.

On a machine without Chromium or a needed package a browser test skips and says what is
missing; with ``BTL_REQUIRE_BROWSER=1`` (CI) it fails instead, so it can never be skipped
to get green there.
"""
from __future__ import annotations

import importlib.util
import os
import signal
import subprocess

import pytest

CHROMIUM = '/usr/bin/chromium'
CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage']


def require_browser(what: str, modules=('playwright',), install: str = 'pip install -e ".[lab,test]"') -> None:
    """Skip (or, with ``BTL_REQUIRE_BROWSER=1``, fail) unless Chromium and ``modules`` are present."""
    missing = []
    if not os.path.exists(CHROMIUM):
        missing.append(f'{CHROMIUM} (apt-get install -y chromium)')
    for mod in modules:
        if importlib.util.find_spec(mod) is None:
            missing.append(f'the {mod} package ({install})')
    if missing:
        reason = f'{what} needs ' + ' and '.join(missing)
        if os.environ.get('BTL_REQUIRE_BROWSER') == '1':
            pytest.fail(reason + ' (BTL_REQUIRE_BROWSER=1 is set)')
        pytest.skip(reason)


def stop_process_group(proc: subprocess.Popen, log=None) -> None:
    """Stop a server started with ``start_new_session=True`` and everything it spawned (kernels)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
    if log is not None:
        log.close()


# a shipped bundle's view rendered into a blank page with a stand-in model (the traits the Python
# widget would sync), two animation frames later the measuring code runs on the page
_RENDER = '''async ([code, state, measure]) => {
    const url = URL.createObjectURL(new Blob([code], {type: 'text/javascript'}));
    const view = (await import(url)).default;
    const traits = Object.assign({}, state, {data: new Uint8Array(state.data).buffer});
    view.render({model: {get: (k) => traits[k], on() {}, off() {}}, el: document.getElementById('host')});
    await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
    return new Function(measure)();
}'''


def render_live_chart(chart, measure: str):
    """Draw ``chart`` (a :class:`LiveChart` as last sent) with the shipped ``live_chart.js`` in Chromium and
    return what the JavaScript function body ``measure`` returns; page errors fail the test."""
    from pathlib import Path

    import numpy as np
    from playwright.sync_api import sync_playwright
    static = Path(__file__).resolve().parents[1] / 'braintrace_lab' / '_widgets_static'
    state = {'layout_spec': chart.layout_spec, 'series': chart.series, 'notes': {}, 'error': '',
             'data': [int(b) for b in np.frombuffer(chart.data, np.uint8)]}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            errors = []
            page.on('pageerror', lambda e: errors.append(str(e)))
            page.set_content(f'<style>{(static / "lab.css").read_text()}</style><div id="host"></div>')
            result = page.evaluate(_RENDER, [(static / 'live_chart.js').read_text(), state, measure])
        finally:
            browser.close()
    assert not errors, errors
    return result
