# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint typecheck bench soak clean lock mutation

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# setuptools 70.1+ builds wheels by itself (the packaging test builds one without build isolation).
	$(BIN)/python -m pip install --quiet --upgrade pip 'setuptools>=70.1'
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

run: install
	$(BIN)/decisions db upgrade
	$(BIN)/decisions serve

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Benchmarks run in their own venv: the peer rule engines are never part of the service's install.
BENCH := .venv-bench/bin
bench: install
	command -v wrk >/dev/null || (apt-get install -y -qq wrk >/dev/null) || echo "no wrk: the HTTP rows are skipped"
	test -x $(BENCH)/python || $(PYTHON) -m venv .venv-bench
	$(BENCH)/python -m pip install --quiet -r requirements.lock
	# Separately: rule-engine pins python-dateutil 2.x, the service's lock has 4.x; the peers get theirs.
	$(BENCH)/python -m pip install --quiet -r bench/requirements.txt
	$(BENCH)/python -m pip install --quiet --no-deps -e .
	$(BENCH)/python -m bench $(BENCH_ARGS)

soak: install
	SOAK=1 $(BIN)/python -m pytest tests -m soak $(PYTEST_ARGS)

# Mutation testing of the rules and the Merkle code (docs/mutation.md); not part of `make test` or CI.
# Starts from a fresh copy each time, so no verdict is carried over from older code.
MUTATION_CHILDREN ?= 2
mutation: install
	rm -rf mutants
	$(BIN)/mutmut run --max-children $(MUTATION_CHILDREN)
	$(BIN)/python tools/mutation_scores.py

# Regenerate the lock after changing pyproject.toml dependencies.
lock:
	$(BIN)/python -m pip install --quiet pip-tools
	$(BIN)/pip-compile --extra dev --strip-extras --no-emit-index-url --no-emit-find-links -q -o requirements.lock pyproject.toml

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache mutants
