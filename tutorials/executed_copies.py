#!/usr/bin/env python
"""Executed copies of the tutorials in ``build/executed/``: run once, read by the course site.

The committed tutorials keep only the outputs nbval checks; the site needs every output
(figures, tables, the static image in each widget's output). A copy is written by
``pytest --nbval-lax ... tutorials`` when a tutorial passes (``tutorials/conftest.py``
records what each cell printed and drew), or by this script, which executes with nbclient
only the tutorials whose copy is missing or stale. So ``make test`` runs each tutorial once
and the site build reuses that run.

A copy is current when the fingerprint stored in its metadata equals the tutorial's
fingerprint now: a hash of the notebook's cells and of the package's source files.

    python tutorials/executed_copies.py            # execute the tutorials without a current copy
    python tutorials/executed_copies.py --force    # execute them all
    python tutorials/executed_copies.py --check    # exit 1 if a copy is missing or stale
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = ROOT / 'tutorials'
EXECUTED = ROOT / 'build' / 'executed'
PACKAGE = ROOT / 'braintrace_lab'
META_KEY = 'braintrace_lab_executed'
SOURCE_SUFFIXES = ('.py', '.js', '.css', '.json')


def tutorials() -> list[Path]:
    """The numbered tutorials, ``tutorials/NN_*.ipynb``, in order."""
    return sorted(TUTORIALS.glob('[0-9][0-9]_*.ipynb'))


def copy_path(tutorial: Path) -> Path:
    """Where the executed copy of ``tutorial`` lives."""
    return EXECUTED / Path(tutorial).name


def _package_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.rglob('*')):
        if path.suffix in SOURCE_SUFFIXES and '__pycache__' not in path.parts:
            digest.update(str(path.relative_to(PACKAGE)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def fingerprint(tutorial: Path, package_digest: str | None = None) -> str:
    """Hash of the tutorial's cells (type, source, metadata) and of the package's source files."""
    nb = nbformat.read(str(tutorial), as_version=4)
    cells = [[c.cell_type, c.source, c.get('metadata', {})] for c in nb.cells]
    digest = hashlib.sha256(json.dumps(cells, sort_keys=True).encode())
    digest.update((package_digest or _package_digest()).encode())
    return digest.hexdigest()


def is_current(tutorial: Path, package_digest: str | None = None) -> bool:
    """Whether ``build/executed/`` holds a copy of ``tutorial`` made from its present cells and code."""
    target = copy_path(tutorial)
    if not target.exists():
        return False
    try:
        stored = nbformat.read(str(target), as_version=4).metadata.get(META_KEY, {})
    except Exception:                       # a truncated or foreign file: not a usable copy
        return False
    return stored.get('fingerprint') == fingerprint(tutorial, package_digest)


def save(nb, tutorial: Path, fp: str, how: str) -> Path:
    """Write the executed notebook ``nb`` as the copy of ``tutorial`` (atomically), marked with ``fp``."""
    nb.metadata.pop('widgets', None)        # no widget state: the site shows each view's static image
    nb.metadata[META_KEY] = {'fingerprint': fp, 'source': f'tutorials/{Path(tutorial).name}', 'by': how}
    target = copy_path(tutorial)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix('.ipynb.tmp')
    nbformat.write(nb, str(tmp))
    os.replace(tmp, target)
    return target


def discard(tutorial: Path) -> None:
    """Remove the copy of ``tutorial`` (after a failed run, so that no stale copy is shown)."""
    copy_path(tutorial).unlink(missing_ok=True)


def execute(tutorial: Path, timeout: int = 600) -> Path:
    """Run ``tutorial`` top to bottom with nbclient in ``tutorials/`` and save its copy."""
    fp = fingerprint(tutorial)
    nb = nbformat.read(str(tutorial), as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name='python3', store_widget_state=False,
                            resources={'metadata': {'path': str(TUTORIALS)}})
    client.execute()
    return save(nb, tutorial, fp, 'nbclient')


def ensure(selected: list[Path] | None = None, force: bool = False, log=print) -> list[Path]:
    """Execute the tutorials whose copy is missing or stale (all with ``force``); return the copies."""
    digest = _package_digest()
    copies = []
    for tutorial in selected or tutorials():
        if force or not is_current(tutorial, digest):
            t0 = time.perf_counter()
            log(f'executing {tutorial.name} ...')
            execute(tutorial)
            log(f'  {tutorial.name}: {time.perf_counter() - t0:.1f} s')
        else:
            log(f'{tutorial.name}: current copy in {EXECUTED.relative_to(ROOT)}/')
        copies.append(copy_path(tutorial))
    return copies


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('notebooks', nargs='*', type=Path, help='tutorials to consider (default: all)')
    parser.add_argument('--force', action='store_true', help='execute even when the copy is current')
    parser.add_argument('--check', action='store_true', help='only report; exit 1 if a copy is missing or stale')
    args = parser.parse_args(argv)
    selected = [p.resolve() for p in args.notebooks] or tutorials()
    if args.check:
        digest = _package_digest()
        stale = [p.name for p in selected if not is_current(p, digest)]
        for name in stale:
            print(f'{name}: no current executed copy (run: python tutorials/executed_copies.py)')
        return 1 if stale else 0
    ensure(selected, force=args.force)
    return 0


if __name__ == '__main__':
    sys.exit(main())
