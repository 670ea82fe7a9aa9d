"""ThreeFactor: a reward-modulated rule, eligibility trace times (reward - baseline).

The network explores: every step adds Gaussian noise ``sigma xi^t`` (``xi ~ N(0, 1)``) to
each hidden state's new value, and each parameter keeps an eligibility trace of how the
noise met its local influence on the units it drives (node perturbation, Fiete & Seung
2006):

.. math::  e^t = \\gamma\\, e^{t-1} + (\\xi^t)^\\top \\frac{\\partial s^t}{\\partial \\theta}\\Big|_{\\text{step}} ,

one vector-Jacobian product per step, memory ``O(|theta|)``. The third factor is a scalar:
the reward ``r^t = -L^t`` (the step's loss) minus a running-average baseline ``b^t`` (one
per step of the sequence, ``b <- b + (1 - beta)(r - b)``, kept across sequences; the
first visit of a step sets ``b = r``). The weight update is

.. math::  \\Delta\\theta \\propto (r^t - b^t)\\, e^t / \\sigma ,

reported as the gradient ``-(r^t - b^t) e^t / sigma``. To first order in ``sigma`` its mean
over the noise is BPTT's gradient (``gamma = 1``); its variance is the price. Weights that
reach no hidden state (readouts) learn by their exact gradient at the explored state.

The reward needs the loss, so the rule is driven through :meth:`ThreeFactor.etrace_grad`
(and the lab), or by hand with :meth:`ThreeFactor.reward_term`::

    def step():
        loss = loss_fn(learner(x), y)
        return loss + learner.reward_term(-loss, t)      # the term's value is 0
    grads = brainstate.transform.grad(step, weights)()

>>> learner = braintrace_lab.compile(model, 'three_factor', x0, sigma=0.05, seed=0)
>>> grads, losses = learner.etrace_grad(xs, ys, loss_fn)
"""
from __future__ import annotations

import brainstate
import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from .driver import _sequence_length, _step_loss
from .references import RTRL
from .rules import three_factor
from .time_driver import scan_time

__all__ = ['ThreeFactor']


class ThreeFactor(RTRL):
    """Reward-modulated learning: a node-perturbation eligibility trace times (reward - running-average baseline).

    ``sigma``: exploration noise on each hidden unit per step; ``baseline_decay``: the
    baseline's running-average factor ``beta``; ``trace_decay``: ``gamma``;
    ``baseline_steps``: how many steps of a sequence get a baseline of their own (later
    steps share the last); ``seed``: the noise stream, which resets do not restart.

    >>> learner = ThreeFactor(model, sigma=0.05, seed=0); learner.compile_graph(x0)
    """
    display_name = 'three-factor (reward-modulated)'

    def __init__(self, model, sigma: float = 0.05, baseline_decay: float = 0.9, trace_decay: float = 1.0,
                 baseline_steps: int = 1024, seed: int = 0, name=None, vjp_method='single-step', trace_dtype=None):
        self.rule = three_factor(sigma, baseline_decay, trace_decay, baseline_steps, seed)     # checks the options
        trace, signal = self.rule.trace, self.rule.signal
        self.sigma, self.trace_decay, self.seed = trace.sigma, trace.trace_decay, trace.seed
        self.baseline_decay, self.baseline_steps = signal.baseline_decay, signal.baseline_steps
        super().__init__(model, max_entries=float('inf'), name=name, vjp_method=vjp_method,
                         trace_dtype=trace_dtype)

    # ------------------------------------------------------------------ compile
    def compile_graph(self, *inputs, **kwargs):
        graph = super().compile_graph(*inputs, **kwargs)
        dtype = self.etrace.value['eligibility'].dtype
        n = self.baseline_steps
        # exploration stream and baselines outlive a reset: a new sequence explores anew
        self.explore = brainstate.LongTermState({
            'key': jax.random.key_data(jax.random.PRNGKey(self.seed)),
            'baseline': jnp.zeros((n,), dtype), 'visits': jnp.zeros((n,), jnp.int32)})
        hidden = [self._plan.leaves[i].invar.aval for i in self._plan.hidden_ids]
        self.last_noise = brainstate.ShortTermState(tuple(jnp.zeros(a.shape, a.dtype) for a in hidden))
        return graph

    def init_influence(self, H, P, dtype):
        return {'eligibility': jnp.zeros((P,), dtype)}

    def _build_step(self):
        plan = self._plan
        index = plan.hidden_outvar_index
        sigma, gamma = self.sigma, self.trace_decay
        sg = jax.lax.stop_gradient
        hidden_pos = plan.hidden_write_pos

        def run(p, h, o, args, noise, cut):
            def transform(v, val):
                i = index.get(v)
                if i is None:
                    return val
                return (sg(val) if cut else val) + sigma * noise[i].astype(val.dtype)
            return plan.run(p, h, o, args, var_transform=transform)

        def step(p, h, o, args, eligibility, key):
            key, sub = jax.random.split(jax.random.wrap_key_data(key))
            subs = jax.random.split(sub, max(len(h), 1))
            noise = tuple(jax.random.normal(k, jnp.shape(x), jnp.result_type(x)) for k, x in zip(subs, h))
            p_fixed = sg(tuple(p))
            p_vec, unravel = ravel_pytree(p_fixed)

            def hidden_of(pv):
                _, writes = run(unravel(pv), sg(h), sg(o), sg(args), noise, cut=False)
                return tuple(writes[i] for i in hidden_pos)

            _, vjp_p = jax.vjp(hidden_of, p_vec)
            (inc,) = vjp_p(noise)
            new_e = gamma * eligibility + inc.astype(eligibility.dtype)
            outs, writes = run(p, h, o, args, noise, cut=True)      # readouts: exact; hidden paths cut
            return tuple(outs), tuple(writes), sg(new_e), jax.random.key_data(key), noise

        return step

    # ------------------------------------------------------------------ stepping
    def update(self, *inputs, **kwargs):
        """One exploring step: noisy hidden states, eligibility trace updated, the output returned."""
        args = self._check_inputs(inputs, kwargs)
        plan = self._plan
        p, h, o = plan.split(plan.read_state_leaves())
        explore = self.explore.value
        outs, writes, elig, key, noise = self._step_fn(p, h, o, tuple(args), self.etrace.value['eligibility'],
                                                       explore['key'])
        plan.write_states(list(writes))
        self.etrace.value = {'eligibility': elig}
        self.explore.value = dict(explore, key=key)
        self.last_noise.value = noise
        return jax.tree.unflatten(plan.cap.out_tree, list(outs))

    def reward_term(self, reward, t=0):
        """A term of value 0 whose gradient is ``-(reward - baseline_t) e / sigma``; updates the baseline.

        Add it to the step's loss under ``brainstate.transform.grad``; ``reward`` is a
        scalar (usually ``-loss``, taken as a constant), ``t`` the step of the sequence.
        """
        self._require()
        plan = self._plan
        p_vec, _ = ravel_pytree(tuple(plan.split(plan.read_state_leaves())[0]))
        elig = self.etrace.value['eligibility']
        r = jax.lax.stop_gradient(jnp.asarray(getattr(reward, 'mantissa', reward), elig.dtype))
        if r.size != 1:
            raise ValueError(f'ThreeFactor.reward_term: the reward must be a scalar (one number per step), got '
                             f'shape {r.shape}; average a batch of rewards first.')
        r = r.reshape(())
        explore = self.explore.value
        i = jnp.minimum(jnp.asarray(t, jnp.int32), self.baseline_steps - 1)
        seen = explore['visits'][i] > 0
        b = jnp.where(seen, explore['baseline'][i], r)
        new_b = b + (1.0 - self.baseline_decay) * (r - b)
        self.explore.value = dict(explore, baseline=explore['baseline'].at[i].set(new_b),
                                  visits=explore['visits'].at[i].add(1))
        coeff = jax.lax.stop_gradient(-(r - b) * elig / self.sigma).astype(p_vec.dtype)
        return jnp.dot(coeff, p_vec - jax.lax.stop_gradient(p_vec))

    @property
    def baseline(self):
        """The running-average baseline of the reward at each step of a sequence (``nan``: not visited)."""
        self._require()
        value = self.explore.value
        return jnp.where(value['visits'] > 0, value['baseline'], jnp.nan)

    def sequence_grads(self, params, xs, step_loss, per_step: bool = False):
        """``(grads, losses, outputs)`` over ``xs (T, ...)``: the reward of step ``t`` is ``-step_loss(y^t, t)``."""
        zero = {k: jax.tree.map(jnp.zeros_like, v.value) for k, v in params.items()}

        def body(acc, x, t):
            def objective():
                out = self(x)
                loss = step_loss(out, t)
                return loss + self.reward_term(-loss, t), (loss, getattr(out, 'mantissa', out))

            grads, (loss, out) = brainstate.transform.grad(objective, params, has_aux=True)()
            if per_step:
                return acc, (grads, loss, out)
            return jax.tree.map(jnp.add, acc, grads), (loss, out)

        acc, ys = scan_time(body, zero, xs)
        if per_step:
            grads, losses, outs = ys
            return dict(grads), losses, outs
        losses, outs = ys
        return dict(acc), losses, outs

    def etrace_grad(self, xs, ys=None, loss_fn=None, params=None, window=None, chunk=None):
        """Summed reward-modulated gradient over a sequence and the per-step losses (rewards are ``-loss``)."""
        if loss_fn is None:
            raise TypeError('ThreeFactor.etrace_grad needs loss_fn(out, y): the reward of a step is -loss.')
        if window not in (None, 1) or chunk is not None:
            raise ValueError('ThreeFactor steps one input at a time: leave window= and chunk= out.')
        self._require()
        if params is None:
            params = self.model.states(brainstate.ParamState)
        _sequence_length(self, xs, ys)
        read = {id(st) for st in self._plan.cap.states}
        unused = {k: v for k, v in params.items() if id(v) not in read}
        grads, losses, _ = self.sequence_grads({k: v for k, v in params.items() if id(v) in read}, xs,
                                               _step_loss(loss_fn, ys))
        for k, v in unused.items():
            grads[k] = jax.tree.map(jnp.zeros_like, v.value)
        return grads, losses

    def trace_memory(self):
        """Bytes of the eligibility vector (one entry per parameter), per parameter path."""
        self._require()
        item = self.etrace.value['eligibility'].dtype.itemsize
        return {path: size * item for path, size in self._sizes.items()}
