# One-command workflows for a fresh machine. See README.md.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
FLASK := $(BIN)/flask --app webapp
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: install install-dev browser run serve test bench eval catalog embeddings clean

# --- installation -----------------------------------------------------------
# ruclip 0.0.2 pins old deps; these steps are the ones verified in DESIGN.md.
$(BIN)/.installed: requirements.txt
	$(PY) -m venv $(VENV)
	$(PIP) install -q --upgrade pip wheel setuptools
	$(PIP) install -q torch==2.14.1 torchvision==0.29.1
	$(PIP) install -q cython
	$(PIP) install -q --no-build-isolation youtokentome==1.0.6
	$(PIP) install -q -r requirements.txt
	$(PIP) install -q --no-deps ruclip==0.0.2
	touch $@

$(BIN)/.installed-dev: $(BIN)/.installed requirements-dev.txt
	$(PIP) install -q -r requirements-dev.txt
	touch $@

install: $(BIN)/.installed
install-dev: $(BIN)/.installed-dev

# Debian's Chromium for the real-browser tests (Playwright drives it; no browser download).
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

# --- artifacts (committed, so `make run` needs none of these) ---------------
catalog: install-dev
	$(FLASK) build-demo-catalog

embeddings: install
	$(FLASK) embed

# --- the two commands a newcomer runs ---------------------------------------
run: install
	$(BIN)/flask --app wsgi run --host $(HOST) --port $(PORT)

test: install-dev browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) instance .pytest_cache
