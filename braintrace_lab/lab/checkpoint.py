"""Checkpoints of training runs: write every N steps, resume bit for bit, refuse what does not fit.

A checkpoint of a :class:`~braintrace_lab.lab.Trainer` holds everything the next step
depends on: every state of the learner (weights, hidden states, eligibility traces and
other learner states) and of the optimizer (moments, step count, learning rate), the
global ``brainstate.random`` key, the step index (batches are indexed by
``(batch_size, step, seed)``, so the data stream needs nothing more) and the
:class:`~braintrace_lab.lab.TrainingRecord` so far.

Format: braintools' msgpack checkpoint (``braintools.file.msgpack_save`` /
``msgpack_load``), which writes atomically: the bytes go to a temporary file in the same
folder, which then replaces the checkpoint, so a crash while writing leaves the last
good checkpoint in place. Reading refuses a truncated or foreign file, and a
checkpoint of another rule, model (parameter paths or shapes) or data stream, naming
the difference, before anything is changed.

>>> record = train(factory, task, n_steps=1000, checkpoint='run.ckpt', checkpoint_every=100)
>>> record = train(factory, task, n_steps=1000, checkpoint='run.ckpt', resume='run.ckpt')
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import uuid
from typing import Optional

import numpy as np

from .faults import CheckpointError, CheckpointWriteError, check_positive_int
from .record import TrainingRecord

__all__ = ['check_checkpoint_args', 'check_writable', 'optimizer_settings', 'save_trainer', 'restore_trainer',
           'read_checkpoint', 'write_atomic', 'record_from_payload', 'rule_checkpoint_path', 'prepare_comparison_dir', 'write_manifest', 'FORMAT',
           'VERSION']

FORMAT = 'braintrace-lab checkpoint'
VERSION = 1
MANIFEST = 'comparison.json'
# settings that decide the weights a run reaches: a resumed run must share them
DATA_KEYS = ('task', 'batch_size', 'seed', 'T', 'chunk')


# ---------------------------------------------------------------------------- files
def write_atomic(path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f'.{os.path.basename(path)}.tmp-{uuid.uuid4().hex[:12]}')
    try:
        with open(tmp, 'wb') as fp:
            fp.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _listed(d) -> list:
    """A list that braintools' msgpack format stored as ``{'0': ..., '1': ...}``, back as a list."""
    return [d[str(i)] for i in range(len(d))] if isinstance(d, dict) else list(d)


def read_checkpoint(path) -> dict:
    """The payload of the checkpoint at ``path``; :class:`CheckpointError` if it cannot be one."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'no checkpoint at {path!r}: give the path a run wrote with checkpoint=, '
                                f'or start a new run without resume=.')
    import braintools        # imported on use: it pulls in plotly, and the lab imports no Jupyter package
    try:
        payload = braintools.file.msgpack_load(path)
    except Exception as err:
        raise CheckpointError(f'checkpoint {path!r} cannot be read: it is truncated or not a braintrace-lab '
                              f'checkpoint ({type(err).__name__}: {err}); resume from an intact checkpoint '
                              f'or start a new run without resume=.') from None
    needed = ('algorithm', 'step', 'states', 'params', 'data', 'record')
    if not isinstance(payload, dict) or payload.get('format') != FORMAT or any(k not in payload for k in needed):
        raise CheckpointError(f'checkpoint {path!r} is not a braintrace-lab checkpoint (no {FORMAT!r} header '
                              f'with its fields); resume from a file written with checkpoint=.')
    if payload.get('version') != VERSION:
        raise CheckpointError(f'checkpoint {path!r} has format version {payload.get("version")!r}; this '
                              f'braintrace-lab reads version {VERSION}: resume it with the version that wrote it.')
    payload['params'] = {k: [_listed(s) for s in _listed(v)] for k, v in payload['params'].items()}
    payload['states'] = {g: {k: _listed(v) for k, v in d.items()} for g, d in payload['states'].items()}
    return payload


def check_writable(path, what: str = 'checkpoint') -> str:
    """``path`` (absolute) if a file can be written there; else an ``OSError`` naming why, before any training.

    An existing file must open for appending (nothing is written); a new one needs its
    nearest existing folder to be a folder (not a file) that this process may write in.
    """
    path = os.path.abspath(os.fspath(path))
    if os.path.isdir(path):
        raise IsADirectoryError(f'{what}={path!r} is a directory; give a file path, e.g. '
                                f'{os.path.join(path, "run.ckpt" if what == "checkpoint" else "report.html")!r}.')
    if os.path.exists(path):
        try:
            open(path, 'ab').close()
        except OSError as err:
            raise PermissionError(f'{what}={path!r} cannot be written ({err.strerror or err}); choose a path in a '
                                  f'folder you can write to.') from None
        return path
    folder = os.path.dirname(path)
    while not os.path.exists(folder):
        folder = os.path.dirname(folder)
    if not os.path.isdir(folder):
        raise NotADirectoryError(f'{what}={path!r} cannot be created: {folder!r} is a file, not a folder; choose '
                                 f'a path in a folder (missing folders are created).')
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(f'{what}={path!r} cannot be created: no permission to write in {folder!r}; choose '
                              f'a path in a folder you can write to.')
    return path


def _check_path_arg(value, name: str, form: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (str, os.PathLike)):
        raise TypeError(f'{name}={value!r}: lab.train takes {name}=PATH, {form}'
                        + (' (resume=True is compare_algorithms\'s form, whose checkpoint= is a folder)'
                           if value is True and name == 'resume' else '') + '.')


def check_checkpoint_args(checkpoint, every, resume) -> Optional[int]:
    """``checkpoint_every`` checked (it needs ``checkpoint``); an existing file only when it is the one resumed;
    paths (not ``True``) that can be written, so that no run trains and then fails to save."""
    if resume is not None:
        _check_path_arg(resume, 'resume', 'the checkpoint file of the run to continue, e.g. '
                                          "checkpoint='run.ckpt', resume='run.ckpt'")
    if checkpoint is not None:
        _check_path_arg(checkpoint, 'checkpoint', "the file to write, e.g. checkpoint='run.ckpt'")
    if every is not None:
        every = check_positive_int(every, 'checkpoint_every', 10)
        if checkpoint is None:
            raise ValueError(f'checkpoint_every={every} needs checkpoint=PATH (the file to write).')
    if checkpoint is not None:
        check_writable(checkpoint)               # a folder, a file as parent folder, /proc/...: refused now
    same = resume is not None and checkpoint is not None and \
        os.path.abspath(os.fspath(checkpoint)) == os.path.abspath(os.fspath(resume))
    if checkpoint is not None and os.path.exists(checkpoint) and not same:
        raise FileExistsError(f'checkpoint={os.fspath(checkpoint)!r} already exists; pass resume= with the same '
                              f'path to continue that run, or choose another path (or delete it) to start a new one.')
    return every


# ---------------------------------------------------------------------------- state <-> arrays
def _key(path) -> str:
    parts = []
    for p in path:
        parts.extend(_key(p).split('.') if isinstance(p, tuple) else [str(p)])
    return '.'.join(parts)


def _states(trainer) -> dict:
    """``{'learner': {key: State}, 'optimizer': {key: State}}``, each state once."""
    import brainstate
    from .learners import is_online
    owner = trainer.learner if is_online(trainer.learner) else trainer.model
    groups, seen = {'learner': {}, 'optimizer': {}}, set()
    for group, obj in (('learner', owner), ('optimizer', trainer.optimizer)):
        for path, st in brainstate.graph.states(obj).items():
            if id(st) not in seen:
                seen.add(id(st))
                groups[group][_key(path)] = st
    return groups


def _is_key(x) -> bool:
    import jax
    return hasattr(x, 'dtype') and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def _to_numpy(x) -> np.ndarray:
    import jax
    return np.asarray(jax.random.key_data(x) if _is_key(x) else x)


def _from_numpy(arr: np.ndarray, like):
    import jax
    import jax.numpy as jnp
    if _is_key(like):
        return jax.random.wrap_key_data(jnp.asarray(arr), impl=jax.random.key_impl(like))
    return jnp.asarray(arr)


def _leaves(value) -> list:
    import jax
    return [_to_numpy(x) for x in jax.tree.leaves(value)]


def _param_shapes(trainer) -> dict:
    from ..oracle import path_str
    return {path_str(k): [list(a.shape) for a in _leaves(st.value)] for k, st in trainer.params.items()}


_PLAIN = (bool, int, float, str, type(None))
_NOT_SETTINGS = ('opt_state', 'param_groups', 'param_groups_opt_states', 'step_count', 'param_states', 'tx')


def _settings_of(obj) -> dict:
    """The public attributes of ``obj`` that are plain numbers, text or tuples of them (its hyperparameters)."""
    out = {}
    for k, v in sorted(vars(obj).items()):
        if k.startswith('_') or k in _NOT_SETTINGS:
            continue
        if isinstance(v, _PLAIN) or isinstance(v, (tuple, list)) and v and all(isinstance(x, _PLAIN) for x in v):
            out[k] = list(v) if isinstance(v, (tuple, list)) else v
    return out


def optimizer_settings(optimizer) -> dict:
    """What decides the optimizer's updates: its class, learning rate (and schedule) and hyperparameters."""
    out = {'optimizer': type(optimizer).__name__}
    base = getattr(optimizer, '_base_lr', None)
    if isinstance(base, (int, float)):
        out['lr'] = float(base)
    schedule = getattr(optimizer, '_lr_scheduler', None)
    if schedule is not None:
        out['lr_schedule'] = type(schedule).__name__
        out.update({f'lr_schedule.{k}': v for k, v in _settings_of(schedule).items()})
    out.update(_settings_of(optimizer))
    return json.loads(json.dumps(out))               # as it reads back from a checkpoint


def _data_config(trainer) -> dict:
    return {'task': trainer.source.name, 'batch_size': trainer.batch_size, 'seed': trainer.seed,
            'T': trainer.record.config.get('T'), 'chunk': trainer.chunk}


def save_trainer(trainer, path, finished: bool = False) -> str:
    """Write ``trainer``'s checkpoint to ``path`` (atomically); return the path."""
    import brainstate
    states = {g: {k: _leaves(st.value) for k, st in d.items()} for g, d in _states(trainer).items()}
    last = getattr(trainer, '_last_step', None)
    payload = {'format': FORMAT, 'version': VERSION, 'algorithm': trainer.record.algorithm,
               'step': int(trainer.step_index), 'target_steps': None if last is None else int(last) + 1,
               'finished': bool(finished), 'diverged': trainer.record.diverged,
               'params': _param_shapes(trainer), 'data': _data_config(trainer), 'states': states,
               'rng': _to_numpy(brainstate.random.DEFAULT.value),
               'optimizer': json.dumps(optimizer_settings(trainer.optimizer)),
               'record': json.dumps(dataclasses.asdict(trainer.record), default=str)}
    import braintools
    try:
        braintools.file.msgpack_save(os.fspath(path), payload, overwrite=True)     # temporary file, then rename
    except OSError as err:
        n = trainer.step_index
        raise CheckpointWriteError(f'checkpoint {os.fspath(path)!r} could not be written after step {n} '
                                   f'({type(err).__name__}: {err}); training stopped there and .record holds the '
                                   f'{n} finished step(s): free space or fix the folder, then continue with a new '
                                   f'checkpoint= path.', record=trainer.record, step=n) from err
    return os.fspath(path)


def _describe(shapes) -> str:
    return ', '.join(str(tuple(s)) for s in shapes) if shapes else '()'


def check_fits(trainer, payload: dict, path) -> None:
    """Raise :class:`CheckpointError` naming the first difference between ``payload`` and ``trainer``."""
    where = f'checkpoint {os.fspath(path)!r}'
    label = trainer.record.algorithm
    if payload['algorithm'] != label:
        raise CheckpointError(f'{where} was written by rule {payload["algorithm"]!r}, but this trainer runs '
                              f'{label!r}: resume it with the rule that wrote it, or start a new run '
                              f'without resume=.')
    mine, theirs = _param_shapes(trainer), payload['params']
    if set(mine) != set(theirs):
        only_ckpt, only_model = sorted(set(theirs) - set(mine)), sorted(set(mine) - set(theirs))
        raise CheckpointError(f'{where} is of a different model: parameter(s) {only_ckpt} are only in the '
                              f'checkpoint, {only_model} only in this model; resume with the model that wrote it.')
    for name, shapes in mine.items():
        if [list(s) for s in theirs[name]] != shapes:
            raise CheckpointError(f'{where} is of a different model: parameter {name!r} has shape '
                                  f'{_describe(theirs[name])} there but {_describe(shapes)} in this model; '
                                  f'resume with the model that wrote it.')
    data = _data_config(trainer)
    for k in DATA_KEYS:
        if payload['data'].get(k) != data[k]:
            raise CheckpointError(f'{where} was written with {k}={payload["data"].get(k)!r}, this trainer has '
                                  f'{k}={data[k]!r}: resume with the settings of the run that wrote it.')
    if payload.get('optimizer') is not None:         # (checkpoints of earlier versions do not say)
        saved, mine = json.loads(payload['optimizer']), optimizer_settings(trainer.optimizer)
        for k in sorted(set(saved) | set(mine), key=lambda k: (k not in ('optimizer', 'lr'), k)):
            if saved.get(k) != mine.get(k):
                fix = 'pass optimizer=' + repr(saved['lr']) if k == 'lr' and 'lr' in saved else \
                    'build the optimizer as that run did'
                raise CheckpointError(f'{where} was written with optimizer setting {k}={saved.get(k)!r}, this '
                                      f'trainer has {k}={mine.get(k)!r}: resuming would not continue that run; '
                                      f'{fix} to resume it, or start a new run without resume=.')
    for group, states in _states(trainer).items():
        saved = payload['states'].get(group, {})
        if set(saved) != set(states):
            raise CheckpointError(f'{where} holds other {group} states ({sorted(set(saved) ^ set(states))} '
                                  f'differ): it was written by another learner; resume with the one that wrote it.')
        for k, st in states.items():
            now = _leaves(st.value)
            if [(a.shape, a.dtype) for a in now] != [(np.shape(a), np.asarray(a).dtype) for a in saved[k]]:
                raise CheckpointError(f'{where}: {group} state {k!r} has arrays of shapes '
                                      f'{_describe([np.shape(a) for a in saved[k]])} there but '
                                      f'{_describe([a.shape for a in now])} here; resume with the learner, '
                                      f'batch size and dtype of the run that wrote it.')


def record_from_payload(payload: dict) -> TrainingRecord:
    """The :class:`TrainingRecord` stored in a checkpoint."""
    fields = {f.name for f in dataclasses.fields(TrainingRecord)}
    return TrainingRecord(**{k: v for k, v in json.loads(payload['record']).items() if k in fields})


def restore_trainer(trainer, path) -> dict:
    """Load the checkpoint at ``path`` into ``trainer`` (checked first: nothing changes on a refusal).

    Sets the trainer's states, step index and record, and the global ``brainstate.random``
    key to the one saved (so a model that draws noise continues the same stream).
    """
    import brainstate
    import jax
    payload = read_checkpoint(path)
    check_fits(trainer, payload, path)
    for group, states in _states(trainer).items():
        for k, st in states.items():
            leaves, tree = jax.tree.flatten(st.value)
            st.value = jax.tree.unflatten(tree, [_from_numpy(a, like) for a, like in
                                                 zip(payload['states'][group][k], leaves)])
    if payload.get('rng') is not None:             # the global key, as the run that wrote it left it
        brainstate.random.set_key(_from_numpy(payload['rng'], brainstate.random.get_key()))
    loaded = record_from_payload(payload)
    for f in dataclasses.fields(TrainingRecord):
        setattr(trainer.record, f.name, getattr(loaded, f.name))
    trainer.record.interrupted = False
    trainer.record.config.setdefault('resumed_at', []).append(int(payload['step']))
    trainer.step_index = int(payload['step'])
    return payload


# ---------------------------------------------------------------------------- comparisons
def rule_checkpoint_path(folder, index: int, label: str) -> str:
    """``folder/NN-label.ckpt`` for the ``index``-th rule of a comparison."""
    safe = re.sub(r'[^A-Za-z0-9_.-]+', '_', label).strip('_') or 'rule'
    return os.path.join(os.fspath(folder), f'{index:02d}-{safe}.ckpt')


def write_manifest(folder, config: dict) -> None:
    """Write ``folder/comparison.json``: the settings a resumed comparison must share."""
    write_atomic(os.path.join(os.fspath(folder), MANIFEST), json.dumps(config, indent=1, default=str).encode('utf-8'))


def prepare_comparison_dir(folder, config: dict, resume: bool) -> dict:
    """Check ``folder`` for a comparison with ``config``: a new one (``resume=False``) or the same one.

    Refuses to start over in a folder that holds a comparison (nothing is overwritten),
    to resume where there is none, and to resume one with other settings. Returns
    ``config`` as the manifest stores it (see :func:`write_manifest`).
    """
    folder = os.fspath(folder)
    config = json.loads(json.dumps(config, default=str))      # as it reads back from the manifest
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise NotADirectoryError(f'checkpoint={folder!r} is a file; a comparison keeps one checkpoint per rule '
                                 f'in a folder: give a folder path.')
    check_writable(os.path.join(folder, MANIFEST))             # before any rule trains
    manifest = os.path.join(folder, MANIFEST)
    if not resume:
        if os.path.exists(manifest):
            raise FileExistsError(f'{folder!r} holds the checkpoints of an earlier comparison; pass resume=True '
                                  f'(--resume) to continue it, or choose an empty folder.')
        return config
    if not os.path.exists(manifest):
        raise FileNotFoundError(f'nothing to resume in {folder!r}: it has no {MANIFEST}; run without resume '
                                f'(--resume) to start this comparison there.')
    try:
        with open(manifest, encoding='utf-8') as fp:
            saved = json.load(fp)
    except (OSError, ValueError) as err:
        raise CheckpointError(f'{manifest!r} cannot be read ({err}); start the comparison in a new folder.') from None
    for k, v in config.items():
        if saved.get(k) != v:
            raise CheckpointError(f'the comparison in {folder!r} was run with {k}={saved.get(k)!r}, this one has '
                                  f'{k}={v!r}: resume with the same settings, or use another folder.')
    return config
