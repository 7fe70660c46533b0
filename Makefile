# The README's commands. `make test` and `make demo` work on a fresh clone: they create
# .venv, install the pinned CPU torch first (an unpinned torch pulls a multi-GB CUDA
# build), then the package with its dev extras.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH_VERSION := 2.13.0
PIP := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: install test test-slow test-all demo bench fuzz lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install torch==$(TORCH_VERSION)
	$(PIP) install -e '.[dev]'
	touch $@

install: $(VENV)/.installed

lint: install
	$(BIN)/ruff check src tests benchmarks

# The quick suite (every module, minutes); the slow real-data tests (demos, training
# runs, signals, the robustness battery) are marked `slow` and run by test-slow.
test: lint
	$(BIN)/python -m pytest -m "not slow"

test-slow: install
	$(BIN)/python -m pytest -m slow

test-all: test test-slow

demo: install
	$(BIN)/centrifuge demo --force

bench: install
	$(BIN)/python benchmarks/models.py
	$(BIN)/python benchmarks/loader.py
	$(BIN)/python benchmarks/separate.py

fuzz: install
	$(BIN)/python benchmarks/fuzz.py --rounds 200

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
