"""Many devices through JAX's sharding: the same gradients and table as one device, 1/N of the traces each.

A JAX process's device count is fixed when JAX starts, so the multi-device runs happen in
fresh interpreters (``devices_worker.py``) with ``XLA_FLAGS=--xla_force_host_platform_device_count=4``;
the two-process run joins two interpreters through ``jax.distributed`` on 127.0.0.1 (CPU
collectives through gloo).
"""
import json
import os
import pathlib
import socket
import subprocess
import sys

import jax
import numpy as np
import pytest

from braintrace_lab import lab
from braintrace_lab.lab.devices import check_devices, device_plan, init_distributed

WORKER = pathlib.Path(__file__).with_name('devices_worker.py')
RTOL, ATOL = 1e-5, 1e-6                         # float32: the sums are reduced in another order


def _env(n_devices=None):
    env = dict(os.environ, JAX_PLATFORMS='cpu')
    env.pop('XLA_FLAGS', None)
    if n_devices:
        env['XLA_FLAGS'] = f'--xla_force_host_platform_device_count={n_devices}'
    return env


def _run_worker(tmp_path, args, n_devices=None, name='out.json'):
    out = tmp_path / name
    proc = subprocess.run([sys.executable, str(WORKER), *args, '--out', str(out)], env=_env(n_devices),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.fixture(scope='module')
def four_devices(tmp_path_factory):
    """One step and a 2-seed comparison on 1 device and on 4 forced host devices (one interpreter)."""
    return _run_worker(tmp_path_factory.mktemp('devices'), ['--devices', '1,4'], n_devices=4)


def _close_rows(a: dict, b: dict):
    assert a.keys() == b.keys()
    for rule in a:
        for key, value in a[rule].items():
            np.testing.assert_allclose(b[rule][key], value, rtol=RTOL, atol=ATOL, err_msg=f'{rule} {key}')


@pytest.mark.slow
def test_four_devices_give_the_one_device_gradients(four_devices):
    assert four_devices['device_count'] == 4
    one, four = four_devices['runs']['1']['step'], four_devices['runs']['4']['step']
    for rule in one:
        assert one[rule]['grad'].keys() == four[rule]['grad'].keys()
        for param, g in one[rule]['grad'].items():
            assert np.abs(g).max() > 0, f'{rule} {param}: a zero gradient proves nothing'
            np.testing.assert_allclose(four[rule]['grad'][param], g, rtol=RTOL, atol=ATOL, err_msg=f'{rule} {param}')


@pytest.mark.slow
def test_each_device_holds_a_quarter_of_the_traces(four_devices):
    for rule, run in four_devices['runs']['4']['step'].items():
        assert run['traces'], rule
        for trace in run['traces']:
            assert trace['spec'] == "P('batch',)", (rule, trace)
            assert len(trace['shards']) == 4
            assert all(s == [trace['shape'][0] // 4] + trace['shape'][1:] for s in trace['shards']), (rule, trace)
        total = sum(t['nbytes'] for t in run['traces'])
        assert run['trace_bytes_per_device'] == [total // 4] * 4
        one = four_devices['runs']['1']['step'][rule]
        assert one['trace_bytes_per_device'] == [total]            # one device: all of it, in one piece
        assert all(t['spec'] == 'None' and len(t['shards']) == 1 for t in one['traces'])


@pytest.mark.slow
def test_four_devices_give_the_one_device_comparison(four_devices):
    one, four = four_devices['runs']['1']['compare'], four_devices['runs']['4']['compare']
    _close_rows(one['rows'], four['rows'])
    _close_rows(one['intervals'], four['intervals'])
    assert one['rows']['d_rtrl']['cosine_to_bptt'] < 0.9999       # a recurrent net: rows that can differ do


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_processes_give_the_one_process_result(four_devices, tmp_path):
    """Two interpreters, one CPU device each, one mesh through jax.distributed (gloo collectives)."""
    out = tmp_path / 'two.json'
    coordinator = f'127.0.0.1:{_free_port()}'
    procs = [subprocess.Popen([sys.executable, str(WORKER), '--devices', '2', '--coordinator', coordinator,
                               '--num-processes', '2', '--process-id', str(i), '--out', str(out)],
                              env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    try:
        errs = [p.communicate(timeout=600)[1] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert [p.returncode for p in procs] == [0, 0], '\n'.join(e[-2000:] for e in errs)
    two = json.loads(out.read_text())
    assert (two['process_count'], two['device_count']) == (2, 2)
    one = four_devices['runs']['1']
    for rule, run in two['runs']['2']['step'].items():
        for param, g in one['step'][rule]['grad'].items():
            np.testing.assert_allclose(run['grad'][param], g, rtol=RTOL, atol=ATOL, err_msg=f'{rule} {param}')
        assert all(len(t['shards']) == 1 and t['shards'][0][0] * 2 == t['shape'][0] for t in run['traces'])
    _close_rows(one['compare']['rows'], two['runs']['2']['compare']['rows'])


# ------------------------------------------------------------------ bad input (this process: one device)
def test_bad_device_counts_name_the_fix():
    with pytest.raises(ValueError, match='at least 1.*devices=1'):
        check_devices(0, 8)
    n = jax.device_count()
    with pytest.raises(ValueError, match=f'only {n} .*devices={n} or fewer.*xla_force_host_platform_device_count'):
        check_devices(n + 1, 8)
    with pytest.raises(TypeError, match='number of devices'):
        check_devices(2.0, 8)
    assert check_devices(None, 7) is None and check_devices('all', 8 * n) == n
    assert device_plan(None, 7).put_batch((1, 2, None)) == (1, 2, None)     # the default changes nothing


def test_batch_not_divisible_names_a_multiple(monkeypatch):
    monkeypatch.setattr(jax, 'device_count', lambda: 4)
    with pytest.raises(ValueError, match='batch size 30 is not divisible by 4 devices.*batch_size=32'):
        check_devices(4, 30)
    assert check_devices(4, 32) == 4


def test_compare_and_train_refuse_bad_devices_before_training(make_rnn, dms):
    with pytest.raises(ValueError, match='at least 1'):
        lab.compare_algorithms(make_rnn, dms, ('bptt',), n_steps=2, devices=0, progress=False)
    with pytest.raises(ValueError, match='or fewer'):
        lab.train(lab.make_learner(make_rnn, 'd_rtrl'), dms, n_steps=2, devices=jax.device_count() + 1,
                  progress=False)


def test_multi_process_options_are_checked(monkeypatch):
    for key in ('COORDINATOR', 'NUM_PROCESSES', 'PROCESS_ID'):
        monkeypatch.delenv('BRAINTRACE_LAB_' + key, raising=False)
    assert init_distributed() is False                               # nothing asked: a single process
    with pytest.raises(ValueError, match='all three'):
        init_distributed('127.0.0.1:1234')
    with pytest.raises(ValueError, match='host:port'):
        init_distributed('127.0.0.1', 2, 0)
    with pytest.raises(ValueError, match=r'process_id 2 must be in 0\.\.1'):
        init_distributed('127.0.0.1:1234', 2, 2)
    monkeypatch.setenv('BRAINTRACE_LAB_COORDINATOR', '127.0.0.1:1234')
    with pytest.raises(ValueError, match='all three'):
        init_distributed()
