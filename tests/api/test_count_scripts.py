"""The counting scripts for braintrace's own tests and notebooks select and count what they say."""
import importlib.util
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / 'scripts' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tests_script = _load('count_braintrace_switch')
cells_script = _load('count_braintrace_doc_cells')


def test_private_imports_mark_a_test_file_as_not_public():
    private = tests_script.PRIVATE
    assert private.search('from braintrace._op import matmul')
    assert private.search('import braintrace._compiler.graph as g')
    assert private.search('x = braintrace._misc.helper()')
    assert private.search('from braintrace.nn._linear import Linear')
    assert not private.search('import braintrace\nfrom braintrace.nn import Linear\nbraintrace.compile(m)')


def test_calls_are_counted_on_names_bound_to_braintrace():
    aliases = set()
    code = 'import braintrace as bt\nimport numpy as np\nm = bt.nn.Linear(3, 4)\ny = bt.matmul(x, w)\nnp.ones(3)'
    assert cells_script.braintrace_calls(code, aliases) == 2
    assert aliases == {'bt'}
    assert cells_script.braintrace_calls('learner = bt.compile(m, "d_rtrl", x0)', aliases) == 1   # alias kept
    assert cells_script.braintrace_calls('braintrace.compile(m)', set()) == 0     # never imported here
    assert cells_script.braintrace_calls('not python (', set()) == 0


def test_code_cells_drop_magics_and_empty_cells():
    notebook = json.dumps({'cells': [
        {'cell_type': 'markdown', 'source': ['# title']},
        {'cell_type': 'code', 'source': ['%matplotlib inline\n', 'import braintrace\n']},
        {'cell_type': 'code', 'source': ['!pip install braintrace\n']},
        {'cell_type': 'code', 'source': ['x = 1\n', 'y = x + 1']},
    ]})
    assert cells_script.code_cells(notebook) == ['import braintrace', 'x = 1\ny = x + 1']
