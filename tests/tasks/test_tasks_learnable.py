"""Each classification task carries signal: a linear classifier on simple features beats chance.

DMS is left out on purpose (sample and test must be compared, which a linear read-out of
the raw inputs cannot do well); the copy task is per-step and tested by construction instead.
"""
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from braintrace_lab.tasks import get_task


def time_summed(batch):
    """(B, F) spike counts / summed inputs over time."""
    return batch.inputs.sum(axis=0)


def flattened(batch):
    """(B, T * F) inputs, time and features flattened."""
    x = batch.inputs
    return np.ascontiguousarray(np.transpose(x, (1, 0, 2))).reshape(x.shape[1], -1)


# (task name, feature map, accuracy the linear probe must reach on test batches)
CASES = [
    ('digits', flattened, 0.85),
    ('digits_spikes', time_summed, 0.75),
    ('manifold', time_summed, 0.6),
    ('spike_patterns', flattened, 0.95),
    ('evidence', time_summed, 0.8),
]


@pytest.mark.parametrize('name, features, required', CASES, ids=[c[0] for c in CASES])
def test_linear_probe_beats_chance(name, features, required):
    task = get_task(name)
    train, test = task.batch(400, 0), task.batch(400, 0, split='test')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', ConvergenceWarning)
        probe = LogisticRegression(max_iter=300).fit(features(train), train.targets)
    accuracy = probe.score(features(test), test.targets)
    assert accuracy >= required > task.chance_level + 0.2, (name, accuracy)


def test_shuffled_labels_are_not_learnable():
    """The probe's success comes from the inputs: with labels shuffled it falls to chance."""
    task = get_task('manifold')
    train, test = task.batch(400, 0), task.batch(400, 0, split='test')
    shuffled = np.random.default_rng(0).permutation(train.targets)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', ConvergenceWarning)
        probe = LogisticRegression(max_iter=300).fit(time_summed(train), shuffled)
    assert probe.score(time_summed(test), test.targets) < task.chance_level + 0.12
