"""The browser side ships with the package: plain ES modules found through package data."""
from pathlib import Path

import braintrace_lab
from braintrace_lab.widgets import _assets

ROOT = Path(__file__).resolve().parents[2]


def test_assets_are_found_and_are_es_modules():
    d = _assets.asset_dir()
    for view in ('graph_view', 'trace_monitor', 'live_chart'):
        src = _assets.esm(view)
        assert 'export default' in src and 'function btlFloats' in src and 'render(' in src
    assert '.btl-error' in _assets.css()
    assert (d / 'common.js').is_file()


def test_package_data_points_at_the_top_level_widgets_folder():
    static = Path(braintrace_lab.__file__).parent / '_widgets_static'
    shipped = sorted(p.name for p in static.iterdir())
    assert shipped == sorted(p.name for p in (ROOT / 'widgets').iterdir())
    assert {'common.js', 'graph_view.js', 'trace_monitor.js', 'live_chart.js', 'lab.css'} <= set(shipped)
    text = (ROOT / 'pyproject.toml').read_text()
    assert '"_widgets_static/*"' in text
