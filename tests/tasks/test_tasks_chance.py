"""Chance levels are what the tasks document, and labels are balanced where claimed."""
import numpy as np
import pytest

from braintrace_lab.tasks import (AddingTask, DelayedMatchToSample, EvidenceAccumulation, RandomManifold,
                                  SequentialDigits, SpikePatterns, get_task, loss_and_accuracy)


def scored_labels(batch):
    """The labels that count in the loss, flattened: per-step labels at masked steps, else (B,)."""
    if batch.targets.ndim == 2:
        return batch.targets[batch.mask]
    return batch.targets


def _labels(task, split, n_batches=12, batch_size=64):
    return np.concatenate([scored_labels(b) for b in task.batches(batch_size, n_batches, split=split)])


def test_majority_guesser_scores_the_chance_level(clf_task):
    """Learn the most common label on train batches, score it on test batches."""
    train, test = _labels(clf_task, 'train'), _labels(clf_task, 'test')
    guess = np.bincount(train, minlength=clf_task.n_outputs).argmax()
    accuracy = np.mean(test == guess)
    assert accuracy == pytest.approx(clf_task.chance_level, abs=0.035)


def test_uniform_guess_matches_the_chance_level(clf_task):
    """Accuracy of uniform random guesses, averaged over seeds, is chance_level within noise."""
    labels = _labels(clf_task, 'test', n_batches=6)
    rng = np.random.default_rng(0)
    guesses = rng.integers(0, clf_task.n_outputs, size=(20, labels.size))
    assert np.mean(guesses == labels) == pytest.approx(1.0 / clf_task.n_outputs, abs=0.02)


@pytest.mark.parametrize('task', [DelayedMatchToSample(), EvidenceAccumulation(),
                                  RandomManifold(n_classes=4), RandomManifold(n_classes=3, seed=5)],
                         ids=['dms', 'evidence', 'manifold4', 'manifold3'])
def test_labels_are_exactly_balanced_per_batch(task):
    for b in task.batches(12 * task.n_outputs, 4):
        counts = np.bincount(b.targets, minlength=task.n_outputs)
        assert np.all(counts == 12), counts


def test_odd_batches_stay_nearly_balanced():
    counts = np.bincount(DelayedMatchToSample().batch(7).targets, minlength=2)
    assert sorted(counts.tolist()) == [3, 4]


def test_spike_pattern_labels_and_chance():
    task = SpikePatterns(n_patterns=12, n_classes=3)
    assert np.all(np.bincount(task.labels) == 4) and task.chance_level == pytest.approx(1 / 3)
    uneven = SpikePatterns(n_patterns=7, n_classes=3)
    assert sorted(np.bincount(uneven.labels).tolist()) == [2, 2, 3]
    assert uneven.chance_level == pytest.approx(3 / 7)


def test_digits_classes_are_nearly_balanced():
    task = SequentialDigits()
    for split in ('train', 'test'):
        _, labels = task.arrays(split)
        share = np.bincount(labels, minlength=10) / labels.size
        assert share.max() <= 0.105 and share.min() >= 0.095
    assert task.chance_level == 0.1


@pytest.mark.parametrize('n_markers', [1, 2, 3])
def test_adding_constant_predictor_loss_is_the_chance_level(n_markers):
    task = AddingTask(n_steps=20, n_markers=n_markers)
    b = task.batch(20000)
    assert b.targets.mean() == pytest.approx(n_markers / 2, abs=0.02)
    constant = np.full((20000, 1), n_markers / 2, np.float32)
    loss, acc = loss_and_accuracy(constant, b)
    assert float(loss) == pytest.approx(task.chance_level, rel=0.05)
    assert np.isnan(float(acc))


def test_copy_chance_is_per_recall_step():
    task = get_task('copy', n_symbols=5)
    assert task.chance_level == pytest.approx(0.2)
    labels = _labels(task, 'train')
    assert np.bincount(labels, minlength=5).min() / labels.size > 0.17
