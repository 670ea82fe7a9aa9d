"""Write the optimised HLO of one training step per method, with a summary of its time loop.

    .venv/bin/python benchmarks/dump_step_hlo.py --row gru:1024:16:200 --methods pp_prop,bt:pp_prop --out DIR

For each method: ``DIR/<method>.hlo.txt`` (the whole compiled module) and, printed,
the instructions of the scan's loop body that launch work (fusions, dots, custom
calls, copies), which is what a device runs once per time step.
"""
from __future__ import annotations

import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import brainstate  # noqa: E402
import brainunit as u  # noqa: E402

import bench_lib  # noqa: E402
from profile_step import _computations  # noqa: E402

TRIVIAL = ('parameter', 'get-tuple-element', 'tuple', 'bitcast', 'constant')


def loop_body_ops(hlo_text):
    """``[(op kind, output shape, name)]`` of the work-launching instructions in the while bodies."""
    comps = _computations(hlo_text)
    out = []
    for body in sorted(set(re.findall(r'body=%([\w.\-]+)', hlo_text))):
        for line in comps.get(body, []):
            m = re.match(r'(?:ROOT )?%([\w.\-]+) = (\S+) ([\w\-]+)\(', line)
            if m and m.group(3) not in TRIVIAL:
                kind = m.group(3)
                if kind == 'fusion':
                    k = re.search(r'kind=(\w+)', line)
                    kind += ':' + (k.group(1) if k else '?')
                out.append((kind, m.group(2), m.group(1)))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--row', default='gru:1024:16:200')
    ap.add_argument('--methods', default='forward,pp_prop,bt:pp_prop,d_rtrl,bt:d_rtrl')
    ap.add_argument('--out', default=None, help='folder for the full HLO texts')
    args = ap.parse_args(argv)
    model, hidden, batch, T = args.row.split(':')
    hidden, batch, T = int(hidden), int(batch), int(T)
    with brainstate.environ.context(dt=1. * u.ms):
        xs, ys = bench_lib.make_data(model, 10, batch)
        for name in args.methods.split(','):
            package, method = ('bt', name[3:]) if name.startswith('bt:') else ('lab', name)
            net = bench_lib.build_model(model, hidden, package)
            step = bench_lib.make_step(net, method, batch, model, package)
            text = step.lower(xs, ys).compile().as_text()
            if args.out:
                os.makedirs(args.out, exist_ok=True)
                with open(os.path.join(args.out, name.replace(':', '_') + '.hlo.txt'), 'w') as f:
                    f.write(text)
            ops = loop_body_ops(text)
            print(f'\n## {name}: {len(ops)} work instructions per time step\n')
            for kind, shape, nm in ops:
                print(f'- {kind:22s} {shape:40s} {nm}')


if __name__ == '__main__':
    main()
