"""Render the tables and target checks of one or more ``run.py --json`` files as one report.

    .venv/bin/python benchmarks/report.py benchmarks/results/gpu_part1.json benchmarks/results/gpu_part2.json

Rows keep the order of the files; a row measured in several files keeps its last
measurement.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from run import SNN, environment_lines, target_checks, tables  # noqa: E402


def load(paths):
    records, order = {}, []
    for path in paths:
        with open(path) as f:
            for rec in json.load(f)['rows']:
                row = tuple(rec['row'])
                if row not in records:
                    order.append(row)
                records[row] = (row, rec['results'], rec['info'])
    return [records[r] for r in order]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('files', nargs='+')
    args = ap.parse_args(argv)
    records = load(args.files)
    methods = []
    for _, res, _ in records:
        methods += [m for m in res if m not in methods and m not in SNN]
    methods += [m for m in SNN if any(m in res for _, res, _ in records)]
    print(tables(records, methods))
    print('\nTargets\n')
    print(target_checks(records))
    print()
    print(environment_lines(records))


if __name__ == '__main__':
    main()
