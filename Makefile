# The two commands a newcomer needs: `make run` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export HF_HUB_DISABLE_TELEMETRY ?= 1
export DO_NOT_TRACK ?= 1
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 90
export TOKENIZERS_PARALLELISM ?= false

.PHONY: run test lint format install clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	# BFCL's own checker, the oracle of the scoring parity test. --no-deps into a folder of its own: its
	# dependency tree (~50 vendor SDKs, an older numpy) must not reach the project's environment.
	$(BIN)/pip install --quiet --no-deps --target .bfcl 'bfcl-eval==2026.3.23'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/callforge refresh

# Test files are spread over PYTEST_WORKERS processes (pytest-xdist; a file's tests stay together, so
# its module fixtures are built once). 2 fits the 2-core CI machine; PYTEST_WORKERS=0 runs in-process.
PYTEST_WORKERS ?= 2

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q --durations=20 -n $(PYTEST_WORKERS) --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) data .pytest_cache
