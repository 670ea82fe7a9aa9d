"""LiveChart dashes in Chromium: BPTT dashed over an exact rule's identical curve leaves both visible.

The arena draws the oracle last and dashed (``arena.ORACLE_DASH``); where D-RTRL's curve is
BPTT's, the solid line shows through the dash gaps. The shipped bundle is drawn in a blank
page with a stand-in model (``browser_support.render_live_chart``).
"""
import numpy as np
import pytest
from browser_support import render_live_chart, require_browser

from braintrace_lab.widgets.arena import ORACLE_DASH, panels
from braintrace_lab.widgets.live_chart import LiveChart

pytestmark = pytest.mark.browser

COUNT = '''
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
'''


def _pixels(bptt_dash):
    chart = LiveChart(panels=panels(1))
    x = list(range(40))
    y = list(np.linspace(1.0, 0.2, 40))
    chart.set_series([{'name': 'd_rtrl', 'label': 'D-RTRL', 'x': x, 'y': y, 'panel': 0, 'color': '#d62728'},
                      {'name': 'bptt', 'label': 'BPTT', 'x': x, 'y': y, 'panel': 0, 'color': '#1f77b4',
                       **({'dash': bptt_dash} if bptt_dash else {})}])
    return render_live_chart(chart, COUNT)


def test_a_dashed_oracle_leaves_the_curve_under_it_visible():
    require_browser('LiveChart dash test')
    solid, dashed = _pixels(None), _pixels(ORACLE_DASH)
    assert solid['blue'] > 200 and solid['red'] < solid['blue'] / 10        # solid on top: D-RTRL hidden
    assert dashed['red'] > dashed['blue'] / 3 and dashed['blue'] > 100     # dashed: both colours drawn
    assert solid['markers'] == ['solid', 'solid'] and dashed['markers'] == ['solid', 'dashed']   # and the legend says so
