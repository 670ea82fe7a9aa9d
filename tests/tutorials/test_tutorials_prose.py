"""The tutorials read as one course: each links to the next, the course map states the prerequisites
each notebook names, and their Markdown tables survive every renderer the course is read in.

A ``|`` inside ``$...$`` in a Markdown table row is read by the site's parser (myst-nb) and
by GitHub as a column break before the maths is seen: the formula is cut in two. JupyterLab
hides this, since it extracts the maths first; ``\\lvert ... \\rvert`` works everywhere.
"""
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
TUTORIALS = sorted((ROOT / 'tutorials').glob('[0-9][0-9]_*.ipynb'))


def _markdown(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return '\n'.join(c.source for c in nb.cells if c.cell_type == 'markdown')


def _math_with_a_bar_in_a_table_row(text: str) -> list:
    rows = [line for line in text.splitlines() if line.lstrip().startswith('|')]
    return [m for row in rows for m in re.findall(r'\$[^$]+\$', row) if '|' in m]


def test_the_check_finds_a_bar_inside_maths_in_a_table_row():
    assert _math_with_a_bar_in_a_table_row('| rule | $N\\,|\\theta|$ |') == ['$N\\,|\\theta|$']
    assert _math_with_a_bar_in_a_table_row('| rule | $N\\,\\lvert\\theta\\rvert$ |') == []
    assert _math_with_a_bar_in_a_table_row('outside a table $|x|$ is fine') == []


@pytest.mark.parametrize('path', TUTORIALS + [ROOT / 'tutorials' / 'README.md', ROOT / 'docs' / 'site' / 'index.md'],
                         ids=lambda p: p.name)
def test_no_table_row_holds_a_bar_inside_maths(path):
    text = _markdown(path) if path.suffix == '.ipynb' else path.read_text(encoding='utf-8')
    assert _math_with_a_bar_in_a_table_row(text) == []


@pytest.mark.parametrize('path, following', list(zip(TUTORIALS, TUTORIALS[1:])), ids=lambda p: getattr(p, 'name', p))
def test_each_tutorial_links_to_the_next(path, following):
    nexts = re.findall(r'\*\*Next:\*\*\s*\[[^\]]+\]\(([^)]+)\)', _markdown(path))
    assert nexts == [following.name], nexts


def _needs(path: Path) -> set:
    """The tutorials a notebook's '**Needs:**' line names (up to the first ';' or the end of the sentence)."""
    text = ' '.join(_markdown(path).split())
    m = re.search(r'\*\*Needs:\*\*(.*?)(?:;|\.(?:\s|$))', text)
    assert m, f'{path.name} has no **Needs:** line'
    return set(re.findall(r'\b(\d\d)\b', m.group(1)))


def _map_prerequisites() -> dict:
    """``{prerequisite: set of notebooks or {'all'}}`` from the course map's sentence on what builds on what."""
    text = ' '.join((ROOT / 'tutorials' / 'README.md').read_text(encoding='utf-8').split())
    m = re.search(r'as its \*\*Needs\*\* line says: (.*?)\.', text)
    assert m, 'the course map does not state the prerequisites'
    tokens = re.findall(r'\d\d|all|for', m.group(1))
    out, current = {}, None
    for i, tok in enumerate(tokens):
        if tok == 'for':
            continue
        if tok != 'all' and i + 1 < len(tokens) and tokens[i + 1] == 'for':
            current = tok
            out[current] = set()
        else:
            out[current].add(tok)
    return out


def test_the_course_map_states_the_prerequisites_each_notebook_names():
    stated = _map_prerequisites()
    for path in TUTORIALS:
        number = path.name[:2]
        for need in _needs(path):
            assert number in stated.get(need, ()) or 'all' in stated.get(need, ()), (path.name, need, stated)
    for need, dependants in stated.items():
        for number in dependants - {'all'}:
            path = next(p for p in TUTORIALS if p.name.startswith(number))
            assert need in _needs(path), (number, need)
