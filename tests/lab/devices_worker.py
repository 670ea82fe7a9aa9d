"""Run in a subprocess by ``test_devices.py``: one SGD step and a small comparison on 1 or N devices, as JSON.

The device count of a JAX process is fixed when JAX starts (``XLA_FLAGS``), so the tests run
this script in a fresh interpreter. For every ``--devices`` value it reports, per rule, the
gradient of one training step (read off the weights: plain SGD with learning rate 1 moves
them by exactly ``-g``), how the eligibility traces are laid out over the devices, and the
numbers of a small comparison (2 seeds). With ``--coordinator`` it joins a multi-process run
first; process 0 writes the JSON.
"""
import argparse
import json
import warnings

RULES = (('d_rtrl', {}), ('es_d_rtrl', {'decay_or_rank': 0.9}))     # the two trace engines' layouts
ROW_KEYS = ('final_loss', 'heldout_accuracy', 'heldout_loss', 'cosine_to_bptt', 'rel_error_to_bptt',
            'trace_memory_bytes')


def _setup():
    from braintrace_lab import lab
    from braintrace_lab.tasks import get_task
    task = get_task('evidence', n_cues=5, n_per_group=4, delay_steps=4)
    return task, lab.LiveSNNFactory(task.n_inputs, task.n_outputs, n_hidden=8)


def one_step(devices, batch_size: int) -> dict:
    """``{rule: {'grad': {param: values}, 'traces': [layout of each trace array]}}`` after one SGD step."""
    import braintools
    import jax
    import numpy as np
    from braintrace_lab import lab
    from braintrace_lab.lab.devices import per_device_bytes
    task, factory = _setup()
    out = {}
    for name, opts in RULES:
        tr = lab.Trainer(lab.make_learner(factory, name, **opts), task, optimizer=braintools.optim.SGD(1.0),
                         batch_size=batch_size, devices=devices, check_liveness=False)
        before = {k: np.asarray(v) for k, v in jax.tree_util.tree_leaves_with_path(
            {str(p): st.value for p, st in tr.params.items()})}
        tr.step()
        after = {k: np.asarray(v) for k, v in jax.tree_util.tree_leaves_with_path(
            {str(p): st.value for p, st in tr.params.items()})}
        grad = {jax.tree_util.keystr(k): (before[k] - after[k]).ravel().tolist() for k in before}
        traces = [{'shape': list(leaf.shape), 'nbytes': int(leaf.nbytes),
                   'spec': str(getattr(leaf.sharding, 'spec', None)),
                   'shards': [list(s.data.shape) for s in leaf.addressable_shards]}
                  for leaf in jax.tree.leaves(tr.learner.eligibility_traces())]
        per_device = sorted(per_device_bytes(tr.learner.eligibility_traces()).values())
        out[name] = {'grad': grad, 'traces': traces, 'trace_bytes_per_device': per_device}
    return out


def comparison(devices, batch_size: int, seeds: int) -> dict:
    """The numbers of a small comparison (BPTT and D-RTRL, ``seeds`` seeds, 4 steps)."""
    from braintrace_lab import lab
    task, factory = _setup()
    cmp = lab.compare_algorithms(factory, task, ('bptt', 'd_rtrl'), n_steps=4, seeds=seeds,
                                 batch_size=batch_size, eval_size=2 * batch_size, record_every=2, progress=False,
                                 measure_memory=False, check_liveness=False, devices=devices)
    rows = {r['algorithm']: {k: r[k] for k in ROW_KEYS} for r in cmp.rows}
    intervals = {r['algorithm']: {k: v['half_width'] for k, v in r.get('intervals', {}).items()} for r in cmp.rows}
    return {'rows': rows, 'intervals': intervals}


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--devices', default='1', help='comma-separated device counts; 1 is the default (no mesh)')
    p.add_argument('--batch-size', type=int, default=8)
    p.add_argument('--seeds', type=int, default=2)
    p.add_argument('--coordinator')
    p.add_argument('--num-processes', type=int)
    p.add_argument('--process-id', type=int)
    p.add_argument('--out', required=True)
    a = p.parse_args()
    from braintrace_lab.lab.devices import init_distributed
    init_distributed(a.coordinator, a.num_processes, a.process_id)
    import jax
    warnings.simplefilter('ignore')
    result = {'device_count': jax.device_count(), 'process_count': jax.process_count(), 'runs': {}}
    for text in a.devices.split(','):
        devices = None if text == '1' else int(text)
        result['runs'][text] = {'step': one_step(devices, a.batch_size),
                                'compare': comparison(devices, a.batch_size, a.seeds)}
    if jax.process_index() == 0:
        with open(a.out, 'w') as f:
            json.dump(result, f)


if __name__ == '__main__':
    main()
