"""What the course site is built from: executed copies of the tutorials (saved by the nbval run) and API pages.

The nbval plugin in ``tutorials/conftest.py`` is exercised on a small notebook in a copy of
the ``tutorials/`` layout under a temporary folder, so the real ``build/executed/`` is never
touched: its copy must hold what Jupyter (nbclient) shows for the same notebook, a display
updated by a later cell in its final state, no value after a trailing ``;``, merged
streams and cleared outputs. A failing notebook loses its copy; a changed cell makes the
copy stale.
"""
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
_SPEC = importlib.util.spec_from_file_location('api_pages', ROOT / 'docs' / 'site' / 'api_pages.py')
api_pages = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(api_pages)

CELLS = [
    "print('a')\nprint('b')",
    "from IPython.display import display, update_display, clear_output\n"
    "display({'text/plain': 'first'}, raw=True, display_id='view');",
    "update_display({'text/plain': 'final'}, raw=True, display_id='view')",
    "1 + 1;",
    "2 + 3",
    "print('gone')\nclear_output()\nprint('kept')",
    "import threading, time\n"
    "t = threading.Thread(target=lambda: (time.sleep(0.2), print('late')))\nt.start()",
    "t.join(); time.sleep(0.2)",
]


def _layout(tmp: Path, cells) -> Path:
    """``tmp/tutorials`` with the plugin, the copies module and ``01_tiny.ipynb``; returns the notebook."""
    folder = tmp / 'tutorials'
    folder.mkdir()
    for name in ('conftest.py', 'executed_copies.py'):
        shutil.copy(ROOT / 'tutorials' / name, folder / name)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata['kernelspec'] = {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'}
    path = folder / '01_tiny.ipynb'
    nbformat.write(nb, path)
    return path


def _nbval(tmp: Path, notebook: Path):
    cmd = [sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', '--nbval-lax', '--nbval-current-env',
           str(notebook)]
    return subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=300)


def _shown(cell) -> list:
    """What a reader sees of a cell's outputs: stream text, or the data of a display."""
    return [(o['output_type'], o.get('text') or o.get('data')) for o in cell.outputs]


@pytest.mark.slow
def test_nbval_run_saves_the_notebook_jupyter_would_show(tmp_path):
    notebook = _layout(tmp_path, CELLS)
    proc = _nbval(tmp_path, notebook)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    copy = tmp_path / 'build' / 'executed' / '01_tiny.ipynb'
    saved = nbformat.read(copy, as_version=4)
    assert saved.metadata['braintrace_lab_executed']['by'] == 'nbval'

    reference = nbformat.read(notebook, as_version=4)
    NotebookClient(reference, timeout=120, kernel_name='python3',
                   resources={'metadata': {'path': str(notebook.parent)}}).execute()
    assert [_shown(c) for c in saved.cells] == [_shown(c) for c in reference.cells]
    # and the cases it is built for, spelled out
    assert _shown(saved.cells[0]) == [('stream', 'a\nb\n')]
    assert _shown(saved.cells[1]) == [('display_data', {'text/plain': 'final'})]
    assert _shown(saved.cells[3]) == [] and _shown(saved.cells[4]) == [('execute_result', {'text/plain': '5'})]
    assert _shown(saved.cells[5]) == [('stream', 'kept\n')]
    assert _shown(saved.cells[7]) == [('stream', 'late\n')]      # a thread's print goes to the running cell
    assert [c.execution_count for c in saved.cells] == list(range(1, len(CELLS) + 1))

    check = [sys.executable, str(tmp_path / 'tutorials' / 'executed_copies.py'), '--check']
    assert subprocess.run(check, capture_output=True, text=True).returncode == 0
    nb = nbformat.read(notebook, as_version=4)
    nb.cells[4].source = '2 + 4'
    nbformat.write(nb, notebook)
    stale = subprocess.run(check, capture_output=True, text=True)
    assert stale.returncode == 1 and '01_tiny.ipynb: no current executed copy' in stale.stdout


@pytest.mark.slow
def test_a_failing_tutorial_loses_its_copy(tmp_path):
    notebook = _layout(tmp_path, ["print('ok')", "raise ValueError('broken on purpose')"])
    copy = tmp_path / 'build' / 'executed' / '01_tiny.ipynb'
    copy.parent.mkdir(parents=True)
    copy.write_text('{}')                                     # a copy from an earlier, passing run
    proc = _nbval(tmp_path, notebook)
    assert proc.returncode == 1 and '1 failed' in proc.stdout, proc.stdout[-3000:]
    assert not copy.exists()


def test_api_pages_document_every_public_name_once(tmp_path):
    pages = api_pages.write(tmp_path)
    names = {p.stem for p in pages}
    subpackages = api_pages.public_subpackages()
    assert {'index', 'braintrace_lab'} | set(subpackages) == names
    assert {'braintrace_lab.ops', 'braintrace_lab.algorithms', 'braintrace_lab.lab'} <= set(subpackages)
    text = {p.stem: p.read_text() for p in pages}
    lab = text['braintrace_lab.lab']
    assert '.. automodule:: braintrace_lab.lab' in lab and '.. autofunction:: train' in lab
    assert ':py:obj:`~braintrace_lab.lab.train`' in lab
    # D_RTRL is exported by the top level and by algorithms: documented once, linked from both tables
    assert '.. autoclass:: D_RTRL' in text['braintrace_lab.algorithms']
    assert '.. autoclass:: D_RTRL' not in text['braintrace_lab']
    assert ':py:obj:`~braintrace_lab.algorithms.D_RTRL`' in text['braintrace_lab']
    for name in subpackages:
        assert f'({name}.md)' in text['index'] and name in text['index'].split('{toctree}')[1]
