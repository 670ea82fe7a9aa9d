"""Count the code cells and braintrace calls of braintrace's documentation notebooks that run
through ``import braintrace_lab as braintrace``.

Reads the notebooks from a local git checkout (nothing is downloaded). Each notebook runs in
its own process, cell after cell in one namespace (IPython magics and shell lines dropped),
once against the installed braintrace and once with ``braintrace`` / ``braintrace.nn`` in
``sys.modules`` replaced by ``braintrace_lab`` / ``braintrace_lab.nn``. A call is a call
expression on a name bound to braintrace (``braintrace.compile(...)``, ``bt.nn.Linear(...)``).
Reports the cells (and their calls) that run against braintrace and how many of those run
through the switch.

    python scripts/count_braintrace_doc_cells.py --repo /path/to/braintrace.git --rev v0.2.6
"""
from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys

RUNNER = r'''
import ast, json, signal, sys, traceback
cells, switch, limit = json.loads(sys.stdin.read()), {switch}, {limit}
if switch:
    import braintrace_lab, braintrace_lab.nn
    sys.modules['braintrace'] = braintrace_lab
    sys.modules['braintrace.nn'] = braintrace_lab.nn
import matplotlib
matplotlib.use('Agg')

def alarm(*_):
    raise TimeoutError('cell time limit')
signal.signal(signal.SIGALRM, alarm)
space = {{'__name__': '__main__'}}
for i, code in enumerate(cells):
    signal.alarm(limit)
    try:
        exec(compile(code, f'cell{{i}}', 'exec'), space)
        ok, why = True, ''
    except BaseException as err:
        ok, why = False, f'{{type(err).__name__}}: {{str(err)[:200]}}'
    signal.alarm(0)
    print(json.dumps([i, ok, why]), flush=True)
'''


def git(repo, *args):
    return subprocess.run(['git', '--git-dir', repo, *args], check=True, capture_output=True, text=True).stdout


def code_cells(notebook):
    cells = []
    for cell in json.loads(notebook)['cells']:
        if cell['cell_type'] != 'code':
            continue
        text = ''.join(cell['source'])
        lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith(('%', '!'))]
        if any(ln.strip() for ln in lines):
            cells.append('\n'.join(lines))
    return cells


def braintrace_calls(code, aliases):
    """Calls on a name bound to braintrace; ``aliases`` grows with ``import braintrace as bt``."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return 0
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split('.')[0] == 'braintrace':
                    aliases.add(a.asname or 'braintrace')
    count = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            while isinstance(f, ast.Attribute):
                f = f.value
            if isinstance(f, ast.Name) and f.id in aliases and f is not node.func:
                count += 1
    return count


def run(cells, switch, python, limit, timeout):
    script = RUNNER.format(switch=switch, limit=int(limit))
    try:
        out = subprocess.run([python, '-c', script], input=json.dumps(cells), capture_output=True, text=True,
                             timeout=timeout).stdout
    except subprocess.TimeoutExpired as err:
        out = err.stdout.decode() if isinstance(err.stdout, bytes) else (err.stdout or '')
    status = {}
    for line in out.splitlines():
        if line.startswith('['):
            i, ok, why = json.loads(line)
            status[i] = (ok, why)
    return status


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--repo', required=True, help="braintrace's git directory (a local clone or mirror)")
    ap.add_argument('--rev', default='HEAD')
    ap.add_argument('--python', default=sys.executable)
    ap.add_argument('--cell-limit', type=float, default=120.0, help='seconds per cell')
    ap.add_argument('--timeout', type=float, default=900.0, help='seconds per notebook run')
    ap.add_argument('--only', nargs='*', default=None, help='notebook paths to run (default: all)')
    args = ap.parse_args(argv)
    paths = [p for p in git(args.repo, 'ls-tree', '-r', '--name-only', args.rev).split() if p.endswith('.ipynb')]
    if args.only:
        paths = [p for p in paths if p in args.only]
    totals = dict(cells=0, calls=0, cells_ok=0, calls_ok=0)
    for path in paths:
        cells = code_cells(git(args.repo, 'show', f'{args.rev}:{path}'))
        aliases = set()
        calls = [braintrace_calls(c, aliases) for c in cells]
        real = run(cells, False, args.python, args.cell_limit, args.timeout)
        ours = run(cells, True, args.python, args.cell_limit, args.timeout)
        good = [i for i, (ok, _) in real.items() if ok]
        through = [i for i in good if ours.get(i, (False, ''))[0]]
        row = dict(cells=len(good), calls=sum(calls[i] for i in good), cells_ok=len(through),
                   calls_ok=sum(calls[i] for i in through))
        for k in totals:
            totals[k] += row[k]
        print(f"{path}: cells {row['cells_ok']}/{row['cells']}, calls {row['calls_ok']}/{row['calls']}", flush=True)
        for i in good:
            if i not in through:
                print(f'    cell {i}: {ours.get(i, (False, "not reached"))[1]}', flush=True)
    print(f"through the import switch: {totals['cells_ok']}/{totals['cells']} cells, "
          f"{totals['calls_ok']}/{totals['calls']} braintrace calls (of those that run against braintrace)")
    return 0


if __name__ == '__main__':
    sys.exit(main())
