"""Shared fixtures for the task tests: every registered task, built with its defaults."""
import pytest

from braintrace_lab.tasks import available_tasks, get_task

CLASSIFICATION = [n for n in available_tasks() if get_task(n).kind == 'classification']


@pytest.fixture(params=available_tasks())
def task(request):
    """Each registered task with its default settings and seed 0."""
    return get_task(request.param)


@pytest.fixture(params=CLASSIFICATION)
def clf_task(request):
    """Each classification task with its default settings and seed 0."""
    return get_task(request.param)
