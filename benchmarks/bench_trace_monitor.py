"""Overhead of the TraceMonitor widget on a training loop (target: < 10 % at default settings).

One :class:`braintrace_lab.lab.Trainer` per configuration is compiled and warmed up, then
timed in ``--pairs`` alternating blocks of ``--steps`` training steps without and with the
same ``TraceMonitor`` attached (alternation cancels slow drifts of a shared machine). The
monitor's messages go through ipywidgets' real serialisation into a stand-in comm that
JSON-encodes the message and copies its binary buffers (what the kernel does before
writing to the socket), so the Python-side cost is measured in full; the browser side
runs elsewhere and costs the training loop nothing.

    overhead    = median over pairs of (t_with - t_without) / t_without      (wall clock, A/B)
    A/A noise   = median |t2 - t1| / t1 of two blocks without a monitor     (the noise floor)
    monitor cpu = time spent inside the monitor's callbacks / t_with           (measured in-process)

``monitor cpu`` is immune to other processes and is what the < 10 % target is checked
on; the wall-clock A/B includes everything but is only meaningful when it exceeds the
A/A noise (on a loaded 2-core machine that noise is 5-15 %). Run:
``.venv/bin/python benchmarks/bench_trace_monitor.py [--steps 40] [--pairs 8] [--json out.json]``
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
import warnings


def _fake_kernel_comm(widget):
    """Make ``widget.comm.send`` serialise like a kernel would (JSON + buffer copies)."""
    stats = {'messages': 0, 'bytes': 0}

    def send(data=None, metadata=None, buffers=None, **kwargs):
        payload = json.dumps(data, default=str).encode()
        copied = [bytes(b) for b in (buffers or [])]
        stats['messages'] += 1
        stats['bytes'] += len(payload) + sum(len(b) for b in copied)

    widget.comm.send = send
    return stats


def _timed_run(trainer, steps):
    t0 = time.perf_counter()
    trainer.run(steps, progress=False)
    return time.perf_counter() - t0


def bench_config(name, fixture, task_name, n_hidden, algorithm, batch_size, steps, pairs, monitor_kwargs):
    from braintrace_lab import lab
    from braintrace_lab.tasks import get_task
    from braintrace_lab.widgets import TraceMonitor
    task = get_task(task_name)
    extra = {'scale': 3.0} if fixture in ('lif', 'alif') else {}
    make = lab.fixture_model(fixture, task, n_hidden=n_hidden, **extra)
    opts = {'decay_or_rank': 0.9} if algorithm == 'pp_prop' else {}
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        trainer = lab.Trainer(lab.make_learner(make, algorithm, **opts), task, batch_size=batch_size,
                              record_every=1)
        trainer.run(5, progress=False)                    # compile and warm up
        mon = TraceMonitor(**monitor_kwargs)
        stats = _fake_kernel_comm(mon)
        base, with_mon, ratios, control = [], [], [], []
        for _ in range(pairs):
            t0 = _timed_run(trainer, steps)
            trainer.add_callback(mon)
            t1 = _timed_run(trainer, steps)
            trainer.remove_callback(mon)
            base.append(t0)
            with_mon.append(t1)
            ratios.append((t1 - t0) / t0)
            c0, c1 = _timed_run(trainer, steps), _timed_run(trainer, steps)     # A/A: the noise floor
            control.append((c1 - c0) / c0)
    t0, t1 = sum(base), sum(with_mon)
    return {'config': name, 'fixture': fixture, 'task': task_name, 'hidden': n_hidden, 'algorithm': algorithm,
            'batch': batch_size, 'steps': steps * pairs, 'monitor': monitor_kwargs,
            'ms_per_step': 1e3 * statistics.median(base) / steps,
            'ms_per_step_with_monitor': 1e3 * statistics.median(with_mon) / steps,
            'overhead': statistics.median(ratios), 'monitor_share': mon.time_spent / t1,
            'control': statistics.median(control), 'control_abs': statistics.median([abs(c) for c in control]),
            'updates': mon.n_updates, 'bytes_sent': stats['bytes'],
            'trace_memory': trainer.record.total_trace_memory}


CONFIGS = [
    # name, fixture, task, hidden, algorithm, batch
    ('lif-16 d_rtrl', 'lif', 'spike_patterns', 16, 'd_rtrl', 16),
    ('lif-64 d_rtrl', 'lif', 'spike_patterns', 64, 'd_rtrl', 16),
    ('rnn-64 pp_prop', 'rnn', 'dms', 64, 'pp_prop', 16),
]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--steps', type=int, default=40, help='training steps per timed block')
    ap.add_argument('--pairs', type=int, default=8, help='alternating (without, with) block pairs')
    ap.add_argument('--json', default=None, help='also write the results here')
    args = ap.parse_args(argv)
    settings = [('default (min_interval=0.1 s)', {}),
                ('every row (min_interval=0)', {'min_interval': 0.0})]
    rows = []
    for name, *cfg in CONFIGS:
        for label, kw in settings:
            r = bench_config(name, *cfg, steps=args.steps, pairs=args.pairs, monitor_kwargs=kw)
            r['setting'] = label
            rows.append(r)
            print(f'{name:16s} {label:28s} {r["ms_per_step"]:7.3f} ms/step -> {r["ms_per_step_with_monitor"]:7.3f}'
                  f' ms/step  wall {100 * r["overhead"]:+6.1f} % (A/A noise {100 * r["control_abs"]:4.1f} %)'
                  f'  monitor cpu {100 * r["monitor_share"]:5.1f} %'
                  f' ({r["updates"]} updates, {r["bytes_sent"] / 1024:.0f} KiB sent)', flush=True)
    default = [r for r in rows if r['setting'].startswith('default')]
    worst = max(r['overhead'] for r in default)
    worst_cpu = max(r['monitor_share'] for r in default)
    print(f'worst at default settings: wall-clock overhead {100 * worst:.1f} %, monitor cpu {100 * worst_cpu:.1f} % '
          f'(target < 10 %)')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'python': sys.version.split()[0], 'machine': platform.platform(), 'rows': rows}, f, indent=1)
    return 0 if worst_cpu < 0.10 else 1


if __name__ == '__main__':
    sys.exit(main())
