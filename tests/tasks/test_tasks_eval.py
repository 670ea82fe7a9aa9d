"""Every task's fixed evaluation set: deterministic, the same for every seed, apart from the training streams."""
import numpy as np
import pytest

from braintrace_lab.tasks import get_task
from braintrace_lab.tasks.base import EVAL_SEED, EVAL_SIZE


def test_eval_batch_is_fixed_and_is_the_reserved_test_stream(task):
    b = task.eval_batch(24)
    assert b.batch_size == 24 and b.kind == task.kind
    again = task.eval_batch(24)
    np.testing.assert_array_equal(b.inputs, again.inputs)
    np.testing.assert_array_equal(b.targets, again.targets)
    same = task.batch(24, 0, seed=EVAL_SEED, split='test')
    np.testing.assert_array_equal(b.inputs, same.inputs)
    assert EVAL_SIZE == 256


def test_eval_batch_is_no_training_batch(task):
    """The held-out set differs from the first training batches of the first seeds (same size)."""
    held = task.eval_batch(16)
    for seed in range(3):
        for index in range(3):
            train = task.batch(16, index, seed=seed)
            assert not (np.array_equal(held.inputs, train.inputs) and np.array_equal(held.targets, train.targets))


def test_digit_eval_images_come_from_the_test_images():
    task = get_task('digits')
    held = task.eval_batch(64)
    test_images, test_labels = task.arrays('test')
    rows = held.inputs[::task.repeat].transpose(1, 0, 2)              # (B, 8, 8): one row per step
    flat_test = test_images.reshape(len(test_images), -1)
    for image, label in zip(rows.reshape(64, -1), held.targets):
        match = np.flatnonzero(np.all(np.isclose(flat_test, image), axis=1))
        assert match.size and label in test_labels[match]


@pytest.mark.parametrize('n, error, words', [
    (0, ValueError, 'n must be an int >= 1, got 0; give the number of held-out sequences'),
    (2.5, TypeError, 'n must be an int'),
    (True, TypeError, 'n must be an int'),
])
def test_eval_batch_size_is_checked(n, error, words):
    with pytest.raises(error) as exc:
        get_task('dms').eval_batch(n)
    assert words in str(exc.value) and 'DelayedMatchToSample.eval_batch' in str(exc.value)
