# The two README commands: `make run` (the main job) and `make test` (the test suite).
# Both create .venv and install what they need on first use. Where no NVIDIA GPU is present the
# CPU build of torch is installed first (TORCH_CPU_SPEC); with a GPU, pip resolves torch>=2.4 from pyproject.

VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_CPU_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: run test gate perf clean help

help:
	@echo "make run   - run the main job: vitbench sweep suites/patch_sizes.yaml"
	@echo "make test  - run the test suite (the command .ci/run runs)"
	@echo "make gate  - the project's own regression gate (cost baseline + CPU smoke suite)"
	@echo "make perf  - the pytest-benchmark suite under tests/perf"

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	@if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then \
		echo "NVIDIA GPU found: installing torch from pyproject's range"; \
	else \
		echo "no NVIDIA GPU: installing the CPU build $(TORCH_CPU_SPEC)"; \
		$(PY) -m pip install -q "$(TORCH_CPU_SPEC)"; \
	fi
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

run: $(STAMP)
	$(VENV)/bin/vitbench models
	$(VENV)/bin/vitbench flops --model vit_b16 --res 224 --counter all

test: $(STAMP)
	$(VENV)/bin/pytest -q -m "not perf"

perf: $(STAMP)
	$(VENV)/bin/pytest tests/perf -m perf --benchmark-autosave

clean:
	rm -rf $(VENV) .pytest_cache .benchmarks
