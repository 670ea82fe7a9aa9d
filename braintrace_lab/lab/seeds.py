"""One rule, several seeds, one compilation: restart a finished trainer from another seed's initial weights.

Compiling a rule's training step takes seconds, running it a millisecond, so a comparison
over ``K`` seeds would spend nearly all its time compiling the same functions ``K`` times.
:func:`restart` instead gives a trainer's model the initial values of a *fresh* model built
by the same model factory with the new seed (the code path a new trainer takes), puts the
optimizer back to its initial state, clears the record and points the data stream at the
new seed. The jitted step reads the states' values at every call, so nothing compiles
again, and the run is the one a new trainer with that seed would make (the tests check
this bit for bit).

>>> trainer = Trainer(factory, task, batch_size=4)
>>> init = optimizer_snapshot(trainer)          # before the first step
>>> first = trainer.run(10, progress=False)
>>> second = restart(trainer, seed=1, optimizer_init=init).run(10, progress=False)   # seed 1, no new compile
"""
from __future__ import annotations

from typing import Optional

import brainstate

from .learners import LearnerFactory, call_model_factory
from .record import TrainingRecord
from .stepping import _INITIAL, _strong

__all__ = ['optimizer_snapshot', 'restart']


def optimizer_snapshot(trainer) -> list:
    """``[(state, value)]`` of the optimizer's own states (moments, step count), taken before the first step.

    The optimizer also holds the weights it updates; those are left out: they are the
    model's, and :func:`restart` gives them the new seed's values.
    """
    weights = {id(st) for st in brainstate.graph.states(trainer.model).values()}
    return [(st, st.value) for st in brainstate.graph.states(trainer.optimizer).values() if id(st) not in weights]


def _fresh_states(trainer, seed: int) -> dict:
    """``{path: value}`` of every state of a new model from the trainer's factory, built with ``seed``."""
    factory = trainer._provider
    if not isinstance(factory, LearnerFactory):
        raise TypeError(f'restart() needs a Trainer built from a LearnerFactory (make_learner(model_factory, '
                        f'rule)), so that it can build the model of another seed; this one was given a '
                        f'{type(trainer.learner).__name__}: build one Trainer per seed instead.')
    with trainer._env():
        fresh = call_model_factory(factory.model_factory, trainer.batch_size, seed)
    return {path: st.value for path, st in brainstate.graph.states(fresh).items()}


def restart(trainer, seed: int, optimizer_init: list, checkpoint=None, label: Optional[str] = None):
    """Restart ``trainer`` at step 0 with seed ``seed``: new initial weights, optimizer, record, batches.

    ``optimizer_init`` is :func:`optimizer_snapshot` taken before the trainer's first step;
    ``checkpoint`` the path this seed's run writes to (``None``: none). Returns the trainer.
    """
    values = _fresh_states(trainer, seed)
    mine = dict(brainstate.graph.states(trainer.model).items())
    if set(values) != set(mine):
        raise RuntimeError(f'the model factory built a model with other states for seed {seed} '
                           f'({sorted(map(str, set(values) ^ set(mine)))} differ), so the compiled step of '
                           f'seed {trainer.seed} cannot train it: build one Trainer per seed instead.')
    new = {}
    for path, st in mine.items():
        st.value = _strong(values[path])
        new[id(st)] = st.value
    trainer._reset_values = [new.get(id(st), v) for st, v in zip(trainer._reset_states, trainer._reset_values)]
    try:
        _INITIAL[trainer.model] = {k: v for k, v in new.items()}
    except TypeError:                       # not weak-referenceable: nothing remembered
        pass
    for st, v in optimizer_init:
        st.value = v
    old = trainer.record
    record = TrainingRecord(algorithm=label or old.algorithm, task=old.task, oracle=old.oracle,
                            config=dict(old.config, seed=int(seed)))
    record.config.pop('resumed_at', None)
    record.config['compiled_in_seed'] = old.config.get('compiled_in_seed', old.config.get('seed'))
    record.trace_memory, record.peak_memory = dict(old.trace_memory), old.peak_memory
    trainer.record = record
    trainer._callbacks.record = record
    trainer.seed = int(seed)
    trainer.step_index = 0
    trainer._t0 = None
    trainer._compiles_before = -trainer.n_traces      # n_compiles counts this seed's compilations only
    trainer.checkpoint, trainer.checkpoint_step = checkpoint, None
    trainer.devices.place(trainer._all_states, trainer._reset_states)
    return trainer
