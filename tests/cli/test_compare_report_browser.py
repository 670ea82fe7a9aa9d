"""The HTML report of ``braintrace-lab compare`` as Chromium renders it: table, charts, nothing fetched.

A tiny comparison (BPTT and D-RTRL, 2 seeds, 6 steps, the default task) writes its report to
a temporary folder; Chromium opens the file and the test reads what a person sees: the
table with each rule's display name, every chart drawn at a nonzero size, no console or
page errors and no request leaving the page (the report is self-contained, offline). A
screenshot goes to ``artifacts/compare_report.png`` (git-ignored). Run it alone with::

    BTL_REQUIRE_BROWSER=1 .venv/bin/python -m pytest -p no:nbval -m browser tests/cli/test_compare_report_browser.py
"""
from __future__ import annotations

from pathlib import Path

import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, require_browser

from braintrace_lab import cli

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / 'artifacts'
LOCAL_SCHEMES = ('file:', 'data:', 'about:', 'blob:')


@pytest.fixture(scope='module')
def report(tmp_path_factory):
    """The report of a two-rule, two-seed comparison on the default task, written by the command line."""
    require_browser('the compare report browser test')
    out = tmp_path_factory.mktemp('compare') / 'compare.html'
    code = cli.main(['compare', '--algorithms', 'bptt,d_rtrl', '--seeds', '2', '--epochs', '6',
                     '--eval-size', '32', '--out', str(out), '--no-progress'])
    assert code == 0 and out.is_file()
    return out


def look_at(path: Path, screenshot: Path | None = None) -> dict:
    """Open ``path`` in Chromium; return what it shows and what went wrong (errors, requests, chart sizes)."""
    from playwright.sync_api import sync_playwright
    seen = {'console_errors': [], 'page_errors': [], 'requests': []}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={'width': 1300, 'height': 1800})
            page.on('console', lambda msg: seen['console_errors'].append(msg.text) if msg.type == 'error' else None)
            page.on('pageerror', lambda err: seen['page_errors'].append(str(err)))
            page.on('request', lambda req: seen['requests'].append(req.url))
            page.goto(path.as_uri(), wait_until='load', timeout=60_000)
            page.wait_for_timeout(300)                  # late console messages and requests
            seen['title'] = page.title().strip()
            rows = page.locator('table.btl-table:not(.btl-info) tbody tr')
            seen['rows'] = [rows.nth(i).locator('td').all_text_contents() for i in range(rows.count())]
            seen['header'] = page.locator('table.btl-table:not(.btl-info) thead th').all_text_contents()
            seen['boxes'] = page.evaluate("""() => Array.from(document.querySelectorAll(
                'svg.btl-chart, .charts img, .charts svg')).map((e) => {
                    const r = e.getBoundingClientRect(); return {width: r.width, height: r.height}; })""")
            seen['shapes'] = page.evaluate("""() => Array.from(document.querySelectorAll('svg.btl-chart')).map(
                (s) => s.querySelectorAll('path, polyline, line, rect, use').length)""")
            if screenshot is not None:
                page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    seen['outside'] = [url for url in seen['requests'] if not url.startswith(LOCAL_SCHEMES)]
    return seen


def test_compare_report_renders_in_chromium(report):
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / 'compare_report.png'
    seen = look_at(report, shot)
    assert seen['title'], 'the report has no title'
    names = [row[0].strip() for row in seen['rows']]
    assert names == ['BPTT', 'D-RTRL'], names
    assert seen['header'][0] == 'algorithm' and any('held-out' in h for h in seen['header']), seen['header']
    assert any('±' in cell for cell in seen['rows'][1]), f'no interval in the D-RTRL row with 2 seeds: {seen["rows"]}'
    assert len(seen['boxes']) >= 2, f'only {len(seen["boxes"])} charts in the report'
    for i, box in enumerate(seen['boxes']):
        assert box['width'] > 0 and box['height'] > 0, (i, box)
    assert seen['shapes'] and all(n > 0 for n in seen['shapes']), seen['shapes']   # drawn, not empty frames
    assert not seen['page_errors'], seen['page_errors']
    assert not seen['console_errors'], seen['console_errors']
    assert not seen['outside'], f'the report fetched from the network: {seen["outside"]}'
    assert seen['requests'] and seen['requests'][0] == report.as_uri()
    assert shot.stat().st_size > 10_000


def test_a_broken_report_is_caught(report, tmp_path):
    """Negative control: a copy with a network image, console and script errors and a hidden chart fails each check."""
    html = report.read_text(encoding='utf-8')
    assert '<svg class="btl-chart"' in html and '</body>' in html
    html = html.replace('<svg class="btl-chart"', '<svg class="btl-chart" style="display:none"', 1)
    html = html.replace('</body>', '<img src="http://192.0.2.1/x.png"><script>console.error("broken report")</script>'
                        '<script>undefinedCall()</script></body>')
    broken = tmp_path / 'broken.html'
    broken.write_text(html, encoding='utf-8')
    seen = look_at(broken)
    assert seen['outside'] == ['http://192.0.2.1/x.png'], seen['requests']
    assert any('undefinedCall' in e for e in seen['page_errors']), seen['page_errors']
    assert 'broken report' in seen['console_errors'], seen['console_errors']
    assert seen['boxes'][0] == {'width': 0, 'height': 0}, seen['boxes'][0]
    assert all(b['width'] > 0 and b['height'] > 0 for b in seen['boxes'][1:]), seen['boxes']
