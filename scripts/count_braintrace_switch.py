"""Count how many of braintrace's own public-API tests pass through ``import braintrace_lab as braintrace``.

Reads braintrace's test files from a local git checkout (nothing is downloaded), keeps the
files that reach braintrace only through its public names (``import braintrace``,
``braintrace.nn``: no ``braintrace._private`` module), and runs them twice in a scratch
folder with braintrace's own root ``conftest.py``: once against the installed braintrace
and once with ``braintrace`` / ``braintrace.nn`` in ``sys.modules`` replaced by
``braintrace_lab`` / ``braintrace_lab.nn``. Reports, per file and in total, the tests that
pass against braintrace and how many of those also pass through the switch.

    python scripts/count_braintrace_switch.py --repo /path/to/braintrace.git --rev v0.2.6
"""
from __future__ import annotations

import argparse
import pathlib
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

PRIVATE = re.compile(r'(from|import)\s+braintrace\.(\w+\.)*_\w+|braintrace\._\w+')
SWITCH = '''
import sys
import braintrace_lab
import braintrace_lab.nn
sys.modules['braintrace'] = braintrace_lab
sys.modules['braintrace.nn'] = braintrace_lab.nn
'''


def git(repo, *args):
    return subprocess.run(['git', '--git-dir', str(repo), *args], check=True, capture_output=True,
                          text=True).stdout


def public_test_files(repo, rev):
    """``{path: source}`` of the test files that use braintrace's public names only."""
    names = [p for p in git(repo, 'ls-tree', '-r', '--name-only', rev).split() if p.endswith('_test.py')]
    found = {}
    for path in names:
        source = git(repo, 'show', f'{rev}:{path}')
        if 'braintrace' in source and not PRIVATE.search(source):
            found[path] = source
    return found


def run(folder, files, switch, python, timeout):
    """Run the files under pytest in ``folder``; ``{test id: passed}``."""
    conftest = (folder / 'conftest.py')
    base = conftest.read_text() if conftest.exists() else ''
    conftest.write_text((SWITCH if switch else '') + base)
    report = folder / ('switch.xml' if switch else 'real.xml')
    cmd = [python, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', '-p', 'no:nbval', '--import-mode=importlib',
           '--continue-on-collection-errors',
           '-o', 'addopts=', '--junitxml', str(report), *files]
    try:
        subprocess.run(cmd, cwd=folder, capture_output=True, text=True, timeout=timeout)
    finally:
        conftest.write_text(base)
    results = {}
    if report.exists():
        for case in ET.parse(report).getroot().iter('testcase'):
            key = f"{case.get('classname')}::{case.get('name')}"
            results[key] = not any(child.tag in ('failure', 'error', 'skipped') for child in case)
    return results


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--repo', required=True, help="braintrace's git directory (a local clone or mirror)")
    ap.add_argument('--rev', default='HEAD')
    ap.add_argument('--python', default=sys.executable)
    ap.add_argument('--timeout', type=float, default=1800.0, help='seconds per pytest run')
    args = ap.parse_args(argv)
    repo = pathlib.Path(args.repo)
    files = public_test_files(repo, args.rev)
    with tempfile.TemporaryDirectory() as tmp:
        folder = pathlib.Path(tmp)
        try:
            (folder / 'conftest.py').write_text(git(repo, 'show', f'{args.rev}:conftest.py'))
        except subprocess.CalledProcessError:
            pass
        for path, source in files.items():      # under 'upstream/': pytest's module names must not be 'braintrace.*'
            target = folder / 'upstream' / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(source)
        paths = [f'upstream/{p}' for p in sorted(files)]
        real = run(folder, paths, False, args.python, args.timeout)
        ours = run(folder, paths, True, args.python, args.timeout)
    passing = [k for k, ok in real.items() if ok]
    through = [k for k in passing if ours.get(k)]
    print(f'braintrace {args.rev}: {len(files)} public-API test files, {len(real)} tests, '
          f'{len(passing)} pass against the installed braintrace')
    for path in sorted(files):
        stem = 'upstream.' + path[:-3].replace('/', '.')
        mine = [k for k in passing if k == stem or k.startswith(stem + '.') or k.startswith(stem + '::')]
        print(f'  {path}: {sum(1 for k in mine if ours.get(k))}/{len(mine)}')
    print(f'through the import switch: {len(through)}/{len(passing)}')
    extra = [k for k, ok in ours.items() if ok and k not in real]
    if extra:
        print(f'(and {len(extra)} that braintrace itself did not run)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
