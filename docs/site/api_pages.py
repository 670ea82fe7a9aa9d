"""The API reference pages of the course site, written from each public package's ``__all__``.

One page per public subpackage of ``braintrace_lab`` (``ops``, ``compiler``, ``algorithms``,
``lab`` ...) plus one for the top-level names: the package docstring, a table of every
public name with its docstring's first paragraph, and the full autodoc entry of each object
defined in the package. An object exported from several places is documented once, where
its page comes first, and the other tables link there; names forwarded from brainstate or
brainpy are listed by name only.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import braintrace_lab

PACKAGE = 'braintrace_lab'


def public_subpackages() -> list[str]:
    """``braintrace_lab.X`` for every subpackage whose name has no leading underscore and which has ``__all__``."""
    names = []
    for info in pkgutil.iter_modules(braintrace_lab.__path__):
        if info.ispkg and not info.name.startswith('_'):
            module = importlib.import_module(f'{PACKAGE}.{info.name}')
            if hasattr(module, '__all__'):
                names.append(module.__name__)
    return names


def _directive(obj) -> str:
    if inspect.isclass(obj):
        return 'autoclass'
    if callable(obj):
        return 'autofunction'
    if getattr(obj, '__doc__', None) == type(obj).__doc__:
        return 'constant'                                # a dict or tuple: its type's docstring says nothing
    return 'autodata'


def _summary(full: str) -> str:
    """The first paragraph of the docstring of the object named ``full``, on one line."""
    module, _, attr = full.rpartition('.')
    try:
        obj = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):
        obj = importlib.import_module(full)
    doc = inspect.getdoc(obj) or ''
    return ' '.join(doc.split('\n\n')[0].split()) or '(no docstring)'


def _ours(obj) -> bool:
    module = getattr(obj, '__module__', None)
    if module is None:                                   # constants: tuples, dicts, strings
        return not inspect.ismodule(obj)
    return module == PACKAGE or module.startswith(PACKAGE + '.')


def _public(module) -> list[str]:
    return [n for n in module.__all__ if not n.startswith('__') and hasattr(module, n)]


def _page(module, canonical: dict[int, str]) -> str:
    name = module.__name__
    own, table, forwarded = [], [], []
    for attr in _public(module):
        obj = getattr(module, attr)
        if inspect.ismodule(obj):
            table.append(f'{obj.__name__}')
        elif not _ours(obj):
            forwarded.append(attr)
        elif id(obj) in canonical and canonical[id(obj)].rpartition('.')[0] != name:
            table.append(canonical[id(obj)])                  # documented on an earlier page
        else:
            canonical.setdefault(id(obj), f'{name}.{attr}')
            own.append((attr, obj))
            if _directive(obj) != 'constant':
                table.append(f'{name}.{attr}')
    lines = [f'# `{name}`', '', '```{eval-rst}', f'.. automodule:: {name}', '   :no-members:', '']
    if table:
        lines += ['.. list-table::', '   :class: btl-api-summary', '   :widths: 30 70', '']
        for full in table:
            lines += [f'   * - :py:obj:`~{full}`', f'     - {_summary(full)}']
        lines.append('')
    lines += ['```', '']
    if forwarded:
        lines += ['Forwarded unchanged from brainstate / brainpy: '
                  + ', '.join(f'`{n}`' for n in forwarded) + '.', '']
    if own:
        lines += ['## Reference', '', '```{eval-rst}', f'.. currentmodule:: {name}', '']
        for attr, obj in own:
            kind = _directive(obj)
            if kind == 'constant':
                lines += [f'.. py:data:: {attr}', f'   :type: {type(obj).__name__}', '',
                          f'   A constant of ``{name}`` (see the module description above).']
            else:
                lines.append(f'.. {kind}:: {attr}')
            if kind == 'autoclass':
                lines.append('   :members:')
            lines.append('')
        lines += ['```', '']
    return '\n'.join(lines)


def write(folder: Path) -> list[Path]:
    """Write ``index.md`` and one page per package into ``folder``; return the pages written or kept."""
    folder.mkdir(parents=True, exist_ok=True)
    canonical: dict[int, str] = {}
    modules = [importlib.import_module(n) for n in public_subpackages()]
    pages = {}
    for module in modules:                                # subpackages first: they own their objects
        pages[module.__name__] = _page(module, canonical)
    pages[PACKAGE] = _page(braintrace_lab, canonical)
    order = [PACKAGE] + [m.__name__ for m in modules]
    summaries = []
    for name in order:
        doc = inspect.getdoc(importlib.import_module(name)) or ''
        summaries.append(f'* [`{name}`]({name}.md): {doc.splitlines()[0] if doc else ""}')
    index = ['# API reference', '',
             'Generated from the docstrings of the public modules: each page lists the names of the '
             "module's `__all__` with their docstring's first paragraph, then documents each in full.", '',
             *summaries, '', '```{toctree}', ':hidden:', '', *order, '```', '']
    pages['index'] = '\n'.join(index)
    written = []
    for name, text in pages.items():
        path = folder / f'{name}.md'
        if not path.exists() or path.read_text(encoding='utf-8') != text:
            path.write_text(text, encoding='utf-8')
        written.append(path)
    for stale in set(folder.glob('*.md')) - set(written):
        stale.unlink()
    return written
