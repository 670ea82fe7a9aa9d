"""Many devices through JAX's own sharding: the batch (and its eligibility traces) spread over a mesh.

``devices=N`` in :func:`~braintrace_lab.lab.train`, :class:`~braintrace_lab.lab.Trainer` and
:func:`~braintrace_lab.lab.compare_algorithms` (``--devices N`` on the command line) builds a
1-D :class:`jax.sharding.Mesh` over the first ``N`` devices with one axis, ``'batch'``:

* every per-sample array - the input sequences, the hidden states and the eligibility
  traces, whose leading axis is the batch - is split along the batch into ``N`` equal
  shards (:class:`~jax.sharding.NamedSharding` with ``PartitionSpec('batch')``), so each
  device holds ``1/N`` of the trace memory;
* the weights and the optimizer's states are replicated (``PartitionSpec()``);
* the training step stays one ``jit``: XLA partitions it and reduces the per-sample
  gradient sums across devices itself (no ``pmap``, no hand-written all-reduce).

The result is the one-device result up to the order of float32 additions. Nothing
changes for ``devices=None`` (the default): one device, no mesh.

Several hosts (processes) form one mesh after :func:`init_distributed` (a thin checked
wrapper of :func:`jax.distributed.initialize`); every process runs the same program on the
same data and contributes its local devices (see ``docs/devices.md``).

>>> plan = device_plan(1, batch_size=32)      # more devices than present: a one-line error naming the fix
>>> rec = train(factory, task, n_steps=10, batch_size=32, devices=1, progress=False)   # devices=4 on 4 devices
"""
from __future__ import annotations

import functools
import numbers
import os
from typing import Optional

import numpy as np

__all__ = ['AXIS', 'DevicePlan', 'device_plan', 'check_devices', 'init_distributed', 'launch', 'put_batch',
           'per_device_bytes']

AXIS = 'batch'
ENV_PREFIX = 'BRAINTRACE_LAB_'       # BRAINTRACE_LAB_COORDINATOR, _NUM_PROCESSES, _PROCESS_ID


def _force_hint(n: int) -> str:
    return (f' (on CPU, XLA_FLAGS=--xla_force_host_platform_device_count={n} set before JAX starts '
            f'makes {n} host devices)')


def check_devices(devices, batch_size: Optional[int] = None, name: str = 'devices') -> Optional[int]:
    """The number of devices asked for (``None``: the default single device), checked.

    ``devices``: ``None``, a positive integer or ``'all'``. Refused, each with the fix: a
    number below 1, more devices than JAX sees, a ``batch_size`` that the devices cannot
    split evenly, and (several processes) a mesh that leaves a process without a device.
    """
    import jax
    if devices is None:
        return None
    cli = name.startswith('-')
    flag, batch_flag = (f'{name} ', '--batch-size ') if cli else (f'{name}=', 'batch_size=')
    if isinstance(devices, str) and devices.strip().lower() == 'all':
        devices = jax.device_count()
    if isinstance(devices, bool) or not isinstance(devices, numbers.Integral):
        raise TypeError(f'{name} must be a number of devices, got {devices!r}; pass e.g. {flag}{jax.device_count()} '
                        f'(or {flag}all).')
    n, present = int(devices), jax.device_count()
    if n < 1:
        raise ValueError(f'{name} must be at least 1 (the number of devices to spread the batch over), got {n}; '
                         f'pass {flag}1 for one device.')
    if n > present:
        hint = _force_hint(n) if jax.default_backend() == 'cpu' else ''
        raise ValueError(f'{name} asks for {n} devices but only {present} {jax.default_backend()} device(s) are '
                         f'present; pass {flag}{present} or fewer{hint}.')
    if jax.process_count() > 1 and n != present:
        raise ValueError(f'{name}={n} with {jax.process_count()} processes: every process must hold a part of the '
                         f'batch; pass {flag}{present} (all devices of all processes).')
    if batch_size is not None and int(batch_size) % n:
        b = int(batch_size)
        up = -(-b // n) * n
        raise ValueError(f'the batch size {b} is not divisible by {n} devices; pass a multiple of {n}, e.g. '
                         f'{batch_flag}{up}' + (f' or {batch_flag}{up - n}' if up - n >= n else '') + '.')
    return n


class DevicePlan:
    """Where every array of a run lives: batch-split over ``n`` devices, or replicated.

    Sharding never changes a result, only where it is computed: an array whose leading
    (or, for time-major inputs, second) axis is the batch is split along it, anything
    else is replicated.
    """

    def __init__(self, n: int, batch_size: int):
        import jax
        from jax.sharding import Mesh, NamedSharding, PartitionSpec
        self.n, self.batch_size = int(n), int(batch_size)
        self.mesh = Mesh(np.asarray(jax.devices()[:self.n]), (AXIS,))
        self.replicated = NamedSharding(self.mesh, PartitionSpec())
        self._P, self._Named = PartitionSpec, NamedSharding

    def sharding(self, ndim: int, axis: Optional[int]):
        """``NamedSharding`` splitting ``axis`` over the mesh (``None``: replicated)."""
        if axis is None:
            return self.replicated
        spec = [None] * ndim
        spec[axis] = AXIS
        return self._Named(self.mesh, self._P(*spec))

    def _batch_axis(self, shape, candidates) -> Optional[int]:
        return next((a for a in candidates if len(shape) > a and shape[a] == self.batch_size), None)

    def _put(self, x, sharding):
        import jax
        if jax.process_count() == 1 or (isinstance(x, jax.Array) and not x.is_fully_addressable):
            return jax.device_put(x, sharding)      # already global (a state trained here): at most a reshard
        host = np.asarray(x)                        # every process holds the same value: give each its shards
        return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])

    def put_batch(self, args: tuple) -> tuple:
        """``(inputs, targets, mask)`` on the mesh: time-major arrays split on axis 1, labels on axis 0."""
        out = []
        for x in args:
            if x is None:
                out.append(None)
                continue
            shape = np.shape(x)
            out.append(self._put(x, self.sharding(len(shape), self._batch_axis(shape, (1, 0)))))
        return tuple(out)

    def _leaf_sharding(self, leaf, batched: bool):
        shape = np.shape(leaf)
        return self.sharding(len(shape), self._batch_axis(shape, (0,)) if batched else None)

    def _map(self, fn, value, batched: bool):
        import jax
        return jax.tree.map(lambda leaf: fn(leaf, self._leaf_sharding(leaf, batched)), value)

    def place(self, states, batched=()) -> None:
        """Put the states' values on the mesh: ``batched`` ones split on the batch, the others replicated.

        The values the batched states are reset to stay where they are: the jitted step
        holds them as constants and :meth:`constrain` splits them (a constant must not
        span another process's devices).
        """
        split = {id(st) for st in batched}
        for st in states:
            st.value = self._map(self._put, st.value, id(st) in split)

    def tracing(self, fn, learner=None):
        """``fn`` traced with ``learner``'s steps in their batch-partitioned mode: the engine's batch sums
        as reductions XLA can split (``learner.stepping(partitioned=True)``, see
        :class:`~braintrace_lab.algorithms.engines.EngineMode`); a learner without online steps
        (BPTT) or none: ``fn`` as it is."""
        stepping = getattr(learner, 'stepping', None)
        if stepping is None:
            return fn

        @functools.wraps(fn)
        def traced(*args, **kwargs):
            with stepping(partitioned=True):
                return fn(*args, **kwargs)
        return traced

    def constrain(self, states) -> None:
        """Inside a jitted step: keep the batched states split on the batch (XLA propagates the rest)."""
        import jax
        for st in states:
            st.value = self._map(jax.lax.with_sharding_constraint, st.value, True)

    def __repr__(self):
        return f'DevicePlan({self.n} x {self.mesh.devices.flat[0].platform}, batch {self.batch_size})'


class _OneDevice:
    """The default: no mesh, every method leaves its arguments as they are."""
    n, mesh = 1, None

    def put_batch(self, args):
        return args

    def place(self, states, batched=()):
        return None

    def constrain(self, states):
        return None

    def tracing(self, fn, learner=None):
        return fn

    def __repr__(self):
        return 'DevicePlan(default device)'


def device_plan(devices, batch_size: int, name: str = 'devices'):
    """A :class:`DevicePlan` for ``devices`` (checked with :func:`check_devices`); one device (``None`` or
    1): a plan that changes nothing, so ``devices=1`` is the default run bit for bit."""
    n = check_devices(devices, batch_size, name)
    return _OneDevice() if n in (None, 1) else DevicePlan(n, batch_size)


def put_batch(trainer, args: tuple) -> tuple:
    """``args`` placed by ``trainer``'s plan (a trainer without one: as they are)."""
    plan = getattr(trainer, 'devices', None)
    return args if plan is None else plan.put_batch(args)


def per_device_bytes(tree) -> dict:
    """``{device: bytes of tree's arrays held there}`` from the arrays' addressable shards."""
    import jax
    out = {}
    for leaf in jax.tree.leaves(tree):
        leaf = getattr(leaf, 'mantissa', leaf)
        for shard in leaf.addressable_shards:
            out[shard.device] = out.get(shard.device, 0) + int(shard.data.nbytes)
    return out


def _env_int(key: str) -> Optional[int]:
    text = os.environ.get(ENV_PREFIX + key)
    return None if text in (None, '') else int(text)


def init_distributed(coordinator: Optional[str] = None, num_processes: Optional[int] = None,
                     process_id: Optional[int] = None) -> bool:
    """Join a multi-process run (``jax.distributed.initialize``); ``False`` when there is none to join.

    Arguments default to ``BRAINTRACE_LAB_COORDINATOR`` (``host:port`` of process 0),
    ``BRAINTRACE_LAB_NUM_PROCESSES`` and ``BRAINTRACE_LAB_PROCESS_ID``. On CPU the
    processes exchange gradients through gloo. Call it before anything else touches JAX.
    """
    import jax
    coordinator = coordinator or os.environ.get(ENV_PREFIX + 'COORDINATOR') or None
    num_processes = num_processes if num_processes is not None else _env_int('NUM_PROCESSES')
    process_id = process_id if process_id is not None else _env_int('PROCESS_ID')
    given = [v is not None for v in (coordinator, num_processes, process_id)]
    if not any(given):
        return False
    if not all(given):
        raise ValueError('a multi-process run needs all three of coordinator (host:port of process 0), '
                         'num_processes and process_id (--coordinator, --num-processes, --process-id, or the '
                         f'{ENV_PREFIX}COORDINATOR / _NUM_PROCESSES / _PROCESS_ID variables).')
    if ':' not in coordinator:
        raise ValueError(f'coordinator {coordinator!r} has no port; give host:port, e.g. 127.0.0.1:12355.')
    if num_processes < 1 or not 0 <= process_id < num_processes:
        raise ValueError(f'process_id {process_id} must be in 0..{num_processes - 1} (num_processes '
                         f'{num_processes} >= 1); number the processes 0, 1, ... num_processes - 1.')
    jax.config.update('jax_cpu_collectives_implementation', 'gloo')   # CPU devices reduce through gloo
    jax.distributed.initialize(coordinator_address=coordinator, num_processes=num_processes,
                               process_id=process_id)
    return True



def launch(devices, batch_size: int, coordinator: Optional[str] = None, num_processes: Optional[int] = None,
           process_id: Optional[int] = None, checkpoint=None) -> Optional[int]:
    """The command line's ``--devices`` after joining a multi-process run if one is asked for.

    One process: ``devices`` checked (``None``: one device, no mesh). Several processes:
    every device of every process unless ``devices`` says otherwise; checkpoints refused
    (each process would hold only its part of the states).
    """
    if init_distributed(coordinator, num_processes, process_id):
        if checkpoint is not None:
            raise ValueError('--checkpoint is for a single process; leave it out of a multi-process run.')
        return check_devices('all' if devices is None else devices, batch_size, '--devices')
    return check_devices(devices, batch_size, '--devices')
