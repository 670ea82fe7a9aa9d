"""The tutorials are tests: a deliberately broken engine must make one fail under nbval.

A copy of tutorial 01, cut after its first checked claim ("D-RTRL online gradient equals
the BPTT gradient: True"), runs under ``pytest --nbval-lax`` in a subprocess whose
``PYTHONPATH`` starts with ``break_engine/``: its ``sitecustomize`` scales every
gradient D-RTRL's trace engine returns by 1.5, in the pytest process and in the kernel
it starts. nbval must report that cell as failing, with the broken claim in its output;
the same copy with the engine intact must pass (so the failure comes from the engine).
"""
import os
import pathlib
import subprocess
import sys

import pytest

nbformat = pytest.importorskip('nbformat')
pytest.importorskip('nbval')

ROOT = pathlib.Path(__file__).resolve().parents[2]
TUTORIAL = ROOT / 'tutorials' / '01_online_learning.ipynb'
BREAKER = pathlib.Path(__file__).resolve().parent / 'break_engine'
CLAIM = 'D-RTRL online gradient equals the BPTT gradient:'

pytestmark = pytest.mark.slow


def _short_copy(dest: pathlib.Path) -> pathlib.Path:
    """Tutorial 01 up to (and including) the cell that checks D-RTRL against BPTT."""
    nb = nbformat.read(TUTORIAL, as_version=4)
    cut = next(i for i, c in enumerate(nb.cells) if c.cell_type == 'code' and CLAIM in c.source)
    cell = nb.cells[cut]
    assert '# NBVAL_CHECK_OUTPUT' in cell.source and cell.execution_count is not None, \
        'the D-RTRL claim in tutorial 01 must be a checked cell with a stored output'
    assert f'{CLAIM} True' in ''.join(o.get('text', '') for o in cell.outputs)
    nb.cells = nb.cells[:cut + 1]
    path = dest / 'short_tutorial.ipynb'
    nbformat.write(nb, path)
    return path


def _nbval(notebook: pathlib.Path, env_extra: dict, cwd: pathlib.Path):
    env = dict(os.environ, **env_extra)
    env.pop('PYTEST_ADDOPTS', None)
    cmd = [sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', '--nbval-lax',
           '--nbval-current-env', str(notebook)]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope='module')
def short_tutorial(tmp_path_factory):
    return _short_copy(tmp_path_factory.mktemp('tutorial'))


def test_a_broken_engine_fails_the_tutorial(short_tutorial, tmp_path):
    marker = tmp_path / 'patched.txt'
    path = os.pathsep.join([str(BREAKER)] + [p for p in [os.environ.get('PYTHONPATH')] if p])
    proc = _nbval(short_tutorial, {'PYTHONPATH': path, 'BRAINTRACE_LAB_BREAK_MARKER': str(marker)},
                  tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out[-4000:]
    assert '1 failed' in out, out[-4000:]
    # the failing cell is the D-RTRL claim: nbval shows its input and the diff True -> False
    assert 'Cell outputs differ' in out and f"print('{CLAIM}'" in out, out[-4000:]
    assert 'gradient: False' in out and 'gradient: True' in out, out[-4000:]
    # the kernel (a process of its own) ran the broken engine
    assert marker.exists() and 'ParamDimEngine.grads scaled by 1.5' in marker.read_text()


def test_the_same_copy_passes_with_the_engine_intact(short_tutorial, tmp_path):
    proc = _nbval(short_tutorial, {}, tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert 'failed' not in out, out[-4000:]
