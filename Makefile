# Set-up is part of every target: a fresh machine needs only `make run` or `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-heavy lint lock bytecode

# Debian packages the project uses: sctk (sclite, the reference for WER), slurm-wlm and
# munge (a real single-node Slurm cluster for the submitit tests, see slurm/).
DEBS := sctk slurm-wlm munge
SYSTEM := $(VENV)/.system

$(SYSTEM): Makefile
	@missing=$$(for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  echo "installing Debian packages: $$missing"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	mkdir -p $(VENV) && touch $(SYSTEM)

$(STAMP): pyproject.toml requirements.lock $(SYSTEM)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[dev]'
	touch $(STAMP)

# Bytecode of the project's own modules, as pip writes it for installed packages: an
# editable install gets none, and where PYTHONDONTWRITEBYTECODE is set every command would
# compile them again (about a third of `list`'s start-up). Only changed files are compiled.
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q harness methods benchmarks

# The main job: the scratch baseline on the embedded default benchmark (synthetic ISLR).
run: $(STAMP) bytecode
	$(BIN)/python -m harness run --method scratch --bench synth-islr

test: $(STAMP) bytecode
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder

# The heavy part as well: every fault-injection point and 20 seeded random kills.
test-heavy: $(STAMP) bytecode
	HARNESS_HEAVY=1 $(BIN)/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder

# Ruff, then the import rules of pyproject.toml's [tool.importlinter] (layers of harness/,
# no methods or benchmarks named by the engine, no cycles).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

# Re-pin the tested versions after an intentional upgrade.
lock: $(STAMP)
	$(BIN)/pip freeze --exclude-editable | sort > requirements.lock
