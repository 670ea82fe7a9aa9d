"""The package's imports point one way: ops -> compiler -> algorithms -> oracle/lab -> widgets.

Every module of ``braintrace_lab`` is parsed (``ast``, lazy imports inside functions
included) and each import of another part of the package is checked against the layer
map below: a part may import only parts of a lower layer (or itself). Nothing below the
widgets imports a Jupyter package, and nothing imports JAX's private ``jax._src``.
"""
import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / 'braintrace_lab'

# part of the package (a subpackage or a top-level module) -> layer; imports go to lower layers only
LAYERS = {
    'errors': 0, 'input_data': 0,
    'ops': 10,
    'compiler': 20, 'nn': 20, 'gradients': 20,
    'algorithms': 30, 'rules_table': 31, 'registry': 32, '__init__': 33,    # the package's public face
    'oracle': 40, 'tasks': 40, 'models': 41,
    'lab': 50,
    'widgets': 60,
    'course': 70, 'cli_rules': 71, 'cli_lab': 71, 'cli': 72,
}
# may import Jupyter: the widgets, and the course that the notebooks run
JUPYTER_ALLOWED = {'widgets', 'course'}
JUPYTER = {'IPython', 'ipywidgets', 'anywidget', 'jupyter', 'jupyterlab', 'jupyter_server', 'jupyter_client',
           'jupyter_core', 'notebook', 'nbformat', 'nbclient', 'ipykernel', 'traitlets', 'widgetsnbextension',
           'comm'}


def _modules(root):
    for path in sorted(root.rglob('*.py')):
        rel = path.relative_to(root)
        parts = ['braintrace_lab', *rel.parts[:-1]]
        is_pkg = rel.name == '__init__.py'
        name = parts if is_pkg else parts + [rel.stem]
        yield path, name, (name if is_pkg else name[:-1])


def _is_module(root, parts):
    base = root.parent.joinpath(*parts)
    return base.with_suffix('.py').exists() or (base / '__init__.py').exists()


def _imports(path, package, root=PACKAGE):
    """``(imported module, line)`` of every import in ``path`` (relative ones resolved against ``package``)."""
    tree = ast.parse(path.read_text(encoding='utf-8'), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - (node.level - 1)] if node.level else []
            module = base + (node.module.split('.') if node.module else [])
            if node.module is None:            # from .. import nn: the submodule itself when there is one
                for alias in node.names:
                    sub = module + [alias.name]
                    yield '.'.join(sub if _is_module(root, sub) else module), node.lineno
            else:
                yield '.'.join(module), node.lineno


def _part(module: str) -> str:
    parts = module.split('.')
    return parts[1] if len(parts) > 1 else '__init__'


def _edges(root=PACKAGE):
    for path, name, package in _modules(root):
        source = _part('.'.join(name))
        for module, line in _imports(path, package, root):
            yield path.relative_to(root.parent), line, source, module


def _layer_violations(root=PACKAGE):
    out = []
    for where, line, source, module in _edges(root):
        if not module.startswith('braintrace_lab'):
            continue
        target = _part(module)
        if target != source and LAYERS.get(target, -1) >= LAYERS.get(source, -1):
            out.append(f'{where}:{line}: {source} (layer {LAYERS.get(source)}) imports {module} '
                       f'(layer {LAYERS.get(target)})')
    return out


def _jupyter_violations(root=PACKAGE):
    return [f'{where}:{line}: {source} imports {module}' for where, line, source, module in _edges(root)
            if module.split('.')[0] in JUPYTER and source not in JUPYTER_ALLOWED]


def test_every_part_of_the_package_has_a_layer():
    parts = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
             if (p.suffix == '.py' and p.stem != '__init__') or (p / '__init__.py').exists()}
    missing = sorted(parts - set(LAYERS))
    assert not missing, f'place each new part of braintrace_lab in LAYERS of {__file__}: {missing}'


def test_imports_point_down_the_layers():
    violations = _layer_violations()
    assert not violations, 'imports against the layering:\n' + '\n'.join(violations)


def test_nothing_below_the_widgets_imports_jupyter():
    violations = _jupyter_violations()
    assert not violations, 'Jupyter imports outside the widgets:\n' + '\n'.join(violations)


def test_no_private_jax_imports():
    found = [f'{p.relative_to(PACKAGE.parent)}:{i}: {line.strip()}'
             for p in sorted(PACKAGE.rglob('*.py'))
             for i, line in enumerate(p.read_text(encoding='utf-8').splitlines(), 1) if 'jax._src' in line]
    assert not found, 'JAX internals (jax._src) used; use the public API:\n' + '\n'.join(found)


def test_the_scan_catches_upward_and_jupyter_imports(tmp_path):
    """Negative control: a package whose algorithms import the lab (lazily) and whose lab imports
    ipywidgets is reported line by line; the same imports the other way round are not."""
    root = tmp_path / 'braintrace_lab'
    for part in ('algorithms', 'lab', 'widgets'):
        (root / part).mkdir(parents=True)
        (root / part / '__init__.py').write_text('')
    (root / '__init__.py').write_text('')
    (root / 'algorithms' / 'rule.py').write_text('def f():\n    from ..lab import runner\n')
    (root / 'lab' / 'runner.py').write_text('import ipywidgets\nfrom ..algorithms import rule\n')
    (root / 'widgets' / 'view.py').write_text('import ipywidgets\nfrom ..lab.runner import x\n')
    assert _layer_violations(root) == [
        'braintrace_lab/algorithms/rule.py:2: algorithms (layer 30) imports braintrace_lab.lab (layer 50)']
    assert _jupyter_violations(root) == ['braintrace_lab/lab/runner.py:1: lab imports ipywidgets']


def test_relative_imports_are_resolved(tmp_path):
    """``from .. import nn`` resolves to the subpackage, ``from ..x import y`` to the module ``x``."""
    src = tmp_path / 'm.py'
    src.write_text('from .. import nn\nfrom ..compiler import records\nfrom . import base\nimport IPython\n')
    got = [m for m, _ in _imports(src, ['braintrace_lab', 'algorithms'])]
    assert got == ['braintrace_lab.nn', 'braintrace_lab.compiler', 'braintrace_lab.algorithms.base', 'IPython']
