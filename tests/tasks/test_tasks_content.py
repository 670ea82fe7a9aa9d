"""Each task's inputs and targets mean what its docstring says."""
import dataclasses

import numpy as np
import pytest

from braintrace_lab.tasks import (AddingTask, CopyTask, DelayedMatchToSample, EvidenceAccumulation,
                                  RandomManifold, SequentialDigits, SpikePatterns)


def test_copy_recall_targets_repeat_the_presented_symbols():
    task = CopyTask(n_symbols=5, seq_len=4, delay=3)
    b = task.batch(32)
    L, D, S = 4, 3, 5
    shown = b.inputs[:L, :, :S].argmax(-1)                     # (L, B)
    assert np.all(b.inputs[:L, :, :S].sum(-1) == 1)
    np.testing.assert_array_equal(b.targets[L + D:], shown)
    assert np.all(b.inputs[L:L + D] == 0)                       # silent delay
    assert np.all(b.inputs[L + D:, :, S] == 1) and np.all(b.inputs[:L + D, :, S] == 0)
    assert np.all(b.mask[L + D:]) and not b.mask[:L + D].any()


def test_adding_targets_sum_the_marked_values():
    task = AddingTask(n_steps=15, n_markers=3)
    b = task.batch(64)
    values, markers = b.inputs[..., 0], b.inputs[..., 1]
    assert np.all(markers.sum(0) == 3) and set(np.unique(markers)) <= {0.0, 1.0}
    assert values.min() >= 0 and values.max() < 1
    np.testing.assert_allclose(b.targets, (values * markers).sum(0), rtol=1e-6)


def test_dms_label_says_whether_test_equals_sample():
    task = DelayedMatchToSample(n_stimuli=5, sample_steps=2, delay_steps=3, test_steps=1)
    b = task.batch(200)
    sample, test = b.inputs[0].argmax(-1), b.inputs[-1].argmax(-1)
    np.testing.assert_array_equal(b.targets, (sample == test).astype(np.int32))
    assert np.all(b.inputs[2:5] == 0)
    nonmatch_tests = test[b.targets == 0]
    assert len(np.unique(nonmatch_tests)) == 5                  # all stimuli used as distractors


def test_dms_noise_is_added():
    clean = DelayedMatchToSample().batch(8)
    noisy = DelayedMatchToSample(noise=0.2).batch(8)
    np.testing.assert_array_equal(clean.targets, noisy.targets)
    assert np.std(noisy.inputs - clean.inputs) == pytest.approx(0.2, rel=0.2)


def test_evidence_label_is_the_majority_side_of_the_cue_spikes():
    task = EvidenceAccumulation(cue_rate=0.6)
    b = task.batch(64)
    g, period = task.groups, task.cue_steps + task.gap_steps
    left_votes = np.zeros(64, int)
    for k in range(task.n_cues):
        window = b.inputs[k * period:k * period + task.cue_steps]
        left = window[:, :, g['left']].sum((0, 2))
        right = window[:, :, g['right']].sum((0, 2))
        assert np.all((left > 0) != (right > 0))               # exactly one side per cue
        left_votes += left > 0
    np.testing.assert_array_equal(b.targets, (left_votes < task.n_cues / 2).astype(np.int32))
    recall = b.inputs[:, :, g['recall']].sum((1, 2))
    assert recall[:-task.recall_steps].sum() == 0 and np.all(recall[-task.recall_steps:] > 0)
    assert np.all(b.mask[-task.recall_steps:]) and not b.mask[:-task.recall_steps].any()


def test_evidence_spike_rates():
    task = EvidenceAccumulation()
    b = task.batch(256)
    assert set(np.unique(b.inputs)) <= {0.0, 1.0}
    assert b.inputs[:, :, task.groups['noise']].mean() == pytest.approx(task.noise_rate, rel=0.1)


def test_digits_split_is_disjoint_stratified_and_seeded():
    task = SequentialDigits(test_fraction=0.25)
    train_idx, test_idx = task._split_indices['train'], task._split_indices['test']
    assert not set(train_idx) & set(test_idx) and task.n_train + task.n_test == 1797
    _, test_labels = task.arrays('test')
    assert np.all(np.abs(np.bincount(test_labels) - 45) <= 1)
    other = SequentialDigits(seed=1)._split_indices['test']
    assert set(other) != set(test_idx)


def test_digits_rows_encoding_shows_the_image_and_test_batches_hold_test_images():
    task = SequentialDigits(encoding='rows', repeat=3)
    b = task.batch(40, split='test')
    assert b.inputs.shape == (24, 40, 8)
    images = np.transpose(b.inputs[::3], (1, 0, 2))             # (B, 8, 8)
    np.testing.assert_array_equal(b.inputs[1::3], b.inputs[::3])
    test_images, test_labels = task.arrays('test')
    lookup = {img.tobytes(): lab for img, lab in zip(test_images, test_labels)}
    for img, lab in zip(images, b.targets):
        assert lookup[img.tobytes()] == lab
    assert 0.0 <= b.inputs.min() and b.inputs.max() <= 1.0


def test_digits_batch_larger_than_split_is_refused():
    task = SequentialDigits()
    with pytest.raises(ValueError, match='batch_size'):
        task.batch(task.n_test + 1, split='test')
    full = task.dataset('test')
    assert full.inputs.shape == (8, task.n_test, 8)


def test_digits_rate_spikes_have_a_sane_firing_rate():
    task = SequentialDigits(encoding='rate', spike_steps=30, max_rate=0.5)
    b = task.batch(200)
    assert set(np.unique(b.inputs)) <= {0.0, 1.0}
    rate = b.inputs.mean()
    assert 0.05 < rate < 0.3                                  # about 0.5 * mean intensity (0.3)
    images, _ = task.arrays('train')
    assert rate == pytest.approx(0.5 * images.mean(), rel=0.15)
    never = task.dataset('train').inputs.sum(0) == 0           # dark pixels stay silent
    assert never.mean() > 0.2


def test_digits_latency_spikes_once_per_lit_pixel_brightest_first():
    task = SequentialDigits(encoding='latency', spike_steps=16)
    full = task.dataset('test')
    images, _ = task.arrays('test')
    pixels = images.reshape(len(images), 64)
    counts = full.inputs.sum(0)                                 # (N, 64)
    np.testing.assert_array_equal(counts, (pixels > 0).astype(np.float32))
    first = full.inputs.argmax(0)
    assert np.all(first[pixels == 1.0] == 0)
    lit = pixels > 0
    assert np.corrcoef(first[lit], pixels[lit])[0, 1] < -0.99


def test_manifold_templates_are_fixed_smooth_and_bounded():
    task = RandomManifold(n_classes=3, n_in=12, n_steps=50, smooth_steps=4.0, max_rate=0.25)
    tpl = task.templates
    assert tpl.shape == (3, 3, 50, 12) and tpl.min() >= 0 and tpl.max() <= 0.25
    np.testing.assert_array_equal(tpl, dataclasses.replace(task).templates)
    assert not np.array_equal(tpl, dataclasses.replace(task, seed=3).templates)
    steps = np.abs(np.diff(tpl, axis=2)).mean()
    spread = np.abs(tpl - tpl.mean()).mean()
    assert steps < 0.3 * spread                                 # smooth in time
    rough = RandomManifold(n_classes=3, n_in=12, n_steps=50, smooth_steps=0.0, max_rate=0.25).templates
    assert np.abs(np.diff(rough, axis=2)).mean() > 2 * steps


def test_manifold_spike_rate_follows_the_templates():
    task = RandomManifold()
    b = task.batch(400)
    assert set(np.unique(b.inputs)) <= {0.0, 1.0}
    assert b.inputs.mean() == pytest.approx(task.templates.mean(), rel=0.1)


def test_spike_patterns_replay_the_stored_patterns():
    task = SpikePatterns(n_patterns=10, n_steps=15, n_in=12, p=0.2, n_classes=2)
    b = task.batch(50)
    stored = {pat.tobytes(): lab for pat, lab in zip(task.patterns.astype(np.float32), task.labels)}
    for i in range(50):
        assert stored[np.ascontiguousarray(b.inputs[:, i]).tobytes()] == b.targets[i]
    assert task.patterns.mean() == pytest.approx(0.2, abs=0.03)
    full = task.dataset()
    np.testing.assert_array_equal(full.targets, task.labels)
    test = task.batch(50, split='test')                         # same patterns, other order
    for i in range(50):
        assert np.ascontiguousarray(test.inputs[:, i]).tobytes() in stored


def test_spike_patterns_flips_bits_at_the_given_rate():
    exact = SpikePatterns(n_patterns=4, n_steps=30, n_in=20)
    noisy = dataclasses.replace(exact, flip_prob=0.05)
    np.testing.assert_array_equal(exact.patterns, noisy.patterns)
    b = noisy.batch(100)
    shown = np.transpose(b.inputs, (1, 0, 2)).astype(bool)                # (B, T, F)
    distance = (shown[:, None] != noisy.patterns[None]).mean(axis=(2, 3))  # (B, n_patterns)
    nearest = noisy.patterns[distance.argmin(axis=1)]
    assert np.mean(nearest != shown) == pytest.approx(0.05, abs=0.01)
