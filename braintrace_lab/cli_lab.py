"""``braintrace-lab lab``: JupyterLab on the course workspace (a copy of the tutorials).

The workspace is a folder of the user's (``~/braintrace-lab-course``, or ``--dir`` /
``$BRAINTRACE_LAB_COURSE_DIR``), created on first use and refreshed later without
overwriting a notebook the user changed (:mod:`braintrace_lab.course.workspace`), with
JupyterLab's news prompt off. ``--no-copy`` opens a folder as it is.

    braintrace-lab lab --no-browser
    braintrace-lab lab --dir student --no-copy
"""
from __future__ import annotations

import importlib.util
import pathlib
import shlex
import subprocess
import sys
from typing import List, Optional, Sequence

from .course import workspace

__all__ = ['UsageError', 'add_lab_parser', 'build_lab_command', 'cmd_lab', 'find_tutorials', 'open_workspace']

PROG = 'braintrace-lab'


class UsageError(Exception):
    """A bad command-line argument: the CLI prints the message after the usage line and exits 2."""


def find_tutorials(directory: Optional[str] = None) -> pathlib.Path:
    """The tutorials folder: ``directory``, else the checkout's ``tutorials/``, else ``./tutorials``."""
    if directory is not None:
        path = pathlib.Path(directory).expanduser()
        if not path.is_dir():
            raise UsageError(f'--dir {directory!r} is not a directory')
        return path.resolve()
    for cand in (pathlib.Path(__file__).resolve().parents[1] / 'tutorials', pathlib.Path.cwd() / 'tutorials'):
        if cand.is_dir():
            return cand
    raise UsageError('no tutorials/ folder found next to the package or in the current directory; '
                     'run from a checkout of braintrace-lab or pass --dir PATH')


def open_workspace(directory: Optional[str] = None, dry_run: bool = False):
    """``(folder, jupyter options)`` of the course workspace; copies the course there unless ``dry_run``.

    Prints what was added, updated or kept (a notebook the user changed is never overwritten).
    """
    folder = pathlib.Path(directory).expanduser() if directory is not None else workspace.default_workspace()
    if not dry_run:
        try:
            report = workspace.sync_workspace(workspace.find_course(), folder)
        except (FileNotFoundError, NotADirectoryError, ValueError) as err:
            raise UsageError(str(err)) from None
        print(report.summary(), file=sys.stderr)
    folder = folder.resolve()
    return folder, workspace.lab_settings_args(folder)


def build_lab_command(notebook_dir, no_browser: bool = False, port: Optional[int] = None,
                      extra: Sequence[str] = ()) -> List[str]:
    """The ``jupyter lab`` command line that :func:`main` runs for ``braintrace-lab lab``."""
    cmd = [sys.executable, '-m', 'jupyterlab', f'--ServerApp.root_dir={notebook_dir}']
    if no_browser:
        cmd.append('--no-browser')
    if port is not None:
        cmd.append(f'--port={int(port)}')
    cmd.extend(extra)
    return cmd


def cmd_lab(args, parser, extra) -> int:
    if args.no_copy:                            # a folder of one's own (student/, ...), opened as it is
        directory, settings = find_tutorials(args.dir), []
    else:                                       # the course workspace: a copy, never the repository
        directory, settings = open_workspace(args.dir, dry_run=args.print_command)
    cmd = build_lab_command(directory, no_browser=args.no_browser, port=args.port, extra=list(settings) + list(extra))
    if args.print_command:
        print(shlex.join(cmd))
        return 0
    if importlib.util.find_spec('jupyterlab') is None:
        print(f"{PROG} lab: error: JupyterLab is not installed; install the lab extras: "
              f"pip install 'braintrace-lab[lab]'", file=sys.stderr)
        return 1
    try:
        return subprocess.call(cmd)
    except KeyboardInterrupt:
        return 130



def add_lab_parser(sub, positive_int):
    """Add the ``lab`` subcommand to the subparsers ``sub`` of the ``braintrace-lab`` parser."""
    lab = sub.add_parser('lab', help='open JupyterLab on the tutorials',
                         description='Open JupyterLab on the tutorials; other options go to jupyter lab.')
    lab.add_argument('--no-browser', action='store_true', help='do not open a browser (passed to jupyter lab)')
    lab.add_argument('--port', type=positive_int, default=None, help='server port (passed to jupyter lab)')
    lab.add_argument('--dir', default=None,
                     help=f'the course workspace folder: created on first use with a copy of the tutorials, '
                          f'refreshed later without overwriting a notebook you changed (default: '
                          f'${workspace.ENV_VAR} or ~/{workspace.DEFAULT_NAME}); with --no-copy, any folder to open')
    lab.add_argument('--no-copy', action='store_true',
                     help='open --dir (default: the repository tutorials) as it is, without a workspace copy')
    lab.add_argument('--print-command', action='store_true', help='print the jupyter command and exit')
    return lab
