# Set-up is two commands: `make demo` and `make test`. Both create .venv in the repo root.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# constraints.txt pins what is tested; /opt/wheels (where present) holds the CPU build of torch.
PIP := $(BIN)/python -m pip install --disable-pip-version-check -q -c constraints.txt $(if $(wildcard /opt/wheels),--find-links /opt/wheels)

.PHONY: install demo test lint bench fuzz clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) -e .
	@touch $@

# The served page is tested in Debian's chromium (tests/serve/test_serve_browser.py), driven by Playwright, which
# must never download browsers of its own: installed with apt-get where it is missing.
CHROMIUM := /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) -e ".[test]"
	@test -x $(CHROMIUM) || { $(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; }
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

# Damaged image files, many more than `make test` tries (tests/data/test_fuzz_images.py): about a minute.
fuzz: $(VENV)/.installed-test
	TRANSFERKIT_FUZZ_EXAMPLES=2000 $(BIN)/python -m pytest tests/data/test_fuzz_images.py -p no:xdist -q

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
