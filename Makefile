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
