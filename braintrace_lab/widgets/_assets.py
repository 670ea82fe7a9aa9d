"""Find the browser side of the widgets: ES modules with uPlot bundled in, and one stylesheet.

The sources live in the top-level ``widgets/`` folder (``widgets/src/*.js``, ``widgets/lab.css``);
``widgets/build.mjs`` bundles them with the locked uPlot into ``braintrace_lab/_widgets_static``
(package data, committed, so installing needs no Node and the views need no network).
``build.json`` there records the hashes of the inputs and outputs of that build.

>>> esm('trace_monitor').startswith('/* braintrace-lab widget bundle, built by widgets/build.mjs')
True
"""
from __future__ import annotations

import functools
import json
from importlib import resources

__all__ = ['VIEWS', 'asset_dir', 'read_asset', 'esm', 'css', 'build_info']

VIEWS = ('graph_view', 'live_chart', 'trace_monitor')


@functools.lru_cache(maxsize=None)
def asset_dir():
    """The folder of the built assets (``braintrace_lab/_widgets_static``)."""
    folder = resources.files('braintrace_lab') / '_widgets_static'
    if not (folder / 'build.json').is_file():
        raise FileNotFoundError('braintrace_lab widget assets (braintrace_lab/_widgets_static/build.json ...) not '
                                'found: reinstall the package (pip install .), or rebuild them with '
                                '"cd widgets && npm ci && npm run build".')
    return folder


def read_asset(name: str) -> str:
    return (asset_dir() / name).read_text(encoding='utf-8')


@functools.lru_cache(maxsize=None)
def esm(view: str) -> str:
    """The ES module of one view (``'graph_view'``, ``'live_chart'`` or ``'trace_monitor'``)."""
    if view not in VIEWS:
        raise ValueError(f'no widget module {view!r}; built modules: {", ".join(VIEWS)}.')
    return read_asset(f'{view}.js')


@functools.lru_cache(maxsize=None)
def css() -> str:
    """The views' stylesheet (uPlot's styles included)."""
    return read_asset('lab.css')


def build_info() -> dict:
    """``build.json``: versions of uPlot and esbuild, SHA-256 of every build input and output."""
    return json.loads(read_asset('build.json'))
