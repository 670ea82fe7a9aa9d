"""Benchmark the online rules of braintrace_lab against BPTT and the braintrace package.

    .venv/bin/python benchmarks/run.py --quick          # < 1 min: one small GRU row
    .venv/bin/python benchmarks/run.py                  # the CPU grid recorded in BENCHMARKS.md
    .venv/bin/python benchmarks/run.py --grid gpu       # a larger grid for an accelerator
    .venv/bin/python benchmarks/run.py --rows gru:256:16:200 --methods forward,pp_prop,bt:pp_prop

Every row (model, hidden, batch, T) runs in a fresh subprocess (clean RSS and
compile caches) under a time limit; inside it the methods are compiled, then
timed interleaved so that all see the same machine load (``bench_lib.run_row``).
``--isolate method`` gives every method its own process instead (clean peak RSS
per method, and clean peak device memory on an accelerator). jax picks the
device; the device, versions, engine fingerprint and load are printed with the
tables. ``--json FILE`` saves the raw results.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TAG = '@@BENCH '
ALL = ['forward', 'bptt', 'd_rtrl', 'pp_prop', 'bt:d_rtrl', 'bt:pp_prop']
SNN = ('eprop', 'ottt', 'otpe', 'ostlrecurrent')   # braintrace_lab SNN rules, tried on lif rows
FULL_TRACE = ('d_rtrl', 'd_rtrl_bf16', 'eprop', 'ostlrecurrent')  # rules that keep a trace per weight and sample

# rows: (model, hidden, batch, T)
GRIDS = {
    'quick': [('gru', 64, 16, 100)],
    'cpu': (
        [('gru', 256, 16, 200)]                                                   # the figures
        + [(m, h, 16, 100) for m in ('rnn', 'gru', 'lif') for h in (64, 256, 1024)]
        + [(m, h, 128, 100) for m in ('rnn', 'gru', 'lif') for h in (64, 256)]
        + [(m, 64, 16, t) for m in ('gru', 'lif') for t in (1000, 10000)]        # T sweep (with T=100 above)
        + [('gru', 256, 16, 1000)]
    ),
    'gpu': (
        [('gru', 256, 16, 200)]
        + [(m, h, b, 100) for m in ('rnn', 'gru', 'lif') for h in (64, 256, 1024) for b in (16, 128)]
        + [(m, h, 16, t) for m in ('gru', 'lif') for h in (64, 256) for t in (1000, 10000)]
    ),
}

# Full-trace rules keep B x |theta| trace entries and update them every time step;
# rows whose B*|theta|*T is far beyond the time limit are skipped (about 7 ns per
# entry-update on the 2-core CPU of BENCHMARKS.md).
MAX_TRACE_WORK = {'cpu': 1.2e10, 'gpu': 1e12}


def n_params(model, hidden, n_in=32, n_out=10):
    cell = (n_in + hidden) * hidden + hidden
    return (3 if model == 'gru' else 1) * cell + hidden * n_out


def skip_reason(row, method, device_kind):
    model, hidden, batch, T = row
    if method.endswith('@same_weights') and model != 'gru':
        return 'skipped: every weight is trained by both packages'
    if method.split(':')[-1].split('@')[0] in FULL_TRACE:
        work = batch * n_params(model, hidden) * T
        if work > MAX_TRACE_WORK[device_kind]:
            return f'skipped: B*|theta|*T = {work:.1e} trace updates per step'
    return None


# ---------------------------------------------------------------- engine snapshot
SNAPSHOT = None   # a frozen copy of braintrace_lab that every worker of this run imports


def snapshot_engine():
    """Copy braintrace_lab aside so that a long run measures one engine even while it is edited."""
    global SNAPSHOT
    SNAPSHOT = tempfile.mkdtemp(prefix='bench_engine_')
    shutil.copytree(os.path.join(HERE, os.pardir, 'braintrace_lab'), os.path.join(SNAPSHOT, 'braintrace_lab'),
                    ignore=shutil.ignore_patterns('__pycache__'))
    return SNAPSHOT


# ---------------------------------------------------------------- worker (in the subprocess)
def worker(row, methods, quick, flops=False):
    sys.path.insert(0, HERE)
    import bench_lib

    def emit(name, res):
        print(TAG + json.dumps({'method': name, **res}), flush=True)

    print(TAG + json.dumps({'env': bench_lib.environment()}), flush=True)
    kw = dict(min_calls=5, min_time=0.3, max_calls=10) if quick else dict(min_calls=5, min_time=2.0)
    model, hidden, batch, T = row
    have = bench_lib.available_methods(model)
    methods = [m for m in methods if m in have or m not in SNN]   # SNN rules the engine lacks: dropped
    bench_lib.run_row(dict(model=model, hidden=hidden, batch=batch, T=T), methods, emit=emit, flops=flops, **kw)
    # after the timed calls, so that its buffers stay out of the methods' device peak
    print(TAG + json.dumps({'copy_gbs': bench_lib.copy_bandwidth_gbs()}), flush=True)


# ---------------------------------------------------------------- parent
def run_subprocess(row, methods, timeout, quick, flops=False):
    cmd = [sys.executable, os.path.abspath(__file__), '--worker', json.dumps(list(row)),
           '--methods', ','.join(methods)] + (['--quick'] if quick else []) + (['--flops'] if flops else [])
    env = dict(os.environ, XLA_PYTHON_CLIENT_PREALLOCATE='false', PYTHONWARNINGS='ignore')
    if SNAPSHOT:
        env['PYTHONPATH'] = os.pathsep.join([SNAPSHOT] + [p for p in [env.get('PYTHONPATH')] if p])
    results, info = {}, {}
    t0 = time.perf_counter()
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as p:
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            info['timeout'] = True
    for line in out.splitlines():
        if line.startswith(TAG):
            rec = json.loads(line[len(TAG):])
            if 'env' in rec:
                info['env'] = rec['env']
            elif 'copy_gbs' in rec:
                info.setdefault('env', {})['copy_gbs'] = rec['copy_gbs']
            else:
                results[rec.pop('method')] = rec
    for m in methods:
        res = results.get(m)
        if res is None and m in SNN and not info.get('timeout') and p.returncode == 0:
            results[m] = {'error': 'absent from the engine'}
        elif res is None:
            results[m] = {'error': 'timeout' if info.get('timeout') else f'crashed: {err.strip()[-300:]}'}
        elif res.get('partial'):
            results[m] = dict(res, error='timeout before timing')
    info['wall_s'] = time.perf_counter() - t0
    return results, info


def run_row(row, methods, timeout, quick, isolate, flops=False):
    if isolate == 'row':
        return run_subprocess(row, methods, timeout, quick, flops)
    results, info = {}, {}
    for m in methods:
        res, inf = run_subprocess(row, [m], timeout, quick, flops)
        results.update(res)
        info.setdefault('env', inf.get('env'))
        info['wall_s'] = info.get('wall_s', 0.0) + inf['wall_s']
    return results, info


# ---------------------------------------------------------------- report
def _fmt(v, nd=1):
    if v is None:
        return '-'
    return f'{v:.{nd}f}' if abs(v) < 1000 else f'{v:.0f}'


def _ms(res):
    return None if res is None or 'best_ms' not in res else res['best_ms']


def _ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def label(row):
    m, h, b, t = row
    return f'{m} H={h} B={b} T={t}'


def _cell(res, key, nd=1):
    if res is None:
        return '-'
    if key in res:
        return _fmt(res[key], nd)
    return res.get('error', '-').split(':')[0]


def _table(title, head, rows):
    out = ['', title, '', '| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    return out + ['| ' + ' | '.join(r) + ' |' for r in rows]


def tables(records, methods):
    """Markdown tables: best step time and ratios; compile time; memory."""
    lines = []
    rows = []
    for row, res, info in records:
        g = lambda m: _ms(res.get(m))
        rows.append([label(row)] + [_cell(res.get(m), 'best_ms') for m in methods] + [
            _fmt(_ratio(g('pp_prop'), g('forward')), 2), _fmt(_ratio(g('pp_prop'), g('bt:pp_prop')), 2),
            _fmt(_ratio(g('bt:d_rtrl'), g('d_rtrl')), 2), _fmt(_ratio(g('bptt'), g('forward')), 2),
            _fmt((info.get('env') or {}).get('loadavg', [None])[0], 1)])
    lines += _table('Best training-step time (ms, fastest of the interleaved calls) and ratios; '
                    'load = 1-min load average at the start of the row',
                    ['config'] + methods + ['pp/fwd', 'pp/bt:pp', 'bt:d/d', 'bptt/fwd', 'load'], rows)
    rows = [[label(row)] + [_cell(res.get(m), 'compile_s') for m in methods] for row, res, _ in records]
    lines += _table('Compile time (s): trace + lower + XLA compile of the whole training step',
                    ['config'] + methods, rows)
    rows = []
    for row, res, _ in records:
        cells = [label(row)]
        for m in methods:
            r = res.get(m) or {}
            if 'xla_temp_mb' not in r:
                cells.append(_cell(r, 'xla_temp_mb'))
                continue
            c = _fmt(r['xla_temp_mb'])
            if 'trace_mb' in r:
                c += f' [{r["trace_mb"]:.3g}]'
            c += f' ({_fmt(r.get("peak_rss_mb") or r.get("peak_device_mb"), 0)})'
            cells.append(c)
        rows.append(cells)
    lines += _table("Memory (MB): XLA scratch of one training step [engine trace size] (process peak "
                    "RSS, or device peak, during the timed calls)", ['config'] + methods, rows)
    if any('mflop_per_step' in r for _, res, _ in records for r in res.values()):
        rows = [[label(row)] + [_flop_cell(res, m) for m in methods] for row, res, _ in records]
        lines += _table("Arithmetic of one time step: MFLOP as XLA counts it in the step compiled for T = 1 "
                        "[ratio to forward's] (time ratio / arithmetic ratio > 1: each operation runs slower "
                        "than in the forward pass)", ['config'] + methods, rows)
    rows = [r for r in (floor_row(row, res, info) for row, res, info in records) if r]
    if rows:
        lines += _table('Memory floor of the full-trace rules: every time step reads and writes the whole '
                        'trace once, floor = T x 2 x trace bytes / measured copy bandwidth (read + write)',
                        ['config', 'copy GB/s', 'rule', 'trace MB', 'floor ms', 'measured ms', 'measured/floor'],
                        [c for r in rows for c in r])
    return '\n'.join(lines[1:])


def flop_ratio(res, method):
    """``method``'s arithmetic per step over the forward pass's, or None without the counts."""
    a, b = (res.get(method) or {}).get('mflop_per_step'), (res.get('forward') or {}).get('mflop_per_step')
    return _ratio(a, b)


def _flop_cell(res, method):
    r = res.get(method) or {}
    if 'mflop_per_step' not in r:
        return _cell(r, 'mflop_per_step')
    ratio = flop_ratio(res, method)
    return _fmt(r['mflop_per_step'], 2) + ('' if ratio is None else f' [{ratio:.2f}]')


FLOOR_RULES = ('d_rtrl', 'd_rtrl_bf16')


def floor_ms(row, res, info):
    """``T * 2 * trace bytes / copy bandwidth`` in ms, or None without the figures."""
    gbs = (info.get('env') or {}).get('copy_gbs')
    if not gbs or not res or 'trace_mb' not in res:
        return None
    return 1e3 * row[3] * 2 * res['trace_mb'] * 2 ** 20 / (gbs * 1e9)


def floor_row(row, res, info):
    cells = []
    for m in FLOOR_RULES:
        f = floor_ms(row, res.get(m), info)
        if f is None:
            continue
        r = res[m]
        cells.append([label(row), _fmt(info['env']['copy_gbs'], 0), m, _fmt(r['trace_mb'], 1), _fmt(f, 2),
                      _fmt(_ms(r), 2), _fmt(_ratio(_ms(r), f), 2)])
    return cells


def target_checks(records):
    """The issue's targets, row by row and over T sweeps."""
    out = []
    for row, res, info in records:
        g = lambda m: _ms(res.get(m))
        checks = []
        if g('pp_prop') and g('forward'):
            r = g('pp_prop') / g('forward')
            arith = flop_ratio(res, 'pp_prop')
            checks.append(f'pp_prop/forward {r:.2f} ({"ok" if r <= 2 else "MISS"}, <= 2'
                          + ('' if arith is None else f'; arithmetic {arith:.2f}x forward') + ')')
        for m in ('pp_prop', 'pp_prop@same_weights'):
            if g(m) and g('bt:pp_prop'):
                r = g(m) / g('bt:pp_prop')
                checks.append(f'{m}/braintrace {r:.2f} ({"ok" if r <= 1 else "MISS"}, <= 1)')
        on_accelerator = (info.get('env') or {}).get('backend', 'cpu') != 'cpu'
        for m in ('d_rtrl', 'd_rtrl@same_weights'):
            if g(m) and g('bt:d_rtrl'):
                r = g('bt:d_rtrl') / g(m)
                goal = 'D_RTRL speed-up over braintrace' + (' (same weights)' if '@' in m else '')
                verdict = 'no target off CPU' if on_accelerator else ('ok' if r >= 3 else 'MISS') + ', >= 3'
                checks.append(f'{goal} {r:.2f}x ({verdict})')
        for m in FLOOR_RULES:
            f = floor_ms(row, res.get(m), info)
            if f and g(m) and on_accelerator:
                r = g(m) / f
                checks.append(f'{m}/memory floor {r:.2f} ({"ok" if r <= 1.3 else "MISS"}, <= 1.3)')
        if checks:
            out.append(f'- {label(row)}: ' + '; '.join(checks))
    sweeps = {}
    for row, res, _ in records:
        sweeps.setdefault(row[:3], []).append((row[3], res))
    for key, items in sweeps.items():
        if len(items) < 2:
            continue
        items.sort(key=lambda x: x[0])
        (t0, r0), (t1, r1) = items[0], items[-1]
        parts = []
        for m in r0:
            a, b = r0[m].get('xla_temp_mb'), r1.get(m, {}).get('xla_temp_mb')
            c0, c1 = r0[m].get('compile_s'), r1.get(m, {}).get('compile_s')
            p0, p1 = r0[m].get('peak_rss_mb'), r1.get(m, {}).get('peak_rss_mb')
            if None not in (a, b, c0, c1):
                s = f'{m}: XLA scratch {a:.1f} -> {b:.1f} MB'
                if p0 and p1:
                    s += f', peak RSS {p0:.0f} -> {p1:.0f} MB ({100 * (p1 / p0 - 1):+.0f}%)'
                parts.append(s + f', compile {c0:.1f} -> {c1:.1f} s')
        out.append(f'- T sweep {key[0]} H={key[1]} B={key[2]}, T={t0} -> {t1}: ' + '; '.join(parts))
    return '\n'.join(out)


def environment_lines(records):
    envs = [info.get('env') for _, _, info in records if info.get('env')]
    if not envs:
        return ''
    e = envs[0]
    shas = sorted({x.get('engine_sha') for x in envs})
    lines = [f'device: {e["device"]}; cpus: {e["cpu_count"]}; python {e["python"]}; commit {e["commit"]}; '
             f'engine sources sha1 {", ".join(map(str, shas))}',
             'versions: ' + ', '.join(f'{k} {v}' for k, v in e['versions'].items())]
    if len(shas) > 1:
        lines.append('WARNING: braintrace_lab changed during the run; rows by engine: ' + '; '.join(
            f'{label(r)}: {i["env"].get("engine_sha")}' for r, _, i in records if i.get('env')))
    return '\n'.join(lines)


def parse_rows(spec):
    rows = []
    for item in spec.split(','):
        m, h, b, t = item.split(':')
        rows.append((m, int(h), int(b), int(t)))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--quick', action='store_true', help='one small row, a few calls (< 1 min on 2 CPU cores)')
    ap.add_argument('--grid', default=None, choices=sorted(GRIDS), help='row set (default: cpu, or quick)')
    ap.add_argument('--rows', default=None, help='explicit rows model:hidden:batch:T,... (overrides --grid)')
    ap.add_argument('--methods', default=','.join(ALL),
                    help='comma list of forward, bptt, d_rtrl, pp_prop, bt:d_rtrl, bt:pp_prop; '
                         'a suffix @batched runs a rule on a batched model instead of Vmap')
    ap.add_argument('--no-snn', dest='snn', action='store_false',
                    help="don't add braintrace_lab's SNN rules (eprop, ottt, otpe, ostlrecurrent) on lif rows")
    ap.add_argument('--isolate', default='row', choices=('row', 'method'),
                    help='one process per row (methods timed interleaved) or per method')
    ap.add_argument('--timeout', type=float, default=None, help='seconds per process (default 900; quick 120)')
    ap.add_argument('--json', default=None, help='write raw results here')
    ap.add_argument('--no-snapshot', dest='snapshot', action='store_false',
                    help='import braintrace_lab live instead of from a copy taken at the start')
    ap.add_argument('--flops', action='store_true',
                    help="also count each method's arithmetic per time step (XLA cost analysis of the step "
                         "compiled for T = 1; one more compile per method; on with --quick)")
    ap.add_argument('--worker', default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    methods = [m for m in args.methods.split(',') if m]
    if args.quick and args.methods == ','.join(ALL):
        methods.append('pp_prop@same_weights')     # the quick row is a GRU: also compare equal work
        methods.append('pp_prop@chunk20')          # and the chunked driver (etrace_grad(chunk=20))

    if args.worker:
        return worker(tuple(json.loads(args.worker)), methods, args.quick, args.flops)

    rows = parse_rows(args.rows) if args.rows else GRIDS[args.grid or ('quick' if args.quick else 'cpu')]
    timeout = args.timeout or (120 if args.quick else 900)
    device_kind = 'gpu' if args.grid == 'gpu' or _on_accelerator() else 'cpu'
    records = []
    t_all = time.perf_counter()
    if args.snapshot:
        snapshot_engine()
    try:
        _run_rows(rows, methods, timeout, args, device_kind, records, t_all)
    finally:
        if SNAPSHOT:
            shutil.rmtree(SNAPSHOT, ignore_errors=True)
    shown = [m for m in methods] + [m for m in SNN if any(m in res for _, res, _ in records)]
    print(tables(records, shown))
    print('\nTargets\n')
    print(target_checks(records))
    print()
    print(environment_lines(records))
    print(f'total wall time {time.perf_counter() - t_all:.0f} s', flush=True)
    if args.json:
        save_json(args.json, records)


def _on_accelerator():
    import jax
    return jax.default_backend() != 'cpu'


def save_json(path, records):
    with open(path, 'w') as f:
        json.dump({'argv': sys.argv[1:], 'rows': [dict(row=list(r), results=res, info=i)
                                                  for r, res, i in records]}, f, indent=1)


def _run_rows(rows, methods, timeout, args, device_kind, records, t_all):
    for row in rows:
        wanted = methods + (list(SNN) if row[0] == 'lif' and args.snn else [])
        run = [m for m in wanted if not skip_reason(row, m, device_kind)]
        results, info = run_row(row, run, timeout, args.quick, args.isolate, args.flops or args.quick)
        results.update({m: {'error': skip_reason(row, m, device_kind)} for m in wanted if m not in run})
        results = {m: r for m, r in results.items() if 'absent' not in r.get('error', '')}
        records.append((row, results, info))
        if args.json:    # after every row, so that a run cut short keeps what it measured
            save_json(args.json, records)
        done = ', '.join(f'{m} {_fmt(_ms(r))}' for m, r in results.items() if _ms(r) is not None)
        print(f'[{time.perf_counter() - t_all:6.0f}s] {label(row)}: {done}', file=sys.stderr, flush=True)


if __name__ == '__main__':
    sys.exit(main())
