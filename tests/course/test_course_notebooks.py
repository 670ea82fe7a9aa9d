"""The tutorials' exercises, both directions: every stub fails its check, every solution passes it.

For each tutorial, only the cells the exercises need run (the imports, a helper, a data
cell: see ``nb_cells``), then each exercise cell (the stub: "not yet solved") and its
solution cell ("correct"). ``course.check`` is wrapped to record what each cell asked.
"""
import pytest

import braintrace_lab.course as course_module
from nb_cells import exercise_pairs, load, run_dependencies, source, tutorial_paths

pytestmark = pytest.mark.slow

PREFIXES = [p.name[:2] for p in tutorial_paths()]


@pytest.fixture
def recorded(monkeypatch):
    calls = []
    real = course_module.check

    def check(name, answer, quiet=False):
        result = real(name, answer, quiet=quiet)
        calls.append(result)
        return result

    monkeypatch.setattr(course_module, 'check', check)
    return calls


def test_the_tutorials_are_numbered_in_order_from_01_to_at_least_09():
    assert len(PREFIXES) >= 9
    assert PREFIXES == [f'{i:02d}' for i in range(1, len(PREFIXES) + 1)]


@pytest.mark.parametrize('prefix', PREFIXES)
def test_each_tutorial_pairs_every_exercise_of_the_registry_with_a_solution(prefix):
    nb = load(prefix)
    names = [name for name, _, _ in exercise_pairs(nb)]
    assert len(names) >= 2
    assert sorted(names) == sorted(e.name for e in course_module.by_tutorial(prefix))
    for _, ex, sol in exercise_pairs(nb):
        stub, answer = nb.cells[ex], nb.cells[sol]
        assert '...' in source(stub), 'the stub leaves the answer to the student'
        assert '# NBVAL_CHECK_OUTPUT' not in source(stub), "the stub's output is not compared"
        assert source(answer).startswith('# NBVAL_CHECK_OUTPUT'), "the solution's verdict is compared"
        assert answer.execution_count is not None and 'correct.' in ''.join(
            o.get('text', '') for o in answer.outputs), 'the stored verdict of the solution is "correct."'


@pytest.mark.parametrize('prefix', PREFIXES)
def test_stubs_fail_and_solutions_pass(prefix, recorded, capsys):
    nb = load(prefix)
    pairs = exercise_pairs(nb)
    ns = run_dependencies(nb, [i for _, ex, sol in pairs for i in (ex, sol)])
    for name, ex, sol in pairs:
        exec(compile(source(nb.cells[ex]), f'<{prefix} exercise {name}>', 'exec'), ns)
        stub = recorded.pop()
        assert stub.name == name and not recorded
        assert not stub.passed and not stub.attempted, stub.message          # the negative control
        exec(compile(source(nb.cells[sol]), f'<{prefix} solution {name}>', 'exec'), ns)
        answer = recorded.pop()
        assert answer.name == name and not recorded
        assert answer.passed, answer.message
