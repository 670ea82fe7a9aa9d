"""``make student``: the student notebooks have no solutions, keep every check, and run without them."""
import copy
import subprocess
import sys

import nbformat
import pytest

from nb_cells import ROOT, exercise_pairs, names, run_dependencies, source, tutorial_paths
import make_student  # noqa: E402  (tutorials/make_student.py, on the path nb_cells sets)


@pytest.fixture(scope='module')
def students(tmp_path_factory):
    out = tmp_path_factory.mktemp('student')
    proc = subprocess.run([sys.executable, str(ROOT / 'tutorials' / 'make_student.py'), '--out', str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return {p.name: nbformat.read(p, as_version=4) for p in sorted(out.glob('*.ipynb'))}


def _tags(cell):
    return cell.metadata.get('tags', [])


def test_one_student_notebook_per_tutorial(students):
    assert sorted(students) == [p.name for p in tutorial_paths()]


def test_no_solution_and_no_output_is_left(students):
    for name, nb in students.items():
        assert not [c for c in nb.cells if 'solution' in _tags(c)], name
        code = [c for c in nb.cells if c.cell_type == 'code']
        assert all(c.outputs == [] and c.execution_count is None for c in code), name
        assert 'widgets' not in nb.metadata
        assert nb.cells[0].cell_type == 'markdown' and 'Student version' in nb.cells[0].source


def test_every_exercise_and_its_check_is_kept(students):
    for path in tutorial_paths():
        teacher = nbformat.read(path, as_version=4)
        stubs = [source(teacher.cells[ex]) for _, ex, _ in exercise_pairs(teacher)]
        kept = [source(c) for c in students[path.name].cells if 'exercise' in _tags(c)]
        assert kept == stubs, path.name
        assert all('course.check(' in s for s in kept)


def test_what_is_left_never_reads_a_name_only_a_solution_defined(students):
    """The student notebook runs top to bottom: no later cell needs a name only a solution cell assigned."""
    for path in tutorial_paths():
        teacher = nbformat.read(path, as_version=4)
        code = [c for c in teacher.cells if c.cell_type == 'code']
        only_solution = set()
        for c in code:
            if 'solution' in _tags(c):
                only_solution |= names(source(c))[0]
        defined = set()
        for c in code:
            if 'solution' in _tags(c):
                continue
            assigned, free = names(source(c))
            missing = (free & only_solution) - defined
            assert not missing, (path.name, missing, source(c)[:80])
            defined |= assigned


@pytest.mark.slow
def test_the_student_exercise_cells_run_and_report_not_yet_solved(students, capsys):
    for name, nb in students.items():
        ex_cells = [i for i, c in enumerate(nb.cells) if 'exercise' in _tags(c)]
        ns = run_dependencies(nb, ex_cells)
        for i in ex_cells:
            exec(compile(source(nb.cells[i]), f'<{name} cell {i}>', 'exec'), ns)
            out = capsys.readouterr().out
            assert 'not yet solved' in out, (name, i, out)


@pytest.mark.slow
@pytest.mark.parametrize('tutorial', [p.name for p in tutorial_paths()])
def test_the_student_notebook_runs_top_to_bottom_with_the_stubs_in_place(students, tutorial, tmp_path):
    """``make student``'s output, executed whole in a kernel as a student would: no cell fails and
    every exercise cell says "not yet solved" (every tutorial, found by its NN_ name)."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    nb = nbformat.from_dict(copy.deepcopy(dict(students[tutorial])))
    client = NotebookClient(nb, timeout=600, kernel_name='python3',
                            resources={'metadata': {'path': str(tmp_path)}})
    try:
        client.execute()
    except CellExecutionError as err:                      # the cell, its source and the traceback
        pytest.fail(f'{tutorial}: the student version does not run top to bottom:\n{str(err)[:3000]}')
    exercises = [c for c in nb.cells if 'exercise' in _tags(c)]
    assert len(exercises) >= 2, tutorial
    for cell in exercises:
        text = ''.join(o.get('text', '') for o in cell.outputs if o.get('output_type') == 'stream')
        assert 'not yet solved' in text, (tutorial, cell.source[:80], text)
        assert not [o for o in cell.outputs if o.get('output_type') == 'error'], tutorial


def test_a_notebook_whose_cells_do_not_pair_up_is_refused(tmp_path):
    nb = nbformat.v4.new_notebook()
    stub = nbformat.v4.new_code_cell("answer = ...\ncourse.check('06-crossover', answer)")
    stub.metadata['tags'] = ['exercise']
    nb.cells = [stub, nbformat.v4.new_code_cell('x = 1')]
    with pytest.raises(ValueError, match='no solution cell'):
        make_student.student_version(nb, 'x.ipynb')
    path = tmp_path / '99_broken.ipynb'
    nbformat.write(nb, path)
    assert make_student.main([str(path), '--out', str(tmp_path / 'out')]) == 1


def test_the_student_folder_is_not_tracked():
    assert '/student/' in (ROOT / '.gitignore').read_text().splitlines()
    assert 'tutorials/make_student.py' in (ROOT / 'Makefile').read_text()
