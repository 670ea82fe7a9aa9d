"""What every real-browser test shares: Debian's Chromium, its flags, the skip-or-fail rule, process clean-up.

On a machine without Chromium or a needed package a browser test skips and says what is
missing; with ``BTL_REQUIRE_BROWSER=1`` (CI) it fails instead, so it can never be skipped
to get green there.
"""
from __future__ import annotations

import importlib.util
import os
import signal
import subprocess

import pytest

CHROMIUM = '/usr/bin/chromium'
CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage']


def require_browser(what: str, modules=('playwright',), install: str = 'pip install -e ".[lab,test]"') -> None:
    """Skip (or, with ``BTL_REQUIRE_BROWSER=1``, fail) unless Chromium and ``modules`` are present."""
    missing = []
    if not os.path.exists(CHROMIUM):
        missing.append(f'{CHROMIUM} (apt-get install -y chromium)')
    for mod in modules:
        if importlib.util.find_spec(mod) is None:
            missing.append(f'the {mod} package ({install})')
    if missing:
        reason = f'{what} needs ' + ' and '.join(missing)
        if os.environ.get('BTL_REQUIRE_BROWSER') == '1':
            pytest.fail(reason + ' (BTL_REQUIRE_BROWSER=1 is set)')
        pytest.skip(reason)


def stop_process_group(proc: subprocess.Popen, log=None) -> None:
    """Stop a server started with ``start_new_session=True`` and everything it spawned (kernels)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
    if log is not None:
        log.close()
