# Set-up is part of every target: a fresh machine needs only `make run` or `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint lock

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[dev]'
	touch $(STAMP)

# The main job: the scratch baseline on the embedded default benchmark (synthetic ISLR).
run: $(STAMP)
	$(BIN)/python -m harness run --method scratch --bench synth-islr

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .

# Re-pin the tested versions after an intentional upgrade.
lock: $(STAMP)
	$(BIN)/pip freeze --exclude-editable | sort > requirements.lock
