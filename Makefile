# The two commands a fresh machine needs: `make demo` and `make test`.
# uv is installed with pip when it is missing; no Python is ever downloaded.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
RUN := $(UV) run --frozen

PACKAGES := -p tracengent -p opentelemetry.exporter.tracengent -p opentelemetry.instrumentation.tracengent_httpx -p opentelemetry.instrumentation.tracengent_mcp

.PHONY: help sync demo test lint fmt typecheck pytest bench test-ui

help:
	@echo "make demo   run the sample agent against the embedded local platform"
	@echo "make test   lint, type-check and run every test"
	@echo "make bench  the performance suite (thresholds enforced)"
	@echo "make test-ui  the web console in headless Chromium (installs chromium and playwright)"

.venv/.synced: pyproject.toml uv.lock exporters/*/pyproject.toml instrumentors/*/pyproject.toml
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(UV) sync --frozen --python $(PYTHON) --all-packages
	@touch $@

sync: .venv/.synced

demo: sync
	$(RUN) tracengent demo

lint: sync
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy --strict $(PACKAGES)
	$(RUN) mypy --strict tests conformance benchmarks --exclude '^tests/ui/'

fmt: sync
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

pytest: sync
	$(RUN) pytest

test: lint pytest

bench: sync
	$(RUN) python -m benchmarks

# The console's browser tests: Debian's chromium (Playwright downloads no browser here) and the
# `ui` dependency group; screenshots land in test-artifacts/ui/.
test-ui: sync
	@if [ ! -x /usr/bin/chromium ]; then \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y chromium || { apt-get update && apt-get install -y chromium; }; \
	fi
	$(UV) sync --frozen --python $(PYTHON) --all-packages --group ui
	$(RUN) --group ui mypy --strict tests/ui
	$(RUN) --group ui pytest tests/ui
