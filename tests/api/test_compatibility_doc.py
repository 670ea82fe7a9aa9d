"""docs/compatibility.md: every deliberate difference from braintrace names a test that exists."""
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOC = ROOT / 'docs' / 'compatibility.md'


def _rows():
    rows = []
    for line in DOC.read_text().splitlines():
        m = re.match(r'\|\s*(\d+)\s*\|.*`(tests/[^`]+\.py)::(test_\w+)`\s*\|\s*$', line)
        if m:
            rows.append((int(m.group(1)), m.group(2), m.group(3)))
    return rows


def test_the_page_lists_its_differences_in_order():
    numbers = [n for n, _, _ in _rows()]
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 10


@pytest.mark.parametrize('number,path,test', _rows())
def test_each_difference_is_pinned_by_an_existing_test(number, path, test):
    source = (ROOT / path).read_text()
    assert re.search(rf'^def {test}\(', source, re.M), f'row {number}: {path}::{test} not found'
