"""While nbval runs the tutorials, keep every output: each tutorial that passes is saved to build/executed/.

nbval compares only the checked cells and throws the other outputs away; the course site
needs them all (figures, tables, each widget's static image). This plugin listens to the
same kernel messages nbval reads and builds the executed notebook the way Jupyter would:
outputs go to the cell that produced them (also when they arrive later, from a thread),
``update_display`` replaces the output it names (a widget's final image after training)
and ``clear_output`` clears. When every cell of a tutorial has passed, the notebook is
written with ``executed_copies.save``; a tutorial that fails loses its copy. A partial
run (``-k``, ``-x`` before the end) leaves the copies as they were.
"""
from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import pytest
from IPython.core.displayhook import DisplayHook

import executed_copies        # this folder is on sys.path for its conftest (pytest's rootdir-less import)

_RECORDERS: dict[int, 'Recorder'] = {}


class Recorder:
    """The executed notebook of one nbval file, built from the kernel messages nbval reads."""

    def __init__(self, nb_file):
        self.path = Path(str(nb_file.fspath)).resolve()
        self.fingerprint = executed_copies.fingerprint(self.path)
        self.nb = copy.deepcopy(nb_file.nb)
        self.cells = [c for c in self.nb.cells if c.cell_type == 'code']
        for cell in self.cells:
            cell.outputs, cell.execution_count = [], None
        self.current = None               # the cell being run now
        self.cell_of_msg: dict[str, object] = {}
        self.displays: dict[str, list] = {}
        self.clear_pending: set[int] = set()
        self.passed: set[int] = set()
        self.failed = False
        self.count = 0
        self._wrap(nb_file)

    def _wrap(self, nb_file):
        kernel, read = nb_file.kernel, nb_file.get_kernel_message
        execute = kernel.execute_cell_input

        def execute_cell_input(source, allow_stdin=None):
            msg_id = execute(source, allow_stdin=allow_stdin)
            self.cell_of_msg[msg_id] = self.current
            if self.current is not None:
                self.count += 1
                self.current.execution_count = self.count
            return msg_id

        def get_kernel_message(timeout=None, stream='iopub'):
            msg = read(timeout=timeout, stream=stream)
            if stream == 'iopub':
                self.handle(msg)
            return msg

        kernel.execute_cell_input = execute_cell_input
        nb_file.get_kernel_message = get_kernel_message

    def handle(self, msg):
        """Apply one iopub message to the notebook as a front end would."""
        kind, content = msg['msg_type'], msg['content']
        if kind == 'update_display_data':
            for out in self.displays.get(content.get('transient', {}).get('display_id'), []):
                out['data'], out['metadata'] = content['data'], content.get('metadata', {})
            return
        cell = self.cell_of_msg.get(msg.get('parent_header', {}).get('msg_id'))
        if cell is None:
            return
        if kind == 'execute_result' and _quiet(cell.source):
            return                          # nbval runs cells unstored, so IPython ignores a final ';'
        if kind == 'clear_output':
            if content.get('wait'):
                self.clear_pending.add(id(cell))
            else:
                cell.outputs = []
        elif kind in ('stream', 'display_data', 'execute_result', 'error'):
            if id(cell) in self.clear_pending:
                self.clear_pending.discard(id(cell))
                cell.outputs = []
            last = cell.outputs[-1] if cell.outputs else None
            if kind == 'stream' and last is not None and last.output_type == 'stream' \
                    and last.name == content['name']:
                last.text += content['text']
                return
            out = nbformat.v4.output_from_msg(msg)
            cell.outputs.append(out)
            display_id = content.get('transient', {}).get('display_id')
            if display_id:
                self.displays.setdefault(display_id, []).append(out)
            if kind == 'execute_result':
                out.execution_count = cell.execution_count

    def finish(self):
        if self.failed:
            executed_copies.discard(self.path)
        elif len(self.passed) == len(self.cells):
            executed_copies.save(self.nb, self.path, self.fingerprint, 'nbval')


def _quiet(source: str) -> bool:
    """Whether Jupyter hides a cell's value: its code ends with ``;``."""
    try:
        return DisplayHook.semicolon_at_end_of_expression(source)
    except Exception:                       # magics and other non-Python lines: IPython shows the value
        return False


def _nbval_cell(item) -> bool:
    return type(item).__name__ == 'IPyNbCell' and hasattr(item, 'cell_num')


def _recorder(item) -> Recorder | None:
    parent = item.parent
    if Path(str(parent.fspath)).resolve().parent != executed_copies.TUTORIALS:
        return None
    if id(parent) not in _RECORDERS:
        if getattr(parent, 'kernel', None) is None or not hasattr(parent, 'nb'):
            return None                     # an nbval we do not know: record nothing, change nothing
        _RECORDERS[id(parent)] = Recorder(parent)
    return _RECORDERS[id(parent)]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    recorder = _recorder(item) if _nbval_cell(item) else None
    if recorder is not None:
        recorder.current = recorder.cells[item.cell_num]
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if not _nbval_cell(item):
        return
    recorder = _RECORDERS.get(id(item.parent))
    if recorder is None:
        return
    report = outcome.get_result()
    if report.failed:
        recorder.failed = True
    elif report.when == 'call' and report.passed:
        recorder.passed.add(item.cell_num)


def pytest_sessionfinish(session):
    for recorder in _RECORDERS.values():
        recorder.finish()
    _RECORDERS.clear()
