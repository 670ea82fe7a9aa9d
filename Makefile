# One-command set-up: every target below creates .venv with Python 3.12 if needed.
PY := $(shell scripts/find-python312)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# pytest-xdist workers for the unit, doctest and browser tests (one per core of the CI machine);
# tests are shared out one by one and an idle worker takes queued tests from the other
# (worksteal: 16-18 min on 2 cores for 1737 tests; 16.8 against 18.0 with whole files per worker
# and 23.2 serial when there were 1575)
WORKERS ?= 2

.PHONY: test test-fast test-tutorials strip-tutorials binder-smoke bench-quick compare lab clean site

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[lab,test,bench,docs]"
	touch $(STAMP)

## the whole test suite: every tutorial as an nbval test (which saves the executed copies the
## site reuses: each tutorial runs once), the course site, then unit and browser tests
test: $(STAMP)
	$(BIN)/python -m pytest -q --nbval-lax --nbval-current-env \
		--nbval-sanitize-with tutorials/nbval_sanitize.cfg tutorials
	$(MAKE) --no-print-directory site
	$(BIN)/python -m pytest -q -p no:nbval -n $(WORKERS) --dist worksteal --durations=25 tests
	$(BIN)/python tutorials/strip_outputs.py --check

## the course site in build/site (open build/site/index.html): executes the tutorials that have
## no current copy in build/executed/, then Sphinx + myst-nb, offline
site: $(STAMP)
	$(BIN)/python tutorials/executed_copies.py
	$(BIN)/python docs/site/build.py

## the tutorials as tests: every cell runs, the `# NBVAL_CHECK_OUTPUT` cells are compared
test-tutorials: $(STAMP)
	$(BIN)/python -m pytest -q --nbval-lax --nbval-current-env \
		--nbval-sanitize-with tutorials/nbval_sanitize.cfg tutorials

## the tutorials without their solution cells, for students, in student/ (not tracked by git)
.PHONY: student
student: $(STAMP)
	$(BIN)/python tutorials/make_student.py

## after re-executing a tutorial: keep only the outputs nbval checks
strip-tutorials: $(STAMP)
	$(BIN)/python tutorials/strip_outputs.py

## rebuild the Binder environment in a fresh venv and run the tutorials there (~5 min, ~1 GB)
binder-smoke:
	scripts/binder_smoke.sh

## benchmarks in under a minute (see BENCHMARKS.md for the full grid)
bench-quick: $(STAMP)
	$(BIN)/python benchmarks/run.py --quick

## unit tests only, no notebooks and no browser
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -p no:nbval -n $(WORKERS) --dist worksteal -m "not browser and not slow" tests

## the main job: compare algorithms on the built-in task and write a report
compare: $(STAMP)
	$(BIN)/braintrace-lab compare

lab: $(STAMP)
	$(BIN)/braintrace-lab lab

clean:
	rm -rf $(VENV) build *.egg-info
