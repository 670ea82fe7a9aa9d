"""The seed SNN tutorial's model and training loop, with only the import changed.

Kept verbatim (apart from ``import braintrace_lab as braintrace``) so the tests
prove that code written for braintrace runs here unmodified.
"""
import jax
import jax.numpy as jnp
import brainstate
import braintools
import braintrace_lab as braintrace
import saiunit as u
import brainpy.state
import numpy as np


class LIF_SNN(brainstate.nn.Module):
    """A simple recurrent SNN with LIF neurons for online learning."""

    def __init__(self, n_in, n_rec, n_out, tau_mem=20. * u.ms, tau_out=20. * u.ms):
        super().__init__()
        # Input + recurrent projection (ETP-aware: participates in online learning).
        # Weights are in current units so that ``I * R`` lands in mV inside the LIF
        # neuron (LIF integrates ``-V + I*R``; ``mA * ohm = mV`` matches V_th below).
        self.linear = braintrace.nn.Linear(
            n_in + n_rec, n_rec,
            w_init=braintools.init.KaimingNormal(unit=u.mA),
            b_init=braintools.init.ZeroInit(unit=u.mA),
        )
        # LIF neuron with surrogate gradient for differentiability.
        self.neuron = brainpy.state.LIF(
            n_rec,
            tau=tau_mem,
            R=1. * u.ohm,
            V_th=1. * u.mV,
            V_reset=0. * u.mV,
            V_rest=0. * u.mV,
            spk_fun=braintools.surrogate.ReluGrad(),
            spk_reset='soft',
        )
        # Readout layer (ETP-aware: participates in online learning).
        self.readout = braintrace.nn.LeakyRateReadout(
            n_rec, n_out,
            tau=tau_out,
            w_init=braintools.init.KaimingNormal(),
        )

    def update(self, spike_input):
        # Concatenate input spikes with recurrent spikes.
        rec_spk = self.neuron.get_spike()
        x = jnp.concatenate([spike_input, rec_spk], axis=-1)
        # Linear projection -> LIF neuron dynamics -> readout.
        self.neuron(self.linear(x))
        return self.readout(self.neuron())


def train_snn(n_steps=100, n_epochs=50, batch_size=32, n_in=50, n_rec=128, n_out=10, lr=1e-3):
    """Train a recurrent SNN using ES-D-RTRL online learning."""
    with brainstate.environ.context(dt=1. * u.ms):
        # Create model and optimizer
        model = LIF_SNN(n_in, n_rec, n_out)
        opt = braintools.optim.Adam(lr)
        weights = model.states(brainstate.ParamState)
        opt.register_trainable_weights(weights)

        @brainstate.transform.jit
        def train_step(inputs, targets):
            # Wrap model with ES-D-RTRL (decay_or_rank=0.99 means decay factor of 0.99)
            algo = braintrace.ES_D_RTRL(model, decay_or_rank=0.99)

            # Initialize per-sample states (each sample in the batch gets independent states)
            @brainstate.transform.vmap_new_states(state_tag='new', axis_size=inputs.shape[1])
            def init():
                brainstate.nn.init_all_states(model)
                algo.compile_graph(inputs[0, 0])

            init()
            vmapped_algo = brainstate.nn.Vmap(algo, vmap_states='new')

            def loss_fn(inp):
                out = vmapped_algo(inp)
                loss = braintools.metric.softmax_cross_entropy_with_integer_labels(
                    out, targets
                ).mean()
                return loss, out

            def scan_step(prev_grads, inp):
                f_grad = brainstate.transform.grad(
                    loss_fn, weights, has_aux=True, return_value=True
                )
                cur_grads, cur_loss, out = f_grad(inp)
                next_grads = jax.tree.map(lambda a, b: a + b, prev_grads, cur_grads)
                return next_grads, cur_loss

            # Accumulate gradients over all time steps
            grads = jax.tree.map(jnp.zeros_like, weights.to_dict_values())
            grads, losses = brainstate.transform.scan(scan_step, grads, inputs)

            # Clip gradients and update weights
            grads = brainstate.functional.clip_grad_norm(grads, 1.0)
            opt.update(grads)
            return losses.mean()

        # Training loop with random spike data
        losses = []
        for epoch in range(n_epochs):
            # Generate random spike inputs (Bernoulli with firing probability 0.1)
            inputs = np.random.binomial(1, 0.1, (n_steps, batch_size, n_in)).astype(np.float32)
            targets = np.random.randint(0, n_out, batch_size)
            loss = train_step(jnp.array(inputs), jnp.array(targets))
            losses.append(float(loss))
            if epoch % 10 == 0:
                print(f"Epoch {epoch:3d}, Loss: {loss:.4f}")
        return losses
