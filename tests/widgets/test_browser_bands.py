"""LiveChart bands in Chromium: the arena's per-seed t-interval is a shaded region, its bounds no legend rows.

Draws the shipped ``live_chart.js`` bundle in a blank page with a stand-in model
(``browser_support.render_live_chart``), so it needs Chromium and ``playwright`` but no
Jupyter server. Skipped without them unless ``BTL_REQUIRE_BROWSER=1``.
"""
import pytest
from browser_support import render_live_chart, require_browser

from braintrace_lab.widgets.arena import panels
from braintrace_lab.widgets.live_chart import LiveChart

pytestmark = pytest.mark.browser

MEASURE = '''
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
'''


def test_band_is_shaded_and_left_out_of_the_legend():
    require_browser('LiveChart band test')
    chart = LiveChart(panels=panels(3))
    x = [0, 1, 2, 3]
    chart.set_series([
        {'name': 'bptt', 'label': 'BPTT', 'x': x, 'y': [1.0, 0.8, 0.6, 0.5], 'panel': 0},
        {'name': 'bptt:lo', 'x': x, 'y': [0.5, 0.4, 0.3, 0.2], 'panel': 0, 'band': 'lo', 'of': 'bptt'},
        {'name': 'bptt:hi', 'x': x, 'y': [2.0, 1.5, 1.2, 1.0], 'panel': 0, 'band': 'hi', 'of': 'bptt'},
        {'name': 'bptt', 'label': 'BPTT', 'x': x, 'y': [0.2, 0.4, 0.5, 0.6], 'panel': 1},   # no band here
    ])
    loss, acc = render_live_chart(chart, MEASURE)
    assert loss['title'] == 'training loss\nmean of 3 seeds, band 95 % t-interval'
    assert loss['rows'] == ['training step', 'BPTT'] and acc['rows'] == ['training step', 'BPTT']
    assert loss['shaded'] > 2000 and acc['shaded'] < loss['shaded'] / 20      # the band fills its panel only
