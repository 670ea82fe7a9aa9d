"""The common interface: registry, shapes, dtypes, determinism, repr, iterator, loss."""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from braintrace_lab import tasks
from braintrace_lab.tasks import Batch, available_tasks, get_task, loss_and_accuracy

NAMES = ('copy', 'adding', 'dms', 'evidence', 'digits', 'digits_spikes', 'manifold', 'spike_patterns')


def test_registry_lists_every_task():
    assert available_tasks() == NAMES


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match='unknown task name') as info:
        get_task('mnist')
    for name in NAMES:
        assert repr(name) in str(info.value)


def test_unknown_argument_names_it_and_the_valid_ones():
    with pytest.raises(TypeError, match='n_symbol') as info:
        get_task('copy', n_symbol=3)
    assert 'n_symbols' in str(info.value)


def test_name_is_normalised_and_defaults_overridable():
    task = get_task('Digits-Spikes', spike_steps=7)
    assert task.encoding == 'rate' and task.n_steps == 7
    assert get_task('digits_spikes', encoding='latency').encoding == 'latency'


def test_batch_shapes_and_dtypes(task):
    b = task.batch(6, 0)
    assert isinstance(b, Batch)
    T, F = task.n_steps, task.n_inputs
    assert b.inputs.shape == (T, 6, F) and b.inputs.dtype == np.float32
    assert np.all(np.isfinite(b.inputs))
    assert (b.n_steps, b.batch_size) == (T, 6)
    assert b.kind == task.kind
    if task.kind == 'classification':
        assert b.targets.dtype == np.int32
        assert b.targets.shape in ((6,), (T, 6))
        assert b.targets.min() >= 0 and b.targets.max() < task.n_outputs
    else:
        assert b.targets.dtype == np.float32 and b.targets.shape == (6,)
    if b.targets.ndim == 2:
        assert b.mask is not None
    if b.mask is not None:
        assert b.mask.shape == (T, 6) and b.mask.dtype == bool and b.mask.any()


def test_same_seed_same_arrays_other_seed_other_arrays(task):
    twin = dataclasses.replace(task)                  # a fresh instance, same settings
    a, b = task.batch(8, 3), twin.batch(8, 3)
    np.testing.assert_array_equal(a.inputs, b.inputs)
    np.testing.assert_array_equal(a.targets, b.targets)
    other = dataclasses.replace(task, seed=1).batch(8, 3)
    assert not np.array_equal(a.inputs, other.inputs)
    assert not np.array_equal(a.inputs, task.batch(8, 4).inputs)            # another index
    assert not np.array_equal(a.inputs, task.batch(8, 3, seed=1).inputs)    # another stream
    assert not np.array_equal(a.inputs, task.batch(8, 3, split='test').inputs)


def test_batches_iterator_matches_batch(task):
    got = list(task.batches(4, 3, seed=2, start=5))
    assert len(got) == 3
    for i, b in enumerate(got):
        np.testing.assert_array_equal(b.inputs, task.batch(4, 5 + i, seed=2).inputs)


def test_batches_validates_eagerly():
    task = get_task('adding')
    with pytest.raises(ValueError, match='n_batches'):
        task.batches(4, 0)
    with pytest.raises(ValueError, match='batch_size'):
        task.batches(0, 3)            # raised before iterating
    with pytest.raises(ValueError, match='start'):
        task.batches(4, 3, start=-2)


@pytest.mark.parametrize('kwargs, exc, arg', [
    ({'batch_size': 0}, ValueError, 'batch_size'),
    ({'batch_size': 2.5}, TypeError, 'batch_size'),
    ({'batch_size': 4, 'index': -1}, ValueError, 'index'),
    ({'batch_size': 4, 'seed': True}, TypeError, 'seed'),
    ({'batch_size': 4, 'split': 'valid'}, ValueError, 'split'),
])
def test_batch_argument_errors(kwargs, exc, arg):
    with pytest.raises(exc, match=arg):
        get_task('copy').batch(**kwargs)


def test_repr_and_describe(task):
    text = repr(task)
    assert text.startswith(type(task).__name__ + '(') and 'seed=0' in text
    about = task.describe()
    assert type(task).__name__ in about and 'chance' in about and f'T={task.n_steps}' in about
    assert 'Batch(' in repr(task.batch(2))


def test_n_classes_only_for_classification():
    assert get_task('manifold', n_classes=3).n_classes == 3
    assert get_task('copy').n_classes == 4
    with pytest.raises(AttributeError, match='regression'):
        get_task('adding').n_classes


def test_tasks_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        get_task('copy').delay = 3


def _perfect_logits(batch, n_out):
    labels = batch.targets if batch.targets.ndim == 2 else np.broadcast_to(batch.targets, batch.inputs.shape[:2])
    return 20.0 * np.eye(n_out, dtype=np.float32)[labels]


def test_loss_perfect_and_uniform_outputs(task):
    b = task.batch(16, 0)
    if task.kind == 'regression':
        outputs = np.broadcast_to(b.targets[None, :, None], (task.n_steps, 16, 1))
        loss, acc = task.loss_and_accuracy(outputs, b)
        assert float(loss) == pytest.approx(0.0, abs=1e-10) and np.isnan(float(acc))
        return
    loss, acc = task.loss_and_accuracy(_perfect_logits(b, task.n_outputs), b)
    assert float(acc) == 1.0 and float(loss) < 1e-6
    loss, acc = loss_and_accuracy(np.zeros((task.n_steps, 16, task.n_outputs), np.float32), b)
    assert float(loss) == pytest.approx(np.log(task.n_outputs), rel=1e-5)


def test_loss_reads_last_step_without_mask():
    task = get_task('dms')
    b = task.batch(8)
    logits = np.zeros((task.n_steps, 8, 2), np.float32)
    logits[-1] = 20.0 * np.eye(2)[b.targets]
    logits[:-1] = 20.0 * np.eye(2)[1 - b.targets]     # wrong everywhere but the last step
    _, acc = loss_and_accuracy(logits, b)
    assert float(acc) == 1.0
    _, acc2d = loss_and_accuracy(logits[-1], b)        # already read out
    assert float(acc2d) == 1.0


def test_loss_uses_mask_steps_only():
    task = get_task('copy')
    b = task.batch(8)
    logits = np.array(_perfect_logits(b, task.n_outputs))
    logits[~b.mask] = -logits[~b.mask]                 # garbage outside the recall window
    loss, acc = loss_and_accuracy(logits, b)
    assert float(acc) == 1.0


def test_loss_is_jittable_and_differentiable():
    task = get_task('evidence')
    b = task.batch(8)

    @jax.jit
    def objective(w, batch):
        logits = batch.inputs @ w
        return loss_and_accuracy(logits, batch)[0]

    w = jnp.zeros((task.n_inputs, 2))
    g = jax.grad(objective)(w, b)
    assert g.shape == w.shape and bool(jnp.all(jnp.isfinite(g)))
    leaves = jax.tree_util.tree_leaves(b)
    assert len(leaves) == 3                               # inputs, targets, mask


def test_loss_shape_errors():
    b = get_task('dms').batch(4)
    with pytest.raises(ValueError, match='logits'):
        loss_and_accuracy(np.zeros((8, 5, 2)), b)
    r = get_task('adding').batch(4)
    with pytest.raises(ValueError, match='regression targets'):
        loss_and_accuracy(np.zeros((30, 4, 3)), r)


def test_public_names_exported():
    for name in tasks.__all__:
        assert hasattr(tasks, name)
