"""The browser side ships with the package: ES modules bundled with uPlot, reproducible from the lock file."""
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import braintrace_lab
from braintrace_lab.widgets import _assets

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ROOT / 'widgets'
STATIC = Path(braintrace_lab.__file__).parent / '_widgets_static'


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_assets_are_es_modules_with_uplot_bundled():
    for view in _assets.VIEWS:
        src = _assets.esm(view)
        assert src.startswith('/* braintrace-lab widget bundle') and 'export{' in src.replace(' ', '')
        assert 'render' in src and 'import ' not in src.split('*/', 1)[1][:200]      # self-contained
    for view in ('live_chart', 'trace_monitor'):
        assert 'uplot' in _assets.esm(view)                # uPlot's code, bundled (its class names)
    assert '.uplot' in _assets.css() and '.btl-error' in _assets.css()
    with pytest.raises(ValueError, match="no widget module 'nope'"):
        _assets.esm('nope')


def test_shipped_files_are_the_recorded_build_of_the_current_sources():
    info = _assets.build_info()
    # the outputs are what the build wrote (nobody edited a bundle by hand)
    for name, digest in info['outputs'].items():
        assert sha256(STATIC / name) == digest, f'{name} differs from the build: run "npm run build" in widgets/'
    # the build read the sources as they are now (nobody edited a source without rebuilding)
    current = sorted(['build.mjs', 'lab.css', 'package.json', 'package-lock.json'] +
                     [f'src/{p.name}' for p in (SOURCES / 'src').glob('*.js')])
    assert sorted(info['inputs']) == current
    stale = [f for f in current if sha256(SOURCES / f) != info['inputs'][f]]
    assert not stale, f'sources changed since the last build: {stale}; run "npm run build" in widgets/'


def test_lock_file_pins_the_bundled_uplot_and_its_licence_ships():
    info = _assets.build_info()
    lock = json.loads((SOURCES / 'package-lock.json').read_text())
    assert lock['packages']['node_modules/uplot']['version'] == info['uplot']
    assert lock['packages']['node_modules/esbuild']['version'] == info['esbuild']
    assert json.loads((SOURCES / 'package.json').read_text())['dependencies']['uplot'] == info['uplot']
    licence = (STATIC / 'LICENSE.uplot').read_text()
    assert 'MIT License' in licence and 'Leon Sorokin' in licence
    assert f'uPlot {info["uplot"]}' in _assets.esm('live_chart')[:300]


def test_package_data_ships_the_build():
    shipped = sorted(p.name for p in STATIC.iterdir() if not p.name.startswith('.'))
    assert shipped == sorted(list(_assets.build_info()['outputs']) + ['build.json'])
    assert '"_widgets_static/*"' in (ROOT / 'pyproject.toml').read_text()


def test_no_hand_drawn_charts_remain():
    """Lines, ticks and axes come from uPlot (live) and matplotlib (static), not from our own code."""
    for path in (SOURCES / 'src').glob('*.js'):
        text = path.read_text()
        assert 'lineTo(' not in text and 'fillText(' not in text, path.name
    report = (ROOT / 'braintrace_lab' / 'lab' / 'html_report.py').read_text()
    assert 'svg_line_chart' not in report and '_log_ticks' not in report and '<polyline' not in report


def test_rebuild_from_the_lock_file_gives_the_same_bytes(tmp_path):
    """``node build.mjs`` with the locked packages writes exactly the committed files."""
    node = shutil.which('node')
    installed = (SOURCES / 'node_modules' / 'uplot' / 'package.json').is_file() and \
        (SOURCES / 'node_modules' / 'esbuild' / 'package.json').is_file()
    if not (node and installed):
        reason = 'rebuilding needs node and "npm ci" in widgets/ (node_modules)'
        if os.environ.get('BTL_REQUIRE_NODE') == '1':
            pytest.fail(reason + ' (BTL_REQUIRE_NODE=1 is set)')
        pytest.skip(reason)
    lock = json.loads((SOURCES / 'package-lock.json').read_text())['packages']
    for pkg in ('uplot', 'esbuild'):
        got = json.loads((SOURCES / 'node_modules' / pkg / 'package.json').read_text())['version']
        assert got == lock[f'node_modules/{pkg}']['version'], f'{pkg} {got} installed; run "npm ci" in widgets/'
    subprocess.run([node, 'build.mjs', str(tmp_path)], cwd=SOURCES, check=True, capture_output=True, timeout=120)
    built = sorted(p.name for p in tmp_path.iterdir())
    assert built == sorted(list(_assets.build_info()['outputs']) + ['build.json'])
    for name in built:
        assert (tmp_path / name).read_bytes() == (STATIC / name).read_bytes(), name
