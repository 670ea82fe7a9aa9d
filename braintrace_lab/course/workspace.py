"""The course workspace: a copy of the tutorials in a folder of the user's, never the repository.

``braintrace-lab lab`` opens JupyterLab on this copy, so that autosave and a student's
edits never change the tracked notebooks in ``tutorials/``. The copy is made on first use
and brought up to date on every later one, without ever overwriting the user's work:

* a tutorial the workspace does not have yet is **added**;
* a tutorial the user has not touched (its bytes are those the workspace last copied) is
  **updated** when the course's version changed;
* a tutorial the user changed is **kept** as it is, and the report says where the
  course's new version can be had (rename or delete your copy, run the command again).

What was copied is remembered in :data:`MANIFEST` (a small JSON file in the workspace:
file name -> SHA-256 of the bytes copied). The workspace also holds a JupyterLab
settings folder, :data:`SETTINGS_DIR`, whose ``overrides.json`` turns off JupyterLab's
news and update-check prompt, as ``binder/postBuild`` does on Binder (it starts from the
installed JupyterLab's own overrides and page config, if any); the lab command points
JupyterLab's application settings folder at it (:func:`lab_settings_args`), so nothing of
the user's global JupyterLab configuration is changed, and their personal settings
(theme, shortcuts) still apply.

>>> report = sync_workspace(find_course(), default_workspace())
>>> print(report.summary())
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pathlib
import shutil
from typing import Dict, List, Optional

__all__ = ['ENV_VAR', 'MANIFEST', 'SETTINGS_DIR', 'NO_NEWS', 'SyncReport', 'default_workspace', 'find_course',
           'course_files', 'sync_workspace', 'lab_settings_args']

ENV_VAR = 'BRAINTRACE_LAB_COURSE_DIR'          # overrides the default workspace folder
DEFAULT_NAME = 'braintrace-lab-course'         # under the user's home folder
MANIFEST = '.braintrace-lab-course.json'
SETTINGS_DIR = '.jupyterlab-settings'
# JupyterLab 4: no "would you like to get notified about Jupyter news?" prompt, no update check
NO_NEWS = {'@jupyterlab/apputils-extension:notification': {'checkForUpdates': False, 'fetchNews': 'false'}}
COURSE_GLOBS = ('[0-9][0-9]_*.ipynb', 'README.md')


def default_workspace() -> pathlib.Path:
    """``$BRAINTRACE_LAB_COURSE_DIR`` if set, else ``~/braintrace-lab-course``."""
    env = os.environ.get(ENV_VAR, '').strip()
    return pathlib.Path(env).expanduser() if env else pathlib.Path.home() / DEFAULT_NAME


def find_course() -> pathlib.Path:
    """The checkout's ``tutorials/`` folder (the course's master copy)."""
    here = pathlib.Path(__file__).resolve().parents[2] / 'tutorials'
    for cand in (here, pathlib.Path.cwd() / 'tutorials'):
        if cand.is_dir() and any(cand.glob('[0-9][0-9]_*.ipynb')):
            return cand
    raise FileNotFoundError('no tutorials/ folder with numbered notebooks next to the package or in the current '
                            'directory; run from a checkout of braintrace-lab, or open a folder of your own with '
                            '`braintrace-lab lab --dir PATH --no-copy`')


def course_files(course: pathlib.Path) -> List[pathlib.Path]:
    """The files a workspace receives: the numbered tutorials and the course map (README.md)."""
    found = {p for pattern in COURSE_GLOBS for p in pathlib.Path(course).glob(pattern) if p.is_file()}
    return sorted(found)


def _digest(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclasses.dataclass
class SyncReport:
    """What :func:`sync_workspace` did: file names per outcome, and the folder."""
    workspace: pathlib.Path
    created: bool = False
    added: List[str] = dataclasses.field(default_factory=list)
    updated: List[str] = dataclasses.field(default_factory=list)
    unchanged: List[str] = dataclasses.field(default_factory=list)
    kept: List[str] = dataclasses.field(default_factory=list)       # changed by the user: left alone
    kept_outdated: List[str] = dataclasses.field(default_factory=list)   # ... and the course has a newer one

    def summary(self) -> str:
        """A few lines for the terminal: where the course is, and what was added, updated or kept."""
        head = (f'course workspace {"created" if self.created else "found"}: {self.workspace} '
                f'(the tutorials in the repository are not opened, so autosave never changes them)')
        lines = [head]
        if self.added:
            lines.append(f'  added: {", ".join(self.added)}')
        if self.updated:
            lines.append(f'  updated to the course\'s new version (you had not changed them): {", ".join(self.updated)}')
        if self.kept:
            lines.append(f'  kept your changed copy: {", ".join(self.kept)}')
        if self.kept_outdated:
            lines.append(f'  the course has a newer version of {", ".join(self.kept_outdated)}; your changed copy '
                         f'was kept: to get the new one, rename or delete your copy and run the command again')
        if not (self.added or self.updated or self.kept or self.kept_outdated):
            lines.append('  up to date')
        return '\n'.join(lines)


def _read_manifest(workspace: pathlib.Path) -> Dict[str, str]:
    path = workspace / MANIFEST
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}                     # unreadable: treat every differing file as the user's
    files = data.get('files', {}) if isinstance(data, dict) else {}
    return {str(k): str(v) for k, v in files.items()} if isinstance(files, dict) else {}


def _installed_settings_dir() -> Optional[pathlib.Path]:
    """JupyterLab's own application settings folder (``<app dir>/settings``), or None without JupyterLab."""
    try:
        from jupyterlab.commands import get_app_dir      # optional: the lab extras
    except ImportError:
        return None
    return pathlib.Path(get_app_dir()) / 'settings'


def _write_settings(workspace: pathlib.Path, base: Optional[pathlib.Path] = None) -> pathlib.Path:
    """The workspace's settings folder: the installed overrides and page config, plus :data:`NO_NEWS`."""
    settings = workspace / SETTINGS_DIR
    settings.mkdir(parents=True, exist_ok=True)
    overrides = {}
    if base is not None and (base / 'overrides.json').is_file():
        try:
            overrides = json.loads((base / 'overrides.json').read_text())
        except (OSError, ValueError):
            overrides = {}
    for plugin, values in NO_NEWS.items():
        overrides.setdefault(plugin, {}).update(values)
    (settings / 'overrides.json').write_text(json.dumps(overrides, indent=2, sort_keys=True) + '\n')
    if base is not None and (base / 'page_config.json').is_file():
        shutil.copyfile(base / 'page_config.json', settings / 'page_config.json')
    return settings


def sync_workspace(course: pathlib.Path, workspace: Optional[pathlib.Path] = None) -> SyncReport:
    """Create or refresh the workspace copy of ``course`` (see the module docstring); return what was done.

    Never overwrites a file whose bytes differ both from the course's and from what the
    workspace last copied (the user changed it), nor a file that was there before the
    workspace was (no record of it).
    """
    course = pathlib.Path(course)
    workspace = pathlib.Path(workspace if workspace is not None else default_workspace()).expanduser()
    files = course_files(course)
    if not files:
        raise FileNotFoundError(f'{course} holds no numbered tutorials (NN_name.ipynb) to copy; '
                                f'point at the tutorials/ folder of a braintrace-lab checkout')
    if workspace.exists() and not workspace.is_dir():
        raise NotADirectoryError(f'the course workspace {workspace} exists and is not a folder; choose another '
                                 f'with --dir PATH or ${ENV_VAR}')
    if workspace.resolve() == course.resolve():
        raise ValueError(f'the course workspace {workspace} is the course itself; choose a folder outside the '
                         f'repository (--dir PATH or ${ENV_VAR})')
    report = SyncReport(workspace=workspace, created=not workspace.exists())
    workspace.mkdir(parents=True, exist_ok=True)
    copied = _read_manifest(workspace)
    for src in files:
        name, dest, new = src.name, workspace / src.name, _digest(src)
        if not dest.exists():
            shutil.copyfile(src, dest)
            copied[name] = new
            report.added.append(name)
            continue
        have = _digest(dest)
        if have == new:
            copied[name] = new
            report.unchanged.append(name)
        elif copied.get(name) == have:              # untouched since we copied it: safe to update
            shutil.copyfile(src, dest)
            copied[name] = new
            report.updated.append(name)
        else:                                       # the user's version: keep it, say so
            newer = name in copied and copied[name] != new      # the course changed since it was copied
            (report.kept_outdated if newer else report.kept).append(name)
    (workspace / MANIFEST).write_text(json.dumps({'course': str(course.resolve()), 'files': copied},
                                                 indent=1, sort_keys=True) + '\n')
    _write_settings(workspace, _installed_settings_dir())
    return report


def lab_settings_args(workspace: pathlib.Path) -> List[str]:
    """``jupyter lab`` options that read the workspace's settings overrides (news prompt off)."""
    return [f'--LabApp.app_settings_dir={pathlib.Path(workspace) / SETTINGS_DIR}']
