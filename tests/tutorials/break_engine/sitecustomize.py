"""A deliberately broken engine, for tests only: D-RTRL's traced gradients come out scaled.

Put this folder first on ``PYTHONPATH`` and every Python process started with it (the
pytest run and, through its environment, the notebook kernel) multiplies what
``ParamDimEngine.grads`` returns by ``BRAINTRACE_LAB_BREAK_SCALE`` (default 1.5) as
soon as ``braintrace_lab.algorithms.engines`` is imported. When the patch is applied
it appends a line to the file named by ``BRAINTRACE_LAB_BREAK_MARKER`` (if set), so a
test can tell "the tutorial failed because of the broken engine" from "it failed for
another reason".
"""
import importlib.abc
import importlib.util
import os
import sys

TARGET = 'braintrace_lab.algorithms.engines'


def _break(module):
    scale = float(os.environ.get('BRAINTRACE_LAB_BREAK_SCALE', '1.5'))
    engine = module.ParamDimEngine
    original = engine.grads

    def grads(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        return type(out)(None if c is None else c * scale for c in out)

    engine.grads = grads
    marker = os.environ.get('BRAINTRACE_LAB_BREAK_MARKER')
    if marker:
        with open(marker, 'a', encoding='utf-8') as f:
            f.write(f'ParamDimEngine.grads scaled by {scale} in process {os.getpid()}\n')


class _BreakEngineFinder(importlib.abc.MetaPathFinder):
    """Finds the engines module through the normal finders, then patches it once it has run."""

    def find_spec(self, name, path=None, target=None):
        if name != TARGET:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return None
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            _break(module)

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, _BreakEngineFinder())
