"""Every ``>>>`` example in the package's docstrings runs, and prints what it says it prints.

An example followed by an output must print that output (``...`` stands for any text); an
example followed by none (a call shown for how it is written) must run without an error.

The examples are written as a reader would type them after a short set-up. That set-up is
:func:`example_namespace` (the names below, fresh for each module), plus the module's own
names:

* ``task``: the delayed match-to-sample task (``get_task('dms')``: T=8, 4 inputs, 2 classes);
* ``model``, ``x0``, ``xs``, ``ys``, ``x``, ``y``: the catalog's leaky-integrator model
  (4 inputs, 6 units, a linear readout to 2 outputs), a batch of 4, one step's input, a
  sequence of 10 steps and its regression targets, and one step of each;
* ``loss_fn(out, y)`` (squared error of one step), ``loss``, ``ce``: step losses;
* ``weights``: the model's ``ParamState`` s; ``learner``: D-RTRL compiled on ``model``;
* ``factory``: :func:`~braintrace_lab.lab.make_learner` for D-RTRL on a LIF layer sized for ``task``;
* ``jax``, ``jnp``, ``np``, ``u`` (brainunit), ``brainstate``, ``braintrace_lab``, ``lab``,
  ``get_task`` and the lab's ``fixture_model``, ``make_learner``, ``train``, ``Trainer`` and
  ``compare_algorithms``.

No example needs a browser or the network. Run them with
``pytest -q -p no:nbval tests/test_doctests.py`` (or ``-k lab.runner`` for one module).
"""
import doctest
import importlib
import pkgutil

import jax
import pytest

import braintrace_lab

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


class _Checker(doctest.OutputChecker):
    """Checks every output an example shows; an example that shows none only has to run."""

    def check_output(self, want, got, optionflags):
        return not want or super().check_output(want, got, optionflags)
LAB_NAMES = ('fixture_model', 'make_learner', 'train', 'Trainer', 'compare_algorithms')


def _modules_with_examples():
    finder = doctest.DocTestFinder(exclude_empty=True)
    out = []
    for info in pkgutil.walk_packages(braintrace_lab.__path__, 'braintrace_lab.'):
        module = importlib.import_module(info.name)
        if any(t.examples for t in finder.find(module)):
            out.append(info.name)
    return out


def example_namespace() -> dict:
    """The names the docstring examples assume (see the module docstring)."""
    import brainstate
    import brainunit as u
    import jax
    import jax.numpy as jnp
    import numpy as np

    from braintrace_lab import lab
    from braintrace_lab.models import get_fixture
    from braintrace_lab.tasks import get_task

    brainstate.random.seed(0)
    fx = get_fixture('leaky')
    model = fx.build(batch_size=4)
    xs, ys = fx.data(T=10, seed=0, batch_size=4)
    task = get_task('dms')

    def loss_fn(out, y):
        return jnp.mean((getattr(out, 'mantissa', out) - y) ** 2)

    def ce(out, y):
        return jnp.mean((getattr(out, 'mantissa', out) - y) ** 2)

    learner = braintrace_lab.compile(fx.build(batch_size=4), 'd_rtrl', xs[0])
    return dict(task=task, model=model, x0=xs[0], xs=xs, ys=ys, x=xs[0], y=ys[0], loss_fn=loss_fn, loss=loss_fn,
                ce=ce, weights=model.states(brainstate.ParamState), learner=learner,
                factory=lab.make_learner(lab.fixture_model('lif', task, n_hidden=8, scale=3.0), 'd_rtrl'),
                jax=jax, jnp=jnp, np=np, u=u, brainstate=brainstate, braintrace_lab=braintrace_lab, lab=lab,
                get_task=get_task, **{k: getattr(lab, k) for k in LAB_NAMES})


@pytest.mark.parametrize('name', _modules_with_examples())
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                     # examples that write files write them here
    module = importlib.import_module(name)
    namespace = example_namespace()
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(checker=_Checker(), optionflags=FLAGS)
    report = []
    x64 = jax.config.jax_enable_x64                 # an example may switch float64 on: not for the next module
    try:
        for test in finder.find(module, globs=dict(vars(module))):
            if not test.examples:
                continue
            test.globs = {**namespace, **test.globs}
            runner.run(test, out=report.append)
    finally:
        jax.config.update('jax_enable_x64', x64)
    failed, attempted = runner.summarize(verbose=False)
    assert failed == 0, f'{failed} of {attempted} examples in {name} failed:\n' + ''.join(report)
