"""Every SNN rule trains a small live recurrent SNN on a built-in task to well above chance.

The network is :class:`LiveSNN` (input + recurrent spikes -> Linear -> LIF -> leaky
readout), made live by its input scale; the loop is the seed tutorial's (per-sample
learner under ``brainstate.nn.Vmap``, summed per-step online gradients, Adam). The
task is ``spike_patterns`` (4 classes, chance 0.25), scored at the last step on a
fresh batch, and the hidden (input + recurrent) weights must have moved: a readout
alone can memorise these patterns, so accuracy by itself would not show that the
rule's signal reaches the hidden layer. ``benchmarks/snn_family_accuracy.py`` runs
the same loop longer, BPTT included.
"""
import brainstate
import braintools
import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import braintrace_lab as bl
from braintrace_lab.models.seed_snn import LiveSNN
from braintrace_lab.models.seed_training import cross_entropy_update, per_sample_learner
from braintrace_lab.oracle import check_liveness
from braintrace_lab.tasks import get_task

N_CLASSES = 4


def _strong(v):
    return jnp.asarray(np.asarray(v))


def _train(make, needs_target=False, epochs=10, batch=16, n_rec=24, lr=3e-2):
    task = get_task('spike_patterns', n_patterns=8, n_classes=N_CLASSES, n_steps=15, n_in=20, p=0.15)
    with brainstate.environ.context(dt=1. * u.ms):
        brainstate.random.seed(1)
        model = LiveSNN(20, n_rec, N_CLASSES, input_scale=20.0)
        weights = model.states(brainstate.ParamState)
        for w in weights.values():               # strong dtypes (a ZeroInit bias is weakly typed): compile once
            w.value = jax.tree.map(_strong, w.value)
        opt = braintools.optim.Adam(lr)
        opt.register_trainable_weights(weights)

        learner = make(model)
        # per-sample states, made once, outside jit
        batched = per_sample_learner(model, learner, jnp.zeros((task.n_inputs,), jnp.float32), batch)
        fresh = [(st, jax.tree.map(_strong, st.value))
                 for st in learner.states().values() if not isinstance(st, brainstate.ParamState)]
        for st, value in fresh:
            st.value = value

        @brainstate.transform.jit
        def step(inputs, targets):
            for st, value in fresh:              # every sequence starts from rest, with zero traces
                st.value = value
            if needs_target:
                learner.set_target(jax.nn.one_hot(targets, N_CLASSES))
            return cross_entropy_update(batched, weights, opt, inputs, targets)

        w0 = np.asarray(u.get_mantissa(model.linear.weight.value['weight']))
        losses = [float(step(jnp.asarray(b.inputs), jnp.asarray(b.targets))) for b in task.batches(batch, epochs)]
        test = task.batch(32, 0, split='test')
        brainstate.nn.init_all_states(model, batch_size=32)
        outs = brainstate.transform.for_loop(model, jnp.asarray(test.inputs))
        _, acc = task.loss_and_accuracy(outs, test)
        brainstate.nn.init_all_states(model, batch_size=4)
        report = check_liveness(model, jnp.asarray(test.inputs[:, :4]))
        moved = float(np.abs(np.asarray(u.get_mantissa(model.linear.weight.value['weight'])) - w0).max())
    return losses, float(acc), report, task.chance_level, moved


RULES = {
    'eprop_random_kappa': (lambda m: bl.EProp(m, feedback='random', kappa=0.5), False, 15),
    'ostl_recurrent': (lambda m: bl.OSTLRecurrent(m), False, 15),
    'ostl_feedforward': (lambda m: bl.OSTLFeedforward(m), False, 15),
    'otpe_full': (lambda m: bl.OTPE(m, mode='full'), False, 15),
    'otpe_approx': (lambda m: bl.OTPE(m, mode='approx'), False, 15),
    'ottt': (lambda m: bl.OTTT(m, mode='A'), False, 15),
    # no backprop into the hidden layer: it learns more slowly
    'osttp': (lambda m: bl.OSTTP(m, target_shape=(N_CLASSES,)), True, 25),
}


@pytest.mark.parametrize('name', list(RULES))
def test_rule_trains_a_live_snn(name):
    make, needs_target, epochs = RULES[name]
    losses, acc, report, chance, moved = _train(make, needs_target, epochs=epochs)
    print(f'{name}: loss {losses[0]:.3f} -> {np.mean(losses[-3:]):.3f}, accuracy {acc:.2f} (chance {chance}), '
          f'hidden weights moved by up to {moved:.3f}')
    assert report.is_live, report.message
    assert moved > 1e-3, f'{name}: the hidden layer did not learn (only the readout did)'   # not a blind test
    assert np.mean(losses[-3:]) < 0.8 * losses[0], (name, losses)
    assert acc >= 2 * chance, (name, acc, chance)
