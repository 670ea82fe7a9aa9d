"""LiveChart bands in Chromium: the arena's per-seed t-interval is a shaded region, its bounds no legend rows.

Loads the shipped ``live_chart.js`` bundle into a blank page with a stand-in model (the
traits the Python widget would sync), so it needs Chromium and ``playwright`` but no
Jupyter server. Skipped without them unless ``BTL_REQUIRE_BROWSER=1``.
"""
from pathlib import Path

import numpy as np
import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, require_browser

from braintrace_lab.widgets.arena import panels
from braintrace_lab.widgets.live_chart import LiveChart

pytestmark = pytest.mark.browser

STATIC = Path(__file__).resolve().parents[2] / 'braintrace_lab' / '_widgets_static'

RENDER = '''async ([code, state]) => {
    const url = URL.createObjectURL(new Blob([code], {type: 'text/javascript'}));
    const view = (await import(url)).default;
    const traits = Object.assign({}, state, {data: new Uint8Array(state.data).buffer});
    view.render({model: {get: (k) => traits[k], on() {}, off() {}}, el: document.getElementById('host')});
    await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
    return [...document.querySelectorAll('.btl-chart')].map((chart) => {
        const canvas = chart.querySelector('canvas'), px = canvas.getContext('2d')
            .getImageData(0, 0, canvas.width, canvas.height).data;
        let shaded = 0;                        // the band: the first colour (#1f77b4) at 20 % opacity
        for (let i = 0; i < px.length; i += 4) {
            if (px[i + 3] >= 40 && px[i + 3] <= 62 && px[i + 2] > px[i] + 80) shaded++;
        }
        const rows = [...chart.querySelectorAll('.u-legend .u-series')]
            .filter((r) => r.style.display !== 'none').map((r) => r.querySelector('.u-label').textContent);
        return {title: chart.querySelector('.u-title').textContent, rows, shaded};
    });
}'''


def test_band_is_shaded_and_left_out_of_the_legend():
    require_browser('LiveChart band test')
    from playwright.sync_api import sync_playwright

    chart = LiveChart(panels=panels(3))
    x = [0, 1, 2, 3]
    chart.set_series([
        {'name': 'bptt', 'label': 'BPTT', 'x': x, 'y': [1.0, 0.8, 0.6, 0.5], 'panel': 0},
        {'name': 'bptt:lo', 'x': x, 'y': [0.5, 0.4, 0.3, 0.2], 'panel': 0, 'band': 'lo', 'of': 'bptt'},
        {'name': 'bptt:hi', 'x': x, 'y': [2.0, 1.5, 1.2, 1.0], 'panel': 0, 'band': 'hi', 'of': 'bptt'},
        {'name': 'bptt', 'label': 'BPTT', 'x': x, 'y': [0.2, 0.4, 0.5, 0.6], 'panel': 1},   # no band here
    ])
    state = {'layout_spec': chart.layout_spec, 'series': chart.series, 'notes': {}, 'error': '',
             'data': [int(b) for b in np.frombuffer(chart.data, np.uint8)]}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            errors = []
            page.on('pageerror', lambda e: errors.append(str(e)))
            page.set_content(f'<style>{(STATIC / "lab.css").read_text()}</style><div id="host"></div>')
            loss, acc = page.evaluate(RENDER, [(STATIC / 'live_chart.js').read_text(), state])
        finally:
            browser.close()
    assert not errors
    assert loss['title'] == 'training loss\nmean of 3 seeds, band 95 % t-interval'
    assert loss['rows'] == ['training step', 'BPTT'] and acc['rows'] == ['training step', 'BPTT']
    assert loss['shaded'] > 2000 and acc['shaded'] < loss['shaded'] / 20      # the band fills its panel only
