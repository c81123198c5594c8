# Set-up is two commands: `make demo` and `make test`. Both create .venv in the repo root.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# constraints.txt pins what is tested; /opt/wheels (where present) holds the CPU build of torch.
PIP := $(BIN)/python -m pip install --disable-pip-version-check -q -c constraints.txt $(if $(wildcard /opt/wheels),--find-links /opt/wheels)

.PHONY: install demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) -e .
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) -e ".[test]"
	@touch $@ $(VENV)/.installed-demo

$(VENV)/.installed-demo: $(VENV)/.installed
	$(PIP) -e ".[demo]"
	@touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed-demo
	$(BIN)/python scripts/demo.py

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

test: lint
	$(BIN)/python -m pytest -n auto

bench: $(VENV)/.installed-test
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
