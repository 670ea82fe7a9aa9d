"""The course workspace: ``braintrace-lab lab`` opens a copy of the tutorials, never the repository's."""
import json
import shlex
import subprocess

import pytest

from braintrace_lab import cli
from braintrace_lab.course import workspace as ws


@pytest.fixture
def course(tmp_path):
    """A small course: two numbered tutorials, a course map, and a file that is not part of the course."""
    src = tmp_path / 'tutorials'
    src.mkdir()
    (src / '01_first.ipynb').write_text('{"first": 1}')
    (src / '02_second.ipynb').write_text('{"second": 1}')
    (src / 'README.md').write_text('# map\n')
    (src / 'make_student.py').write_text('# a tool, not a lesson\n')
    return src


def test_first_use_creates_the_folder_and_copies_the_course(course, tmp_path):
    dest = tmp_path / 'home' / 'course'
    report = ws.sync_workspace(course, dest)
    assert report.created and report.added == ['01_first.ipynb', '02_second.ipynb', 'README.md']
    assert (dest / '01_first.ipynb').read_text() == '{"first": 1}'
    assert not (dest / 'make_student.py').exists()
    assert 'course workspace created' in report.summary() and 'added: 01_first.ipynb' in report.summary()
    manifest = json.loads((dest / ws.MANIFEST).read_text())
    assert sorted(manifest['files']) == ['01_first.ipynb', '02_second.ipynb', 'README.md']


def test_the_news_prompt_is_off_in_the_workspace_settings(course, tmp_path):
    dest = tmp_path / 'ws'
    ws.sync_workspace(course, dest)
    overrides = json.loads((dest / ws.SETTINGS_DIR / 'overrides.json').read_text())
    assert overrides['@jupyterlab/apputils-extension:notification'] == {'checkForUpdates': False,
                                                                         'fetchNews': 'false'}
    assert ws.lab_settings_args(dest) == [f'--LabApp.app_settings_dir={dest / ws.SETTINGS_DIR}']


def test_installed_overrides_are_kept_and_news_turned_off(tmp_path):
    base = tmp_path / 'installed'
    base.mkdir()
    (base / 'overrides.json').write_text(json.dumps({'@jupyterlab/apputils-extension:themes': {'theme': 'dark'},
                                                     '@jupyterlab/apputils-extension:notification':
                                                         {'fetchNews': 'true', 'doNotDisturbMode': True}}))
    (base / 'page_config.json').write_text('{"disabledExtensions": []}')
    settings = ws._write_settings(tmp_path / 'ws', base)
    got = json.loads((settings / 'overrides.json').read_text())
    assert got['@jupyterlab/apputils-extension:themes'] == {'theme': 'dark'}
    assert got['@jupyterlab/apputils-extension:notification'] == {'fetchNews': 'false', 'doNotDisturbMode': True,
                                                                  'checkForUpdates': False}
    assert (settings / 'page_config.json').read_text() == '{"disabledExtensions": []}'


def test_a_file_the_user_changed_is_never_overwritten(course, tmp_path):
    dest = tmp_path / 'ws'
    ws.sync_workspace(course, dest)
    (dest / '01_first.ipynb').write_text('{"first": "my notes"}')          # the student's work
    (course / '01_first.ipynb').write_text('{"first": 2}')                 # the course changes it too
    (course / '02_second.ipynb').write_text('{"second": 2}')               # ... and one the student never touched
    (course / '03_third.ipynb').write_text('{"third": 1}')                 # ... and adds a tutorial
    report = ws.sync_workspace(course, dest)
    assert not report.created
    assert (dest / '01_first.ipynb').read_text() == '{"first": "my notes"}'
    assert (dest / '02_second.ipynb').read_text() == '{"second": 2}'
    assert (dest / '03_third.ipynb').read_text() == '{"third": 1}'
    assert report.kept_outdated == ['01_first.ipynb'] and report.updated == ['02_second.ipynb']
    assert report.added == ['03_third.ipynb'] and report.unchanged == ['README.md']
    text = report.summary()
    assert 'newer version of 01_first.ipynb' in text and 'rename or delete your copy' in text
    assert 'updated' in text and '02_second.ipynb' in text
    # the kept file stays the user's on every later run, and the notice stays too
    again = ws.sync_workspace(course, dest)
    assert again.kept_outdated == ['01_first.ipynb'] and (dest / '01_first.ipynb').read_text() == '{"first": "my notes"}'
    # once the user removes their copy, the course's version comes back
    (dest / '01_first.ipynb').unlink()
    assert ws.sync_workspace(course, dest).added == ['01_first.ipynb']
    assert (dest / '01_first.ipynb').read_text() == '{"first": 2}'


def test_a_file_that_was_there_before_the_workspace_is_kept(course, tmp_path):
    dest = tmp_path / 'ws'
    dest.mkdir()
    (dest / '01_first.ipynb').write_text('{"mine": true}')
    report = ws.sync_workspace(course, dest)
    assert report.kept == ['01_first.ipynb'] and 'kept your changed copy: 01_first.ipynb' in report.summary()
    assert (dest / '01_first.ipynb').read_text() == '{"mine": true}'


def test_an_unchanged_workspace_reports_up_to_date(course, tmp_path):
    ws.sync_workspace(course, tmp_path / 'ws')
    report = ws.sync_workspace(course, tmp_path / 'ws')
    assert report.unchanged == ['01_first.ipynb', '02_second.ipynb', 'README.md']
    assert 'up to date' in report.summary()


def test_bad_workspaces_are_refused_with_the_fix(course, tmp_path):
    afile = tmp_path / 'afile'
    afile.write_text('x')
    with pytest.raises(NotADirectoryError, match='choose another'):
        ws.sync_workspace(course, afile)
    with pytest.raises(ValueError, match='is the course itself'):
        ws.sync_workspace(course, course)
    with pytest.raises(FileNotFoundError, match='no numbered tutorials'):
        ws.sync_workspace(tmp_path / 'empty', tmp_path / 'ws')


def test_the_default_folder_is_in_home_unless_the_environment_says(monkeypatch, tmp_path):
    monkeypatch.delenv(ws.ENV_VAR, raising=False)
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    assert ws.default_workspace() == tmp_path / 'home' / 'braintrace-lab-course'
    monkeypatch.setenv(ws.ENV_VAR, str(tmp_path / 'elsewhere'))
    assert ws.default_workspace() == tmp_path / 'elsewhere'


def _main(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_lab_opens_the_workspace_copy_with_the_news_prompt_off(capsys, monkeypatch, tmp_path):
    started = []
    monkeypatch.setattr(subprocess, 'call', lambda cmd, *a, **k: started.append(cmd) or 0)
    monkeypatch.setenv(ws.ENV_VAR, str(tmp_path / 'course'))
    # --print-command shows the command and copies nothing
    code, out, _ = _main(capsys, 'lab', '--print-command')
    assert code == 0 and not (tmp_path / 'course').exists()
    printed = shlex.split(out.strip())
    assert f'--ServerApp.root_dir={tmp_path / "course"}' in printed
    assert f'--LabApp.app_settings_dir={tmp_path / "course" / ws.SETTINGS_DIR}' in printed
    # the real command copies the course first, then opens that copy
    code, _, err = _main(capsys, 'lab', '--no-browser')
    assert code == 0 and started
    assert f'--ServerApp.root_dir={tmp_path / "course"}' in started[0]
    tutorials = cli.find_tutorials()
    assert all(str(tutorials) not in part for part in started[0])
    names = sorted(p.name for p in tutorials.glob('[0-9][0-9]_*.ipynb'))
    assert names and all((tmp_path / 'course' / n).is_file() for n in names)
    assert 'course workspace created' in err and 'added: ' + names[0] in err
    # a second start keeps the student's edits and says so
    (tmp_path / 'course' / names[0]).write_text('{}')
    code, _, err = _main(capsys, 'lab', '--no-browser')
    assert code == 0 and (tmp_path / 'course' / names[0]).read_text() == '{}'
    assert f'kept your changed copy: {names[0]}' in err


def test_lab_dir_names_the_workspace_and_no_copy_opens_a_folder_as_it_is(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv(ws.ENV_VAR, str(tmp_path / 'unused'))
    code, out, _ = _main(capsys, 'lab', '--dir', str(tmp_path / 'mine'), '--print-command')
    assert code == 0 and f'--ServerApp.root_dir={tmp_path / "mine"}' in out
    code, out, _ = _main(capsys, 'lab', '--dir', str(tmp_path), '--no-copy', '--print-command')
    assert code == 0 and f'--ServerApp.root_dir={tmp_path}' in out and 'app_settings_dir' not in out
    code, _, err = _main(capsys, 'lab', '--dir', str(tmp_path / 'missing'), '--no-copy')
    assert code == 2 and 'is not a directory' in err
    afile = tmp_path / 'afile'
    afile.write_text('x')
    code, _, err = _main(capsys, 'lab', '--dir', str(afile))
    assert code == 2 and 'is not a folder' in err
