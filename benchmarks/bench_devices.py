"""Throughput of a training step against the number of devices the batch is split over (``devices=N``).

    .venv/bin/python benchmarks/bench_devices.py                      # CPU: 1, 2, 4 forced host devices
    .venv/bin/python benchmarks/bench_devices.py --devices 1,2,4,8 --rules d_rtrl --hidden 128 --batch 64
    .venv/bin/python benchmarks/bench_devices.py --platform gpu --devices 1,2,4,8    # a multi-GPU machine

The measurement runs in a fresh interpreter whose JAX sees ``max(--devices)`` devices (on
CPU: ``XLA_FLAGS=--xla_force_host_platform_device_count``, host devices that share the
machine's cores). There, one :class:`~braintrace_lab.lab.Trainer` per device count trains
the same rule on the same batches (evidence accumulation, the recurrent LIF network of the
default comparison); after two warm-up steps the trainers step in turn (so all see the same
machine load) and the median step time gives sequences per second. The per-device trace
memory is read from the trace arrays' shards.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time


def measure(rules, hidden: int, batch: int, devices: list, steps: int) -> list:
    """Rows ``{rule, devices, ms_per_step, seq_per_s, trace_bytes_per_device}`` (run inside the child)."""
    import warnings
    warnings.simplefilter('ignore')
    from braintrace_lab import lab
    from braintrace_lab.lab.devices import per_device_bytes
    from braintrace_lab.tasks import get_task
    task = get_task('evidence', n_cues=7, n_per_group=4, delay_steps=8)
    factory = lab.LiveSNNFactory(task.n_inputs, task.n_outputs, n_hidden=hidden)
    rows = []
    for rule, name, opts in lab.parse_algorithms(rules):      # rule texts such as es_d_rtrl:0.9
        trainers = {n: lab.Trainer(lab.make_learner(factory, name, **opts), task, batch_size=batch, devices=n,
                                   record_every=10 ** 9, check_liveness=False) for n in devices}
        for tr in trainers.values():
            tr.step()                                  # compiles the recorded step (step 0)
            tr.step()                                  # and the unrecorded one
        times = {n: [] for n in devices}
        for _ in range(steps):
            for n, tr in trainers.items():
                t0 = time.perf_counter()
                tr.step()
                times[n].append(time.perf_counter() - t0)
        for n, tr in trainers.items():
            ms = statistics.median(times[n]) * 1e3
            traces = tr.learner.eligibility_traces() if hasattr(tr.learner, 'eligibility_traces') else {}
            per_dev = per_device_bytes(traces) if traces else {}
            rows.append({'rule': rule, 'devices': n, 'ms_per_step': ms, 'seq_per_s': batch / ms * 1e3,
                         'trace_bytes_per_device': max(per_dev.values()) if per_dev else 0,
                         'T': int(tr.record.config['T'])})
    return rows


def table(rows: list, hidden: int, batch: int) -> str:
    base = {r['rule']: r['seq_per_s'] for r in rows if r['devices'] == 1}
    out = ['| rule | H | batch | T | devices | ms / step | sequences / s | vs 1 device | trace memory per device |',
           '|---|---:|---:|---:|---:|---:|---:|---:|---:|']
    for r in rows:
        speed = r['seq_per_s'] / base[r['rule']] if r['rule'] in base else float('nan')
        mem = f'{r["trace_bytes_per_device"] / 1024:.1f} KiB' if r['trace_bytes_per_device'] else '-'
        out.append(f'| {r["rule"]} | {hidden} | {batch} | {r["T"]} | {r["devices"]} | {r["ms_per_step"]:.2f} | '
                   f'{r["seq_per_s"]:.0f} | {speed:.2f}x | {mem} |')
    return '\n'.join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--devices', default='1,2,4', help='comma-separated device counts (default: 1,2,4)')
    p.add_argument('--rules', default='bptt,d_rtrl,es_d_rtrl', help='rules (default: bptt,d_rtrl,es_d_rtrl)')
    p.add_argument('--hidden', type=int, default=64)
    p.add_argument('--batch', type=int, default=64)
    p.add_argument('--steps', type=int, default=20, help='timed steps per device count')
    p.add_argument('--platform', default='cpu', help='cpu (forced host devices) or the accelerator JAX sees')
    p.add_argument('--json', default=None, help='save the rows here')
    p.add_argument('--child', action='store_true', help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    devices = [int(x) for x in a.devices.split(',')]
    rules = a.rules.split(',')
    if a.child:
        print('@@ROWS ' + json.dumps(measure(rules, a.hidden, a.batch, devices, a.steps)))
        return 0
    env = dict(os.environ)
    if a.platform == 'cpu':
        env.update(JAX_PLATFORMS='cpu', XLA_FLAGS=f'--xla_force_host_platform_device_count={max(devices)}')
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), '--child', *(argv or sys.argv[1:])],
                          env=env, capture_output=True, text=True)
    line = next((x for x in proc.stdout.splitlines() if x.startswith('@@ROWS ')), None)
    if proc.returncode or line is None:
        print(proc.stderr[-3000:], file=sys.stderr)
        return proc.returncode or 1
    rows = json.loads(line[len('@@ROWS '):])
    load = os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan')
    print(f'machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {load:.1f}; '
          f'platform {a.platform}; {a.steps} timed steps per device count, median')
    print(table(rows, a.hidden, a.batch))
    if a.json:
        with open(a.json, 'w') as f:
            json.dump({'rows': rows, 'hidden': a.hidden, 'batch': a.batch, 'platform': a.platform, 'load': load}, f,
                      indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
