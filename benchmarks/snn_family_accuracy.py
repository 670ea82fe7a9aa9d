"""Train a live recurrent SNN with every SNN online rule and with BPTT; print the accuracies side by side.

    .venv/bin/python benchmarks/snn_family_accuracy.py                       # spike_patterns, ~5 min on 2 CPUs
    .venv/bin/python benchmarks/snn_family_accuracy.py --task evidence --epochs 150
    .venv/bin/python benchmarks/snn_family_accuracy.py --rules ottt,osttp,bptt --epochs 20

The network is ``LiveSNN`` (input + recurrent spikes -> Linear -> LIF -> leaky
readout). Online rules run the seed tutorial's loop: a per-sample learner under
``brainstate.nn.Vmap``, per-step online gradients summed over the sequence, Adam,
global-norm clipping at 1. BPTT uses the ``BPTT`` learner on the batched model
(one window over the whole sequence). Every rule starts from the same weights and
sees the same batches. The loss of step ``t`` is the cross-entropy against the
sequence label, weighted by the task's mask (all steps when it has none); the
accuracy is the task's own (last step, or the masked recall steps) on a held-out
batch of 128 sequences.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import brainstate
import braintools
import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

import braintrace_lab as bl  # noqa: E402
from braintrace_lab.models.seed_snn import LiveSNN  # noqa: E402
from braintrace_lab.oracle import check_liveness  # noqa: E402

RULES = {
    'eprop': lambda m, C: bl.EProp(m),
    'eprop_random_kappa': lambda m, C: bl.EProp(m, feedback='random', kappa=0.5),
    'ostl_recurrent': lambda m, C: bl.OSTLRecurrent(m),
    'ostl_feedforward': lambda m, C: bl.OSTLFeedforward(m),
    'otpe_full': lambda m, C: bl.OTPE(m, mode='full'),
    'otpe_approx': lambda m, C: bl.OTPE(m, mode='approx'),
    'ottt_A': lambda m, C: bl.OTTT(m, mode='A'),
    'ottt_O': lambda m, C: bl.OTTT(m, mode='O'),
    'osttp': lambda m, C: bl.OSTTP(m, target_shape=(C,)),
    'd_rtrl': lambda m, C: bl.D_RTRL(m),
    'bptt': None,
}

TASKS = {
    'spike_patterns': dict(n_patterns=20, n_classes=10, n_steps=30, n_in=50, p=0.1),
    'evidence': dict(),
}


def _strong(v):
    return jnp.asarray(np.asarray(v))


def _step_weights(task, batch):
    mask = batch.mask if batch.mask is not None else np.ones(batch.inputs.shape[:2], bool)
    w = mask.astype(np.float32)
    return jnp.asarray(w / w.sum(axis=0, keepdims=True).clip(1.0) / w.shape[1])     # mean over batch


def train(rule, task, epochs, batch_size, n_rec, lr, seed):
    C = task.n_classes
    with brainstate.environ.context(dt=1. * u.ms):
        brainstate.random.seed(seed)
        model = LiveSNN(task.n_inputs, n_rec, C)
        weights = model.states(brainstate.ParamState)
        for w in weights.values():
            w.value = jax.tree.map(_strong, w.value)
        opt = braintools.optim.Adam(lr)
        opt.register_trainable_weights(weights)
        ce = braintools.metric.softmax_cross_entropy_with_integer_labels

        if rule == 'bptt':
            brainstate.nn.init_all_states(model, batch_size=batch_size)
            learner = bl.BPTT(model)
            learner.compile_graph(jnp.zeros((batch_size, task.n_inputs), jnp.float32))
            fresh = [(st, jax.tree.map(_strong, st.value)) for st in learner.states().values()
                     if not isinstance(st, brainstate.ParamState)]

            @brainstate.transform.jit
            def step(inputs, targets, wt):
                for st, value in fresh:
                    st.value = value

                def loss_fn():
                    outs = learner(inputs)                                     # (T, B, C)
                    per = jax.vmap(lambda o: ce(o, targets))(outs)             # (T, B)
                    return jnp.sum(per * wt), per
                grads, per = brainstate.transform.grad(loss_fn, weights, has_aux=True)()
                opt.update(brainstate.nn.clip_grad_norm(grads, 1.0))
                return jnp.sum(per * wt)
        else:
            learner = RULES[rule](model, C)

            @brainstate.transform.vmap_new_states(state_tag='new', axis_size=batch_size)
            def init():
                brainstate.nn.init_all_states(model)
                learner.compile_graph(jnp.zeros((task.n_inputs,), jnp.float32))

            init()
            fresh = [(st, jax.tree.map(_strong, st.value)) for st in learner.states().values()
                     if not isinstance(st, brainstate.ParamState)]
            batched = brainstate.nn.Vmap(learner, vmap_states='new')

            @brainstate.transform.jit
            def step(inputs, targets, wt):
                for st, value in fresh:
                    st.value = value
                if isinstance(learner, bl.OSTTP):
                    learner.set_target(jax.nn.one_hot(targets, C))

                def body(acc, xw):
                    x, w_t = xw
                    g, loss = brainstate.transform.grad(lambda: jnp.sum(ce(batched(x), targets) * w_t),
                                                        weights, return_value=True)()
                    return jax.tree.map(jnp.add, acc, g), loss

                zero = jax.tree.map(jnp.zeros_like, weights.to_dict_values())
                grads, losses = brainstate.transform.scan(body, zero, (inputs, wt))
                opt.update(brainstate.nn.clip_grad_norm(grads, 1.0))
                return losses.sum()

        t0 = time.time()
        losses = []
        for b in task.batches(batch_size, epochs, seed=seed):
            losses.append(float(step(jnp.asarray(b.inputs), jnp.asarray(b.targets), _step_weights(task, b))))
        elapsed = time.time() - t0
        test = task.batch(128, 0, split='test', seed=seed)
        brainstate.nn.init_all_states(model, batch_size=128)
        outs = brainstate.transform.for_loop(model, jnp.asarray(test.inputs))
        _, acc = task.loss_and_accuracy(outs, test)
        brainstate.nn.init_all_states(model, batch_size=8)
        live = check_liveness(model, jnp.asarray(test.inputs[:, :8]))
    mem = sum(learner.trace_memory().values())
    return dict(loss0=losses[0], loss=float(np.mean(losses[-5:])), acc=float(acc), live=live.is_live,
                seconds=elapsed, trace_bytes=mem)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--task', default='spike_patterns', choices=sorted(TASKS))
    ap.add_argument('--rules', default=','.join(RULES))
    ap.add_argument('--epochs', type=int, default=60, help='training batches')
    ap.add_argument('--batch', type=int, default=16)
    ap.add_argument('--hidden', type=int, default=64)
    ap.add_argument('--lr', type=float, default=2e-2)
    ap.add_argument('--seed', type=int, default=0)
    args = ap.parse_args(argv)
    task = bl.tasks.get_task(args.task, **TASKS[args.task])
    names = [r.strip() for r in args.rules.split(',') if r.strip()]
    unknown = [r for r in names if r not in RULES]
    if unknown:
        ap.error(f'unknown rules {unknown}; choose from {list(RULES)}')
    print(f'task {args.task}: T={task.n_steps}, inputs={task.n_inputs}, classes={task.n_classes}, '
          f'chance {task.chance_level:.3f}; LiveSNN hidden={args.hidden}, batch={args.batch}, '
          f'{args.epochs} batches, Adam lr={args.lr}, seed={args.seed}; jax {jax.__version__} on '
          f'{jax.devices()[0].platform}', flush=True)
    header = f'{"rule":20s} {"loss start":>10s} {"loss end":>9s} {"accuracy":>9s} {"live":>5s} ' \
             f'{"trace bytes":>12s} {"seconds":>8s}'
    print(header)
    print('-' * len(header))
    for name in names:
        r = train(name, task, args.epochs, args.batch, args.hidden, args.lr, args.seed)
        mem = str(r['trace_bytes']) if name != 'bptt' else 'whole seq.'
        print(f'{name:20s} {r["loss0"]:10.3f} {r["loss"]:9.3f} {r["acc"]:9.3f} {str(r["live"]):>5s} '
              f'{mem:>12s} {r["seconds"]:8.1f}', flush=True)


if __name__ == '__main__':
    main()
