"""LiveChart dashes in Chromium: BPTT dashed over an exact rule's identical curve leaves both visible.

The arena draws the oracle last and dashed (``arena.ORACLE_DASH``); where D-RTRL's curve is
BPTT's, the solid line shows through the dash gaps. Loads the shipped bundle into a blank
page with a stand-in model, as ``test_browser_bands.py`` does.
"""
from pathlib import Path

import numpy as np
import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, require_browser

from braintrace_lab.widgets.arena import ORACLE_DASH, panels
from braintrace_lab.widgets.live_chart import LiveChart

pytestmark = pytest.mark.browser

STATIC = Path(__file__).resolve().parents[2] / 'braintrace_lab' / '_widgets_static'

COUNT = '''async ([code, state]) => {
    const url = URL.createObjectURL(new Blob([code], {type: 'text/javascript'}));
    const view = (await import(url)).default;
    const traits = Object.assign({}, state, {data: new Uint8Array(state.data).buffer});
    view.render({model: {get: (k) => traits[k], on() {}, off() {}}, el: document.getElementById('host')});
    await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
    const canvas = document.querySelector('.btl-chart canvas');
    const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let red = 0, blue = 0;                 // D-RTRL #d62728, BPTT #1f77b4, opaque line pixels
    for (let i = 0; i < px.length; i += 4) {
        if (px[i + 3] < 200) continue;
        if (px[i] > 150 && px[i + 1] < 90 && px[i + 2] < 90) red++;
        if (px[i + 2] > 120 && px[i] < 80) blue++;
    }
    const markers = [...document.querySelector('.btl-chart').querySelectorAll('.u-legend .u-series')].slice(1)
        .map((r) => r.querySelector('.u-marker').style.borderStyle);
    return {red, blue, markers};
}'''


def _pixels(bptt_dash):
    chart = LiveChart(panels=panels(1))
    x = list(range(40))
    y = list(np.linspace(1.0, 0.2, 40))
    chart.set_series([{'name': 'd_rtrl', 'label': 'D-RTRL', 'x': x, 'y': y, 'panel': 0, 'color': '#d62728'},
                      {'name': 'bptt', 'label': 'BPTT', 'x': x, 'y': y, 'panel': 0, 'color': '#1f77b4',
                       **({'dash': bptt_dash} if bptt_dash else {})}])
    state = {'layout_spec': chart.layout_spec, 'series': chart.series, 'notes': {}, 'error': '',
             'data': [int(b) for b in np.frombuffer(chart.data, np.uint8)]}
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            errors = []
            page.on('pageerror', lambda e: errors.append(str(e)))
            page.set_content(f'<style>{(STATIC / "lab.css").read_text()}</style><div id="host"></div>')
            counts = page.evaluate(COUNT, [(STATIC / 'live_chart.js').read_text(), state])
        finally:
            browser.close()
    assert not errors
    return counts


def test_a_dashed_oracle_leaves_the_curve_under_it_visible():
    require_browser('LiveChart dash test')
    solid, dashed = _pixels(None), _pixels(ORACLE_DASH)
    assert solid['blue'] > 200 and solid['red'] < solid['blue'] / 10        # solid on top: D-RTRL hidden
    assert dashed['red'] > dashed['blue'] / 3 and dashed['blue'] > 100     # dashed: both colours drawn
    assert solid['markers'] == ['solid', 'solid'] and dashed['markers'] == ['solid', 'dashed']   # and the legend says so
