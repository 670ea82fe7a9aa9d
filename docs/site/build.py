#!/usr/bin/env python
"""Build the course site into ``build/site``: the executed tutorials, the course map, the notes, the API.

``make site`` runs ``tutorials/executed_copies.py`` first (a no-op for the tutorials that
``make test``'s nbval run has just saved), then this script, which

1. lays out ``build/site-src/`` like the repository, so that each page's Binder button
   opens the same file there: ``index.md`` (from ``docs/site/``), ``tutorials/README.md``
   (the course map), ``tutorials/NN_name.ipynb`` (the executed copies from
   ``build/executed/``), ``docs/compatibility.md``, ``docs/widgets.png`` and ``api/*.md``
   (written by ``api_pages.py``);
2. runs Sphinx with ``docs/site/conf.py`` into ``build/site`` (incrementally: an unchanged
   page is not rebuilt).

    python docs/site/build.py            # build/site/index.html
    python docs/site/build.py --clean    # from scratch
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from sphinx.cmd.build import build_main

import api_pages          # beside this script

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TUTORIALS = ROOT / 'tutorials'
EXECUTED = ROOT / 'build' / 'executed'
SOURCE = ROOT / 'build' / 'site-src'
OUT = ROOT / 'build' / 'site'


def _files() -> list[tuple[Path, str]]:
    """Files of the repository shown on the site: (from, to inside build/site-src)."""
    notes = sorted((ROOT / 'docs').glob('*.md')) + sorted((ROOT / 'docs').glob('*.png'))
    return [(HERE / 'index.md', 'index.md'), (TUTORIALS / 'README.md', 'tutorials/README.md')] + \
        [(p, f'docs/{p.name}') for p in notes]


class SiteError(RuntimeError):
    """A missing input of the site, with the command that makes it."""


def _sync(src: Path, dest: Path) -> None:
    """Copy ``src`` to ``dest`` unless it is there already, byte for byte (keeps Sphinx incremental)."""
    if dest.exists() and dest.read_bytes() == src.read_bytes():
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dest)


def assemble() -> list[Path]:
    """Lay out ``build/site-src``; return the tutorial pages. Raises ``SiteError`` if a copy is missing."""
    tutorials = sorted(TUTORIALS.glob('[0-9][0-9]_*.ipynb'))
    missing = [t.name for t in tutorials if not (EXECUTED / t.name).exists()]
    if missing:
        raise SiteError(f'no executed copy of {", ".join(missing)} in {EXECUTED}: run '
                        '`python tutorials/executed_copies.py` (or `make site`, which runs it) first')
    wanted = set()
    for src, rel in _files() + [(EXECUTED / t.name, f'tutorials/{t.name}') for t in tutorials]:
        _sync(src, SOURCE / rel)
        wanted.add(SOURCE / rel)
    for old in [*(SOURCE / 'tutorials').glob('*.ipynb'), *(SOURCE / 'docs').glob('*')]:
        if old not in wanted:                    # a page that was renamed or removed
            old.unlink()
    api_pages.write(SOURCE / 'api')
    return [SOURCE / 'tutorials' / t.name for t in tutorials]


def build(clean: bool = False, quiet: bool = True) -> Path:
    """Assemble and run Sphinx; return ``build/site/index.html``. Raises ``SiteError`` if Sphinx fails."""
    if clean:
        shutil.rmtree(SOURCE, ignore_errors=True)
        shutil.rmtree(OUT, ignore_errors=True)
    assemble()
    args = ['-b', 'html', '-c', str(HERE), '-d', str(ROOT / 'build' / 'site-doctrees'), str(SOURCE), str(OUT)]
    if quiet:
        args.insert(0, '-q')
    code = build_main(args)
    if code != 0:
        raise SiteError(f'sphinx-build exited with {code} (its messages are above)')
    return OUT / 'index.html'


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--clean', action='store_true', help='remove build/site-src and build/site first')
    parser.add_argument('--verbose', action='store_true', help="show Sphinx's progress, not only its warnings")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    try:
        index = build(clean=args.clean, quiet=not args.verbose)
    except SiteError as err:
        print(f'site: {err}', file=sys.stderr)
        return 1
    print(f'site: {index.relative_to(ROOT)} ({time.perf_counter() - t0:.0f} s)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
