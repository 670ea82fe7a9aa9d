#!/usr/bin/env python
"""Keep the tutorials small in git: strip every output that nbval does not check.

A code cell whose source contains ``# NBVAL_CHECK_OUTPUT`` keeps its outputs and its
execution count (nbval in ``--nbval-lax`` mode compares only those cells, and never a
cell whose ``execution_count`` is null). Every other code cell loses its outputs and
its execution count. Widget state (``metadata.widgets``, megabytes per plotly
FigureWidget) and per-cell execution timings are removed everywhere.

    python tutorials/strip_outputs.py                 # strip every tutorials/*.ipynb in place
    python tutorials/strip_outputs.py NB.ipynb ...    # strip the given notebooks
    python tutorials/strip_outputs.py --check         # exit 1 if a notebook would change

Generate the stored outputs by executing a notebook once, then stripping it::

    jupyter nbconvert --to notebook --execute --inplace \\
        --ExecutePreprocessor.store_widget_state=False tutorials/01_online_learning.ipynb
    python tutorials/strip_outputs.py tutorials/01_online_learning.ipynb
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys

import nbformat

CHECK_MARK = '# NBVAL_CHECK_OUTPUT'
HERE = pathlib.Path(__file__).resolve().parent


def is_checked(cell) -> bool:
    """True for a code cell that nbval compares in lax mode."""
    if cell.get('cell_type') != 'code':
        return False
    tags = cell.get('metadata', {}).get('tags', [])
    return CHECK_MARK in cell.get('source', '') or 'nbval-check-output' in tags


def _clean_output(out):
    out = dict(out)
    meta = out.get('metadata')
    if isinstance(meta, dict):
        meta.pop('transient', None)
    return nbformat.from_dict(out)


def strip(nb):
    """Strip ``nb`` in place (see the module docstring); return it."""
    nb.metadata.pop('widgets', None)
    lang = nb.metadata.get('language_info')
    if isinstance(lang, dict):
        nb.metadata['language_info'] = {'name': lang.get('name', 'python')}
    for cell in nb.cells:
        meta = cell.get('metadata', {})
        for key in ('execution', 'collapsed', 'scrolled', 'widgets'):
            meta.pop(key, None)
        if cell.get('cell_type') != 'code':
            cell.pop('outputs', None)
            cell.pop('execution_count', None)
            continue
        if is_checked(cell):
            cell['outputs'] = [_clean_output(o) for o in cell.get('outputs', [])]
        else:
            cell['outputs'] = []
            cell['execution_count'] = None
    return nb


def _dump(nb) -> str:
    return nbformat.writes(nb) + ('' if nbformat.writes(nb).endswith('\n') else '\n')


def process(path: pathlib.Path, check: bool) -> bool:
    """Strip one notebook; return True if it changed (or, with ``check``, would change)."""
    before = path.read_text(encoding='utf-8')
    nb = nbformat.reads(before, as_version=4)
    unchecked = [i for i, c in enumerate(nb.cells) if is_checked(c) and c.get('execution_count') is None]
    after = _dump(strip(nb))
    if unchecked:
        print(f'{path}: checked cell(s) {unchecked} have no execution count: nbval will not compare '
              f'them; execute the notebook before stripping it', file=sys.stderr)
    changed = json.loads(after) != json.loads(before)
    if changed and not check:
        path.write_text(after, encoding='utf-8')
    return changed or bool(unchecked and check)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description='Strip tutorial outputs except nbval-checked cells.')
    parser.add_argument('notebooks', nargs='*', type=pathlib.Path,
                        help='notebooks to strip (default: every tutorials/*.ipynb)')
    parser.add_argument('--check', action='store_true', help='change nothing; exit 1 if a notebook would change')
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(HERE.glob('*.ipynb'))
    changed = [p for p in paths if process(p, args.check)]
    for p in changed:
        print(f'{"would strip" if args.check else "stripped"} {p}')
    return 1 if (args.check and changed) else 0


if __name__ == '__main__':
    sys.exit(main())
