"""The course site in a real browser: every page of ``build/site`` opened in Chromium from 127.0.0.1.

On each page: the math is typeset by the site's own MathJax (every math node rendered, no
TeX error, no raw ``$$`` or ``\\(`` left in the text); in each tutorial, every cell whose
output was a widget shows a drawn image or SVG; no console error, no failed or 404 load;
no request leaves 127.0.0.1 (any that tries is blocked and reported). After all pages, every
internal link resolves and every ``#anchor`` it names exists on its page.

Uses the site ``make site`` built (``make test`` builds it first); builds it when there is
none (``docs/site/build.py``, executing the tutorials that have no current copy: minutes).
Needs Debian's Chromium at /usr/bin/chromium and the playwright package (never
``playwright install``); skipped without them unless ``BTL_REQUIRE_BROWSER=1``. Alone::

    BTL_REQUIRE_BROWSER=1 .venv/bin/python -m pytest -p no:nbval -m browser tests/site
"""
import functools
import json
import subprocess
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urldefrag, urlsplit
from urllib.request import urlopen

import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, require_browser

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / 'build' / 'site'
SITE_SOURCE = ROOT / 'build' / 'site-src'
ARTIFACTS = ROOT / 'artifacts' / 'site'
WIDGET = 'application/vnd.jupyter.widget-view+json'
PAGE_TIMEOUT_MS = 60_000


def _require_browser():
    require_browser('the site browser test', ('playwright', 'sphinx', 'myst_nb'), 'pip install -e ".[docs,test]"')


@pytest.fixture(scope='module')
def site():
    """``build/site``, built first if there is no index page."""
    _require_browser()
    if not (SITE / 'index.html').exists():
        for script in ('tutorials/executed_copies.py', 'docs/site/build.py'):
            proc = subprocess.run([sys.executable, script], cwd=ROOT, capture_output=True, text=True, timeout=1800)
            assert proc.returncode == 0, f'{script} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}'
    return SITE


class _Handler(SimpleHTTPRequestHandler):
    missing: list = []

    def log_message(self, *args):            # quiet; 404s are collected instead
        pass

    def send_error(self, code, message=None, explain=None):
        self.missing.append((code, self.path))
        super().send_error(code, message, explain)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):    # the browser dropped a download it no longer needs
            super().handle_error(request, client_address)


@pytest.fixture(scope='module')
def server(site):
    """An HTTP server for the site on 127.0.0.1 and a free port; its base URL and the paths it could not serve."""
    handler = type('Handler', (_Handler,), {'missing': []})
    httpd = _Server(('127.0.0.1', 0), functools.partial(handler, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f'http://127.0.0.1:{httpd.server_address[1]}/', handler.missing
    finally:
        httpd.shutdown()
        httpd.server_close()


def _pages(site: Path) -> list[str]:
    """Every HTML page of the site (not the theme's assets or the copies of the sources)."""
    pages = [p.relative_to(site).as_posix() for p in site.rglob('*.html')]
    return sorted(p for p in pages if not p.split('/')[0].startswith('_'))


def _widget_cells(page: str) -> tuple[list[int], int]:
    """Positions, among the code cells of a tutorial page's notebook, of the cells with a widget output; and their number."""
    notebook = SITE_SOURCE / Path(page).with_suffix('.ipynb')
    cells = [c for c in json.loads(notebook.read_text(encoding='utf-8'))['cells'] if c['cell_type'] == 'code']
    return [i for i, c in enumerate(cells) if any(WIDGET in o.get('data', {}) for o in c.get('outputs', []))], \
        len(cells)


MATH_STATE = """async () => {
    const nodes = [...document.querySelectorAll('span.math, div.math')];
    if (nodes.length && window.MathJax && MathJax.startup) { await MathJax.startup.promise; }
    const text = (() => {
        const body = document.body.cloneNode(true);
        body.querySelectorAll('pre, code, script, style, mjx-container, .highlight').forEach(e => e.remove());
        return body.innerText;
    })();
    return {nodes: nodes.length,
            untypeset: nodes.filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 80)),
            errors: [...document.querySelectorAll('mjx-merror')].map(e => e.textContent.slice(0, 80)),
            mathjax: !!(window.MathJax && MathJax.version), mathjaxSrc: [...document.scripts].map(s => s.src)
                .filter(s => s.includes('mathjax') || s.includes('MathJax')),
            rawDollars: (text.match(/\\$\\$/g) || []).length,
            rawTex: (text.match(/\\\\\\(|\\\\\\[|\\$\\\\[a-zA-Z]+/g) || []).slice(0, 5)};
}"""

CELL_FIGURES = """() => [...document.querySelectorAll('div.cell')].map(cell => {
    const out = cell.querySelector('.cell_output');
    if (!out) return {images: 0, drawn: 0};
    const imgs = [...out.querySelectorAll('img')], svgs = [...out.querySelectorAll('svg')];
    const drawn = imgs.filter(i => i.complete && i.naturalWidth > 0).length
        + svgs.filter(s => s.getBoundingClientRect().width > 0).length;
    return {images: imgs.length + svgs.length, drawn};
})"""

LINKS_AND_IDS = """() => ({
    links: [...document.querySelectorAll('a[href]')].map(a => a.href),
    ids: [...document.querySelectorAll('[id]')].map(e => e.id).concat(
        [...document.querySelectorAll('a[name]')].map(a => a.name)),
    widgetScripts: document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]').length,
})"""


def test_every_page_of_the_site_in_chromium(site, server):
    from playwright.sync_api import sync_playwright
    base, missing = server
    pages = _pages(site)
    tutorials = [p for p in pages if p.startswith('tutorials/') and p.split('/')[-1][:2].isdigit()]
    assert 'index.html' in pages and 'tutorials/README.html' in pages and 'docs/compatibility.html' in pages
    expected = sorted(f'tutorials/{p.stem}.html' for p in (ROOT / 'tutorials').glob('[0-9][0-9]_*.ipynb'))
    assert tutorials == expected and len(expected) >= 6, \
        f'the site has {tutorials}, tutorials/ has {expected}: rebuild it with `make site`'
    assert any(p.startswith('api/braintrace_lab.') for p in pages), pages
    problems, links, ids, math_pages = [], {}, {}, 0
    outside = []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport={'width': 1280, 'height': 900})

            def route(r):
                host = urlsplit(r.request.url).hostname
                if r.request.url.startswith(('data:', 'blob:')) or host == '127.0.0.1':
                    return r.continue_()
                outside.append(r.request.url)
                return r.abort()
            context.route('**/*', route)
            page = context.new_page()
            current = {'name': ''}
            page.on('console', lambda m: m.type == 'error' and problems.append(
                f'{current["name"]}: console error: {m.text}'))
            page.on('pageerror', lambda e: problems.append(f'{current["name"]}: page error: {e}'))
            page.on('response', lambda r: r.status >= 400 and problems.append(
                f'{current["name"]}: HTTP {r.status} for {r.url}'))
            for name in pages:
                current['name'] = name
                page.goto(base + name, wait_until='load', timeout=PAGE_TIMEOUT_MS)
                state = page.evaluate(MATH_STATE)
                if state['nodes']:
                    math_pages += 1
                    if not state['mathjax'] or not all(s.startswith(base) for s in state['mathjaxSrc']):
                        problems.append(f'{name}: MathJax not loaded from the site ({state["mathjaxSrc"]})')
                for label, bad in (('math not typeset', state['untypeset']), ('TeX errors', state['errors']),
                                   ('raw TeX in the text', state['rawTex'])):
                    if bad:
                        problems.append(f'{name}: {label}: {bad[:3]}')
                if state['rawDollars']:
                    problems.append(f'{name}: {state["rawDollars"]} raw "$$" in the text')
                found = page.evaluate(LINKS_AND_IDS)
                ids[name] = set(found['ids'])
                links[name] = found['links']
                if found['widgetScripts']:
                    problems.append(f'{name}: a live widget view with no state instead of its image')
                if name in tutorials:
                    widget_cells, n_code = _widget_cells(name)
                    figures = page.evaluate(CELL_FIGURES)
                    if len(figures) != n_code:
                        problems.append(f'{name}: {len(figures)} cells on the page, {n_code} in the notebook')
                        continue
                    for i in widget_cells:
                        if not figures[i]['drawn']:
                            problems.append(f'{name}: code cell {i} (a widget) shows no figure: {figures[i]}')
                    if name == tutorials[0]:
                        page.screenshot(path=str(ARTIFACTS / 'tutorial.png'))
                elif name == 'index.html':
                    page.screenshot(path=str(ARTIFACTS / 'index.png'))
        finally:
            browser.close()

    # every internal link resolves, and its #anchor exists on the page it names
    checked = {}
    for name, hrefs in links.items():
        for href in hrefs:
            if not href.startswith(base):
                continue
            target, fragment = urldefrag(href)
            rel = target[len(base):] or 'index.html'
            if rel.endswith('/'):
                rel += 'index.html'
            if rel not in checked:
                try:
                    with urlopen(base + rel, timeout=30) as response:
                        checked[rel] = response.status
                except Exception as err:                       # HTTPError (404) and the like
                    checked[rel] = getattr(err, 'code', str(err))
            if checked[rel] != 200:
                problems.append(f'{name}: link to {rel} gives {checked[rel]}')
            elif fragment and rel in ids and fragment not in ids[rel]:
                problems.append(f'{name}: link to {rel}#{fragment}: no such anchor')
    problems += [f'server: {code} for {path}' for code, path in missing]
    problems += [f'request outside 127.0.0.1 (blocked): {url}' for url in sorted(set(outside))]
    assert math_pages >= len(tutorials), f'math on only {math_pages} pages'
    assert set(tutorials) <= set(checked), f'tutorial pages not linked from any page: {set(tutorials) - set(checked)}'
    assert not problems, f'{len(problems)} problems on {len(pages)} pages:\n' + '\n'.join(problems[:60])
