"""Headless widget tests: no kernel, no browser. Messages to the front end are recorded from ``comm.send``."""
import pytest

from braintrace_lab import lab


@pytest.fixture(scope='session')
def trainer(make_lif, dms):
    """One D-RTRL trainer on a live LIF layer, shared so that the step compiles once."""
    return lab.Trainer(lab.make_learner(make_lif, 'd_rtrl'), dms, batch_size=4, record_every=1)


class Recorder:
    """Replaces ``widget.comm.send``; keeps ``(state dict, buffers)`` of every message."""

    def __init__(self, widget):
        self.messages = []
        widget.comm.send = self.send

    def send(self, data=None, metadata=None, buffers=None, **kwargs):
        self.messages.append((data or {}, list(buffers or [])))

    def states(self):
        return [d.get('state', {}) for d, _ in self.messages if d.get('method') == 'update']

    def last_buffers(self, name):
        """The bytes sent for trait ``name`` in the last message that carried it."""
        for data, bufs in reversed(self.messages):
            paths = data.get('buffer_paths', [])
            for path, buf in zip(paths, bufs):
                if path == [name]:
                    return bytes(buf)
        raise KeyError(name)


@pytest.fixture
def record_comm():
    return Recorder
