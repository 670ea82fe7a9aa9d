"""The per-step losses of a task add up to the task's own loss, for every target layout."""
import jax.numpy as jnp
import numpy as np
import pytest

from braintrace_lab.lab import SequenceSource, TaskSource, as_source
from braintrace_lab.models import get_fixture
from braintrace_lab.tasks import get_task

# copy: per-step labels with a recall mask; dms: one label read at the last step;
# evidence: one label scored on masked steps; adding: regression at the last step
TASKS = [('copy', {}), ('dms', {}), ('evidence', {'delay_steps': 2, 'n_cues': 3}), ('adding', {'n_steps': 10})]


@pytest.mark.parametrize('name, kwargs', TASKS, ids=[t[0] for t in TASKS])
def test_step_losses_sum_to_task_loss(name, kwargs):
    task = get_task(name, **kwargs)
    src = TaskSource(task)
    b = src.batch(5, index=0, seed=1)
    out = np.random.default_rng(0).normal(size=(b.T, b.batch_size, task.n_outputs)).astype(np.float32)
    total = sum(float(src.step_loss(jnp.asarray(out[t]), t, b)) for t in range(b.T))
    loss, acc = src.metrics(out, b)
    assert np.isclose(total, float(loss), rtol=1e-5), (total, float(loss))
    assert np.isnan(float(acc)) == (task.kind == 'regression')


def test_batches_follow_the_task_stream():
    task = get_task('dms')
    src = as_source(task)
    a, b = src.batch(4, 3, seed=2), task.batch(4, 3, seed=2)
    np.testing.assert_array_equal(a.inputs, b.inputs)
    np.testing.assert_array_equal(a.targets, b.targets)
    assert a.inputs.dtype == np.float32 and (a.T, a.batch_size) == (b.n_steps, 4)


def test_sequence_source_from_fixture_and_arrays():
    src = as_source('leaky', T=6)
    assert isinstance(src, SequenceSource) and (src.n_inputs, src.n_outputs) == (4, 3)
    b = src.batch(2, 0, 0)
    assert b.inputs.shape == (6, 2, 4) and b.targets.shape == (6, 2, 3)
    assert not np.array_equal(b.inputs, src.batch(2, 1, 0).inputs)      # a new batch per step
    fixed = as_source((np.zeros((5, 4)), np.ones((5, 3))))
    fb = fixed.batch(7)
    assert fb.inputs.shape == (5, 1, 4)                                   # unbatched arrays get B=1
    loss = sum(float(fixed.step_loss(jnp.zeros((1, 3)), t, fb)) for t in range(5))
    assert loss == pytest.approx(float(fixed.metrics(np.zeros((5, 1, 3)), fb)[0])) == pytest.approx(15.0)


def test_as_source_rejects_unknown_things():
    with pytest.raises(ValueError, match='unknown data'):
        as_source('no_such_thing')
    with pytest.raises(TypeError, match='cannot use'):
        as_source(3.0)
    assert as_source('dms').name == 'dms'
    assert as_source(get_fixture('lif')).name == 'lif'
