"""Find the browser side of the widgets: plain ES modules and CSS shipped in ``widgets/``.

In the wheel they live in ``braintrace_lab/_widgets_static`` (package data; in the source
tree that path is a link to the top-level ``widgets/`` folder). Each view module is
served as ``common.js + <view>.js`` so the shared helpers need no bundler.

>>> esm('trace_monitor')[:40]
"""
from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

__all__ = ['asset_dir', 'read_asset', 'esm', 'css']

_REPO_WIDGETS = Path(__file__).resolve().parents[2] / 'widgets'


@functools.lru_cache(maxsize=None)
def asset_dir():
    """The folder holding ``common.js`` (package data first, then the source tree)."""
    try:
        pkg = resources.files('braintrace_lab') / '_widgets_static'
        if pkg.is_dir() and (pkg / 'common.js').is_file():
            return pkg
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError):
        pass
    if (_REPO_WIDGETS / 'common.js').is_file():
        return _REPO_WIDGETS
    raise FileNotFoundError('braintrace_lab widget assets (common.js ...) not found: reinstall the package '
                            '(pip install .) so that braintrace_lab/_widgets_static is included.')


def read_asset(name: str) -> str:
    return (asset_dir() / name).read_text(encoding='utf-8')


@functools.lru_cache(maxsize=None)
def esm(view: str) -> str:
    """The ES module of one view: the shared helpers followed by ``<view>.js``."""
    return read_asset('common.js') + '\n' + read_asset(f'{view}.js')


@functools.lru_cache(maxsize=None)
def css() -> str:
    return read_asset('lab.css')
