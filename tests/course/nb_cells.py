"""Run a tutorial's exercise and solution cells outside Jupyter, with only the cells they need.

A cell's *free names* are the names it reads before (or without) assigning them. For the
cells under test, every free name is looked up in the earlier cells of the notebook (the
last cell before them that assigns it), and those cells are run first, recursively: the
import cell, a helper, a data cell. Nothing else of the notebook runs, so a whole
tutorial's exercises run in seconds.

    nb = load('01')
    ns = run_dependencies(nb, [i for _, i, _ in exercise_pairs(nb)])
    exec(source(nb.cells[i]), ns)
"""
from __future__ import annotations

import ast
import builtins
import pathlib
import sys

import nbformat

ROOT = pathlib.Path(__file__).resolve().parents[2]
TUTORIALS = ROOT / 'tutorials'
sys.path.insert(0, str(TUTORIALS))

import make_student  # noqa: E402  (tutorials/make_student.py)

exercise_pairs = make_student.exercise_pairs


def tutorial_paths() -> list:
    return sorted(TUTORIALS.glob('[0-9][0-9]_*.ipynb'))


def load(prefix: str):
    (path,) = [p for p in tutorial_paths() if p.name.startswith(prefix)]
    return nbformat.read(path, as_version=4)


def source(cell) -> str:
    return cell.get('source', '')


class _Names(ast.NodeVisitor):
    """Names a block assigns, and names it reads that no earlier statement of it assigned."""

    def __init__(self):
        self.assigned, self.free = set(), set()

    def _bind(self, name):
        self.assigned.add(name)

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Store):
            self._bind(node.id)
        elif node.id not in self.assigned:
            self.free.add(node.id)

    def visit_Import(self, node):
        for a in node.names:
            self._bind((a.asname or a.name).split('.')[0])

    def visit_ImportFrom(self, node):
        for a in node.names:
            self._bind(a.asname or a.name)

    def visit_Assign(self, node):
        self.visit(node.value)
        for t in node.targets:
            self.visit(t)

    def visit_AugAssign(self, node):
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            if node.target.id not in self.assigned:
                self.free.add(node.target.id)
        else:
            self.visit(node.target)

    def visit_AnnAssign(self, node):
        if node.value is not None:
            self.visit(node.value)
        self.visit(node.target)

    def visit_For(self, node):
        self.visit(node.iter)
        self.visit(node.target)
        for child in node.body + node.orelse:
            self.visit(child)

    def _scope(self, node, params):
        inner = _Names()
        inner.assigned |= self.assigned | set(params)
        for child in node.body if isinstance(node.body, list) else [node.body]:
            inner.visit(child)
        self.free |= inner.free - self.assigned

    def visit_FunctionDef(self, node):
        for d in node.decorator_list + node.args.defaults + node.args.kw_defaults:
            if d is not None:
                self.visit(d)
        a = node.args
        params = [p.arg for p in a.posonlyargs + a.args + a.kwonlyargs] + \
                 [p.arg for p in (a.vararg, a.kwarg) if p is not None]
        self._bind(node.name)
        self._scope(node, params + [node.name])

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node):
        a = node.args
        self._scope(node, [p.arg for p in a.posonlyargs + a.args + a.kwonlyargs])

    def visit_ClassDef(self, node):
        for b in node.bases:
            self.visit(b)
        self._bind(node.name)
        self._scope(node, [node.name])

    def _comprehension(self, node, elts):
        inner = _Names()
        inner.assigned |= self.assigned
        for gen in node.generators:
            inner.visit(gen.iter)
            inner.visit(gen.target)
            for cond in gen.ifs:
                inner.visit(cond)
        for e in elts:
            inner.visit(e)
        self.free |= inner.free - self.assigned

    def visit_ListComp(self, node):
        self._comprehension(node, [node.elt])

    visit_SetComp = visit_GeneratorExp = visit_ListComp

    def visit_DictComp(self, node):
        self._comprehension(node, [node.key, node.value])


def names(src: str):
    """``(assigned, free)`` names of a block of code."""
    v = _Names()
    v.visit(ast.parse(src))
    return v.assigned, v.free - set(dir(builtins))


def dependencies(nb, targets) -> list:
    """Indices of the earlier code cells the ``targets`` cells need, in notebook order."""
    need, seen = set(), set()
    todo = list(targets)
    while todo:
        i = todo.pop()
        _, free = names(source(nb.cells[i]))
        for name in free:
            for j in range(i - 1, -1, -1):
                c = nb.cells[j]
                if c.cell_type == 'code' and 'solution' not in c.metadata.get('tags', []) \
                        and name in names(source(c))[0]:
                    if j not in seen and j not in targets:
                        seen.add(j)
                        need.add(j)
                        todo.append(j)
                    break
    return sorted(need)


def run_dependencies(nb, targets) -> dict:
    """A namespace in which the cells ``targets`` depend on have run."""
    ns = {'__name__': '__tutorial__'}
    for j in dependencies(nb, targets):
        exec(compile(source(nb.cells[j]), f'<cell {j}>', 'exec'), ns)
    return ns
