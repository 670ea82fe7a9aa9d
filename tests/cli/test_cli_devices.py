"""``braintrace-lab compare --devices N``: the same table on 4 devices as on one; bad counts exit 2 naming the fix.

The runs happen in a fresh interpreter started with 4 forced CPU devices
(``XLA_FLAGS=--xla_force_host_platform_device_count=4``): JAX fixes its device count when it starts.
"""
import json
import os
import re
import subprocess
import sys

import pytest

RUNNER = r'''
import contextlib, io, json, sys
from braintrace_lab import cli
cases = json.loads(sys.argv[1])
out = {}
for name, argv in cases.items():
    so, se = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(so), contextlib.redirect_stderr(se):
        try:
            code = cli.main(argv)
        except SystemExit as err:          # argparse's own refusals
            code = err.code
    out[name] = {'code': code, 'stdout': so.getvalue(), 'stderr': se.getvalue()}
print(json.dumps(out))
'''
TINY = ['compare', '--task', 'evidence', '--hidden', '8', '--algorithms', 'bptt,d_rtrl', '--epochs', '3',
        '--batch-size', '8', '--eval-size', '16', '--record-every', '1', '--no-progress']
TIMING = ('ms/step', 'peak mem')        # wall-clock and per-device memory: the only columns that may differ


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('devices')
    cases = {
        'one': TINY + ['--seeds', '3', '--devices', '1', '--out', str(tmp / 'one.html')],
        'four': TINY + ['--seeds', '3', '--devices', '4', '--out', str(tmp / 'four.html')],
        'zero': TINY + ['--devices', '0'],
        'too_many': TINY + ['--devices', '8'],
        'indivisible': TINY + ['--devices', '4', '--batch-size', '30'],
        'no_seeds': TINY + ['--seeds', '0', '--devices', '4'],
        'half_launch': TINY + ['--coordinator', '127.0.0.1:1234'],
    }
    env = dict(os.environ, JAX_PLATFORMS='cpu', XLA_FLAGS='--xla_force_host_platform_device_count=4')
    proc = subprocess.run([sys.executable, '-c', RUNNER, json.dumps(cases)], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _without_timing(stdout: str) -> list:
    """The printed table and notes with the timing columns blanked."""
    lines = stdout.splitlines()
    header = re.split(r'\s{2,}', lines[0].strip())
    drop = [i for i, name in enumerate(header) if name in TIMING]
    assert len(drop) == len(TIMING), header
    out = []
    for line in lines:
        cells = ['---'] if set(line.strip()) == {'-'} else re.split(r'\s{2,}', line.strip())   # widths may differ
        if len(cells) == len(header):
            cells = [c for i, c in enumerate(cells) if i not in drop]
        out.append(cells)
    return out


@pytest.mark.slow
def test_four_devices_print_the_one_device_table(runs):
    one, four = runs['one'], runs['four']
    assert one['code'] == 0 and four['code'] == 0, four['stderr'][-2000:]
    assert 'over 4 devices' in four['stderr'] and 'over' not in one['stderr'].split('\n')[0]
    assert '±' in four['stdout'] and 'over 3 seeds' in four['stdout']
    assert _without_timing(four['stdout']) == _without_timing(one['stdout'])


@pytest.mark.slow
@pytest.mark.parametrize('case, message', [
    ('zero', 'argument --devices: expected a positive number of devices, e.g. --devices 4 (1: one device), got 0'),
    ('too_many', '--devices asks for 8 devices but only 4 cpu device(s) are present; pass --devices 4 or fewer'),
    ('indivisible', 'the batch size 30 is not divisible by 4 devices; pass a multiple of 4, e.g. --batch-size 32'),
    ('no_seeds', 'argument --seeds: expected a positive number of seeds per rule, e.g. --seeds 3, got 0'),
    ('half_launch', 'a multi-process run needs all three of coordinator'),
])
def test_bad_device_arguments_exit_2_with_one_line_naming_the_fix(runs, case, message):
    run = runs[case]
    assert run['code'] == 2 and run['stdout'] == ''
    last = run['stderr'].strip().splitlines()[-1]
    assert last.startswith('braintrace-lab compare: error: ') and message in last, last
    assert 'Traceback' not in run['stderr']
