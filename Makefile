# One-command set-up: every target below creates .venv with Python 3.12 if needed.
PY := $(shell scripts/find-python312)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test test-fast compare lab bench-quick clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[lab,test]"
	touch $(STAMP)

## the whole test suite: unit and browser tests, then every tutorial as an nbval test
test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:nbval tests
	$(BIN)/python -m pytest -q --nbval-lax --nbval-current-env \
		--nbval-sanitize-with tutorials/nbval_sanitize.cfg tutorials

## unit tests only, no notebooks and no browser
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -p no:nbval -m "not browser" tests

## the main job: compare algorithms on the built-in task and write a report
compare: $(STAMP)
	$(BIN)/braintrace-lab compare

lab: $(STAMP)
	$(BIN)/braintrace-lab lab

clean:
	rm -rf $(VENV) build *.egg-info
